//! What the network's handle answers with: errors, lookups, peers.

use std::time::Duration;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};

/// Why a network operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The network task has stopped.
    #[error("the network has stopped")]
    Stopped,
    /// The swarm could not be built or could not listen.
    #[error("cannot start the network: {0}")]
    Start(String),
    /// A bootstrap or dial address is unusable.
    #[error("bad address {address}: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// Dialling failed.
    #[error("cannot reach {peer}: {reason}")]
    Dial {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A status probe failed.
    #[error("status of {peer}: {reason}")]
    Status {
        /// The peer.
        peer: String,
        /// Why.
        reason: String,
    },
    /// Announcing a specialist failed.
    #[error("cannot provide {specialist}: {reason}")]
    Provide {
        /// The specialist.
        specialist: String,
        /// Why.
        reason: String,
    },
    /// Kademlia knows no peer to start from.
    #[error("no known peers: join through a bootstrap peer or the local network first")]
    NoPeers,
}

/// What a provider lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLookup {
    /// Providers found (never this node), in the order found.
    pub providers: Vec<PeerId>,
    /// Peers the query asked.
    pub peers_asked: u32,
    /// How long the lookup took.
    pub elapsed: Duration,
}

/// How this node can be reached, as far as it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    /// Others can dial it directly.
    Public,
    /// Behind NAT or a firewall, reachable through a relay.
    Relayed,
    /// Behind NAT or a firewall.
    Private,
    /// Not known yet.
    Unknown,
}

/// What this node knows about a peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Its peer id.
    pub peer_id: String,
    /// Addresses it listens on (from identify) or was reached at.
    pub addresses: Vec<String>,
    /// Whether a connection is open now.
    pub connected: bool,
    /// Last ping round-trip time, milliseconds.
    pub rtt_ms: Option<u32>,
    /// Its agent string.
    pub agent: Option<String>,
    /// Whether it speaks the Chorus DHT.
    pub chorus: bool,
}
