//! The store on real sled in temporary directories: the query journal's
//! life cycle, crash recovery (including a child process killed mid-query),
//! concurrency, the installed-models registry, the ledger, corruption, bad
//! paths and reopening. The queue of sub-tasks is in `journal_queue.rs`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod crash;

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use chorus_core::{
    InstalledKind, InstalledModel, LedgerEntry, QueryId, QueryOutcome, QueryStatus, Store, StoreError, SubtaskRecord,
};
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

fn subtask(index: u32, specialist: &str, text: &str) -> SubtaskRecord {
    SubtaskRecord {
        index,
        specialist: specialist.to_owned(),
        executor: "local".to_owned(),
        status: "done".to_owned(),
        attempts: 1,
        tokens: 40 + u64::from(index),
        elapsed_ms: 900 + u64::from(index),
        text: text.to_owned(),
        error: None,
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[test]
fn a_query_is_journaled_from_begin_to_finish() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let before = now_ms();

    let id = store.begin_query("Marketing plan for a budgeting app", "on_device")?;
    let plan = json!({ "subtasks": [
        { "specialist": "marketing-strategist", "prompt": "Positioning" },
        { "specialist": "translator-es", "prompt": "Tagline in Spanish", "depends_on": [0] },
    ]});
    store.set_plan(id, &plan)?;
    let events = [
        json!({ "type": "plan_ready", "subtasks": 2 }),
        json!({ "type": "subtask_started", "index": 0, "executor": "local" }),
        json!({ "type": "token", "index": 0, "text": "Budget" }),
        json!({ "type": "subtask_done", "index": 0 }),
        json!({ "type": "done", "answer": "Plan…" }),
    ];
    for (expected, event) in events.iter().enumerate() {
        assert_eq!(store.append_event(id, event)?, expected as u64);
    }
    // Recorded out of order, and index 1 twice (a retry): read back by
    // index, last record wins.
    let mut failed_attempt = subtask(1, "translator-es", "");
    failed_attempt.status = "timed_out".into();
    failed_attempt.error = Some("deadline".into());
    store.record_subtask(id, &failed_attempt)?;
    store.record_subtask(id, &subtask(0, "marketing-strategist", "Position it as…"))?;
    let mut retried = subtask(1, "translator-es", "Tu dinero, claro.");
    retried.attempts = 2;
    store.record_subtask(id, &retried)?;

    let running = store.query(id)?.ok_or("query missing")?;
    assert_eq!(running.status, QueryStatus::Running);
    assert_eq!(running.ended_at_ms, None);

    store.finish_query(id, QueryOutcome::Done { answer: "The plan: …".into() })?;
    let after = now_ms();

    let record = store.query(id)?.ok_or("query missing")?;
    assert_eq!(record.id, id);
    assert_eq!(record.text, "Marketing plan for a budgeting app");
    assert_eq!(record.mode, "on_device");
    assert_eq!(record.status, QueryStatus::Done);
    assert_eq!(record.plan.as_ref(), Some(&plan));
    assert_eq!(record.answer.as_deref(), Some("The plan: …"));
    assert_eq!(record.error, None);
    assert!(before <= record.started_at_ms && record.started_at_ms <= after);
    let ended = record.ended_at_ms.ok_or("no end time")?;
    assert!(record.started_at_ms <= ended && ended <= after);
    assert_eq!(record.subtasks, vec![subtask(0, "marketing-strategist", "Position it as…"), retried]);
    let read_events: Vec<_> = record.events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(read_events, events);
    let seqs: Vec<_> = record.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    assert!(record.events.iter().all(|e| before <= e.at_ms && e.at_ms <= after));

    // Finishing twice is refused and changes nothing.
    let again = store.finish_query(id, QueryOutcome::Cancelled { partial_answer: None });
    assert!(matches!(again, Err(StoreError::NotRunning { status: QueryStatus::Done, .. })));
    assert_eq!(store.query(id)?.ok_or("query missing")?.status, QueryStatus::Done);

    // Unknown queries.
    let unknown = QueryId(999);
    assert!(store.query(unknown)?.is_none());
    assert!(matches!(store.append_event(unknown, &json!({})), Err(StoreError::UnknownQuery(q)) if q == unknown));
    assert!(matches!(store.set_plan(unknown, &json!({})), Err(StoreError::UnknownQuery(_))));
    assert!(matches!(store.record_subtask(unknown, &subtask(0, "x", "")), Err(StoreError::UnknownQuery(_))));
    assert!(matches!(
        store.finish_query(unknown, QueryOutcome::Done { answer: String::new() }),
        Err(StoreError::UnknownQuery(_))
    ));

    // The record survives a reopen.
    drop(store);
    let store = Store::open(dir.path())?;
    assert_eq!(store.query(id)?, Some(record));
    Ok(())
}

#[test]
fn outcomes_are_recorded_and_history_lists_newest_first() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(store.begin_query(&format!("question {n}"), "network")?);
    }
    // Ids are dense and increasing from 1.
    assert_eq!(ids, (1..=7).map(QueryId).collect::<Vec<_>>());

    store.finish_query(
        ids[1],
        QueryOutcome::Failed { error: "no specialist".into(), partial_answer: Some("Par".into()) },
    )?;
    store.finish_query(ids[2], QueryOutcome::Cancelled { partial_answer: None })?;
    let failed = store.query(ids[1])?.ok_or("missing")?;
    assert_eq!(
        (failed.status, failed.error.as_deref(), failed.answer.as_deref()),
        (QueryStatus::Failed, Some("no specialist"), Some("Par"))
    );
    assert_eq!(store.query(ids[2])?.ok_or("missing")?.status, QueryStatus::Cancelled);

    let texts = |list: Vec<chorus_core::QuerySummary>| list.into_iter().map(|s| s.text).collect::<Vec<_>>();
    assert_eq!(texts(store.list_queries(3, 0)?), ["question 6", "question 5", "question 4"]);
    assert_eq!(texts(store.list_queries(3, 3)?), ["question 3", "question 2", "question 1"]);
    assert_eq!(texts(store.list_queries(3, 6)?), ["question 0"]);
    assert!(store.list_queries(3, 7)?.is_empty());
    assert!(store.list_queries(0, 0)?.is_empty());
    let all = store.list_queries(100, 0)?;
    assert_eq!(all.len(), 7);
    assert_eq!(all[5].status, QueryStatus::Failed);
    assert_eq!(all[4].status, QueryStatus::Cancelled);
    assert_eq!(all[0].mode, "network");

    // Ids keep increasing across a reopen and after a deletion (of a
    // finished query: a running one is not deleted, see journal_forget.rs).
    store.finish_query(ids[6], QueryOutcome::Cancelled { partial_answer: None })?;
    assert!(store.delete_query(ids[6])?);
    assert!(!store.delete_query(ids[6])?);
    assert!(store.query(ids[6])?.is_none());
    drop(store);
    let store = Store::open(dir.path())?;
    assert_eq!(store.begin_query("after reopen", "on_device")?, QueryId(8));
    assert_eq!(store.list_queries(2, 0)?.iter().map(|s| s.id).collect::<Vec<_>>(), [QueryId(8), QueryId(6)]);
    Ok(())
}

