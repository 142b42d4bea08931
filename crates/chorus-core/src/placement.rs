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
//!   time and ledger [`standing`].
//!
//! The executor's side: [`AdmissionQueue`] applies the owner's
//! [`ServeLimits`] to incoming requests — a few slots running, a bounded
//! waiting line, requesters who gave more served first.
//!
//! ```
//! use chorus_core::{Candidate, PlacementPolicy, rank_executors};
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
//! };
//! let laptop = Candidate {
//!     executor: "12D3KooWlaptop".into(),
//!     local: false,
//!     rtt_ms: Some(8),
//!     tokens_per_s: Some(60.0),
//!     free_slots: 2,
//!     total_slots: 2,
//!     ..local.clone()
//! };
//! let ranked = rank_executors(&[local, laptop], &PlacementPolicy::default());
//! assert_eq!(ranked[0].executor, "12D3KooWlaptop"); // three times as fast
//! assert_eq!(ranked[1].executor, "local");
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::journal::LedgerEntry;

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
    /// Recent generation speed; `None` if unknown.
    pub tokens_per_s: Option<f32>,
    /// How this peer stands in our ledger ([`standing`]): positive when it
    /// has given us more than it took.
    pub standing: i64,
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
}

impl Default for PlacementPolicy {
    fn default() -> Self {
        Self { expected_tokens: 256, local_preference: 0.25, default_tokens_per_s: 20.0, max_rtt_ms: 1_000 }
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
/// * Candidates with a free slot come before those without; the busy ones
///   stay in the list as a last resort, since a slot may free up.
/// * Within that, candidates that answer slower than
///   [`PlacementPolicy::max_rtt_ms`] come last.
/// * Then by expected completion time (round trip plus
///   `expected_tokens / speed`), ties to the higher [`standing`] (a peer
///   that gave us work has earned ours), then to the executor id, so the
///   order never depends on the input order.
/// * Finally the local device (with a free slot) goes first when it is "as
///   good": its expected time is within [`PlacementPolicy::local_preference`]
///   of the best near peer with a free slot, or there is no such peer.
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

    // Only near peers with a free slot compete with local: busy and slow
    // ones rank after it anyway.
    let best_peer_ms =
        ranked.iter().find(|entry| !entry.candidate.local && entry.tier() == 0).map(|entry| entry.expected_ms);
    let mut local_verdict = None;
    if let Some(position) = ranked.iter().position(|entry| entry.candidate.local && entry.has_free_slot()) {
        let local_ms = ranked[position].expected_ms;
        let verdict = match best_peer_ms {
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
        Self { candidate, expected_ms: u64::from(rtt_ms).saturating_add(generation_ms(candidate, policy)), far }
    }

    fn has_free_slot(&self) -> bool {
        self.candidate.free_slots > 0
    }

    /// 0: free and near; 1: free and far; 2: busy and near; 3: busy and far.
    fn tier(&self) -> u8 {
        u8::from(!self.has_free_slot()) * 2 + u8::from(self.far)
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
        match candidate.rtt_ms {
            None => format!("peer: {capacity}, round trip unknown"),
            Some(rtt) if self.far => format!("peer: {capacity}, {rtt} ms (slow to answer)"),
            Some(rtt) => format!("peer: {capacity}, {rtt} ms"),
        }
    }
}

/// Milliseconds to generate the policy's expected tokens at the
/// candidate's speed (or the default speed).
fn generation_ms(candidate: &Candidate, policy: &PlacementPolicy) -> u64 {
    let usable = |speed: f32| (speed.is_finite() && speed > 0.0).then_some(speed);
    let speed = candidate
        .tokens_per_s
        .and_then(usable)
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

// ---------------------------------------------------------------------------
// Admission on the executor's side
// ---------------------------------------------------------------------------

/// What the owner of this device lets others run on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeLimits {
    /// Whether to serve other devices at all.
    pub serve: bool,
    /// Sub-tasks run for others at once.
    pub max_slots: u32,
    /// Requests allowed to wait for a slot; more are refused as busy, so a
    /// requester learns quickly to look elsewhere.
    pub max_waiting: u32,
    /// Largest generation (in tokens) accepted from one request.
    pub max_tokens: u32,
    /// Serve only while nobody uses the device.
    pub only_when_idle: bool,
    /// Serve only while the device charges (ignored on devices without a
    /// battery).
    pub only_when_charging: bool,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            serve: true,
            max_slots: 2,
            max_waiting: 4,
            max_tokens: 512,
            only_when_idle: false,
            only_when_charging: false,
        }
    }
}

