//! What the GGUF check accepts, llama.cpp loads without ending the process.
//!
//! A few valid but unusual copies of the real embedded model (extra keys
//! llama.cpp does not know, an explicit alignment, keys in another order, an
//! optional key left out) each pass the check and are then loaded, and a
//! token generated, by llama.cpp in a child process: this test binary run
//! again on `loads_the_file_named_in_the_environment`. A `GGML_ASSERT` there
//! would kill the child, not this test; the control case shows it does.
//!
//! The same for every input of the GGUF fuzz target (`fuzz/corpus/gguf_inspect/`,
//! its crashes in `fuzz/artifacts/gguf_inspect/` and any folder named in
//! `CHORUS_GGUF_REPLAY`) that the check accepts: loaded, and a token asked
//! for, in a child, where a failed load is fine but an abort is not.
#![cfg(feature = "llama")]
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus};

use chorus_engine::{ChatMessage, Engine, EngineOptions, GenerateRequest, ModelOptions, SamplingParams};
use common::header::{Header, Val, kv};

/// Set in the child: the file it loads.
const CHILD_FILE: &str = "CHORUS_GGUF_LOAD_CHILD";
/// Set in the child: load with llama.cpp directly, without the check.
const CHILD_RAW: &str = "CHORUS_GGUF_LOAD_RAW";
/// Set in the child: the load and the generation may fail (a fuzz input),
/// only the process must survive them.
const CHILD_MAY_FAIL: &str = "CHORUS_GGUF_LOAD_MAY_FAIL";
const CHILD_TEST: &str = "loads_the_file_named_in_the_environment";

/// The child's work: load the file, generate a token, exit cleanly. Raw:
/// hand the file to llama.cpp's loader itself.
#[test]
fn loads_the_file_named_in_the_environment() {
    let Some(path) = std::env::var_os(CHILD_FILE) else { return };
    if std::env::var_os(CHILD_RAW).is_some() {
        let backend = llama_cpp_2::llama_backend::LlamaBackend::init().expect("backend");
        let params = llama_cpp_2::model::params::LlamaModelParams::default();
        let loaded = llama_cpp_2::model::LlamaModel::load_from_file(&backend, Path::new(&path), &params);
        assert!(loaded.is_ok(), "llama.cpp refused the file without aborting");
        return;
    }
    let engine = Engine::new(EngineOptions { threads: Some(1) }).expect("engine");
    let options = ModelOptions { context: 512, parallel: 1, ..ModelOptions::default() };
    let request =
        GenerateRequest::chat(vec![ChatMessage::user("Hi")]).with_sampling(SamplingParams::greedy()).with_max_tokens(2);
    if std::env::var_os(CHILD_MAY_FAIL).is_some() {
        match engine.load(Path::new(&path), &options) {
            Ok(model) => {
                let outcome = model.generate(request).map(|generation| generation.blocking_complete());
                eprintln!("loaded; generation: {outcome:?}");
            }
            Err(error) => eprintln!("refused: {error}"),
        }
        return;
    }
    let model = engine.load(Path::new(&path), &options).expect("llama.cpp loads the file");
    let completion = model.generate(request).expect("starts").blocking_complete().expect("completes");
    assert!(completion.completion_tokens >= 1);
}

/// Runs the child on `path` (`raw`: without the check): how it ended, and
/// the end of what it said.
fn load_in_child(path: &Path, raw: bool) -> (ExitStatus, String) {
    load_in_child_with(path, raw.then_some(CHILD_RAW))
}

