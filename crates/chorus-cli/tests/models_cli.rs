//! End-to-end tests of `chorus models list|recommend|pull|rm`, running the
//! real binary with its data directory in a temporary folder. Pulls go to a
//! tiny HTTP server on 127.0.0.1 that serves the embedded GGUF.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use serde_json::Value;

const EMBEDDED_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const EMBEDDED_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn repo_models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

fn embedded_model() -> PathBuf {
    let path = repo_models_dir().join(EMBEDDED_FILE);
    assert!(path.is_file(), "{} is missing: run scripts/setup.sh", path.display());
    path
}

/// Runs `chorus` with its data in `data_dir` and the repository's models
/// folder as the first model directory (so the embedded model is found).
fn chorus(data_dir: &Path, args: &[&str]) -> Output {
    let _ = embedded_model();
    Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .env("CHORUS_DATA_DIR", data_dir)
        .env("CHORUS_MODELS_DIR", repo_models_dir())
        .env_remove("RUST_LOG")
        .output()
        .expect("the chorus binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

fn json_of(output: &Output) -> Value {
    assert_success(output);
    serde_json::from_str(stdout(output).trim()).expect("stdout is one JSON document")
}

fn base_model<'a>(listing: &'a Value, id: &str) -> &'a Value {
    listing["base_models"]
        .as_array()
        .expect("base_models is an array")
        .iter()
        .find(|base| base["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed"))
}

#[test]
fn list_json_shows_base_models_and_flags_unverified_ones() {
    let data = tempfile::tempdir().unwrap();
    let listing = json_of(&chorus(data.path(), &["models", "list", "--json"]));

    let smollm2 = base_model(&listing, "smollm2-135m-instruct-q4_1");
    assert_eq!(smollm2["verified"], true);
    assert!(smollm2["installed_path"].is_string(), "the embedded model is found: {smollm2}");
    assert!(smollm2["specialists"].as_u64().unwrap() > 0);
    let gemma3 = base_model(&listing, "gemma3-270m-q4_k_m");
    assert_eq!(gemma3["verified"], true);
    assert_eq!(gemma3["source"], "pypi_chunks");

    let bases = listing["base_models"].as_array().unwrap();
    let unverified: Vec<&Value> = bases.iter().filter(|base| base["verified"] == false).collect();
    assert!(!unverified.is_empty(), "the catalog lists unverified URL models");
    let specialists = listing["specialists"].as_array().unwrap();
    assert!(specialists.len() >= 100);
    assert!(specialists.iter().any(|specialist| specialist["runnable"] == true));

    // The table marks every unverified model as such.
    let table = chorus(data.path(), &["models", "list"]);
    assert_success(&table);
    let text = stdout(&table);
    for base in unverified {
        let id = base["id"].as_str().unwrap();
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("{id} missing from the table:\n{text}"));
        assert!(line.contains("unverified"), "{line}");
    }
}

