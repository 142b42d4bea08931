//! A GGUF header check in pure Rust, run before a file reaches llama.cpp.
//!
//! llama.cpp refuses most broken files by returning no model, but not all:
//! a value its loader `GGML_ASSERT`s on (a block count of zero, a repeated
//! token, an unknown RoPE scaling type, …) ends the whole process, and a
//! file that lies about its tensor offsets can make it read past the end
//! of the memory map. Reading the header ourselves turns every such file
//! into a typed [`GgufError`] that says what is wrong and where (the tensor
//! and its offset, or the metadata key), and gives the loader the facts it
//! needs (architecture, context length, chat template) without loading a
//! single tensor.
//!
//! The rules follow the llama.cpp that `llama-cpp-sys-2` vendors:
//! * the frame (`reader.rs`): magic, version 2 or 3, every length inside
//!   the file, no duplicate or empty metadata key, `general.alignment` a
//!   u32 power of two (default 32);
//! * the tensors (`tensors.rs`): 1 to 4 dimensions (ggml's
//!   `GGML_MAX_DIMS`), a ggml type this llama.cpp knows (an unknown type
//!   is an error, never skipped), rows of whole blocks, unique names under
//!   64 bytes, and the data laid out as llama.cpp requires: each tensor at
//!   an offset aligned to `general.alignment`, exactly where the previous
//!   one's padded data ends (no overlap, no gap, nothing out of order),
//!   inside the file, and a data section no longer than its tensors;
//! * the metadata (`metadata.rs`): the keys the loader needs present, with
//!   the type it reads them as, and the values it asserts on.

mod metadata;
mod reader;
mod tensors;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use reader::{Reader, Value, ValueType};

/// The four bytes every GGUF file starts with.
const MAGIC: [u8; 4] = *b"GGUF";
/// Upper bound for tensor and metadata counts: far above any real model.
const MAX_COUNT: u64 = 1 << 20;
/// Default alignment of the tensor data section.
const DEFAULT_ALIGNMENT: u64 = 32;

/// Why a file is not a usable GGUF model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    /// The file does not exist or cannot be opened.
    #[error("cannot open model file {path}: {source}")]
    Open {
        /// The path that was given.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file does not start with the GGUF magic bytes.
    #[error("{path} is not a GGUF file (it starts with {found:02x?}, not \"GGUF\")")]
    NotGguf {
        /// The path that was given.
        path: PathBuf,
        /// The first bytes found instead.
        found: Vec<u8>,
    },
    /// The GGUF version is one llama.cpp does not read.
    #[error("{path} has GGUF version {version}; only versions 2 and 3 are supported")]
    UnsupportedVersion {
        /// The path that was given.
        path: PathBuf,
        /// The version found in the header.
        version: u32,
    },
    /// The file ends inside its header.
    #[error("{path} is truncated: {what} needs {needed} bytes but the file has {actual}")]
    Truncated {
        /// The path that was given.
        path: PathBuf,
        /// Which part is cut short.
        what: &'static str,
        /// How many bytes that part needs.
        needed: u64,
        /// The file's actual size.
        actual: u64,
    },
    /// The header holds a value that no valid GGUF holds.
    #[error("{path} has a malformed header: {reason}")]
    Malformed {
        /// The path that was given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A metadata key llama.cpp needs is absent.
    #[error("{path} has no metadata key {key}, which llama.cpp needs")]
    MissingKey {
        /// The path that was given.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A metadata value of the wrong type, or one llama.cpp would refuse
    /// or abort on.
    #[error("{path}: metadata key {key} {reason}")]
    BadKey {
        /// The path that was given.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// A tensor with no dimensions, or more than ggml's four.
    #[error("{path}: tensor {tensor} has {dims} dimensions; ggml supports 1 to 4")]
    TensorDimensions {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its number of dimensions.
        dims: u32,
    },
    /// A tensor of a ggml type this llama.cpp does not know, so its size
    /// is unknown too.
    #[error("{path}: tensor {tensor} has ggml type {ggml_type}, which this llama.cpp does not know")]
    UnknownTensorType {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The type code found.
        ggml_type: u32,
    },
    /// A tensor's name or shape ggml cannot hold.
    #[error("{path}: tensor {tensor} is malformed: {reason}")]
    BadTensor {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor's data offset is not a multiple of `general.alignment`.
    #[error("{path}: tensor {tensor} has data offset {offset}, not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// The file's alignment.
        alignment: u64,
    },
    /// A tensor's data starts before the previous tensor's data ends.
    #[error(
        "{path}: tensor {tensor} has data offset {offset}, inside the data before it (which ends at {expected}): tensor data overlaps or is out of order"
    )]
    TensorOverlap {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Where the previous tensor's padded data ends.
        expected: u64,
    },
    /// A tensor's data starts after the previous tensor's padded data ends.
    #[error(
        "{path}: tensor {tensor} has data offset {offset}, but the data before it ends at {expected}: a gap, or tensors out of order"
    )]
    TensorGap {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Where the previous tensor's padded data ends.
        expected: u64,
    },
    /// A tensor's data runs past the end of the file (a cut download).
    #[error(
        "{path}: tensor {tensor} (data offset {offset}, {bytes} bytes) runs to byte {end}, past the end of the file at {file_size}"
    )]
    TensorPastEnd {
        /// The path that was given.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// Its offset in the data section.
        offset: u64,
        /// Its size in bytes.
        bytes: u64,
        /// Where in the file its data ends.
        end: u64,
        /// The file's size.
        file_size: u64,
    },
    /// The data section is longer than its tensors.
    #[error("{path}: the tensor data section has {actual} bytes but its tensors take {expected}")]
    DataSize {
        /// The path that was given.
        path: PathBuf,
        /// Bytes from the start of the data section to the end of the file.
        actual: u64,
        /// Bytes the tensors take, padded.
        expected: u64,
    },
}

