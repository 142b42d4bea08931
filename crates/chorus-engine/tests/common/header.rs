//! The real embedded model's GGUF header as bytes to mutate: where each
//! metadata entry and tensor description lies, in-place patches, and
//! splices that keep the rest intact. A mutated copy is the real header's
//! bytes with one change, followed by the real data section (or, when only
//! the header is inspected, by a sparse stretch of the same length).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::model_path;

/// The data section's alignment in the real model (it sets none: 32).
const ALIGNMENT: usize = 32;

/// One metadata entry: where its key starts, where its type code is, and
/// where it ends.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub start: usize,
    pub type_at: usize,
    pub end: usize,
}

impl Entry {
    /// Where the value starts (after its type code).
    pub fn value_at(&self) -> usize {
        self.type_at + 4
    }
}

/// One tensor description: where its name starts, its dimension count,
/// its type code and its data offset lie.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub start: usize,
    pub dims_at: usize,
    pub dims: Vec<u64>,
    pub type_at: usize,
    pub offset_at: usize,
    pub offset: u64,
}

/// The real model's header.
#[derive(Debug, Clone)]
pub struct Header {
    pub bytes: Vec<u8>,
    pub entries: Vec<Entry>,
    pub tensors: Vec<Tensor>,
    /// Bytes of tensor data in the real file.
    pub data_len: u64,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> u32 {
        let value = u32::from_le_bytes(self.bytes[self.at..self.at + 4].try_into().unwrap());
        self.at += 4;
        value
    }
    fn u64(&mut self) -> u64 {
        let value = u64::from_le_bytes(self.bytes[self.at..self.at + 8].try_into().unwrap());
        self.at += 8;
        value
    }
    fn string(&mut self) -> String {
        let len = self.u64() as usize;
        let text = String::from_utf8_lossy(&self.bytes[self.at..self.at + len]).into_owned();
        self.at += len;
        text
    }
    fn skip_value(&mut self, value_type: u32) {
        match value_type {
            0 | 1 | 7 => self.at += 1,
            2 | 3 => self.at += 2,
            4..=6 => self.at += 4,
            10..=12 => self.at += 8,
            8 => {
                self.string();
            }
            9 => {
                let element = self.u32();
                for _ in 0..self.u64() {
                    self.skip_value(element);
                }
            }
            other => panic!("type {other}"),
        }
    }
}

impl Header {
    /// The embedded model's header.
    pub fn real() -> Self {
        let mut file = File::open(model_path()).expect("the embedded model");
        let size = file.metadata().unwrap().len();
        let mut bytes = vec![0u8; (4 << 20).min(size as usize)];
        file.read_exact(&mut bytes).unwrap();
        let mut header = Self::parse(bytes, 0);
        let data_start = header.bytes.len().next_multiple_of(ALIGNMENT) as u64;
        header.data_len = size - data_start;
        header
    }

    /// Finds the entries and tensors of `bytes` and cuts them after the last
    /// tensor description.
    fn parse(mut bytes: Vec<u8>, data_len: u64) -> Self {
        let mut cursor = Cursor { bytes: &bytes, at: 8 };
        let tensor_count = cursor.u64();
        let kv_count = cursor.u64();
        let mut entries = Vec::new();
        for _ in 0..kv_count {
            let start = cursor.at;
            let key = cursor.string();
            let type_at = cursor.at;
            let value_type = cursor.u32();
            cursor.skip_value(value_type);
            entries.push(Entry { key, start, type_at, end: cursor.at });
        }
        let mut tensors = Vec::new();
        for _ in 0..tensor_count {
            let start = cursor.at;
            let name = cursor.string();
            let dims_at = cursor.at;
            let n_dims = cursor.u32();
            let dims = (0..n_dims).map(|_| cursor.u64()).collect();
            let type_at = cursor.at;
            cursor.u32();
            let offset_at = cursor.at;
            let offset = cursor.u64();
            tensors.push(Tensor { name, start, dims_at, dims, type_at, offset_at, offset });
        }
        let end = cursor.at;
        bytes.truncate(end);
        Self { bytes, entries, tensors, data_len }
    }

    pub fn entry(&self, key: &str) -> Entry {
        self.entries.iter().find(|entry| entry.key == key).unwrap_or_else(|| panic!("no key {key}")).clone()
    }

    pub fn tensor(&self, name: &str) -> Tensor {
        self.tensors.iter().find(|tensor| tensor.name == name).unwrap_or_else(|| panic!("no tensor {name}")).clone()
    }

