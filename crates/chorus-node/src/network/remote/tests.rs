use super::*;

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
