//! Privacy across processes, on the real embedded model over loopback: a
//! `chorus serve` peer logs every task it receives (its own debug log,
//! `chorus::served`: the record comes from the receiving side), and a
//! requester with no local specialists asks questions with planted personal
//! data of every kind. None of the planted values reaches the peer; the
//! answer has the real values where the peer wrote placeholders; the health
//! part of a question stays on the requester's device although the peer
//! offers its specialist.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::{Proc, QUERY, Server, ask_network_args, chorus_bin, command, done_event, serial, subtasks};

/// The names the owner listed in Settings (here: `--private-names`).
const LISTED: &str = "Priya Raman";

/// (kind, value) of everything planted, as typed in the questions.
const PLANTED: &[(&str, &str)] = &[
    ("name", "Priya Raman"),
    ("email", "priya.raman@example.com"),
    ("phone", "+44 7911 123456"),
    ("card", "4111 1111 1111 1111"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    ("ip_address", "203.0.113.24"),
    ("ssn", "536-22-1234"),
    ("uk_nino", "AB 12 34 56 C"),
    ("aadhaar", "4973 1826 4053"),
    ("pan", "ABCPE1234F"),
    ("secret", "ghp_4Qw8Zr2Lk9Tn7Vb3Xc6Md1Fs5Hj0Gp8Ya2Ue"),
    ("birth_date", "14 March 1988"),
    ("address", "42 Elm Street, Springfield"),
    ("name", "Arjun"),
];

/// A simple question (software.python) carrying most of the planted values.
const SIMPLE: &str = "I'm Priya Raman (priya.raman@example.com, +44 7911 123456, card 4111 1111 1111 1111, \
IBAN DE89 3704 0044 0532 0130 00). I was born on 14 March 1988 and I live at 42 Elm Street, Springfield. \
My SSN is 536-22-1234, my NI number AB 12 34 56 C, Aadhaar 4973 1826 4053, PAN ABCPE1234F; my server is \
203.0.113.24 and my token is ghp_4Qw8Zr2Lk9Tn7Vb3Xc6Md1Fs5Hj0Gp8Ya2Ue. Greet me by my name and e-mail, then \
write a Python function that validates an IBAN checksum.";

/// A short simple question whose answer repeats the name: the peer writes
/// the placeholder back, and the person must read the name.
const GREETING: &str = "Write a one-sentence birthday greeting for my friend Priya Raman.";

/// A composite question: its parts go to the peer, each redacted.
const COMPOSITE: &str = "My name is Priya Raman and my son Arjun helps me; e-mail priya.raman@example.com. Write a \
short marketing plan for my new budgeting app, with the pricing maths for three tiers and a Spanish tagline.";

/// A simple question (one specialist) that asks two things: a peer runs
/// each request on its own, never both.
const SPLIT: &str = "Write a Python function that reverses a string for my colleague Priya Raman; then explain \
how slicing works in Python.";

/// A composite question with a health part.
const HEALTH: &str = "Explain the common symptoms of iron deficiency anaemia, and write a Python function that \
computes the body mass index.";

/// Digits and letters only, lowercase: "+44 7911 123456" and "447911123456" are one value.
fn squeezed(text: &str) -> String {
    text.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// What the peer's log says it received, and what it answered.
struct PeerLog {
    received: Vec<String>,
    answered: Vec<String>,
}

/// `text` without ANSI colour sequences (`ESC [ … m`), as the log writes them.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn peer_log(server: &Server) -> PeerLog {
    let stderr = plain(&server.proc.stderr());
    let field = |line: &str, name: &str| line.split_once(name).map(|(_, rest)| rest.to_owned());
    let mut log = PeerLog { received: Vec::new(), answered: Vec::new() };
    for line in stderr.lines() {
        if line.contains("task received") {
            log.received.extend(field(line, "texts="));
        } else if line.contains("task answered") {
            log.answered.extend(field(line, "text="));
        }
    }
    log
}

fn ask(dir: &std::path::Path, name: &str, bootstrap: &str, question: &str) -> (Proc, Vec<Value>) {
    let mut args = ask_network_args(&dir.join(name), &[bootstrap], question);
    let question = args.pop().expect("the question");
    args.extend(["--private-names".to_owned(), LISTED.to_owned(), "--private-names".to_owned(), "Arjun".to_owned()]);
    args.push(question);
    let mut proc = Proc::spawn(name, command(chorus_bin(), &args), dir);
    let (status, events) = proc.finish(QUERY);
    assert!(status.success(), "ask failed: {status}\n{}", proc.context());
    (proc, events)
}

fn started(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|event| event["event"] == "subtask_started").collect()
}

