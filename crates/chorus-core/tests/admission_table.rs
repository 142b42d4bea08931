//! The admission tables: how this device admits others' work
//! ([`AdmissionQueue`]) as scripted scenarios of requests, finishes,
//! cancellations and limit changes.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chorus_core::{Admission, AdmissionQueue, Admitted, HostConditions, LimitsChange, Refusal, ServeLimits};

// ---------------------------------------------------------------------------
// AdmissionQueue
// ---------------------------------------------------------------------------

const IDLE: HostConditions = HostConditions { idle: true, charging: None };
const IN_USE: HostConditions = HostConditions { idle: false, charging: None };
const ON_BATTERY: HostConditions = HostConditions { idle: true, charging: Some(false) };
const CHARGING: HostConditions = HostConditions { idle: true, charging: Some(true) };

/// One step of a scenario and what it must answer.
enum Step {
    /// `request(ticket, standing, tokens, host)` must give this.
    Request { ticket: u64, standing: i64, tokens: u32, host: HostConditions, expect: Result<Admission, Refusal> },
    /// `finish(ticket)` must start these.
    Finish(u64, &'static [u64]),
    /// `cancel(ticket)` must answer this.
    Cancel(u64, bool),
    /// `set_limits(limits)` must change this.
    SetLimits(ServeLimits, LimitsChange),
    /// The queue must hold exactly these running and waiting tickets.
    State(&'static [u64], &'static [u64]),
}

use Step::{Cancel, Finish, SetLimits, State};

fn ask(ticket: u64, standing: i64, expect: Result<Admission, Refusal>) -> Step {
    ask_as(ticket, standing, 100, IDLE, expect)
}

fn ask_as(ticket: u64, standing: i64, tokens: u32, host: HostConditions, expect: Result<Admission, Refusal>) -> Step {
    Step::Request { ticket, standing, tokens, host, expect }
}

fn run() -> Result<Admission, Refusal> {
    Ok(Admission { admitted: Admitted::RunNow, evicted: None })
}

fn wait() -> Result<Admission, Refusal> {
    Ok(Admission { admitted: Admitted::Wait, evicted: None })
}

fn wait_evicting(ticket: u64) -> Result<Admission, Refusal> {
    Ok(Admission { admitted: Admitted::Wait, evicted: Some(ticket) })
}

fn busy() -> Result<Admission, Refusal> {
    Err(Refusal::Busy)
}

fn not_serving(reason: &str) -> Result<Admission, Refusal> {
    Err(Refusal::NotServing { reason: reason.into() })
}

fn limits(max_slots: u32, max_waiting: u32) -> ServeLimits {
    ServeLimits { max_slots, max_waiting, ..ServeLimits::default() }
}

fn change(start: &[u64], refused: &[(u64, Refusal)]) -> LimitsChange {
    LimitsChange { start: start.to_vec(), refused: refused.to_vec() }
}

struct Scenario {
    name: &'static str,
    limits: ServeLimits,
    steps: Vec<Step>,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "defaults: two run, four wait, the seventh is busy",
            limits: ServeLimits::default(),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, run()),
                ask(3, 0, wait()),
                ask(4, 0, wait()),
                ask(5, 0, wait()),
                ask(6, 0, wait()),
                ask(7, 0, busy()),
                State(&[1, 2], &[3, 4, 5, 6]),
                Finish(1, &[3]),
                Finish(2, &[4]),
                State(&[3, 4], &[5, 6]),
            ],
        },
        Scenario {
            name: "a better-standing requester takes the worst waiting place",
            limits: limits(1, 2),
            steps: vec![
                ask(1, 0, run()),
                ask(2, -10, wait()),
                ask(3, 5, wait()),
                ask(4, 100, wait_evicting(2)),
                State(&[1], &[4, 3]),
                ask(5, 5, busy()), // equal to the worst: no eviction
                ask(6, 6, wait_evicting(3)),
                State(&[1], &[4, 6]),
                ask(7, -1_000, busy()),
            ],
        },
        Scenario {
            name: "among equals the newest waiter loses its place",
            limits: limits(1, 2),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, wait()),
                ask(3, 0, wait()),
                ask(4, 1, wait_evicting(3)),
                State(&[1], &[4, 2]),
            ],
        },
        Scenario {
            name: "an evicted ticket is gone: finishing it starts nobody new",
            limits: limits(1, 1),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, wait()),
                ask(3, 9, wait_evicting(2)),
                Finish(2, &[]),
                Cancel(2, false),
                State(&[1], &[3]),
                Finish(1, &[3]),
            ],
        },
        Scenario {
            name: "finish starts the highest standing, first come among equals",
            limits: limits(1, 4),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, wait()),
                ask(3, 50, wait()),
                ask(4, 0, wait()),
                ask(5, 50, wait()),
                State(&[1], &[3, 5, 2, 4]),
                Finish(1, &[3]),
                Finish(3, &[5]),
                Finish(5, &[2]),
                Finish(2, &[4]),
                Finish(4, &[]),
                State(&[], &[]),
                ask(6, -5, run()),
            ],
        },
        Scenario {
            name: "a free slot runs anyone, whatever their standing",
            limits: limits(2, 2),
            steps: vec![ask(1, -1_000_000, run()), ask(2, i64::MIN, run()), ask(3, i64::MAX, wait()), Finish(2, &[3])],
        },
        Scenario {
            name: "finishing an unknown ticket changes nothing",
            limits: limits(1, 1),
            steps: vec![ask(1, 0, run()), ask(2, 0, wait()), Finish(99, &[]), State(&[1], &[2])],
        },
        Scenario {
            name: "finishing a waiting ticket just removes it",
            limits: limits(1, 2),
            steps: vec![ask(1, 0, run()), ask(2, 0, wait()), ask(3, 0, wait()), Finish(2, &[]), State(&[1], &[3])],
        },
        Scenario {
            name: "a cancelled waiter leaves its place to the next",
            limits: limits(1, 2),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 10, wait()),
                ask(3, 0, wait()),
                Cancel(2, true),
                Cancel(2, false),
                Cancel(1, false), // running: only finish frees its slot
                State(&[1], &[3]),
                ask(4, 0, wait()),
                ask(5, 0, busy()),
                Finish(1, &[3]),
                State(&[3], &[4]),
            ],
        },
        Scenario {
            name: "no waiting line: busy as soon as the slots are full",
            limits: limits(1, 0),
            steps: vec![ask(1, 0, run()), ask(2, i64::MAX, busy()), State(&[1], &[])],
        },
        Scenario {
            name: "asking again with the same ticket changes nothing",
            limits: limits(1, 1),
            steps: vec![ask(1, 0, run()), ask(1, 0, run()), ask(2, 0, wait()), ask(2, 50, wait()), State(&[1], &[2])],
        },
        // --- host conditions and limits ------------------------------------
        Scenario {
            name: "serving off refuses everyone",
            limits: ServeLimits { serve: false, ..ServeLimits::default() },
            steps: vec![ask(1, i64::MAX, not_serving("serving is turned off")), State(&[], &[])],
        },
        Scenario {
            name: "zero slots is not serving, not busy",
            limits: limits(0, 4),
            steps: vec![ask(1, 0, not_serving("no slots are offered")), State(&[], &[])],
        },
        Scenario {
            name: "only when idle",
            limits: ServeLimits { only_when_idle: true, ..ServeLimits::default() },
            steps: vec![
                ask_as(1, 0, 100, IN_USE, not_serving("the device is in use")),
                ask_as(2, 0, 100, IDLE, run()),
                ask_as(3, 0, 100, ON_BATTERY, run()), // charging not required
                State(&[2, 3], &[]),
            ],
        },
        Scenario {
            name: "in use is fine when idleness is not required",
            limits: ServeLimits::default(),
            steps: vec![ask_as(1, 0, 100, IN_USE, run())],
        },
        Scenario {
            name: "only when charging; no battery counts as charging",
            limits: ServeLimits { only_when_charging: true, ..ServeLimits::default() },
            steps: vec![
                ask_as(1, 0, 100, ON_BATTERY, not_serving("the device is not charging")),
                ask_as(2, 0, 100, CHARGING, run()),
                ask_as(3, 0, 100, IDLE, run()),
                ask_as(4, 0, 100, IN_USE, wait()), // idleness not required
            ],
        },
        Scenario {
            name: "idle and charging both required",
            limits: ServeLimits { only_when_idle: true, only_when_charging: true, ..ServeLimits::default() },
            steps: vec![
                ask_as(
                    1,
                    0,
                    100,
                    HostConditions { idle: false, charging: Some(true) },
                    not_serving("the device is in use"),
                ),
                ask_as(2, 0, 100, ON_BATTERY, not_serving("the device is not charging")),
                ask_as(3, 0, 100, CHARGING, run()),
            ],
        },
        Scenario {
            name: "too many tokens",
            limits: ServeLimits::default(),
            steps: vec![
                ask_as(1, 0, 513, IDLE, Err(Refusal::TooManyTokens { max: 512 })),
                ask_as(2, 0, 512, IDLE, run()),
                ask_as(3, 0, 0, IDLE, run()),
                ask_as(4, i64::MAX, u32::MAX, IDLE, Err(Refusal::TooManyTokens { max: 512 })),
                State(&[2, 3], &[]),
            ],
        },
        Scenario {
            name: "not serving is said before too many tokens",
            limits: ServeLimits { only_when_idle: true, ..ServeLimits::default() },
            steps: vec![ask_as(1, 0, 10_000, IN_USE, not_serving("the device is in use"))],
        },
        Scenario {
            name: "refusals leave the queue as it was",
            limits: ServeLimits { only_when_idle: true, ..limits(1, 1) },
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, wait()),
                ask(3, 0, busy()),
                ask_as(4, 99, 100, IN_USE, not_serving("the device is in use")),
                ask_as(5, 99, 9_999, IDLE, Err(Refusal::TooManyTokens { max: 512 })),
                State(&[1], &[2]),
            ],
        },
        // --- the owner changes the limits -----------------------------------
        Scenario {
            name: "more slots start waiters at once",
            limits: limits(1, 4),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, wait()),
                ask(3, 7, wait()),
                ask(4, 0, wait()),
                SetLimits(limits(3, 4), change(&[3, 2], &[])),
                State(&[1, 3, 2], &[4]),
            ],
        },
        Scenario {
            name: "a shorter line drops the lowest standing, told busy",
            limits: limits(1, 4),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 3, wait()),
                ask(3, -4, wait()),
                ask(4, 8, wait()),
                ask(5, 3, wait()),
                SetLimits(limits(1, 2), change(&[], &[(3, Refusal::Busy), (5, Refusal::Busy)])),
                State(&[1], &[4, 2]),
            ],
        },
        Scenario {
            name: "fewer slots never stop running work",
            limits: limits(3, 2),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, run()),
                ask(3, 0, run()),
                SetLimits(limits(1, 2), change(&[], &[])),
                State(&[1, 2, 3], &[]),
                ask(4, 0, wait()),
                Finish(1, &[]),
                Finish(2, &[]),
                Finish(3, &[4]),
                State(&[4], &[]),
            ],
        },
        Scenario {
            name: "turning serving off refuses the waiters",
            limits: limits(1, 3),
            steps: vec![
                ask(1, 0, run()),
                ask(2, 0, wait()),
                ask(3, 1, wait()),
                SetLimits(
                    ServeLimits { serve: false, ..limits(1, 3) },
                    change(
                        &[],
                        &[
                            (3, Refusal::NotServing { reason: "serving is turned off".into() }),
                            (2, Refusal::NotServing { reason: "serving is turned off".into() }),
                        ],
                    ),
                ),
                State(&[1], &[]),
                ask(4, 0, not_serving("serving is turned off")),
                Finish(1, &[]),
                SetLimits(limits(1, 3), change(&[], &[])),
                ask(5, 0, run()),
            ],
        },
        Scenario {
            name: "a lower token limit applies to new requests",
            limits: ServeLimits::default(),
            steps: vec![
                ask_as(1, 0, 400, IDLE, run()),
                SetLimits(ServeLimits { max_tokens: 256, ..ServeLimits::default() }, change(&[], &[])),
                ask_as(2, 0, 400, IDLE, Err(Refusal::TooManyTokens { max: 256 })),
                State(&[1], &[]),
            ],
        },
    ]
}

