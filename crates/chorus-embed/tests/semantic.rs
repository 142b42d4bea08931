//! Semantic sanity on Chorus's own texts: questions land nearer the
//! specialist that should answer them than the ones that should not.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failure is a panic

mod common;

use chorus_embed::{Embedder, Embedding, cosine};
use serde_json::Value;

const PASTRY: &str = "Pastry chef: chocolate work, tempering, bonbons and pralines, viennoiserie, \
                      laminated doughs, plated desserts and cake decoration.";
const PYTHON: &str = "Python developer: writes and debugs Python scripts, packages, typing, \
                      virtual environments and the standard library.";
const NETWORK: &str = "Network engineer: routing, switching, VLANs, firewalls, VPNs, DNS and \
                       troubleshooting TCP/IP connectivity.";
const RUST: &str = "Rust engineer: writes, explains and fixes Rust code: ownership, borrowing, \
                    lifetimes, traits, async and Cargo.";
const TENANCY: &str = "Tenancy and housing law research assistant: leases, deposits, repairs, \
                       rent increases and eviction procedures.";
const FITNESS: &str = "Fitness coach: designs workout plans and explains exercise technique, \
                       progression, warm-up and recovery.";
const ACCOUNTING: &str = "Accounting assistant: bookkeeping, journal entries, financial statements, \
                          accruals and reconciliations.";

fn embed_all(embedder: &Embedder, texts: &[&str]) -> Vec<Embedding> {
    embedder.embed(texts).expect("embeds")
}

/// For each question, the first candidate beats each of the others by at
/// least `margin` (the others are unrelated: their order is noise).
#[test]
fn questions_rank_the_right_description_first() {
    let Some(embedder) = common::embedder() else { return };
    let cases: [(&str, &[&str]); 6] = [
        ("How do I temper chocolate for bonbons?", &[PASTRY, PYTHON, NETWORK]),
        ("Why does my list comprehension raise a KeyError in this pandas script?", &[PYTHON, PASTRY]),
        ("My laptop gets an IP address but cannot reach anything outside the VLAN.", &[NETWORK, PASTRY]),
        ("How do I fix a lifetime error in my Rust function?", &[RUST, TENANCY]),
        ("Can my landlord keep the whole deposit for a small stain on the carpet?", &[TENANCY, RUST]),
        ("What should I do before a sprint interval session so I do not pull a hamstring?", &[FITNESS, ACCOUNTING]),
    ];
    let margin = 0.05;
    for (question, ranked) in cases {
        let mut texts = vec![question];
        texts.extend_from_slice(ranked);
        let vectors = embed_all(embedder, &texts);
        let scores: Vec<f32> = vectors[1..].iter().map(|candidate| cosine(&vectors[0], candidate)).collect();
        for other in &scores[1..] {
            assert!(scores[0] > other + margin, "{question:?}: scores {scores:?}, the first should lead");
        }
    }
}

#[test]
fn the_chocolate_question_is_closer_to_pastry_than_to_code_or_networks() {
    let Some(embedder) = common::embedder() else { return };
    let vectors = embed_all(embedder, &["How do I temper chocolate for bonbons?", PASTRY, PYTHON, NETWORK]);
    let pastry = cosine(&vectors[0], &vectors[1]);
    assert!(pastry > 0.4, "question–pastry cosine {pastry}");
    for other in &vectors[2..] {
        let score = cosine(&vectors[0], other);
        assert!(score < 0.2, "unrelated description scored {score}");
    }
}

/// Routing by meaning alone over the real catalog (`models/catalog.json`,
/// every specialist as "name: description"): the specialist that should
/// answer is among the three nearest. (Jargon that never names its field
/// can miss: "The borrow checker rejects a mutable reference inside my
/// loop." puts software.rust 14th, behind code review, at cosine 0.15 —
/// why the router keeps its keyword scores beside the embeddings.)
#[test]
fn questions_find_their_specialist_in_the_catalog() {
    let Some(embedder) = common::embedder() else { return };
    let path = common::model_dir().join("../catalog.json");
    let catalog: Value = serde_json::from_slice(&std::fs::read(&path).expect("catalog.json")).expect("JSON");
    let specialists = catalog["specialists"].as_array().expect("specialists");
    let ids: Vec<&str> = specialists.iter().map(|s| s["id"].as_str().expect("id")).collect();
    let texts: Vec<String> = specialists
        .iter()
        .map(|s| format!("{}: {}", s["name"].as_str().expect("name"), s["description"].as_str().expect("description")))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let catalog_vectors = embed_all(embedder, &refs);
    let cases = [
        ("Can my landlord keep the whole deposit for a small stain on the carpet?", "legal-research.tenancy"),
        ("How do I fix a lifetime error in my Rust function?", "software.rust"),
        ("How many grams of protein should I eat a day?", "medical-info.nutrition"),
        ("Draft a short toast for my sister's wedding.", "writing.speeches"),
        ("What monthly payment would a 200,000 euro mortgage over 25 years at 4% mean?", "finance.loans"),
        ("Plan a five-day itinerary through Portugal on a small budget.", "lifestyle.travel"),
        ("How do I write a window function that ranks customers by revenue per month?", "data-science.sql-analytics"),
        ("My headline for the landing page is weak, make it punchier.", "marketing.copywriting"),
        ("How can I make our web form usable with a screen reader?", "design.accessibility"),
        ("Turn these rough notes from today's call into minutes with action items.", "productivity.meeting-notes"),
    ];
    for (question, expected) in cases {
        let question_vector = embedder.embed_one(question).expect("embeds");
        let mut ranked: Vec<(f32, &str)> =
            catalog_vectors.iter().zip(&ids).map(|(v, id)| (cosine(&question_vector, v), *id)).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top: Vec<&str> = ranked.iter().take(3).map(|(_, id)| *id).collect();
        assert!(top.contains(&expected), "{question:?}: expected {expected} among the nearest, got {:?}", &ranked[..5]);
    }
}
