//! Where a sub-task runs, and whether this device takes on someone else's.
//!
//! Pure and deterministic — no I/O, no clock, no libp2p: the network layer
//! gathers the facts (who provides a specialist, their live status, the
//! round-trip times, the ledger) and these functions decide. That keeps the
//! decisions testable in tables and the same on every platform.
//!
//! The requester's side:
//!
//! * [`pick_probe_targets`] chooses which providers to ask for their status
//!   (asking all of them would flood the network for one sub-task);
//! * [`rank_executors`] orders the candidates that answered, the local
//!   device among them, by capability, free capacity, expected completion
//!   time and ledger [`standing`]. A peer's speed and success rate are what
//!   this device measured of it ([`Measured`], from the journal's
//!   `PeerRecord`); what a peer says of its speed counts only up to a cap
//!   and only until it is measured, and an unmeasured peer never goes
//!   before this device when this device is free.
//!
//! The executor's side: [`AdmissionQueue`] applies the owner's
//! [`ServeLimits`] to incoming requests — a few slots running, a bounded
//! waiting line, requesters who gave more served first.
//!
//! ```
//! use chorus_core::{Candidate, Measured, PlacementPolicy, rank_executors};
//!
//! let local = Candidate {
//!     executor: "local".into(),
//!     local: true,
//!     has_specialist: true,
//!     serving: true,
//!     free_slots: 1,
//!     total_slots: 1,
//!     rtt_ms: Some(0),
//!     tokens_per_s: Some(20.0),
//!     standing: 0,
//!     measured: None,
//!     demoted: false,
//! };
//! let laptop = Candidate {
//!     executor: "12D3KooWlaptop".into(),
//!     local: false,
//!     rtt_ms: Some(8),
//!     tokens_per_s: Some(60.0),
//!     free_slots: 2,
//!     total_slots: 2,
//!     // Measured on its past tasks: 60 tokens/s, eight done, none failed.
//!     measured: Some(Measured { tokens_per_s: Some(60.0), succeeded: 8, failed: 0 }),
//!     ..local.clone()
//! };
//! let ranked = rank_executors(&[local, laptop], &PlacementPolicy::default());
//! assert_eq!(ranked[0].executor, "12D3KooWlaptop"); // three times as fast
//! assert_eq!(ranked[1].executor, "local");
//! ```

mod admission;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::journal::LedgerEntry;

pub use admission::{Admission, AdmissionQueue, Admitted, HostConditions, LimitsChange, Refusal, ServeLimits};

/// Speed assumed when neither the candidate nor the policy gives a usable
/// one, so that a zero or NaN in a config never divides by zero.
const FALLBACK_TOKENS_PER_S: f32 = 1.0;

// ---------------------------------------------------------------------------
// Ranking executors
// ---------------------------------------------------------------------------

/// One place a sub-task could run: this device or a peer that answered the
/// status probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// `local`, or the peer id as a string.
    pub executor: String,
    /// Whether this is the device itself (no network hop).
    pub local: bool,
    /// Whether it has the specialist installed.
    pub has_specialist: bool,
    /// Whether it serves requests at all right now (its owner allows it and
    /// its host conditions are met).
    pub serving: bool,
    /// Slots free right now.
    pub free_slots: u32,
    /// Slots it offers in all.
    pub total_slots: u32,
    /// Round-trip time in milliseconds; `None` if not measured. The local
    /// device counts as 0 whatever this says.
    pub rtt_ms: Option<u32>,
    /// Generation speed: this device's own for `local`; for a peer, what it
    /// says, which counts only up to [`PlacementPolicy::max_claimed_tokens_per_s`]
    /// and only while `measured` has no speed. `None` if unknown.
    pub tokens_per_s: Option<f32>,
    /// How this peer stands in our ledger ([`standing`]): positive when it
    /// has given us more than it took.
    pub standing: i64,
    /// What this device measured of the peer on past tasks; `None` when it
    /// never ran one for this device.
    #[serde(default)]
    pub measured: Option<Measured>,
    /// Whether the peer is demoted (a task of it failed lately): it ranks
    /// after every candidate that is not.
    #[serde(default)]
    pub demoted: bool,
}

/// What this device measured of a peer on the tasks it ran for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Tokens per second this device counted arriving; `None` until enough
    /// were counted.
    pub tokens_per_s: Option<f32>,
    /// Tasks it finished.
    pub succeeded: u64,
    /// Tasks that failed on it.
    pub failed: u64,
}

