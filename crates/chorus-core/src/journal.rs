//! Chorus's durable state, in one sled database: the query journal, the
//! queue of sub-tasks waiting for an executor, the registry of installed
//! models and the work ledger.
//!
//! A [`Store`] is opened once per process on a directory of its own (sled
//! takes an exclusive lock on it) and cloned into whoever needs it; every
//! clone shares the same database.
//!
//! # Durability
//!
//! sled writes to an in-memory log that a background thread flushes to disk
//! every 500 ms. On top of that the store flushes (fsync) explicitly where a
//! lost write would make the journal lie:
//!
//! * [`Store::begin_query`], [`Store::finish_query`],
//!   [`Store::mark_interrupted`], [`Store::recover`] and
//!   [`Store::delete_query`] — so after a crash every query the user saw
//!   start is in the journal and its final state is never lost;
//! * [`Store::queue_push`] and [`Store::queue_remove`] — a sub-task waiting
//!   for an executor must not vanish in a crash (the query would be lost
//!   without a word), nor come back after it ran;
//! * [`Store::record_installed`] and [`Store::remove_installed`] — the
//!   registry must agree with the files on disk.
//!
//! [`Store::append_event`], [`Store::set_plan`], [`Store::record_subtask`]
//! and [`Store::ledger_add`] do *not* flush: they happen many times per
//! query (one event per generated token), and an fsync each would cost more
//! than the inference. A crash loses at most the last ~500 ms of them, and
//! the query itself is then reported as interrupted by [`Store::recover`].
//! The calls are synchronous and short; the flushing ones block for one
//! fsync.
//!
//! # Layout
//!
//! Values are JSON; integer keys are big-endian so sled iterates them in
//! order. Trees:
//!
//! | tree             | key                                  | value                     |
//! |------------------|--------------------------------------|---------------------------|
//! | `meta`           | `format_version`, `next_query_id`    | JSON number               |
//! | `queries`        | query id (u64)                       | the query's header        |
//! | `query_events`   | query id (u64) ‖ seq (u64)           | `{ "at_ms", "event" }`    |
//! | `query_seq`      | query id (u64)                       | next seq (u64, raw)       |
//! | `query_subtasks` | query id (u64) ‖ sub-task index (u32)| [`SubtaskRecord`]         |
//! | `installed`      | model id (UTF-8)                     | [`InstalledModel`]        |
//! | `ledger`         | peer id (UTF-8)                      | [`LedgerEntry`]           |
//! | `queue`          | query id (u64) ‖ sub-task index (u64)| [`QueuedSubtask`]         |
//!
//! A value that does not decode is reported as [`StoreError::Corrupt`] when
//! it is read by key, and skipped (with a warning in the log) by listings.
//!
//! ```
//! use chorus_core::{QueryOutcome, QueryStatus, Store};
//!
//! let store = Store::temporary()?;
//! let id = store.begin_query("What is a budget?", "on_device")?;
//! store.append_event(id, &serde_json::json!({ "type": "token", "text": "A" }))?;
//! store.finish_query(id, QueryOutcome::Done { answer: "A plan for money.".into() })?;
//! let record = store.query(id)?.ok_or("missing")?;
//! assert_eq!(record.status, QueryStatus::Done);
//! assert_eq!(record.events.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

/// The on-disk format this code reads and writes.
const FORMAT_VERSION: u64 = 1;
/// Upper bound of sled's page cache. sled's default (1 GiB) is far too much
/// for a phone; the journal's working set is small.
const CACHE_CAPACITY_BYTES: u64 = 32 * 1024 * 1024;
/// How often sled's background thread flushes unflushed writes.
const FLUSH_EVERY_MS: u64 = 500;

/// How long [`Store::open`] waits for a held lock before it reports
/// [`StoreError::Locked`] (see [`open_waiting_for_lock`]).
const LOCK_WAIT: Duration = Duration::from_secs(2);
/// How often it tries again meanwhile.
const LOCK_RETRY_EVERY: Duration = Duration::from_millis(10);

const TREE_META: &str = "meta";
const TREE_QUERIES: &str = "queries";
const TREE_EVENTS: &str = "query_events";
const TREE_SEQ: &str = "query_seq";
const TREE_SUBTASKS: &str = "query_subtasks";
const TREE_INSTALLED: &str = "installed";
const TREE_LEDGER: &str = "ledger";
const TREE_QUEUE: &str = "queue";

const META_FORMAT_VERSION: &[u8] = b"format_version";
const META_NEXT_QUERY_ID: &[u8] = b"next_query_id";

