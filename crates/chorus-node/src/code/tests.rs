use super::*;
use crate::{GenerateError, ModelsError, NodeError};

#[test]
fn every_code_serialises_as_its_name() {
    let mut seen = std::collections::BTreeSet::new();
    for code in ErrorCode::ALL {
        assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        assert_eq!(serde_json::from_value::<ErrorCode>(serde_json::json!(code.as_str())).unwrap(), code);
        assert_eq!(ErrorCode::from_code(code.as_str()), Some(code));
        assert_eq!(code.to_string(), code.as_str());
        assert!(seen.insert(code.as_str()), "{code} twice");
    }
    assert_eq!(ErrorCode::from_code("surprise"), None);
}

#[test]
fn the_codes_the_ui_and_readme_document_exist() {
    // ui/COMMANDS.md, "Errors", and the README's conductor `error` event.
    for name in [
        "empty_prompt",
        "nothing_reachable",
        "conductor_failed",
        "cancelled",
        "unknown_query",
        "query_running",
        "nothing_fits",
        "unknown_model",
        "insufficient_space",
        "hash_mismatch",
        "size_mismatch",
        "unverified_model",
        "model_changed",
        "too_large",
        "insecure_url",
        "redirect_refused",
        "not_installed",
        "busy",
        "network_off",
        "invalid_settings",
        "store",
        "invalid_model",
        "internal",
    ] {
        assert!(ErrorCode::from_code(name).is_some(), "{name}");
    }
}

#[test]
fn download_errors_keep_their_own_codes() {
    let cases = [
        chorus_core::DownloadError::Cancelled,
        chorus_core::DownloadError::InvalidRequest { reason: "x".into() },
        chorus_core::DownloadError::Client { reason: "x".into() },
        chorus_core::DownloadError::HttpStatus { url: "u".into(), status: 404 },
        chorus_core::DownloadError::InsecureUrl { url: "http://192.0.2.1/m".into() },
        chorus_core::DownloadError::RedirectRefused { url: "u".into(), to: "v".into(), reason: "w".into() },
        chorus_core::DownloadError::TooLarge { limit: 1, actual: 2 },
    ];
    for error in &cases {
        assert_eq!(ErrorCode::from(error).as_str(), error.code());
        assert_ne!(ErrorCode::from(error), ErrorCode::Internal, "{error}");
    }
}

/// A journal under a plain file cannot be opened.
fn unopenable_store() -> chorus_core::StoreError {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    chorus_core::Store::open(file.join("journal")).unwrap_err()
}

/// A file that fails the GGUF check.
fn bad_gguf() -> chorus_engine::GgufError {
    chorus_engine::inspect_gguf(std::path::Path::new("/nonexistent/m.gguf")).unwrap_err()
}

