//! What this device measured of each peer it sent work to: successes,
//! failures, the tokens it counted arriving and how long they took, and
//! whether the peer is demoted. Nothing here comes from what a peer says
//! about itself; placement ranks by it (`crate::placement`).

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TREE_MEASURED, decode, encode};

/// How long a peer stays demoted after its first failure in a row; each
/// further failure in a row doubles it, up to [`DEMOTION_MAX_MS`].
pub const DEMOTION_BASE_MS: u64 = 10 * 60 * 1_000;
/// The longest demotion: a day.
pub const DEMOTION_MAX_MS: u64 = 24 * 60 * 60 * 1_000;
/// Tokens that must have been counted before a measured speed counts: one
/// short answer says little about a peer's speed.
pub const MIN_MEASURED_TOKENS: u64 = 16;

/// What this device measured of one peer as its executor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRecord {
    /// Tasks it finished with a verified receipt.
    #[serde(default)]
    pub succeeded: u64,
    /// Tasks that failed on it: an error, a hang past the deadline, a
    /// broken frame, a receipt that did not verify, a specialist it
    /// announced and then did not have.
    #[serde(default)]
    pub failed: u64,
    /// Failures since its last success.
    #[serde(default)]
    pub failures_in_a_row: u32,
    /// Until when (unix milliseconds) it ranks after every peer that is not
    /// demoted; 0 when it never was.
    #[serde(default)]
    pub demoted_until_ms: u64,
    /// Tokens counted arriving on its successful tasks (this device's count,
    /// not the peer's).
    #[serde(default)]
    pub tokens: u64,
    /// Milliseconds those tasks took, from the request sent to the last frame.
    #[serde(default)]
    pub ms: u64,
}

impl PeerRecord {
    /// Tokens per second over its successful tasks, once enough tokens
    /// were counted to say.
    #[must_use]
    pub fn tokens_per_s(&self) -> Option<f32> {
        if self.tokens < MIN_MEASURED_TOKENS || self.ms == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)] // a rate, not a count
        let rate = (self.tokens as f64 * 1_000.0 / self.ms as f64) as f32;
        Some(rate)
    }

    /// Whether it is demoted at `now_ms`.
    #[must_use]
    pub fn demoted(&self, now_ms: u64) -> bool {
        now_ms < self.demoted_until_ms
    }

    /// Whether any task of it was seen to end.
    #[must_use]
    pub fn measured(&self) -> bool {
        self.succeeded + self.failed > 0
    }

    fn with(mut self, outcome: TaskOutcome, now_ms: u64) -> Self {
        match outcome {
            TaskOutcome::Succeeded { tokens, ms } => {
                self.succeeded = self.succeeded.saturating_add(1);
                self.failures_in_a_row = 0;
                self.tokens = self.tokens.saturating_add(tokens);
                self.ms = self.ms.saturating_add(ms.max(1));
            }
            TaskOutcome::Failed => {
                self.failed = self.failed.saturating_add(1);
                self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
                let doublings = self.failures_in_a_row.saturating_sub(1).min(16);
                let length = DEMOTION_BASE_MS.saturating_mul(1 << doublings).min(DEMOTION_MAX_MS);
                self.demoted_until_ms = self.demoted_until_ms.max(now_ms.saturating_add(length));
            }
        }
        self
    }
}

/// How a task sent to a peer ended, as this device saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Finished with a verified receipt: the tokens this device counted
    /// arriving and the milliseconds it took.
    Succeeded {
        /// Tokens counted arriving.
        tokens: u64,
        /// From the request sent to the last frame.
        ms: u64,
    },
    /// Failed on the peer's side (see [`PeerRecord::failed`]): the peer is
    /// demoted at once.
    Failed,
}