/// Why a [`Store`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another `Store` in this one) has the database open.
    #[error("the store at {path} is in use by another process")]
    Locked {
        /// The store directory.
        path: PathBuf,
    },
    /// The path exists and is not a directory.
    #[error("{path} is not a directory, so it cannot hold a store")]
    NotADirectory {
        /// The path given to [`Store::open`].
        path: PathBuf,
    },
    /// The directory holds other files and no sled database: refusing to
    /// write a database among someone else's files.
    #[error("{path} is a non-empty directory that does not hold a Chorus store")]
    NotAStore {
        /// The path given to [`Store::open`].
        path: PathBuf,
    },
    /// The store was written by a newer (or unknown) version of Chorus.
    #[error("the store at {path} has format version {found}; this Chorus reads version {supported}")]
    UnsupportedVersion {
        /// The store directory.
        path: PathBuf,
        /// The version found on disk.
        found: u64,
        /// The version this code understands.
        supported: u64,
    },
    /// The file system refused an operation while opening the store.
    #[error("cannot open the store at {path}: {source}")]
    Io {
        /// The store directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A stored value could not be decoded.
    #[error("corrupt record {key} in tree {tree}: {reason}")]
    Corrupt {
        /// The sled tree holding the record.
        tree: &'static str,
        /// The record's key, readable (`q17`, `q17/event/3`, a model id, …).
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// No query with this id is in the journal.
    #[error("no query {0} in the journal")]
    UnknownQuery(QueryId),
    /// The query has already finished, so it cannot be finished again.
    #[error("query {id} is not running (it is {status})")]
    NotRunning {
        /// The query.
        id: QueryId,
        /// Its current status.
        status: QueryStatus,
    },
    /// A value could not be encoded as JSON (e.g. a path that is not UTF-8).
    #[error("cannot encode a value for the store: {0}")]
    Encode(#[source] serde_json::Error),
    /// sled reported an error.
    #[error("database error: {0}")]
    Database(#[from] sled::Error),
}

/// The id of a query in the journal: dense, increasing from 1, never reused.
/// Displayed as `q17`; [`FromStr`] accepts `q17` and `17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueryId(pub u64);

impl QueryId {
    fn key(self) -> [u8; 8] {
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

/// What an installed model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalledKind {
    /// A base GGUF model.
    BaseModel,
    /// A specialist (its prompt, sampling and optional adapter).
    Specialist,
}

/// A model present on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledModel {
    /// Catalog id of the base model or specialist.
    pub id: String,
    /// Base model or specialist.
    pub kind: InstalledKind,
    /// Where its file is.
    pub path: PathBuf,
    /// Size of the file in bytes.
    pub size_bytes: u64,
    /// Lowercase hex sha256 of the file, when known.
    pub sha256: Option<String>,
    /// Whether the file was checked against a published sha256.
    pub verified: bool,
    /// When it was installed, unix milliseconds.
    pub installed_at_ms: u64,
}

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

/// The header of a query as stored in the `queries` tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct QueryHeader {
    text: String,
    mode: String,
    status: QueryStatus,
    started_at_ms: u64,
    #[serde(default)]
    ended_at_ms: Option<u64>,
    #[serde(default)]
    plan: Option<Value>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

impl QueryHeader {
    fn summary(&self, id: QueryId) -> QuerySummary {
        QuerySummary {
            id,
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

/// Chorus's durable state: a cheap-to-clone handle on one sled database.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    path: Option<PathBuf>,
    db: sled::Db,
    meta: sled::Tree,
    queries: sled::Tree,
    events: sled::Tree,
    seq: sled::Tree,
    subtasks: sled::Tree,
    installed: sled::Tree,
    ledger: sled::Tree,
    queue: sled::Tree,
    /// Queries begun through this store and not finished yet: they are
    /// running now, so [`Store::recover`] leaves them alone.
    live: Mutex<HashSet<QueryId>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store in directory `dir`.
    ///
    /// The directory is created if missing. It must be empty or hold a
    /// store: a regular file gives [`StoreError::NotADirectory`], a
    /// directory of other files [`StoreError::NotAStore`], a store open in
    /// another process (or another `Store` in this one) [`StoreError::Locked`]
    /// — after waiting up to 2 s for the lock, since a store just dropped
    /// may hold it for a moment longer (see `open_waiting_for_lock`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = dir.as_ref().to_path_buf();
        check_directory(&path)?;
        let config =
            sled::Config::new().path(&path).cache_capacity(CACHE_CAPACITY_BYTES).flush_every_ms(Some(FLUSH_EVERY_MS));
        let db = open_waiting_for_lock(&path, || config.open())?;
        Self::from_db(db, Some(path))
    }

    /// A store that lives in memory (and a temporary file) and vanishes when
    /// the last clone is dropped: for tests and demos.
    pub fn temporary() -> Result<Self, StoreError> {
        let db = sled::Config::new().temporary(true).cache_capacity(CACHE_CAPACITY_BYTES).open()?;
        Self::from_db(db, None)
    }

    fn from_db(db: sled::Db, path: Option<PathBuf>) -> Result<Self, StoreError> {
        let meta = db.open_tree(TREE_META)?;
        match meta.get(META_FORMAT_VERSION)? {
            None => {
                let _ = meta.insert(META_FORMAT_VERSION, encode(&FORMAT_VERSION)?)?;
                let _ = db.flush()?;
            }
            Some(bytes) => {
                let found: u64 = decode(TREE_META, || "format_version".to_owned(), &bytes)?;
                if found != FORMAT_VERSION {
                    return Err(StoreError::UnsupportedVersion {
                        path: path.clone().unwrap_or_default(),
                        found,
                        supported: FORMAT_VERSION,
                    });
                }
            }
        }
        let inner = StoreInner {
            queries: db.open_tree(TREE_QUERIES)?,
            events: db.open_tree(TREE_EVENTS)?,
            seq: db.open_tree(TREE_SEQ)?,
            subtasks: db.open_tree(TREE_SUBTASKS)?,
            installed: db.open_tree(TREE_INSTALLED)?,
            ledger: db.open_tree(TREE_LEDGER)?,
            queue: db.open_tree(TREE_QUEUE)?,
            meta,
            db,
            path,
            live: Mutex::new(HashSet::new()),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The store's directory (`None` for a temporary store).
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// Writes everything to disk now.
    pub fn flush(&self) -> Result<(), StoreError> {
        let _ = self.inner.db.flush()?;
        Ok(())
    }

    // ----- query journal ---------------------------------------------------

    /// Journals a new query as `Running` and returns its id. Flushed before
    /// it returns.
    pub fn begin_query(&self, text: &str, mode: &str) -> Result<QueryId, StoreError> {
        let header = QueryHeader {
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
        self.live().insert(id);
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

    /// Deletes a query with its events, sub-tasks and queued sub-tasks;
    /// returns whether it existed. Flushed. (sled reclaims the space on disk later, when it
    /// compacts its log.)
    pub fn delete_query(&self, id: QueryId) -> Result<bool, StoreError> {
        let existed = self.inner.queries.remove(id.key())?.is_some();
        let _ = self.inner.seq.remove(id.key())?;
        for tree in [&self.inner.events, &self.inner.subtasks, &self.inner.queue] {
            let mut batch = sled::Batch::default();
            for key in tree.scan_prefix(id.key()).keys() {
                batch.remove(key?);
            }
            tree.apply_batch(batch)?;
        }
        self.live().remove(&id);
        self.flush()?;
        Ok(existed)
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

    fn live(&self) -> std::sync::MutexGuard<'_, HashSet<QueryId>> {
        self.inner.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ----- installed models --------------------------------------------------

    /// Records (or replaces) an installed model. Flushed.
    pub fn record_installed(&self, model: &InstalledModel) -> Result<(), StoreError> {
        let _ = self.inner.installed.insert(model.id.as_bytes(), encode(model)?)?;
        self.flush()
    }

    /// Every installed model, by id; corrupt entries are skipped and logged.
    pub fn installed(&self) -> Result<Vec<InstalledModel>, StoreError> {
        let mut models = Vec::new();
        for entry in self.inner.installed.iter() {
            let (key, value) = entry?;
            match decode(TREE_INSTALLED, || String::from_utf8_lossy(&key).into_owned(), &value) {
                Ok(model) => models.push(model),
                Err(error) => tracing::warn!(%error, "skipping a corrupt installed-model entry"),
            }
        }
        Ok(models)
    }

    /// One installed model, if recorded.
    pub fn installed_model(&self, id: &str) -> Result<Option<InstalledModel>, StoreError> {
        self.inner
            .installed
            .get(id.as_bytes())?
            .map(|value| decode(TREE_INSTALLED, || id.to_owned(), &value))
            .transpose()
    }

    /// Forgets an installed model; returns whether it was recorded. Flushed.
    /// (Deleting the file is the model manager's job.)
    pub fn remove_installed(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.inner.installed.remove(id.as_bytes())?.is_some();
        self.flush()?;
        Ok(existed)
    }

    // ----- sub-task queue ----------------------------------------------------

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

    // ----- work ledger -------------------------------------------------------

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

/// Refuses paths that cannot or should not hold a store.
fn check_directory(path: &Path) -> Result<(), StoreError> {
    let io_error = |source| StoreError::Io { path: path.to_path_buf(), source };
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error(error)),
        Ok(metadata) if !metadata.is_dir() => Err(StoreError::NotADirectory { path: path.to_path_buf() }),
        Ok(_) => {
            let holds_sled = path.join("conf").is_file() || path.join("db").is_file();
            let empty = std::fs::read_dir(path).map_err(io_error)?.next().is_none();
            if holds_sled || empty { Ok(()) } else { Err(StoreError::NotAStore { path: path.to_path_buf() }) }
        }
    }
}

/// Opens the database with `open`, retrying for up to [`LOCK_WAIT`] while
/// the lock file is held; any other error is returned at once, and a lock
/// still held after the wait gives [`StoreError::Locked`].
///
/// Why wait: dropping the last clone of a [`Store`] does not release sled's
/// lock at once. sled 0.34 locks its data file (`db`, an `Arc<File>` in its
/// config) and closes it only when the last clone of that config
/// is dropped, and clones live in the closures it hands its global thread
/// pool (writing a log buffer, truncating a segment). `Db`'s drop joins the
/// periodic flusher and flushes the log, but it does not wait for those
/// closures to be dropped, and sled offers no way to. So a store closed
/// and reopened at once (a test, or the app restarting its node) may find
/// its own lock still held for a few milliseconds. A lock held by another
/// process is reported after the wait, as before.
fn open_waiting_for_lock(path: &Path, open: impl Fn() -> sled::Result<sled::Db>) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match open().map_err(|error| open_error(path, error)) {
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => std::thread::sleep(LOCK_RETRY_EVERY),
            other => return other,
        }
    }
}

/// Turns sled's error at open into ours. sled reports a held lock as an
/// `Io` error of kind `Other` whose message starts "could not acquire lock".
fn open_error(path: &Path, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked { path: path.to_path_buf() }
        }
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::NotADirectory => {
            StoreError::NotADirectory { path: path.to_path_buf() }
        }
        sled::Error::Io(source) => StoreError::Io { path: path.to_path_buf(), source },
        other => StoreError::Database(other),
    }
}

fn transaction_error(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => StoreError::Database(error),
    }
}

fn decode_query_entry(key: &[u8], value: &[u8]) -> Option<(QueryId, QueryHeader)> {
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

fn event_key(id: QueryId, seq: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&id.key());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn subtask_key(id: QueryId, index: u32) -> [u8; 12] {
    let mut key = [0; 12];
    key[..8].copy_from_slice(&id.key());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The sub-task index is stored as a u64 whatever the platform's `usize`,
/// so a store moved between a 32-bit phone and a desktop reads the same.
fn queue_key(id: QueryId, index: usize) -> [u8; 16] {
    let index = u64::try_from(index).unwrap_or(u64::MAX);
    let mut key = [0; 16];
    key[..8].copy_from_slice(&id.key());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Describes a `queue` key for error messages: `q17/queued/2`.
fn describe_queue_key(key: &[u8]) -> String {
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

fn decode_raw_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_be_bytes)
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(StoreError::Encode)
}

fn encode_u64_json(value: u64) -> Vec<u8> {
    value.to_string().into_bytes()
}

fn decode<T: DeserializeOwned>(
    tree: &'static str,
    key: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt { tree, key: key(), reason: error.to_string() })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_display_and_parse() {
        assert_eq!(QueryId(17).to_string(), "q17");
        assert_eq!("q17".parse::<QueryId>(), Ok(QueryId(17)));
        assert_eq!(" 17 ".parse::<QueryId>(), Ok(QueryId(17)));
        assert!("x17".parse::<QueryId>().is_err());
        assert!("q".parse::<QueryId>().is_err());
    }

    #[test]
    fn keys_sort_numerically() {
        assert!(event_key(QueryId(1), 255) < event_key(QueryId(1), 256));
        assert!(event_key(QueryId(1), u64::MAX) < event_key(QueryId(2), 0));
        assert!(subtask_key(QueryId(3), 9) < subtask_key(QueryId(3), 10));
        assert!(queue_key(QueryId(3), 255) < queue_key(QueryId(3), 256));
        assert!(queue_key(QueryId(3), usize::MAX) < queue_key(QueryId(4), 0));
    }

    #[test]
    fn queue_keys_describe_themselves() {
        assert_eq!(describe_queue_key(&queue_key(QueryId(17), 2)), "q17/queued/2");
        assert_eq!(describe_queue_key(b"short"), "malformed key of 5 bytes");
    }

    #[test]
    fn statuses_serialise_in_lowercase() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&QueryStatus::Interrupted)?, "\"interrupted\"");
        assert_eq!(QueryStatus::Cancelled.to_string(), "cancelled");
        assert!(!QueryStatus::Running.is_finished());
        Ok(())
    }
}
