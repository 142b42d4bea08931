//! Room for this node's own dials. libp2p's `connection_limits` only
//! refuses a connection beyond the limit; a node whose lookups connected it
//! to 256 peers within the idle timeout could then not reach the provider
//! it wants to ask — every dial denied by itself (BENCHMARKS.md, "A thousand
//! nodes in one process"). As go-libp2p's connection manager does, with
//! high and low water marks: at [`Trim::high`] established connections
//! (the limit less a sixteenth) the node closes the connections it used
//! least recently until three quarters of the limit stay. Never closed: the
//! bootstrap peers, and peers a task stream, status probe or dial is under
//! way with. Connections younger than the grace period (a lookup or a task
//! is about to use them) are closed only as far as it takes to get back
//! under the high mark: a burst of lookups must not fill the limit.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use libp2p::PeerId;

use super::EventLoop;

impl EventLoop {
    /// Closes the connections used least recently once the node nears its
    /// limit (see the module docs).
    pub(super) fn trim_connections(&mut self) {
        let established =
            usize::try_from(self.swarm.network_info().connection_counters().num_established()).unwrap_or(usize::MAX);
        if !self.trim.due(established) {
            return;
        }
        let probed: HashSet<PeerId> = self.pending_status.values().map(|(peer, _)| *peer).collect();
        let now = Instant::now();
        let kad = &self.swarm.behaviour().kad;
        let held = self
            .peers
            .iter()
            .filter(|(_, state)| state.connections > 0)
            .map(|(peer, state)| Held {
                peer: *peer,
                connections: usize::try_from(state.connections).unwrap_or(usize::MAX),
                since: state.since.unwrap_or(now),
                used: state.used.max(kad.heard(peer)).unwrap_or(now),
                spared: self.rejoin.is_bootstrap(peer)
                    || probed.contains(peer)
                    || self.pending_dials.contains_key(peer)
                    || self.task_streams.iter().any(|streams| streams.with(peer) > 0),
            })
            .collect();
        let chosen = self.trim.choose(established, held, now);
        if !chosen.is_empty() {
            tracing::debug!(established, closing = chosen.len(), "near the connection limit: closing the least used");
        }
        for peer in chosen {
            if self.swarm.disconnect_peer_id(peer).is_err() {
                self.trim.closed(&peer); // not connected after all
            }
        }
    }
}

/// A connected peer as the trim sees it.
pub(super) struct Held {
    pub(super) peer: PeerId,
    /// Its established connections.
    pub(super) connections: usize,
    /// When its first connection of the current run was established.
    pub(super) since: Instant,
    /// When this node last used it: connected, probed, was probed, heard
    /// from by Kademlia.
    pub(super) used: Instant,
    /// Must stay: a bootstrap peer, or a task stream, probe or dial with it.
    pub(super) spared: bool,
}

/// The water marks, and the peers being disconnected.
pub(super) struct Trim {
    /// At this many established connections, trim.
    high: usize,
    /// Trim down to this many.
    low: usize,
    /// Connections younger than this go last, and only down to the high mark.
    grace: Duration,
    /// Peers disconnected whose connections have not closed yet: counted as
    /// gone, so a second trim before they close does not close more.
    closing: HashSet<PeerId>,
}

impl Trim {
    /// Marks for a limit of `max_connections` established connections.
    pub(super) fn new(max_connections: u32, grace: Duration) -> Self {
        let max = usize::try_from(max_connections).unwrap_or(usize::MAX);
        let high = max.saturating_sub((max / 16).max(1)).max(1);
        let low = (max / 4 * 3).min(high - 1);
        Self { high, low, grace, closing: HashSet::new() }
    }

    /// Whether `established` connections may call for a trim (cheap: the
    /// caller gathers the peers only then).
    pub(super) fn due(&self, established: usize) -> bool {
        established >= self.high
    }

