//! Forgetting queries: one ([`Store::delete_query`]), all of them
//! ([`Store::delete_all_queries`]), or those older than a cutoff, for the
//! retention setting ([`Store::forget_older_than`]).
//!
//! A query lives in five trees: its header (`queries`), its next event
//! number (`query_seq`), its events (`query_events`), its sub-task results
//! (`query_subtasks`) and its sub-tasks waiting for an executor (`queue`).
//! One sled transaction removes all of them, so a crash leaves the query
//! either whole or gone, never half there. Every write to a query checks
//! its header in a transaction of its own, so nothing can be added to a
//! query once its header is gone; the records of a query that began
//! between the scan of its keys and the transaction are swept up after it.
//!
//! A query running in this process (begun through this store, not yet
//! finished) is not deleted: [`StoreError::QueryRunning`]. Its conductor
//! is still writing to it; it must be cancelled (and finish) first.
//!
//! # What is left on disk
//!
//! Every deletion is flushed (fsync) before it returns: a reopened store
//! and every listing are without it from then on. But sled 0.34 is
//! log-structured: removing a key writes new versions of the tree pages
//! concerned to the end of its log (the `db` file, in 512 KiB segments);
//! the old versions, with the deleted text in them, stay in their segments
//! until sled reclaims those. It relocates what is still live in a segment
//! once at most half of it is, and a segment with nothing live left is
//! reused for new writes or cut off the end of the file; at the next open,
//! free segments are overwritten. Until then the bytes of a deleted query
//! may still be read from the raw file by someone who can read the data
//! folder. Deleting is not a secure erase.

use std::collections::{BTreeSet, HashSet};

use sled::Transactional;

use super::queries::{QueryId, decode_query_entry};
use super::{Store, StoreError, decode_raw_u64, transaction_error};

impl Store {
    /// Deletes a query with everything the journal keeps of it: its
    /// header, plan, answer, events, sub-task results and queued
    /// sub-tasks, in one transaction. Returns whether it existed (any
    /// records left behind by an earlier crash are removed either way).
    /// Flushed before it returns (see the module docs for what sled's log
    /// still holds).
    ///
    /// # Errors
    /// [`StoreError::QueryRunning`] if the query runs in this process
    /// (cancel it and let it finish first); [`StoreError::Database`].
    pub fn delete_query(&self, id: QueryId) -> Result<bool, StoreError> {
        let existed = {
            let live = self.live();
            if live.contains(&id) {
                return Err(StoreError::QueryRunning(id));
            }
            self.remove_query(id)?
        };
        self.flush()?;
        Ok(existed)
    }

    /// Deletes every query but those running in this process, and any
    /// record a crash left without its query. Returns the ids deleted, in
    /// order. Flushed.
    ///
    /// # Errors
    /// [`StoreError::Database`]; the queries deleted before the error stay
    /// deleted.
    pub fn delete_all_queries(&self) -> Result<Vec<QueryId>, StoreError> {
        let deleted = {
            let live = self.live();
            let mut deleted = Vec::new();
            for id in self.query_ids()? {
                if !live.contains(&id) && self.remove_query(id)? {
                    deleted.push(id);
                }
            }
            self.sweep_orphans(&live)?;
            deleted
        };
        self.flush()?;
        Ok(deleted)
    }

    /// Deletes every query that began before `cutoff_ms` (unix
    /// milliseconds), but those running in this process: the retention
    /// setting ("keep history N days"). Returns how many were deleted.
    /// A query whose header cannot be read is kept (its age is unknown)
    /// and logged. Flushed.
    ///
    /// # Errors
    /// [`StoreError::Database`]; the queries deleted before the error stay
    /// deleted.
    pub fn forget_older_than(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let count = {
            let live = self.live();
            let mut old = Vec::new();
            for entry in self.inner.queries.iter() {
                let (key, value) = entry?;
                if let Some((id, header)) = decode_query_entry(&key, &value)
                    && header.started_at_ms < cutoff_ms
                    && !live.contains(&id)
                {
                    old.push(id);
                }
            }
            let mut count = 0;
            for id in old {
                if self.remove_query(id)? {
                    count += 1;
                }
            }
            count
        };
        if count > 0 {
            self.flush()?;
        }
        Ok(count)
    }

    /// The ids of every query header, readable or not, in order.
    fn query_ids(&self) -> Result<Vec<QueryId>, StoreError> {
        let mut ids = Vec::new();
        for key in self.inner.queries.iter().keys() {
            match decode_raw_u64(&key?) {
                Some(id) => ids.push(QueryId(id)),
                None => tracing::warn!("skipping a query with a malformed key"),
            }
        }
        Ok(ids)
    }

    /// Removes one query in a transaction over its five trees, then any of
    /// its records written between the key scan and the transaction.
    /// Not flushed; the caller holds the `live` lock and has checked that
    /// the query does not run. Returns whether its header existed.
    fn remove_query(&self, id: QueryId) -> Result<bool, StoreError> {
        let inner = &self.inner;
        let prefix = id.key();
        let keys_of = |tree: &sled::Tree| -> Result<Vec<sled::IVec>, StoreError> {
            tree.scan_prefix(prefix).keys().map(|key| key.map_err(StoreError::from)).collect()
        };
        let (events, subtasks, queued) = (keys_of(&inner.events)?, keys_of(&inner.subtasks)?, keys_of(&inner.queue)?);
        let existed = (&inner.queries, &inner.seq, &inner.events, &inner.subtasks, &inner.queue)
            .transaction(|(queries, seq, event_tree, subtask_tree, queue_tree)| {
                // The header first: a reader outside the transaction never
                // sees it anyway, but the order says what matters.
                let existed = queries.remove(&prefix)?.is_some();
                let _ = seq.remove(&prefix)?;
                for key in &events {
                    let _ = event_tree.remove(key)?;
                }
                for key in &subtasks {
                    let _ = subtask_tree.remove(key)?;
                }
                for key in &queued {
                    let _ = queue_tree.remove(key)?;
                }
                Ok(existed)
            })
            .map_err(transaction_error)?;
        // With the header gone nothing more can be written to the query;
        // what was written before the transaction but after the scan goes now.
        for tree in [&inner.events, &inner.subtasks, &inner.queue] {
            let mut batch = sled::Batch::default();
            let mut any = false;
            for key in tree.scan_prefix(prefix).keys() {
                batch.remove(key?);
                any = true;
            }
            if any {
                tree.apply_batch(batch)?;
            }
        }
        Ok(existed)
    }

    /// Removes records whose query header is gone (left by a crash of an
    /// older version that deleted tree by tree), but those of running
    /// queries. Not flushed.
    fn sweep_orphans(&self, live: &HashSet<QueryId>) -> Result<(), StoreError> {
        let inner = &self.inner;
        let mut orphans = BTreeSet::new();
        for tree in [&inner.seq, &inner.events, &inner.subtasks, &inner.queue] {
            for key in tree.iter().keys() {
                let key = key?;
                let Some(id) = key.get(..8).and_then(decode_raw_u64).map(QueryId) else {
                    continue;
                };
                if !live.contains(&id) && inner.queries.get(id.key())?.is_none() {
                    orphans.insert(id);
                }
            }
        }
        for id in orphans {
            tracing::info!(%id, "removing records left without their query");
            let _ = self.remove_query(id)?;
        }
        Ok(())
    }
}
