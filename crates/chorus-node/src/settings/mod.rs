//! The owner's settings (ui/COMMANDS.md, `Settings`): their JSON shape,
//! validation and clamping, and which change to the running node a new set
//! asks for ([`network_change`]; [`Node::apply_settings`](crate::Node::apply_settings)
//! makes it). The app keeps them in a `tauri-plugin-store` file so that
//! `data_dir` itself can move.

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use chorus_core::{Profile, ServeLimits};
use chorus_net::{DeviceClass, Multiaddr};
use serde::{Deserialize, Serialize};

use crate::host::HostProbe;
use crate::network::{NetworkSettings, RequesterIdentity, ServeSettings};

/// Settings that cannot be used; the message says which and why. Its code
/// is `invalid_settings`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSettings(pub String);

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
    /// Names to redact from what leaves this device (the owner's own,
    /// family, clients); every other kind of personal data is found
    /// without a list.
    #[serde(default)]
    pub private_names: Vec<String>,
    /// Sub-tasks of sensitive specialists (health, personal legal and money
    /// matters), and parts with personal data that could not be redacted,
    /// stay on this device.
    #[serde(default = "keep_sensitive_default")]
    pub keep_sensitive_on_device: bool,
    /// Days of history kept, 1–36500; `null` (the default, also when the
    /// field is missing, as in settings stored by older versions) keeps
    /// every past question forever.
    #[serde(default)]
    pub history_days: Option<u32>,
    /// The identity peers see questions come from: a separate one
    /// replaced every `hour`, `day` (the default, also when the field is
    /// missing) or `week`, or the `device`'s own (see
    /// [`RequesterIdentity`]).
    #[serde(default)]
    pub requester_identity: RequesterIdentity,
    /// Serve the OpenAI-compatible API (`chorus-api`) to other apps on this
    /// device, on loopback only; off by default, also when the field is
    /// missing. The shell runs the server; the node only keeps the wish.
    #[serde(default)]
    pub local_api: bool,
}

fn keep_sensitive_default() -> bool {
    true
}

/// Most names in [`Settings::private_names`].
pub(crate) const MAX_PRIVATE_NAMES: usize = 200;
/// Longest name in [`Settings::private_names`], in characters.
pub(crate) const MAX_NAME_CHARS: usize = 100;

/// Most serving slots allowed: each one is a generation at once.
pub const MAX_SLOTS: u32 = 16;
/// Most inference threads allowed.
pub const MAX_THREADS: u32 = 256;
/// Most days of history one can ask to keep (a hundred years); `None`
/// keeps it forever.
pub const MAX_HISTORY_DAYS: u32 = 36_500;

/// Refuses a number of history days outside 1–36500.
///
/// # Errors
/// `invalid_settings`.
pub(crate) fn check_history_days(days: Option<u32>) -> Result<(), InvalidSettings> {
    match days {
        Some(days) if !(1..=MAX_HISTORY_DAYS).contains(&days) => Err(invalid(format!(
            "history_days must be 1–{MAX_HISTORY_DAYS} days, or null to keep history forever, not {days}"
        ))),
        _ => Ok(()),
    }
}

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
            private_names: Vec::new(),
            keep_sensitive_on_device: true,
            history_days: None,
            requester_identity: RequesterIdentity::default(),
            local_api: false,
        }
    }

    /// Reads settings from JSON, then [`Settings::validated`].
    ///
    /// # Errors
    /// `invalid_settings` when a field is missing, of the wrong type or
    /// unknown, or a value cannot be used.
    pub fn from_json(value: serde_json::Value) -> Result<Self, InvalidSettings> {
        let settings: Self = serde_json::from_value(value).map_err(|error| invalid(error.to_string()))?;
        settings.validated()
    }

    /// The settings with numbers clamped to what works (`max_slots` 1–16,
    /// `threads` 1–256), bootstrap addresses trimmed and blank ones dropped.
    ///
    /// # Errors
    /// `invalid_settings` for a bootstrap address that is not a multiaddr
    /// ending in `/p2p/<peer id>`, a relative or blank `data_dir`, or
    /// `history_days` outside 1–36500 (not clamped: 0 days would delete
    /// everything).
    pub fn validated(mut self) -> Result<Self, InvalidSettings> {
        check_history_days(self.history_days)?;
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
        let mut names: Vec<String> = Vec::new();
        for name in &self.private_names {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            if name.is_empty() || names.iter().any(|known| known.to_lowercase() == name.to_lowercase()) {
                continue;
            }
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(invalid(format!("a private name is longer than {MAX_NAME_CHARS} characters")));
            }
            names.push(name);
        }
        if names.len() > MAX_PRIVATE_NAMES {
            return Err(invalid(format!("at most {MAX_PRIVATE_NAMES} private names, not {}", names.len())));
        }
        self.private_names = names;
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
    pub fn network(&self, device_class: DeviceClass, host: HostProbe) -> Result<NetworkSettings, InvalidSettings> {
        let bootstrap =
            self.bootstrap_peers.iter().map(|address| parse_peer_address(address)).collect::<Result<_, _>>()?;
        let serve =
            self.serve.then(|| ServeSettings { specialists: None, limits: self.serve_limits(), device_class, host });
        Ok(NetworkSettings { bootstrap, serve, requester: self.requester_identity, ..NetworkSettings::default() })
    }

    /// The data directory these settings name.
    #[must_use]
    pub fn data_dir_path(&self) -> PathBuf {
        PathBuf::from(&self.data_dir)
    }
}

fn invalid(message: impl Into<String>) -> InvalidSettings {
    InvalidSettings(message.into())
}

/// A bootstrap address: a multiaddr that names its peer (`…/p2p/<id>`).
fn parse_peer_address(address: &str) -> Result<Multiaddr, InvalidSettings> {
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
            if old.bootstrap_peers != new.bootstrap_peers
                || old.serve != new.serve
                || old.requester_identity != new.requester_identity
            {
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
