//! The placement tables: where a sub-task runs ([`rank_executors`]) for
//! local-versus-peer choices, busy and slow peers, unknown measurements and
//! ties, measured and unmeasured peers, demotion. (How this device admits
//! others' work is in `admission_table.rs`.)
//!
//! Default policy in the rows: 256 expected tokens, local preference 25 %,
//! 20 tokens/s when unknown, round trips above 1000 ms are slow. Handy
//! times: 40 tokens/s → 6400 ms, 32 → 8000 ms, 20 → 12 800 ms,
//! 80 → 3200 ms. `peer` is a peer this device measured (the speed given is
//! the measured one, no failures); `stranger` one it never ran a task on
//! (the speed given is what it says; it counts up to 40 tokens/s).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use chorus_core::{Candidate, Measured, Placement, PlacementPolicy, rank_executors};

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
        measured: None,
        demoted: false,
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
        measured: Some(Measured { tokens_per_s: Some(tokens_per_s), succeeded: 10, failed: 0 }),
        demoted: false,
    }
}

/// A peer this device never ran a task on, saying it runs at `claimed`.
fn stranger(id: &str, free_slots: u32, rtt_ms: Option<u32>, claimed: f32) -> Candidate {
    Candidate { measured: None, ..peer(id, free_slots, rtt_ms, claimed) }
}

fn with_record(mut candidate: Candidate, succeeded: u64, failed: u64) -> Candidate {
    let speed = candidate.measured.and_then(|measured| measured.tokens_per_s);
    candidate.measured = Some(Measured { tokens_per_s: speed, succeeded, failed });
    candidate
}

fn demoted(mut candidate: Candidate) -> Candidate {
    candidate.demoted = true;
    candidate
}

fn with_speed(mut candidate: Candidate, tokens_per_s: Option<f32>) -> Candidate {
    candidate.measured = candidate.measured.map(|measured| Measured { tokens_per_s, ..measured });
    candidate
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
                Candidate { tokens_per_s: None, ..with_speed(peer("unknown", 1, Some(0), 1.0), None) },
                peer("slower", 1, Some(0), 19.0),
            ],
            &["unknown", "slower"],
        )
        .times(&[12_800, 13_474]),
        row(
            "the default speed is tunable",
            vec![
                Candidate { tokens_per_s: None, ..with_speed(peer("unknown", 1, Some(0), 1.0), None) },
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
        // --- strangers: what a peer says about itself ---------------------
        row(
            "a stranger never goes before a free local device, however fast it says it is",
            vec![stranger("liar", 64, Some(1), 1e6), local(1, 10.0)],
            &["local", "liar"],
        )
        .reasons(&["local: no measured peer is faster", "peer: 64 free slots, 1 ms, not measured yet"]),
        row(
            "a busy local device lets a stranger go first",
            vec![stranger("new", 1, Some(5), 30.0), local(0, 40.0)],
            &["new", "local"],
        ),
        row(
            "a stranger's claim counts up to the cap",
            vec![stranger("modest", 1, Some(0), 30.0), stranger("boaster", 1, Some(0), 1e6)],
            &["boaster", "modest"],
        )
        .times(&[6_400, 8_534]),
        row(
            "a measured peer beats a stranger claiming more than the cap",
            vec![stranger("boaster", 1, Some(10), 1e6), peer("known", 1, Some(10), 50.0)],
            &["known", "boaster"],
        )
        .times(&[5_130, 6_410]),
        row(
            "a measured peer's speed is its measurement, not its word",
            vec![
                Candidate { tokens_per_s: Some(1e6), ..peer("slow", 1, Some(10), 10.0) },
                peer("steady", 1, Some(10), 20.0),
            ],
            &["steady", "slow"],
        ),
        row(
            "a measured faster peer still beats local beyond the margin",
            vec![stranger("stranger", 1, Some(5), 1e6), peer("known", 1, Some(5), 80.0), local(1, 20.0)],
            &["known", "local", "stranger"],
        )
        .reasons(&[
            "peer: 1 free slot, 5 ms",
            "local: slower than the best peer",
            "peer: 1 free slot, 5 ms, not measured yet",
        ]),
        // --- what this device measured: failures and demotion -------------
        row(
            "failures stretch a peer's expected time",
            vec![with_record(peer("flaky", 1, Some(0), 40.0), 4, 5), peer("steady", 1, Some(0), 30.0)],
            &["steady", "flaky"],
        )
        .times(&[8_534, 12_800]),
        row(
            "a demoted peer comes after every other, busy ones too",
            vec![
                demoted(peer("failed", 8, Some(1), 200.0)),
                peer("busy", 0, Some(50), 10.0),
                stranger("new", 1, Some(5), 20.0),
            ],
            &["new", "busy", "failed"],
        )
        .reasons(&[
            "peer: 1 free slot, 5 ms, not measured yet",
            "peer: busy, 50 ms",
            "peer: 8 free slots, 1 ms, demoted after a failure",
        ]),
        row(
            "a demoted peer does not keep a free local device from going first",
            vec![demoted(peer("failed", 8, Some(1), 200.0)), local(1, 5.0)],
            &["local", "failed"],
        )
        .reasons(&["local: no nearby peer is free", "peer: 8 free slots, 1 ms, demoted after a failure"]),
        row(
            "only demoted peers: still tried, best first",
            vec![demoted(peer("b", 1, Some(5), 20.0)), demoted(peer("a", 1, Some(5), 40.0))],
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
