//! Semantic routing on the real all-MiniLM-L6-v2 model: a node finds the
//! model, computes (or reads its cached) specialist vectors, and routes
//! questions no keyword names to the specialist they are about; without the
//! model the same node routes by keywords and gets them wrong.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use chorus_core::{AllSpecialists, QueryKind};
use chorus_node::{EMBEDDER_DIR, Node, NodeConfig};

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn node(data: &tempfile::TempDir, embedder: PathBuf) -> Node {
    Node::start(NodeConfig {
        model: Some(models().join("SmolLM2-135M-Instruct.Q4_1.gguf")),
        threads: Some(1),
        data_dir: Some(data.path().to_path_buf()),
        embedder: Some(embedder),
        ..NodeConfig::default()
    })
    .expect("node starts")
}

/// Questions of the evaluation set (crates/chorus-bench/data/eval) that
/// keywords alone route wrong, and the specialists that fit them.
const PARAPHRASES: &[(&str, &[&str])] = &[
    (
        "My little cream puffs come out of the oven golden and puffed and then sink into sad pancakes a minute later. Why?",
        &["food.pastry"],
    ),
    (
        "The huge animals that pass our coast every spring on their way north — how do they find their way thousands of miles through open water?",
        &["science.marine-biology"],
    ),
    (
        "When I snap the sunset the ground comes out pitch black and the sky looks washed out. What am I doing wrong?",
        &["arts.photography"],
    ),
    (
        "How do I make our checkout page work properly with a screen reader?",
        &["design.accessibility", "software.frontend"],
    ),
];

fn routed(node: &Node, question: &str) -> (String, String) {
    let conductor = node.conductor();
    let analysis = conductor.router().analyse(question, &AllSpecialists);
    match analysis.kind {
        QueryKind::Simple { specialist_id } => (specialist_id, analysis.reason),
        // A statement and a question ("… golden and then sink. Why?") may
        // be cut in two: the first request's specialist is its choice.
        QueryKind::Composite { specialist_ids } => {
            let first = analysis.clauses.iter().filter(|clause| !clause.context).find_map(|clause| clause.best.clone());
            (first.map_or_else(|| specialist_ids[0].clone(), |best| best.specialist_id), analysis.reason)
        }
    }
}

#[test]
fn questions_that_name_no_keyword_go_to_the_specialist_they_are_about() {
    let embedder = models().join(EMBEDDER_DIR);
    if !embedder.join("model.safetensors").exists() && std::env::var_os("CHORUS_REQUIRE_EMBEDDER").is_none() {
        eprintln!("SKIPPED: {} is missing (run scripts/setup.sh)", embedder.display());
        return;
    }
    let data = tempfile::tempdir().expect("temp dir");
    let semantic = node(&data, embedder);
    // The first run computes the catalog's vectors (tens of seconds on one
    // core); later runs read them from the cache.
    assert!(semantic.wait_for_semantic_routing(Duration::from_secs(300)), "semantic routing never became ready");
    let other = tempfile::tempdir().expect("temp dir");
    let keywords = node(&other, other.path().join("no-such-model"));
    assert!(!keywords.wait_for_semantic_routing(Duration::from_millis(200)), "a missing model cannot be ready");
    for (question, fits) in PARAPHRASES {
        let (chosen, reason) = routed(&semantic, question);
        assert!(fits.contains(&chosen.as_str()), "{question} → {chosen}: {reason}");
        assert!(reason.contains("semantic 0."), "the reason names the similarity: {reason}");
        let (by_keywords, _) = routed(&keywords, question);
        assert!(!fits.contains(&by_keywords.as_str()), "{question}: keywords alone found it, so this proves nothing");
    }
    // A question in another language goes to the specialist who answers in it.
    let (chosen, reason) = routed(&semantic, "¿Cómo puedo leer un archivo CSV en Python sin usar pandas?");
    assert_eq!(chosen, "general.multilingual", "{reason}");
}
