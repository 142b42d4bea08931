//! Unit tests of ranking, standing, probe targets and admission.

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
        tokens_per_s: None,
        standing: 0,
        measured: Some(Measured { tokens_per_s, succeeded: 1, failed: 0 }),
        demoted: false,
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

    // What a peer says counts only until it is measured, and only up to the cap.
    let stranger = |claimed| Candidate { tokens_per_s: claimed, measured: None, ..candidate(None) };
    assert_eq!(generation_ms(&stranger(Some(1e6)), &policy), 2_500, "capped at 40 tokens/s");
    assert_eq!(generation_ms(&stranger(Some(10.0)), &policy), 10_000, "a claim below the cap stands");
    let measured = Candidate { tokens_per_s: Some(1e6), ..candidate(Some(4.0)) };
    assert_eq!(generation_ms(&measured, &policy), 25_000, "the measurement replaces the claim");
    let local = Candidate { local: true, tokens_per_s: Some(200.0), measured: None, ..candidate(None) };
    assert_eq!(generation_ms(&local, &policy), 500, "this device's own speed is not capped");
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
    assert_eq!(serde_json::to_string(&Refusal::TooManyTokens { max: 512 })?, r#"{"code":"too_many_tokens","max":512}"#);
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

#[test]
fn a_new_identity_waits_behind_every_known_requester_debtors_included() {
    let new = serving_rank(&LedgerEntry::default());
    let debtor = serving_rank(&ledger(1_000_000, 0));
    let giver = serving_rank(&ledger(0, 500));
    let even = serving_rank(&LedgerEntry { tasks_given: 1, tasks_received: 1, ..ledger(100, 100) });
    assert!(new < debtor && debtor < even && even < giver, "{new} {debtor} {even} {giver}");
    // Even the deepest debt ranks above a key never seen.
    assert!(serving_rank(&ledger(u64::MAX, 0)) > new);
}

#[test]
fn one_requester_cannot_keep_the_line_from_another() {
    let host = HostConditions { idle: true, charging: None };
    let mut queue = AdmissionQueue::new(ServeLimits { max_slots: 2, max_waiting: 4, ..ServeLimits::default() });
    let (hog, other) = (1, 2);
    // Alone, the hog may use every slot and every place.
    for ticket in 1..=6 {
        let admission = queue.request_from(ticket, hog, 0, 100, &host).expect("admitted");
        assert_eq!(admission.admitted, if ticket <= 2 { Admitted::RunNow } else { Admitted::Wait });
    }
    assert_eq!(queue.request_from(7, hog, 0, 100, &host), Err(Refusal::Busy), "the line is full");
    // Another requester, no better standing, takes the hog's last place.
    let admission = queue.request_from(8, other, 0, 100, &host).expect("admitted");
    assert_eq!((admission.admitted, admission.evicted), (Admitted::Wait, Some(6)));
    // The next free slot goes to the requester running less than its share,
    // though the hog's tickets came first.
    assert_eq!(queue.finish(1), [8]);
    assert_eq!(queue.finish(2), [3]);
    // At its share (two places of four, two askers), the other requester
    // gets no more by evicting: it waits its turn like anyone.
    let _ = queue.request_from(9, other, 0, 100, &host).expect("a free place");
    assert_eq!(queue.waiting(), [4, 5, 9]);
    let _ = queue.request_from(10, other, 0, 100, &host).expect("a free place");
    assert_eq!(queue.request_from(11, other, 0, 100, &host), Err(Refusal::Busy));
}

#[test]
fn probe_targets_spread_over_networks_before_taking_a_second_from_one() {
    assert_eq!(address_group("/ip4/203.0.113.7/tcp/4001").as_deref(), Some("ip4:203.0.113"));
    assert_eq!(address_group("/ip6/2001:db8:1:2::9/udp/4001/quic-v1").as_deref(), Some("ip6:2001:db8:1"));
    assert_eq!(address_group("/memory/7"), None);
    assert_eq!(address_group("/dns4/example.org/tcp/1"), None);
    let providers: Vec<String> = ["sybil-1", "sybil-2", "sybil-3", "far", "unknown"].map(String::from).to_vec();
    let rtt = BTreeMap::from([
        ("sybil-1".to_owned(), 1),
        ("sybil-2".to_owned(), 2),
        ("sybil-3".to_owned(), 3),
        ("far".to_owned(), 90),
    ]);
    let groups = BTreeMap::from([
        ("sybil-1".to_owned(), "ip4:203.0.113".to_owned()),
        ("sybil-2".to_owned(), "ip4:203.0.113".to_owned()),
        ("sybil-3".to_owned(), "ip4:203.0.113".to_owned()),
        ("far".to_owned(), "ip4:198.51.100".to_owned()),
    ]);
    // Nearest first, but one per network before a second from any.
    assert_eq!(diverse_probe_targets(&providers, &rtt, &groups, 3), ["sybil-1", "far", "unknown"]);
    assert_eq!(
        diverse_probe_targets(&providers, &rtt, &groups, 5),
        ["sybil-1", "far", "unknown", "sybil-2", "sybil-3"]
    );
    // With no groups known it is the plain order.
    assert_eq!(diverse_probe_targets(&providers, &rtt, &BTreeMap::new(), 4), pick_probe_targets(&providers, &rtt, 4));
}
