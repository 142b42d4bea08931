//! `chorus history rm` and `--history-days`, the binary end to end on the
//! real embedded model: deleting one question and all of them, the
//! `--json` output, exit codes for unknown ids, and the data folder made
//! private.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn model() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/setup.sh first");
    path
}

fn chorus(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .arg("--model")
        .arg(model())
        .args(["--threads", "1"])
        .env("CHORUS_DATA_DIR", data)
        .env_remove("RUST_LOG")
        .output()
        .expect("chorus runs")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn listed(data: &Path) -> Vec<u64> {
    let output = chorus(data, &["history", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    stdout_json(&output).as_array().unwrap().iter().map(|query| query["id"].as_u64().unwrap()).collect()
}

fn ask(data: &Path, question: &str) {
    let output = chorus(data, &["ask", question]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn history_rm_deletes_one_question_then_all() {
    let data = tempfile::tempdir().expect("temp dir");
    ask(data.path(), "How do I reverse a list in Python?");
    ask(data.path(), "How do I split a bill three ways?");
    ask(data.path(), "What is a budget?");
    assert_eq!(listed(data.path()), [3, 2, 1]);

    let removed = chorus(data.path(), &["history", "rm", "q2", "--json"]);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(stdout_json(&removed), json!({"event": "deleted", "ids": ["q2"]}));
    assert_eq!(listed(data.path()), [3, 1]);
    let shown = chorus(data.path(), &["history", "show", "q2"]);
    assert_eq!(shown.status.code(), Some(2), "a deleted question is gone for good");

    // An unknown id: exit code 2, the reason on stderr, an error event with --json.
    let again = chorus(data.path(), &["history", "rm", "q2", "--json"]);
    assert_eq!(again.status.code(), Some(2));
    let error = stdout_json(&again);
    assert_eq!((error["event"].as_str(), error["code"].as_str()), (Some("error"), Some("unknown_query")));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("no query q2"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let malformed = chorus(data.path(), &["history", "rm", "yesterday"]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&malformed.stderr).contains("not a query id"));
    // An id and --all, or neither: clap's usage errors.
    assert_eq!(chorus(data.path(), &["history", "rm", "q1", "--all"]).status.code(), Some(2));
    assert_eq!(chorus(data.path(), &["history", "rm"]).status.code(), Some(2));
    assert_eq!(listed(data.path()), [3, 1], "nothing was deleted by the mistakes");

    // Plain text; the bare number works as for `history show`.
    let text = chorus(data.path(), &["history", "rm", "3"]);
    assert!(text.status.success());
    assert_eq!(String::from_utf8_lossy(&text.stdout).trim(), "deleted q3");

    let all = chorus(data.path(), &["history", "rm", "--all", "--json"]);
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    assert_eq!(stdout_json(&all), json!({"event": "deleted", "ids": ["q1"]}));
    assert!(listed(data.path()).is_empty());
    let none = chorus(data.path(), &["history", "rm", "--all"]);
    assert_eq!(String::from_utf8_lossy(&none.stdout).trim(), "no past questions to delete");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(data.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the data folder is private");
    }
}

#[test]
fn history_days_takes_a_number_of_days_or_forever() {
    let data = tempfile::tempdir().expect("temp dir");
    ask(data.path(), "What is a budget?");
    // Asked just now: 1 day keeps it, and so does forever.
    for keep in ["1", "forever", "36500"] {
        let output = chorus(data.path(), &["--history-days", keep, "history", "--json"]);
        assert!(output.status.success(), "{keep}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(stdout_json(&output).as_array().unwrap().len(), 1, "{keep}");
    }
    for bad in ["0", "36501", "-1", "never", "1.5"] {
        let output = chorus(data.path(), &["history", &format!("--history-days={bad}")]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("forever"), "{bad}");
    }
    assert_eq!(listed(data.path()).len(), 1);
}

/// The events of `chorus ask --json …`, checked to have succeeded.
fn ask_events(data: &Path, args: &[&str]) -> Vec<Value> {
    let output = chorus(data, &[&["ask", "--json"], args].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn event<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events.iter().find(|event| event["event"] == name).unwrap_or_else(|| panic!("no {name} event in {events:?}"))
}

/// Words of five letters or more, lowercase.
fn long_words(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|word| word.chars().count() >= 5).map(str::to_lowercase).collect()
}

#[test]
fn a_follow_up_continues_the_conversation_on_the_real_model() {
    let data = tempfile::tempdir().expect("temp dir");
    let first = ask_events(data.path(), &["Give me three names for a small bakery."]);
    assert_eq!(event(&first, "query")["conversation"], "q1");
    let first_answer = event(&first, "done")["answer"].as_str().unwrap().to_owned();
    let first_specialists = event(&first, "analysis")["specialists"].clone();

    // `--continue` without an id: the latest conversation, and the words
    // after it are the question.
    let second = ask_events(data.path(), &["--continue", "Make them shorter."]);
    assert_eq!(
        (event(&second, "query")["query_id"].as_str(), event(&second, "query")["conversation"].as_str()),
        (Some("q2"), Some("q1"))
    );
    let context = event(&second, "context");
    assert_eq!(
        (context["follow_up"].as_bool(), context["turns"].as_u64(), context["carried"].as_u64()),
        (Some(true), Some(1), Some(1)),
        "{context}"
    );
    assert_eq!(
        event(&second, "analysis")["specialists"],
        first_specialists,
        "the specialist of the first answer continues"
    );
    let started = event(&second, "subtask_started");
    assert_eq!(started["left_device"], false, "{started}");
    // The answer depends on the conversation: "Make them shorter." alone
    // says nothing about bakeries or the names given.
    let answer = event(&second, "done")["answer"].as_str().unwrap().to_owned();
    let mut known = long_words(&first_answer);
    known.insert("bakery".to_owned());
    known.insert("bakeries".to_owned());
    let shared: Vec<String> = long_words(&answer).intersection(&known).cloned().collect();
    assert!(
        !shared.is_empty(),
        "the follow-up's answer shares nothing with the first turn:\n{first_answer}\n---\n{answer}"
    );

    // The journal holds one conversation of two turns.
    let listed = chorus(data.path(), &["history", "conversations", "--json"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let conversations = stdout_json(&listed);
    assert_eq!(conversations.as_array().unwrap().len(), 1, "{conversations}");
    assert_eq!((conversations[0]["id"].as_u64(), conversations[0]["turns"].as_u64()), (Some(1), Some(2)));
    let turns = stdout_json(&chorus(data.path(), &["history", "conversation", "q2", "--json"]));
    let texts: Vec<&str> = turns.as_array().unwrap().iter().map(|turn| turn["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["Give me three names for a small bakery.", "Make them shorter."]);
    let text = chorus(data.path(), &["history"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("(in q1) Make them shorter."),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // An unknown conversation is a usage error; nothing is asked.
    let unknown = chorus(data.path(), &["ask", "--continue", "q9", "and then?"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", String::from_utf8_lossy(&unknown.stderr));
    assert_eq!(listed_len(data.path()), 2);

    // Deleting the conversation deletes both turns.
    let removed = chorus(data.path(), &["history", "rm", "--conversation", "q2", "--json"]);
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    assert_eq!(stdout_json(&removed), json!({"event": "deleted", "ids": ["q1", "q2"]}));
    assert_eq!(listed_len(data.path()), 0);
}

fn listed_len(data: &Path) -> usize {
    listed(data).len()
}
