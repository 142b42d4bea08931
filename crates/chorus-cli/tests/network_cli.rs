//! The `chorus` binary on the network, as separate processes on loopback:
//! `chorus serve` peers found through the Kademlia DHT, a composite query
//! served by several of them, a peer killed mid-sub-task, a requester killed
//! mid-query, a serving process under malformed, oversized and slow
//! requests, no prompt in clear on the wire (tcpdump), no socket at all
//! in on-device-only mode (strace), and a js-libp2p node written from
//! docs/PROTOCOL.md served by a `chorus serve`. All on the real embedded
//! model.
//!
//! Every port is chosen by the system (`/tcp/0`) and read back from the
//! `listening` event; every wait is bounded; every child process is killed
//! when its guard drops, so none outlives a failed assertion. The tests of
//! this file take a lock so that only one of them runs at a time (each
//! already runs two to four model processes on two cores).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Proc, QUERY, Server, ask_network_args, base_args, chorus_bin, command, done_event, serial, subtasks};

const COMPOSITE: &str = "Write a short marketing plan for a new budgeting app, with the pricing maths for three tiers and a Spanish tagline.";
/// A simple question (software.python) whose answer runs to the
/// specialist's token cap, so that it is still running when a process is
/// killed.
const LONG_PYTHON: &str =
    "How do I reverse a list in Python? Explain three ways in detail, each with a full example program.";

/// Kademlia discovery and a composite query spread over two peers: the
/// requester knows A only; B, found through the DHT, serves its part.
#[test]
fn a_composite_query_is_served_by_peers_found_through_the_dht() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut a = Server::start("serve-a", dir.path(), "marketing.strategy,general.assistant", &[]);
    let mut b = Server::start("serve-b", dir.path(), "finance.pricing,marketing.copywriting", &[&a.address]);
    b.wait_announced();
    a.wait_announced();
    eprintln!("[two peers up and announced in {:.1} s]", started.elapsed().as_secs_f64());

    let args = ask_network_args(&dir.path().join("requester"), &[&a.address], COMPOSITE);
    let mut requester = Proc::spawn("requester", command(chorus_bin(), &args), dir.path());
    let (status, events) = requester.finish(QUERY);
    eprintln!("[composite query answered in {:.1} s]", started.elapsed().as_secs_f64());
    assert!(status.success(), "ask failed: {status}\n{}", requester.context());
    assert_eq!(events[0]["event"], "query");
    assert!(events.iter().any(|event| event["event"] == "analysis" && event["kind"] == "composite"));
    let done = done_event(&events, &requester);
    let subtasks = subtasks(&done);
    assert!(subtasks.len() >= 2, "{done}");
    // A composite question's time: analysis, plan, parts, synthesis, each
    // within the total; the slowest part is one of the parts.
    let timings = &done["timings"];
    let ms = |field: &str| timings[field].as_u64().unwrap_or_else(|| panic!("{field} in {timings}"));
    assert!(ms("analyse_ms") + ms("plan_ms") <= ms("first_part_started_ms"), "{timings}");
    assert!(ms("first_part_started_ms") + ms("slowest_part_ms") + ms("synthesis_ms") <= ms("total_ms"), "{timings}");
    assert!(subtasks.iter().any(|subtask| subtask["ms"] == timings["slowest_part_ms"]), "{timings}");
    for subtask in subtasks {
        assert_eq!(subtask["status"], "done", "every sub-task is done: {subtask}\n{}", requester.context());
        assert!(subtask["tokens"].as_u64().expect("tokens") > 0, "{subtask}");
        assert!(!subtask["text"].as_str().expect("text").trim().is_empty(), "{subtask}");
    }
    let executors: BTreeSet<&str> =
        subtasks.iter().map(|subtask| subtask["executor"].as_str().expect("executor")).collect();
    let peers = BTreeSet::from([a.peer_id.as_str(), b.peer_id.as_str()]);
    assert!(executors.len() >= 2, "at least two different peers served: {executors:?}");
    assert!(executors.is_subset(&peers), "every executor is A ({}) or B ({}): {executors:?}", a.peer_id, b.peer_id);
    assert!(executors.contains(b.peer_id.as_str()), "B, known only through the DHT, served a sub-task");
    // What B serves went to B, what only A serves went to A.
    for subtask in subtasks {
        let on = subtask["executor"].as_str().expect("executor");
        match subtask["specialist"].as_str().expect("specialist") {
            "finance.pricing" | "marketing.copywriting" => assert_eq!(on, b.peer_id, "{subtask}"),
            "marketing.strategy" | "general.assistant" => assert_eq!(on, a.peer_id, "{subtask}"),
            other => panic!("a sub-task for {other}, which nobody serves: {subtask}"),
        }
    }
    let answer = done["answer"].as_str().expect("answer");
    assert!(!answer.trim().is_empty());
    assert!(a.proc.running() && b.proc.running(), "both peers still serve");
}

