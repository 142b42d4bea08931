//! The bodies of the fuzz targets over this crate (`fuzz/` at the
//! repository's root), behind the `fuzzing` feature: each takes the
//! fuzzer's bytes and panics when an invariant breaks. The crate's
//! `tests/fuzz_corpus.rs` replays the checked-in corpus through the same
//! functions on the stable toolchain.

use std::sync::Arc;

use chorus_core::fuzzing::Input;
use chorus_core::{HostConditions, PeerRecord, PlacementPolicy, rank_executors};
use chorus_net::{DeviceClass, MAX_STATUS_BYTES, PeerStatus};

use crate::network::rules::{local_candidate, peer_candidate};
use crate::settings::{NetworkChange, Settings, network_change};

/// The specialist the placement target places.
const SPECIALIST: &str = "software.python";

/// `status_placement`: status replies from peers, whatever they say, into
/// the placement ranking, as the node does before a dispatch.
///
/// The input is up to eight replies separated by zero bytes, each opened by
/// a byte of what this device knows of that peer (a round trip or none, a
/// standing, demoted, and — for one peer in four — a measured speed and
/// count of tasks), then the reply's bytes as they come off the wire (at
/// most [`MAX_STATUS_BYTES`], as the codec reads them). The replies that
/// decode become candidates beside this device, and the ranking keeps what
/// the node relies on: only peers that said they serve the specialist, at
/// this protocol version, are ranked, each once; and no peer this device
/// has not measured ranks above this device when it is free, however fast
/// it claims to be and however many slots it claims (the same with any
/// speed of this device's own and any cap on claimed speeds).
pub fn status_placement(data: &[u8]) {
    let mut input = Input::new(data);
    let policy_byte = input.byte();
    let mut policy = PlacementPolicy::default();
    if policy_byte & 1 != 0 {
        policy.max_claimed_tokens_per_s = f32::from(policy_byte >> 1);
        policy.expected_tokens = u32::from(policy_byte);
    }
    let mut local = local_candidate();
    if policy_byte & 2 != 0 {
        local.tokens_per_s = Some(f32::from(policy_byte >> 2) / 4.0);
    }
    let mut candidates = vec![local];
    let mut offered = Vec::new();
    for index in 0..8 {
        if input.is_empty() {
            break;
        }
        let known = input.byte();
        let reply = input.until(0);
        if reply.len() as u64 > MAX_STATUS_BYTES {
            continue;
        }
        let Ok(status) = serde_json::from_slice::<PeerStatus>(reply) else { continue };
        // What this device's store holds of the peer: for one in four a
        // measured record (tasks that succeeded and failed, tokens over
        // milliseconds), demoted or not.
        let now_ms = 1_000_000;
        let record = if known & 3 == 3 {
            PeerRecord {
                succeeded: u64::from(known >> 3),
                failed: u64::from(known >> 6),
                tokens: if known & 4 != 0 { u64::from(known) * 64 } else { 0 },
                ms: 1_000,
                demoted_until_ms: if known & 16 != 0 { now_ms + 60_000 } else { 0 },
                ..PeerRecord::default()
            }
        } else {
            PeerRecord { demoted_until_ms: if known & 16 != 0 { now_ms + 60_000 } else { 0 }, ..PeerRecord::default() }
        };
        let rtt_ms = (known & 8 != 0).then(|| u32::from(known) * 8);
        #[allow(clippy::cast_possible_wrap)] // a signed standing from one byte
        let standing = i64::from(known as i8) * 1000;
        let id = format!("12D3KooWpeer{index}");
        if status.version == chorus_net::PROTOCOL_VERSION
            && status.serving
            && status.specialists.iter().any(|served| served == SPECIALIST)
        {
            offered.push(id.clone());
        }
        candidates.push(peer_candidate(SPECIALIST, &id, &status, rtt_ms, standing, &record, now_ms));
    }

    let ranked = rank_executors(&candidates, &policy);
    assert_eq!(ranked.len(), offered.len() + 1, "every peer that offers the specialist, and this device, once");
    for placement in &ranked {
        assert!(placement.local || offered.contains(&placement.executor), "{} offered nothing", placement.executor);
    }
    let Some(local_at) = ranked.iter().position(|placement| placement.local) else {
        panic!("this device is not ranked")
    };
    for placement in &ranked[..local_at] {
        let candidate = candidates.iter().find(|candidate| candidate.executor == placement.executor);
        let measured = candidate.is_some_and(|candidate| candidate.measured.is_some());
        assert!(measured, "{} ranks above this device on its own word: {ranked:?}", placement.executor);
    }
}

/// `settings`: any JSON as the settings the app stores and the UI sends.
///
/// Settings [`Settings::from_json`] accepts hold what validation promises
/// (slots 1–16, threads 1–256, an absolute data folder, bootstrap
/// addresses trimmed and each naming its peer, private names unique and
/// trimmed); validating them again changes nothing; they survive a JSON
/// round trip; the network settings they make build; and going from them
/// to themselves changes nothing on the network.
pub fn settings(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(settings) = Settings::from_json(value) else { return };
    assert!((1..=16).contains(&settings.max_slots), "slots {}", settings.max_slots);
    assert!((1..=256).contains(&settings.threads), "threads {}", settings.threads);
    assert!(std::path::Path::new(&settings.data_dir).is_absolute(), "data_dir {:?}", settings.data_dir);
    for address in &settings.bootstrap_peers {
        assert!(!address.is_empty() && address.trim() == address, "bootstrap address {address:?}");
    }
    let mut names = std::collections::BTreeSet::new();
    for name in &settings.private_names {
        assert!(!name.is_empty() && name.trim() == name, "private name {name:?}");
        assert!(names.insert(name.to_lowercase()), "private name {name:?} twice");
    }
    match settings.clone().validated() {
        Ok(again) => assert_eq!(again, settings, "validating twice changes nothing"),
        Err(error) => panic!("valid settings fail validation: {error}"),
    }
    let json = serde_json::to_value(&settings).unwrap_or_default();
    match Settings::from_json(json) {
        Ok(back) => assert_eq!(back, settings, "settings survive a JSON round trip"),
        Err(error) => panic!("stored settings do not load again: {error}"),
    }
    let host = Arc::new(|| HostConditions { idle: true, charging: None });
    if let Err(error) = settings.network(DeviceClass::Unknown, host) {
        panic!("validated settings make no network settings: {error}");
    }
    assert_eq!(network_change(Some(&settings), &settings), NetworkChange::None, "no change to itself");
    let _ = settings.serve_limits();
}