#[test]
fn planted_personal_data_never_reaches_the_peer_and_the_answer_has_the_real_values() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start_logged(
        "serve",
        dir.path(),
        "software.python,general.assistant,marketing.strategy,finance.pricing,\
marketing.copywriting,medical-info.general-health",
        &[],
        Some("warn,chorus::served=debug"),
    );
    let address = server.address.clone();

    // 1. A simple question and a composite one, both carrying personal data.
    let mut answers = Vec::new();
    for (name, question) in [("simple", SIMPLE), ("greeting", GREETING), ("composite", COMPOSITE), ("split", SPLIT)] {
        let (proc, events) = ask(dir.path(), name, &address, question);
        let starts = started(&events);
        assert!(!starts.is_empty(), "{}", proc.context());
        let mut redacted = 0;
        for start in &starts {
            assert_eq!(start["left_device"], true, "the requester holds no specialist: {start}");
            assert_eq!(start["executor"], server.peer_id.as_str(), "{start}");
            let sent = start["sent"]["prompt"].as_str().expect("the event shows what was sent");
            assert!(!sent.contains("priya.raman@example.com"), "{sent}");
            redacted += start["redacted"].as_u64().expect("redacted");
        }
        // The simple question goes out whole, so every planted value in it
        // is replaced (13 values); the composite's parts are its clauses,
        // which may carry none of its personal data at all.
        if name == "simple" {
            assert!(redacted >= 13, "{name}: {redacted} items redacted\n{}", proc.context());
        }
        // The two requests go out one by one, never together.
        if name == "split" {
            let plan = events.iter().find(|event| event["event"] == "plan").expect("a plan");
            assert_eq!(plan["source"], "split", "{plan}");
            assert_eq!(starts.len(), 2, "{}", proc.context());
            for start in &starts {
                let sent = start["sent"]["prompt"].as_str().expect("sent");
                assert!(!(sent.contains("reverses") && sent.contains("slicing")), "a peer got both parts: {sent}");
            }
        }
        let done = done_event(&events, &proc);
        assert!(subtasks(&done).iter().all(|subtask| subtask["status"] == "done"), "{done}");
        answers.push(done["answer"].as_str().expect("answer").to_owned());
    }

    // 2. The peer's own record: none of the planted values, in any spacing.
    let log = peer_log(&server);
    assert!(log.received.len() >= 6, "the peer logged every task: {:?}\n{}", log.received, server.proc.stderr());
    for text in &log.received {
        assert!(!(text.contains("reverses") && text.contains("slicing")), "the peer received both parts: {text}");
    }
    let received = log.received.join("\n");
    let received_squeezed = squeezed(&received);
    for (kind, value) in PLANTED {
        assert!(!received.contains(value), "the peer received the {kind} {value:?}:\n{received}");
        if squeezed(value).len() >= 8 {
            assert!(!received_squeezed.contains(&squeezed(value)), "the peer received the {kind} {value:?} re-spaced");
        }
    }
    assert!(received.contains("[EMAIL_1]") && received.contains("[NAME_1]"), "{received}");

    // 3. Where the peer wrote a placeholder, the person reads the value.
    let answered = log.answered.join("\n");
    let written: Vec<&str> = ["[EMAIL_1]", "[NAME_1]", "[IBAN_1]"]
        .into_iter()
        .filter(|placeholder| answered.contains(placeholder))
        .collect();
    assert!(!written.is_empty(), "the peer wrote no placeholder back, so restoration went untested:\n{answered}");
    let all_answers = answers.join("\n");
    for placeholder in &written {
        assert!(!all_answers.contains(placeholder), "{placeholder} reached the person:\n{all_answers}");
    }
    if written.contains(&"[EMAIL_1]") {
        assert!(all_answers.contains("priya.raman@example.com"), "{all_answers}");
    }
    if written.contains(&"[NAME_1]") {
        assert!(all_answers.contains("Priya"), "{all_answers}");
    }

    // 4. The health part stays on this device; the Python part goes out.
    let (proc, events) = ask(dir.path(), "health", &address, HEALTH);
    let done = done_event(&events, &proc);
    let mut health_seen = false;
    for subtask in subtasks(&done) {
        let specialist = subtask["specialist"].as_str().expect("specialist");
        if specialist.starts_with("medical-info.") {
            health_seen = true;
            assert_eq!(subtask["executor"], "local", "the health part left the device: {subtask}");
            assert_eq!(subtask["status"], "done", "{subtask}");
        }
    }
    assert!(health_seen, "no health part in the plan:\n{}", proc.context());
    assert!(
        started(&events)
            .iter()
            .any(|start| start["kept_on_device"].as_str().is_some_and(|why| why.contains("sensitive"))),
        "{}",
        proc.context()
    );
    let received = peer_log(&server).received.join("\n");
    assert!(!received.contains("anaemia"), "the peer received the health part:\n{received}");
    assert!(server.proc.running(), "the peer still serves");
}

