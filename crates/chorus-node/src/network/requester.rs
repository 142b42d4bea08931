//! The identity this device asks peers under.
//!
//! A peer that runs a sub-task sees the identity of the connection it came
//! on. Were that the device's one identity (the one it serves under and
//! announces in the DHT), every peer could tie all of one person's
//! questions together, for as long as the device exists. So sub-tasks and
//! the status probes before them go out on a second libp2p node of this
//! device: it listens nowhere, joins no DHT, announces nothing, and its key
//! (`requester.key`) is replaced once older than the period the owner
//! chose (an hour, a day, a week). Within one period a peer can tie the
//! questions it ran together; across periods, only by the IP address,
//! which this does not hide.
//!
//! What it costs: a peer's ledger knows the asking identity only, so the
//! work this device did for that peer (credited to its serving identity)
//! does not move its questions up that peer's queue; they wait like a
//! newcomer's when the peer is busy. [`RequesterIdentity::Device`] asks
//! under the device's identity instead, with its standing and with every
//! question linkable.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use chorus_net::{NetConfig, Network, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::node::NodeError;

/// Which identity this device asks peers under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequesterIdentity {
    /// The device's own identity, the one it serves under: peers see its
    /// standing, and can tie every question it ever asks together.
    Device,
    /// A separate identity, replaced every hour.
    Hour,
    /// A separate identity, replaced every day (the default).
    #[default]
    Day,
    /// A separate identity, replaced every week.
    Week,
}

impl RequesterIdentity {
    /// Every value, in the order a settings screen lists them.
    pub const ALL: [Self; 4] = [Self::Hour, Self::Day, Self::Week, Self::Device];

    /// How long one asking identity lasts; `None` for the device's own.
    #[must_use]
    pub fn period(self) -> Option<Duration> {
        match self {
            Self::Device => None,
            Self::Hour => Some(Duration::from_secs(3600)),
            Self::Day => Some(Duration::from_secs(24 * 3600)),
            Self::Week => Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }

    /// The word the CLI and the settings file use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
        }
    }
}

impl std::fmt::Display for RequesterIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequesterIdentity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|identity| identity.as_str() == text.trim()).ok_or_else(|| {
            format!("{text:?} is not a requester identity: use hour, day, week (a separate identity replaced that often) or device")
        })
    }
}

/// The network sub-tasks go out on, under the chosen identity.
pub(crate) struct Requester {
    main: Network,
    identity: RequesterIdentity,
    data_dir: PathBuf,
    config: NetConfig,
    current: Mutex<Option<(Network, SystemTime)>>,
}

impl Requester {
    /// `main` is the device's network (its serving identity), started on
    /// `config`.
    pub(crate) fn new(main: Network, config: &NetConfig, identity: RequesterIdentity, data_dir: PathBuf) -> Self {
        Self { main, identity, data_dir, config: config.requester(), current: Mutex::new(None) }
    }

    /// The identity chosen.
    pub(crate) fn identity(&self) -> RequesterIdentity {
        self.identity
    }

    /// The network to reach `peer` on, taught what the device's network
    /// knows of the peer's addresses. A separate identity that cannot be
    /// made is an error, never a silent fall back to the device's own.
    pub(crate) async fn network_for(&self, peer: PeerId) -> Result<Network, NodeError> {
        let Some(every) = self.identity.period() else {
            return Ok(self.main.clone());
        };
        let network = self.current(every).await?;
        let addresses = self.main.addresses_of(peer).await?;
        if !addresses.is_empty() {
            network.add_addresses(peer, addresses).await?;
        }
        Ok(network)
    }

    /// The asking identity now (the device's own with
    /// [`RequesterIdentity::Device`]); makes or replaces it when due.
    pub(crate) async fn peer_id(&self) -> Result<PeerId, NodeError> {
        match self.identity.period() {
            None => Ok(self.main.peer_id()),
            Some(every) => Ok(self.current(every).await?.peer_id()),
        }
    }

    /// The network questions go out on now, if it runs: the device's own
    /// with [`RequesterIdentity::Device`]. Makes nothing.
    pub(crate) async fn running(&self) -> Option<Network> {
        if self.identity.period().is_none() {
            return Some(self.main.clone());
        }
        self.current.lock().await.as_ref().map(|(network, _)| network.clone()).filter(Network::is_running)
    }

    /// The separate network, replaced when its key is due. The old one
    /// stops once the sub-tasks still running on it let go of it.
    async fn current(&self, every: Duration) -> Result<Network, NodeError> {
        let mut current = self.current.lock().await;
        let now = SystemTime::now();
        if let Some((network, made)) = current.as_ref()
            && network.is_running()
            && !chorus_net::rotation_due(*made, every, now)
        {
            return Ok(network.clone());
        }
        let (keypair, made) = chorus_net::requester_identity(&self.data_dir, every, now)?;
        let network = Network::start(keypair, self.config.clone(), None).await?;
        tracing::info!(peer = %network.peer_id(), period = %self.identity, "asking under a separate identity");
        *current = Some((network.clone(), made));
        Ok(network)
    }

    /// Stops the separate network.
    pub(crate) async fn shutdown(&self) {
        if let Some((network, _)) = self.current.lock().await.take() {
            network.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_parse_print_and_name_their_periods() {
        for identity in RequesterIdentity::ALL {
            assert_eq!(identity.as_str().parse::<RequesterIdentity>(), Ok(identity));
            assert_eq!(serde_json::to_string(&identity).unwrap_or_default(), format!("\"{}\"", identity.as_str()));
        }
        assert_eq!(RequesterIdentity::default(), RequesterIdentity::Day);
        assert_eq!(RequesterIdentity::Device.period(), None);
        assert_eq!(RequesterIdentity::Week.period(), Some(Duration::from_secs(604_800)));
        let error = "monthly".parse::<RequesterIdentity>().unwrap_err();
        assert!(error.contains("hour, day, week"), "{error}");
    }
}
