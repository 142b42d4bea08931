//! Admission on the executor's side: the owner's [`ServeLimits`] applied to
//! incoming requests by an [`AdmissionQueue`] — a few slots running, a
//! bounded waiting line, requesters who gave more served first.

use serde::{Deserialize, Serialize};

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
    /// Who asked (a key the caller derives from the peer id).
    requester: u64,
}

/// Who runs and who waits on this device: a bounded line, ordered by the
/// requesters' [`standing`](crate::standing).
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
/// No requester keeps the device to itself while another asks
/// ([`request_from`](Self::request_from)): when the line is full, a
/// requester holding more than its fair share of the waiting places (the
/// places divided among the requesters asking) loses its last one to a
/// requester below its share, whatever their standing; and a freed slot
/// goes to the first waiting requester running less than its fair share of
/// the slots. A lone requester may still use every slot and place.
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
    /// The requester of each started ticket, in the same order.
    running_for: Vec<u64>,
    /// Kept in serving order: highest standing first, arrival order among
    /// equals. The last one is the first to lose its place.
    waiting: Vec<Waiter>,
}

impl AdmissionQueue {
    /// An empty queue under these limits.
    #[must_use]
    pub fn new(limits: ServeLimits) -> Self {
        Self { limits, running: Vec::new(), running_for: Vec::new(), waiting: Vec::new() }
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
        self.request_from(ticket, ticket, standing, max_tokens, host)
    }

    /// [`request`](Self::request) from `requester` (a key of the peer that
    /// asks): its tickets count together towards its fair share.
    pub fn request_from(
        &mut self,
        ticket: u64,
        requester: u64,
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
            self.running_for.push(requester);
            return Ok(admitted(Admitted::RunNow));
        }
        let mut evicted = None;
        if self.waiting.len() >= self.max_waiting() {
            if let Some(hog) = self.over_share(requester) {
                evicted = Some(self.waiting.remove(hog).ticket);
            } else {
                match self.waiting.last() {
                    Some(worst) if worst.standing < standing => {
                        evicted = self.waiting.pop().map(|waiter| waiter.ticket);
                    }
                    _ => return Err(Refusal::Busy),
                }
            }
        }
        let position = self.waiting.partition_point(|waiter| waiter.standing >= standing);
        self.waiting.insert(position, Waiter { ticket, standing, requester });
        Ok(Admission { admitted: Admitted::Wait, evicted })
    }

    /// The position of the last waiting ticket of a requester holding more
    /// than its fair share of the waiting places, when `newcomer` holds less
    /// than its own. The share is the places divided among the requesters
    /// waiting, the newcomer included (at least one place each).
    fn over_share(&self, newcomer: u64) -> Option<usize> {
        let mut counts: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
        for waiter in &self.waiting {
            *counts.entry(waiter.requester).or_default() += 1;
        }
        let mine = counts.get(&newcomer).copied().unwrap_or(0);
        let askers = counts.len() + usize::from(mine == 0);
        let share = (self.max_waiting() / askers.max(1)).max(1);
        if mine >= share {
            return None;
        }
        // The requester furthest over its share; ties to the one whose
        // last ticket waits furthest back.
        let (&hog, &held) = counts.iter().filter(|(_, held)| **held > share).max_by_key(|(_, held)| **held)?;
        let _ = held;
        self.waiting.iter().rposition(|waiter| waiter.requester == hog)
    }

    /// A started ticket is done (finished, failed or abandoned): frees its
    /// slot and returns the waiting tickets that may start now, in order.
    /// A waiting ticket given here is simply removed.
    pub fn finish(&mut self, ticket: u64) -> Vec<u64> {
        if let Some(position) = self.running.iter().position(|running| *running == ticket) {
            let _ = self.running.remove(position);
            let _ = self.running_for.remove(position);
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

    /// Starts waiting tickets while slots are free: each time the first
    /// one whose requester runs less than its fair share of the slots (the
    /// slots divided among the requesters running or waiting), or the
    /// first one when every requester has its share.
    fn promote(&mut self) -> Vec<u64> {
        let mut started = Vec::new();
        while self.running.len() < self.max_slots() && !self.waiting.is_empty() {
            let mut askers: Vec<u64> = self.running_for.clone();
            askers.extend(self.waiting.iter().map(|waiter| waiter.requester));
            askers.sort_unstable();
            askers.dedup();
            let share = (self.max_slots() / askers.len().max(1)).max(1);
            let runs = |requester: u64| self.running_for.iter().filter(|r| **r == requester).count();
            let next = self.waiting.iter().position(|waiter| runs(waiter.requester) < share).unwrap_or(0);
            let waiter = self.waiting.remove(next);
            self.running.push(waiter.ticket);
            self.running_for.push(waiter.requester);
            started.push(waiter.ticket);
        }
        started
    }
}