/// Runs `chorus` in the working directory `work`, with no model folder
/// but `work/models` (checked) and the data folder's `models/`.
fn chorus_in(work: &Path, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chorus"))
        .args(args)
        .current_dir(work)
        .env("CHORUS_DATA_DIR", data_dir)
        .env("HOME", work)
        .env_remove("XDG_DATA_HOME")
        .env_remove("CHORUS_MODELS_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("the chorus binary runs")
}

#[test]
fn a_model_in_the_working_directory_is_used_only_with_a_trusted_hash() {
    let work = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let installed = data.path().join("models").join(EMBEDDED_FILE);
    std::fs::create_dir_all(installed.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(embedded_model(), &installed).unwrap();
    let planted = work.path().join("models").join(EMBEDDED_FILE);
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    let listed = |output: &Output| base_model(&json_of(output), "smollm2-135m-instruct-q4_1")["installed_path"].clone();

    // Someone else's file under the embedded model's name: the size fits,
    // the bytes do not. Ignored, with a warning that says why.
    std::fs::File::create(&planted).unwrap().set_len(std::fs::metadata(embedded_model()).unwrap().len()).unwrap();
    let output = chorus_in(work.path(), data.path(), &["models", "list", "--json"]);
    assert_eq!(listed(&output), installed.display().to_string(), "the verified install is used");
    let warning = stderr(&output);
    assert!(warning.contains("ignoring this model file in the working directory"), "{warning}");
    assert!(warning.contains("sha256") && warning.contains("models/SmolLM2"), "{warning}");

    // Without the install, nothing is left to answer with.
    std::fs::remove_file(&installed).unwrap();
    let output = chorus_in(work.path(), data.path(), &["models", "list", "--json"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("ignoring") && stderr(&output).contains("not found"), "{}", stderr(&output));

    // The embedded model itself (its sha256 is the catalog's) is used.
    std::fs::remove_file(&planted).unwrap();
    std::fs::copy(embedded_model(), &planted).unwrap();
    let output = chorus_in(work.path(), data.path(), &["-v", "models", "list", "--json"]);
    let path = listed(&output);
    let path = work.path().join(path.as_str().expect("found"));
    assert_eq!(path.canonicalize().unwrap(), planted.canonicalize().unwrap(), "{}", stderr(&output));
    assert!(!stderr(&output).contains("ignoring"), "{}", stderr(&output));
    assert!(stderr(&output).contains("its sha256 matches the embedded model's hash"), "{}", stderr(&output));
}

#[test]
fn a_model_given_with_model_must_pass_the_gguf_check() {
    let work = tempfile::tempdir().unwrap();
    let cut = work.path().join("cut.gguf");
    let mut bytes = std::fs::read(embedded_model()).unwrap();
    bytes.truncate(4 << 20);
    std::fs::write(&cut, &bytes).unwrap();
    let output = chorus(work.path(), &["--model", cut.to_str().unwrap(), "models", "list"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("tensor") && message.contains("past the end of the file"), "{message}");
}

#[test]
fn recommend_for_a_spanish_speaking_marketer() {
    let data = tempfile::tempdir().unwrap();
    let output = chorus(
        data.path(),
        &["models", "recommend", "--profession", "marketer", "--languages", "en,es", "--storage", "2GB", "--json"],
    );
    let recommendations = json_of(&output);
    let list = recommendations.as_array().expect("an array of recommendations");
    assert!((2..=5).contains(&list.len()), "{recommendations}");
    for recommendation in list {
        let reasons = recommendation["reasons"].as_array().unwrap();
        assert!(!reasons.is_empty(), "{recommendation}");
        assert!(recommendation["installed"].is_boolean());
    }
    let text = recommendations.to_string();
    assert!(text.contains("marketing") || text.contains("marketer"), "{text}");
    assert!(text.contains("Spanish") || text.contains("translate.es"), "{text}");

    let table = chorus(data.path(), &["models", "recommend", "--profession", "marketer", "--languages", "es"]);
    assert_success(&table);
    assert!(stdout(&table).starts_with("1. "), "{}", stdout(&table));
}

#[test]
fn nonsense_storage_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    let output = chorus(data.path(), &["models", "recommend", "--profession", "marketer", "--storage", "lots"]);
    assert_eq!(output.status.code(), Some(2), "stderr: {}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("lots") && message.contains("not a size"), "{message}");
}

/// Serves `body` at `/model.gguf` on 127.0.0.1, honouring `Range: bytes=N-`.
fn serve(body: Arc<Vec<u8>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = Arc::clone(&body);
            std::thread::spawn(move || {
                let _ = answer(stream, &body);
            });
        }
    });
    port
}

fn answer(mut stream: TcpStream, body: &[u8]) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut start = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(range) = lower.strip_prefix("range: bytes=") {
            start = range.trim().trim_end_matches('-').parse().unwrap_or(0);
        }
    }
    if !request_line.starts_with("GET /model.gguf ") {
        return stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let total = body.len();
    let start = start.min(total);
    let head = if start > 0 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{total}\r\nConnection: close\r\n\r\n",
            total - start,
            total - 1
        )
    } else {
        format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n")
    };
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body[start..])?;
    stream.flush()
}

/// The bundled catalog plus two base models served from 127.0.0.1: one with
/// the embedded model's real hash, one without a hash (whose published size,
/// which caps its download, is `unverified_size`).
fn loopback_catalog(dir: &Path, port: u16, size: u64, unverified_size: u64) -> PathBuf {
    let bundled = std::fs::read_to_string(repo_models_dir().join("catalog.json")).unwrap();
    let mut catalog: Value = serde_json::from_str(&bundled).unwrap();
    let bases = catalog["base_models"].as_array_mut().unwrap();
    let template = bases.iter().find(|base| base["embedded"] == true).unwrap().clone();
    for (id, file, sha256, size) in [
        ("loopback-verified", "loopback-verified.gguf", Value::from(EMBEDDED_SHA256), size),
        ("loopback-unverified", "loopback-unverified.gguf", Value::Null, unverified_size),
    ] {
        let mut base = template.clone();
        base["id"] = id.into();
        base["name"] = format!("Loopback test model ({id})").into();
        base["file_name"] = file.into();
        base["sha256"] = sha256;
        base["size_bytes"] = size.into();
        base["embedded"] = false.into();
        base["source"] = serde_json::json!({"kind": "url", "url": format!("http://127.0.0.1:{port}/model.gguf")});
        bases.push(base);
    }
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::to_string_pretty(&catalog).unwrap()).unwrap();
    path
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

