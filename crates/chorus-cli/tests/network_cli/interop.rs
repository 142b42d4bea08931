//! Another implementation: a js-libp2p node written from docs/PROTOCOL.md
//! alone (`interop/js/interop.mjs`) against a real `chorus serve` on
//! loopback. It connects over TCP with Noise and Yamux, checks identify,
//! finds the node as provider of the specialist's DHT key on
//! `/chorus/kad/1.0.0`, asks its status, runs a task and verifies the
//! receipt (and that tampered receipts fail), and gets typed errors for
//! broken requests. The script prints one JSON line per check.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Proc, Server, command, serial};

/// Every check the script must report, each passed.
const CHECKS: &[&str] = &[
    "connect",
    "identify",
    "providers",
    "status",
    "task",
    "tampered_tokens_plus_one",
    "tampered_tokens_plus_one_in_summary_too",
    "tampered_other_text",
    "tampered_other_request",
    "tampered_other_requester",
    "tampered_flipped_signature",
    "not_json",
    "too_large",
    "bad_nonce",
    "short_nonce",
    "unknown_specialist",
    "unknown_fields",
    "loopback_only",
];

/// The whole script, model included (two short generations).
const SCRIPT: Duration = Duration::from_secs(240);

#[test]
fn a_js_libp2p_node_written_from_the_protocol_document_is_served() {
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/js");
    if !js.join("node_modules").is_dir() {
        assert!(
            std::env::var_os("CHORUS_REQUIRE_INTEROP").is_none(),
            "CHORUS_REQUIRE_INTEROP is set but {} has no node_modules: run `npm ci` there",
            js.display()
        );
        eprintln!(
            "SKIPPED: the js-libp2p interop test needs `npm ci` in interop/js (scripts/test.sh runs it \
             and sets CHORUS_REQUIRE_INTEROP=1, so CI never skips)"
        );
        return;
    }
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut server = Server::start("serve", dir.path(), "general.assistant", &[]);

    let script = js.join("interop.mjs").display().to_string();
    let mut node = Proc::spawn("interop-js", command("node", &[script, server.address.clone()]), dir.path());
    let (status, lines) = node.finish(SCRIPT);
    eprintln!("[js interop: {} lines in {:.1} s]", lines.len(), started.elapsed().as_secs_f64());
    for line in &lines {
        eprintln!("  {line}");
    }
    let context = || format!("{}\nnode's stderr:\n{}", node.context(), node.stderr());

    let checks: BTreeMap<&str, &Value> =
        lines.iter().filter_map(|line| line["check"].as_str().map(|name| (name, line))).collect();
    for name in CHECKS {
        let line = checks.get(name).unwrap_or_else(|| panic!("no `{name}` check reported\n{}", context()));
        assert_eq!(line["ok"], true, "`{name}` failed: {line}\n{}", context());
    }
    let failed: Vec<&&Value> = checks.values().filter(|line| line["ok"] != true).collect();
    assert!(failed.is_empty(), "failed checks: {failed:?}\n{}", context());
    let summary = lines.last().unwrap_or_else(|| panic!("no output\n{}", context()));
    assert_eq!(summary["summary"], true, "the last line is the summary\n{}", context());
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["passed"].as_u64(), Some(checks.len() as u64), "{summary}");
    assert!(status.success(), "node exited with {status}\n{}", context());

    // What the script saw matches what the server says about itself.
    let task = checks["task"];
    assert!(task["tokens"].as_u64().is_some_and(|tokens| (1..=16).contains(&tokens)), "{task}");
    assert_eq!(checks["connect"]["remote"], server.peer_id.as_str());
    let providers = checks["providers"]["providers"].as_array().expect("providers");
    assert!(providers.iter().any(|provider| provider["id"] == server.peer_id.as_str()), "{providers:?}");
    assert!(server.proc.running(), "the serve process is alive\n{}", server.proc.context());
}
