//! The requester's rules: how many providers it looks for and asks for
//! their status, its deadlines, a provider's status answer as a placement
//! candidate (and what a status that breaks the protocol costs its peer),
//! which task errors demote a peer and how many tokens a receipt is
//! credited — pure functions — and the two that touch the network: a trial
//! task on probation (`trial`) and the provider lookups shared for a few
//! seconds (`ProviderCache`). The network directory and the remote executor
//! (`directory.rs`, `remote.rs`) follow them; `chorus sim` follows the same
//! ones, so that what it measures is what a node does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chorus_core::{
    Candidate, ExecutorErrorKind, LedgerEntry, Measured, PeerRecord, Placement, Store, TaskOutcome,
    diverse_probe_targets,
};
use chorus_net::{Network, PROTOCOL_VERSION, PeerId, PeerStatus, RemoteEvent, TaskErrorCode, TaskRequest};

/// How long provider lookups are reused.
pub const PROVIDER_CACHE: Duration = Duration::from_secs(10);
/// Deadline of one provider lookup: it answers with the providers found by then.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(3);
/// Deadline of the status probes before a dispatch.
pub const PROBE_DEADLINE: Duration = Duration::from_millis(1500);
/// Providers asked for their status per sub-task.
pub const PROBES: usize = 4;
/// Lookup and probe rounds per placement: another round only when a round
/// left no peer to run the task and found liars — statuses that broke the
/// protocol ([`checked_status`]) or peers that failed a trial task
/// ([`trial`]); they are demoted by then, so the lookup looks past them.
pub const PROBE_ROUNDS: usize = 4;
/// Most trial tasks at once, of one placement round.
pub const MAX_TRIALS: usize = 8;

/// Providers asked for their status in round `round` (from 0) of a
/// placement: `base`, doubled each round, since a round that came to
/// nothing found liars and the honest providers may be few among them.
#[must_use]
pub fn probes_in_round(base: usize, round: usize) -> usize {
    base.saturating_mul(1 << round.min(4))
}
/// Token frames a trial task waits for before it hangs up: the peer has
/// shown it generates.
pub const TRIAL_TOKENS: u64 = 4;
/// Longest a trial task may take (less when the sub-task's deadline is
/// shorter): a peer that said it had a free slot, took the trial and
/// generated nothing by then hung. Only such peers get trials.
pub const TRIAL_DEADLINE: Duration = Duration::from_secs(10);
/// Providers looked for per specialist.
pub const PROVIDERS_WANTED: usize = 4;
/// Providers looked for when a lookup found its full [`PROVIDERS_WANTED`]
/// but too few of them are left to ask: demoted, or already tried for this
/// sub-task (see [`wants_deeper`]).
pub const PROVIDERS_DEEP: usize = 64;
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

/// A provider's status answer if it keeps to the protocol. One that does not
/// ([`PeerStatus::fault`]: a speed beyond any device, more slots free than
/// in all) is a lie about itself: the peer is demoted in `store` at once, as
/// a failed task demotes it, and is no candidate.
#[must_use]
pub fn checked_status(store: &Store, peer: &str, status: PeerStatus) -> Option<PeerStatus> {
    let Some(fault) = status.fault() else { return Some(status) };
    tracing::info!(peer, %fault, "status breaks the protocol; the peer is demoted");
    if let Err(error) = store.record_task(peer, TaskOutcome::Failed, chorus_core::now_ms()) {
        tracing::warn!(%error, peer, "cannot record the demotion");
    }
    None
}

/// Whether a specialist is on probation here: one of its providers found, or
/// of those already tried for this sub-task (`tried`), is demoted in this
/// device's records (it failed a task, lied in its status or failed a
/// trial). Liars are about, so a peer that never answered this device gets a
/// trial task before the person's sub-task goes to it.
#[must_use]
pub fn on_probation(providers: &[String], tried: &[String], record: impl Fn(&str) -> PeerRecord, now_ms: u64) -> bool {
    providers.iter().chain(tried).any(|provider| record(provider).demoted(now_ms))
}

/// Whether a peer has answered this device before (a task or a trial).
#[must_use]
pub fn vetted(record: &PeerRecord) -> bool {
    record.succeeded > 0
}