#[test]
fn after_a_crash_recover_reports_the_unfinished_query() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (finished, unfinished) = {
        let store = Store::open(dir.path())?;
        let finished = store.begin_query("finished", "on_device")?;
        let unfinished = store.begin_query("left running", "on_device")?;
        store.append_event(unfinished, &json!({ "type": "plan_ready" }))?;
        store.finish_query(finished, QueryOutcome::Done { answer: "ok".into() })?;
        // In this process the running query is live: recover leaves it be,
        // although it is unfinished in storage.
        assert!(store.recover()?.is_empty());
        assert_eq!(store.unfinished()?.iter().map(|s| s.id).collect::<Vec<_>>(), [unfinished]);
        (finished, unfinished)
        // The store is dropped here with `unfinished` still running.
    };

    let store = Store::open(dir.path())?;
    assert_eq!(store.unfinished()?.iter().map(|s| s.id).collect::<Vec<_>>(), [unfinished]);
    let recovered = store.recover()?;
    assert_eq!(recovered.len(), 1);
    assert_eq!(recovered[0].id, unfinished);
    assert_eq!(recovered[0].status, QueryStatus::Interrupted);
    let record = store.query(unfinished)?.ok_or("missing")?;
    assert_eq!(record.status, QueryStatus::Interrupted);
    // Its end is its last sign of life: the last event.
    assert_eq!(record.ended_at_ms, Some(record.events[0].at_ms));
    assert_eq!(store.query(finished)?.ok_or("missing")?.status, QueryStatus::Done);

    assert!(store.recover()?.is_empty());
    assert!(store.unfinished()?.is_empty());
    assert!(!store.mark_interrupted(unfinished)?);
    drop(store);
    // Still interrupted after another reopen: the change was flushed.
    let store = Store::open(dir.path())?;
    assert!(store.recover()?.is_empty());
    assert_eq!(store.query(unfinished)?.ok_or("missing")?.status, QueryStatus::Interrupted);
    Ok(())
}

