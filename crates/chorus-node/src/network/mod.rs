//! This device on the network: serving specialists to peers within the
//! owner's limits ([`NodeService`], `service.rs`), running sub-tasks on peers
//! ([`RemoteExecutor`], `remote.rs`) and choosing where each sub-task runs
//! ([`NetworkDirectory`], `directory.rs`). This file holds what they share:
//! the settings, the conversions between the conductor's specs and task
//! requests, and the ledger update.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chorus_core::{GenerationSpec, HostConditions, LedgerEntry, ServeLimits, SpecialistSampling, Store};
use chorus_net::{ChatMessage, DeviceClass, Multiaddr, NetConfig, PROTOCOL_VERSION, PeerStatus, Sampling, TaskRequest};
use serde::{Deserialize, Serialize};

use crate::host::HostProbe;

pub(crate) mod directory;
mod remote;
mod requester;
mod service;

pub(crate) use directory::NetworkDirectory;
pub(crate) use requester::Requester;
pub use requester::RequesterIdentity;
pub use service::NodeService;
pub(crate) use service::ServiceHandle;

/// How the node joins the network. Absent from [`crate::NodeConfig`] means
/// on-device only: the network stack is not started at all.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to join through (`…/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Relays to listen through when behind NAT.
    pub relays: Vec<Multiaddr>,
    /// mDNS discovery on the local network.
    pub mdns: bool,
    /// Act as a relay for others.
    pub relay_server: bool,
    /// Serve others (`None`: only ask).
    pub serve: Option<ServeSettings>,
    /// Which identity sub-tasks go out under (see [`RequesterIdentity`]).
    pub requester: RequesterIdentity,
    /// Overrides of the libp2p settings (timeouts, limits), applied last.
    pub tune: Option<fn(&mut NetConfig)>,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0".parse().unwrap_or_else(|_| Multiaddr::empty()),
                "/ip4/0.0.0.0/udp/0/quic-v1".parse().unwrap_or_else(|_| Multiaddr::empty()),
            ],
            bootstrap: Vec::new(),
            relays: Vec::new(),
            mdns: true,
            relay_server: false,
            serve: None,
            requester: RequesterIdentity::default(),
            tune: None,
        }
    }
}

/// What this device serves to others, and within which limits.
#[derive(Clone)]
pub struct ServeSettings {
    /// Specialists offered (`None`: every one this device can run).
    pub specialists: Option<BTreeSet<String>>,
    /// The owner's limits.
    pub limits: ServeLimits,
    /// What kind of device this is.
    pub device_class: DeviceClass,
    /// Reports whether the device is idle and charging (the app plugs the
    /// platform in; the default says idle, no battery).
    pub host: HostProbe,
}

impl std::fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeSettings")
            .field("specialists", &self.specialists)
            .field("limits", &self.limits)
            .field("device_class", &self.device_class)
            .finish_non_exhaustive()
    }
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            specialists: None,
            limits: ServeLimits::default(),
            device_class: DeviceClass::Desktop,
            host: Arc::new(|| HostConditions { idle: true, charging: None }),
        }
    }
}

/// Converts the conductor's spec into a task request.
pub(crate) fn task_request(specialist: &str, spec: &GenerationSpec, deadline: Duration) -> TaskRequest {
    let mut messages = Vec::with_capacity(2);
    if !spec.system.trim().is_empty() {
        messages.push(ChatMessage { role: "system".to_owned(), content: spec.system.clone() });
    }
    messages.push(ChatMessage { role: "user".to_owned(), content: spec.prompt.clone() });
    TaskRequest {
        version: PROTOCOL_VERSION,
        specialist: specialist.to_owned(),
        messages,
        sampling: Sampling {
            temperature: spec.sampling.temperature,
            top_k: spec.sampling.top_k,
            top_p: spec.sampling.top_p,
            min_p: spec.sampling.min_p,
            repeat_penalty: spec.sampling.repeat_penalty,
            max_tokens: spec.sampling.max_tokens,
            seed: spec.seed,
        },
        deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
        nonce: String::new(), // the network layer makes one up
    }
}

fn spec_of(request: &TaskRequest) -> GenerationSpec {
    GenerationSpec {
        system: request.system().to_owned(),
        prompt: request.user(),
        sampling: SpecialistSampling {
            temperature: request.sampling.temperature,
            top_k: request.sampling.top_k,
            top_p: request.sampling.top_p,
            min_p: request.sampling.min_p,
            repeat_penalty: request.sampling.repeat_penalty,
            max_tokens: request.sampling.max_tokens,
        },
        seed: request.sampling.seed,
        json_schema: None,
    }
}
fn add_ledger(store: &Store, peer: &str, delta: &LedgerEntry) {
    if let Err(error) = store.ledger_add(peer, delta) {
        tracing::warn!(%error, %peer, "could not update the ledger");
    }
}

/// A peer as `chorus peers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    /// Its id.
    pub peer_id: String,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Connected now.
    pub connected: bool,
    /// Round-trip time, milliseconds.
    pub rtt_ms: Option<u32>,
    /// Its live status, when it answered.
    pub status: Option<PeerStatus>,
    /// Its standing in this device's ledger (tokens it gave minus received).
    pub standing: i64,
    /// Work exchanged with it.
    pub ledger: LedgerEntry,
    /// What this device measured of it on the tasks it ran for this device
    /// (what placement ranks by; its status is only its own word).
    pub measured: chorus_core::PeerRecord,
}