/// The peers of a ranking that get a trial task before a sub-task goes to
/// any of them, best first, at most [`MAX_TRIALS`]: none unless the best
/// placed is a peer that never answered this device ([`vetted`]) and the
/// specialist is [`on_probation`]; then every such peer whose status said
/// it has a free slot. `providers` and `tried` are as for [`on_probation`].
#[must_use]
pub fn trial_targets(
    ranked: &[Placement],
    candidates: &[Candidate],
    providers: &[String],
    tried: &[String],
    record: impl Fn(&str) -> PeerRecord,
    now_ms: u64,
) -> Vec<PeerId> {
    let unvetted = |placement: &Placement| !placement.local && !vetted(&record(&placement.executor));
    if !ranked.first().is_some_and(unvetted) || !on_probation(providers, tried, &record, now_ms) {
        return Vec::new();
    }
    let free =
        |executor: &str| candidates.iter().any(|candidate| candidate.executor == executor && candidate.free_slots > 0);
    ranked
        .iter()
        .filter(|placement| unvetted(placement) && free(&placement.executor))
        .filter_map(|placement| placement.executor.parse::<PeerId>().ok())
        .take(MAX_TRIALS)
        .collect()
}

/// How a trial task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trial {
    /// It streamed [`TRIAL_TOKENS`] tokens (or a whole shorter answer).
    Passed,
    /// It failed the way a task fails: an error that demotes, a broken
    /// stream, nothing within the deadline. The peer is demoted.
    Failed,
    /// Busy, not serving, rate-limited: says nothing either way.
    Inconclusive,
}

/// A trial task on `peer`: `request` is an ordinary task (one of the
/// specialist's public example questions, never the person's words) which
/// the requester hangs up on after [`TRIAL_TOKENS`] tokens. The peer cannot
/// tell it from a sub-task until it is cut short, and it is charged as one:
/// the tokens that arrived are credited in the ledger (the executor charges
/// what it streamed) and the outcome goes into `store` like a task's, so a
/// pass counts as an answer and a failure demotes.
pub async fn trial(network: &Network, peer: PeerId, request: TaskRequest, deadline: Duration, store: &Store) -> Trial {
    let id = peer.to_string();
    let started = Instant::now();
    let run = async {
        let mut task = match network.start_task(peer, request).await {
            Ok(task) => task,
            Err(error) => {
                tracing::debug!(%peer, %error, "trial refused");
                return (if demotes(error.code) { Trial::Failed } else { Trial::Inconclusive }, 0);
            }
        };
        let mut frames: u64 = 0;
        while let Some(event) = task.next().await {
            match event {
                Ok(RemoteEvent::Waiting) => {}
                Ok(RemoteEvent::Token(_)) => {
                    frames += 1;
                    if frames >= TRIAL_TOKENS {
                        return (Trial::Passed, frames); // dropping `task` hangs up
                    }
                }
                Ok(RemoteEvent::Done { .. }) => return (Trial::Passed, frames),
                Err(error) => {
                    tracing::debug!(%peer, %error, "trial ended in an error");
                    return (if demotes(error.code) { Trial::Failed } else { Trial::Inconclusive }, frames);
                }
            }
        }
        (Trial::Failed, frames) // ended without an answer
    };
    let (outcome, tokens) = tokio::time::timeout(deadline.min(TRIAL_DEADLINE), run).await.unwrap_or((Trial::Failed, 0));
    if tokens > 0 {
        let delta = LedgerEntry { tokens_received: tokens, ..LedgerEntry::default() };
        if let Err(error) = store.ledger_add(&id, &delta) {
            tracing::warn!(%error, peer = %id, "could not update the ledger");
        }
    }
    let recorded = match outcome {
        Trial::Passed => {
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            Some(TaskOutcome::Succeeded { tokens, ms })
        }
        Trial::Failed => Some(TaskOutcome::Failed),
        Trial::Inconclusive => None,
    };
    if let Some(recorded) = recorded
        && let Err(error) = store.record_task(&id, recorded, chorus_core::now_ms())
    {
        tracing::warn!(%error, peer = %id, "cannot record the trial's outcome");
    }
    tracing::info!(peer = %id, ?outcome, "trial task");
    outcome
}

