//! The placement tables: where a sub-task runs ([`rank_executors`]) for
//! local-versus-peer choices, busy and slow peers, unknown measurements and
//! ties; and how this device admits others' work ([`AdmissionQueue`]) as
//! scripted scenarios of requests, finishes, cancellations and limit
//! changes.
//!
//! Default policy in the rows: 256 expected tokens, local preference 25 %,
//! 20 tokens/s when unknown, round trips above 1000 ms are slow. Handy
//! times: 40 tokens/s → 6400 ms, 32 → 8000 ms, 20 → 12 800 ms,
//! 80 → 3200 ms.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chorus_core::{
    Admission, AdmissionQueue, Admitted, Candidate, HostConditions, LimitsChange, Placement, PlacementPolicy, Refusal,
    ServeLimits, rank_executors,
};

// ---------------------------------------------------------------------------
// rank_executors
// ---------------------------------------------------------------------------

fn local(free_slots: u32, tokens_per_s: f32) -> Candidate {
    Candidate {
        executor: "local".into(),
        local: true,
        has_specialist: true,
        serving: true,
        free_slots,
        total_slots: 2,
        rtt_ms: Some(0),
        tokens_per_s: Some(tokens_per_s),
        standing: 0,
    }
}

fn peer(id: &str, free_slots: u32, rtt_ms: Option<u32>, tokens_per_s: f32) -> Candidate {
    Candidate {
        executor: id.into(),
        local: false,
        has_specialist: true,
        serving: true,
        free_slots,
        total_slots: 4,
        rtt_ms,
        tokens_per_s: Some(tokens_per_s),
        standing: 0,
    }
}

fn with_standing(mut candidate: Candidate, standing: i64) -> Candidate {
    candidate.standing = standing;
    candidate
}

struct RankRow {
    name: &'static str,
    candidates: Vec<Candidate>,
    policy: PlacementPolicy,
    /// Executors, best first.
    order: &'static [&'static str],
    /// Reasons, in the same order (empty: not checked).
    reasons: &'static [&'static str],
    /// Expected times, in the same order (empty: not checked).
    expected_ms: &'static [u64],
}

fn row(name: &'static str, candidates: Vec<Candidate>, order: &'static [&'static str]) -> RankRow {
    RankRow { name, candidates, policy: PlacementPolicy::default(), order, reasons: &[], expected_ms: &[] }
}

impl RankRow {
    fn reasons(mut self, reasons: &'static [&'static str]) -> Self {
        self.reasons = reasons;
        self
    }

    fn times(mut self, expected_ms: &'static [u64]) -> Self {
        self.expected_ms = expected_ms;
        self
    }

    fn policy(mut self, policy: PlacementPolicy) -> Self {
        self.policy = policy;
        self
    }
}

