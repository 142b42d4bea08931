//! Unit tests of the store's keys and names.

use super::queries::{QueryId, QueryStatus, event_key, subtask_key};
use super::queue::{describe_queue_key, queue_key};

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
