//! `chorus api` as a user runs it: the real binary on the real embedded
//! model, spoken to by the official `openai` Python client
//! (tests/api/openai_client.py) and by `curl`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Proc, START, Server, base_args, chorus_bin, command, serial};

/// A specialist whose base model is the embedded one.
const SPECIALIST: &str = "general.assistant";

/// A running `chorus api` and what its `listening` line said.
struct Api {
    proc: Proc,
    url: String,
    key: String,
    key_file: PathBuf,
}

impl Api {
    /// `chorus api --listen 127.0.0.1:0 --json` plus `extra`, ready (its
    /// `/health` says so).
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let mut args = base_args(&dir.join("data"));
        args.extend(["api", "--listen", "127.0.0.1:0", "--json"].map(str::to_owned));
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        let mut proc = Proc::spawn("api", command(chorus_bin(), &args), dir);
        let listening = proc.wait_for("the listening line", START, |event| event["event"] == "listening");
        let mut keys: Vec<&String> = listening.as_object().expect("object").keys().collect();
        keys.sort();
        assert_eq!(keys, ["event", "key_file", "url"], "exactly these fields: {listening}");
        let url = listening["url"].as_str().expect("url").to_owned();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"), "{url}");
        assert!(!url.contains(":0/"), "a port was picked: {url}");
        let key_file = PathBuf::from(listening["key_file"].as_str().expect("key_file"));
        assert_eq!(key_file, dir.join("data/api.key"));
        let key = std::fs::read_to_string(&key_file).expect("key file").trim().to_owned();
        let api = Self { proc, url, key, key_file };
        let deadline = Instant::now() + START;
        loop {
            let (status, body) = api.curl("GET", "/health", None, &[]);
            if status == 200 {
                assert_eq!(body["status"], "ready", "{body}");
                break;
            }
            assert_eq!((status, &body["status"]), (503, &json!("loading")), "{body}");
            assert!(Instant::now() < deadline, "not ready in time\n{}", api.proc.context());
            std::thread::sleep(Duration::from_millis(100));
        }
        api
    }

    /// `http://host:port` without `/v1`.
    fn origin(&self) -> &str {
        self.url.trim_end_matches("/v1")
    }

    /// One request with curl: status and JSON body. `headers` replace the
    /// key's when given.
    fn curl(&self, method: &str, path: &str, body: Option<&Value>, headers: &[&str]) -> (u16, Value) {
        let (status, text) = self.curl_raw(method, path, body.map(Value::to_string).as_deref(), headers);
        let value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text:?}"));
        (status, value)
    }

    fn curl_raw(&self, method: &str, path: &str, body: Option<&str>, headers: &[&str]) -> (u16, String) {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "-N", "--max-time", "300", "-X", method, "-w", "\n%{http_code}"]);
        let auth = format!("Authorization: Bearer {}", self.key);
        let headers: Vec<&str> = if headers.is_empty() { vec![auth.as_str()] } else { headers.to_vec() };
        for header in headers.iter().filter(|header| !header.is_empty()) {
            curl.args(["-H", header]);
        }
        if let Some(body) = body {
            curl.args(["-H", "Content-Type: application/json", "--data-binary", body]);
        }
        curl.arg(format!("{}{path}", self.origin()));
        let output = curl.output().expect("curl runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or_else(|| panic!("no status: {text:?}"));
        (status.trim().parse().unwrap_or_else(|_| panic!("status {status:?}")), body.to_owned())
    }

    /// The status line and headers of a request with curl, lowercased
    /// (`headers` as given, the key not added).
    fn response_headers(&self, method: &str, path: &str, headers: &[&str]) -> String {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--max-time", "60", "-X", method, "-D", "-", "-o", "/dev/null"]);
        for header in headers {
            curl.args(["-H", header]);
        }
        let output = curl.arg(format!("{}{path}", self.origin())).output().expect("curl runs");
        String::from_utf8_lossy(&output.stdout).to_lowercase()
    }

    /// A streamed request with curl: its `data:` payloads, in order.
    fn stream(&self, body: &Value) -> Vec<String> {
        let (status, text) = self.curl_raw("POST", "/v1/chat/completions", Some(&body.to_string()), &[]);
        assert_eq!(status, 200, "{text}");
        let mut payloads = Vec::new();
        for block in text.split("\n\n").filter(|block| !block.trim().is_empty()) {
            let payload = block.strip_prefix("data: ").unwrap_or_else(|| panic!("not an SSE data line: {block:?}"));
            payloads.push(payload.to_owned());
        }
        payloads
    }
}

