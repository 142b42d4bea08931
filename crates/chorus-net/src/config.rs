//! What configures a node's network: its transports, timers and limits.

use std::time::Duration;

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

/// Which transports a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// TCP and QUIC with Noise and Yamux, plus the relay client: real devices.
    Tcp,
    /// libp2p's in-process memory transport with Noise and Yamux: the
    /// simulation of many nodes in one process.
    Memory,
}

/// Settings of one node's network.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Transports.
    pub transport: TransportKind,
    /// Addresses to listen on (`/ip4/127.0.0.1/tcp/0`, `/memory/0`, …).
    pub listen: Vec<Multiaddr>,
    /// Peers to join through; each must end in `/p2p/<peer id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// Relays to listen through (`…/p2p/<relay id>`), for a node behind NAT.
    pub relays: Vec<Multiaddr>,
    /// mDNS discovery of peers on the same network.
    pub mdns: bool,
    /// AutoNAT probes of this node's reachability.
    pub autonat: bool,
    /// Act as a relay for others (`chorus serve --relay`).
    pub relay_server: bool,
    /// Run Kademlia in server mode (answer DHT queries). Reachable nodes
    /// should; other implementations only add peers that do.
    pub kad_server: bool,
    /// Agent string sent by identify.
    pub agent: String,
    /// A connection with no stream open this long is closed.
    pub idle_timeout: Duration,
    /// Dial (and handshake) timeout.
    pub dial_timeout: Duration,
    /// A Kademlia query gives up after this long.
    pub kad_query_timeout: Duration,
    /// A Kademlia request to one peer gives up after this long: a hung peer
    /// must not cost a lookup more than this.
    pub substream_timeout: Duration,
    /// Kademlia requests a lookup keeps in flight at once (α). A hung peer
    /// holds one of them until [`NetConfig::substream_timeout`] while the
    /// others carry the lookup on: with libp2p's default of 3, a lookup
    /// whose first three peers all hang waits the whole timeout (1–3 % of
    /// lookups with a fifth of the nodes hung); with 6 the simulation saw
    /// none (BENCHMARKS.md, "Network simulation").
    pub kad_parallelism: usize,
    /// A peer that lets Kademlia requests time out (two in a row with
    /// nothing heard in between: connection open, nothing answered, hung)
    /// is disconnected, dropped from the routing table and refused for this
    /// long, so later lookups skip it at once instead of waiting for it
    /// again. Zero turns this off.
    pub quarantine: Duration,
    /// How long provider records live in the DHT.
    pub provider_ttl: Duration,
    /// How often this node re-announces what it provides (well before the TTL).
    pub reprovide_interval: Duration,
    /// How often Kademlia refreshes its routing table.
    pub bootstrap_interval: Duration,
    /// A status probe gives up after this long.
    pub status_timeout: Duration,
    /// Interval of identify pushes.
    pub identify_interval: Duration,
    /// Interval of pings (round-trip time).
    pub ping_interval: Duration,
    /// Most established connections.
    pub max_connections: u32,
    /// Most established connections others opened to this node: the rest
    /// of `max_connections` stays for this node's own dials.
    pub max_incoming: u32,
    /// Most connections others opened to this node from one IP address,
    /// however many identities they use.
    pub max_incoming_per_ip: u32,
    /// Most connections to one peer.
    pub max_connections_per_peer: u32,
    /// Near `max_connections` (at fifteen sixteenths) the node closes the
    /// connections it used least recently, down to three quarters, so its
    /// own dials find room; connections younger than this go last, and only
    /// as far as it takes to get back under fifteen sixteenths.
    pub connection_grace: Duration,
    /// Most incoming connections still handshaking.
    pub max_pending_incoming: u32,
    /// Most outgoing dials in flight.
    pub max_pending_outgoing: u32,
    /// Requests (status probes and tasks) one peer may make per minute.
    pub requests_per_minute: u32,
    /// Task streams served at once, across all peers (the service's own
    /// slots limit inference; this bounds the streams themselves).
    pub max_task_streams: usize,
    /// Outgoing connection failures after which a peer leaves the routing table.
    pub max_peer_failures: u32,
}

impl NetConfig {
    /// Settings for a real device on TCP/QUIC.
    #[must_use]
    pub fn tcp(listen: Vec<Multiaddr>) -> Self {
        Self {
            transport: TransportKind::Tcp,
            listen,
            bootstrap: Vec::new(),
            relays: Vec::new(),
            mdns: true,
            autonat: true,
            relay_server: false,
            kad_server: true,
            agent: format!("chorus/{}", env!("CARGO_PKG_VERSION")),
            idle_timeout: Duration::from_secs(120),
            dial_timeout: Duration::from_secs(5),
            kad_query_timeout: Duration::from_secs(10),
            substream_timeout: Duration::from_secs(3),
            kad_parallelism: 6,
            quarantine: Duration::from_secs(120),
            provider_ttl: Duration::from_secs(2 * 3600),
            reprovide_interval: Duration::from_secs(30 * 60),
            bootstrap_interval: Duration::from_secs(5 * 60),
            status_timeout: Duration::from_secs(2),
            identify_interval: Duration::from_secs(5 * 60),
            ping_interval: Duration::from_secs(15),
            max_connections: 256,
            max_incoming: 192,
            max_incoming_per_ip: 16,
            max_connections_per_peer: 2,
            connection_grace: Duration::from_secs(10),
            max_pending_incoming: 64,
            max_pending_outgoing: 64,
            requests_per_minute: 600,
            max_task_streams: 64,
            max_peer_failures: 3,
        }
    }

    /// Settings for a node that only asks, under an identity of its own
    /// (see `chorus_net::requester_identity`): it listens nowhere, joins
    /// no DHT (Kademlia in client mode, no bootstrap), announces nothing on
    /// the LAN and relays for no one; it dials the peers it is told about.
    #[must_use]
    pub fn requester(&self) -> Self {
        Self {
            listen: Vec::new(),
            bootstrap: Vec::new(),
            relays: Vec::new(),
            mdns: false,
            autonat: false,
            relay_server: false,
            kad_server: false,
            ..self.clone()
        }
    }

    /// Settings for a simulated node on the memory transport: no mDNS,
    /// AutoNAT or relay, lean timers. Hundreds of these share one process,
    /// so the background work of each is multiplied: pings (round-trip
    /// times mean nothing in memory) come every minute and the periodic
    /// Kademlia refresh every half hour — with 500 nodes a 5-minute refresh
    /// alone keeps a core busy. An idle connection closes after 30 s: a
    /// simulated network joins within minutes, and with the 2 minutes of a
    /// device every connection its joins opened is still there — 400 nodes
    /// became a near-full mesh (215 connections a node), every node at its
    /// limit of incoming connections (BENCHMARKS.md, "Network simulation").
    #[must_use]
    pub fn memory(listen: Multiaddr) -> Self {
        Self {
            transport: TransportKind::Memory,
            listen: vec![listen],
            mdns: false,
            autonat: false,
            ping_interval: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(30),
            bootstrap_interval: Duration::from_secs(30 * 60),
            ..Self::tcp(Vec::new())
        }
    }
}
