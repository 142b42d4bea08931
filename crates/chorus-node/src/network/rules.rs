//! The requester's rules, pure: how many providers it looks for and asks
//! for their status, its deadlines, a provider's status answer as a
//! placement candidate, which task errors demote a peer and how many tokens
//! a receipt is credited. The network directory and the remote executor
//! (`directory.rs`, `remote.rs`) follow them; `chorus sim` follows the same
//! ones, so that what it measures is what a node does.

use std::time::Duration;

use chorus_core::{Candidate, ExecutorErrorKind, Measured, PeerRecord};
use chorus_net::{PROTOCOL_VERSION, PeerStatus, TaskErrorCode};

/// How long provider lookups are reused.
pub const PROVIDER_CACHE: Duration = Duration::from_secs(10);
/// Deadline of one provider lookup.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(3);
/// Deadline of the status probes before a dispatch.
pub const PROBE_DEADLINE: Duration = Duration::from_millis(1500);
/// Providers asked for their status per sub-task.
pub const PROBES: usize = 4;
/// Providers looked for per specialist.
pub const PROVIDERS_WANTED: usize = 4;
/// How long past its deadline a task may go quiet before the requester
/// counts the peer as hung (the peer's own deadline error has that long to
/// come).
pub const HANG_GRACE: Duration = Duration::from_secs(2);

/// A provider that answered the status probe, as a placement candidate for
/// `specialist_id`: what it says of itself (serving, slots, speed — the
/// ranking caps a speed it did not prove), what this device measured of it
/// (`record`, from `Store::peer_record`), the round trip this device
/// measured and its ledger standing.
#[must_use]
pub fn peer_candidate(
    specialist_id: &str,
    peer: &str,
    status: &PeerStatus,
    rtt_ms: Option<u32>,
    standing: i64,
    record: &PeerRecord,
    now_ms: u64,
) -> Candidate {
    Candidate {
        executor: peer.to_owned(),
        local: false,
        // A peer of another protocol version would refuse the task
        // (docs/PROTOCOL.md, "Versions").
        has_specialist: status.version == PROTOCOL_VERSION
            && status.specialists.iter().any(|served| served == specialist_id),
        serving: status.serving,
        free_slots: status.free_slots,
        total_slots: status.total_slots,
        rtt_ms,
        tokens_per_s: (status.tokens_per_s > 0.0).then_some(status.tokens_per_s),
        standing,
        measured: record.measured().then(|| Measured {
            tokens_per_s: record.tokens_per_s(),
            succeeded: record.succeeded,
            failed: record.failed,
        }),
        demoted: record.demoted(now_ms),
    }
}

/// What a peer's task error means to the retry logic. The code is what the
/// peer (or this side's client) said; it only chooses between retrying the
/// same peer or not, never where else the task goes.
#[must_use]
pub fn error_kind(code: TaskErrorCode) -> ExecutorErrorKind {
    match code {
        TaskErrorCode::Busy | TaskErrorCode::NotServing | TaskErrorCode::RateLimited => ExecutorErrorKind::Busy,
        TaskErrorCode::UnknownSpecialist | TaskErrorCode::BadRequest | TaskErrorCode::TooLarge => {
            ExecutorErrorKind::Refused
        }
        TaskErrorCode::OverDeadline => ExecutorErrorKind::TimedOut,
        TaskErrorCode::Disconnected => ExecutorErrorKind::Unreachable,
        _ => ExecutorErrorKind::Failed, // Internal, Protocol, and codes of newer peers
    }
}

/// Whether a task error is the peer's failure, so that it is demoted: not
/// when it said it is busy or not serving (an honest peer does), nor when
/// it refused the request as malformed or too large (this side's doing).
#[must_use]
pub fn demotes(code: TaskErrorCode) -> bool {
    !matches!(
        code,
        TaskErrorCode::Busy
            | TaskErrorCode::NotServing
            | TaskErrorCode::RateLimited
            | TaskErrorCode::BadRequest
            | TaskErrorCode::TooLarge
    )
}

/// The tokens credited for a finished task: what the peer's receipt says,
/// but never more than the token frames this side received nor than it
/// asked for.
#[must_use]
pub fn credited_tokens(claimed: u32, frames: u64, asked: u32) -> u64 {
    u64::from(claimed).min(frames).min(u64::from(asked))
}
