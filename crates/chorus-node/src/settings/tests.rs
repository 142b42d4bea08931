use super::*;

const PEER: &str = "/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";

fn defaults() -> Settings {
    Settings::defaults(Path::new("/home/me/.local/share/chorus"), 2)
}

#[test]
fn defaults_are_on_device_and_not_onboarded() {
    let settings = defaults();
    assert_eq!(settings.privacy, Privacy::OnDevice);
    assert!(!settings.onboarded);
    assert_eq!(settings.profile, None);
    assert_eq!(settings.threads, 2);
    assert_eq!(settings.clone().validated().unwrap(), settings);
}

#[test]
fn json_round_trips_in_the_ui_shape() {
    let value = serde_json::json!({
        "privacy": "network",
        "serve": true,
        "max_slots": 3,
        "threads": 2,
        "only_when_idle": true,
        "only_when_charging": false,
        "bootstrap_peers": [PEER],
        "data_dir": "/tmp/chorus",
        "onboarded": true,
        "profile": {
            "profession": "nurse", "skills": ["triage"], "languages": ["es"], "interests": [],
            "storage_budget_bytes": 1_000_000_000u64, "memory_bytes": null
        },
        "private_names": ["Priya Raman", "Arjun"],
        "keep_sensitive_on_device": false,
        "history_days": 30,
        "requester_identity": "week",
        "local_api": true
    });
    let settings = Settings::from_json(value.clone()).unwrap();
    assert_eq!(settings.privacy, Privacy::Network);
    assert_eq!(serde_json::to_value(&settings).unwrap(), value);
}

#[test]
fn settings_stored_before_the_privacy_fields_still_load() {
    let mut value = serde_json::to_value(defaults()).unwrap();
    let object = value.as_object_mut().unwrap();
    object.remove("private_names");
    object.remove("keep_sensitive_on_device");
    let settings = Settings::from_json(value).unwrap();
    assert!(settings.private_names.is_empty());
    assert!(settings.keep_sensitive_on_device, "sensitive parts stay home by default");
}

#[test]
fn the_requester_identity_defaults_to_daily_and_reaches_the_network_settings() {
    let mut value = serde_json::to_value(defaults()).unwrap();
    value.as_object_mut().unwrap().remove("requester_identity");
    let settings = Settings::from_json(value.clone()).unwrap();
    assert_eq!(settings.requester_identity, RequesterIdentity::Day, "missing (older settings): daily");
    value["requester_identity"] = serde_json::json!("device");
    let device = Settings::from_json(value.clone()).unwrap();
    let network = device.network(DeviceClass::Laptop, crate::host::fixed(true, None)).unwrap();
    assert_eq!(network.requester, RequesterIdentity::Device);
    value["requester_identity"] = serde_json::json!("monthly");
    assert!(Settings::from_json(value).is_err());
    // Changing it while the network runs restarts the network.
    let mut on = defaults();
    on.privacy = Privacy::Network;
    let mut changed = on.clone();
    changed.requester_identity = RequesterIdentity::Hour;
    assert_eq!(network_change(Some(&on), &changed), NetworkChange::Restart);
}

#[test]
fn private_names_are_tidied_and_bounded() {
    let mut settings = defaults();
    settings.private_names = vec!["  Priya   Raman ".into(), String::new(), "priya raman".into(), "Arjun".into()];
    assert_eq!(settings.validated().unwrap().private_names, vec!["Priya Raman".to_owned(), "Arjun".to_owned()]);
    let mut settings = defaults();
    settings.private_names = vec!["x".repeat(MAX_NAME_CHARS + 1)];
    assert!(settings.validated().is_err());
    let mut settings = defaults();
    settings.private_names = (0..=MAX_PRIVATE_NAMES).map(|index| format!("Name {index}")).collect();
    assert!(settings.validated().is_err());
}

#[test]
fn numbers_are_clamped() {
    let mut settings = defaults();
    settings.max_slots = 0;
    settings.threads = 0;
    let clamped = settings.validated().unwrap();
    assert_eq!((clamped.max_slots, clamped.threads), (1, 1));
    let mut settings = defaults();
    settings.max_slots = 1000;
    settings.threads = 100_000;
    let clamped = settings.validated().unwrap();
    assert_eq!((clamped.max_slots, clamped.threads), (MAX_SLOTS, MAX_THREADS));
}

#[test]
fn bootstrap_addresses_are_trimmed_and_checked() {
    let mut settings = defaults();
    settings.bootstrap_peers = vec![format!("  {PEER} "), "   ".to_owned()];
    assert_eq!(settings.validated().unwrap().bootstrap_peers, vec![PEER.to_owned()]);
    for bad in ["not an address", "/ip4/192.0.2.7/tcp/4001"] {
        let mut settings = defaults();
        settings.bootstrap_peers = vec![bad.to_owned()];
        assert_eq!(
            settings.validated().map_err(crate::ErrorReply::from).unwrap_err().code.as_str(),
            "invalid_settings",
            "{bad}"
        );
    }
}