/// The peer running a sub-task is SIGKILLed mid-generation: the
/// sub-task fails over to the other peer and completes there.
#[test]
fn a_sub_task_whose_peer_is_killed_completes_on_another_peer() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let specialists = "software.python,general.assistant";
    let mut p = Server::start("serve-p", dir.path(), specialists, &[]);
    let mut q = Server::start("serve-q", dir.path(), specialists, &[&p.address]);
    q.wait_announced();
    p.wait_announced();

    let args = ask_network_args(&dir.path().join("requester"), &[&p.address, &q.address], LONG_PYTHON);
    let mut requester = Proc::spawn("requester", command(chorus_bin(), &args), dir.path());
    let first = requester
        .wait_for("the sub-task's start", QUERY, |event| event["event"] == "subtask_started" && event["index"] == 0);
    assert_eq!(first["specialist"], "software.python");
    assert_eq!(first["attempt"], 1);
    let victim_id = first["executor"].as_str().expect("executor").to_owned();
    let (victim, survivor) = if victim_id == p.peer_id {
        (&mut p, &mut q)
    } else {
        assert_eq!(victim_id, q.peer_id, "the sub-task runs on one of the two peers");
        (&mut q, &mut p)
    };
    // Mid-generation: the first token has arrived (a simple query streams
    // its answer directly as `token` events).
    requester.wait_for("the first token", QUERY, |event| {
        event["event"] == "token" || (event["event"] == "subtask_token" && event["index"] == 0)
    });
    victim.proc.kill();
    let killed_at = Instant::now();
    eprintln!("[killed {} ({victim_id}) {:.1} s in]", victim.proc.name, started.elapsed().as_secs_f64());

    let (status, events) = requester.finish(QUERY);
    assert!(status.success(), "ask failed: {status}\n{}", requester.context());
    eprintln!(
        "[answered {:.1} s after the kill, {:.1} s in all]",
        killed_at.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let failed = events
        .iter()
        .find(|event| event["event"] == "subtask_failed" && event["index"] == 0)
        .unwrap_or_else(|| panic!("no subtask_failed\n{}", requester.context()));
    assert_eq!(failed["executor"], victim_id.as_str(), "{failed}");
    assert_eq!(failed["will_retry"], true, "{failed}");
    let retry = events
        .iter()
        .find(|event| {
            event["event"] == "subtask_started" && event["index"] == 0 && event["attempt"].as_u64() >= Some(2)
        })
        .unwrap_or_else(|| panic!("no second attempt\n{}", requester.context()));
    assert_eq!(retry["executor"], survivor.peer_id.as_str(), "{retry}");
    let done = done_event(&events, &requester);
    let subtask = &subtasks(&done)[0];
    assert_eq!(subtask["status"], "done", "{subtask}\n{}", requester.context());
    assert_eq!(subtask["executor"], survivor.peer_id.as_str(), "{subtask}");
    assert!(subtask["attempts"].as_u64().expect("attempts") >= 2, "{subtask}");
    assert!(subtask["tokens"].as_u64().expect("tokens") > 0, "{subtask}");
    assert!(!done["answer"].as_str().expect("answer").trim().is_empty());
    // The killed attempt had streamed part of the answer: an `answer_reset`
    // voids it, and the tokens after the last reset are exactly the answer.
    let reset =
        events.iter().rposition(|event| event["event"] == "answer_reset").expect("an answer_reset after the kill");
    let streamed: String = events[reset..]
        .iter()
        .filter(|event| event["event"] == "token")
        .map(|event| event["text"].as_str().expect("token text"))
        .collect();
    assert_eq!(streamed, done["answer"].as_str().expect("answer"));
    assert!(survivor.proc.running(), "the other peer still serves");
}

