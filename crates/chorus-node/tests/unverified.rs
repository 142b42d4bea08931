//! A model the catalog has no sha256 for, on a real node with the real
//! embedded model served over HTTP on loopback: it installs only with the
//! explicit allowance, its sha256 is recorded then, and a file that changes
//! later — at its source or on this device — is refused, by `pull` and
//! before llama.cpp loads it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chorus_core::ConductorEvent;
use chorus_node::{CancellationToken, ErrorCode, Node, NodeConfig, PullOptions};
use serde_json::Value;

const ID: &str = "loopback-unverified";
const SPECIALIST: &str = "test.loopback";
const EMBEDDED_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/setup.sh first: {} is missing", path.display());
    path
}

/// Serves whatever `body` holds at `/model.gguf` on 127.0.0.1, whole (200)
/// with its length; counts the requests.
struct Server {
    port: u16,
    body: Arc<Mutex<Arc<Vec<u8>>>>,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn start(body: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(Mutex::new(Arc::new(body)));
        let requests = Arc::new(AtomicUsize::new(0));
        let (shared, counted) = (Arc::clone(&body), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = Arc::clone(&shared.lock().unwrap());
                std::thread::spawn(move || {
                    let _ = answer(stream, &body);
                });
            }
        });
        Self { port, body, requests }
    }

    fn replace(&self, body: Vec<u8>) {
        *self.body.lock().unwrap() = Arc::new(body);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn answer(mut stream: TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// The bundled catalog plus an unverified base model served on loopback
/// and one specialist on it, found by the word "zyzzyva".
fn catalog_at(dir: &Path, port: u16, size: u64) -> PathBuf {
    let bundled = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/catalog.json"));
    let mut catalog: Value = serde_json::from_str(&bundled.unwrap()).unwrap();
    let bases = catalog["base_models"].as_array_mut().unwrap();
    let mut base = bases.iter().find(|base| base["embedded"] == true).unwrap().clone();
    base["id"] = ID.into();
    base["file_name"] = format!("{ID}.gguf").into();
    base["sha256"] = Value::Null;
    base["size_bytes"] = size.into();
    base["embedded"] = false.into();
    base["source"] = serde_json::json!({"kind": "url", "url": format!("http://127.0.0.1:{port}/model.gguf")});
    bases.push(base);
    let specialists = catalog["specialists"].as_array_mut().unwrap();
    let mut specialist = specialists.iter().find(|s| s["id"] == "software.python").unwrap().clone();
    specialist["id"] = SPECIALIST.into();
    specialist["name"] = "Zyzzyva expert".into();
    specialist["keywords"] = serde_json::json!(["zyzzyva"]);
    specialist["base_model"] = ID.into();
    specialist["size_bytes"] = size.into();
    specialist["sampling"]["max_tokens"] = 8.into();
    specialists.push(specialist);
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
    path
}

fn node(data: &Path, catalog: &Path) -> Node {
    Node::start(NodeConfig {
        model: Some(model_path()),
        threads: Some(1),
        data_dir: Some(data.to_path_buf()),
        catalog: Some(catalog.to_path_buf()),
        ..NodeConfig::default()
    })
    .expect("node starts")
}

async fn pull(node: &Node, allow_unverified: bool) -> Result<chorus_node::PullOutcome, chorus_node::NodeError> {
    node.pull(ID, PullOptions { allow_unverified }, |_| {}, CancellationToken::new()).await
}

/// The events of a question for the test specialist, and the specialists
/// it was routed to (only those this device can reach).
async fn ask(node: &Node) -> (Vec<String>, Vec<ConductorEvent>) {
    let mut conversation = node.conduct("What is a zyzzyva?").expect("query starts");
    let mut events = Vec::new();
    while let Some(event) = conversation.events.recv().await {
        events.push(event);
    }
    let ConductorEvent::Analysis { specialists, .. } = &events[0] else { panic!("first event: {:?}", events[0]) };
    (specialists.clone(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_model_needs_the_allowance_and_then_must_stay_the_same_file() {
    let body = std::fs::read(model_path()).unwrap();
    let size = body.len() as u64;
    let server = Server::start(body.clone());
    let data = tempfile::tempdir().unwrap();
    let catalog = catalog_at(data.path(), server.port, size);
    let installed = data.path().join("models").join(format!("{ID}.gguf"));

    // Without the allowance: a clear error, and nothing is fetched.
    let first = node(data.path(), &catalog);
    let error = pull(&first, false).await.expect_err("refused");
    assert_eq!(error.code(), ErrorCode::UnverifiedModel);
    let message = error.to_string();
    assert!(message.contains("no sha256") && message.contains("--allow-unverified"), "{message}");
    assert_eq!(server.requests(), 0);
    assert!(!installed.exists());

    // With it: installed, unverified, its sha256 recorded.
    let outcome = pull(&first, true).await.expect("installed");
    assert!(!outcome.verified && !outcome.already_present);
    assert_eq!(outcome.sha256, EMBEDDED_SHA256);
    let entry = first.store().installed_model(ID).unwrap().expect("recorded");
    assert_eq!((entry.sha256.as_deref(), entry.verified, entry.size_bytes), (Some(EMBEDDED_SHA256), false, size));
    // Pulled again, it is the same file: nothing to do, no allowance needed.
    let again = pull(&first, false).await.expect("already there");
    assert!(again.already_present && !again.verified);
    drop(first);

    // Its file loads: the specialist answers on this device.
    let (routed, events) = ask(&node(data.path(), &catalog)).await;
    assert_eq!(routed, [SPECIALIST]);
    assert!(
        events.iter().any(|event| matches!(event, ConductorEvent::SubtaskDone { executor, .. } if executor == "local")),
        "{events:?}"
    );

    // The source changes: a new pull of it is refused and replaces nothing.
    let mut changed = body.clone();
    changed[1 << 20] ^= 0xff;
    server.replace(changed.clone());
    std::fs::remove_file(&installed).unwrap();
    let error = pull(&node(data.path(), &catalog), false).await.expect_err("changed at its source");
    assert_eq!(error.code(), ErrorCode::ModelChanged, "{error}");
    assert!(error.to_string().contains(EMBEDDED_SHA256), "{error}");
    assert!(!installed.exists());
    let entry = node(data.path(), &catalog).store().installed_model(ID).unwrap().expect("still recorded");
    assert_eq!(entry.sha256.as_deref(), Some(EMBEDDED_SHA256));

    // The installed file changes on this device: it is not loaded.
    std::fs::write(&installed, &changed).unwrap();
    let (routed, events) = ask(&node(data.path(), &catalog)).await;
    assert_eq!(routed, [SPECIALIST]);
    let failures: Vec<&String> = events
        .iter()
        .filter_map(|event| match event {
            ConductorEvent::SubtaskFailed { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert!(
        failures
            .iter()
            .any(|error| error.contains("is not the file installed first") && error.contains(EMBEDDED_SHA256)),
        "{events:?}"
    );
    assert!(!events.iter().any(|event| matches!(event, ConductorEvent::SubtaskDone { .. })), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_file_that_was_never_installed_is_not_served() {
    let data = tempfile::tempdir().unwrap();
    let body = std::fs::read(model_path()).unwrap();
    // Nothing listens on port 9; the file is put in place by hand.
    let catalog = catalog_at(data.path(), 9, body.len() as u64);
    let models = data.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join(format!("{ID}.gguf")), &body).unwrap();
    let (routed, events) = ask(&node(data.path(), &catalog)).await;
    assert!(!routed.iter().any(|id| id == SPECIALIST), "{events:?}");

    // The same file installed with the allowance is served.
    let server = Server::start(body.clone());
    let catalog = catalog_at(data.path(), server.port, body.len() as u64);
    let outcome = pull(&node(data.path(), &catalog), true).await.expect("installed");
    assert_eq!(outcome.sha256, EMBEDDED_SHA256);
    let (routed, _) = ask(&node(data.path(), &catalog)).await;
    assert_eq!(routed, [SPECIALIST]);
}
