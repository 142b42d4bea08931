//! The history as the owner manages it: deleting one past question or all
//! of them, and how many days of history are kept.

use chorus_core::{QueryId, StoreError};

use super::{Node, NodeError};
use crate::settings::check_history_days;

impl Node {
    /// Deletes a past question and everything the journal keeps of it
    /// (plan, answer, events, sub-task results, queued sub-tasks), flushed
    /// to disk before it returns.
    ///
    /// # Errors
    /// [`NodeError::Store`] with [`StoreError::UnknownQuery`] (code
    /// `unknown_query`) when there is no such query;
    /// [`StoreError::QueryRunning`] (code `query_running`) while it runs:
    /// cancel it, and delete it once its stream has ended.
    pub fn delete_query(&self, id: QueryId) -> Result<(), NodeError> {
        if self.store().delete_query(id)? { Ok(()) } else { Err(NodeError::Store(StoreError::UnknownQuery(id))) }
    }

    /// Deletes the conversation that the query `id` belongs to: every one
    /// of its questions, as [`Node::delete_query`] deletes one. Returns the
    /// ids deleted, oldest first.
    ///
    /// # Errors
    /// [`NodeError::Store`] with [`StoreError::UnknownQuery`] when there is
    /// no such query, [`StoreError::QueryRunning`] while one of them runs
    /// (then nothing is deleted).
    pub fn delete_conversation(&self, id: QueryId) -> Result<Vec<QueryId>, NodeError> {
        let root = self.store().conversation_of(id)?.ok_or(StoreError::UnknownQuery(id))?;
        Ok(self.store().delete_conversation(root)?)
    }

    /// Deletes every past question but those running now; returns the ids
    /// deleted, oldest first.
    ///
    /// # Errors
    /// [`NodeError::Store`]: the journal failed (what was deleted before
    /// stays deleted).
    pub fn delete_history(&self) -> Result<Vec<QueryId>, NodeError> {
        let deleted = self.store().delete_all_queries()?;
        tracing::info!(count = deleted.len(), "history deleted");
        Ok(deleted)
    }

    /// Days of history kept (`None`: forever).
    #[must_use]
    pub fn history_days(&self) -> Option<u32> {
        self.retention.days()
    }

    /// Keeps `days` of history from now on (`None`: forever): queries that
    /// began longer ago are deleted at once and then once a day while the
    /// node runs. Every clone of this node shares the setting. Returns how
    /// many were deleted now.
    ///
    /// # Errors
    /// [`NodeError::InvalidSettings`] for days outside 1–36500;
    /// [`NodeError::Store`].
    pub fn set_history_days(&self, days: Option<u32>) -> Result<usize, NodeError> {
        check_history_days(days)?;
        Ok(self.retention.set(days)?)
    }
}