/// The requester is SIGKILLed mid-query: the next `chorus` run on the
/// same data directory reports that query as interrupted.
#[test]
fn a_requester_killed_mid_query_finds_it_interrupted_on_restart() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let p = Server::start("serve-p", dir.path(), "software.python,general.assistant", &[]);
    let data = dir.path().join("requester");
    let args = ask_network_args(&data, &[&p.address], LONG_PYTHON);
    let mut requester = Proc::spawn("requester", command(chorus_bin(), &args), dir.path());
    let query = requester.wait_for("the query event", QUERY, |event| event["event"] == "query");
    let query_id = query["query_id"].as_str().expect("query_id").to_owned();
    let started = requester.wait_for("the sub-task's start", QUERY, |event| event["event"] == "subtask_started");
    assert_eq!(started["executor"], p.peer_id.as_str(), "it runs on the peer");
    requester.wait_for("the first token", QUERY, |event| event["event"] == "token");
    requester.kill();

    let mut args = base_args(&data);
    args.extend(["history", "--json"].map(str::to_owned));
    let (status, output, stderr) = run_to_end("history", &args, dir.path());
    assert!(status.success(), "history failed: {stderr}");
    let listed = output.first().expect("history prints one JSON list");
    let entry = listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|entry| entry["id"].as_u64().map(|id| format!("q{id}")) == Some(query_id.clone()))
        .unwrap_or_else(|| panic!("{query_id} is not in the history: {listed}"));
    assert_eq!(entry["status"], "interrupted", "{entry}");
    assert_eq!(entry["text"], LONG_PYTHON);
    assert!(entry["ended_at_ms"].as_u64().is_some(), "{entry}");
    assert!(stderr.contains(&format!("query {query_id} did not finish")), "the restart says so: {stderr}");

    // It stays interrupted (and is not reported again) on the next run.
    let (status, output, stderr) = run_to_end("history-again", &args, dir.path());
    assert!(status.success(), "history failed: {stderr}");
    assert_eq!(output[0][0]["status"], "interrupted", "{output:?}");
    assert!(!stderr.contains("did not finish"), "{stderr}");
}

/// Runs `chorus ARGS` to its end (bounded): exit status, the JSON lines it
/// printed, its stderr.
fn run_to_end(name: &str, args: &[String], dir: &Path) -> (ExitStatus, Vec<Value>, String) {
    let mut proc = Proc::spawn(name, command(chorus_bin(), args), dir);
    let (status, output) = proc.finish(Duration::from_secs(60));
    (status, output, proc.stderr())
}

// A folder, so Cargo does not take it for a test target of its own.
#[path = "network_cli/protocol.rs"]
mod protocol;

#[path = "network_cli/interop.rs"]
mod interop;