#[test]
fn wrong_shapes_are_invalid_settings() {
    let good = serde_json::to_value(defaults()).unwrap();
    let mut cases = Vec::new();
    for (field, value) in [
        ("privacy", serde_json::json!("everywhere")),
        ("max_slots", serde_json::json!(-1)),
        ("threads", serde_json::json!("two")),
        ("data_dir", serde_json::json!("relative/dir")),
        ("data_dir", serde_json::json!("")),
        ("history_days", serde_json::json!(0)),
        ("history_days", serde_json::json!(36_501)),
        ("history_days", serde_json::json!(-1)),
        ("history_days", serde_json::json!("forever")),
        ("surprise", serde_json::json!(1)),
    ] {
        let mut value_of = good.clone();
        value_of[field] = value;
        cases.push(value_of);
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("serve");
    cases.push(missing);
    for case in cases {
        assert_eq!(
            Settings::from_json(case.clone()).map_err(crate::ErrorReply::from).unwrap_err().code.as_str(),
            "invalid_settings",
            "{case}"
        );
    }
}

#[test]
fn network_changes() {
    let off = defaults();
    let mut on = defaults();
    on.privacy = Privacy::Network;
    assert_eq!(network_change(None, &off), NetworkChange::None);
    assert_eq!(network_change(None, &on), NetworkChange::Start);
    assert_eq!(network_change(Some(&off), &on), NetworkChange::Start);
    assert_eq!(network_change(Some(&on), &off), NetworkChange::Stop);
    assert_eq!(network_change(Some(&on), &on), NetworkChange::None);

    let mut slots = on.clone();
    slots.max_slots = 5;
    assert_eq!(network_change(Some(&on), &slots), NetworkChange::Limits);
    let mut idle = on.clone();
    idle.only_when_idle = true;
    assert_eq!(network_change(Some(&on), &idle), NetworkChange::Limits);
    let mut no_serve = on.clone();
    no_serve.serve = false;
    assert_eq!(network_change(Some(&on), &no_serve), NetworkChange::Restart);
    let mut peers = on.clone();
    peers.bootstrap_peers = vec![PEER.to_owned()];
    assert_eq!(network_change(Some(&on), &peers), NetworkChange::Restart);
    let mut threads = on.clone();
    threads.threads = 1;
    assert_eq!(network_change(Some(&on), &threads), NetworkChange::None);
    // Serving limits do not matter while the network is off.
    let mut off_slots = off.clone();
    off_slots.max_slots = 7;
    assert_eq!(network_change(Some(&off), &off_slots), NetworkChange::None);
}

#[test]
fn network_settings_follow_serve() {
    let mut settings = defaults();
    settings.bootstrap_peers = vec![PEER.to_owned()];
    settings.max_slots = 3;
    let probe = crate::host::fixed(true, None);
    let network = settings.network(DeviceClass::Laptop, probe.clone()).unwrap();
    assert_eq!(network.bootstrap.len(), 1);
    let serve = network.serve.unwrap();
    assert_eq!(serve.limits.max_slots, 3);
    assert_eq!(serve.device_class, DeviceClass::Laptop);
    settings.serve = false;
    assert!(settings.network(DeviceClass::Desktop, probe).unwrap().serve.is_none());
}

#[test]
fn history_is_kept_forever_unless_days_are_given() {
    assert_eq!(defaults().history_days, None);
    assert_eq!(serde_json::to_value(defaults()).unwrap()["history_days"], serde_json::Value::Null);
    // Settings stored by a version without the field still load: forever.
    let mut stored = serde_json::to_value(defaults()).unwrap();
    stored.as_object_mut().unwrap().remove("history_days");
    assert_eq!(Settings::from_json(stored).unwrap().history_days, None);
    for days in [1, 30, MAX_HISTORY_DAYS] {
        let mut settings = defaults();
        settings.history_days = Some(days);
        assert_eq!(settings.validated().unwrap().history_days, Some(days));
    }
    let mut none = serde_json::to_value(defaults()).unwrap();
    none["history_days"] = serde_json::Value::Null;
    assert_eq!(Settings::from_json(none).unwrap().history_days, None);
    let mut zero = defaults();
    zero.history_days = Some(0);
    assert!(zero.validated().unwrap_err().0.contains("1–36500"));
}

#[test]
fn the_local_api_is_off_by_default_and_leaves_the_network_alone() {
    assert!(!defaults().local_api);
    let mut value = serde_json::to_value(defaults()).unwrap();
    value.as_object_mut().unwrap().remove("local_api");
    assert!(!Settings::from_json(value.clone()).unwrap().local_api, "missing (older settings): off");
    value["local_api"] = serde_json::json!(true);
    assert!(Settings::from_json(value.clone()).unwrap().local_api);
    value["local_api"] = serde_json::json!("yes");
    assert!(Settings::from_json(value).is_err(), "not a boolean");
    let mut on = defaults();
    on.privacy = Privacy::Network;
    let mut api = on.clone();
    api.local_api = true;
    assert_eq!(network_change(Some(&on), &api), NetworkChange::None, "the API is the shell's, not the network's");
}
