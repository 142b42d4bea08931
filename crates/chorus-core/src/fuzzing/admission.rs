//! `admission_queue`: the executor's admission queue under any sequence of
//! requests, finishes, cancellations and changes of limits, against a
//! model of what the caller was told.

use std::collections::{BTreeMap, BTreeSet};

use super::Input;
use crate::placement::{AdmissionQueue, Admitted, HostConditions, Refusal, ServeLimits};

/// What the caller knows from the queue's answers: which tickets it was
/// told to start and which wait, with the requester and standing of each
/// waiting one.
#[derive(Debug, Default)]
struct Model {
    running: BTreeSet<u64>,
    waiting: BTreeMap<u64, (u64, i64)>,
}

/// The input is a sequence of operations, a few bytes each: a request
/// (ticket, requester, standing, tokens, host), a finish, a cancel, or new
/// limits (slots 0–4, waiting places 0–5, serving on or off, idle only).
/// Tickets and requesters are small numbers, so they repeat.
///
/// After every operation: the queue's running and waiting tickets are
/// exactly those the caller was told about (started by an answer, a
/// finish's or a new limit's list; waiting until evicted, refused, started
/// or cancelled), never one twice; no more wait than the line holds; a
/// new start never fills more slots than offered, and a free slot never
/// stays free while someone waits; the line is in serving order (higher
/// standing first). A request refused as busy when the line is full comes
/// from a requester holding at least its fair share, or no requester holds
/// more than its own. A request over the token cap changes nothing. At the
/// end, finishing every running ticket leaves the queue empty with every
/// slot free: no slot leaks.
pub fn admission_queue(data: &[u8]) {
    let mut input = Input::new(data);
    let mut limits = ServeLimits { max_slots: 2, max_waiting: 3, max_tokens: 100, ..ServeLimits::default() };
    let mut queue = AdmissionQueue::new(limits.clone());
    let mut model = Model::default();
    let mut steps = 0;
    while !input.is_empty() && steps < 512 {
        steps += 1;
        let op = input.byte();
        match op % 4 {
            0 | 1 => {
                let ticket = u64::from(input.byte() % 16);
                let requester = u64::from(input.byte() % 4);
                let standing = i64::from(input.byte() as i8);
                let tokens = u32::from(input.byte());
                let flags = input.byte();
                let host = HostConditions { idle: flags & 1 == 0, charging: None };
                request(&mut queue, &mut model, &limits, (ticket, requester, standing, tokens), &host);
            }
            2 => {
                let ticket = u64::from(input.byte() % 16);
                let started = queue.finish(ticket);
                model.running.remove(&ticket);
                model.waiting.remove(&ticket);
                start(&mut model, &started);
                assert!(queue.running().len() <= slots(&limits) || started.is_empty(), "finish over the slots");
            }
            _ => {
                let flags = input.byte();
                if flags & 0x80 != 0 {
                    let ticket = u64::from(flags % 16);
                    let was_waiting = model.waiting.remove(&ticket).is_some();
                    assert_eq!(queue.cancel(ticket), was_waiting, "cancel says whether {ticket} waited");
                } else {
                    limits = ServeLimits {
                        serve: flags & 1 == 0,
                        max_slots: u32::from(flags >> 1) % 5,
                        max_waiting: u32::from(input.byte()) % 6,
                        max_tokens: 100,
                        only_when_idle: flags & 0x40 != 0,
                        only_when_charging: false,
                    };
                    let change = queue.set_limits(limits.clone());
                    start(&mut model, &change.start);
                    for (ticket, _) in &change.refused {
                        assert!(model.waiting.remove(ticket).is_some(), "refused {ticket}, which was not waiting");
                    }
                    if !change.start.is_empty() {
                        assert!(queue.running().len() <= slots(&limits), "new limits start too many");
                    }
                }
            }
        }
        check(&queue, &model, &limits);
    }
    drain(&mut queue, &mut model, &limits);
}

fn slots(limits: &ServeLimits) -> usize {
    limits.max_slots as usize
}

fn open(limits: &ServeLimits) -> bool {
    limits.serve && limits.max_slots > 0
}

/// Waiting tickets the queue started.
fn start(model: &mut Model, started: &[u64]) {
    for ticket in started {
        assert!(model.waiting.remove(ticket).is_some(), "started {ticket}, which was not waiting");
        assert!(model.running.insert(*ticket), "started {ticket} twice");
    }
}

