//! The `chorus` binary end to end on the real embedded model: the public
//! `--json` formats of `ask` and `route`, `history`, and bad input.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn model() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/setup.sh first");
    path
}

fn chorus(data: &tempfile::TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .arg("--model")
        .arg(model())
        .args(["--threads", "1"])
        .env("CHORUS_DATA_DIR", data.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("chorus runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

#[test]
fn ask_json_streams_events_and_ends_with_done() {
    let data = tempfile::tempdir().expect("temp dir");
    let output = chorus(&data, &["ask", "--json", "How do I reverse a list in Python?"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let events = json_lines(&output);
    assert_eq!(events[0]["event"], "query");
    let query_id = events[0]["query_id"].as_str().expect("id").to_owned();
    assert_eq!(events[1]["event"], "analysis");
    assert_eq!(events[1]["kind"], "simple");
    assert!(events.iter().any(|event| event["event"] == "subtask_started" && event["executor"] == "local"));
    let tokens: String = events
        .iter()
        .filter(|event| event["event"] == "token")
        .map(|event| event["text"].as_str().expect("text"))
        .collect();
    let done = events.last().expect("events");
    assert_eq!(done["event"], "done");
    assert_eq!(done["answer"].as_str(), Some(tokens.as_str()));
    let subtask = &done["subtasks"][0];
    assert_eq!(subtask["specialist"], "software.python");
    assert_eq!(subtask["executor"], "local");
    assert_eq!(subtask["status"], "done");
    assert!(subtask["tokens"].as_u64().expect("tokens") > 0);
    assert!(subtask["ms"].as_u64().is_some());
    // Where the time went: a simple question has no plan and no synthesis;
    // its one part is the slowest and started after the analysis.
    let timings = &done["timings"];
    assert_eq!(timings["total_ms"], done["ms"], "{timings}");
    assert_eq!(timings["slowest_part_ms"], subtask["ms"], "{timings}");
    let analyse = timings["analyse_ms"].as_u64().expect("analyse_ms");
    let first = timings["first_part_started_ms"].as_u64().expect("first_part_started_ms");
    assert!(analyse <= first && first <= timings["total_ms"].as_u64().expect("total"), "{timings}");
    assert!(timings.get("plan_ms").is_none() && timings.get("synthesis_ms").is_none(), "{timings}");

    // The journal has it.
    let history = chorus(&data, &["history", "--json"]);
    assert!(history.status.success());
    let listed: Value = serde_json::from_slice(&history.stdout).expect("json");
    assert_eq!(listed[0]["status"], "done");
    let shown = chorus(&data, &["history", "show", &query_id, "--json"]);
    let record: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(record["answer"].as_str(), Some(tokens.as_str()));
}

#[test]
fn route_json_plans_a_composite_query_without_running_it() {
    let data = tempfile::tempdir().expect("temp dir");
    let output = chorus(
        &data,
        &[
            "route",
            "--json",
            "Write a marketing plan for a new budgeting app, with pricing maths and a Spanish tagline",
        ],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let route: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(route["kind"], "composite");
    let subtasks = route["plan"]["subtasks"].as_array().expect("plan");
    assert!(subtasks.len() >= 2);
    let distinct: std::collections::BTreeSet<&str> =
        subtasks.iter().map(|step| step["specialist"].as_str().expect("id")).collect();
    assert!(distinct.len() >= 2);
    // Nothing ran: the journal is empty.
    let history = chorus(&data, &["history", "--json"]);
    let listed: Value = serde_json::from_slice(&history.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(0));

    let simple = chorus(&data, &["route", "--json", "What is a good SEO keyword strategy?"]);
    let route: Value = serde_json::from_slice(&simple.stdout).expect("json");
    assert_eq!(route["kind"], "simple");
    assert!(route["plan"].is_null());
}

#[test]
fn an_empty_question_is_a_usage_error() {
    let data = tempfile::tempdir().expect("temp dir");
    let output = chorus(&data, &["ask", "--json", "   "]);
    assert_eq!(output.status.code(), Some(2));
    let events = json_lines(&output);
    assert_eq!(events.last().expect("an event")["code"], "empty_prompt");
    let output = chorus(&data, &["history", "show", "nonsense"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a query id"));
}
