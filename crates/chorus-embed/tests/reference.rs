//! The embeddings against references computed without candle: a plain
//! numpy BERT over the same weights (`reference/bert_numpy.py`, its output
//! `reference/reference.json`), and the scores sentence-transformers'
//! documentation publishes for this model.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failure is a panic

mod common;

use chorus_embed::{DIMENSIONS, MAX_TOKENS, cosine};
use serde_json::Value;

const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

#[test]
fn vectors_match_the_numpy_reference() {
    let Some(embedder) = common::embedder() else { return };
    let reference: Value =
        serde_json::from_str(include_str!("reference/reference.json")).expect("reference.json is JSON");
    assert_eq!(reference["model_sha256"], MODEL_SHA256, "the reference was computed for another model file");
    assert_eq!(reference["max_tokens"], MAX_TOKENS as u64);
    let entries = reference["texts"].as_array().expect("texts");
    assert!(entries.len() >= 5);
    for entry in entries {
        let text = entry["text"].as_str().expect("text");
        let expected: Vec<f32> = entry["embedding"]
            .as_array()
            .expect("embedding")
            .iter()
            .map(|x| x.as_f64().expect("number") as f32)
            .collect();
        assert_eq!(expected.len(), DIMENSIONS);
        let got = embedder.embed_one(text).expect("embeds");
        let worst = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "{text:?}: largest difference from the reference {worst}");
        let expected: [f32; DIMENSIONS] = expected.try_into().expect("384 numbers");
        assert!(cosine(&got, &expected) > 0.99999, "{text:?}: cosine {}", cosine(&got, &expected));
    }
}

#[test]
fn cosines_match_the_numpy_reference() {
    let Some(embedder) = common::embedder() else { return };
    let reference: Value =
        serde_json::from_str(include_str!("reference/reference.json")).expect("reference.json is JSON");
    let texts: Vec<&str> =
        reference["texts"].as_array().expect("texts").iter().map(|e| e["text"].as_str().expect("text")).collect();
    let vectors = embedder.embed(&texts).expect("embeds");
    for (i, row) in reference["cosines"].as_array().expect("cosines").iter().enumerate() {
        for (j, expected) in row.as_array().expect("row").iter().enumerate() {
            let expected = expected.as_f64().expect("number") as f32;
            let got = cosine(&vectors[i], &vectors[j]);
            assert!((got - expected).abs() < 1e-4, "cosine of texts {i} and {j}: {got}, reference {expected}");
        }
    }
}

/// sentence-transformers' semantic search example
/// (`examples/sentence_transformer/applications/semantic-search/`) runs
/// all-MiniLM-L6-v2 and prints these scores to four decimals.
#[test]
fn scores_match_those_sentence_transformers_publishes() {
    let Some(embedder) = common::embedder() else { return };
    let published = [
        ("A man is eating pasta.", "A man is eating food.", 0.7035),
        ("A man is eating pasta.", "A man is eating a piece of bread.", 0.5272),
        ("A man is eating pasta.", "A man is riding a horse.", 0.1889),
        ("A man is eating pasta.", "A man is riding a white horse on an enclosed ground.", 0.1047),
        ("A man is eating pasta.", "A cheetah is running behind its prey.", 0.0980),
        ("Someone in a gorilla costume is playing a set of drums.", "A monkey is playing drums.", 0.6433),
        ("Someone in a gorilla costume is playing a set of drums.", "A woman is playing violin.", 0.2564),
        ("Someone in a gorilla costume is playing a set of drums.", "A cheetah is running behind its prey.", 0.1080),
        ("A cheetah chases prey on across a field.", "A cheetah is running behind its prey.", 0.8253),
        ("A cheetah chases prey on across a field.", "A man is eating food.", 0.1399),
        ("A cheetah chases prey on across a field.", "A man is riding a horse.", 0.0650),
    ];
    for (query, sentence, score) in published {
        let vectors = embedder.embed(&[query, sentence]).expect("embeds");
        let got = cosine(&vectors[0], &vectors[1]);
        assert!((got - score).abs() < 0.0006, "{query:?} / {sentence:?}: {got:.5}, published {score}");
    }
}
