//! A GGUF header check in pure Rust, run before a file reaches llama.cpp.
//!
//! llama.cpp reports most broken files by returning a null model, but a file
//! that lies about its tensor offsets can make it read past the end of the
//! memory map. Reading the header ourselves turns every broken file into a
//! typed [`GgufError`] that says what is wrong, and gives the loader the
//! facts it needs (architecture, context length, chat template) without
//! loading a single tensor.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The four bytes every GGUF file starts with.
const MAGIC: [u8; 4] = *b"GGUF";
/// Upper bound for one metadata string (chat templates are a few KiB).
const MAX_STRING_BYTES: u64 = 16 << 20;
/// Upper bound for tensor and metadata counts: far above any real model.
const MAX_COUNT: u64 = 1 << 20;
/// Upper bound for the element count of one metadata array (vocabularies
/// have a few hundred thousand entries).
const MAX_ARRAY_LEN: u64 = 1 << 24;
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
    /// The file ends before the header or the tensor data it announces.
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
    /// The file has no `general.architecture`, so it is no model llama.cpp can run.
    #[error("{path} names no architecture (general.architecture is missing)")]
    MissingArchitecture {
        /// The path that was given.
        path: PathBuf,
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
    /// Size of the file in bytes.
    pub file_size: u64,
}

/// Reads and checks the header of the GGUF file at `path`.
///
/// Checks the magic, the version, every metadata entry, every tensor
/// description, and that the tensor data the header announces lies inside
/// the file (which catches truncated downloads).
///
/// # Errors
/// A [`GgufError`] naming what is wrong.
pub fn inspect(path: &Path) -> Result<GgufInfo, GgufError> {
    let file = File::open(path).map_err(|source| GgufError::Open { path: path.to_path_buf(), source })?;
    let file_size = file.metadata().map_err(|source| GgufError::Open { path: path.to_path_buf(), source })?.len();
    let mut reader = Reader { inner: BufReader::with_capacity(1 << 16, file), path, file_size, position: 0 };
    reader.header()
}

/// Metadata value types of the GGUF format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
}

impl ValueType {
    fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::String,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// Byte size of a fixed-size value; `None` for strings and arrays.
    fn fixed_size(self) -> Option<u64> {
        match self {
            Self::U8 | Self::I8 | Self::Bool => Some(1),
            Self::U16 | Self::I16 => Some(2),
            Self::U32 | Self::I32 | Self::F32 => Some(4),
            Self::U64 | Self::I64 | Self::F64 => Some(8),
            Self::String | Self::Array => None,
        }
    }
}

/// A metadata value, kept only where the loader needs it.
enum Value {
    Text(String),
    Unsigned(u64),
    Other,
}

/// `(block size in elements, bytes per block)` of a ggml tensor type, for
/// the types found in published GGUFs. Unknown types are checked by offset
/// only.
fn type_layout(ggml_type: u32) -> Option<(u64, u64)> {
    Some(match ggml_type {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        9 => (32, 36),    // Q8_1
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        15 => (256, 292), // Q8_K
        16 => (256, 66),  // IQ2_XXS
        17 => (256, 74),  // IQ2_XS
        18 => (256, 98),  // IQ3_XXS
        19 => (256, 50),  // IQ1_S
        20 => (32, 18),   // IQ4_NL
        21 => (256, 110), // IQ3_S
        22 => (256, 82),  // IQ2_S
        23 => (256, 136), // IQ4_XS
        24 => (1, 1),     // I8
        25 => (1, 2),     // I16
        26 => (1, 4),     // I32
        27 => (1, 8),     // I64
        28 => (1, 8),     // F64
        29 => (256, 56),  // IQ1_M
        30 => (1, 2),     // BF16
        34 => (256, 54),  // TQ1_0
        35 => (256, 66),  // TQ2_0
        39 => (32, 17),   // MXFP4
        _ => return None,
    })
}

struct Reader<'a, R> {
    inner: R,
    path: &'a Path,
    file_size: u64,
    position: u64,
}

