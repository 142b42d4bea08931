use std::time::Instant;

use chorus_core::QueryOutcome;

use super::*;

fn store_with(count: usize) -> Store {
    let store = Store::temporary().unwrap();
    for n in 0..count {
        let id = store.begin_query(&format!("question {n}"), "on_device").unwrap();
        store.finish_query(id, QueryOutcome::Done { answer: "ok".into() }).unwrap();
    }
    store
}

/// Ten days from now: every query of the test is then 10 days old.
fn in_ten_days() -> u64 {
    chorus_core::now_ms() + 10 * DAY_MS
}

#[test]
fn the_cutoff_is_n_days_before_now() {
    assert_eq!(cutoff_ms(10 * DAY_MS, 3), 7 * DAY_MS);
    assert_eq!(cutoff_ms(DAY_MS, 36_500), 0, "no underflow");
}

#[test]
fn forever_forgets_nothing_and_starts_no_thread() {
    let store = store_with(3);
    let retention = Retention::with_clock(store.clone(), None, Duration::from_millis(1), in_ten_days);
    assert_eq!(retention.set(None).unwrap(), 0);
    assert!(!retention.shared.state().started);
    assert_eq!(store.list_queries(10, 0).unwrap().len(), 3);
}

#[test]
fn setting_days_applies_at_once_and_keeps_newer_queries() {
    let store = store_with(2);
    // Queries are 10 days old on this clock: 30 days keeps them, 7 does not.
    let retention = Retention::with_clock(store.clone(), None, Duration::from_secs(3600), in_ten_days);
    assert_eq!(retention.set(Some(30)).unwrap(), 0);
    assert_eq!(store.list_queries(10, 0).unwrap().len(), 2);
    assert_eq!(retention.set(Some(7)).unwrap(), 2);
    assert!(store.list_queries(10, 0).unwrap().is_empty());
    assert_eq!(retention.days(), Some(7));
}

#[test]
fn the_thread_applies_the_setting_again_on_schedule_and_stops_with_the_node() {
    let store = Store::temporary().unwrap();
    let retention = Retention::with_clock(store.clone(), None, Duration::from_millis(20), in_ten_days);
    assert_eq!(retention.set(Some(7)).unwrap(), 0, "nothing to forget yet");
    // Asked after the setting was applied: only the thread can forget it.
    let id = store.begin_query("later", "on_device").unwrap();
    store.finish_query(id, QueryOutcome::Done { answer: "ok".into() }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.query(id).unwrap().is_some() {
        assert!(Instant::now() < deadline, "the scheduled clean-up never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    let shared = Arc::downgrade(&retention.shared);
    drop(retention);
    let deadline = Instant::now() + Duration::from_secs(10);
    while shared.upgrade().is_some() {
        assert!(Instant::now() < deadline, "the thread outlived the node");
        std::thread::sleep(Duration::from_millis(10));
    }
}
