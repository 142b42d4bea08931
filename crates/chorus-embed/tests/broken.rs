//! Broken model folders give typed errors that name the file, never a
//! panic.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failure is a panic

mod common;

use std::path::{Path, PathBuf};

use chorus_embed::{EmbedError, Embedder};

const FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A temporary copy of the real model folder with `name` replaced by
/// `contents` (or left out when `None`).
fn folder_with(name: &str, contents: Option<Vec<u8>>) -> Option<(tempfile::TempDir, PathBuf)> {
    let source = common::installed_model()?;
    let dir = tempfile::tempdir().expect("temporary folder");
    for file in FILES {
        if file != name {
            std::fs::copy(source.join(file), dir.path().join(file)).expect("copies the file");
        }
    }
    if let Some(contents) = contents {
        std::fs::write(dir.path().join(name), contents).expect("writes the broken file");
    }
    let path = dir.path().join(name);
    Some((dir, path))
}

fn load_error(dir: &Path) -> EmbedError {
    match Embedder::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(error) => error,
    }
}

fn real_file(name: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(common::installed_model()?.join(name)).expect("reads the real file"))
}

#[test]
fn an_empty_folder_names_the_first_missing_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    match load_error(dir.path()) {
        EmbedError::Missing { path } => assert_eq!(path, dir.path().join("config.json")),
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn each_missing_file_is_named() {
    for name in FILES {
        let Some((dir, path)) = folder_with(name, None) else { return };
        match load_error(dir.path()) {
            EmbedError::Missing { path: missing } => assert_eq!(missing, path),
            other => panic!("{name} missing: unexpected error: {other}"),
        }
        assert!(load_error(dir.path()).to_string().contains(name));
    }
}

fn assert_invalid_weights(contents: Vec<u8>, what: &str) {
    let Some((dir, path)) = folder_with("model.safetensors", Some(contents)) else { return };
    match load_error(dir.path()) {
        EmbedError::InvalidWeights { path: named, reason } => {
            assert_eq!(named, path, "{what}");
            assert!(!reason.is_empty(), "{what}");
        }
        other => panic!("{what}: unexpected error: {other}"),
    }
}

#[test]
fn truncated_weights_are_invalid_weights() {
    let Some(weights) = real_file("model.safetensors") else { return };
    assert_invalid_weights(weights[..weights.len() / 2].to_vec(), "cut in half");
    assert_invalid_weights(weights[..weights.len() - 1].to_vec(), "one byte short");
    assert_invalid_weights(weights[..100].to_vec(), "cut inside the header");
    assert_invalid_weights(Vec::new(), "empty");
}

#[test]
fn malformed_weights_are_invalid_weights() {
    let Some(weights) = real_file("model.safetensors") else { return };
    // A header length far past the end of the file.
    let mut huge_header = weights.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_invalid_weights(huge_header, "header length past the end");
    // The header's JSON broken.
    let mut bad_json = weights;
    bad_json[8] = b'[';
    assert_invalid_weights(bad_json, "header not a JSON object");
    assert_invalid_weights(b"not a safetensors file at all".to_vec(), "text");
}

#[test]
fn a_valid_safetensors_file_of_another_model_is_invalid_weights() {
    // One float32 tensor `x` of shape [1]: a sound file without BERT's tensors.
    let header = br#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&1.0f32.to_le_bytes());
    assert_invalid_weights(file, "no BERT tensors");
}

#[test]
fn a_broken_tokenizer_is_an_invalid_tokenizer() {
    for (contents, what) in [(b"{ not json".to_vec(), "not JSON"), (b"{}".to_vec(), "empty object")] {
        let Some((dir, path)) = folder_with("tokenizer.json", Some(contents)) else { return };
        match load_error(dir.path()) {
            EmbedError::InvalidTokenizer { path: named, .. } => assert_eq!(named, path, "{what}"),
            other => panic!("{what}: unexpected error: {other}"),
        }
    }
}

#[test]
fn a_config_this_crate_cannot_run_is_an_invalid_config() {
    let Some(config) = real_file("config.json") else { return };
    let config = String::from_utf8(config).expect("UTF-8");
    let cases = [
        ("not JSON".to_string(), "not JSON"),
        (config.replace("\"hidden_size\": 384", "\"hidden_size\": 768"), "768 dimensions"),
        (config.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 0"), "no heads"),
        (config.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 7"), "heads not dividing"),
        (config.replace("\"max_position_embeddings\": 512", "\"max_position_embeddings\": 128"), "short positions"),
        (config.replace("\"vocab_size\": 30522", "\"vocab_size\": 1000"), "vocabulary too small"),
        (config.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"swish\""), "unknown activation"),
    ];
    for (contents, what) in cases {
        assert_ne!(contents, config, "{what}: the replacement found nothing");
        let Some((dir, path)) = folder_with("config.json", Some(contents.into_bytes())) else { return };
        match load_error(dir.path()) {
            // A vocabulary too small for the tokenizer is found by the
            // tokenizer's check.
            EmbedError::InvalidConfig { path: named, .. } => assert_eq!(named, path, "{what}"),
            EmbedError::InvalidTokenizer { .. } if what == "vocabulary too small" => {}
            other => panic!("{what}: unexpected error: {other}"),
        }
    }
}