#[test]
fn admission_scenarios() {
    let scenarios = scenarios();
    assert!(scenarios.len() >= 20, "{} scenarios", scenarios.len());
    for scenario in scenarios {
        let name = scenario.name;
        let mut queue = AdmissionQueue::new(scenario.limits.clone());
        for (number, step) in scenario.steps.into_iter().enumerate() {
            let at = format!("{name}, step {number}");
            match step {
                Step::Request { ticket, standing, tokens, host, expect } => {
                    assert_eq!(queue.request(ticket, standing, tokens, &host), expect, "{at}");
                }
                Finish(ticket, start) => assert_eq!(queue.finish(ticket), start, "{at}"),
                Cancel(ticket, was_waiting) => {
                    assert_eq!(queue.cancel(ticket), was_waiting, "{at}");
                }
                SetLimits(limits, expected) => {
                    assert_eq!(queue.set_limits(limits.clone()), expected, "{at}");
                    assert_eq!(queue.limits(), &limits, "{at}");
                }
                State(running, waiting) => {
                    assert_eq!(queue.running(), running, "{at}: running");
                    assert_eq!(queue.waiting(), waiting, "{at}: waiting");
                }
            }
            assert!(queue.waiting().len() <= queue.limits().max_waiting as usize, "{at}: too many waiting");
            assert!(queue.waiting().is_empty() || queue.free_slots() == 0, "{at}: someone waits while a slot is free");
        }
    }
}