fn rank_rows() -> Vec<RankRow> {
    vec![
        // --- nothing to choose from ---------------------------------------
        row("no candidates", vec![], &[]),
        row(
            "nobody has the specialist",
            vec![
                Candidate { has_specialist: false, ..local(1, 40.0) },
                Candidate { has_specialist: false, ..peer("p1", 2, Some(5), 80.0) },
            ],
            &[],
        ),
        row(
            "nobody is serving",
            vec![
                Candidate { serving: false, ..local(1, 40.0) },
                Candidate { serving: false, ..peer("p1", 2, Some(5), 80.0) },
            ],
            &[],
        ),
        // --- local versus peers -------------------------------------------
        row("only local", vec![local(1, 40.0)], &["local"]).reasons(&["local: no nearby peer is free"]).times(&[6_400]),
        row("local as fast as the best peer", vec![peer("p1", 2, Some(10), 40.0), local(1, 40.0)], &["local", "p1"])
            .reasons(&["local: as fast as the best peer", "peer: 2 free slots, 10 ms"])
            .times(&[6_400, 6_410]),
        row("local faster than every peer", vec![peer("p1", 2, Some(10), 20.0), local(1, 80.0)], &["local", "p1"])
            .reasons(&["local: as fast as the best peer", "peer: 2 free slots, 10 ms"]),
        row(
            "local within the preference margin wins",
            vec![peer("p1", 2, Some(10), 40.0), local(1, 32.0)],
            &["local", "p1"],
        )
        .reasons(&["local: within 25% of the best peer", "peer: 2 free slots, 10 ms"])
        .times(&[8_000, 6_410]),
        row("local beyond the margin loses", vec![peer("p1", 2, Some(10), 40.0), local(1, 20.0)], &["p1", "local"])
            .reasons(&["peer: 2 free slots, 10 ms", "local: slower than the best peer"])
            .times(&[6_410, 12_800]),
        row(
            "no preference: the faster peer wins",
            vec![peer("p1", 2, Some(10), 40.0), local(1, 32.0)],
            &["p1", "local"],
        )
        .policy(PlacementPolicy { local_preference: 0.0, ..PlacementPolicy::default() }),
        row(
            "a generous preference keeps a slow local device first",
            vec![peer("p1", 2, Some(10), 40.0), local(1, 20.0)],
            &["local", "p1"],
        )
        .policy(PlacementPolicy { local_preference: 1.0, ..PlacementPolicy::default() })
        .reasons(&["local: within 100% of the best peer", "peer: 2 free slots, 10 ms"]),
        row(
            "a negative preference counts as none",
            vec![peer("p1", 2, Some(10), 40.0), local(1, 40.0)],
            &["local", "p1"],
        )
        .policy(PlacementPolicy { local_preference: -0.5, ..PlacementPolicy::default() }),
        row(
            "local is compared with the best peer, not the first given",
            vec![peer("slow", 1, Some(5), 20.0), peer("fast", 1, Some(5), 80.0), local(1, 40.0)],
            &["fast", "local", "slow"],
        ),
        row(
            "local's round trip is zero whatever it says",
            vec![Candidate { rtt_ms: None, ..local(1, 40.0) }, peer("p1", 1, Some(10), 40.0)],
            &["local", "p1"],
        )
        .times(&[6_400, 6_410]),
        row(
            "a busy local device waits behind free peers",
            vec![local(0, 80.0), peer("p1", 1, Some(10), 20.0)],
            &["p1", "local"],
        )
        .reasons(&["peer: 1 free slot, 10 ms", "local: busy"]),
        row(
            "a free local device beats busy peers, however fast",
            vec![peer("p1", 0, Some(5), 200.0), local(1, 10.0)],
            &["local", "p1"],
        )
        .reasons(&["local: no nearby peer is free", "peer: busy, 5 ms"]),
        row(
            "a free local device beats a free peer that is slow to answer",
            vec![peer("far", 3, Some(1_500), 200.0), local(1, 10.0)],
            &["local", "far"],
        )
        .reasons(&["local: no nearby peer is free", "peer: 3 free slots, 1500 ms (slow to answer)"]),
        // --- busy peers ----------------------------------------------------
        row(
            "busy peers come after free ones",
            vec![peer("busy", 0, Some(5), 80.0), peer("free", 1, Some(50), 20.0)],
            &["free", "busy"],
        ),
        row(
            "all busy: kept, fastest first",
            vec![peer("p2", 0, Some(5), 20.0), peer("p1", 0, Some(5), 40.0)],
            &["p1", "p2"],
        )
        .reasons(&["peer: busy, 5 ms", "peer: busy, 5 ms"]),
        row(
            "a busy peer slow to answer is the very last",
            vec![
                peer("busy-far", 0, Some(2_000), 200.0),
                peer("busy-near", 0, Some(5), 10.0),
                peer("free-far", 1, Some(2_000), 10.0),
                peer("free-near", 1, Some(5), 10.0),
            ],
            &["free-near", "free-far", "busy-near", "busy-far"],
        ),
        // --- round trips ---------------------------------------------------
        row(
            "an unknown round trip is estimated at the limit",
            vec![
                peer("unknown", 1, None, 40.0),
                peer("measured", 1, Some(500), 40.0),
                peer("near-slow", 1, Some(10), 20.0),
            ],
            &["measured", "unknown", "near-slow"],
        )
        .reasons(&["peer: 1 free slot, 500 ms", "peer: 1 free slot, round trip unknown", "peer: 1 free slot, 10 ms"])
        .times(&[6_900, 7_400, 12_810]),
        row(
            "slow to answer goes last among the free, even when fast",
            vec![peer("far", 2, Some(1_500), 80.0), peer("near", 2, Some(20), 20.0)],
            &["near", "far"],
        )
        .times(&[12_820, 4_700]),
        row(
            "exactly at the limit is not slow",
            vec![peer("edge", 1, Some(1_000), 80.0), peer("near", 1, Some(20), 20.0)],
            &["edge", "near"],
        ),
        row(
            "a lower limit pushes a peer back",
            vec![peer("edge", 1, Some(1_000), 80.0), peer("near", 1, Some(20), 20.0)],
            &["near", "edge"],
        )
        .policy(PlacementPolicy { max_rtt_ms: 200, ..PlacementPolicy::default() }),
        row(
            "nearer wins at equal speed",
            vec![peer("p-far", 1, Some(90), 40.0), peer("p-near", 1, Some(12), 40.0)],
            &["p-near", "p-far"],
        )
        .reasons(&["peer: 1 free slot, 12 ms", "peer: 1 free slot, 90 ms"]),
        // --- speed ---------------------------------------------------------
        row(
            "an unknown speed is the policy's default",
            vec![
                Candidate { tokens_per_s: None, ..peer("unknown", 1, Some(0), 1.0) },
                peer("slower", 1, Some(0), 19.0),
            ],
            &["unknown", "slower"],
        )
        .times(&[12_800, 13_474]),
        row(
            "the default speed is tunable",
            vec![
                Candidate { tokens_per_s: None, ..peer("unknown", 1, Some(0), 1.0) },
                peer("slower", 1, Some(0), 19.0),
            ],
            &["slower", "unknown"],
        )
        .policy(PlacementPolicy { default_tokens_per_s: 10.0, ..PlacementPolicy::default() }),
        row(
            "a shorter answer shrinks the generation, not the round trip",
            vec![peer("fast-far", 1, Some(600), 80.0), peer("slow-near", 1, Some(5), 40.0)],
            &["slow-near", "fast-far"],
        )
        .policy(PlacementPolicy { expected_tokens: 32, ..PlacementPolicy::default() })
        .times(&[805, 1_000]),
        row(
            "more free slots do not beat a faster peer",
            vec![peer("roomy", 8, Some(10), 20.0), peer("quick", 1, Some(10), 40.0)],
            &["quick", "roomy"],
        )
        .reasons(&["peer: 1 free slot, 10 ms", "peer: 8 free slots, 10 ms"]),
        // --- ties ----------------------------------------------------------
        row(
            "standing breaks a tie",
            vec![
                with_standing(peer("taker", 1, Some(10), 40.0), -300),
                with_standing(peer("giver", 1, Some(10), 40.0), 5_000),
                with_standing(peer("neutral", 1, Some(10), 40.0), 0),
            ],
            &["giver", "neutral", "taker"],
        ),
        row(
            "standing does not beat a faster peer",
            vec![with_standing(peer("giver", 1, Some(10), 39.0), 1_000_000), peer("faster", 1, Some(10), 40.0)],
            &["faster", "giver"],
        ),
        row(
            "equal standing: the executor id decides",
            vec![
                peer("12D3KooWc", 1, Some(10), 40.0),
                peer("12D3KooWa", 1, Some(10), 40.0),
                peer("12D3KooWb", 1, Some(10), 40.0),
            ],
            &["12D3KooWa", "12D3KooWb", "12D3KooWc"],
        ),
        row(
            "standing breaks ties among busy peers too",
            vec![with_standing(peer("b", 0, Some(10), 40.0), 1), with_standing(peer("a", 0, Some(10), 40.0), 2)],
            &["a", "b"],
        ),
        // --- everything at once -------------------------------------------
        row(
            "a mixed crowd",
            vec![
                Candidate { serving: false, ..peer("off", 4, Some(1), 500.0) },
                Candidate { has_specialist: false, ..peer("other-model", 4, Some(1), 500.0) },
                peer("busy", 0, Some(3), 100.0),
                peer("laptop", 2, Some(8), 60.0),
                peer("desktop", 1, Some(25), 120.0),
                peer("remote", 4, Some(4_000), 300.0),
                peer("mystery", 1, None, 60.0),
                local(1, 25.0),
            ],
            &["desktop", "laptop", "mystery", "local", "remote", "busy"],
        )
        .reasons(&[
            "peer: 1 free slot, 25 ms",
            "peer: 2 free slots, 8 ms",
            "peer: 1 free slot, round trip unknown",
            "local: slower than the best peer",
            "peer: 4 free slots, 4000 ms (slow to answer)",
            "peer: busy, 3 ms",
        ])
        .times(&[2_159, 4_275, 5_267, 10_240, 4_854, 2_563]),
    ]
}

