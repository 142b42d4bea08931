//! Chorus's durable state, in one sled database: the query journal, the
//! queue of sub-tasks waiting for an executor, the registry of installed
//! models, the work ledger, and the sha256 of model files hashed before.
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
//!   [`Store::mark_interrupted`] and [`Store::recover`] — so after a crash
//!   every query the user saw start is in the journal and its final state
//!   is never lost;
//! * [`Store::delete_query`], [`Store::delete_all_queries`] and
//!   [`Store::forget_older_than`] — a deleted query does not come back
//!   after a crash (sled's log may still hold its old bytes for a while:
//!   see `forget.rs`);
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
//! | `file_hashes`    | a model file's canonical path        | its [`FileStamp`] and sha256 |
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

mod conversations;
mod forget;
mod hashes;
mod installed;
mod ledger;
mod measured;
mod queries;
mod queue;
mod record;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::TransactionError;

pub use conversations::ConversationSummary;
pub use hashes::FileStamp;
pub use installed::{InstalledKind, InstalledModel};
pub use ledger::LedgerEntry;
pub use measured::{DEMOTION_BASE_MS, DEMOTION_MAX_MS, MIN_MEASURED_TOKENS, PeerRecord, TaskOutcome};
pub use queries::{
    JournalEvent, ParseQueryIdError, QueryId, QueryOutcome, QueryRecord, QueryStatus, QuerySummary, SubtaskRecord,
};
pub use queue::QueuedSubtask;

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
const TREE_MEASURED: &str = "measured";
const TREE_FILE_HASHES: &str = "file_hashes";

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
    /// The query is running in this process, so it cannot be deleted yet:
    /// cancel it, and delete it once it has finished.
    #[error("query {0} is still running; stop it before deleting it")]
    QueryRunning(QueryId),
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
    measured: sled::Tree,
    file_hashes: sled::Tree,
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
    /// another process (or another `Store` in this one) [`StoreError::Locked`].
    /// A store this process opened before is waited for, up to 2 s, since a
    /// store just dropped may hold its lock a moment longer (see
    /// `open_waiting_for_lock`); another process's lock is reported at once.
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
            measured: db.open_tree(TREE_MEASURED)?,
            file_hashes: db.open_tree(TREE_FILE_HASHES)?,
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
/// its own lock still held for a few milliseconds. Only folders this
/// process opened before are waited for: a lock held by another process
/// (a second `chorus` on the same data folder) is reported at once.
fn open_waiting_for_lock(path: &Path, open: impl Fn() -> sled::Result<sled::Db>) -> Result<sled::Db, StoreError> {
    static OPENED_HERE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let ours = OPENED_HERE.lock().map(|opened| opened.contains(&key)).unwrap_or(true);
    let deadline = Instant::now() + if ours { LOCK_WAIT } else { Duration::ZERO };
    loop {
        match open().map_err(|error| open_error(path, error)) {
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => std::thread::sleep(LOCK_RETRY_EVERY),
            Ok(db) => {
                let key = std::fs::canonicalize(path).unwrap_or(key);
                if let Ok(mut opened) = OPENED_HERE.lock() {
                    opened.insert(key);
                }
                return Ok(db);
            }
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

/// Milliseconds since the Unix epoch: how the journal (and the registry of
/// installed models) stamps times; 0 if the clock is before 1970.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}