/// One request and its answer, checked against the model.
fn request(
    queue: &mut AdmissionQueue,
    model: &mut Model,
    limits: &ServeLimits,
    (ticket, requester, standing, tokens): (u64, u64, i64, u32),
    host: &HostConditions,
) {
    let running_before = queue.running().len();
    let waiting_before: Vec<u64> = queue.waiting();
    // The fair share of the waiting places, as the queue promises it.
    let mut held: BTreeMap<u64, usize> = BTreeMap::new();
    for (owner, _) in model.waiting.values() {
        *held.entry(*owner).or_default() += 1;
    }
    let mine = held.get(&requester).copied().unwrap_or(0);
    let askers = held.len() + usize::from(mine == 0);
    let share = (limits.max_waiting as usize / askers.max(1)).max(1);
    let someone_over = held.values().any(|count| *count > share);
    let known = model.running.contains(&ticket) || model.waiting.contains_key(&ticket);

    match queue.request_from(ticket, requester, standing, tokens, host) {
        Ok(admission) => {
            assert!(open(limits), "admitted while closed");
            assert!(tokens <= limits.max_tokens, "admitted over the token cap");
            if let Some(evicted) = admission.evicted {
                assert!(!known, "a repeated request evicted {evicted}");
                assert!(model.waiting.remove(&evicted).is_some(), "evicted {evicted}, which was not waiting");
            }
            match admission.admitted {
                Admitted::RunNow if known => assert!(model.running.contains(&ticket), "{ticket} said running"),
                Admitted::Wait if known => assert!(model.waiting.contains_key(&ticket), "{ticket} said waiting"),
                Admitted::RunNow => {
                    assert!(running_before < slots(limits), "started over the slots");
                    model.running.insert(ticket);
                }
                Admitted::Wait => {
                    model.waiting.insert(ticket, (requester, standing));
                }
            }
        }
        Err(Refusal::TooManyTokens { max }) => {
            assert!(tokens > max && max == limits.max_tokens, "refused {tokens} tokens under the cap");
            assert_eq!(queue.running().len(), running_before, "a refusal changes nothing");
            assert_eq!(queue.waiting(), waiting_before, "a refusal changes nothing");
        }
        Err(Refusal::Busy) => {
            assert!(!known, "an admitted ticket asked again is not refused");
            assert!(waiting_before.len() >= limits.max_waiting as usize, "busy with a place free");
            assert!(mine >= share || !someone_over, "busy while a requester holds over its share");
            assert_eq!(queue.waiting(), waiting_before, "a refusal changes nothing");
        }
        Err(Refusal::NotServing { .. }) => {
            assert!(!open(limits) || (limits.only_when_idle && !host.idle), "not serving while open");
        }
    }
}

/// The queue agrees with the model, and its promises hold.
fn check(queue: &AdmissionQueue, model: &Model, limits: &ServeLimits) {
    let running: BTreeSet<u64> = queue.running().iter().copied().collect();
    assert_eq!(running.len(), queue.running().len(), "a ticket runs twice");
    assert_eq!(running, model.running, "running tickets the caller knows of");
    let waiting = queue.waiting();
    let waiting_set: BTreeSet<u64> = waiting.iter().copied().collect();
    assert_eq!(waiting_set.len(), waiting.len(), "a ticket waits twice");
    assert_eq!(waiting_set, model.waiting.keys().copied().collect(), "waiting tickets the caller knows of");
    assert!(running.is_disjoint(&waiting_set), "a ticket both runs and waits");
    assert!(waiting.len() <= limits.max_waiting as usize, "more wait than the line holds");
    if open(limits) && queue.running().len() < slots(limits) {
        assert!(waiting.is_empty(), "a slot is free while {waiting:?} wait");
    }
    let standings: Vec<i64> = waiting.iter().map(|ticket| model.waiting[ticket].1).collect();
    assert!(standings.windows(2).all(|pair| pair[0] >= pair[1]), "the line is not in standing order: {standings:?}");
    let expected_free = if open(limits) { limits.max_slots.saturating_sub(running.len() as u32) } else { 0 };
    assert_eq!(queue.free_slots(), expected_free, "free slots");
}

/// Finishes every running ticket until nothing is left: no slot leaks.
fn drain(queue: &mut AdmissionQueue, model: &mut Model, limits: &ServeLimits) {
    let mut rounds = 0;
    while let Some(&ticket) = queue.running().first() {
        rounds += 1;
        assert!(rounds <= 64, "the queue does not drain");
        let started = queue.finish(ticket);
        model.running.remove(&ticket);
        start(model, &started);
        check(queue, model, limits);
    }
    assert!(queue.waiting().is_empty() || !open(limits), "tickets wait with every slot free");
    if open(limits) {
        assert_eq!(queue.free_slots(), limits.max_slots, "every slot is free at the end");
    }
}
