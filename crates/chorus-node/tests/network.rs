//! Real nodes on TCP loopback in one process, on the real embedded model:
//! sub-tasks run on peers found in the DHT, every remote task is paid for
//! with a receipt the requester verified, and both ledgers agree.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use chorus_core::{ConductorEvent, SubtaskStatus};
use chorus_node::{Node, NodeConfig, start_cluster};

fn base() -> NodeConfig {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(model.exists(), "run scripts/setup.sh first: {} is missing", model.display());
    NodeConfig { model: Some(model), threads: Some(1), context: 2048, parallel: 2, ..NodeConfig::default() }
}

async fn events(node: &Node, query: &str, on_device_only: bool) -> Vec<ConductorEvent> {
    let mut conversation = node.conduct_with(query, on_device_only).expect("query starts");
    let mut events = Vec::new();
    while let Some(event) = conversation.events.recv().await {
        events.push(event);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_runs_the_sub_task_and_both_ledgers_count_the_verified_work() {
    let root = tempfile::tempdir().unwrap();
    let servers = vec![
        ("node-a".to_owned(), BTreeSet::from(["software.python".to_owned(), "general.assistant".to_owned()])),
        ("node-b".to_owned(), BTreeSet::from(["marketing.strategy".to_owned()])),
    ];
    let cluster = start_cluster(&base(), root.path().to_path_buf(), servers).await.expect("cluster forms");
    let node_a = &cluster.servers[0];

    let events = events(&cluster.requester, "How do I reverse a list in Python?", false).await;
    let Some(ConductorEvent::Done { subtasks, answer, .. }) = events.last() else { panic!("no done: {events:?}") };
    assert_eq!(subtasks.len(), 1);
    assert_eq!(subtasks[0].status, SubtaskStatus::Done, "{:?}", subtasks[0].error);
    assert_eq!(subtasks[0].executor, node_a.peer_id, "the requester runs no specialist itself");
    assert!(!answer.trim().is_empty());
    let tokens = u64::from(subtasks[0].tokens);
    assert!(tokens > 0);

    // The requester counted what it received (after verifying the receipt),
    // the executor what it gave: the same tokens.
    let received = cluster.requester.store().ledger(&node_a.peer_id).unwrap();
    assert_eq!((received.tasks_received, received.tokens_received), (1, tokens));
    // The executor knows the requester only by the identity it asks
    // under, not by the device identity it serves and announces under.
    assert_ne!(cluster.asking_id, cluster.requester_id);
    let given = node_a.node.store().ledger(&cluster.asking_id).unwrap();
    assert_eq!((given.tasks_given, given.tokens_given), (1, tokens));
    assert_eq!(node_a.node.store().ledger(&cluster.requester_id).unwrap().tasks_given, 0);

    // `peers` shows node-a with its live status and standing.
    let peers = cluster.requester.peers().await.unwrap();
    let view = peers.iter().find(|peer| peer.peer_id == node_a.peer_id).expect("node-a is known");
    assert!(view.connected);
    let status = view.status.as_ref().expect("node-a answered the status probe");
    assert!(status.specialists.contains(&"software.python".to_owned()));
    assert_eq!(view.standing, i64::try_from(tokens).unwrap());

    // The per-query "on-device only" override: nothing leaves the device,
    // and this device runs no specialist, so the query cannot be answered.
    let local_only = crate::events(&cluster.requester, "How do I reverse a list in Python?", true).await;
    assert!(
        matches!(local_only.last(), Some(ConductorEvent::Error { code, .. }) if code == "nothing_reachable"),
        "{local_only:?}"
    );
    assert_eq!(cluster.requester.store().ledger(&node_a.peer_id).unwrap().tasks_received, 1);
}