/// A long pseudo-random run (a fixed-seed LCG, so it is the same every
/// time) checking the bounds after every operation.
#[test]
fn admission_bounds_hold_under_churn() {
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |bound: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % bound
    };
    let mut queue = AdmissionQueue::new(limits(3, 5));
    let mut told_to_wait = std::collections::BTreeSet::new();
    let mut started = std::collections::BTreeSet::new();
    for ticket in 0..5_000_u64 {
        match next(10) {
            0..=4 => {
                let standing = i64::try_from(next(200)).unwrap() - 100;
                match queue.request(ticket, standing, 100, &IDLE) {
                    Ok(admission) => {
                        if let Some(evicted) = admission.evicted {
                            assert!(told_to_wait.remove(&evicted), "evicted a non-waiter");
                        }
                        match admission.admitted {
                            Admitted::RunNow => assert!(started.insert(ticket)),
                            Admitted::Wait => assert!(told_to_wait.insert(ticket)),
                        }
                    }
                    Err(refusal) => assert_eq!(refusal, Refusal::Busy),
                }
            }
            5..=7 => {
                if let Some(&done) = queue.running().first() {
                    for promoted in queue.finish(done) {
                        assert!(told_to_wait.remove(&promoted));
                        assert!(started.insert(promoted));
                    }
                }
            }
            8 => {
                let waiting = queue.waiting();
                if !waiting.is_empty() {
                    let leaving = waiting[usize::try_from(next(waiting.len() as u64)).unwrap()];
                    assert!(queue.cancel(leaving));
                    assert!(told_to_wait.remove(&leaving));
                }
            }
            _ => {
                let new = limits(u32::try_from(next(4)).unwrap() + 1, u32::try_from(next(6)).unwrap());
                let change = queue.set_limits(new);
                for promoted in change.start {
                    assert!(told_to_wait.remove(&promoted));
                    assert!(started.insert(promoted));
                }
                for (refused, refusal) in change.refused {
                    assert_eq!(refusal, Refusal::Busy);
                    assert!(told_to_wait.remove(&refused));
                }
            }
        }
        assert!(queue.waiting().len() <= queue.limits().max_waiting as usize);
        assert_eq!(
            queue.waiting().into_iter().collect::<std::collections::BTreeSet<_>>(),
            told_to_wait,
            "every waiter knows it waits"
        );
        assert!(queue.waiting().is_empty() || queue.free_slots() == 0);
        assert!(queue.running().iter().all(|t| started.contains(t)));
    }
    assert!(started.len() > 1_000, "the run exercised the queue: {}", started.len());
}
