//! Forgetting queries, on real sled in temporary directories: deleting one
//! (with its events, sub-tasks and queued sub-tasks), deleting all, the
//! retention cutoff, running queries left alone, nothing coming back after
//! a reopen or a killed process, and records a crash left without their
//! query.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod crash;

use std::error::Error;
use std::path::Path;
use std::time::Duration;

use chorus_core::{QueryId, QueryOutcome, QueryStatus, QueuedSubtask, Store, StoreError, SubtaskRecord};
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// A finished query with a plan, three events, a sub-task result and a
/// queued sub-task: something in each of the trees a query lives in.
fn full_query(store: &Store, text: &str) -> Result<QueryId, StoreError> {
    let id = store.begin_query(text, "network")?;
    store.set_plan(id, &json!({ "subtasks": [{ "specialist": "finance.pricing", "task": text }] }))?;
    for n in 0..3 {
        store.append_event(id, &json!({ "event": "subtask_started", "index": n, "text": text }))?;
    }
    store.record_subtask(
        id,
        &SubtaskRecord {
            index: 0,
            specialist: "finance.pricing".into(),
            executor: "local".into(),
            status: "done".into(),
            attempts: 1,
            tokens: 12,
            elapsed_ms: 300,
            text: format!("result of {text}"),
            error: None,
        },
    )?;
    store.queue_push(&QueuedSubtask {
        query: id,
        index: 1,
        specialist: "translate.es".into(),
        system: "You translate.".into(),
        prompt: format!("translate {text}"),
        queued_at_ms: 1,
    })?;
    store.finish_query(id, QueryOutcome::Done { answer: format!("answer to {text}") })?;
    Ok(id)
}

/// How many keys of query `id` each tree holds, read with sled itself.
fn keys_left(dir: &Path, id: QueryId) -> Result<Vec<(&'static str, usize)>, Box<dyn Error>> {
    keys_in(&crash::raw(dir)?, id)
}

fn keys_in(db: &sled::Db, id: QueryId) -> Result<Vec<(&'static str, usize)>, Box<dyn Error>> {
    let mut left = Vec::new();
    for tree in ["queries", "query_seq", "query_events", "query_subtasks", "queue"] {
        let count = db.open_tree(tree)?.scan_prefix(id.0.to_be_bytes()).count();
        if count > 0 {
            left.push((tree, count));
        }
    }
    Ok(left)
}

fn ids(list: Vec<chorus_core::QuerySummary>) -> Vec<QueryId> {
    list.into_iter().map(|summary| summary.id).collect()
}

#[test]
fn deleting_a_query_removes_it_from_every_tree_for_good() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (kept, deleted) = {
        let store = Store::open(dir.path())?;
        let kept = full_query(&store, "kept")?;
        let deleted = full_query(&store, "deleted")?;
        assert!(store.delete_query(deleted)?);
        assert!(store.query(deleted)?.is_none());
        assert_eq!(ids(store.list_queries(10, 0)?), [kept]);
        assert!(store.queue_for(deleted)?.is_empty());
        // A second time, and an id that never was: nothing to delete.
        assert!(!store.delete_query(deleted)?);
        assert!(!store.delete_query(QueryId(999))?);
        // Nothing can be written to it any more.
        assert!(matches!(store.append_event(deleted, &json!({})), Err(StoreError::UnknownQuery(_))));
        (kept, deleted)
    };
    assert!(keys_left(dir.path(), deleted)?.is_empty(), "{:?}", keys_left(dir.path(), deleted)?);
    assert_eq!(keys_left(dir.path(), kept)?.len(), 5, "the other query keeps all its records");

    let store = Store::open(dir.path())?;
    assert!(store.query(deleted)?.is_none(), "a deleted query does not come back after a reopen");
    let record = store.query(kept)?.ok_or("kept query lost")?;
    assert_eq!((record.events.len(), record.subtasks.len()), (3, 1));
    assert_eq!(store.queue_for(kept)?.len(), 1);
    // Ids are never reused.
    assert_eq!(store.begin_query("next", "on_device")?, QueryId(3));
    Ok(())
}

#[test]
fn a_running_query_is_not_deleted_until_it_has_finished() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let running = store.begin_query("still thinking", "on_device")?;
    store.append_event(running, &json!({ "event": "analysis" }))?;
    let refused = store.delete_query(running);
    assert!(matches!(refused, Err(StoreError::QueryRunning(id)) if id == running), "{refused:?}");
    assert!(store.query(running)?.is_some(), "refusing leaves it whole");
    // The conductor goes on writing to it and finishes it.
    store.append_event(running, &json!({ "event": "done" }))?;
    store.finish_query(running, QueryOutcome::Cancelled { partial_answer: None })?;
    assert!(store.delete_query(running)?);

    // A query left running by an earlier process is not running in this
    // one: it can be deleted (at start-up `recover` marks it interrupted).
    let orphan = store.begin_query("left running", "on_device")?;
    drop(store);
    let store = Store::open(dir.path())?;
    assert_eq!(store.query(orphan)?.ok_or("missing")?.status, QueryStatus::Running);
    assert!(store.delete_query(orphan)?);
    Ok(())
}

