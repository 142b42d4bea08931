//! Joining again while this node knows no one.
//!
//! A node joins through its bootstrap peers once, at start. When none of
//! them can be reached then (offline at launch, a peer restarting, a seed
//! at its connection limit refusing newcomers), the node stays alone until
//! a lookup of its own or Kademlia's periodic refresh dials them again, and
//! what it announced at start reached no one.
//! While the node has no connection and its routing table holds no peer
//! but the bootstrap peers, this dials them again, waiting 1 s, then 2, 4,
//! … up to [`LONGEST`] between tries; the first connection after a redial
//! starts a Kademlia bootstrap, which fills the routing table. A node that
//! has joined (knows other peers) never redials the bootstrap peers, so
//! they are not loaded by the network's idle nodes.

use std::pin::Pin;
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tokio::time::{Instant, Sleep};

/// Wait before the first check.
const FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two redials, and between two checks once joined.
pub(in crate::network) const LONGEST: Duration = Duration::from_secs(64);

/// When to dial the bootstrap peers again (see the module docs).
pub(in crate::network) struct Rejoin {
    peers: Vec<(PeerId, Multiaddr)>,
    delay: Duration,
    timer: Pin<Box<Sleep>>,
    /// A redial is out: the next connection starts a Kademlia bootstrap.
    dialled: bool,
}

impl Rejoin {
    /// The bootstrap addresses that name a peer other than `own`.
    pub(in crate::network) fn new(bootstrap: &[Multiaddr], own: PeerId) -> Self {
        let peers = bootstrap
            .iter()
            .filter_map(|address| match address.iter().last() {
                Some(Protocol::P2p(peer)) if peer != own => Some((peer, address.clone())),
                _ => None,
            })
            .collect();
        Self { peers, delay: FIRST, timer: Box::pin(tokio::time::sleep(FIRST)), dialled: false }
    }

    /// Whether `peer` is one of the bootstrap peers.
    pub(in crate::network) fn is_bootstrap(&self, peer: &PeerId) -> bool {
        self.peers.iter().any(|(known, _)| known == peer)
    }

    /// The timer of the next check (poll it in the event loop).
    pub(in crate::network) fn timer(&mut self) -> &mut Pin<Box<Sleep>> {
        &mut self.timer
    }

    /// After the timer fired: the peers to dial now (none unless `alone`),
    /// with the timer set for the next check.
    pub(in crate::network) fn due(&mut self, alone: bool) -> &[(PeerId, Multiaddr)] {
        if self.peers.is_empty() {
            // Nothing to redial, ever: check rarely.
            self.timer.as_mut().reset(Instant::now() + LONGEST);
            return &[];
        }
        let wait = if alone { self.delay } else { LONGEST };
        self.delay = if alone { (self.delay * 2).min(LONGEST) } else { FIRST };
        self.timer.as_mut().reset(Instant::now() + wait);
        self.dialled |= alone;
        if alone { &self.peers } else { &[] }
    }

    /// A connection was established: whether a redial was out, so that a
    /// Kademlia bootstrap should start now.
    pub(in crate::network) fn connected(&mut self) -> bool {
        std::mem::take(&mut self.dialled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(peer: PeerId) -> Multiaddr {
        Multiaddr::empty().with(Protocol::Memory(7)).with(Protocol::P2p(peer))
    }

    #[tokio::test(start_paused = true)]
    async fn redials_with_a_doubling_wait_while_alone_and_stops_once_joined() {
        let own = PeerId::random();
        let seed = PeerId::random();
        let mut rejoin = Rejoin::new(&[address(seed), address(own), Multiaddr::empty()], own);
        assert!(rejoin.is_bootstrap(&seed) && !rejoin.is_bootstrap(&own), "only named peers other than this node");
        let mut waits = Vec::new();
        for _ in 0..9 {
            let before = Instant::now();
            rejoin.timer().as_mut().await;
            waits.push(before.elapsed().as_secs());
            assert_eq!(rejoin.due(true).len(), 1);
        }
        assert_eq!(waits, [1, 1, 2, 4, 8, 16, 32, 64, 64]);
        assert!(rejoin.connected(), "a redial was out");
        assert!(!rejoin.connected(), "one bootstrap per redial");
        assert!(rejoin.due(false).is_empty(), "a node that knows others does not redial");
        let before = Instant::now();
        rejoin.timer().as_mut().await;
        assert_eq!(before.elapsed(), LONGEST);
        assert_eq!(rejoin.due(true).len(), 1, "alone again: redials at once, the wait starts over");
        let before = Instant::now();
        rejoin.timer().as_mut().await;
        assert_eq!(before.elapsed(), FIRST);
    }

    #[tokio::test(start_paused = true)]
    async fn without_bootstrap_peers_nothing_is_dialled() {
        let mut rejoin = Rejoin::new(&[], PeerId::random());
        rejoin.timer().as_mut().await;
        assert!(rejoin.due(true).is_empty());
        assert!(!rejoin.connected());
    }
}
