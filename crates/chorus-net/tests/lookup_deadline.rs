//! A lookup with a deadline answers with what it found by then: asking for
//! more providers than exist must not cost the ones that were found while
//! the lookup waits on a peer that never answers.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use chorus_net::{Keypair, Multiaddr, NetConfig, Network};

async fn start(bootstrap: Vec<Multiaddr>) -> (Network, Multiaddr) {
    let mut config = NetConfig::memory("/memory/0".parse().unwrap());
    config.bootstrap = bootstrap;
    // A hung peer holds a lookup this long: far longer than the test waits.
    config.substream_timeout = Duration::from_secs(60);
    config.kad_query_timeout = Duration::from_secs(120);
    let network = Network::start(Keypair::generate_ed25519(), config, None).await.unwrap();
    let address = network.listen_addrs().await.unwrap().remove(0);
    let id = network.peer_id();
    (network, address.with(libp2p::multiaddr::Protocol::P2p(id)))
}

#[tokio::test]
async fn a_lookup_past_its_deadline_answers_with_the_providers_found() {
    let (seed, seed_address) = start(Vec::new()).await;
    let (provider, _) = start(vec![seed_address.clone()]).await;
    let (hung, _) = start(vec![seed_address.clone()]).await;
    let (asker, _) = start(vec![seed_address]).await;
    let specialist = "writing.deadline";
    let mut reached = 0;
    for _ in 0..20 {
        reached = provider.set_provided(BTreeSet::from([specialist.to_owned()])).await.unwrap();
        if reached == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(reached, 1, "the announcement reached no one");
    // The asker knows the hung peer (bounded wait), which then stops answering.
    for _ in 0..40 {
        if asker.peers().await.unwrap().iter().any(|peer| peer.peer_id == hung.peer_id().to_string()) {
            break;
        }
        let _ = asker.bootstrap().await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    hung.freeze(true).await.unwrap();

    // Five providers wanted, one exists: the lookup goes on until every peer
    // answered, and the hung one never does (60 s). With a deadline of 1 s
    // it answers with the one found; the 20 s bound is far from both.
    let lookup = tokio::time::timeout(
        Duration::from_secs(20),
        asker.find_providers_within(specialist, 5, Duration::from_secs(1)),
    )
    .await
    .expect("the lookup ignored its deadline")
    .unwrap();
    assert_eq!(lookup.providers, vec![provider.peer_id()]);
    drop(seed);
}
