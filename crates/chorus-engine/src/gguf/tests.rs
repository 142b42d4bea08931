//! The frame of the format on a tiny synthetic file: cuts, random bytes,
//! absurd lengths. Each rule on a real model's header is in the crate's
//! `tests/gguf_rules.rs`.

use std::io::Write;

use super::*;

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

fn key_u32(out: &mut Vec<u8>, key: &str, value: u32) {
    string(out, key);
    out.extend(4u32.to_le_bytes());
    out.extend(value.to_le_bytes());
}

/// A minimal GGUF llama.cpp's rules accept: one F32 tensor of 8 elements.
fn tiny_gguf(arch: Option<&str>, data_len: usize) -> Vec<u8> {
    tiny_gguf_with(arch, data_len, &spm_tokens())
}

/// The tiny file's vocabulary: three special tokens and the 256 byte
/// tokens an SPM vocabulary needs.
fn spm_tokens() -> Vec<Vec<u8>> {
    let special = ["<unk>", "<s>", "</s>"].map(|token| token.as_bytes().to_vec());
    special.into_iter().chain((0..=u8::MAX).map(|byte| format!("<0x{byte:02X}>").into_bytes())).collect()
}

/// [`tiny_gguf`] with these tokens.
fn tiny_gguf_with(arch: Option<&str>, data_len: usize, tokens: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(MAGIC);
    out.extend(3u32.to_le_bytes());
    out.extend(1u64.to_le_bytes()); // tensors
    let kv = if arch.is_some() { 6u64 } else { 5 };
    out.extend(kv.to_le_bytes());
    if let Some(arch) = arch {
        string(&mut out, "general.architecture");
        out.extend(8u32.to_le_bytes());
        string(&mut out, arch);
    }
    key_u32(&mut out, "llama.context_length", 2048);
    key_u32(&mut out, "llama.embedding_length", 8);
    key_u32(&mut out, "llama.block_count", 1);
    string(&mut out, "tokenizer.ggml.model");
    out.extend(8u32.to_le_bytes());
    string(&mut out, "llama");
    string(&mut out, "tokenizer.ggml.tokens");
    out.extend(9u32.to_le_bytes());
    out.extend(8u32.to_le_bytes());
    out.extend((tokens.len() as u64).to_le_bytes());
    for token in tokens {
        out.extend((token.len() as u64).to_le_bytes());
        out.extend(token);
    }
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
fn the_data_section_holds_the_tensors_and_no_more() {
    let file = write(&tiny_gguf(Some("llama"), 32));
    assert!(inspect(file.path()).is_ok());
    let file = write(&tiny_gguf(Some("llama"), 31));
    assert!(
        matches!(inspect(file.path()), Err(GgufError::TensorPastEnd { end, .. }) if end == file.as_file().metadata().unwrap().len() + 1)
    );
    let file = write(&tiny_gguf(Some("llama"), 33));
    assert!(matches!(inspect(file.path()), Err(GgufError::DataSize { actual: 33, expected: 32, .. })));
}

#[test]
fn rejects_every_cut_of_the_file() {
    let full = tiny_gguf(Some("llama"), 32);
    let data_start = full.len() - 32;
    for len in 0..full.len() {
        let file = write(&full[..len]);
        match inspect(file.path()) {
            Err(GgufError::Truncated { .. }) => assert!(len < data_start, "cut at {len}"),
            Err(GgufError::TensorPastEnd { tensor, .. }) => assert!(len > 100 && tensor == "weight", "cut at {len}"),
            other => panic!("cut at {len}: {other:?}"),
        }
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
    assert!(matches!(inspect(file.path()), Err(GgufError::MissingKey { key, .. }) if key == "general.architecture"));
}

#[test]
fn rejects_absurd_lengths() {
    let mut bytes = tiny_gguf(Some("llama"), 32);
    // The length of the first key string sits right after the counts.
    bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    let file = write(&bytes);
    assert!(matches!(inspect(file.path()), Err(GgufError::Malformed { .. })));
}

/// An SPM vocabulary must spell every byte: llama.cpp loads one that
/// cannot, then ends the process on the first prompt it cannot spell (the
/// `gguf_inspect` fuzz target's finding, `fuzz/corpus/gguf_inspect/regress-spm-without-byte-tokens`).
#[test]
fn an_spm_vocabulary_spells_every_byte() {
    for (missing, replacement) in [("<0x48>", "<0x4h>"), ("<0x00>", "<0x0g>")] {
        let mut tokens = spm_tokens();
        let at = tokens.iter().position(|token| token == missing.as_bytes()).expect("the byte token");
        tokens[at] = replacement.as_bytes().to_vec();
        let file = write(&tiny_gguf_with(Some("llama"), 32, &tokens));
        let error = inspect(file.path()).expect_err("a byte without a token");
        assert!(
            matches!(&error, GgufError::BadKey { key, reason, .. } if key == "tokenizer.ggml.tokens" && reason.contains(&missing[1..5])),
            "{error}"
        );
    }
    // The byte itself as a token spells it too.
    let mut tokens = spm_tokens();
    let at = tokens.iter().position(|token| token == b"<0x48>").expect("the byte token");
    tokens[at] = b"H".to_vec();
    let file = write(&tiny_gguf_with(Some("llama"), 32, &tokens));
    assert!(inspect(file.path()).is_ok());
}
