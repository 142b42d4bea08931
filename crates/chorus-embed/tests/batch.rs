//! Batches: padding is masked, so a text's vector does not depend on the
//! texts it is batched with; order, norms, truncation, empty input.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failure is a panic

mod common;

use chorus_embed::{BATCH_SIZE, DIMENSIONS, Embedding, cosine};

fn largest_difference(a: &Embedding, b: &Embedding) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "Hi",
        "How do I temper chocolate for bonbons?",
        "Translate this contract clause into German and check it for risks to the tenant.",
        "Write a SQL query that lists the customers who ordered nothing in the last ninety days, newest first, \
         with their e-mail addresses and the date of their last order.",
        "",
        "   surrounded by spaces   ",
    ]
    .map(String::from)
    .to_vec();
    // More than one batch, of many lengths.
    for n in 0..(BATCH_SIZE + 5) {
        texts.push(format!("Question {n}: {}", "what does this word mean? ".repeat(n % 9)));
    }
    texts
}

#[test]
fn a_batch_gives_each_text_the_vector_it_gets_alone() {
    let Some(embedder) = common::embedder() else { return };
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let together = embedder.embed(&refs).expect("embeds the batch");
    assert_eq!(together.len(), texts.len());
    for (text, batched) in refs.iter().zip(&together) {
        let alone = embedder.embed_one(text).expect("embeds one");
        let difference = largest_difference(&alone, batched);
        assert!(difference < 1e-5, "{text:?}: batched and alone differ by {difference}");
    }
}

#[test]
fn vectors_are_unit_length_and_in_the_order_of_the_texts() {
    let Some(embedder) = common::embedder() else { return };
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let forward = embedder.embed(&refs).expect("embeds");
    let reversed_refs: Vec<&str> = refs.iter().rev().copied().collect();
    let mut reversed = embedder.embed(&reversed_refs).expect("embeds");
    reversed.reverse();
    for ((text, a), b) in refs.iter().zip(&forward).zip(&reversed) {
        let norm = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{text:?}: norm {norm}");
        assert!(largest_difference(a, b) < 1e-5, "{text:?}: its vector depends on its place in the batch");
    }
    // Different texts get different vectors.
    assert!(cosine(&forward[1], &forward[2]) < 0.9);
}

#[test]
fn a_text_is_trimmed_and_cut_at_256_tokens() {
    let Some(embedder) = common::embedder() else { return };
    let trimmed = embedder.embed_one("surrounded by spaces").expect("embeds");
    let padded = embedder.embed_one("  \n surrounded by spaces\t ").expect("embeds");
    assert!(largest_difference(&trimmed, &padded) < 1e-6);
    // "word " is one token: [CLS] + 254 words + [SEP] fill the 256; what
    // follows is cut.
    let head = "word ".repeat(254);
    let cut = embedder.embed_one(&head).expect("embeds");
    let longer = embedder.embed_one(&format!("{head}{}", "entirely different matter ".repeat(50))).expect("embeds");
    assert!(largest_difference(&cut, &longer) < 1e-5, "text past 256 tokens changed the vector");
    let shorter = embedder.embed_one(&"word ".repeat(200)).expect("embeds");
    assert!(largest_difference(&cut, &shorter) > 1e-4, "a shorter text should differ");
}

#[test]
fn no_texts_give_no_vectors() {
    let Some(embedder) = common::embedder() else { return };
    assert!(embedder.embed(&[]).expect("embeds nothing").is_empty());
    assert_eq!(embedder.embed(&[""]).expect("embeds the empty text")[0].len(), DIMENSIONS);
}

#[test]
fn the_embedder_is_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<chorus_embed::Embedder>();
    let Some(embedder) = common::embedder() else { return };
    let alone = embedder.embed_one("How do I temper chocolate for bonbons?").expect("embeds");
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| embedder.embed_one("How do I temper chocolate for bonbons?").expect("embeds")))
            .collect();
        for handle in handles {
            let got = handle.join().expect("thread ends");
            assert!(largest_difference(&alone, &got) < 1e-6);
        }
    });
}
