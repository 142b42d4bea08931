//! A node whose bootstrap peer cannot be reached when it starts joins once
//! the peer is up, by itself: it dials its bootstrap peers again while it
//! knows no one, and announces again what it provides, so others find it
//! within seconds (not at the next periodic refresh, half an hour away).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

use chorus_net::{Keypair, Multiaddr, NetConfig, Network};

async fn start(key: Keypair, listen: &str, bootstrap: Vec<Multiaddr>) -> Network {
    let mut config = NetConfig::memory(listen.parse().unwrap());
    config.bootstrap = bootstrap;
    Network::start(key, config, None).await.unwrap()
}

#[tokio::test]
async fn a_provider_started_before_its_bootstrap_peer_is_found_once_the_peer_is_up() {
    // A memory address nobody listens on yet.
    let port = RandomState::new().hash_one("rejoin") | 1;
    let seed_key = Keypair::generate_ed25519();
    let seed_id = seed_key.public().to_peer_id();
    let seed_address: Multiaddr = format!("/memory/{port}/p2p/{seed_id}").parse().unwrap();

    let provider = start(Keypair::generate_ed25519(), "/memory/0", vec![seed_address.clone()]).await;
    let specialist = "writing.rejoin";
    let reached = provider.set_provided(BTreeSet::from([specialist.to_owned()])).await.unwrap_or(0);
    assert_eq!(reached, 0, "the announcement reached someone before anyone was up");
    let peers = provider.peers().await.unwrap();
    assert!(!peers.iter().any(|peer| peer.connected), "connected to {peers:?} before anyone was up");

    // The seed comes up, and a node that asks joins through it. The
    // provider does nothing more: it must dial the seed again by itself.
    let seed = start(seed_key, &format!("/memory/{port}"), Vec::new()).await;
    let asker = start(Keypair::generate_ed25519(), "/memory/0", vec![seed_address]).await;

    // Its waits double from 1 s, so it redials within about 2 s of the seed
    // coming up; bounded at 20 s.
    let mut found = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(lookup) = asker.find_providers(specialist, 1).await {
            found = lookup.providers;
            if !found.is_empty() {
                break;
            }
        }
    }
    assert_eq!(found, vec![provider.peer_id()], "the provider never joined");
    drop(seed);
}
