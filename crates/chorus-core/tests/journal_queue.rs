//! The queue of sub-tasks waiting for an executor, on real sled in
//! temporary directories: order across a reopen, a killed process, the
//! query it belongs to, deletion and corruption.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod crash;

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use chorus_core::{QueryId, QueuedSubtask, Store, StoreError};

type TestResult = Result<(), Box<dyn Error>>;

fn queued(query: QueryId, index: usize, specialist: &str) -> QueuedSubtask {
    QueuedSubtask {
        query,
        index,
        specialist: specialist.to_owned(),
        system: format!("You are {specialist}."),
        prompt: format!("Sub-task {index} of {query}"),
        queued_at_ms: 1_700_000_000_000 + index as u64,
    }
}

#[test]
fn queued_subtasks_survive_a_reopen_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (first, second) = {
        let store = Store::open(dir.path())?;
        assert!(store.queue_list()?.is_empty());
        let first = store.begin_query("first", "network")?;
        let second = store.begin_query("second", "network")?;
        // Pushed out of order; indexes past 255 check the key is numeric.
        store.queue_push(&queued(second, 1, "translator-es"))?;
        store.queue_push(&queued(first, 300, "software.rust"))?;
        store.queue_push(&queued(first, 2, "marketing-strategist"))?;
        store.queue_push(&queued(second, 0, "software.python"))?;
        (first, second)
        // Dropped without an explicit flush: the pushes flushed themselves.
    };
    let store = Store::open(dir.path())?;
    let listed: Vec<(QueryId, usize)> = store.queue_list()?.iter().map(|q| (q.query, q.index)).collect();
    assert_eq!(listed, [(first, 2), (first, 300), (second, 0), (second, 1)]);
    assert_eq!(
        store.queue_for(first)?,
        vec![queued(first, 2, "marketing-strategist"), queued(first, 300, "software.rust")]
    );
    assert!(store.queue_for(QueryId(99))?.is_empty());

    // Pushing the same query and index replaces the entry.
    let mut requeued = queued(second, 1, "translator-es");
    requeued.prompt = "Tagline in Spanish, again".into();
    requeued.queued_at_ms += 60_000;
    store.queue_push(&requeued)?;
    assert_eq!(store.queue_for(second)?, vec![queued(second, 0, "software.python"), requeued.clone()]);

    assert!(store.queue_remove(first, 2)?);
    assert!(!store.queue_remove(first, 2)?);
    assert!(!store.queue_remove(QueryId(99), 0)?);
    drop(store);

    let store = Store::open(dir.path())?;
    let listed: Vec<(QueryId, usize)> = store.queue_list()?.iter().map(|q| (q.query, q.index)).collect();
    assert_eq!(listed, [(first, 300), (second, 0), (second, 1)]);
    assert_eq!(store.queue_for(second)?[1], requeued);
    Ok(())
}

const QUEUE_CRASH_DIR_VAR: &str = "CHORUS_TEST_QUEUE_CRASH_DIR";

/// Run by `a_killed_process_keeps_its_queue` in a child process: queues a
/// sub-task, says so, and waits to be killed.
#[test]
#[ignore = "run as a child process by a_killed_process_keeps_its_queue"]
fn queue_crash_child_process() -> TestResult {
    let Some(dir) = std::env::var_os(QUEUE_CRASH_DIR_VAR) else {
        return Ok(());
    };
    let store = Store::open(Path::new(&dir))?;
    let id = store.begin_query("no executor reachable", "network")?;
    store.queue_push(&queued(id, 0, "software.rust"))?;
    store.queue_push(&queued(id, 1, "translator-es"))?;
    assert!(store.queue_remove(id, 0)?);
    println!("{} {}", crash::READY_MARK, id.0);
    std::thread::sleep(Duration::from_secs(60));
    Err("the parent did not kill this process".into())
}

#[test]
fn a_killed_process_keeps_its_queue() -> TestResult {
    let dir = tempfile::tempdir()?;
    // Only what the store flushed itself is on disk after the kill.
    let ready = crash::kill_when_ready("queue_crash_child_process", QUEUE_CRASH_DIR_VAR, dir.path(), Duration::ZERO)?;
    let id = QueryId(ready.parse()?);
    let store = crash::reopen(dir.path())?;
    assert_eq!(store.queue_list()?, vec![queued(id, 1, "translator-es")]);
    Ok(())
}

#[test]
fn queueing_needs_a_journaled_query() -> TestResult {
    let store = Store::temporary()?;
    let error = store.queue_push(&queued(QueryId(7), 0, "software.rust"));
    assert!(matches!(error, Err(StoreError::UnknownQuery(QueryId(7)))), "{error:?}");
    assert!(store.queue_list()?.is_empty());
    Ok(())
}

#[test]
fn deleting_a_query_empties_its_queue() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let kept = store.begin_query("kept", "network")?;
    let deleted = store.begin_query("deleted", "network")?;
    let after = store.begin_query("after", "network")?;
    store.queue_push(&queued(kept, 0, "a"))?;
    store.queue_push(&queued(deleted, 0, "b"))?;
    store.queue_push(&queued(deleted, 1, "c"))?;
    store.queue_push(&queued(after, 0, "d"))?;
    // A running query is not deleted; once finished it goes, queue and all.
    assert!(matches!(store.delete_query(deleted), Err(StoreError::QueryRunning(_))));
    store.finish_query(deleted, chorus_core::QueryOutcome::Failed { error: "x".into(), partial_answer: None })?;
    assert!(store.delete_query(deleted)?);
    assert!(store.queue_for(deleted)?.is_empty());
    drop(store);
    let store = Store::open(dir.path())?;
    let left: Vec<QueryId> = store.queue_list()?.iter().map(|q| q.query).collect();
    assert_eq!(left, [kept, after]);
    Ok(())
}

#[test]
fn corrupt_queued_subtasks_are_skipped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let id = {
        let store = Store::open(dir.path())?;
        let id = store.begin_query("query", "network")?;
        store.queue_push(&queued(id, 0, "good"))?;
        store.queue_push(&queued(id, 2, "also-good"))?;
        id
    };
    {
        let db = crash::raw(dir.path())?;
        let queue = db.open_tree("queue")?;
        let mut key = id.0.to_be_bytes().to_vec();
        key.extend_from_slice(&1_u64.to_be_bytes());
        queue.insert(key, &b"{\"query\": 1"[..])?;
        let mut short_key = id.0.to_be_bytes().to_vec();
        short_key.push(9);
        queue.insert(short_key, &b"[]"[..])?;
        db.flush()?;
    }
    let store = Store::open(dir.path())?;
    let specialists = |list: Vec<QueuedSubtask>| -> Vec<String> { list.into_iter().map(|q| q.specialist).collect() };
    assert_eq!(specialists(store.queue_list()?), ["good", "also-good"]);
    assert_eq!(specialists(store.queue_for(id)?), ["good", "also-good"]);
    // A corrupt entry can still be removed, and delete_query clears them all.
    assert!(store.queue_remove(id, 1)?);
    assert!(store.delete_query(id)?);
    assert!(store.queue_list()?.is_empty());
    drop(store);
    // Even the entry with the malformed key is gone, not merely skipped.
    let db = crash::raw(dir.path())?;
    assert_eq!(db.open_tree("queue")?.len(), 0);
    Ok(())
}