impl<R: Read + Seek> Reader<'_, R> {
    fn truncated(&self, what: &'static str, needed: u64) -> GgufError {
        GgufError::Truncated { path: self.path.to_path_buf(), what, needed, actual: self.file_size }
    }

    fn malformed(&self, reason: impl Into<String>) -> GgufError {
        GgufError::Malformed { path: self.path.to_path_buf(), reason: reason.into() }
    }

    fn bytes<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let needed = self.position + N as u64;
        if needed > self.file_size {
            return Err(self.truncated(what, needed));
        }
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|_| self.truncated(what, needed))?;
        self.position = needed;
        Ok(buf)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), GgufError> {
        let needed = self.position.saturating_add(n);
        if needed > self.file_size {
            return Err(self.truncated(what, needed));
        }
        let offset = i64::try_from(n).map_err(|_| self.malformed("offset overflow"))?;
        self.inner.seek(SeekFrom::Current(offset)).map_err(|_| self.truncated(what, needed))?;
        self.position = needed;
        Ok(())
    }

    fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let len = self.u64(what)?;
        if len > MAX_STRING_BYTES {
            return Err(self.malformed(format!("a {what} string claims {len} bytes")));
        }
        let needed = self.position + len;
        if needed > self.file_size {
            return Err(self.truncated(what, needed));
        }
        let len = usize::try_from(len).map_err(|_| self.malformed("string too long"))?;
        let mut buf = vec![0u8; len];
        self.inner.read_exact(&mut buf).map_err(|_| self.truncated(what, needed))?;
        self.position = needed;
        String::from_utf8(buf).map_err(|_| self.malformed(format!("a {what} string is not UTF-8")))
    }

    fn skip_string(&mut self, what: &'static str) -> Result<(), GgufError> {
        let len = self.u64(what)?;
        if len > MAX_STRING_BYTES {
            return Err(self.malformed(format!("a {what} string claims {len} bytes")));
        }
        self.skip(len, what)
    }

    fn value(&mut self, value_type: ValueType, keep: bool) -> Result<Value, GgufError> {
        match value_type {
            ValueType::String if keep => Ok(Value::Text(self.string("metadata value")?)),
            ValueType::String => self.skip_string("metadata value").map(|()| Value::Other),
            ValueType::U32 => Ok(Value::Unsigned(u64::from(self.u32("metadata value")?))),
            ValueType::U64 => Ok(Value::Unsigned(self.u64("metadata value")?)),
            ValueType::Array => {
                let code = self.u32("array type")?;
                let element = ValueType::from_code(code)
                    .ok_or_else(|| self.malformed(format!("unknown array element type {code}")))?;
                let len = self.u64("array length")?;
                if len > MAX_ARRAY_LEN {
                    return Err(self.malformed(format!("an array claims {len} elements")));
                }
                match element.fixed_size() {
                    Some(size) => self.skip(len * size, "metadata array")?,
                    None if element == ValueType::String => {
                        for _ in 0..len {
                            self.skip_string("metadata array")?;
                        }
                    }
                    None => return Err(self.malformed("nested metadata arrays")),
                }
                Ok(Value::Other)
            }
            other => {
                let size = other.fixed_size().unwrap_or(0);
                self.skip(size, "metadata value").map(|()| Value::Other)
            }
        }
    }

    fn header(&mut self) -> Result<GgufInfo, GgufError> {
        if self.file_size < 4 {
            return Err(self.truncated("the GGUF magic", 4));
        }
        let magic = self.bytes::<4>("the GGUF magic")?;
        if magic != MAGIC {
            return Err(GgufError::NotGguf { path: self.path.to_path_buf(), found: magic.to_vec() });
        }
        let version = self.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::UnsupportedVersion { path: self.path.to_path_buf(), version });
        }
        let tensor_count = self.u64("the tensor count")?;
        let kv_count = self.u64("the metadata count")?;
        if tensor_count > MAX_COUNT || kv_count > MAX_COUNT {
            return Err(
                self.malformed(format!("implausible counts: {tensor_count} tensors, {kv_count} metadata entries"))
            );
        }

        let mut architecture = None;
        let mut name = None;
        let mut chat_template = None;
        let mut alignment = DEFAULT_ALIGNMENT;
        let mut context_lengths: Vec<(String, u64)> = Vec::new();
        for _ in 0..kv_count {
            let key = self.string("metadata key")?;
            let code = self.u32("metadata type")?;
            let value_type = ValueType::from_code(code)
                .ok_or_else(|| self.malformed(format!("key {key} has unknown type {code}")))?;
            let keep = matches!(key.as_str(), "general.architecture" | "general.name" | "tokenizer.chat_template");
            match (self.value(value_type, keep)?, key.as_str()) {
                (Value::Text(v), "general.architecture") => architecture = Some(v),
                (Value::Text(v), "general.name") => name = Some(v),
                (Value::Text(v), "tokenizer.chat_template") => chat_template = Some(v),
                (Value::Unsigned(v), "general.alignment") => alignment = v,
                (Value::Unsigned(v), k) if k.ends_with(".context_length") => {
                    context_lengths.push((k.to_owned(), v));
                }
                _ => {}
            }
        }
        if alignment == 0 || !alignment.is_power_of_two() {
            return Err(self.malformed(format!("alignment {alignment} is not a power of two")));
        }
        let architecture =
            architecture.ok_or_else(|| GgufError::MissingArchitecture { path: self.path.to_path_buf() })?;
        let context_length =
            context_lengths.iter().find(|(k, _)| *k == format!("{architecture}.context_length")).map(|(_, v)| *v);

        // Tensor descriptions: name, dims, type, offset into the data section.
        let mut data_needed = 0u64;
        for _ in 0..tensor_count {
            self.skip_string("tensor name")?;
            let n_dims = self.u32("tensor dimensions")?;
            if n_dims == 0 || n_dims > 8 {
                return Err(self.malformed(format!("a tensor has {n_dims} dimensions")));
            }
            let mut elements = 1u64;
            for _ in 0..n_dims {
                let dim = self.u64("tensor shape")?;
                elements = elements.checked_mul(dim).ok_or_else(|| self.malformed("tensor shape overflows"))?;
            }
            let ggml_type = self.u32("tensor type")?;
            let offset = self.u64("tensor offset")?;
            let bytes = type_layout(ggml_type).map_or(0, |(block, size)| elements / block * size);
            let end = offset.checked_add(bytes).ok_or_else(|| self.malformed("tensor offset overflows"))?;
            data_needed = data_needed.max(end);
        }
        let data_start = self.position.div_ceil(alignment) * alignment;
        let needed = data_start.saturating_add(data_needed);
        if needed > self.file_size {
            return Err(self.truncated("the tensor data", needed));
        }
        Ok(GgufInfo {
            version,
            architecture,
            name,
            context_length,
            chat_template,
            tensor_count,
            file_size: self.file_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes a minimal, valid GGUF: one F32 tensor of 8 elements.
    fn tiny_gguf(arch: Option<&str>, data_len: usize) -> Vec<u8> {
        fn string(out: &mut Vec<u8>, s: &str) {
            out.extend((s.len() as u64).to_le_bytes());
            out.extend(s.as_bytes());
        }
        let mut out = Vec::new();
        out.extend(MAGIC);
        out.extend(3u32.to_le_bytes());
        out.extend(1u64.to_le_bytes()); // tensors
        let kv = if arch.is_some() { 2u64 } else { 1 };
        out.extend(kv.to_le_bytes());
        if let Some(arch) = arch {
            string(&mut out, "general.architecture");
            out.extend(8u32.to_le_bytes());
            string(&mut out, arch);
        }
        string(&mut out, "llama.context_length");
        out.extend(4u32.to_le_bytes());
        out.extend(2048u32.to_le_bytes());
        string(&mut out, "weight");
        out.extend(1u32.to_le_bytes());
        out.extend(8u64.to_le_bytes());
        out.extend(0u32.to_le_bytes()); // F32
        out.extend(0u64.to_le_bytes());
        while out.len() % 32 != 0 {
            out.push(0);
        }
        out.extend(std::iter::repeat_n(0u8, data_len));
        out
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(bytes).expect("write");
        file
    }

    #[test]
    fn reads_a_valid_header() {
        let file = write(&tiny_gguf(Some("llama"), 32));
        let info = inspect(file.path()).expect("valid");
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.context_length, Some(2048));
        assert_eq!(info.tensor_count, 1);
    }

    #[test]
    fn rejects_missing_tensor_data() {
        let file = write(&tiny_gguf(Some("llama"), 31));
        assert!(matches!(inspect(file.path()), Err(GgufError::Truncated { what: "the tensor data", .. })));
    }

    #[test]
    fn rejects_every_cut_of_the_header() {
        let full = tiny_gguf(Some("llama"), 32);
        for len in 0..full.len() {
            let file = write(&full[..len]);
            assert!(matches!(inspect(file.path()), Err(GgufError::Truncated { .. })), "cut at {len}");
        }
    }

    #[test]
    fn rejects_random_bytes_and_missing_files() {
        let file = write(b"this is not a model, just some text of some length");
        assert!(matches!(inspect(file.path()), Err(GgufError::NotGguf { .. })));
        assert!(matches!(inspect(Path::new("/nonexistent/model.gguf")), Err(GgufError::Open { .. })));
    }

    #[test]
    fn rejects_bad_version_and_missing_architecture() {
        let mut bytes = tiny_gguf(Some("llama"), 32);
        bytes[4..8].copy_from_slice(&9u32.to_le_bytes());
        let file = write(&bytes);
        assert!(matches!(inspect(file.path()), Err(GgufError::UnsupportedVersion { version: 9, .. })));
        let file = write(&tiny_gguf(None, 32));
        assert!(matches!(inspect(file.path()), Err(GgufError::MissingArchitecture { .. })));
    }

    #[test]
    fn rejects_absurd_lengths() {
        let mut bytes = tiny_gguf(Some("llama"), 32);
        // The length of the first key string sits right after the counts.
        bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        let file = write(&bytes);
        assert!(matches!(inspect(file.path()), Err(GgufError::Malformed { .. })));
    }
}
