//! Reading the header's bytes: little-endian numbers, strings and metadata
//! values, each checked against the file's size before it is read, so a
//! length field that lies is a typed error and never an allocation.

use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::GgufError;

/// Upper bound for one metadata string (chat templates are a few KiB).
const MAX_STRING_BYTES: u64 = 16 << 20;
/// Upper bound for the element count of one metadata array (vocabularies
/// have a few hundred thousand entries).
const MAX_ARRAY_LEN: u64 = 1 << 24;
/// Integer arrays up to this length keep their values (per-layer counts).
const KEEP_INTS_UP_TO: u64 = 4096;

/// Metadata value types of the GGUF format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueType {
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

    /// The type's name as llama.cpp's messages spell it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::Bool => "bool",
            Self::String => "str",
            Self::Array => "arr",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
        }
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

    fn is_integer(self) -> bool {
        matches!(self, Self::U8 | Self::I8 | Self::U16 | Self::I16 | Self::U32 | Self::I32 | Self::U64 | Self::I64)
    }
}

/// One metadata value, as much of it as the checks need.
#[derive(Debug)]
pub(super) enum Value {
    /// An integer of any width (its type is kept beside it).
    Int(ValueType, i128),
    /// A float, a bool, or anything else whose value no check reads.
    Other(ValueType, Option<bool>),
    /// A string.
    Text(String),
    /// An array.
    Array(Array),
}

impl Value {
    /// The GGUF type of the value.
    pub(super) fn value_type(&self) -> ValueType {
        match self {
            Self::Int(value_type, _) | Self::Other(value_type, _) => *value_type,
            Self::Text(_) => ValueType::String,
            Self::Array(_) => ValueType::Array,
        }
    }
}

/// A metadata array: its element type and length, with the values where a
/// check reads them.
#[derive(Debug)]
pub(super) struct Array {
    /// Type of the elements.
    pub(super) element: ValueType,
    /// Number of elements.
    pub(super) len: u64,
    /// The values of a short integer array.
    pub(super) ints: Option<Vec<i128>>,
    /// The entries of a string array read in full (the vocabulary).
    pub(super) strings: Option<Vec<Vec<u8>>>,
}

/// Where the header's bytes come from: a file, or bytes in memory.
pub(super) trait Source: Read + Seek {}

impl<T: Read + Seek> Source for T {}

/// The header's bytes, read front to back.
pub(super) struct Reader<'a> {
    inner: BufReader<Box<dyn Source + 'a>>,
    pub(super) path: &'a Path,
    pub(super) file_size: u64,
    pub(super) position: u64,
}

impl<'a> Reader<'a> {
    /// Reads `source` (positioned at its start, `file_size` bytes long);
    /// errors name `path`.
    pub(super) fn new(source: impl Source + 'a, path: &'a Path, file_size: u64) -> Self {
        let source: Box<dyn Source + 'a> = Box::new(source);
        Self { inner: BufReader::with_capacity(1 << 16, source), path, file_size, position: 0 }
    }

    pub(super) fn truncated(&self, what: &'static str, needed: u64) -> GgufError {
        GgufError::Truncated { path: self.path.to_path_buf(), what, needed, actual: self.file_size }
    }

    pub(super) fn malformed(&self, reason: impl Into<String>) -> GgufError {
        GgufError::Malformed { path: self.path.to_path_buf(), reason: reason.into() }
    }