    /// The peers to disconnect, least recently used first, remembered as
    /// closing: connections past the grace period until the low mark of
    /// connections stays, and young ones only as far as it takes to get
    /// back under the high mark (a burst of new connections must not fill
    /// the limit). None while the connections not already closing are
    /// under the high mark.
    pub(super) fn choose(&mut self, established: usize, mut held: Vec<Held>, now: Instant) -> Vec<PeerId> {
        let closing: usize =
            held.iter().filter(|peer| self.closing.contains(&peer.peer)).map(|peer| peer.connections).sum();
        let staying = established.saturating_sub(closing);
        if staying < self.high {
            return Vec::new();
        }
        held.retain(|peer| !peer.spared && !self.closing.contains(&peer.peer));
        let grace = self.grace;
        let (mut old, mut young): (Vec<Held>, Vec<Held>) =
            held.into_iter().partition(|peer| now.saturating_duration_since(peer.since) >= grace);
        old.sort_by_key(|peer| peer.used);
        young.sort_by_key(|peer| peer.used);
        let mut staying = staying;
        let mut chosen = Vec::new();
        let old = old.into_iter().map(|peer| (peer, self.low));
        let young = young.into_iter().map(|peer| (peer, self.high - 1));
        for (peer, mark) in old.chain(young) {
            if staying <= mark {
                continue;
            }
            staying = staying.saturating_sub(peer.connections);
            self.closing.insert(peer.peer);
            chosen.push(peer.peer);
        }
        chosen
    }

    /// `peer`'s last connection closed.
    pub(super) fn closed(&mut self, peer: &PeerId) {
        self.closing.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` peers connected a minute ago, used in their order.
    fn held(count: u64, now: Instant) -> Vec<Held> {
        let minute_ago = now.checked_sub(Duration::from_secs(60)).unwrap_or(now);
        (0..count)
            .map(|i| Held {
                peer: PeerId::random(),
                connections: 1,
                since: minute_ago,
                used: minute_ago + Duration::from_millis(i),
                spared: false,
            })
            .collect()
    }

    #[test]
    fn the_marks_leave_room_below_the_limit() {
        let trim = Trim::new(256, Duration::ZERO);
        assert_eq!((trim.high, trim.low), (240, 192));
        let trim = Trim::new(8, Duration::ZERO);
        assert_eq!((trim.high, trim.low), (7, 6));
        let trim = Trim::new(1, Duration::ZERO);
        assert_eq!((trim.high, trim.low), (1, 0));
    }

    #[test]
    fn the_least_recently_used_go_down_to_the_low_mark() {
        let now = Instant::now();
        let mut trim = Trim::new(256, Duration::from_secs(10));
        assert!(!trim.due(239) && trim.due(240));
        let peers = held(240, now);
        let oldest: HashSet<PeerId> = peers[..48].iter().map(|peer| peer.peer).collect();
        assert!(trim.choose(239, held(239, now), now).is_empty());
        let chosen = trim.choose(240, peers, now);
        assert_eq!(chosen.len(), 48);
        assert!(chosen.iter().all(|peer| oldest.contains(peer)), "not the least recently used");
    }

    #[test]
    fn spared_and_young_connections_stay_and_closing_ones_count_as_gone() {
        let now = Instant::now();
        let mut trim = Trim::new(16, Duration::from_secs(10));
        let mut peers = held(15, now);
        for peer in &mut peers[..8] {
            peer.spared = true;
        }
        for peer in &mut peers[8..11] {
            peer.since = now;
        }
        let free: Vec<PeerId> = peers[11..].iter().map(|peer| peer.peer).collect();
        let keep: Vec<PeerId> = peers.iter().map(|peer| peer.peer).collect();
        // 15 established, low mark 12: three go, only among the four free.
        let chosen = trim.choose(15, peers, now);
        assert_eq!(chosen.len(), 3);
        assert!(chosen.iter().all(|peer| free.contains(peer)));
        // A new connection before those three closed: 16 established, 13
        // staying, under the high mark of 15: nothing more goes.
        let mut again = held(1, now);
        again.extend(keep.iter().map(|peer| Held {
            peer: *peer,
            connections: 1,
            since: now.checked_sub(Duration::from_secs(60)).unwrap_or(now),
            used: now,
            spared: false,
        }));
        assert!(trim.choose(16, again, now).is_empty());
        for peer in &chosen {
            trim.closed(peer);
        }
        assert!(trim.closing.is_empty());
    }

    #[test]
    fn a_burst_of_young_connections_is_cut_back_under_the_high_mark_only() {
        let now = Instant::now();
        let mut trim = Trim::new(256, Duration::from_secs(10));
        let mut peers = held(250, now);
        for peer in &mut peers[10..] {
            peer.since = now;
        }
        // Ten old ones all go (down to 240), then young ones, least
        // recently used first, until 239 stay: one more.
        let oldest_young = peers[10].peer;
        let chosen = trim.choose(250, peers, now);
        assert_eq!(chosen.len(), 11);
        assert!(chosen.contains(&oldest_young));
    }
}