/// The Python with the `openai` package, if there is one: $CHORUS_API_PYTHON,
/// else the venv scripts/setup.sh makes.
fn python_with_openai() -> Option<PathBuf> {
    let python = std::env::var_os("CHORUS_API_PYTHON").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/chorus/api-venv/bin/python"))
    })?;
    let ok = Command::new(&python)
        .args(["-c", "import openai"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    ok.then_some(python)
}

fn chat(model: &str, extra: Value) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Name one colour."}], "max_tokens": 16, "temperature": 0});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// SIGTERM, then the exit: graceful, status 0.
fn terminate(api: &mut Api) {
    let status = Command::new("kill").args(["-TERM", &api.proc.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let (exit, _) = api.proc.finish(Duration::from_secs(30));
    assert!(exit.success(), "SIGTERM ends it cleanly: {exit:?}\n{}", api.proc.context());
}

#[test]
fn the_official_openai_client_works_against_chorus_api() {
    let Some(python) = python_with_openai() else {
        assert!(
            std::env::var("CHORUS_REQUIRE_API_CLIENT").as_deref() != Ok("1"),
            "the openai Python package is missing (scripts/setup.sh installs it in ~/.cache/chorus/api-venv)"
        );
        eprintln!("skipped: no Python with the openai package (run scripts/setup.sh)");
        return;
    };
    let _serial = serial();
    let dir = tempfile::tempdir().expect("dir");
    let mut api = Api::start(dir.path(), &["--slots", "1"]);
    // No --cors: no page of another origin may call it.
    let auth = format!("Authorization: Bearer {}", api.key);
    let headers = api.response_headers("GET", "/v1/models", &[&auth, "Origin: http://localhost:3000"]);
    assert!(headers.starts_with("http/1.1 200") && !headers.contains("access-control-"), "{headers}");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/openai_client.py");
    let output = Command::new(python)
        .arg(&script)
        .env("CHORUS_API_URL", &api.url)
        .env("CHORUS_API_KEY", &api.key)
        .env("CHORUS_API_SPECIALIST", SPECIALIST)
        .stdin(Stdio::null())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the openai client's checks failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        api.proc.context()
    );
    assert!(stdout.contains("\"event\": \"figures\""), "{stdout}");
    terminate(&mut api);
}

#[test]
fn curl_gets_answers_errors_and_limits_from_chorus_api() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("dir");
    let mut api = Api::start(dir.path(), &["--slots", "1", "--cors", "http://localhost:3000"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&api.key_file).expect("key file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(api.key.len(), 64);

    // Models: chorus and the specialists of this device.
    let (status, models) = api.curl("GET", "/v1/models", None, &[]);
    assert_eq!(status, 200, "{models}");
    let ids: Vec<&str> = models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids[0], "chorus");
    assert!(ids.contains(&SPECIALIST), "{ids:?}");

    // A plain answer, with usage.
    let (status, answer) = api.curl("POST", "/v1/chat/completions", Some(&chat(SPECIALIST, json!({}))), &[]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert!(!answer["choices"][0]["message"]["content"].as_str().expect("content").is_empty());
    assert!(answer["usage"]["prompt_tokens"].as_u64().expect("usage") > 0);

    // max_tokens and stop.
    let (_, capped) = api.curl("POST", "/v1/chat/completions", Some(&chat(SPECIALIST, json!({"max_tokens": 2}))), &[]);
    assert_eq!(
        (capped["choices"][0]["finish_reason"].as_str(), capped["usage"]["completion_tokens"].as_u64()),
        (Some("length"), Some(2))
    );
    let (_, stopped) =
        api.curl("POST", "/v1/chat/completions", Some(&chat(SPECIALIST, json!({"stop": " ", "max_tokens": 32}))), &[]);
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop", "{stopped}");
    assert!(!stopped["choices"][0]["message"]["content"].as_str().expect("content").contains(' '));

    // Streamed: chunks, the finish, the usage, [DONE].
    let payloads = api.stream(&chat(SPECIALIST, json!({"stream": true, "stream_options": {"include_usage": true}})));
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> =
        payloads[..payloads.len() - 1].iter().map(|p| serde_json::from_str(p).expect("a JSON chunk")).collect();
    assert!(chunks.iter().all(|chunk| chunk["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = chunks.last().expect("usage chunk");
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().expect("tokens") > 0);
    assert!(chunks.iter().any(|chunk| chunk["choices"][0]["finish_reason"].is_string()));

    // The conductor, streamed: its events in the `chorus` field.
    let payloads = api.stream(
        &json!({"model": "chorus", "stream": true, "messages": [{"role": "user", "content": "What is Rust?"}]}),
    );
    let events: Vec<String> = payloads
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter_map(|chunk| chunk["chorus"]["event"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(events.first().map(String::as_str), Some("query"), "{events:?}");
    assert_eq!(events.last().map(String::as_str), Some("done"), "{events:?}");

    // Errors, each in OpenAI's envelope.
    let error = |status: u16, body: &Value, code: &str| {
        assert_eq!((status, body["error"]["code"].as_str()), (status, Some(code)), "{body}");
        assert!(body["error"]["message"].is_string() && body["error"]["type"].is_string(), "{body}");
    };
    let (status, body) = api.curl("GET", "/v1/models", None, &[""]);
    assert_eq!(status, 401);
    error(status, &body, "invalid_api_key");
    let (status, body) = api.curl("GET", "/v1/models", None, &["Authorization: Bearer nope"]);
    assert_eq!(status, 401);
    error(status, &body, "invalid_api_key");
    let (status, body) = api.curl("POST", "/v1/chat/completions", Some(&chat("gpt-4o", json!({}))), &[]);
    assert_eq!(status, 404);
    error(status, &body, "model_not_found");
    let (status, body) = api.curl("GET", "/v2/nothing", None, &[]);
    assert_eq!(status, 404);
    error(status, &body, "unknown_url");
    let (status, body) = api.curl("GET", "/v1/chat/completions", None, &[]);
    assert_eq!(status, 405);
    error(status, &body, "method_not_allowed");
    let (status, text) = api.curl_raw("POST", "/v1/chat/completions", Some("{not json"), &[]);
    assert_eq!(status, 400, "{text}");
    let (status, body) =
        api.curl("POST", "/v1/chat/completions", Some(&chat(SPECIALIST, json!({"temperature": 3}))), &[]);
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("temperature")), "{body}");

    // CORS: a page of the origin given with --cors may call (its preflight
    // is answered without the key), a page of any other may not.
    let preflight = api.response_headers(
        "OPTIONS",
        "/v1/chat/completions",
        &[
            "Origin: http://localhost:3000",
            "Access-Control-Request-Method: POST",
            "Access-Control-Request-Headers: authorization, content-type",
        ],
    );
    assert!(preflight.contains("access-control-allow-origin: http://localhost:3000"), "{preflight}");
    assert!(preflight.contains("access-control-allow-headers: authorization,content-type"), "{preflight}");
    let auth = format!("Authorization: Bearer {}", api.key);
    let allowed = api.response_headers("GET", "/v1/models", &[&auth, "Origin: http://localhost:3000"]);
    assert!(allowed.starts_with("http/1.1 200") && allowed.contains("access-control-allow-origin"), "{allowed}");
    let other = api.response_headers("GET", "/v1/models", &[&auth, "Origin: http://elsewhere.example"]);
    assert!(!other.contains("access-control-allow-origin"), "another origin is not allowed: {other}");
    let big = dir.path().join("big.json");
    let filler = "x".repeat(1_100_000);
    std::fs::write(&big, json!({"model": SPECIALIST, "messages": [{"role": "user", "content": filler}]}).to_string())
        .expect("write");
    let (status, text) = api.curl_raw("POST", "/v1/chat/completions", Some(&format!("@{}", big.display())), &[]);
    assert_eq!(status, 413, "{text}");

    // One slot: a running stream takes it (429 for the next), a client
    // that leaves frees it.
    let mut long = Command::new("curl")
        .args(["-sS", "-N", "-H", &format!("Authorization: Bearer {}", api.key), "-H", "Content-Type: application/json"])
        .args(["--data-binary", &chat(SPECIALIST, json!({"stream": true, "max_tokens": 400, "temperature": 0.8, "messages": [{"role": "user", "content": "Write a long story about a dragon."}]})).to_string()])
        .arg(format!("{}/chat/completions", api.url))
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut first = String::new();
    // Kept open until the client is meant to leave: a closed pipe would end curl.
    let mut reader = BufReader::new(long.stdout.take().expect("stdout"));
    reader.read_line(&mut first).expect("the first chunk");
    assert!(first.starts_with("data: "), "{first}");
    let (status, body) = api.curl("POST", "/v1/chat/completions", Some(&chat(SPECIALIST, json!({}))), &[]);
    assert_eq!(status, 429, "{body}");
    error(status, &body, "busy");
    let _ = long.kill();
    let _ = long.wait();
    drop(reader);
    wait_for_free_slot(&api, "streaming");
    // The same for a client that gives up waiting for a whole (not
    // streamed) answer: the connection's end cancels the generation.
    let impatient = Command::new("curl")
        .args(["-sS", "--max-time", "1", "-H", &format!("Authorization: Bearer {}", api.key)])
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(chat(SPECIALIST, json!({"max_tokens": 400, "temperature": 0.8, "messages": [{"role": "user", "content": "Write a long story about a dragon."}]})).to_string())
        .arg(format!("{}/chat/completions", api.url))
        .output()
        .expect("curl");
    assert_eq!(impatient.status.code(), Some(28), "curl timed out: {impatient:?}");
    wait_for_free_slot(&api, "waiting");
    let (_, health) = api.curl("GET", "/health", None, &[""]);
    assert_eq!(health["free_slots"], 1, "{health}");

    terminate(&mut api);
    // The key is reused on the next start.
    let again = Api::start(dir.path(), &[]);
    assert_eq!(again.key, api.key);
}

#[test]
fn no_auth_is_refused_off_loopback() {
    let dir = tempfile::tempdir().expect("dir");
    let mut args = base_args(&dir.path().join("data"));
    args.extend(["api", "--no-auth", "--listen", "0.0.0.0:0"].map(str::to_owned));
    let output = command(chorus_bin(), &args).output().expect("chorus runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--no-auth is only allowed on a loopback address"), "{stderr}");
}

/// Asks until the one slot answers again (429 meanwhile), at most 5 s after
/// the `who` client left.
fn wait_for_free_slot(api: &Api, who: &str) {
    let left = Instant::now();
    loop {
        let (status, body) =
            api.curl("POST", "/v1/chat/completions", Some(&chat(SPECIALIST, json!({"max_tokens": 2}))), &[]);
        if status == 200 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(left.elapsed() < Duration::from_secs(5), "the slot was not freed after the {who} client left");
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("slot freed {} ms after the {who} client left", left.elapsed().as_millis());
}

/// `chorus api --network`: with no specialist of its own, the conductor
/// (`chorus`) sends its part to a real `chorus serve` peer on loopback, and
/// the response's `chorus` field says where it ran.
#[test]
fn chorus_api_with_the_network_sends_the_conductors_part_to_a_peer() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("dir");
    let peer = Server::start("serve-p", dir.path(), SPECIALIST, &[]);
    let mut api = Api::start(
        dir.path(),
        &[
            "--network",
            "--bootstrap",
            &peer.address,
            "--p2p-listen",
            "/ip4/127.0.0.1/tcp/0",
            "--no-mdns",
            "--local-specialists",
            "none",
        ],
    );
    let (status, models) = api.curl("GET", "/v1/models", None, &[]);
    assert_eq!(status, 200, "{models}");
    let ids: Vec<&str> = models["data"].as_array().expect("data").iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, ["chorus"], "no specialist runs on this device");

    let question = json!({"messages": [{"role": "user", "content": "Say hello in one short sentence."}]});
    let (status, answer) = api.curl("POST", "/v1/chat/completions", Some(&chat("chorus", question)), &[]);
    assert_eq!(status, 200, "{answer}\n{}", api.proc.context());
    let content = answer["choices"][0]["message"]["content"].as_str().expect("content");
    assert!(!content.trim().is_empty(), "{answer}");
    let events = answer["chorus"]["events"].as_array().expect("the chorus field's events");
    let started: Vec<&Value> = events.iter().filter(|event| event["event"] == "subtask_started").collect();
    assert!(!started.is_empty(), "{answer}");
    for event in &started {
        assert_eq!(event["executor"], peer.peer_id.as_str(), "the part ran on the peer: {event}");
    }
    assert!(events.iter().any(|event| event["event"] == "subtask_done"), "{answer}");
    terminate(&mut api);
}