const CRASH_DIR_VAR: &str = "CHORUS_JOURNAL_CRASH_DIR";

/// Run by `a_killed_process_leaves_its_query_interrupted` in a child process,
/// which it then kills: begins two queries, finishes one, and waits.
#[test]
#[ignore = "child process of a_killed_process_leaves_its_query_interrupted"]
fn crash_child_process() -> TestResult {
    let Some(dir) = std::env::var_os(CRASH_DIR_VAR) else {
        return Ok(());
    };
    let store = Store::open(Path::new(&dir))?;
    let finished = store.begin_query("finished before the crash", "on_device")?;
    let running = store.begin_query("running at the crash", "network")?;
    store.set_plan(running, &json!({ "subtasks": [] }))?;
    store.finish_query(finished, QueryOutcome::Done { answer: "done".into() })?;
    println!("{} {} {}", crash::READY_MARK, finished.0, running.0);
    // Bounded: the parent kills us long before this ends.
    std::thread::sleep(Duration::from_secs(60));
    Err("the parent did not kill this process".into())
}

#[test]
fn a_killed_process_leaves_its_query_interrupted() -> TestResult {
    let dir = tempfile::tempdir()?;
    let ready = crash::kill_when_ready("crash_child_process", CRASH_DIR_VAR, dir.path(), Duration::ZERO)?;
    let numbers: Vec<u64> = ready.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
    let (finished, running) = (QueryId(numbers[0]), QueryId(numbers[1]));
    let store = crash::reopen(dir.path())?;
    let recovered = store.recover()?;
    assert_eq!(recovered.iter().map(|s| (s.id, s.status)).collect::<Vec<_>>(), [(running, QueryStatus::Interrupted)]);
    assert_eq!(recovered[0].text, "running at the crash");
    assert_eq!(store.query(finished)?.ok_or("finished query lost")?.answer.as_deref(), Some("done"));
    assert!(store.recover()?.is_empty());
    Ok(())
}

