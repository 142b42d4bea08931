//! The requester's rules, pure: how many providers it looks for and asks
//! for their status, its deadlines, a provider's status answer as a
//! placement candidate, which task errors demote a peer and how many tokens
//! a receipt is credited. The network directory and the remote executor
//! (`directory.rs`, `remote.rs`) follow them; `chorus sim` follows the same
//! ones, so that what it measures is what a node does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chorus_core::{Candidate, ExecutorErrorKind, Measured, PeerRecord, diverse_probe_targets};
use chorus_net::{Network, PROTOCOL_VERSION, PeerId, PeerStatus, TaskErrorCode};

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
        let peers = match tokio::time::timeout(LOOKUP_DEADLINE, network.find_providers(specialist, wanted)).await {
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