/// Runs the child on `path`, with `mode` (if any) set in its environment.
fn load_in_child_with(path: &Path, mode: Option<&str>) -> (ExitStatus, String) {
    let mut child = Command::new(std::env::current_exe().expect("this test binary"));
    child.args(["--exact", CHILD_TEST, "--test-threads=1", "--nocapture"]).env(CHILD_FILE, path);
    if let Some(mode) = mode {
        child.env(mode, "1");
    }
    let output = child.output().expect("the child runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
    (output.status, format!("{}: {tail}", output.status))
}

#[test]
fn what_the_check_accepts_llama_cpp_loads_without_aborting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut unknown_keys = Header::real();
    unknown_keys.insert_key(&kv("chorus.note", Val::Str("a key no loader reads")));
    unknown_keys.insert_key(&kv("chorus.bytes", Val::U8s(&[0, 1, 2, 255])));
    unknown_keys.insert_key(&kv("chorus.words", Val::Strs(&["", "two", "three"])));
    unknown_keys.insert_key(&kv("llama.chorus_extra", Val::F32(1.5)));
    unknown_keys.insert_key(&kv("chorus.count", Val::U64(u64::MAX)));
    let mut explicit_alignment = Header::real();
    explicit_alignment.insert_key(&kv("general.alignment", Val::U32(32)));
    let mut reordered = Header::real();
    let template = reordered.entry("tokenizer.chat_template");
    let raw = reordered.bytes[template.start..template.end].to_vec();
    reordered.remove_key("tokenizer.chat_template");
    reordered.insert_key(&raw);
    reordered.insert_key(&kv("tokenizer.ggml.add_eos_token", Val::Bool(false)));
    let mut fewer = Header::real();
    fewer.remove_key("tokenizer.ggml.padding_token_id");
    fewer.remove_key("general.languages");

    let odd = [
        ("unknown-keys.gguf", unknown_keys),
        ("explicit-alignment.gguf", explicit_alignment),
        ("reordered.gguf", reordered),
        ("fewer-keys.gguf", fewer),
    ];
    let real = common::model_path();
    chorus_engine::inspect_gguf(&real).expect("the real model passes");
    let (status, how) = load_in_child(&real, false);
    assert!(status.success(), "the real model: {how}");
    for (name, header) in odd {
        let path = header.write_with_data(dir.path(), name);
        chorus_engine::inspect_gguf(&path).unwrap_or_else(|error| panic!("{name} passes the check: {error}"));
        let (status, how) = load_in_child(&path, false);
        assert!(status.success(), "{name}: {how}");
        std::fs::remove_file(&path).expect("remove");
    }
}

/// The control: a copy the check refuses (a block count of 0), handed to
/// llama.cpp's loader without the check, ends the child's process; so a
/// clean exit above means something, and the check is what stands between
/// such a file and an abort.
#[test]
fn a_copy_the_check_refuses_kills_the_child() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut header = Header::real();
    header.rename_key("llama.block_count", "llama.block_coun_");
    header.insert_key(&kv("llama.block_count", Val::U32(0)));
    let path = header.write_with_data(dir.path(), "no-blocks.gguf");
    assert!(chorus_engine::inspect_gguf(&path).is_err(), "the check refuses it");
    let (status, how) = load_in_child(&path, true);
    // Killed by a signal (SIGABRT), not a failed load or a failed assertion.
    assert!(status.code().is_none(), "llama.cpp did not abort on a block count of 0: {how}");
}

/// Every input of the GGUF fuzz target the check accepts, loaded by
/// llama.cpp in a child: refusing it is fine, ending the process is not.
#[test]
fn what_the_check_accepts_of_the_fuzz_inputs_does_not_abort_llama_cpp() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut folders = vec![fuzz.join("corpus/gguf_inspect"), fuzz.join("artifacts/gguf_inspect")];
    folders.extend(std::env::var_os("CHORUS_GGUF_REPLAY").map(std::path::PathBuf::from));
    let mut accepted = 0;
    for folder in folders.iter().filter(|folder| folder.is_dir()) {
        let mut paths: Vec<_> =
            std::fs::read_dir(folder).expect("a corpus folder").map(|e| e.expect("entry").path()).collect();
        paths.sort();
        for path in paths {
            if chorus_engine::inspect_gguf(&path).is_err() {
                continue;
            }
            accepted += 1;
            let (status, how) = load_in_child_with(&path, Some(CHILD_MAY_FAIL));
            assert!(status.code().is_some(), "llama.cpp ended the process on {}: {how}", path.display());
        }
    }
    eprintln!("{accepted} accepted inputs loaded in a child, none ended it");
    // The seeds alone hold three files the check accepts.
    assert!(accepted >= 3, "only {accepted} accepted inputs in {folders:?}");
}