#[test]
fn pull_list_and_remove_a_model_served_on_loopback() {
    let body = Arc::new(std::fs::read(embedded_model()).unwrap());
    let size = body.len() as u64;
    let port = serve(body);
    let data = tempfile::tempdir().unwrap();
    let catalog = loopback_catalog(data.path(), port, size, size);
    let catalog = catalog.to_str().unwrap();
    let installed_file = data.path().join("models/loopback-verified.gguf");

    // Pull: progress lines, then one `installed` event, verified.
    let pulled = chorus(data.path(), &["--catalog", catalog, "models", "pull", "loopback-verified", "--json"]);
    assert_success(&pulled);
    let events = json_lines(&pulled);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "installed", "{last}");
    assert_eq!(last["verified"], true);
    assert_eq!(last["bytes"], size);
    assert_eq!(last["sha256"], EMBEDDED_SHA256);
    assert!(events.iter().any(|event| event["event"] == "progress" && event["total"] == size), "{events:?}");
    assert!(installed_file.is_file());
    assert!(!data.path().join("models/loopback-verified.gguf.partial").exists());

    // Listed as installed (and the pulled file was checked).
    let listing = json_of(&chorus(data.path(), &["--catalog", catalog, "models", "list", "--json"]));
    let base = base_model(&listing, "loopback-verified");
    assert_eq!(base["installed_path"].as_str().map(PathBuf::from), Some(installed_file.clone()));
    assert_eq!(base["installed_verified"], true);

    // A second pull returns at once.
    let again = chorus(data.path(), &["--catalog", catalog, "models", "pull", "loopback-verified", "--json"]);
    let last = json_lines(&again).pop().unwrap();
    assert_eq!(last["already_present"], true, "{last}");

    // Remove it: the file and the registry entry go.
    let removed = json_of(&chorus(data.path(), &["--catalog", catalog, "models", "rm", "loopback-verified", "--json"]));
    assert_eq!(removed["id"], "loopback-verified");
    assert!(!installed_file.exists());
    let listing = json_of(&chorus(data.path(), &["--catalog", catalog, "models", "list", "--json"]));
    assert!(base_model(&listing, "loopback-verified")["installed_path"].is_null());
    let again = chorus(data.path(), &["--catalog", catalog, "models", "rm", "loopback-verified"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not installed"), "{}", stderr(&again));
}

#[test]
fn pull_of_a_model_without_hash_needs_the_flag_and_installs_it_marked_unverified() {
    let body = Arc::new(std::fs::read(embedded_model()).unwrap());
    let size = body.len() as u64;
    let port = serve(body);
    let data = tempfile::tempdir().unwrap();
    let catalog = loopback_catalog(data.path(), port, size, size);
    let catalog = catalog.to_str().unwrap();
    let installed = data.path().join("models/loopback-unverified.gguf");

    // Without --allow-unverified: a usage error that says why and what to do.
    let refused = chorus(data.path(), &["--catalog", catalog, "models", "pull", "loopback-unverified", "--json"]);
    assert_eq!(refused.status.code(), Some(2), "stderr: {}", stderr(&refused));
    let last = json_lines(&refused).pop().unwrap();
    assert_eq!(last["event"], "error", "{last}");
    assert_eq!(last["code"], "unverified_model", "{last}");
    let message = last["message"].as_str().unwrap();
    assert!(message.contains("no sha256") && message.contains("--allow-unverified"), "{message}");
    assert!(stderr(&refused).contains("--allow-unverified"), "{}", stderr(&refused));
    assert!(!installed.exists() && !data.path().join("models/loopback-unverified.gguf.partial").exists());

    // With it (`install` is `pull`): a warning first, then installed, marked so.
    let pulled =
        chorus(data.path(), &["--catalog", catalog, "models", "install", "loopback-unverified", "--allow-unverified"]);
    assert_success(&pulled);
    assert!(stderr(&pulled).contains("WARNING: loopback-unverified is unverified"), "{}", stderr(&pulled));
    assert!(stdout(&pulled).contains("UNVERIFIED"), "{}", stdout(&pulled));
    assert!(installed.is_file());

    let table = chorus(data.path(), &["--catalog", catalog, "models", "list"]);
    assert_success(&table);
    let text = stdout(&table);
    let line = text.lines().find(|line| line.starts_with("loopback-unverified ")).unwrap();
    assert!(line.contains("unverified") && line.contains("loopback-unverified.gguf"), "{line}");
}

#[test]
fn an_unverified_download_larger_than_the_catalog_allows_is_refused() {
    let body = Arc::new(std::fs::read(embedded_model()).unwrap());
    let size = body.len() as u64;
    let port = serve(body);
    let data = tempfile::tempdir().unwrap();
    // The catalog publishes half the size: the cap is that plus 5%.
    let catalog = loopback_catalog(data.path(), port, size, size / 2);
    let catalog = catalog.to_str().unwrap();
    let output = chorus(
        data.path(),
        &["--catalog", catalog, "models", "pull", "loopback-unverified", "--allow-unverified", "--json"],
    );
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let last = json_lines(&output).pop().unwrap();
    assert_eq!(last["code"], "too_large", "{last}");
    assert!(!data.path().join("models/loopback-unverified.gguf").exists());
    assert!(!data.path().join("models/loopback-unverified.gguf.partial").exists());
}

#[test]
fn the_embedded_model_outside_the_data_dir_is_not_removed() {
    let data = tempfile::tempdir().unwrap();
    let output = chorus(data.path(), &["models", "rm", "smollm2-135m-instruct-q4_1"]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("left alone"), "{}", stderr(&output));
    assert!(embedded_model().is_file());
}