/// The state of the device when a request arrives, as the platform
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostConditions {
    /// Nobody is using the device.
    pub idle: bool,
    /// Whether it is charging; `None` for a device without a battery,
    /// which is always "charging" as far as [`ServeLimits`] go.
    pub charging: Option<bool>,
}

/// Why this device refused a request. Serialised as
/// `{"code": "busy"}`, `{"code": "not_serving", "reason": …}`, … — the code
/// is stable, for the requester to branch on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// The device does not serve now (turned off, in use, not charging).
    #[error("not serving: {reason}")]
    NotServing {
        /// Why, for the requester's log.
        reason: String,
    },
    /// Every slot and every waiting place is taken (or a requester in
    /// better standing took this one's place).
    #[error("busy: every slot and waiting place is taken")]
    Busy,
    /// The request asks for more tokens than the owner allows.
    #[error("too many tokens requested: at most {max}")]
    TooManyTokens {
        /// The largest generation accepted.
        max: u32,
    },
}

impl Refusal {
    /// The stable snake_case code: `not_serving`, `busy`, `too_many_tokens`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotServing { .. } => "not_serving",
            Self::Busy => "busy",
            Self::TooManyTokens { .. } => "too_many_tokens",
        }
    }

    fn not_serving(reason: &str) -> Self {
        Self::NotServing { reason: reason.to_owned() }
    }
}

/// What happens to an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admitted {
    /// A slot is free: start generating.
    RunNow,
    /// Wait: [`AdmissionQueue::finish`] will say when to start.
    Wait,
}

/// [`AdmissionQueue::request`]'s answer to an accepted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct Admission {
    /// Start now or wait.
    pub admitted: Admitted,
    /// A waiting ticket that lost its place to this request (a requester in
    /// better standing): the caller must tell it [`Refusal::Busy`]. At most
    /// one, since a request takes one place.
    pub evicted: Option<u64>,
}

/// What [`AdmissionQueue::set_limits`] changed for the tickets waiting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct LimitsChange {
    /// Waiting tickets that may start now (more slots were offered).
    pub start: Vec<u64>,
    /// Waiting tickets dropped, with what to tell them: `NotServing` when
    /// serving was turned off, `Busy` when the waiting line was shortened.
    pub refused: Vec<(u64, Refusal)>,
}

/// A request waiting for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiter {
    ticket: u64,
    standing: i64,
}

/// Who runs and who waits on this device: a bounded line, ordered by the
/// requesters' [`standing`].
///
/// Pure bookkeeping — no clock, no async: the caller numbers each request
/// with a ticket, acts on the answers (start generating, tell a requester
/// it was refused) and reports back with [`finish`](Self::finish) and
/// [`cancel`](Self::cancel). Never more than `max_slots` tickets are
/// started by it, never more than `max_waiting` wait. When the line is
/// full, a requester in better standing takes the place of the worst
/// waiting one; among equals, first come, first served. Running work is
/// never preempted.
///
/// ```
/// use chorus_core::{AdmissionQueue, Admitted, HostConditions, ServeLimits};
///
/// let mut queue = AdmissionQueue::new(ServeLimits { max_slots: 1, ..ServeLimits::default() });
/// let host = HostConditions { idle: true, charging: None };
/// assert_eq!(queue.request(1, 0, 100, &host)?.admitted, Admitted::RunNow);
/// assert_eq!(queue.request(2, -50, 100, &host)?.admitted, Admitted::Wait);
/// assert_eq!(queue.request(3, 900, 100, &host)?.admitted, Admitted::Wait);
/// assert_eq!(queue.finish(1), [3]); // the one who gave more goes first
/// # Ok::<(), chorus_core::Refusal>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdmissionQueue {
    limits: ServeLimits,
    /// Started tickets, in the order they started.
    running: Vec<u64>,
    /// Kept in serving order: highest standing first, arrival order among
    /// equals. The last one is the first to lose its place.
    waiting: Vec<Waiter>,
}