    pub(super) fn bytes<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let needed = self.position + N as u64;
        if needed > self.file_size {
            return Err(self.truncated(what, needed));
        }
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|_| self.truncated(what, needed))?;
        self.position = needed;
        Ok(buf)
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), GgufError> {
        let needed = self.position.saturating_add(n);
        if needed > self.file_size {
            return Err(self.truncated(what, needed));
        }
        let offset = i64::try_from(n).map_err(|_| self.malformed("offset overflow"))?;
        self.inner.seek_relative(offset).map_err(|_| self.truncated(what, needed))?;
        self.position = needed;
        Ok(())
    }

    /// A length-prefixed string's raw bytes.
    fn raw_string(&mut self, what: &'static str) -> Result<Vec<u8>, GgufError> {
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
        Ok(buf)
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let bytes = self.raw_string(what)?;
        String::from_utf8(bytes).map_err(|_| self.malformed(format!("a {what} string is not UTF-8")))
    }

    fn skip_string(&mut self, what: &'static str) -> Result<(), GgufError> {
        let len = self.u64(what)?;
        if len > MAX_STRING_BYTES {
            return Err(self.malformed(format!("a {what} string claims {len} bytes")));
        }
        self.skip(len, what)
    }

    fn integer(&mut self, value_type: ValueType) -> Result<i128, GgufError> {
        const WHAT: &str = "metadata value";
        Ok(match value_type {
            ValueType::U8 => i128::from(self.bytes::<1>(WHAT)?[0]),
            ValueType::I8 => i128::from(i8::from_le_bytes(self.bytes::<1>(WHAT)?)),
            ValueType::U16 => i128::from(u16::from_le_bytes(self.bytes::<2>(WHAT)?)),
            ValueType::I16 => i128::from(i16::from_le_bytes(self.bytes::<2>(WHAT)?)),
            ValueType::U32 => i128::from(self.u32(WHAT)?),
            ValueType::I32 => i128::from(i32::from_le_bytes(self.bytes::<4>(WHAT)?)),
            ValueType::U64 => i128::from(self.u64(WHAT)?),
            ValueType::I64 => i128::from(i64::from_le_bytes(self.bytes::<8>(WHAT)?)),
            _ => return Err(self.malformed("not an integer")),
        })
    }

    /// The value of metadata key `key`: type code, then the value.
    /// `read_strings` keeps every entry of a string array.
    pub(super) fn value(&mut self, key: &str, read_strings: bool) -> Result<Value, GgufError> {
        let code = self.u32("metadata type")?;
        let value_type =
            ValueType::from_code(code).ok_or_else(|| self.malformed(format!("key {key} has unknown type {code}")))?;
        match value_type {
            ValueType::String => Ok(Value::Text(self.string("metadata value")?)),
            ValueType::Array => self.array(key, read_strings).map(Value::Array),
            ValueType::Bool => {
                let [byte] = self.bytes::<1>("metadata value")?;
                Ok(Value::Other(ValueType::Bool, Some(byte != 0)))
            }
            integer if integer.is_integer() => Ok(Value::Int(integer, self.integer(integer)?)),
            other => {
                self.skip(other.fixed_size().unwrap_or(0), "metadata value")?;
                Ok(Value::Other(other, None))
            }
        }
    }

    fn array(&mut self, key: &str, read_strings: bool) -> Result<Array, GgufError> {
        let code = self.u32("array type")?;
        let element = ValueType::from_code(code)
            .ok_or_else(|| self.malformed(format!("key {key}: unknown array element type {code}")))?;
        let len = self.u64("array length")?;
        if len > MAX_ARRAY_LEN {
            return Err(self.malformed(format!("key {key}: an array claims {len} elements")));
        }
        let mut array = Array { element, len, ints: None, strings: None };
        match element.fixed_size() {
            Some(_) if element.is_integer() && len <= KEEP_INTS_UP_TO => {
                array.ints = Some((0..len).map(|_| self.integer(element)).collect::<Result<_, _>>()?);
            }
            Some(size) => self.skip(len * size, "metadata array")?,
            None if element == ValueType::String && read_strings => {
                array.strings = Some((0..len).map(|_| self.raw_string("metadata array")).collect::<Result<_, _>>()?);
            }
            None if element == ValueType::String => {
                for _ in 0..len {
                    self.skip_string("metadata array")?;
                }
            }
            None => return Err(self.malformed(format!("key {key}: nested metadata arrays"))),
        }
        Ok(array)
    }
}