impl Measured {
    /// Of the tasks that ended, the share that succeeded, counting one more
    /// success (so that no failure yet means 1, and one failure in few
    /// tasks weighs more than one in many).
    fn success(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let rate = (self.succeeded as f64 + 1.0) / (self.succeeded as f64 + self.failed as f64 + 1.0);
        rate
    }
}

/// The knobs of [`rank_executors`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacementPolicy {
    /// Tokens a sub-task is expected to generate, to turn a speed into a
    /// time.
    pub expected_tokens: u32,
    /// How much slower local execution may be and still win: local goes
    /// first when its expected time is at most the best peer's times
    /// `1 + local_preference`. Local work needs no network, leaks nothing
    /// and costs no one else's battery, so it deserves a head start.
    pub local_preference: f32,
    /// Speed assumed for a candidate that did not report one.
    pub default_tokens_per_s: f32,
    /// Candidates whose round-trip time exceeds this are ranked after all
    /// others of their capacity tier: a slow link also delays every
    /// streamed token and is the first to drop. A candidate without a
    /// measured round trip is estimated at this value.
    pub max_rtt_ms: u32,
    /// The most a peer's own word about its speed counts for, until this
    /// device has measured it: a stranger saying "a million tokens a second"
    /// is taken at this.
    #[serde(default = "default_max_claimed")]
    pub max_claimed_tokens_per_s: f32,
}

fn default_max_claimed() -> f32 {
    40.0
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        Self {
            expected_tokens: 256,
            local_preference: 0.25,
            default_tokens_per_s: 20.0,
            max_rtt_ms: 1_000,
            max_claimed_tokens_per_s: default_max_claimed(),
        }
    }
}

/// One entry of [`rank_executors`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// `local` or the peer id.
    pub executor: String,
    /// Whether it is this device.
    pub local: bool,
    /// Expected time to completion: round trip plus generation.
    pub expected_ms: u64,
    /// Why it is where it is, for logs and the UI.
    pub reason: String,
}

/// Orders the places a sub-task could run, best first.
///
/// * Candidates without the specialist, or not serving, are left out.
/// * Demoted peers come after every other candidate, as a last resort.
/// * Candidates with a free slot come before those without; the busy ones
///   stay in the list as a last resort, since a slot may free up.
/// * Within that, candidates that answer slower than
///   [`PlacementPolicy::max_rtt_ms`] come last.
/// * Then by expected completion time (round trip plus
///   `expected_tokens / speed`, divided by the peer's measured success
///   rate), ties to the higher [`standing`] (a peer that gave us work has
///   earned ours), then to the executor id, so the order never depends on
///   the input order. A peer's speed is the measured one; without it, what
///   the peer said, capped at [`PlacementPolicy::max_claimed_tokens_per_s`].
/// * Finally the local device (with a free slot) goes first when it is "as
///   good": its expected time is within [`PlacementPolicy::local_preference`]
///   of the best measured near peer with a free slot, or there is no such
///   peer. An unmeasured peer never goes before a free local device, in
///   the first place or any later one.
///
/// An empty answer means nobody can run the sub-task now: the caller
/// queues it.
#[must_use]
pub fn rank_executors(candidates: &[Candidate], policy: &PlacementPolicy) -> Vec<Placement> {
    let mut ranked: Vec<Ranked<'_>> = candidates
        .iter()
        .filter(|candidate| candidate.has_specialist && candidate.serving)
        .map(|candidate| Ranked::new(candidate, policy))
        .collect();
    ranked.sort_by(|a, b| a.order_key().cmp(&b.order_key()));

    // Only measured near peers with a free slot compete with local: busy,
    // slow, demoted and unmeasured ones rank after it.
    let free_peer = ranked.iter().any(|entry| !entry.candidate.local && entry.tier() == 0);
    let best_peer_ms = ranked
        .iter()
        .find(|entry| !entry.candidate.local && entry.tier() == 0 && entry.candidate.measured.is_some())
        .map(|entry| entry.expected_ms);
    let mut local_verdict = None;
    if let Some(position) = ranked.iter().position(|entry| entry.candidate.local && entry.has_free_slot()) {
        let local_ms = ranked[position].expected_ms;
        let verdict = match best_peer_ms {
            None if free_peer => Some(LocalVerdict::NoMeasuredPeer),
            None => Some(LocalVerdict::NoPeerFree),
            Some(peer_ms) if local_ms <= peer_ms => Some(LocalVerdict::AsFast),
            Some(peer_ms) => {
                let margin = 1.0 + f64::from(policy.local_preference.max(0.0));
                #[allow(clippy::cast_precision_loss)] // milliseconds stay far below 2^52
                let within = local_ms as f64 <= peer_ms as f64 * margin;
                within.then_some(LocalVerdict::NearlyAsFast)
            }
        };
        if verdict.is_some() {
            let local = ranked.remove(position);
            ranked.insert(0, local);
            local_verdict = verdict;
        } else if let Some(stranger) =
            ranked[..position].iter().position(|entry| !entry.candidate.local && entry.candidate.measured.is_none())
        {
            // Behind a faster measured peer, still before every stranger.
            let local = ranked.remove(position);
            ranked.insert(stranger, local);
        }
    }

    ranked
        .into_iter()
        .enumerate()
        .map(|(position, entry)| {
            let verdict = if position == 0 { local_verdict } else { None };
            Placement {
                executor: entry.candidate.executor.clone(),
                local: entry.candidate.local,
                expected_ms: entry.expected_ms,
                reason: entry.reason(verdict, policy),
            }
        })
        .collect()
}