impl AdmissionQueue {
    /// An empty queue under these limits.
    #[must_use]
    pub fn new(limits: ServeLimits) -> Self {
        Self { limits, running: Vec::new(), waiting: Vec::new() }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &ServeLimits {
        &self.limits
    }

    /// Applies new limits (the owner changed a setting). Running tickets
    /// keep running even above a lowered `max_slots`; waiting ones may start
    /// (more slots) or be dropped (serving off, a shorter line — the lowest
    /// standing first).
    pub fn set_limits(&mut self, limits: ServeLimits) -> LimitsChange {
        self.limits = limits;
        let mut change = LimitsChange::default();
        if let Some(refusal) = self.closed() {
            change.refused = self.waiting.drain(..).map(|waiter| (waiter.ticket, refusal.clone())).collect();
            return change;
        }
        change.start = self.promote();
        while self.waiting.len() > self.max_waiting() {
            if let Some(waiter) = self.waiting.pop() {
                change.refused.push((waiter.ticket, Refusal::Busy));
            }
        }
        change
    }

    /// Decides on a request for `max_tokens` tokens from a requester of
    /// this `standing`, under the host's current conditions.
    ///
    /// Refused when serving is off or the host conditions fail
    /// (`NotServing`), when it asks too much (`TooManyTokens`), or when
    /// every slot and waiting place is taken by requesters in at least as
    /// good standing (`Busy`). Asking again with a ticket already admitted
    /// changes nothing and answers where it stands.
    pub fn request(
        &mut self,
        ticket: u64,
        standing: i64,
        max_tokens: u32,
        host: &HostConditions,
    ) -> Result<Admission, Refusal> {
        if let Some(refusal) = self.closed() {
            return Err(refusal);
        }
        if self.limits.only_when_idle && !host.idle {
            return Err(Refusal::not_serving("the device is in use"));
        }
        if self.limits.only_when_charging && host.charging == Some(false) {
            return Err(Refusal::not_serving("the device is not charging"));
        }
        if max_tokens > self.limits.max_tokens {
            return Err(Refusal::TooManyTokens { max: self.limits.max_tokens });
        }
        let admitted = |admitted| Admission { admitted, evicted: None };
        if self.running.contains(&ticket) {
            return Ok(admitted(Admitted::RunNow));
        }
        if self.waiting.iter().any(|waiter| waiter.ticket == ticket) {
            return Ok(admitted(Admitted::Wait));
        }
        if self.running.len() < self.max_slots() && self.waiting.is_empty() {
            self.running.push(ticket);
            return Ok(admitted(Admitted::RunNow));
        }
        let mut evicted = None;
        if self.waiting.len() >= self.max_waiting() {
            match self.waiting.last() {
                Some(worst) if worst.standing < standing => {
                    evicted = self.waiting.pop().map(|waiter| waiter.ticket);
                }
                _ => return Err(Refusal::Busy),
            }
        }
        let position = self.waiting.partition_point(|waiter| waiter.standing >= standing);
        self.waiting.insert(position, Waiter { ticket, standing });
        Ok(Admission { admitted: Admitted::Wait, evicted })
    }

    /// A started ticket is done (finished, failed or abandoned): frees its
    /// slot and returns the waiting tickets that may start now, in order.
    /// A waiting ticket given here is simply removed.
    pub fn finish(&mut self, ticket: u64) -> Vec<u64> {
        if let Some(position) = self.running.iter().position(|running| *running == ticket) {
            let _ = self.running.remove(position);
        } else {
            let _ = self.cancel(ticket);
        }
        self.promote()
    }

    /// A waiting requester went away: forgets its ticket. Returns whether it
    /// was waiting. A running ticket is left alone — its slot is only free
    /// once generation has stopped, which the caller reports with
    /// [`finish`](Self::finish).
    pub fn cancel(&mut self, ticket: u64) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|waiter| waiter.ticket != ticket);
        self.waiting.len() != before
    }

    /// The started tickets, in the order they started.
    #[must_use]
    pub fn running(&self) -> &[u64] {
        &self.running
    }

    /// The waiting tickets, in the order they will start.
    #[must_use]
    pub fn waiting(&self) -> Vec<u64> {
        self.waiting.iter().map(|waiter| waiter.ticket).collect()
    }

    /// Slots free now, for the status this device reports to requesters.
    #[must_use]
    pub fn free_slots(&self) -> u32 {
        if self.closed().is_some() {
            return 0;
        }
        let running = u32::try_from(self.running.len()).unwrap_or(u32::MAX);
        self.limits.max_slots.saturating_sub(running)
    }

    /// Why no request can be accepted whatever the host does, if so.
    fn closed(&self) -> Option<Refusal> {
        if !self.limits.serve {
            Some(Refusal::not_serving("serving is turned off"))
        } else if self.limits.max_slots == 0 {
            Some(Refusal::not_serving("no slots are offered"))
        } else {
            None
        }
    }

    fn max_slots(&self) -> usize {
        usize::try_from(self.limits.max_slots).unwrap_or(usize::MAX)
    }

    fn max_waiting(&self) -> usize {
        usize::try_from(self.limits.max_waiting).unwrap_or(usize::MAX)
    }

    /// Starts waiting tickets while slots are free.
    fn promote(&mut self) -> Vec<u64> {
        let free = self.max_slots().saturating_sub(self.running.len());
        let started: Vec<u64> =
            self.waiting.drain(..free.min(self.waiting.len())).map(|waiter| waiter.ticket).collect();
        self.running.extend_from_slice(&started);
        started
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(tokens_given: u64, tokens_received: u64) -> LedgerEntry {
        LedgerEntry { tokens_given, tokens_received, ..LedgerEntry::default() }
    }

    #[test]
    fn standing_is_net_tokens_received_and_saturates() {
        assert_eq!(standing(&LedgerEntry::default()), 0);
        assert_eq!(standing(&ledger(100, 250)), 150);
        assert_eq!(standing(&ledger(250, 100)), -150);
        assert_eq!(standing(&ledger(0, u64::MAX)), i64::MAX);
        assert_eq!(standing(&ledger(u64::MAX, 0)), i64::MIN);
        assert_eq!(standing(&ledger(u64::MAX, u64::MAX)), 0);
    }

    #[test]
    fn probe_targets_nearest_known_first_then_unknown_in_given_order() {
        let providers: Vec<String> = ["e", "a", "far", "b", "near", "a", "c"].iter().map(|s| (*s).to_owned()).collect();
        let rtt = BTreeMap::from([
            ("far".to_owned(), 300),
            ("near".to_owned(), 5),
            ("b".to_owned(), 40),
            ("c".to_owned(), 40),
            ("absent".to_owned(), 1),
        ]);
        assert_eq!(pick_probe_targets(&providers, &rtt, 10), ["near", "b", "c", "far", "e", "a"]);
        assert_eq!(pick_probe_targets(&providers, &rtt, 3), ["near", "b", "c"]);
        assert_eq!(pick_probe_targets(&providers, &rtt, 5), ["near", "b", "c", "far", "e"]);
        assert!(pick_probe_targets(&providers, &rtt, 0).is_empty());
        assert!(pick_probe_targets(&[], &rtt, 3).is_empty());
        assert_eq!(pick_probe_targets(&providers, &BTreeMap::new(), 3), ["e", "a", "far"]);
    }

    #[test]
    fn generation_time_guards_against_bad_speeds() {
        let candidate = |tokens_per_s| Candidate {
            executor: "p".into(),
            local: false,
            has_specialist: true,
            serving: true,
            free_slots: 1,
            total_slots: 1,
            rtt_ms: Some(0),
            tokens_per_s,
            standing: 0,
        };
        let policy = PlacementPolicy { expected_tokens: 100, default_tokens_per_s: 50.0, ..PlacementPolicy::default() };
        assert_eq!(generation_ms(&candidate(Some(100.0)), &policy), 1_000);
        assert_eq!(generation_ms(&candidate(Some(3.0)), &policy), 33_334);
        for bad in [None, Some(0.0), Some(-5.0), Some(f32::NAN), Some(f32::INFINITY)] {
            assert_eq!(generation_ms(&candidate(bad), &policy), 2_000, "{bad:?}");
        }
        let broken = PlacementPolicy { default_tokens_per_s: 0.0, ..policy };
        assert_eq!(generation_ms(&candidate(None), &broken), 100_000);
        assert_eq!(generation_ms(&candidate(Some(1e-30)), &broken), u64::MAX);
    }

    #[test]
    fn refusals_have_stable_codes_on_the_wire() -> Result<(), serde_json::Error> {
        let refusals = [
            Refusal::NotServing { reason: "the device is in use".into() },
            Refusal::Busy,
            Refusal::TooManyTokens { max: 512 },
        ];
        let codes: Vec<_> = refusals.iter().map(Refusal::code).collect();
        assert_eq!(codes, ["not_serving", "busy", "too_many_tokens"]);
        for refusal in &refusals {
            let json = serde_json::to_value(refusal)?;
            assert_eq!(json["code"], refusal.code());
            assert_eq!(&serde_json::from_value::<Refusal>(json)?, refusal);
        }
        assert_eq!(
            serde_json::to_string(&Refusal::TooManyTokens { max: 512 })?,
            r#"{"code":"too_many_tokens","max":512}"#
        );
        assert_eq!(Refusal::TooManyTokens { max: 512 }.to_string(), "too many tokens requested: at most 512");
        Ok(())
    }

    #[test]
    fn free_slots_follow_the_limits() -> Result<(), Refusal> {
        let host = HostConditions { idle: true, charging: None };
        let mut queue = AdmissionQueue::new(ServeLimits::default());
        assert_eq!(queue.free_slots(), 2);
        let _ = queue.request(1, 0, 1, &host)?;
        assert_eq!(queue.free_slots(), 1);
        let _ = queue.set_limits(ServeLimits { serve: false, ..ServeLimits::default() });
        assert_eq!(queue.free_slots(), 0);
        assert_eq!(queue.running(), [1], "running work is never preempted");
        Ok(())
    }
}