#[test]
fn concurrent_appends_keep_every_event_in_order() -> TestResult {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 150;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let first = store.begin_query("first", "on_device")?;
    let second = store.begin_query("second", "on_device")?;

    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || -> Result<Vec<u64>, StoreError> {
                let mut seqs = Vec::new();
                for n in 0..PER_THREAD {
                    let id = if n % 3 == 0 { second } else { first };
                    let seq = store.append_event(id, &json!({ "thread": thread, "n": n }))?;
                    if id == first {
                        seqs.push(seq);
                    }
                }
                Ok(seqs)
            })
        })
        .collect();
    let mut returned = HashSet::new();
    for handle in handles {
        let seqs = handle.join().map_err(|_| "thread panicked")??;
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one thread's seqs must increase");
        for seq in seqs {
            assert!(returned.insert(seq), "seq {seq} returned twice");
        }
    }

    for id in [first, second] {
        let record = store.query(id)?.ok_or("missing")?;
        let expected_count = (0..PER_THREAD).filter(|n| (n % 3 == 0) == (id == second)).count() as u64 * THREADS;
        assert_eq!(record.events.len() as u64, expected_count);
        // Dense: 0..count, in order.
        assert!(record.events.iter().enumerate().all(|(i, e)| e.seq == i as u64));
        // Every event is there once, and each thread's events are in the
        // order that thread appended them.
        let mut last_n: HashMap<u64, u64> = HashMap::new();
        let mut seen = HashSet::new();
        for event in &record.events {
            let thread = event.event["thread"].as_u64().ok_or("no thread")?;
            let n = event.event["n"].as_u64().ok_or("no n")?;
            assert!(seen.insert((thread, n)));
            if let Some(previous) = last_n.insert(thread, n) {
                assert!(previous < n, "thread {thread}: {n} after {previous}");
            }
        }
        if id == first {
            assert_eq!(record.events.iter().map(|e| e.seq).collect::<HashSet<_>>(), returned);
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_from_tokio_tasks_get_unique_seqs() -> TestResult {
    let store = Store::temporary()?;
    let id = store.begin_query("async", "on_device")?;
    let mut tasks = Vec::new();
    for task in 0..16_u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..25_u64 {
                seqs.push(store.append_event(id, &json!({ "task": task, "n": n }))?);
                tokio::task::yield_now().await;
            }
            Ok::<_, StoreError>(seqs)
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort_unstable();
    assert_eq!(all, (0..400).collect::<Vec<u64>>());
    assert_eq!(store.query(id)?.ok_or("missing")?.events.len(), 400);
    Ok(())
}

#[test]
fn installed_models_survive_a_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let smollm = InstalledModel {
        id: "smollm2-135m-instruct-q4_1".into(),
        kind: InstalledKind::BaseModel,
        path: dir.path().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        size_bytes: 98_362_432,
        sha256: Some("b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53".into()),
        verified: true,
        installed_at_ms: 1_700_000_000_000,
    };
    let coder = InstalledModel {
        id: "coder-rust".into(),
        kind: InstalledKind::Specialist,
        path: dir.path().join("specialists/coder-rust.json"),
        size_bytes: 2_048,
        sha256: None,
        verified: false,
        installed_at_ms: 1_700_000_000_500,
    };
    {
        let store = Store::open(dir.path().join("store"))?;
        assert!(store.installed()?.is_empty());
        store.record_installed(&smollm)?;
        store.record_installed(&coder)?;
        assert_eq!(store.installed()?, vec![coder.clone(), smollm.clone()]);
    }
    let store = Store::open(dir.path().join("store"))?;
    assert_eq!(store.installed()?, vec![coder.clone(), smollm.clone()]);
    assert_eq!(store.installed_model("coder-rust")?, Some(coder.clone()));
    assert_eq!(store.installed_model("nope")?, None);

    // Re-recording replaces.
    let mut reverified = coder.clone();
    reverified.verified = true;
    store.record_installed(&reverified)?;
    assert_eq!(store.installed_model("coder-rust")?, Some(reverified));

    assert!(store.remove_installed("coder-rust")?);
    assert!(!store.remove_installed("coder-rust")?);
    drop(store);
    let store = Store::open(dir.path().join("store"))?;
    assert_eq!(store.installed()?, vec![smollm]);
    Ok(())
}

#[test]
fn ledger_counts_add_up_under_concurrent_updates() -> TestResult {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 300;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    assert_eq!(store.ledger("12D3KooWnobody")?, LedgerEntry::default());

    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || -> Result<(), StoreError> {
                for n in 0..PER_THREAD {
                    let peer = if (thread + n) % 2 == 0 { "12D3KooWalice" } else { "12D3KooWbob" };
                    let delta = LedgerEntry { tasks_given: 1, tokens_given: 3, tokens_received: 2, tasks_received: 0 };
                    let totals = store.ledger_add(peer, &delta)?;
                    assert!(totals.tasks_given >= 1);
                }
                Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "thread panicked")??;
    }
    let half = THREADS * PER_THREAD / 2;
    let expected =
        LedgerEntry { tasks_given: half, tasks_received: 0, tokens_given: 3 * half, tokens_received: 2 * half };
    assert_eq!(store.ledger("12D3KooWalice")?, expected);
    assert_eq!(store.ledger("12D3KooWbob")?, expected);
    let received = store.ledger_add("12D3KooWbob", &LedgerEntry { tasks_received: 5, ..LedgerEntry::default() })?;
    assert_eq!(received.tasks_received, 5);
    assert_eq!(received.tasks_given, half);

    drop(store);
    let store = Store::open(dir.path())?;
    let all = store.ledger_all()?;
    assert_eq!(all.iter().map(|(peer, _)| peer.as_str()).collect::<Vec<_>>(), ["12D3KooWalice", "12D3KooWbob"]);
    assert_eq!(all[0].1, expected);
    assert_eq!(all[1].1.tasks_received, 5);
    Ok(())
}

