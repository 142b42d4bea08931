//! Each rule of the GGUF check on a mutated copy of the real embedded
//! model's header: the copy is the real bytes with one change, and the
//! check names what is wrong and where. Only the header is read, so the
//! data section of each copy is a sparse stretch of the real length.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use chorus_engine::{GgufError, inspect_gguf};
use common::header::{Header, Val, kv};

/// Inspects `header` followed by the real data section's length (plus
/// `extra` bytes, or minus when negative).
fn check_with(header: &Header, extra: i64) -> Result<chorus_engine::GgufInfo, GgufError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf =
        header.write_sparse(dir.path(), "mutated.gguf", header.data_len.checked_add_signed(extra).unwrap());
    inspect_gguf(&path)
}

fn check(header: &Header) -> GgufError {
    check_with(header, 0).expect_err("the mutated copy is rejected")
}

fn assert_bad_key(error: &GgufError, wanted: &str, words: &str) {
    match error {
        GgufError::BadKey { key, reason, .. } if key == wanted && reason.contains(words) => {}
        other => panic!("expected {wanted} to be refused ({words}), got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains(wanted) && message.contains("mutated.gguf"), "{message}");
}

#[test]
fn the_real_model_and_its_unchanged_copy_pass() {
    let info = inspect_gguf(&common::model_path()).expect("the embedded model passes");
    assert_eq!((info.architecture.as_str(), info.context_length, info.tensor_count), ("llama", Some(8192), 272));
    let copy = check_with(&Header::real(), 0).expect("an unchanged copy passes");
    assert_eq!(copy.tensor_count, 272);
}

#[test]
fn more_than_four_dimensions() {
    let mut header = Header::real();
    let tensor = header.tensor("blk.0.ffn_down.weight");
    header.set_u32(tensor.dims_at, 5);
    let error = check(&header);
    assert!(
        matches!(&error, GgufError::TensorDimensions { tensor, dims: 5, .. } if tensor == "blk.0.ffn_down.weight"),
        "{error:?}"
    );
    assert!(error.to_string().contains("blk.0.ffn_down.weight has 5 dimensions"), "{error}");
}

#[test]
fn unknown_tensor_types_are_errors_not_skipped() {
    // 4 is a type ggml removed; 43 is past the last one it knows.
    for code in [4, 43, u32::MAX] {
        let mut header = Header::real();
        let tensor = header.tensor("blk.3.attn_k.weight");
        header.set_u32(tensor.type_at, code);
        let error = check(&header);
        assert!(
            matches!(&error, GgufError::UnknownTensorType { tensor, ggml_type, .. } if tensor == "blk.3.attn_k.weight" && *ggml_type == code),
            "{error:?}"
        );
    }
}

#[test]
fn a_row_of_partial_blocks() {
    let mut header = Header::real();
    let tensor = header.tensor("blk.0.ffn_down.weight");
    assert_eq!(tensor.dims, [1536, 576]);
    header.set_u64(tensor.dims_at + 4, 1537);
    let error = check(&header);
    assert!(
        matches!(&error, GgufError::BadTensor { tensor, reason, .. } if tensor == "blk.0.ffn_down.weight" && reason.contains("1537")),
        "{error:?}"
    );
}

#[test]
fn a_misaligned_tensor_offset() {
    let mut header = Header::real();
    let tensor = header.tensor("blk.0.attn_norm.weight");
    header.set_u64(tensor.offset_at, tensor.offset + 16);
    let error = check(&header);
    assert!(
        matches!(&error, GgufError::MisalignedTensor { tensor: name, offset, alignment: 32, .. }
            if name == "blk.0.attn_norm.weight" && *offset == tensor.offset + 16),
        "{error:?}"
    );
    assert!(error.to_string().contains(&format!("offset {}", tensor.offset + 16)), "{error}");
}

#[test]
fn overlapping_tensor_data() {
    let mut header = Header::real();
    let first = header.tensors[1].clone();
    let second = header.tensors[2].clone();
    header.set_u64(second.offset_at, first.offset);
    let error = check(&header);
    assert!(
        matches!(&error, GgufError::TensorOverlap { tensor, offset, expected, .. }
            if *tensor == second.name && *offset == first.offset && *expected == second.offset),
        "{error:?}"
    );
}

#[test]
fn tensors_out_of_order_or_with_a_gap() {
    let mut swapped = Header::real();
    let (first, second) = (swapped.tensors[1].clone(), swapped.tensors[2].clone());
    swapped.set_u64(first.offset_at, second.offset);
    swapped.set_u64(second.offset_at, first.offset);
    let error = check(&swapped);
    assert!(
        matches!(&error, GgufError::TensorGap { tensor, offset, expected, .. }
            if *tensor == first.name && *offset == second.offset && *expected == first.offset),
        "{error:?}"
    );

    let mut gap = Header::real();
    let last = gap.tensors.last().unwrap().clone();
    gap.set_u64(last.offset_at, last.offset + 32);
    assert!(matches!(check(&gap), GgufError::TensorGap { tensor, .. } if tensor == "output_norm.weight"));
}

#[test]
fn tensor_data_past_the_end_of_the_file() {
    let header = Header::real();
    let error = check_with(&header, -1000).expect_err("a cut file");
    match &error {
        GgufError::TensorPastEnd { tensor, end, file_size, .. } => {
            assert_eq!(tensor, "output_norm.weight");
            assert_eq!(*end, file_size + 1000);
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("past the end of the file"), "{error}");
}

#[test]
fn a_data_section_longer_than_its_tensors() {
    let header = Header::real();
    let error = check_with(&header, 64).expect_err("trailing bytes");
    assert!(
        matches!(error, GgufError::DataSize { actual, expected, .. } if actual == header.data_len + 64 && expected == header.data_len),
        "{error:?}"
    );
}

#[test]
fn tensor_names_ggml_cannot_hold() {
    let mut twice = Header::real();
    twice.patch(twice.tensor("blk.0.ffn_gate.weight").start + 8, b"blk.0.ffn_down.weight");
    assert!(matches!(check(&twice), GgufError::BadTensor { tensor, reason, .. }
        if tensor == "blk.0.ffn_down.weight" && reason.contains("earlier")));

    let mut long = Header::real();
    let name = format!("blk.0.{}.weight", "x".repeat(60));
    long.rename_tensor("blk.0.attn_norm.weight", &name);
    assert!(
        matches!(check(&long), GgufError::BadTensor { tensor, reason, .. } if tensor == name && reason.contains("73 bytes"))
    );
}

#[test]
fn missing_keys_llama_cpp_needs() {
    for key in [
        "general.architecture",
        "llama.context_length",
        "llama.embedding_length",
        "llama.block_count",
        "tokenizer.ggml.model",
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.merges",
    ] {
        let mut header = Header::real();
        let hidden = format!("{}_", &key[..key.len() - 1]);
        header.rename_key(key, &hidden);
        let error = check(&header);
        assert!(matches!(&error, GgufError::MissingKey { key: missing, .. } if missing == key), "{key}: {error:?}");
        assert!(error.to_string().contains(key), "{error}");
    }
}

#[test]
fn values_llama_cpp_refuses_or_aborts_on() {
    let cases: [(&str, u32, &str); 6] = [
        ("llama.context_length", 0, "is 0"),
        ("llama.embedding_length", 0, "is 0"),
        ("llama.block_count", 0, "1 to 512"),
        ("llama.block_count", 513, "1 to 512"),
        ("llama.rope.dimension_count", 32, "head size is 64"),
        ("tokenizer.ggml.bos_token_id", 49_152, "outside the vocabulary"),
    ];
    for (key, value, words) in cases {
        let mut header = Header::real();
        let at = header.entry(key).value_at();
        header.set_u32(at, value);
        assert_bad_key(&check(&header), key, words);
    }
}

#[test]
fn a_key_of_the_wrong_type() {
    let mut header = Header::real();
    let entry = header.entry("llama.block_count");
    header.set_u32(entry.type_at, 5); // i32: same width, another type
    assert_bad_key(&check(&header), "llama.block_count", "reads it as a u32");

    let mut aligned = Header::real();
    aligned.insert_key(&kv("general.alignment", Val::U64(32)));
    assert_bad_key(&check(&aligned), "general.alignment", "u32");
}

#[test]
fn an_unknown_tokenizer_or_rope_scaling() {
    let mut header = Header::real();
    let at = header.entry("tokenizer.ggml.model").value_at() + 8;
    header.patch(at, b"gpt3");
    assert_bad_key(&check(&header), "tokenizer.ggml.model", "\"gpt3\"");

    let mut rope = Header::real();
    rope.insert_key(&kv("llama.rope.scaling.type", Val::Str("spiral")));
    assert_bad_key(&check(&rope), "llama.rope.scaling.type", "\"spiral\"");
}

#[test]
fn a_repeated_token() {
    let mut header = Header::real();
    // Entries 17 and 18 of the vocabulary are "!" and "\"": one byte each.
    let mut at = header.entry("tokenizer.ggml.tokens").value_at() + 4 + 8;
    for _ in 0..18 {
        at += 8 + usize::try_from(u64::from_le_bytes(header.bytes[at..at + 8].try_into().unwrap())).unwrap();
    }
    assert_eq!(&header.bytes[at..at + 9], b"\x01\0\0\0\0\0\0\0\"");
    header.patch(at + 8, b"!");
    assert_bad_key(&check(&header), "tokenizer.ggml.tokens", "repeats token 17 (\"!\") at 18");
}

#[test]
fn token_types_for_fewer_tokens_than_the_vocabulary() {
    let mut header = Header::real();
    header.replace_key("tokenizer.ggml.token_type", &kv("tokenizer.ggml.token_type", Val::I32s(&[1; 10])));
    assert_bad_key(&check(&header), "tokenizer.ggml.token_type", "10 entries for 49152 tokens");
}

/// Keys added to the header, the key refused, and words of the reason.
type Case = (&'static [(&'static str, u32)], &'static str, &'static str);

#[test]
fn expert_and_layer_counts_llama_cpp_asserts_on() {
    let cases: [Case; 5] = [
        (&[("llama.expert_count", 2000)], "llama.expert_count", "above 1024"),
        (&[("llama.expert_count", 8), ("llama.expert_used_count", 9)], "llama.expert_used_count", "is 9"),
        (&[("llama.expert_used_count", 2)], "llama.expert_used_count", "with 0 experts"),
        (
            &[("llama.expert_count", 8), ("llama.expert_used_count", 2), ("llama.expert_group_count", 3)],
            "llama.expert_group_count",
            "is 3",
        ),
        (&[("llama.nextn_predict_layers", 31)], "llama.nextn_predict_layers", "30 blocks"),
    ];
    for (keys, wanted, words) in cases {
        let mut header = Header::real();
        for (key, value) in keys {
            header.insert_key(&kv(key, Val::U32(*value)));
        }
        assert_bad_key(&check(&header), wanted, words);
    }
}

#[test]
fn key_and_value_heads_of_different_sizes() {
    let mut header = Header::real();
    header.insert_key(&kv("llama.attention.value_length", Val::U32(32)));
    assert_bad_key(&check(&header), "llama.attention.value_length", "key head size is 64");
}

#[test]
fn a_key_twice_or_an_alignment_that_is_no_power_of_two() {
    let mut twice = Header::real();
    twice.rename_key("general.name", "general.type");
    assert!(
        matches!(check(&twice), GgufError::Malformed { reason, .. } if reason.contains("general.type appears twice"))
    );

    let mut aligned = Header::real();
    aligned.insert_key(&kv("general.alignment", Val::U32(48)));
    assert!(matches!(check(&aligned), GgufError::Malformed { reason, .. } if reason.contains("48")));
}
