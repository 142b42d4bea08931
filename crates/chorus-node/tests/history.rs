//! Past questions deleted through the node, on the real embedded model: a
//! running question is refused (`query_running`) and can be deleted as soon
//! as its stream has ended; unknown ids; deleting all; the history setting;
//! the data folder and the identity key made private at start.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chorus_core::{ConductorEvent, QueryId, QueryOutcome, QueryStatus};
use chorus_node::{Node, NodeConfig, NodeError};

fn model_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/setup.sh first: {} is missing", path.display());
    path
}

fn start(data: &Path, history_days: Option<u32>) -> Result<Node, NodeError> {
    Node::start(NodeConfig {
        model: Some(model_path()),
        threads: Some(1),
        data_dir: Some(data.to_path_buf()),
        history_days,
        ..NodeConfig::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_is_deleted_once_its_stream_has_ended_and_stays_deleted() {
    let data = tempfile::tempdir().unwrap();
    let node = start(data.path(), None).unwrap();
    let mut conversation = node.conduct_with("How do I reverse a list in Python?", true).unwrap();
    let id = conversation.query_id;
    // Running: the conductor still writes to it.
    let refused = node.delete_query(id).unwrap_err();
    assert_eq!(refused.code().as_str(), "query_running", "{refused}");
    assert!(node.delete_history().unwrap().is_empty(), "delete all keeps the running question");

    let mut last = None;
    while let Some(event) = conversation.events.recv().await {
        last = Some(event);
    }
    assert!(matches!(last, Some(ConductorEvent::Done { .. })), "{last:?}");
    // The journal has the question finished by the time `done` arrives, so
    // it can be deleted at once.
    assert_eq!(node.store().query(id).unwrap().unwrap().status, QueryStatus::Done);
    node.delete_query(id).unwrap();
    assert!(node.store().query(id).unwrap().is_none());
    assert!(node.store().list_queries(10, 0).unwrap().is_empty());
    let again = node.delete_query(id).unwrap_err();
    assert_eq!(again.code().as_str(), "unknown_query", "{again}");

    drop(node);
    let node = start(data.path(), None).unwrap();
    assert!(node.store().query(id).unwrap().is_none(), "a deleted question does not come back");
    assert_eq!(node.delete_query(QueryId(42)).unwrap_err().code().as_str(), "unknown_query");
}

fn finished_question(node: &Node, text: &str) -> QueryId {
    let id = node.store().begin_query(text, "on_device").unwrap();
    node.store().finish_query(id, QueryOutcome::Done { answer: "ok".into() }).unwrap();
    id
}

#[test]
fn deleting_all_and_the_history_setting() {
    let data = tempfile::tempdir().unwrap();
    let node = start(data.path(), Some(30)).unwrap();
    assert_eq!(node.history_days(), Some(30));
    let ids: Vec<QueryId> = (0..3).map(|n| finished_question(&node, &format!("question {n}"))).collect();
    // Asked today: 1 day keeps them all.
    assert_eq!(node.set_history_days(Some(1)).unwrap(), 0);
    assert_eq!(node.clone().history_days(), Some(1), "clones share the setting");
    assert_eq!(node.store().list_queries(10, 0).unwrap().len(), 3);
    for bad in [0, 36_501] {
        let error = node.set_history_days(Some(bad)).unwrap_err();
        assert_eq!(error.code().as_str(), "invalid_settings", "{bad}: {error}");
    }
    assert_eq!(node.history_days(), Some(1), "a refused value changes nothing");
    node.set_history_days(None).unwrap();
    assert_eq!(node.history_days(), None);

    assert_eq!(node.delete_history().unwrap(), ids);
    assert!(node.store().list_queries(10, 0).unwrap().is_empty());
    assert!(node.delete_history().unwrap().is_empty());
    drop(node);

    let error = start(data.path(), Some(0)).unwrap_err();
    assert_eq!(error.code().as_str(), "invalid_settings");
}

#[cfg(unix)]
#[test]
fn the_data_folder_and_the_identity_key_are_made_private_at_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();

    let fresh = root.path().join("fresh/chorus");
    drop(start(&fresh, None).unwrap());
    assert_eq!(mode(&fresh), 0o700);

    let open = root.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let peer = chorus_node::net::load_or_create_identity(&open).unwrap().public().to_peer_id();
    let key = open.join(chorus_node::net::KEY_FILE);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(start(&open, None).unwrap());
    assert_eq!((mode(&open), mode(&key)), (0o700, 0o600));
    // The key itself is untouched.
    assert_eq!(chorus_node::net::load_or_create_identity(&open).unwrap().public().to_peer_id(), peer);
}