#[test]
fn rank_table() {
    let rows = rank_rows();
    assert!(rows.len() >= 30, "keep the table rich: {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let ranked = rank_executors(&row.candidates, &row.policy);
        let order: Vec<&str> = ranked.iter().map(|p| p.executor.as_str()).collect();
        if order != row.order {
            failures.push(format!("{}: order {order:?}, expected {:?}", row.name, row.order));
            continue;
        }
        if !row.reasons.is_empty() {
            let reasons: Vec<&str> = ranked.iter().map(|p| p.reason.as_str()).collect();
            if reasons != row.reasons {
                failures.push(format!("{}: reasons {reasons:?}", row.name));
            }
        }
        if !row.expected_ms.is_empty() {
            let times: Vec<u64> = ranked.iter().map(|p| p.expected_ms).collect();
            if times != row.expected_ms {
                failures.push(format!("{}: times {times:?}", row.name));
            }
        }
        for placement in &ranked {
            let source = row
                .candidates
                .iter()
                .find(|c| c.executor == placement.executor)
                .expect("a placement comes from a candidate");
            assert_eq!(placement.local, source.local, "{}", row.name);
        }
    }
    assert!(failures.is_empty(), "{} rows failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn ranking_does_not_depend_on_input_order() {
    for row in rank_rows() {
        let forward = rank_executors(&row.candidates, &row.policy);
        let mut reversed = row.candidates.clone();
        reversed.reverse();
        assert_eq!(rank_executors(&reversed, &row.policy), forward, "{}", row.name);
        let mut rotated = row.candidates.clone();
        if !rotated.is_empty() {
            rotated.rotate_left(1);
        }
        assert_eq!(rank_executors(&rotated, &row.policy), forward, "{}", row.name);
    }
}

#[test]
fn placements_serialise_for_the_ui() {
    let ranked = rank_executors(&[local(1, 40.0)], &PlacementPolicy::default());
    let json = serde_json::to_value(&ranked).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "executor": "local",
            "local": true,
            "expected_ms": 6400,
            "reason": "local: no nearby peer is free",
        }])
    );
    let back: Vec<Placement> = serde_json::from_value(json).unwrap();
    assert_eq!(back, ranked);
    let candidate = peer("p1", 1, None, 12.5);
    let round_trip: Candidate = serde_json::from_str(&serde_json::to_string(&candidate).unwrap()).unwrap();
    assert_eq!(round_trip, candidate);
}

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
