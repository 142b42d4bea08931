//! The query journal: a query's header, its events and its sub-task
//! results, from [`Store::begin_query`] to [`Store::finish_query`], the
//! history and crash recovery. Deleting is in `forget.rs`.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::PoisonError;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{
    META_NEXT_QUERY_ID, Store, StoreError, TREE_EVENTS, TREE_META, TREE_QUERIES, TREE_SEQ, TREE_SUBTASKS, decode,
    decode_raw_u64, encode, encode_u64_json, now_ms, transaction_error,
};

/// The id of a query in the journal: dense, increasing from 1, never reused.
/// Displayed as `q17`; [`FromStr`] accepts `q17` and `17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueryId(pub u64);

impl QueryId {
    pub(super) fn key(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// A string that is not a [`QueryId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a query id: {0:?} (expected e.g. q17)")]
pub struct ParseQueryIdError(String);

impl FromStr for QueryId {
    type Err = ParseQueryIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let digits = trimmed.strip_prefix('q').unwrap_or(trimmed);
        digits.parse::<u64>().map(QueryId).map_err(|_| ParseQueryIdError(text.to_owned()))
    }
}

/// Where a query stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryStatus {
    /// Begun and not finished (or the process died before it finished and
    /// [`Store::recover`] has not run yet).
    Running,
    /// Finished with an answer.
    Done,
    /// Finished with an error.
    Failed,
    /// Stopped by the user.
    Cancelled,
    /// Never finished: the process stopped while it ran.
    Interrupted,
}

impl QueryStatus {
    /// Whether the query has reached a final state.
    #[must_use]
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running)
    }

    /// The lowercase name used in JSON and on screen.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for QueryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a query ended, given to [`Store::finish_query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryOutcome {
    /// The query produced its answer.
    Done {
        /// The final, synthesised answer.
        answer: String,
    },
    /// The query failed.
    Failed {
        /// Why, for the user.
        error: String,
        /// Whatever answer text was produced before the failure.
        partial_answer: Option<String>,
    },
    /// The user cancelled the query.
    Cancelled {
        /// Whatever answer text was produced before the cancellation.
        partial_answer: Option<String>,
    },
}

impl QueryOutcome {
    /// The status a query with this outcome ends in.
    #[must_use]
    pub fn status(&self) -> QueryStatus {
        match self {
            Self::Done { .. } => QueryStatus::Done,
            Self::Failed { .. } => QueryStatus::Failed,
            Self::Cancelled { .. } => QueryStatus::Cancelled,
        }
    }
}

/// The result of one sub-task of a query, as the conductor tracked it.
///
/// Stored per `index` (the sub-task's position in the plan): recording the
/// same index again — after a retry, say — replaces the earlier record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskRecord {
    /// Position of the sub-task in the plan, from 0.
    pub index: u32,
    /// The specialist that answered (catalog id).
    pub specialist: String,
    /// Where it ran: `local` or a peer id.
    pub executor: String,
    /// The conductor's status name for the sub-task (`done`, `failed`,
    /// `timed_out`, …). Kept as text so the journal does not duplicate the
    /// conductor's vocabulary.
    pub status: String,
    /// How many times the sub-task was started (1 if it never retried).
    #[serde(default)]
    pub attempts: u32,
    /// Tokens generated.
    #[serde(default)]
    pub tokens: u64,
    /// Wall-clock milliseconds from start to result.
    #[serde(default)]
    pub elapsed_ms: u64,
    /// The sub-task's answer text (possibly partial).
    #[serde(default)]
    pub text: String,
    /// Why it failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
}

/// One entry of a query's event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JournalEvent {
    /// Position in the query's log: 0, 1, 2, … in the order appended.
    pub seq: u64,
    /// When it was appended, unix milliseconds.
    pub at_ms: u64,
    /// The event, as the conductor serialised it.
    pub event: Value,
}

/// A query's journal entry in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QueryRecord {
    /// The query's id.
    pub id: QueryId,
    /// The conversation it belongs to: the id of the conversation's first
    /// query (its own id when it began one).
    pub conversation: QueryId,
    /// What the user asked.
    pub text: String,
    /// The privacy mode it ran under (e.g. `on_device`, `network`).
    pub mode: String,
    /// Where it stands.
    pub status: QueryStatus,
    /// When it began, unix milliseconds.
    pub started_at_ms: u64,
    /// When it finished (for an interrupted query: its last sign of life).
    pub ended_at_ms: Option<u64>,
    /// The conductor's plan, once made (none for a simple query).
    pub plan: Option<Value>,
    /// The final answer (or the partial one of a failed/cancelled query).
    pub answer: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Per-sub-task results, by index.
    pub subtasks: Vec<SubtaskRecord>,
    /// Every event, in order.
    pub events: Vec<JournalEvent>,
}

