//! Switching privacy at run time, as the app does: a node joins the
//! network, its serving limits change live (a peer's status probe sees
//! them), and it leaves again: the network stops, and a clone taken before
//! sees the same stopped network. Real nodes on TCP loopback.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use chorus_core::ServeLimits;
use chorus_node::{NetworkSettings, Node, NodeConfig, ServeSettings};

fn config(data: &tempfile::TempDir) -> NodeConfig {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(model.exists(), "run scripts/setup.sh first: {} is missing", model.display());
    NodeConfig {
        model: Some(model),
        threads: Some(1),
        data_dir: Some(data.path().to_path_buf()),
        ..NodeConfig::default()
    }
}

fn loopback(serve: Option<ServeSettings>, bootstrap: Vec<chorus_node::net::Multiaddr>) -> NetworkSettings {
    NetworkSettings {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap,
        mdns: false,
        serve,
        ..NetworkSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_change_live_and_leaving_stops_the_network() {
    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Node::start(config(&data_a)).unwrap();
    let limits = ServeLimits { max_slots: 1, ..ServeLimits::default() };
    a.join_network(loopback(Some(ServeSettings { limits: limits.clone(), ..ServeSettings::default() }), vec![]))
        .await
        .unwrap();
    let network_a = a.network().unwrap().clone();
    let mut address = Vec::new();
    for _ in 0..50 {
        address = network_a.listen_addrs().await.unwrap();
        if !address.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let b = Node::start(config(&data_b)).unwrap();
    b.join_network(loopback(None, vec![address[0].clone()])).await.unwrap();
    let network_b = b.network().unwrap().clone();
    network_b.dial(address[0].clone()).await.unwrap();

    let probe = || async {
        tokio::time::timeout(Duration::from_secs(5), network_b.status(network_a.peer_id())).await.unwrap().unwrap()
    };
    let status = probe().await;
    assert!(status.serving);
    assert_eq!(status.total_slots, 1);

    // Live: more slots, then serving off, without restarting anything.
    assert!(a.set_serve_limits(ServeLimits { max_slots: 3, ..limits.clone() }));
    assert_eq!(probe().await.total_slots, 3);
    assert!(a.set_serve_limits(ServeLimits { serve: false, ..limits.clone() }));
    assert!(!probe().await.serving);
    assert!(!b.set_serve_limits(limits), "a node that does not serve has no limits to change");

    // Leaving: the network task stops; snapshots share it; queries run on-device.
    let snapshot = a.clone();
    a.leave_network();
    assert!(a.network().is_none() && a.service().is_none());
    assert!(!network_a.is_running());
    assert!(!snapshot.network().unwrap().is_running());
    let conversation = a.conduct_with("hello", false).unwrap();
    drop(conversation);
    let mode = a.store().list_queries(1, 0).unwrap()[0].mode.clone();
    assert_eq!(mode, "on_device");
    a.leave_network(); // twice is harmless

    // And joining again works (same identity).
    a.join_network(loopback(None, vec![])).await.unwrap();
    assert_eq!(a.network().unwrap().peer_id(), network_a.peer_id());
    a.leave_network();
    b.leave_network();
}
