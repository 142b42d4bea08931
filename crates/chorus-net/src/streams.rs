//! Task streams open per peer, counted while they live: the server caps
//! each requester's inbound streams with them, and the network task keeps
//! the connection of a peer it quarantines for Kademlia timeouts while a
//! task runs over it either way (a peer busy generating may be slow to
//! answer Kademlia; its task must not die for that).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use libp2p::PeerId;

/// Open task streams per peer, one direction.
#[derive(Clone, Default)]
pub(crate) struct OpenStreams(Arc<Mutex<HashMap<PeerId, usize>>>);

impl OpenStreams {
    /// Counts one more stream with `peer`, unless it holds `cap` already.
    pub(crate) fn enter(&self, peer: PeerId, cap: usize) -> Option<OpenStream> {
        let mut open = self.0.lock().ok()?;
        let count = open.entry(peer).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(OpenStream { streams: self.clone(), peer })
    }

    /// Streams open with `peer` now.
    pub(crate) fn with(&self, peer: &PeerId) -> usize {
        self.0.lock().map_or(0, |open| open.get(peer).copied().unwrap_or(0))
    }
}

/// One counted stream; dropping it frees the place (and forgets a peer with
/// none left, so the map stays as small as the streams open).
pub(crate) struct OpenStream {
    streams: OpenStreams,
    peer: PeerId,
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        if let Ok(mut open) = self.streams.0.lock()
            && let Some(count) = open.get_mut(&self.peer)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_counted_capped_and_forgotten() {
        let streams = OpenStreams::default();
        let peer = PeerId::random();
        let first = streams.enter(peer, 2).unwrap();
        let second = streams.enter(peer, 2).unwrap();
        assert!(streams.enter(peer, 2).is_none());
        assert_eq!(streams.with(&peer), 2);
        drop(first);
        assert_eq!(streams.with(&peer), 1);
        drop(second);
        assert_eq!(streams.with(&peer), 0);
        assert!(streams.0.lock().unwrap().is_empty());
    }
}