/// Why the local device was moved to the front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalVerdict {
    NoPeerFree,
    NoMeasuredPeer,
    AsFast,
    NearlyAsFast,
}

/// A candidate with what ranking works out about it.
struct Ranked<'a> {
    candidate: &'a Candidate,
    expected_ms: u64,
    /// Measured round trip above the policy's limit.
    far: bool,
}

impl<'a> Ranked<'a> {
    fn new(candidate: &'a Candidate, policy: &PlacementPolicy) -> Self {
        let rtt_ms = if candidate.local { 0 } else { candidate.rtt_ms.unwrap_or(policy.max_rtt_ms) };
        let far = !candidate.local && candidate.rtt_ms.is_some_and(|rtt| rtt > policy.max_rtt_ms);
        let mut expected_ms = u64::from(rtt_ms).saturating_add(generation_ms(candidate, policy));
        if let Some(measured) = candidate.measured.filter(|_| !candidate.local) {
            // `as` saturates; the rate is in (0, 1].
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
            let scaled = (expected_ms as f64 / measured.success()).ceil() as u64;
            expected_ms = scaled;
        }
        Self { candidate, expected_ms, far }
    }

    fn demoted(&self) -> bool {
        self.candidate.demoted && !self.candidate.local
    }

    fn has_free_slot(&self) -> bool {
        self.candidate.free_slots > 0
    }

    /// 0: free and near; 1: free and far; 2: busy and near; 3: busy and
    /// far; 4–7 the same for demoted peers.
    fn tier(&self) -> u8 {
        u8::from(self.demoted()) * 4 + u8::from(!self.has_free_slot()) * 2 + u8::from(self.far)
    }

    /// Capacity tier, then expected time, then higher standing, then id:
    /// a total order, so the ranking never depends on the input order.
    fn order_key(&self) -> (u8, u64, Reverse<i64>, &str) {
        (self.tier(), self.expected_ms, Reverse(self.candidate.standing), &self.candidate.executor)
    }

    fn reason(&self, verdict: Option<LocalVerdict>, policy: &PlacementPolicy) -> String {
        let candidate = self.candidate;
        if candidate.local {
            return match verdict {
                Some(LocalVerdict::NoPeerFree) => "local: no nearby peer is free".to_owned(),
                Some(LocalVerdict::NoMeasuredPeer) => "local: no measured peer is faster".to_owned(),
                Some(LocalVerdict::AsFast) => "local: as fast as the best peer".to_owned(),
                Some(LocalVerdict::NearlyAsFast) => {
                    let percent = (policy.local_preference.max(0.0) * 100.0).round();
                    format!("local: within {percent}% of the best peer")
                }
                None if self.has_free_slot() => "local: slower than the best peer".to_owned(),
                None => "local: busy".to_owned(),
            };
        }
        let capacity = match candidate.free_slots {
            0 => "busy".to_owned(),
            1 => "1 free slot".to_owned(),
            free => format!("{free} free slots"),
        };
        let link = match candidate.rtt_ms {
            None => format!("peer: {capacity}, round trip unknown"),
            Some(rtt) if self.far => format!("peer: {capacity}, {rtt} ms (slow to answer)"),
            Some(rtt) => format!("peer: {capacity}, {rtt} ms"),
        };
        match candidate.measured {
            _ if self.demoted() => format!("{link}, demoted after a failure"),
            None => format!("{link}, not measured yet"),
            Some(_) => link,
        }
    }
}

