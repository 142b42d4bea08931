//! Per-peer rate limits: a token bucket per peer, refilled continuously.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use libp2p::PeerId;

/// Most peers tracked at once; the oldest entries go first beyond this.
const MAX_TRACKED: usize = 4096;

/// Shared between the swarm task (status probes) and the task server.
#[derive(Clone, Debug)]
pub(crate) struct RateLimiter {
    per_minute: u32,
    buckets: Arc<Mutex<HashMap<PeerId, (f64, Instant)>>>,
}

impl RateLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Takes one request from `peer`'s bucket; false when it is empty.
    pub(crate) fn allow(&self, peer: &PeerId) -> bool {
        self.allow_at(peer, Instant::now())
    }

    fn allow_at(&self, peer: &PeerId, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = f64::from(self.per_minute);
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(peer) {
            let full: Vec<PeerId> = buckets
                .iter()
                .filter(|(_, (tokens, at))| {
                    *tokens + now.duration_since(*at).as_secs_f64() * capacity / 60.0 >= capacity
                })
                .map(|(peer, _)| *peer)
                .collect();
            for peer in full {
                buckets.remove(&peer);
            }
            if buckets.len() >= MAX_TRACKED {
                return false;
            }
        }
        let (tokens, at) = buckets.entry(*peer).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * capacity / 60.0).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_peer_gets_its_quota_then_waits_for_the_refill() {
        let limiter = RateLimiter::new(60);
        let peer = PeerId::random();
        let other = PeerId::random();
        let start = Instant::now();
        let allowed = (0..100).filter(|_| limiter.allow_at(&peer, start)).count();
        assert_eq!(allowed, 60);
        assert!(limiter.allow_at(&other, start), "limits are per peer");
        assert!(!limiter.allow_at(&peer, start + Duration::from_millis(500)));
        assert!(limiter.allow_at(&peer, start + Duration::from_secs(2)));
    }
}