/// One of each [`NodeError`] variant; the match below stops the build when
/// a variant is added without a case here.
fn every_node_error() -> Vec<(NodeError, &'static str)> {
    let cases: Vec<(NodeError, &str)> = vec![
        (NodeError::ModelNotFound { file: "m.gguf".into(), searched: "/models".into() }, "model_not_found"),
        (NodeError::InvalidModel(bad_gguf()), "invalid_model"),
        (NodeError::Load(chorus_engine::LoadError::InvalidFile(bad_gguf())), "invalid_model"),
        (NodeError::Engine(chorus_engine::EngineError::Backend("x".into())), "internal"),
        (
            NodeError::Load(chorus_engine::LoadError::Rejected { path: "m.gguf".into(), architecture: "x".into() }),
            "internal",
        ),
        (NodeError::Generate(GenerateError::EmptyPrompt), "empty_prompt"),
        (NodeError::Generate(GenerateError::Busy(3)), "busy"),
        (NodeError::Generate(GenerateError::WorkerGone), "internal"),
        (
            NodeError::Catalog(chorus_core::Catalog::load(std::path::Path::new("/nonexistent/c.json")).unwrap_err()),
            "catalog",
        ),
        (NodeError::Store(unopenable_store()), "store"),
        (NodeError::Store(chorus_core::StoreError::UnknownQuery(chorus_core::QueryId(3))), "unknown_query"),
        (NodeError::Store(chorus_core::StoreError::QueryRunning(chorus_core::QueryId(3))), "query_running"),
        (NodeError::InvalidBench("x".into()), "internal"),
        (NodeError::Models(ModelsError::UnknownModel { id: "x".into() }), "unknown_model"),
        (NodeError::Models(ModelsError::NotInstalled { id: "x".into() }), "not_installed"),
        (NodeError::Models(ModelsError::Cancelled { id: "x".into() }), "cancelled"),
        (
            NodeError::Models(ModelsError::HashMismatch { id: "x".into(), expected: "a".into(), actual: "b".into() }),
            "hash_mismatch",
        ),
        (NodeError::Models(ModelsError::SizeMismatch { id: "x".into(), expected: 1, actual: 2 }), "size_mismatch"),
        (
            NodeError::Models(ModelsError::InsufficientSpace { path: "/".into(), needed: 2, available: 1 }),
            "insufficient_space",
        ),
        (NodeError::Models(ModelsError::Internal("x".into())), "internal"),
        (NodeError::Models(ModelsError::Unverified { id: "x".into() }), "unverified_model"),
        (
            NodeError::Models(ModelsError::Changed {
                id: "x".into(),
                what: "the file downloaded now".into(),
                recorded: "a".into(),
                found: "sha256 b".into(),
            }),
            "model_changed",
        ),
        (NodeError::Network(chorus_net::NetError::Stopped), "network"),
        (NodeError::Identity(chorus_net::IdentityError::Corrupt { path: "k".into(), reason: "x".into() }), "network"),
        (NodeError::NetworkUnavailable("down".into()), "network"),
        (NodeError::InvalidSettings(crate::InvalidSettings("x".into())), "invalid_settings"),
        (NodeError::Io { path: "/data".into(), source: std::io::Error::other("x") }, "io"),
        (NodeError::Conductor(chorus_core::ConductorError::EmptyQuery), "empty_prompt"),
        (NodeError::Conductor(chorus_core::ConductorError::NothingReachable), "nothing_reachable"),
    ];
    for (error, _) in &cases {
        match error {
            NodeError::ModelNotFound { .. }
            | NodeError::InvalidModel(_)
            | NodeError::Engine(_)
            | NodeError::Load(_)
            | NodeError::Generate(_)
            | NodeError::Catalog(_)
            | NodeError::Store(_)
            | NodeError::InvalidBench(_)
            | NodeError::Models(_)
            | NodeError::Network(_)
            | NodeError::Identity(_)
            | NodeError::NetworkUnavailable(_)
            | NodeError::InvalidSettings(_)
            | NodeError::Io { .. }
            | NodeError::Conductor(_) => {}
        }
    }
    cases
}

#[test]
fn every_node_error_maps_to_a_code() {
    for (error, code) in every_node_error() {
        assert_eq!(error.code().as_str(), code, "{error}");
        let message = error.to_string();
        let reply = crate::ErrorReply::from(error);
        assert_eq!(reply.code.as_str(), code);
        assert_eq!(reply.message, message);
    }
}

#[test]
fn network_errors_keep_their_text() {
    assert_eq!(NodeError::Network(chorus_net::NetError::Stopped).to_string(), "network: the network has stopped");
    assert_eq!(
        NodeError::NetworkUnavailable("the network is not started".into()).to_string(),
        "network: the network is not started"
    );
    let error = NodeError::from(chorus_net::NetError::NoPeers);
    assert!(matches!(error, NodeError::Network(chorus_net::NetError::NoPeers)));
    // Not also a source: `{:#}` (the CLI's error line) prints the text once.
    assert!(std::error::Error::source(&error).is_none());
}

#[test]
fn replies_serialise_as_code_and_message() {
    let value = serde_json::to_value(crate::ErrorReply::new(ErrorCode::Busy, "try later")).unwrap();
    assert_eq!(value, serde_json::json!({"code": "busy", "message": "try later"}));
    assert_eq!(crate::ErrorReply::new(ErrorCode::Busy, "try later").to_string(), "busy: try later");
    assert_eq!(
        serde_json::to_value(crate::ErrorReply::empty_prompt()).unwrap(),
        serde_json::json!({"code": "empty_prompt", "message": "the question is empty"})
    );
}

#[test]
fn replies_become_error_events() {
    let event = crate::ErrorReply::empty_prompt().to_event();
    let today = serde_json::json!({"event": "error", "code": "empty_prompt", "message": "the question is empty"});
    assert_eq!(event, today);
    assert_eq!(event.to_string(), today.to_string());
}

#[test]
fn nothing_fits_comes_from_the_recommender() {
    let catalog = chorus_core::Catalog::bundled().unwrap();
    let profile =
        chorus_core::Profile { profession: "software developer".into(), storage_budget_bytes: 1, ..Default::default() };
    let error = chorus_core::recommend(&catalog, &profile).unwrap_err();
    let reply = crate::ErrorReply::from(NodeError::Models(ModelsError::Recommend(error)));
    assert_eq!(reply.code, ErrorCode::NothingFits);
}