#[test]
fn deleting_all_keeps_only_the_running_queries() -> TestResult {
    let dir = tempfile::tempdir()?;
    let running = {
        let store = Store::open(dir.path())?;
        let finished: Vec<QueryId> =
            (0..4).map(|n| full_query(&store, &format!("question {n}"))).collect::<Result<_, _>>()?;
        let running = store.begin_query("running", "on_device")?;
        store.append_event(running, &json!({ "event": "analysis" }))?;
        assert_eq!(store.delete_all_queries()?, finished);
        assert_eq!(ids(store.list_queries(10, 0)?), [running]);
        assert_eq!(store.query(running)?.ok_or("running query lost")?.events.len(), 1);
        assert!(store.queue_list()?.is_empty());
        assert!(store.delete_all_queries()?.is_empty(), "nothing more to delete");
        for id in finished {
            assert!(store.query(id)?.is_none());
        }
        running
    };
    let store = Store::open(dir.path())?;
    assert_eq!(ids(store.list_queries(10, 0)?), [running]);
    // Not running in this process: now it goes too.
    assert_eq!(store.delete_all_queries()?, [running]);
    drop(store);
    assert!(keys_left(dir.path(), running)?.is_empty());
    Ok(())
}

/// Sets a query's start time behind the store's back.
fn backdate(dir: &Path, id: QueryId, started_at_ms: u64) -> TestResult {
    let db = crash::raw(dir)?;
    let queries = db.open_tree("queries")?;
    let bytes = queries.get(id.0.to_be_bytes())?.ok_or("no header")?;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes)?;
    header["started_at_ms"] = json!(started_at_ms);
    queries.insert(id.0.to_be_bytes(), serde_json::to_vec(&header)?)?;
    db.flush()?;
    Ok(())
}

#[test]
fn retention_forgets_the_old_queries_and_keeps_the_newer_ones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as u64;
    let (ancient, month_old, yesterday, today, corrupt) = {
        let store = Store::open(dir.path())?;
        let ids: Vec<QueryId> = ["ancient", "month old", "yesterday", "today", "corrupt"]
            .iter()
            .map(|text| full_query(&store, text))
            .collect::<Result<_, _>>()?;
        (ids[0], ids[1], ids[2], ids[3], ids[4])
    };
    backdate(dir.path(), ancient, now - 400 * DAY_MS)?;
    backdate(dir.path(), month_old, now - 31 * DAY_MS)?;
    backdate(dir.path(), yesterday, now - DAY_MS - 60_000)?;
    {
        let db = crash::raw(dir.path())?;
        db.open_tree("queries")?.insert(corrupt.0.to_be_bytes(), &b"{not json"[..])?;
        db.flush()?;
    }

    let store = Store::open(dir.path())?;
    // Keep 30 days.
    assert_eq!(store.forget_older_than(now - 30 * DAY_MS)?, 2);
    assert!(store.query(ancient)?.is_none() && store.query(month_old)?.is_none());
    assert_eq!(store.queue_for(ancient)?.len() + store.queue_for(month_old)?.len(), 0);
    assert_eq!(ids(store.list_queries(10, 0)?), [today, yesterday], "the corrupt one is not listed");
    // The corrupt one is kept: its age is unknown.
    assert!(matches!(store.query(corrupt), Err(StoreError::Corrupt { .. })));
    assert_eq!(store.forget_older_than(now - 30 * DAY_MS)?, 0, "a second pass finds nothing");
    // Keep 1 day.
    assert_eq!(store.forget_older_than(now - DAY_MS)?, 1);
    assert_eq!(ids(store.list_queries(10, 0)?), [today]);
    // A running query is never forgotten, however old the cutoff makes it.
    let running = store.begin_query("running", "on_device")?;
    assert_eq!(store.forget_older_than(u64::MAX)?, 1);
    assert_eq!(ids(store.list_queries(10, 0)?), [running]);
    drop(store);
    let store = Store::open(dir.path())?;
    assert!(store.query(yesterday)?.is_none() && store.query(today)?.is_none());
    // The corrupt header goes with "delete all".
    assert_eq!(store.delete_all_queries()?, [corrupt, running]);
    Ok(())
}