/// A query as listed in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct QuerySummary {
    /// The query's id.
    pub id: QueryId,
    /// The conversation it belongs to: the id of the conversation's first
    /// query (its own id when it began one).
    pub conversation: QueryId,
    /// What the user asked.
    pub text: String,
    /// The privacy mode it ran under.
    pub mode: String,
    /// Where it stands.
    pub status: QueryStatus,
    /// When it began, unix milliseconds.
    pub started_at_ms: u64,
    /// When it finished, if it has.
    pub ended_at_ms: Option<u64>,
}

/// The header of a query as stored in the `queries` tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct QueryHeader {
    text: String,
    mode: String,
    status: QueryStatus,
    pub(super) started_at_ms: u64,
    #[serde(default)]
    ended_at_ms: Option<u64>,
    #[serde(default)]
    plan: Option<Value>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    error: Option<String>,
    /// The first query of the conversation this one continues; `None` when
    /// it began its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conversation: Option<QueryId>,
}

impl QueryHeader {
    pub(super) fn summary(&self, id: QueryId) -> QuerySummary {
        QuerySummary {
            id,
            conversation: self.conversation.unwrap_or(id),
            text: self.text.clone(),
            mode: self.mode.clone(),
            status: self.status,
            started_at_ms: self.started_at_ms,
            ended_at_ms: self.ended_at_ms,
        }
    }
}

/// An event as stored in the `query_events` tree.
#[derive(Serialize, Deserialize)]
struct StoredEvent {
    at_ms: u64,
    event: Value,
}

impl Store {
    /// Journals a new query as `Running` and returns its id. Flushed before
    /// it returns.
    pub fn begin_query(&self, text: &str, mode: &str) -> Result<QueryId, StoreError> {
        self.begin_query_in(text, mode, None)
    }

    /// Like [`Store::begin_query`], the query continuing `conversation`
    /// (the id of the conversation's first query) when given.
    pub fn begin_query_in(&self, text: &str, mode: &str, conversation: Option<QueryId>) -> Result<QueryId, StoreError> {
        let header = QueryHeader {
            conversation,
            text: text.to_owned(),
            mode: mode.to_owned(),
            status: QueryStatus::Running,
            started_at_ms: now_ms(),
            ended_at_ms: None,
            plan: None,
            answer: None,
            error: None,
        };
        let header = encode(&header)?;
        let inner = &self.inner;
        // Held until the query is marked live: a deletion running meanwhile
        // waits, so it never takes the new query for a finished one.
        let mut live = self.live();
        let id = (&inner.meta, &inner.queries)
            .transaction(|(meta, queries)| {
                let next = match meta.get(META_NEXT_QUERY_ID)? {
                    None => 1,
                    Some(bytes) => match decode::<u64>(TREE_META, || "next_query_id".to_owned(), &bytes) {
                        Ok(next) => next,
                        Err(error) => return Err(ConflictableTransactionError::Abort(error)),
                    },
                };
                let id = QueryId(next);
                let _ = meta.insert(META_NEXT_QUERY_ID, encode_u64_json(next.saturating_add(1)))?;
                let _ = queries.insert(&id.key(), header.clone())?;
                Ok(id)
            })
            .map_err(transaction_error)?;
        live.insert(id);
        drop(live);
        self.flush()?;
        Ok(id)
    }

    /// Stores the plan of a running query (replacing an earlier one).
    pub fn set_plan(&self, id: QueryId, plan: &Value) -> Result<(), StoreError> {
        self.update_header(id, |header| {
            header.plan = Some(plan.clone());
            Ok(())
        })
    }

    /// Appends an event to a query's log and returns its sequence number.
    ///
    /// Safe to call from many threads at once: every event gets its own
    /// sequence number, 0, 1, 2, … without gaps, and reading the query back
    /// returns the events in that order. Not flushed (see the module docs).
    pub fn append_event(&self, id: QueryId, event: &Value) -> Result<u64, StoreError> {
        let stored = encode(&StoredEvent { at_ms: now_ms(), event: event.clone() })?;
        let inner = &self.inner;
        let key = id.key();
        (&inner.queries, &inner.seq, &inner.events)
            .transaction(|(queries, seqs, events)| {
                if queries.get(key)?.is_none() {
                    return Err(ConflictableTransactionError::Abort(StoreError::UnknownQuery(id)));
                }
                let seq = match seqs.get(key)? {
                    None => 0,
                    Some(bytes) => match decode_raw_u64(&bytes) {
                        Some(seq) => seq,
                        None => {
                            return Err(ConflictableTransactionError::Abort(StoreError::Corrupt {
                                tree: TREE_SEQ,
                                key: id.to_string(),
                                reason: format!("expected 8 bytes, found {}", bytes.len()),
                            }));
                        }
                    },
                };
                let _ = seqs.insert(&key, &seq.saturating_add(1).to_be_bytes())?;
                let _ = events.insert(&event_key(id, seq), stored.clone())?;
                Ok(seq)
            })
            .map_err(transaction_error)
    }

