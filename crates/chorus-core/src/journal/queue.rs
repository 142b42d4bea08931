//! The queue of sub-tasks waiting, on disk, for an executor.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::queries::QueryId;
use super::{Store, StoreError, TREE_QUEUE, decode, decode_raw_u64, encode, transaction_error};

/// A sub-task that found no executor and waits, on disk, for one to appear
/// — so that a query is never silently lost when the network is down.
///
/// It carries everything needed to run it later without the plan: the
/// specialist and the exact system prompt and prompt the conductor built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedSubtask {
    /// The query it belongs to.
    pub query: QueryId,
    /// Position of the sub-task in the query's plan, from 0.
    pub index: usize,
    /// The specialist that must run it (catalog id).
    pub specialist: String,
    /// The system prompt to run it with.
    pub system: String,
    /// The prompt, with the results of the sub-tasks it depends on.
    pub prompt: String,
    /// When it was queued, unix milliseconds.
    pub queued_at_ms: u64,
}

impl Store {
    /// Puts a sub-task in the queue to wait for an executor (replacing an
    /// earlier entry for the same query and index). The query must be in
    /// the journal — an orphan entry could never be cleaned up by
    /// [`Store::delete_query`] — else [`StoreError::UnknownQuery`]. Flushed
    /// before it returns: the caller may then tell the user the sub-task
    /// waits.
    pub fn queue_push(&self, subtask: &QueuedSubtask) -> Result<(), StoreError> {
        let value = encode(subtask)?;
        let id = subtask.query;
        let key = queue_key(id, subtask.index);
        let inner = &self.inner;
        (&inner.queries, &inner.queue)
            .transaction(|(queries, queue)| {
                if queries.get(id.key())?.is_none() {
                    return Err(ConflictableTransactionError::Abort(StoreError::UnknownQuery(id)));
                }
                let _ = queue.insert(&key, value.clone())?;
                Ok(())
            })
            .map_err(transaction_error)?;
        self.flush()
    }

    /// Takes a sub-task out of the queue (it was dispatched, or its query
    /// ended); returns whether it was queued. Flushed, so that a sub-task
    /// that ran does not come back after a crash.
    pub fn queue_remove(&self, query: QueryId, index: usize) -> Result<bool, StoreError> {
        let existed = self.inner.queue.remove(queue_key(query, index))?.is_some();
        if existed {
            self.flush()?;
        }
        Ok(existed)
    }

    /// Every queued sub-task, oldest query first, then by index (the key
    /// order). Corrupt entries are skipped and logged.
    pub fn queue_list(&self) -> Result<Vec<QueuedSubtask>, StoreError> {
        decode_queue(self.inner.queue.iter())
    }

    /// The queued sub-tasks of one query, by index. Corrupt entries are
    /// skipped and logged.
    pub fn queue_for(&self, query: QueryId) -> Result<Vec<QueuedSubtask>, StoreError> {
        decode_queue(self.inner.queue.scan_prefix(query.key()))
    }
}

/// The sub-task index is stored as a u64 whatever the platform's `usize`,
/// so a store moved between a 32-bit phone and a desktop reads the same.
pub(super) fn queue_key(id: QueryId, index: usize) -> [u8; 16] {
    let index = u64::try_from(index).unwrap_or(u64::MAX);
    let mut key = [0; 16];
    key[..8].copy_from_slice(&id.key());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Describes a `queue` key for error messages: `q17/queued/2`.
pub(super) fn describe_queue_key(key: &[u8]) -> String {
    match (key.get(..8).and_then(decode_raw_u64), key.get(8..16).and_then(decode_raw_u64)) {
        (Some(id), Some(index)) if key.len() == 16 => format!("{}/queued/{index}", QueryId(id)),
        _ => format!("malformed key of {} bytes", key.len()),
    }
}

fn decode_queue(
    entries: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
) -> Result<Vec<QueuedSubtask>, StoreError> {
    let mut queued = Vec::new();
    for entry in entries {
        let (key, value) = entry?;
        match decode(TREE_QUEUE, || describe_queue_key(&key), &value) {
            Ok(subtask) => queued.push(subtask),
            Err(error) => tracing::warn!(%error, "skipping a corrupt queued sub-task"),
        }
    }
    Ok(queued)
}
