//! The tensor descriptions and the layout of their data, checked as
//! llama.cpp's `gguf_init_from_file` and model loader need them.

use std::collections::HashSet;

use super::GgufError;
use super::reader::Reader;

/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// ggml's `GGML_MAX_NAME`: a tensor name has fewer bytes than this.
const MAX_NAME: usize = 64;

/// `(block size in elements, bytes per block)` of every ggml tensor type the
/// vendored llama.cpp defines (`ggml.h`, `ggml-common.h`). The codes it
/// removed (4, 5, 31–33, 36–38) and any code past the list are unknown.
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
        40 => (64, 36),   // NVFP4
        41 => (128, 18),  // Q1_0
        42 => (64, 18),   // Q2_0
        _ => return None,
    })
}

/// One tensor's data: where it starts in the data section and how long it is.
pub(super) struct TensorData {
    pub(super) name: String,
    pub(super) offset: u64,
    pub(super) bytes: u64,
    /// Its number of elements (weights).
    pub(super) elements: u64,
}

/// `value` rounded up to a multiple of `alignment` (a power of two).
pub(super) fn align(value: u64, alignment: u64) -> Option<u64> {
    value.checked_add(alignment - 1).map(|v| v & !(alignment - 1))
}

/// Reads `count` tensor descriptions and checks each as it comes: 1 to 4
/// dimensions, a known type, whole blocks per row, a unique name ggml can
/// hold, and data that starts where the previous tensor's padded data ends
/// (llama.cpp accepts nothing else), at an aligned offset.
pub(super) fn read(reader: &mut Reader<'_>, count: u64, alignment: u64) -> Result<Vec<TensorData>, GgufError> {
    let path = reader.path;
    let bad = |tensor: &str, reason: String| GgufError::BadTensor {
        path: path.to_path_buf(),
        tensor: tensor.to_owned(),
        reason,
    };
    let mut names = HashSet::new();
    let mut tensors = Vec::new();
    let mut expected = 0u64;
    for _ in 0..count {
        let name = reader.string("tensor name")?;
        let n_dims = reader.u32("tensor dimensions")?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(GgufError::TensorDimensions { path: path.to_path_buf(), tensor: name, dims: n_dims });
        }
        let mut dims = Vec::new();
        for _ in 0..n_dims {
            dims.push(reader.u64("tensor shape")?);
        }
        let ggml_type = reader.u32("tensor type")?;
        let offset = reader.u64("tensor offset")?;
        if name.len() >= MAX_NAME {
            return Err(bad(&name, format!("its name has {} bytes; ggml holds at most {}", name.len(), MAX_NAME - 1)));
        }
        if !names.insert(name.clone()) {
            return Err(bad(&name, "a tensor of this name comes earlier".to_owned()));
        }
        let Some((block, block_bytes)) = type_layout(ggml_type) else {
            return Err(GgufError::UnknownTensorType { path: path.to_path_buf(), tensor: name, ggml_type });
        };
        let mut elements = 1u64;
        for (index, &dim) in dims.iter().enumerate() {
            if i64::try_from(dim).is_err() {
                return Err(bad(&name, format!("dimension {index} is {dim}, more than ggml can count")));
            }
            elements = elements
                .checked_mul(dim)
                .filter(|&product| i64::try_from(product).is_ok())
                .ok_or_else(|| bad(&name, format!("its shape {dims:?} has more elements than ggml can count")))?;
        }
        if dims[0] % block != 0 {
            return Err(bad(&name, format!("rows of {} elements are not whole blocks of {block}", dims[0])));
        }
        let bytes = (elements / block)
            .checked_mul(block_bytes)
            .ok_or_else(|| bad(&name, format!("its shape {dims:?} has more bytes than a file can hold")))?;
        if offset % alignment != 0 {
            return Err(GgufError::MisalignedTensor { path: path.to_path_buf(), tensor: name, offset, alignment });
        }
        if offset < expected {
            return Err(GgufError::TensorOverlap { path: path.to_path_buf(), tensor: name, offset, expected });
        }
        if offset > expected {
            return Err(GgufError::TensorGap { path: path.to_path_buf(), tensor: name, offset, expected });
        }
        expected = offset
            .checked_add(bytes)
            .and_then(|end| align(end, alignment))
            .ok_or_else(|| bad(&name, format!("its data at offset {offset} ends past what a file can hold")))?;
        tensors.push(TensorData { name, offset, bytes, elements });
    }
    Ok(tensors)
}

/// Checks that every tensor's data lies inside the file and that the data
/// section is as long as its tensors: their padded sizes, the last one's
/// padding optional. `data_start` is where the data section begins.
pub(super) fn check_data(
    reader: &Reader<'_>,
    tensors: &[TensorData],
    data_start: u64,
    alignment: u64,
) -> Result<(), GgufError> {
    let path = reader.path;
    let file_size = reader.file_size;
    for tensor in tensors {
        let end = data_start.saturating_add(tensor.offset).saturating_add(tensor.bytes);
        if end > file_size {
            return Err(GgufError::TensorPastEnd {
                path: path.to_path_buf(),
                tensor: tensor.name.clone(),
                offset: tensor.offset,
                bytes: tensor.bytes,
                end,
                file_size,
            });
        }
    }
    let actual = file_size.saturating_sub(data_start);
    let padded = tensors.last().and_then(|last| align(last.offset + last.bytes, alignment)).unwrap_or(0);
    if actual > padded {
        return Err(GgufError::DataSize { path: path.to_path_buf(), actual, expected: padded });
    }
    Ok(())
}