    /// Stores the result of one sub-task (replacing an earlier record with
    /// the same index). Not flushed.
    pub fn record_subtask(&self, id: QueryId, subtask: &SubtaskRecord) -> Result<(), StoreError> {
        let value = encode(subtask)?;
        let key = subtask_key(id, subtask.index);
        let inner = &self.inner;
        (&inner.queries, &inner.subtasks)
            .transaction(|(queries, subtasks)| {
                if queries.get(id.key())?.is_none() {
                    return Err(ConflictableTransactionError::Abort(StoreError::UnknownQuery(id)));
                }
                let _ = subtasks.insert(&key, value.clone())?;
                Ok(())
            })
            .map_err(transaction_error)
    }

    /// Records how a running query ended, with the time. Flushed before it
    /// returns. A query that is no longer running gives
    /// [`StoreError::NotRunning`] and is left as it was.
    pub fn finish_query(&self, id: QueryId, outcome: QueryOutcome) -> Result<(), StoreError> {
        let ended_at_ms = now_ms();
        self.update_header(id, |header| {
            if header.status.is_finished() {
                return Err(StoreError::NotRunning { id, status: header.status });
            }
            header.status = outcome.status();
            header.ended_at_ms = Some(ended_at_ms);
            match &outcome {
                QueryOutcome::Done { answer } => {
                    header.answer = Some(answer.clone());
                    header.error = None;
                }
                QueryOutcome::Failed { error, partial_answer } => {
                    header.answer.clone_from(partial_answer);
                    header.error = Some(error.clone());
                }
                QueryOutcome::Cancelled { partial_answer } => {
                    header.answer.clone_from(partial_answer);
                    header.error = None;
                }
            }
            Ok(())
        })?;
        self.live().remove(&id);
        self.flush()
    }

    /// A query in full, with its sub-tasks and events in order; `None` if
    /// there is no such query. Any undecodable part gives
    /// [`StoreError::Corrupt`].
    pub fn query(&self, id: QueryId) -> Result<Option<QueryRecord>, StoreError> {
        let Some(bytes) = self.inner.queries.get(id.key())? else {
            return Ok(None);
        };
        let header: QueryHeader = decode(TREE_QUERIES, || id.to_string(), &bytes)?;

        let mut subtasks = Vec::new();
        for entry in self.inner.subtasks.scan_prefix(id.key()) {
            let (key, value) = entry?;
            let index = key.get(8..12).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
            let describe = || format!("{id}/subtask/{}", index.map_or_else(|| "?".to_owned(), |i| i.to_string()));
            subtasks.push(decode::<SubtaskRecord>(TREE_SUBTASKS, describe, &value)?);
        }

        let mut events = Vec::new();
        for entry in self.inner.events.scan_prefix(id.key()) {
            let (key, value) = entry?;
            let seq = key.get(8..16).and_then(decode_raw_u64).ok_or_else(|| StoreError::Corrupt {
                tree: TREE_EVENTS,
                key: format!("{id}/event/?"),
                reason: format!("malformed key of {} bytes", key.len()),
            })?;
            let stored: StoredEvent = decode(TREE_EVENTS, || format!("{id}/event/{seq}"), &value)?;
            events.push(JournalEvent { seq, at_ms: stored.at_ms, event: stored.event });
        }

        Ok(Some(QueryRecord {
            id,
            conversation: header.conversation.unwrap_or(id),
            text: header.text,
            mode: header.mode,
            status: header.status,
            started_at_ms: header.started_at_ms,
            ended_at_ms: header.ended_at_ms,
            plan: header.plan,
            answer: header.answer,
            error: header.error,
            subtasks,
            events,
        }))
    }

    /// The history, newest first: `limit` queries after skipping `offset`.
    /// Corrupt entries are skipped (and logged), not counted.
    pub fn list_queries(&self, limit: usize, offset: usize) -> Result<Vec<QuerySummary>, StoreError> {
        let mut summaries = Vec::new();
        let mut skipped = 0;
        for entry in self.inner.queries.iter().rev() {
            if summaries.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let Some((id, header)) = decode_query_entry(&key, &value) else {
                continue;
            };
            if skipped < offset {
                skipped += 1;
                continue;
            }
            summaries.push(header.summary(id));
        }
        Ok(summaries)
    }

