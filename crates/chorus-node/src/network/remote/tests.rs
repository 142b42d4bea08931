use super::*;
use chorus_core::ExecutorErrorKind;

#[test]
fn each_task_error_code_has_the_kind_the_retry_logic_expects() {
    let peer = PeerId::random();
    let cases = [
        (TaskErrorCode::Busy, ExecutorErrorKind::Busy),
        (TaskErrorCode::NotServing, ExecutorErrorKind::Busy),
        (TaskErrorCode::RateLimited, ExecutorErrorKind::Busy),
        (TaskErrorCode::UnknownSpecialist, ExecutorErrorKind::Refused),
        (TaskErrorCode::BadRequest, ExecutorErrorKind::Refused),
        (TaskErrorCode::TooLarge, ExecutorErrorKind::Refused),
        (TaskErrorCode::OverDeadline, ExecutorErrorKind::TimedOut),
        (TaskErrorCode::Disconnected, ExecutorErrorKind::Unreachable),
        (TaskErrorCode::Internal, ExecutorErrorKind::Failed),
        (TaskErrorCode::Protocol, ExecutorErrorKind::Failed),
    ];
    for (code, kind) in cases {
        let error = task_error(peer, &TaskError::new(code, "what the peer said"));
        assert_eq!(error.kind, kind, "{code:?}");
        assert!(error.message.starts_with(&format!("peer {peer}: ")), "{}", error.message);
        assert!(error.message.contains("what the peer said"), "{}", error.message);
    }
}

#[test]
fn only_the_peers_own_failures_demote_it() {
    for code in [
        TaskErrorCode::Internal,
        TaskErrorCode::Protocol,
        TaskErrorCode::OverDeadline,
        TaskErrorCode::Disconnected,
        TaskErrorCode::UnknownSpecialist,
    ] {
        assert!(demotes(code), "{code:?}");
    }
    for code in [
        TaskErrorCode::Busy,
        TaskErrorCode::NotServing,
        TaskErrorCode::RateLimited,
        TaskErrorCode::BadRequest,
        TaskErrorCode::TooLarge,
    ] {
        assert!(!demotes(code), "{code:?}");
    }
}

#[test]
fn the_credit_is_what_arrived_and_what_was_asked_not_what_the_peer_says() {
    assert_eq!(credited_tokens(u32::MAX, 1, 256), 1, "one frame, whatever the receipt says");
    assert_eq!(credited_tokens(40, 60, 256), 40, "never more than the receipt");
    assert_eq!(credited_tokens(500, 500, 256), 256, "never more than asked for");
    assert_eq!(credited_tokens(0, 9, 256), 0);
}