/// Milliseconds to generate the policy's expected tokens at the
/// candidate's speed (or the default speed). A peer's speed is the one this
/// device measured; without it, the one it said, capped.
fn generation_ms(candidate: &Candidate, policy: &PlacementPolicy) -> u64 {
    let usable = |speed: f32| (speed.is_finite() && speed > 0.0).then_some(speed);
    let measured = candidate.measured.filter(|_| !candidate.local).and_then(|measured| measured.tokens_per_s);
    let claimed = candidate.tokens_per_s.and_then(usable).map(|speed| {
        if candidate.local {
            speed
        } else {
            usable(policy.max_claimed_tokens_per_s).map_or(speed, |cap| speed.min(cap))
        }
    });
    let speed = measured
        .and_then(usable)
        .or(claimed)
        .or_else(|| usable(policy.default_tokens_per_s))
        .unwrap_or(FALLBACK_TOKENS_PER_S);
    let millis = f64::from(policy.expected_tokens) * 1_000.0 / f64::from(speed);
    // `as` saturates: a speed of 1e-30 tokens/s gives u64::MAX, not garbage.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let millis = millis.ceil() as u64;
    millis
}

/// How a peer stands with us: the tokens it generated for us minus those
/// we generated for it (saturating at the ends of `i64`). Positive means
/// it gave more than it took.
#[must_use]
pub fn standing(entry: &LedgerEntry) -> i64 {
    let net = i128::from(entry.tokens_received) - i128::from(entry.tokens_given);
    i64::try_from(net).unwrap_or(if net > 0 { i64::MAX } else { i64::MIN })
}

/// The network a peer's address belongs to, for [`diverse_probe_targets`]:
/// its /24 for IPv4 (`ip4:203.0.113`), its /48 for IPv6. `None` for an
/// address without an IP (memory, DNS names, relayed circuits count as the
/// relay's).
#[must_use]
pub fn address_group(address: &str) -> Option<String> {
    let mut parts = address.split('/').skip(1);
    match (parts.next()?, parts.next()?) {
        ("ip4", ip) => {
            let ip: std::net::Ipv4Addr = ip.parse().ok()?;
            let [a, b, c, _] = ip.octets();
            Some(format!("ip4:{a}.{b}.{c}"))
        }
        ("ip6", ip) => {
            let ip: std::net::Ipv6Addr = ip.parse().ok()?;
            let [a, b, c, ..] = ip.segments();
            Some(format!("ip6:{a:x}:{b:x}:{c:x}"))
        }
        _ => None,
    }
}

/// [`pick_probe_targets`], spread over networks: first the best provider of
/// each group ([`address_group`] of its address, in `groups`; a provider
/// without one is a group of its own), then the rest in the same order. So
/// many identities on one host or one /24 fill at most one of the first
/// places, however near they are.
#[must_use]
pub fn diverse_probe_targets(
    providers: &[String],
    known_rtt: &BTreeMap<String, u32>,
    groups: &BTreeMap<String, String>,
    max: usize,
) -> Vec<String> {
    let ordered = pick_probe_targets(providers, known_rtt, providers.len());
    let mut seen = HashSet::new();
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for provider in ordered {
        let group = groups.get(&provider).cloned().unwrap_or_else(|| format!("peer:{provider}"));
        if seen.insert(group) { first.push(provider) } else { rest.push(provider) }
    }
    first.into_iter().chain(rest).take(max).collect()
}

/// Where a requester waits in this device's line: its [`standing`] once it
/// has exchanged work with this device, and below every one that has when
/// it never did. So a new identity waits behind everyone known — behind a
/// requester that only took work too — and a requester in debt gains
/// nothing by making a new key: it would wait longer, not less.
#[must_use]
pub fn serving_rank(entry: &LedgerEntry) -> i64 {
    if entry.tasks_given == 0 && entry.tasks_received == 0 && entry.tokens_given == 0 && entry.tokens_received == 0 {
        i64::MIN
    } else {
        standing(entry).max(i64::MIN + 1)
    }
}

/// Which providers of a specialist to ask for their status: at most `max`,
/// the nearest known ones first (by round trip, then id), then the ones
/// with no measured round trip in the order given. Duplicates count once.
///
/// Unknown providers keep the caller's order rather than being sorted by
/// id: sorting would send every requester on the network to the same few
/// peers, while the order a DHT lookup returns differs from node to node.
#[must_use]
pub fn pick_probe_targets(providers: &[String], known_rtt: &BTreeMap<String, u32>, max: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    let unique: Vec<&String> = providers.iter().filter(|provider| seen.insert(provider.as_str())).collect();
    let mut known: Vec<(u32, &String)> =
        unique.iter().filter_map(|provider| known_rtt.get(provider.as_str()).map(|rtt| (*rtt, *provider))).collect();
    known.sort();
    let unknown = unique.iter().filter(|provider| !known_rtt.contains_key(provider.as_str())).copied();
    known.into_iter().map(|(_, provider)| provider).chain(unknown).take(max).cloned().collect()
}