impl Store {
    /// Adds a task's outcome to the peer's record atomically and returns
    /// the new record. Flushed: a demotion outlives the process.
    pub fn record_task(&self, peer: &str, outcome: TaskOutcome, now_ms: u64) -> Result<PeerRecord, StoreError> {
        let mut failure: Option<StoreError> = None;
        let updated = self.inner.measured.update_and_fetch(peer.as_bytes(), |old| {
            failure = None;
            let current = match old {
                None => PeerRecord::default(),
                Some(bytes) => match decode::<PeerRecord>(TREE_MEASURED, || peer.to_owned(), bytes) {
                    Ok(record) => record,
                    // A corrupt record is replaced: it only ever held
                    // this device's own measurements.
                    Err(error) => {
                        tracing::warn!(%error, "replacing a corrupt peer record");
                        PeerRecord::default()
                    }
                },
            };
            match encode(&current.with(outcome, now_ms)) {
                Ok(encoded) => Some(encoded),
                Err(error) => {
                    failure = Some(error);
                    old.map(<[u8]>::to_vec)
                }
            }
        })?;
        if let Some(error) = failure {
            return Err(error);
        }
        self.flush()?;
        match updated {
            Some(bytes) => decode(TREE_MEASURED, || peer.to_owned(), &bytes),
            None => Ok(PeerRecord::default()),
        }
    }

    /// What this device measured of `peer` (all zero if it never ran a task
    /// for it, or its record is corrupt).
    #[must_use]
    pub fn peer_record(&self, peer: &str) -> PeerRecord {
        match self.inner.measured.get(peer.as_bytes()) {
            Ok(Some(bytes)) => decode(TREE_MEASURED, || peer.to_owned(), &bytes).unwrap_or_default(),
            Ok(None) => PeerRecord::default(),
            Err(error) => {
                tracing::warn!(%error, "cannot read a peer record");
                PeerRecord::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_demotes_at_once_and_failures_in_a_row_double_it_up_to_a_day() {
        let store = Store::temporary().expect("store");
        let now = 1_000_000;
        let first = store.record_task("p", TaskOutcome::Failed, now).expect("record");
        assert!(first.demoted(now) && first.demoted(now + DEMOTION_BASE_MS - 1));
        assert!(!first.demoted(now + DEMOTION_BASE_MS));
        let second = store.record_task("p", TaskOutcome::Failed, now).expect("record");
        assert_eq!(second.demoted_until_ms, now + 2 * DEMOTION_BASE_MS);
        for _ in 0..40 {
            let _ = store.record_task("p", TaskOutcome::Failed, now).expect("record");
        }
        assert_eq!(store.peer_record("p").demoted_until_ms, now + DEMOTION_MAX_MS);
        // A success ends the run of failures, not the demotion already given.
        let after = store.record_task("p", TaskOutcome::Succeeded { tokens: 20, ms: 1_000 }, now).expect("record");
        assert_eq!(after.failures_in_a_row, 0);
        assert!(after.demoted(now + 1));
        assert_eq!((after.succeeded, after.failed), (1, 42));
    }

    #[test]
    fn speed_is_counted_tokens_over_time_once_there_are_enough() {
        let store = Store::temporary().expect("store");
        let one = store.record_task("p", TaskOutcome::Succeeded { tokens: 8, ms: 100 }, 0).expect("record");
        assert_eq!(one.tokens_per_s(), None, "8 tokens say little");
        let two = store.record_task("p", TaskOutcome::Succeeded { tokens: 32, ms: 1_900 }, 0).expect("record");
        assert_eq!(two.tokens_per_s(), Some(20.0));
        assert!(two.measured() && !store.peer_record("q").measured());
    }

    #[test]
    fn a_corrupt_record_reads_as_unmeasured_and_is_replaced_by_the_next_outcome() {
        let store = Store::temporary().expect("store");
        let _ = store.inner.measured.insert(b"p", b"not json".to_vec()).expect("insert");
        assert_eq!(store.peer_record("p"), PeerRecord::default());
        let record = store.record_task("p", TaskOutcome::Failed, 5).expect("record");
        assert_eq!(record.failed, 1);
    }
}