/// This device as a placement candidate for a specialist it serves (the
/// ranking decides against peers with what this device measured of them).
#[must_use]
pub fn local_candidate() -> Candidate {
    Candidate {
        executor: "local".to_owned(),
        local: true,
        has_specialist: true,
        serving: true,
        free_slots: 1,
        total_slots: 1,
        rtt_ms: Some(0),
        tokens_per_s: None,
        standing: 0,
        measured: None,
        demoted: false,
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

/// Which providers of a specialist to ask for their status, at most `max`,
/// by what this device measured of them (`record`, from
/// `Store::peer_record`): first the peers whose tasks succeeded here, best
/// success rate first; then peers it never measured, in the diverse order of
/// [`diverse_probe_targets`] (nearest first, one per network before a
/// second); then peers that failed before and are demoted no longer. A
/// demoted peer is asked only when there is no one else (and the ranking
/// still puts it last). What a peer says of itself plays no part here.
#[must_use]
pub fn probe_targets(
    providers: &[String],
    rtt: &BTreeMap<String, u32>,
    groups: &BTreeMap<String, String>,
    record: impl Fn(&str) -> PeerRecord,
    now_ms: u64,
    max: usize,
) -> Vec<String> {
    let (mut good, mut fresh, mut failed, mut demoted) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for provider in diverse_probe_targets(providers, rtt, groups, providers.len()) {
        let known = record(&provider);
        if known.demoted(now_ms) {
            demoted.push(provider);
        } else if known.succeeded > 0 {
            good.push((success_rate(&known), provider));
        } else if known.failed > 0 {
            failed.push(provider);
        } else {
            fresh.push(provider);
        }
    }
    good.sort_by(|(a, _), (b, _)| b.total_cmp(a)); // stable: the diverse order among equals
    let targets: Vec<String> =
        good.into_iter().map(|(_, provider)| provider).chain(fresh).chain(failed).take(max).collect();
    if targets.is_empty() { demoted.into_iter().take(max).collect() } else { targets }
}

#[allow(clippy::cast_precision_loss)] // a rate
fn success_rate(record: &PeerRecord) -> f64 {
    record.succeeded as f64 / (record.succeeded + record.failed).max(1) as f64
}

/// Whether a lookup that returned `found` (asking for `wanted`) should be
/// followed by a deeper one: it came back full, so there may be more, and
/// fewer than [`PROBES`] of what it found are left to ask — the others are
/// demoted here or in `exclude` (tried already for this sub-task). Without
/// it, a specialist whose first providers found are strangers that fail
/// would never reach the honest providers behind them.
#[must_use]
pub fn wants_deeper(
    found: &[PeerId],
    wanted: usize,
    exclude: &[String],
    record: impl Fn(&str) -> PeerRecord,
    now_ms: u64,
) -> bool {
    let usable = found
        .iter()
        .map(ToString::to_string)
        .filter(|peer| !exclude.contains(peer) && !record(peer).demoted(now_ms))
        .count();
    found.len() >= wanted && wanted < PROVIDERS_DEEP && usable < PROBES
}

/// The providers of each specialist a requester found, reused for
/// [`PROVIDER_CACHE`]; a deeper lookup replaces a shallower one.
#[derive(Debug)]
pub struct ProviderCache {
    /// Providers looked for first ([`PROVIDERS_WANTED`]; `chorus sim` can
    /// change it to see what it does).
    wanted: usize,
    entries: Mutex<HashMap<String, Cached>>,
}

/// A lookup's answer: when, how many were asked for, what it found.
type Cached = (Instant, usize, Vec<PeerId>);

impl Default for ProviderCache {
    fn default() -> Self {
        Self::new(PROVIDERS_WANTED)
    }
}

/// What [`ProviderCache::find`] returned.
#[derive(Debug, Clone)]
pub struct FoundProviders {
    /// The providers, in the order the lookup found them.
    pub peers: Vec<PeerId>,
    /// How many were asked for (a cached answer's).
    pub wanted: usize,
    /// Whether a lookup went out (not a cached answer).
    pub looked: bool,
}

impl ProviderCache {
    /// A cache whose first lookups ask for `wanted` providers.
    #[must_use]
    pub fn new(wanted: usize) -> Self {
        Self { wanted: wanted.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// The providers of `specialist`: a fresh cached answer that asked for
    /// at least `wanted`, else a lookup within [`LOOKUP_DEADLINE`].
    pub async fn find(&self, network: &Network, specialist: &str, wanted: usize) -> FoundProviders {
        if let Ok(cache) = self.entries.lock()
            && let Some((at, asked, peers)) = cache.get(specialist)
            && at.elapsed() < PROVIDER_CACHE
            && *asked >= wanted
            && !peers.is_empty()
        {
            return FoundProviders { peers: peers.clone(), wanted: *asked, looked: false };
        }
        // The lookup answers with what it found by the deadline; the margin
        // covers a network task that answers nothing at all.
        let lookup = network.find_providers_within(specialist, wanted, LOOKUP_DEADLINE);
        let peers = match tokio::time::timeout(LOOKUP_DEADLINE + Duration::from_secs(1), lookup).await {
            Ok(Ok(lookup)) => lookup.providers,
            Ok(Err(error)) => {
                tracing::debug!(%error, specialist, "provider lookup failed");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        if let Ok(mut cache) = self.entries.lock() {
            cache.insert(specialist.to_owned(), (Instant::now(), wanted, peers.clone()));
        }
        FoundProviders { peers, wanted, looked: true }
    }

    /// The providers of `specialist` to consider for a sub-task that
    /// already tried `exclude`: a lookup of [`PROVIDERS_WANTED`] (or the
    /// number the cache was made with), and a
    /// deeper one when [`wants_deeper`] says so. Returns them (not
    /// excluded) and every lookup that went out.
    pub async fn providers(
        &self,
        network: &Network,
        specialist: &str,
        exclude: &[String],
        record: impl Fn(&str) -> PeerRecord,
    ) -> (Vec<String>, Vec<Vec<PeerId>>) {
        let mut lookups = Vec::new();
        let mut found = self.find(network, specialist, self.wanted).await;
        if found.looked {
            lookups.push(found.peers.clone());
        }
        if wants_deeper(&found.peers, found.wanted, exclude, &record, chorus_core::now_ms()) {
            found = self.find(network, specialist, PROVIDERS_DEEP).await;
            if found.looked {
                lookups.push(found.peers.clone());
            }
        }
        let peers = found.peers.iter().map(ToString::to_string).filter(|peer| !exclude.contains(peer)).collect();
        (peers, lookups)
    }

    /// Forgets `specialist`'s providers (none answered): look again next time.
    pub fn forget(&self, specialist: &str) {
        if let Ok(mut cache) = self.entries.lock() {
            cache.remove(specialist);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_lying_status_demotes_its_peer_and_an_honest_one_passes() {
        let store = Store::temporary().unwrap();
        let honest = PeerStatus { free_slots: 1, total_slots: 2, tokens_per_s: 120.0, ..PeerStatus::default() };
        assert_eq!(checked_status(&store, "honest", honest.clone()), Some(honest));
        assert!(!store.peer_record("honest").measured(), "an honest status is no outcome");
        let liar = PeerStatus { free_slots: 64, total_slots: 64, tokens_per_s: 1.0e6, ..PeerStatus::default() };
        assert_eq!(checked_status(&store, "liar", liar), None);
        let record = store.peer_record("liar");
        assert_eq!(record.failed, 1);
        assert!(record.demoted(chorus_core::now_ms()));
    }

    #[test]
    fn a_specialist_is_on_probation_once_a_provider_of_it_failed_here() {
        let store = Store::temporary().unwrap();
        let now = chorus_core::now_ms();
        let providers = ["a".to_owned(), "b".to_owned()];
        let record = |peer: &str| store.peer_record(peer);
        assert!(!on_probation(&providers, &[], record, now));
        store.record_task("c", TaskOutcome::Failed, now).unwrap();
        assert!(!on_probation(&providers, &[], record, now), "c provides something else");
        assert!(on_probation(&providers, &["c".to_owned()], record, now), "c failed this sub-task");
        store.record_task("b", TaskOutcome::Failed, now).unwrap();
        assert!(on_probation(&providers, &[], record, now));
        assert!(!vetted(&store.peer_record("a")));
        store.record_task("a", TaskOutcome::Succeeded { tokens: 4, ms: 100 }, now).unwrap();
        assert!(vetted(&store.peer_record("a")));
    }

    #[test]
    fn each_round_after_liars_probes_twice_as_many() {
        assert_eq!((0..PROBE_ROUNDS).map(|round| probes_in_round(PROBES, round)).collect::<Vec<_>>(), [4, 8, 16, 32]);
        assert_eq!(probes_in_round(usize::MAX, 3), usize::MAX);
    }
}