/// A remote sub-task on the wire: tcpdump on loopback sees the session
/// (its cleartext `/noise` negotiation and many bytes) but not the prompt,
/// the specialist, the task protocol nor the answer.
#[test]
fn a_packet_capture_of_a_remote_sub_task_holds_no_prompt_in_clear() {
    const WORD: &str = "zebracornflakes";
    let question =
        format!("How do I reverse a Python list called {WORD}? Show two ways, each with a full example program.");
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let tcpdump = ["/usr/sbin/tcpdump", "/usr/bin/tcpdump", "/sbin/tcpdump"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("tcpdump is not installed: run scripts/setup.sh (apt package tcpdump)");
    let server = Server::start("serve", dir.path(), "software.python,general.assistant", &[]);

    let capture = dir.path().join("capture.pcap");
    let args: Vec<String> =
        ["-i", "lo", "-U", "-n", "-w", &capture.display().to_string(), "tcp", "port", &server.port.to_string()]
            .map(str::to_owned)
            .to_vec();
    let mut dump = Proc::spawn("tcpdump", command(tcpdump, &args), dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !dump.stderr().contains("listening on") {
        assert!(dump.running(), "tcpdump stopped: {}", dump.stderr());
        assert!(Instant::now() < deadline, "tcpdump did not start capturing: {}", dump.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }

    let args = ask_network_args(&dir.path().join("requester"), &[&server.address], &question);
    let mut requester = Proc::spawn("requester", command(chorus_bin(), &args), dir.path());
    let (status, events) = requester.finish(QUERY);
    assert!(status.success(), "ask failed: {status}\n{}", requester.context());
    let done = done_event(&events, &requester);
    let subtask = &subtasks(&done)[0];
    assert_eq!(subtask["status"], "done", "{subtask}");
    assert_eq!(subtask["executor"], server.peer_id.as_str(), "the sub-task ran on the peer: {subtask}");
    assert_eq!(subtask["specialist"], "software.python");
    let result = subtask["text"].as_str().expect("text").to_owned();
    let tokens = subtask["tokens"].as_u64().expect("tokens");
    assert!(tokens >= 16, "a sub-task long enough to see: {subtask}");

    // Stop the capture cleanly (SIGINT flushes the file).
    let stopped = Command::new("kill").args(["-INT", &dump.id().to_string()]).status().expect("kill runs");
    assert!(stopped.success());
    let (status, _) = dump.finish(Duration::from_secs(20));
    assert!(status.success(), "tcpdump: {status} {}", dump.stderr());
    let bytes = std::fs::read(&capture).expect("the capture file");
    eprintln!("[capture: {} bytes for {tokens} tokens; {}]", bytes.len(), dump.stderr().trim().replace('\n', "; "));

    // It saw the session: the cleartext protocol negotiation before Noise,
    // and far more than an empty capture (24 bytes) — every streamed token
    // is at least one packet.
    assert!(contains(&bytes, b"/noise"), "the capture holds the connection's handshake");
    let floor = 4096 + 40 * usize::try_from(tokens).unwrap();
    assert!(bytes.len() > floor, "only {} bytes captured (expected more than {floor})", bytes.len());

    // None of the sub-task is in clear.
    let mut secrets: Vec<String> = vec![
        WORD.to_owned(),
        question.clone(),
        "reverse a Python list".to_owned(),
        "software.python".to_owned(),
        "/chorus/task/1".to_owned(),
        "\"frame\"".to_owned(),
    ];
    // The answer streamed back: every longer word of it (a random run of
    // ciphertext is never eight letters long).
    let words: BTreeSet<&str> =
        result.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').filter(|word| word.len() >= 8).collect();
    assert!(!words.is_empty(), "the answer has words to look for: {result:?}");
    secrets.extend(words.into_iter().map(str::to_owned));
    for secret in &secrets {
        assert!(!contains(&bytes, secret.as_bytes()), "{secret:?} appears in clear on the wire");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

/// The socket-related calls strace recorded, one per line.
fn traced_calls(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("the strace output")
        .lines()
        .filter(|line| ["socket(", "bind(", "connect(", "listen("].iter().any(|call| line.contains(call)))
        .map(str::to_owned)
        .collect()
}

/// On-device only: the whole `chorus ask` (model, conductor, journal)
/// makes no socket call at all; the same command with `--network` does
/// open AF_INET sockets (so the check can fail).
#[test]
fn on_device_only_opens_no_socket_at_all() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let strace = ["/usr/bin/strace", "/bin/strace"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("strace is not installed: run scripts/setup.sh (apt package strace)");
    // A short answer: the point is the trace, not the text.
    let question = "What is the capital of France? Answer in one sentence.";

    let trace = |name: &str, extra: &[&str]| -> (Vec<Value>, Vec<String>, Proc) {
        let out = dir.path().join(format!("{name}.strace"));
        let mut args: Vec<String> =
            ["-f", "-qq", "--seccomp-bpf", "-e", "trace=socket,bind,connect,listen", "-o"].map(str::to_owned).to_vec();
        args.push(out.display().to_string());
        args.push(chorus_bin().to_owned());
        args.extend(base_args(&dir.path().join(name)));
        args.extend(["ask", "--json"].map(str::to_owned));
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args.push(question.to_owned());
        let mut proc = Proc::spawn(name, command(strace, &args), dir.path());
        let (status, events) = proc.finish(QUERY);
        assert!(status.success(), "{name}: {status}\n{}", proc.context());
        let calls = traced_calls(&out);
        (events, calls, proc)
    };

    let (events, calls, proc) = trace("on-device", &[]);
    let done = done_event(&events, &proc);
    assert_eq!(subtasks(&done)[0]["executor"], "local");
    assert_eq!(subtasks(&done)[0]["status"], "done");
    let inet: Vec<&String> = calls.iter().filter(|line| line.contains("AF_INET")).collect();
    assert!(inet.is_empty(), "on-device only opened network sockets:\n{inet:#?}");
    assert!(calls.is_empty(), "on-device only made socket calls (of any family):\n{calls:#?}");

    // The control: with --network the same trace shows AF_INET sockets.
    let (events, calls, proc) = trace("network", &["--network", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    let done = done_event(&events, &proc);
    assert_eq!(subtasks(&done)[0]["status"], "done");
    assert!(
        calls.iter().any(|line| line.contains("socket(AF_INET")),
        "the network mode's trace shows no AF_INET socket, so the check above proves nothing:\n{calls:#?}"
    );
    assert!(calls.iter().any(|line| line.contains("listen(")), "{calls:#?}");
}
