//! The app's settings (ui/COMMANDS.md, `Settings`): their JSON shape,
//! validation and clamping, and which change to the running node a new set
//! asks for. Kept by the shell in a `tauri-plugin-store` file so that
//! `data_dir` itself can move.

use std::path::{Path, PathBuf};

use chorus_node::core::{Profile, ServeLimits};
use chorus_node::net::{DeviceClass, Multiaddr};
use chorus_node::{NetworkSettings, ServeSettings};
use serde::{Deserialize, Serialize};

use crate::error::CommandError;

/// Privacy mode: the default of every query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Privacy {
    /// Nothing leaves the device; the network stack is not started.
    OnDevice,
    /// Peers may run sub-tasks.
    Network,
}

/// The settings, exactly as the UI sends and receives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The default privacy of every query.
    pub privacy: Privacy,
    /// Serve other devices' sub-tasks.
    pub serve: bool,
    /// Sub-tasks run for others at once.
    pub max_slots: u32,
    /// Inference threads.
    pub threads: u32,
    /// Serve only while nobody uses the device.
    pub only_when_idle: bool,
    /// Serve only while charging (ignored without a battery).
    pub only_when_charging: bool,
    /// Multiaddrs ending in `/p2p/<peer id>`.
    pub bootstrap_peers: Vec<String>,
    /// Journal, identity and installed models; applies at the next start.
    pub data_dir: String,
    /// Onboarding was finished or skipped.
    pub onboarded: bool,
    /// What onboarding asked, if it was answered.
    pub profile: Option<Profile>,
}

/// Most serving slots allowed: each one is a generation at once.
pub(crate) const MAX_SLOTS: u32 = 16;
/// Most inference threads allowed.
pub(crate) const MAX_THREADS: u32 = 256;

impl Settings {
    /// The settings of a first start: on-device only, onboarding not done.
    #[must_use]
    pub fn defaults(data_dir: &Path, cores: u32) -> Self {
        Self {
            privacy: Privacy::OnDevice,
            serve: true,
            max_slots: ServeLimits::default().max_slots,
            threads: cores.clamp(1, MAX_THREADS),
            only_when_idle: false,
            only_when_charging: false,
            bootstrap_peers: Vec::new(),
            data_dir: data_dir.display().to_string(),
            onboarded: false,
            profile: None,
        }
    }

    /// Reads settings from JSON, then [`Settings::validated`].
    ///
    /// # Errors
    /// `invalid_settings` when a field is missing, of the wrong type or
    /// unknown, or a value cannot be used.
    pub fn from_json(value: serde_json::Value) -> Result<Self, CommandError> {
        let settings: Self = serde_json::from_value(value).map_err(|error| invalid(error.to_string()))?;
        settings.validated()
    }

    /// The settings with numbers clamped to what works (`max_slots` 1–16,
    /// `threads` 1–256), bootstrap addresses trimmed and blank ones dropped.
    ///
    /// # Errors
    /// `invalid_settings` for a bootstrap address that is not a multiaddr
    /// ending in `/p2p/<peer id>`, or a relative or blank `data_dir`.
    pub fn validated(mut self) -> Result<Self, CommandError> {
        self.max_slots = self.max_slots.clamp(1, MAX_SLOTS);
        self.threads = self.threads.clamp(1, MAX_THREADS);
        self.bootstrap_peers = self
            .bootstrap_peers
            .iter()
            .map(|address| address.trim().to_owned())
            .filter(|address| !address.is_empty())
            .collect();
        for address in &self.bootstrap_peers {
            parse_peer_address(address)?;
        }
        self.data_dir = self.data_dir.trim().to_owned();
        if self.data_dir.is_empty() || !Path::new(&self.data_dir).is_absolute() {
            return Err(invalid(format!("data_dir must be an absolute path, not {:?}", self.data_dir)));
        }
        Ok(self)
    }

    /// The owner's serving limits.
    #[must_use]
    pub fn serve_limits(&self) -> ServeLimits {
        ServeLimits {
            serve: self.serve,
            max_slots: self.max_slots,
            only_when_idle: self.only_when_idle,
            only_when_charging: self.only_when_charging,
            ..ServeLimits::default()
        }
    }

    /// How the node joins the network under these settings: listening on
    /// every interface (TCP and QUIC), mDNS on, the bootstrap peers given,
    /// serving within the limits when `serve` is on.
    ///
    /// # Errors
    /// `invalid_settings` for a malformed bootstrap address (validated
    /// settings have none).
    pub fn network(
        &self,
        device_class: DeviceClass,
        host: crate::host::HostProbe,
    ) -> Result<NetworkSettings, CommandError> {
        let bootstrap =
            self.bootstrap_peers.iter().map(|address| parse_peer_address(address)).collect::<Result<_, _>>()?;
        let serve =
            self.serve.then(|| ServeSettings { specialists: None, limits: self.serve_limits(), device_class, host });
        Ok(NetworkSettings { bootstrap, serve, ..NetworkSettings::default() })
    }

    /// The data directory these settings name.
    #[must_use]
    pub fn data_dir_path(&self) -> PathBuf {
        PathBuf::from(&self.data_dir)
    }
}

fn invalid(message: impl Into<String>) -> CommandError {
    CommandError::new("invalid_settings", message)
}

/// A bootstrap address: a multiaddr that names its peer (`…/p2p/<id>`).
fn parse_peer_address(address: &str) -> Result<Multiaddr, CommandError> {
    let parsed: Multiaddr =
        address.parse().map_err(|error| invalid(format!("{address:?} is not a multiaddr: {error}")))?;
    let names_peer = parsed.iter().last().is_some_and(|part| part.to_string().starts_with("/p2p/"));
    if !names_peer {
        return Err(invalid(format!("{address:?} does not end in /p2p/<peer id>")));
    }
    Ok(parsed)
}

/// What the node must do to go from the settings it runs under to new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkChange {
    /// Nothing.
    None,
    /// Start the network stack (privacy switched to network).
    Start,
    /// Stop it (privacy switched to on-device only).
    Stop,
    /// Stop and start it again: the bootstrap peers changed, or serving was
    /// switched on or off (what is announced on the DHT changes).
    Restart,
    /// Apply new serving limits to the running service, live.
    Limits,
}

/// The change that takes a node running under `old` (`None`: nothing
/// applied yet, the network off) to `new`.
#[must_use]
pub fn network_change(old: Option<&Settings>, new: &Settings) -> NetworkChange {
    let was_on = old.is_some_and(|old| old.privacy == Privacy::Network);
    match (was_on, new.privacy == Privacy::Network, old) {
        (false, false, _) => NetworkChange::None,
        (false, true, _) => NetworkChange::Start,
        (true, false, _) => NetworkChange::Stop,
        (true, true, Some(old)) => {
            if old.bootstrap_peers != new.bootstrap_peers || old.serve != new.serve {
                NetworkChange::Restart
            } else if old.serve_limits() != new.serve_limits() {
                NetworkChange::Limits
            } else {
                NetworkChange::None
            }
        }
        (true, true, None) => NetworkChange::Start,
    }
}

#[cfg(test)]
mod tests {
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
            }
        });
        let settings = Settings::from_json(value.clone()).unwrap();
        assert_eq!(settings.privacy, Privacy::Network);
        assert_eq!(serde_json::to_value(&settings).unwrap(), value);
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
            assert_eq!(settings.validated().unwrap_err().code, "invalid_settings", "{bad}");
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
            assert_eq!(Settings::from_json(case.clone()).unwrap_err().code, "invalid_settings", "{case}");
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
}