#[test]
fn delete_all_sweeps_records_left_without_their_query() -> TestResult {
    let dir = tempfile::tempdir()?;
    let orphan = QueryId(42);
    {
        let store = Store::open(dir.path())?;
        full_query(&store, "real")?;
    }
    {
        // What an older version, deleting tree by tree, left after a crash.
        let db = crash::raw(dir.path())?;
        let mut key = orphan.0.to_be_bytes().to_vec();
        key.extend_from_slice(&0_u64.to_be_bytes());
        db.open_tree("query_events")?.insert(key.clone(), &b"{\"at_ms\":1,\"event\":{}}"[..])?;
        db.open_tree("queue")?.insert(key, &b"{}"[..])?;
        db.open_tree("query_seq")?.insert(orphan.0.to_be_bytes(), &1_u64.to_be_bytes()[..])?;
        db.flush()?;
    }
    let store = Store::open(dir.path())?;
    // delete_query of a header-less id removes its leftovers too.
    assert!(!store.delete_query(orphan)?);
    drop(store);
    assert!(keys_left(dir.path(), orphan)?.is_empty());
    {
        let db = crash::raw(dir.path())?;
        let mut key = orphan.0.to_be_bytes().to_vec();
        key.extend_from_slice(&7_u64.to_be_bytes());
        db.open_tree("query_subtasks")?.insert(key, &b"{}"[..])?;
        db.flush()?;
    }
    let store = Store::open(dir.path())?;
    assert_eq!(store.delete_all_queries()?, [QueryId(1)]);
    drop(store);
    let db = crash::raw(dir.path())?;
    for tree in ["queries", "query_seq", "query_events", "query_subtasks", "queue"] {
        assert_eq!(db.open_tree(tree)?.len(), 0, "{tree} is empty");
    }
    Ok(())
}

/// A query begun while another thread deletes everything is never taken
/// for a finished one: its writes and its finish all succeed.
#[test]
fn queries_begun_during_a_deletion_are_left_alone() -> TestResult {
    let store = Store::temporary()?;
    let deleter = {
        let store = store.clone();
        std::thread::spawn(move || -> Result<usize, StoreError> {
            let mut deleted = 0;
            for _ in 0..200 {
                deleted += store.delete_all_queries()?.len();
            }
            Ok(deleted)
        })
    };
    for n in 0..100 {
        let id = store.begin_query(&format!("question {n}"), "on_device")?;
        store.append_event(id, &json!({ "n": n }))?;
        store.record_subtask(
            id,
            &SubtaskRecord {
                index: 0,
                specialist: "general.assistant".into(),
                executor: "local".into(),
                status: "done".into(),
                attempts: 1,
                tokens: 1,
                elapsed_ms: 1,
                text: String::new(),
                error: None,
            },
        )?;
        store.finish_query(id, QueryOutcome::Done { answer: "ok".into() })?;
    }
    deleter.join().map_err(|_| "the deleting thread panicked")??;
    Ok(())
}

const CRASH_DIR_VAR: &str = "CHORUS_FORGET_CRASH_DIR";

/// Run by `a_process_killed_while_deleting_leaves_whole_queries_or_none` in
/// a child process, which it kills: fills a store, says so, then deletes
/// its queries one by one until the parent kills it somewhere in between.
#[test]
#[ignore = "child process of a_process_killed_while_deleting_leaves_whole_queries_or_none"]
fn forget_crash_child_process() -> TestResult {
    let Some(dir) = std::env::var_os(CRASH_DIR_VAR) else {
        return Ok(());
    };
    let store = Store::open(Path::new(&dir))?;
    let ids: Vec<QueryId> = (0..40).map(|n| full_query(&store, &format!("q {n}"))).collect::<Result<_, _>>()?;
    println!("{} {}", crash::READY_MARK, ids.len());
    for id in ids {
        let _ = store.delete_query(id)?;
    }
    std::thread::sleep(Duration::from_secs(60));
    Err("the parent did not kill this process".into())
}

#[test]
fn a_process_killed_while_deleting_leaves_whole_queries_or_none() -> TestResult {
    let mut seen = Vec::new();
    for delay_ms in [0, 3, 10, 30] {
        let dir = tempfile::tempdir()?;
        let ready = crash::kill_when_ready(
            "forget_crash_child_process",
            CRASH_DIR_VAR,
            dir.path(),
            Duration::from_millis(delay_ms),
        )?;
        let count: u64 = ready.parse()?;
        // Opened as the next start would: sled recovers its log.
        drop(crash::reopen(dir.path())?);
        let db = crash::raw(dir.path())?;
        // Every query is either whole (header, seq, 3 events, a sub-task
        // result, a queued sub-task) or has left nothing behind.
        let mut whole = 0;
        for n in 1..=count {
            match keys_in(&db, QueryId(n))?.as_slice() {
                [] => {}
                [("queries", 1), ("query_seq", 1), ("query_events", 3), ("query_subtasks", 1), ("queue", 1)] => {
                    whole += 1;
                }
                other => panic!("q{n} is half deleted: {other:?}"),
            }
        }
        seen.push(format!("{whole}/{count} whole after {delay_ms} ms"));
    }
    println!("killed while deleting: {}", seen.join(", "));
    Ok(())
}
