//! A hung peer (connection open, nothing answered) is noticed from its
//! Kademlia timeouts and quarantined, and lookups then skip it at once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chorus_net::{Keypair, Multiaddr, NetConfig, Network};

async fn node(bootstrap: Vec<Multiaddr>) -> (Network, Multiaddr) {
    let mut config = NetConfig::memory("/memory/0".parse().unwrap());
    config.bootstrap = bootstrap;
    config.substream_timeout = Duration::from_secs(1);
    let network = Network::start(Keypair::generate_ed25519(), config, None).await.unwrap();
    let address = network.listen_addrs().await.unwrap().remove(0);
    (network, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_peer_is_quarantined_after_two_timeouts_and_skipped() {
    let (_hub, hub_address) = node(Vec::new()).await;
    let (provider, _) = node(vec![hub_address.clone()]).await;
    let (hung, _) = node(vec![hub_address.clone()]).await;
    let (requester, _) = node(vec![hub_address]).await;

    // Everyone knows everyone, and the record is in place.
    let specialist = "writing.quarantine";
    let mut found = false;
    for _ in 0..50 {
        let _ = provider.set_provided(BTreeSet::from([specialist.to_owned()])).await.unwrap();
        let peers = requester.peers().await.unwrap();
        let knows_hung = peers.iter().any(|peer| peer.peer_id == hung.peer_id().to_string() && peer.connected);
        if knows_hung && !requester.find_providers(specialist, 1).await.unwrap().providers.is_empty() {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the requester knows the peer and finds the provider");
    assert!(requester.quarantined().await.unwrap().is_empty());

    hung.freeze(true).await.unwrap();
    // A lookup that stops at the first provider may end before its request
    // to the hung peer times out, and then records no timeout. A lookup of
    // a specialist nobody provides cannot stop early: it asks every peer it
    // learns of, the hung one included, and ends only once that request has
    // timed out (`substream_timeout`). Two timeouts in a row with nothing
    // heard in between quarantine the peer, so two rounds do it; the bound
    // only guards against a hang.
    let mut quarantined = Vec::new();
    for _ in 0..10 {
        let lookup = requester.find_providers(specialist, 1).await.unwrap();
        assert_eq!(lookup.providers, vec![provider.peer_id()]);
        let lookup = requester.find_providers("nobody.provides.this", 1).await.unwrap();
        assert!(lookup.providers.is_empty());
        quarantined = requester.quarantined().await.unwrap();
        if !quarantined.is_empty() {
            break;
        }
    }
    assert_eq!(quarantined, vec![hung.peer_id()]);

    // Quarantined: no longer connected, and a dial to it is refused at once.
    // The quarantine closes the connection; the close is reported a moment
    // later (the lookup that recorded the second timeout may answer first),
    // so wait for it.
    let mut connected = true;
    for _ in 0..100 {
        let peers = requester.peers().await.unwrap();
        connected = peers.iter().any(|peer| peer.peer_id == hung.peer_id().to_string() && peer.connected);
        if !connected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!connected, "the quarantined peer is disconnected");
    let started = Instant::now();
    let lookup = requester.find_providers(specialist, 1).await.unwrap();
    assert_eq!(lookup.providers, vec![provider.peer_id()]);
    assert!(started.elapsed() < Duration::from_millis(900));
    hung.shutdown();
}