    /// Queries whose stored status is still `Running`, oldest first —
    /// including any running right now in this process.
    pub fn unfinished(&self) -> Result<Vec<QuerySummary>, StoreError> {
        let mut summaries = Vec::new();
        for entry in self.inner.queries.iter() {
            let (key, value) = entry?;
            if let Some((id, header)) = decode_query_entry(&key, &value)
                && header.status == QueryStatus::Running
            {
                summaries.push(header.summary(id));
            }
        }
        Ok(summaries)
    }

    /// Marks a running query `Interrupted`, its end time being its last
    /// event's (or its start). Returns whether it was running. Flushed.
    pub fn mark_interrupted(&self, id: QueryId) -> Result<bool, StoreError> {
        let interrupted = self.interrupt(id)?.is_some();
        self.flush()?;
        Ok(interrupted)
    }

    /// Call once at start-up: marks `Interrupted` every query a previous run
    /// left `Running` (it crashed or was killed mid-query) and returns them,
    /// oldest first, as they are now. Queries begun through this store (in
    /// this process) are running, not interrupted, and are left alone; so is
    /// a corrupt entry (logged). A second call returns nothing.
    pub fn recover(&self) -> Result<Vec<QuerySummary>, StoreError> {
        let live = self.live().clone();
        let mut recovered = Vec::new();
        for summary in self.unfinished()? {
            if live.contains(&summary.id) {
                continue;
            }
            match self.interrupt(summary.id) {
                Ok(Some(summary)) => recovered.push(summary),
                Ok(None) => {}
                Err(StoreError::Corrupt { tree, key, reason }) => {
                    tracing::warn!(tree, key, reason, "skipping a corrupt query while recovering");
                }
                Err(StoreError::UnknownQuery(_)) => {} // deleted meanwhile
                Err(error) => return Err(error),
            }
        }
        if !recovered.is_empty() {
            tracing::info!(count = recovered.len(), "queries left unfinished by the last run are now interrupted");
            self.flush()?;
        }
        Ok(recovered)
    }

    fn interrupt(&self, id: QueryId) -> Result<Option<QuerySummary>, StoreError> {
        let last_event_at = match self.inner.events.scan_prefix(id.key()).next_back() {
            Some(entry) => {
                let (_, value) = entry?;
                serde_json::from_slice::<StoredEvent>(&value).ok().map(|event| event.at_ms)
            }
            None => None,
        };
        let summary = self.update_header(id, |header| {
            if header.status.is_finished() {
                return Ok(None);
            }
            header.status = QueryStatus::Interrupted;
            header.ended_at_ms = Some(last_event_at.unwrap_or(header.started_at_ms).max(header.started_at_ms));
            Ok(Some(header.summary(id)))
        })?;
        self.live().remove(&id);
        Ok(summary)
    }

    /// Reads, changes and writes a query header atomically.
    fn update_header<T>(
        &self,
        id: QueryId,
        change: impl Fn(&mut QueryHeader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = id.key();
        self.inner
            .queries
            .transaction(|queries| {
                let Some(bytes) = queries.get(key)? else {
                    return Err(ConflictableTransactionError::Abort(StoreError::UnknownQuery(id)));
                };
                let result = decode::<QueryHeader>(TREE_QUERIES, || id.to_string(), &bytes).and_then(|mut header| {
                    let result = change(&mut header)?;
                    Ok((result, encode(&header)?))
                });
                match result {
                    Ok((result, encoded)) => {
                        let _ = queries.insert(&key, encoded)?;
                        Ok(result)
                    }
                    Err(error) => Err(ConflictableTransactionError::Abort(error)),
                }
            })
            .map_err(transaction_error)
    }

    /// Queries running in this process. Held by [`Store::begin_query`]
    /// while it journals a new query, and by the deleting calls of
    /// `forget.rs` while they check and delete, so that a query cannot
    /// begin unseen between the two.
    pub(super) fn live(&self) -> std::sync::MutexGuard<'_, HashSet<QueryId>> {
        self.inner.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) fn decode_query_entry(key: &[u8], value: &[u8]) -> Option<(QueryId, QueryHeader)> {
    let Some(id) = decode_raw_u64(key).map(QueryId) else {
        tracing::warn!(key = ?key, "skipping a query with a malformed key");
        return None;
    };
    match decode(TREE_QUERIES, || id.to_string(), value) {
        Ok(header) => Some((id, header)),
        Err(error) => {
            tracing::warn!(%error, "skipping a corrupt query");
            None
        }
    }
}

pub(super) fn event_key(id: QueryId, seq: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&id.key());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

pub(super) fn subtask_key(id: QueryId, index: u32) -> [u8; 12] {
    let mut key = [0; 12];
    key[..8].copy_from_slice(&id.key());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}