/// What the header says about a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufInfo {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// `general.architecture`, e.g. `llama` or `gemma3`.
    pub architecture: String,
    /// `general.name`, when present.
    pub name: Option<String>,
    /// `<arch>.context_length`: the context the model was trained with.
    pub context_length: Option<u64>,
    /// `tokenizer.chat_template`, when present.
    pub chat_template: Option<String>,
    /// Number of tensors.
    pub tensor_count: u64,
    /// Number of weights: the elements of all its tensors.
    pub parameters: u64,
    /// Size of the file in bytes.
    pub file_size: u64,
}

/// Reads and checks the header of the GGUF file at `path` (see the module
/// docs for the rules). Reads the header only, never the tensor data.
///
/// # Errors
/// A [`GgufError`] naming what is wrong and where.
pub fn inspect(path: &Path) -> Result<GgufInfo, GgufError> {
    let file = File::open(path).map_err(|source| GgufError::Open { path: path.to_path_buf(), source })?;
    inspect_reader(file, path)
}

/// [`inspect`] over any seekable source of a GGUF file's bytes (a file
/// already open, bytes in memory through [`std::io::Cursor`]), read from
/// its start to its end; `name` is the path the errors give. The same
/// rules, the same answer as for a file of these bytes.
///
/// # Errors
/// A [`GgufError`] naming what is wrong and where; [`GgufError::Open`]
/// when the source cannot tell its size.
pub fn inspect_reader(mut source: impl Read + Seek, name: &Path) -> Result<GgufInfo, GgufError> {
    let open = |source| GgufError::Open { path: name.to_path_buf(), source };
    let file_size = source.seek(SeekFrom::End(0)).map_err(open)?;
    source.seek(SeekFrom::Start(0)).map_err(open)?;
    header(&mut Reader::new(source, name, file_size))
}

fn header(reader: &mut Reader<'_>) -> Result<GgufInfo, GgufError> {
    if reader.file_size < 4 {
        return Err(reader.truncated("the GGUF magic", 4));
    }
    let magic = reader.bytes::<4>("the GGUF magic")?;
    if magic != MAGIC {
        return Err(GgufError::NotGguf { path: reader.path.to_path_buf(), found: magic.to_vec() });
    }
    let version = reader.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::UnsupportedVersion { path: reader.path.to_path_buf(), version });
    }
    let tensor_count = reader.u64("the tensor count")?;
    let kv_count = reader.u64("the metadata count")?;
    if tensor_count > MAX_COUNT || kv_count > MAX_COUNT {
        return Err(
            reader.malformed(format!("implausible counts: {tensor_count} tensors, {kv_count} metadata entries"))
        );
    }
    if tensor_count == 0 {
        return Err(reader.malformed("it holds no tensors"));
    }

    let mut entries: BTreeMap<String, Value> = BTreeMap::new();
    for _ in 0..kv_count {
        let key = reader.string("metadata key")?;
        if key.is_empty() {
            return Err(reader.malformed("a metadata key is empty"));
        }
        let value = reader.value(&key, key == metadata::TOKENS)?;
        if entries.contains_key(&key) {
            return Err(reader.malformed(format!("metadata key {key} appears twice")));
        }
        entries.insert(key, value);
    }
    let alignment = match entries.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(Value::Int(ValueType::U32, value)) => u64::try_from(*value).unwrap_or(0),
        Some(other) => {
            return Err(GgufError::BadKey {
                path: reader.path.to_path_buf(),
                key: "general.alignment".to_owned(),
                reason: format!("is a {}; llama.cpp reads it as a u32", other.value_type().name()),
            });
        }
    };
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(reader.malformed(format!("alignment {alignment} is not a power of two")));
    }
    let facts = metadata::check(reader.path, &entries)?;

    let tensors = tensors::read(reader, tensor_count, alignment)?;
    let data_start = tensors::align(reader.position, alignment).unwrap_or(u64::MAX);
    tensors::check_data(reader, &tensors, data_start, alignment)?;

    let text = |key: &str| match entries.get(key) {
        Some(Value::Text(text)) => Some(text.clone()),
        _ => None,
    };
    Ok(GgufInfo {
        version,
        architecture: facts.architecture,
        name: text("general.name"),
        context_length: Some(facts.context_length),
        chat_template: text("tokenizer.chat_template"),
        tensor_count,
        parameters: tensors.iter().fold(0u64, |sum, tensor| sum.saturating_add(tensor.elements)),
        file_size: reader.file_size,
    })
}