/// The requester ids the peer logged, task by task.
fn requesters(server: &Server) -> Vec<String> {
    plain(&server.proc.stderr())
        .lines()
        .filter(|line| line.contains("task received"))
        .filter_map(|line| {
            line.split_once("requester=").map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_owned())
        })
        .collect()
}

/// A peer cannot tie a device's questions to the identity the device
/// serves under, nor questions asked in different periods to each other:
/// what the peer's own log says about who asked.
#[test]
fn a_peer_sees_a_separate_asking_identity_replaced_when_its_period_is_over() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server =
        Server::start_logged("serve", dir.path(), "general.assistant", &[], Some("warn,chorus::served=debug"));
    let data = dir.path().join("asker");
    let ask_as = |name: &str, identity: &str| {
        let mut args = ask_network_args(&data, &[&server.address], "Say hello in one short sentence.");
        let question = args.pop().expect("the question");
        args.extend(["--requester-identity".to_owned(), identity.to_owned(), question]);
        let mut proc = Proc::spawn(name, command(chorus_bin(), &args), dir.path());
        let (status, events) = proc.finish(QUERY);
        assert!(status.success(), "ask failed: {status}\n{}", proc.context());
        assert!(
            started(&events).iter().all(|start| start["executor"] == server.peer_id.as_str()),
            "{}",
            proc.context()
        );
    };
    let device = chorus_net::load_or_create_identity(&data).expect("the device key").public().to_peer_id().to_string();

    // 1. Within the day: a separate identity, not the device's.
    ask_as("first", "day");
    // 2. The day is over (the key's age is its file's time): a new one.
    let key = data.join(chorus_net::REQUESTER_KEY_FILE);
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options().write(true).open(&key).expect("the requester key").set_modified(two_days_ago).unwrap();
    ask_as("second", "day");
    // 3. The device's own identity, when the owner chooses it.
    ask_as("third", "device");

    let seen = requesters(&server);
    assert_eq!(seen.len(), 3, "one task per question: {seen:?}\n{}", server.proc.stderr());
    assert_ne!(seen[0], device, "the first question came under the device identity");
    assert_ne!(seen[1], device, "the second question came under the device identity");
    assert_ne!(seen[0], seen[1], "the identity was not replaced when its day was over");
    assert_eq!(seen[2], device, "`--requester-identity device` asks as the device");
    assert!(server.proc.running(), "the peer still serves");
}