    pub fn set_u32(&mut self, at: usize, value: u32) {
        self.bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    pub fn set_u64(&mut self, at: usize, value: u64) {
        self.bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Overwrites bytes in place (same length).
    pub fn patch(&mut self, at: usize, new: &[u8]) {
        self.bytes[at..at + new.len()].copy_from_slice(new);
    }

    /// Renames a key in place; the new name has the same length.
    pub fn rename_key(&mut self, key: &str, new: &str) {
        assert_eq!(key.len(), new.len());
        let at = self.entry(key).start + 8;
        self.patch(at, new.as_bytes());
        self.entries.iter_mut().filter(|entry| entry.key == key).for_each(|entry| entry.key = new.to_owned());
    }

    /// Replaces `range` with `new`, fixes the metadata count by
    /// `kv_change`, and finds the parts again.
    fn splice(&mut self, range: std::ops::Range<usize>, new: &[u8], kv_change: i64) {
        let mut bytes = self.bytes.clone();
        bytes.splice(range, new.iter().copied());
        let kv_count = u64::from_le_bytes(bytes[16..24].try_into().unwrap()).checked_add_signed(kv_change).unwrap();
        bytes[16..24].copy_from_slice(&kv_count.to_le_bytes());
        *self = Self::parse(bytes, self.data_len);
    }

    /// Removes a metadata entry.
    pub fn remove_key(&mut self, key: &str) {
        let entry = self.entry(key);
        self.splice(entry.start..entry.end, &[], -1);
    }

    /// Adds a metadata entry (built by [`kv`]) before the first one.
    pub fn insert_key(&mut self, raw: &[u8]) {
        self.splice(24..24, raw, 1);
    }

    /// Replaces a whole metadata entry with another (built by [`kv`]).
    pub fn replace_key(&mut self, key: &str, raw: &[u8]) {
        let entry = self.entry(key);
        self.splice(entry.start..entry.end, raw, 0);
    }

    /// Renames a tensor (any length).
    pub fn rename_tensor(&mut self, name: &str, new: &str) {
        let tensor = self.tensor(name);
        let mut raw = (new.len() as u64).to_le_bytes().to_vec();
        raw.extend(new.as_bytes());
        self.splice(tensor.start..tensor.dims_at, &raw, 0);
    }

    fn write_header(&self, path: &Path) -> File {
        let mut file = File::create(path).expect("create");
        file.write_all(&self.bytes).unwrap();
        let padding = self.bytes.len().next_multiple_of(ALIGNMENT) - self.bytes.len();
        file.write_all(&vec![0u8; padding]).unwrap();
        file
    }

    /// The mutated header and a sparse data section of `data_len` bytes
    /// (enough for a check that reads the header only).
    pub fn write_sparse(&self, dir: &Path, name: &str, data_len: u64) -> PathBuf {
        let path = dir.join(name);
        let file = self.write_header(&path);
        let header_len = file.metadata().unwrap().len();
        file.set_len(header_len + data_len).unwrap();
        path
    }

    /// The mutated header and the real model's data section, byte for byte.
    pub fn write_with_data(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let mut file = self.write_header(&path);
        let mut real = File::open(model_path()).unwrap();
        let size = real.metadata().unwrap().len();
        real.seek(SeekFrom::Start(size - self.data_len)).unwrap();
        std::io::copy(&mut real, &mut file).unwrap();
        path
    }
}

/// A value of a metadata entry.
pub enum Val<'a> {
    U32(u32),
    U64(u64),
    F32(f32),
    Bool(bool),
    Str(&'a str),
    U8s(&'a [u8]),
    I32s(&'a [i32]),
    Strs(&'a [&'a str]),
}

fn push_str(out: &mut Vec<u8>, text: &str) {
    out.extend((text.len() as u64).to_le_bytes());
    out.extend(text.as_bytes());
}

/// The bytes of one metadata entry.
pub fn kv(key: &str, value: Val<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    push_str(&mut out, key);
    match value {
        Val::U32(v) => {
            out.extend(4u32.to_le_bytes());
            out.extend(v.to_le_bytes());
        }
        Val::U64(v) => {
            out.extend(10u32.to_le_bytes());
            out.extend(v.to_le_bytes());
        }
        Val::F32(v) => {
            out.extend(6u32.to_le_bytes());
            out.extend(v.to_le_bytes());
        }
        Val::Bool(v) => {
            out.extend(7u32.to_le_bytes());
            out.push(u8::from(v));
        }
        Val::Str(v) => {
            out.extend(8u32.to_le_bytes());
            push_str(&mut out, v);
        }
        Val::U8s(values) => {
            out.extend(9u32.to_le_bytes());
            out.extend(0u32.to_le_bytes());
            out.extend((values.len() as u64).to_le_bytes());
            out.extend(values);
        }
        Val::I32s(values) => {
            out.extend(9u32.to_le_bytes());
            out.extend(5u32.to_le_bytes());
            out.extend((values.len() as u64).to_le_bytes());
            values.iter().for_each(|v| out.extend(v.to_le_bytes()));
        }
        Val::Strs(values) => {
            out.extend(9u32.to_le_bytes());
            out.extend(8u32.to_le_bytes());
            out.extend((values.len() as u64).to_le_bytes());
            values.iter().for_each(|v| push_str(&mut out, v));
        }
    }
    out
}