#[test]
fn corrupt_records_are_reported_and_skipped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (first, second, third) = {
        let store = Store::open(dir.path())?;
        let first = store.begin_query("first", "on_device")?;
        let second = store.begin_query("second", "on_device")?;
        let third = store.begin_query("third", "on_device")?;
        store.append_event(third, &json!({ "type": "token" }))?;
        store.record_installed(&InstalledModel {
            id: "good".into(),
            kind: InstalledKind::BaseModel,
            path: "good.gguf".into(),
            size_bytes: 1,
            sha256: None,
            verified: false,
            installed_at_ms: 1,
        })?;
        store.ledger_add("peer-good", &LedgerEntry { tasks_given: 1, ..LedgerEntry::default() })?;
        (first, second, third)
    };
    {
        // Damage values behind the store's back, through sled itself.
        let db = crash::raw(dir.path())?;
        db.open_tree("queries")?.insert(second.0.to_be_bytes(), &b"{not json"[..])?;
        let mut event_key = third.0.to_be_bytes().to_vec();
        event_key.extend_from_slice(&0_u64.to_be_bytes());
        db.open_tree("query_events")?.insert(event_key, &b"\xff\xfe"[..])?;
        db.open_tree("installed")?.insert("bad", &b"[]"[..])?;
        db.open_tree("ledger")?.insert("peer-bad", &b"?"[..])?;
        db.flush()?;
    }
    let store = Store::open(dir.path())?;

    let error = store.query(second);
    assert!(matches!(&error, Err(StoreError::Corrupt { tree: "queries", key, .. }) if key == "q2"), "{error:?}");
    let error = store.query(third);
    assert!(
        matches!(&error, Err(StoreError::Corrupt { tree: "query_events", key, .. }) if key == "q3/event/0"),
        "{error:?}"
    );
    assert!(store.query(first)?.is_some());

    let listed: Vec<_> = store.list_queries(10, 0)?.into_iter().map(|s| s.id).collect();
    assert_eq!(listed, [third, first]);
    assert_eq!(store.list_queries(1, 1)?.into_iter().map(|s| s.id).collect::<Vec<_>>(), [first]);
    // Recovery skips the corrupt one and still recovers the others.
    let recovered: Vec<_> = store.recover()?.into_iter().map(|s| s.id).collect();
    assert_eq!(recovered, [first, third]);
    assert!(matches!(
        store.finish_query(second, QueryOutcome::Cancelled { partial_answer: None }),
        Err(StoreError::Corrupt { .. })
    ));

    assert_eq!(store.installed()?.into_iter().map(|m| m.id).collect::<Vec<_>>(), ["good"]);
    assert!(matches!(store.installed_model("bad"), Err(StoreError::Corrupt { tree: "installed", .. })));
    assert_eq!(store.ledger_all()?.into_iter().map(|(peer, _)| peer).collect::<Vec<_>>(), ["peer-good"]);
    assert!(matches!(store.ledger("peer-bad"), Err(StoreError::Corrupt { tree: "ledger", .. })));
    assert!(matches!(store.ledger_add("peer-bad", &LedgerEntry::default()), Err(StoreError::Corrupt { .. })));
    Ok(())
}

#[test]
fn bad_paths_give_typed_errors() -> TestResult {
    let dir = tempfile::tempdir()?;

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a database")?;
    assert!(matches!(Store::open(&file), Err(StoreError::NotADirectory { path }) if path == file));

    let documents = dir.path().join("documents");
    std::fs::create_dir(&documents)?;
    std::fs::write(documents.join("letter.txt"), "Dear reader")?;
    assert!(matches!(Store::open(&documents), Err(StoreError::NotAStore { .. })));
    assert_eq!(std::fs::read_dir(&documents)?.count(), 1, "nothing written among foreign files");

    let store_dir = dir.path().join("store");
    let store = Store::open(&store_dir)?;
    let second = Store::open(&store_dir);
    assert!(matches!(&second, Err(StoreError::Locked { path }) if *path == store_dir), "{second:?}");
    drop(store);
    assert!(Store::open(&store_dir).is_ok(), "the lock is released with the store");

    let error = StoreError::NotADirectory { path: file };
    assert!(error.to_string().contains("not a directory"));
    Ok(())
}

/// A store dropped and reopened at once must open: sled releases its lock
/// a moment after the drop, and `Store::open` waits for it (boundedly).
#[test]
fn a_store_reopens_at_once_many_times() -> TestResult {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    for round in 0..50u64 {
        let store = Store::open(dir.path())?;
        let id = store.begin_query(&format!("round {round}"), "on_device")?;
        store.append_event(id, &json!({ "type": "token", "text": "x" }))?;
        let _ = store.ledger_add("peer-a", &LedgerEntry { tasks_given: 1, ..LedgerEntry::default() })?;
        store.finish_query(id, QueryOutcome::Done { answer: format!("answer {round}") })?;
        assert_eq!(store.ledger("peer-a")?.tasks_given, round + 1);
        drop(store);
    }
    let store = Store::open(dir.path())?;
    assert_eq!(store.list_queries(100, 0)?.len(), 50);
    assert!(started.elapsed() < Duration::from_secs(60), "reopening took {:?}", started.elapsed());
    Ok(())
}
