//! The work ledger: what this device and each peer did for each other.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TREE_LEDGER, decode, encode};

/// Work exchanged with one peer. Used both as the running totals and as
/// the delta given to [`Store::ledger_add`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Sub-tasks this device ran for the peer.
    #[serde(default)]
    pub tasks_given: u64,
    /// Sub-tasks the peer ran for this device.
    #[serde(default)]
    pub tasks_received: u64,
    /// Tokens this device generated for the peer.
    #[serde(default)]
    pub tokens_given: u64,
    /// Tokens the peer generated for this device.
    #[serde(default)]
    pub tokens_received: u64,
}

impl LedgerEntry {
    fn saturating_add(self, delta: &Self) -> Self {
        Self {
            tasks_given: self.tasks_given.saturating_add(delta.tasks_given),
            tasks_received: self.tasks_received.saturating_add(delta.tasks_received),
            tokens_given: self.tokens_given.saturating_add(delta.tokens_given),
            tokens_received: self.tokens_received.saturating_add(delta.tokens_received),
        }
    }
}

impl Store {
    /// Adds `delta` to the counters of `peer` atomically (concurrent calls
    /// never lose a count) and returns the new totals. Counters saturate
    /// instead of wrapping. Not flushed.
    pub fn ledger_add(&self, peer: &str, delta: &LedgerEntry) -> Result<LedgerEntry, StoreError> {
        let mut failure: Option<StoreError> = None;
        let updated = self.inner.ledger.update_and_fetch(peer.as_bytes(), |old| {
            failure = None;
            let current = match old {
                None => LedgerEntry::default(),
                Some(bytes) => {
                    match decode::<LedgerEntry>(TREE_LEDGER, || peer.to_owned(), bytes) {
                        Ok(entry) => entry,
                        Err(error) => {
                            failure = Some(error);
                            return Some(bytes.to_vec()); // leave the entry as it is
                        }
                    }
                }
            };
            match encode(&current.saturating_add(delta)) {
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
        match updated {
            Some(bytes) => decode(TREE_LEDGER, || peer.to_owned(), &bytes),
            None => Ok(LedgerEntry::default()),
        }
    }

    /// The counters of `peer` (all zero if it never exchanged work).
    pub fn ledger(&self, peer: &str) -> Result<LedgerEntry, StoreError> {
        match self.inner.ledger.get(peer.as_bytes())? {
            Some(bytes) => decode(TREE_LEDGER, || peer.to_owned(), &bytes),
            None => Ok(LedgerEntry::default()),
        }
    }

    /// Every peer's counters, by peer id; corrupt entries are skipped and
    /// logged.
    pub fn ledger_all(&self) -> Result<Vec<(String, LedgerEntry)>, StoreError> {
        let mut entries = Vec::new();
        for entry in self.inner.ledger.iter() {
            let (key, value) = entry?;
            let peer = String::from_utf8_lossy(&key).into_owned();
            match decode(TREE_LEDGER, || peer.clone(), &value) {
                Ok(counters) => entries.push((peer, counters)),
                Err(error) => tracing::warn!(%error, "skipping a corrupt ledger entry"),
            }
        }
        Ok(entries)
    }
}
