//! The loop that owns the swarm: one task, a bounded inbox of commands
//! (each with its reply channel) and the swarm's events, cancellation first.
//! What is asked but not answered yet waits in the `pending_*` maps.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use libp2p::kad::QueryId;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::OutboundRequestId;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, autonat, identify, mdns, ping};
use tokio::sync::{mpsc, oneshot};

use crate::streams::OpenStreams;
use tokio_util::sync::CancellationToken;

use super::{Command, NetError, ProviderLookup, Reachability};

mod rejoin;
mod trim;

use rejoin::Rejoin;
use trim::Trim;

/// Most addresses of one peer taken from [`Command::AddAddresses`].
const MAX_ADDED_ADDRESSES: usize = 16;
use crate::behaviour::{Behaviour, BehaviourEvent, KadEvent};
use crate::config::{NetConfig, TransportKind};
use crate::limits::RateLimiter;
use crate::server::TaskService;
use crate::wire::{KAD_PROTOCOL, PeerStatus};

/// A provider lookup under way.
pub(super) struct LookupState {
    pub(super) want: usize,
    pub(super) found: Vec<PeerId>,
    pub(super) started: Instant,
    pub(super) reply: Option<oneshot::Sender<ProviderLookup>>,
}

/// What this node knows about a peer.
#[derive(Default)]
pub(super) struct PeerState {
    /// At most [`MAX_ADDRESSES_PER_PEER`].
    pub(super) addresses: BTreeSet<Multiaddr>,
    /// When its last connection closed (None while connected or never).
    pub(super) gone_since: Option<Instant>,
    pub(super) connections: u32,
    /// When its first connection of the current run was established.
    pub(super) since: Option<Instant>,
    /// When this node last connected to it, probed it or was probed by it.
    pub(super) used: Option<Instant>,
    pub(super) rtt: Option<Duration>,
    pub(super) agent: Option<String>,
    pub(super) chorus: bool,
    pub(super) failures: u32,
}

/// Addresses kept per peer.
pub(super) const MAX_ADDRESSES_PER_PEER: usize = 16;
/// Peers remembered; beyond, the ones gone longest are forgotten.
pub(super) const MAX_KNOWN_PEERS: usize = 1_024;

/// The network task: owns the swarm and everything pending on it.
pub(super) struct EventLoop {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) inbox: mpsc::Receiver<Command>,
    pub(super) cancel: CancellationToken,
    pub(super) service: Option<Arc<dyn TaskService>>,
    pub(super) limiter: RateLimiter,
    pub(super) max_failures: u32,
    pub(super) quarantine: Duration,
    pub(super) quarantined: HashMap<PeerId, Instant>,
    /// Task streams open per peer, inbound and outbound.
    pub(super) task_streams: [OpenStreams; 2],
    pub(super) pending_lookups: HashMap<QueryId, LookupState>,
    /// When lookups asked to answer by a deadline must answer.
    pub(super) lookup_deadlines: FuturesUnordered<BoxFuture<'static, QueryId>>,
    pub(super) pending_provides: HashMap<QueryId, (String, oneshot::Sender<Result<bool, NetError>>)>,
    pub(super) pending_status: HashMap<OutboundRequestId, (PeerId, oneshot::Sender<Result<PeerStatus, NetError>>)>,
    pub(super) pending_dials: HashMap<PeerId, Vec<oneshot::Sender<Result<PeerId, NetError>>>>,
    pub(super) peers: HashMap<PeerId, PeerState>,
    pub(super) listen_addrs: Vec<Multiaddr>,
    pub(super) provided: BTreeSet<String>,
    /// A hung node (test hook): handles no events and answers nothing.
    #[cfg(feature = "test-hooks")]
    pub(super) frozen: bool,
    pub(super) reachability: Reachability,
    pub(super) relayed: bool,
    pub(super) relay_server: bool,
    /// On the memory transport every listen address is reachable.
    pub(super) memory: bool,
    /// Dialling the bootstrap peers again while this node knows no one.
    rejoin: Rejoin,
    /// Closing the least used connections near the limit.
    trim: Trim,
}

impl EventLoop {
    /// The loop over a built swarm, with nothing pending yet.
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        inbox: mpsc::Receiver<Command>,
        cancel: CancellationToken,
        service: Option<Arc<dyn TaskService>>,
        limiter: RateLimiter,
        streams: [OpenStreams; 2],
        config: &NetConfig,
    ) -> Self {
        let own = *swarm.local_peer_id();
        Self {
            task_streams: streams,
            swarm,
            inbox,
            cancel,
            service,
            limiter,
            max_failures: config.max_peer_failures,
            quarantine: config.quarantine,
            quarantined: HashMap::new(),
            pending_lookups: HashMap::new(),
            lookup_deadlines: FuturesUnordered::new(),
            pending_provides: HashMap::new(),
            pending_status: HashMap::new(),
            pending_dials: HashMap::new(),
            peers: HashMap::new(),
            listen_addrs: Vec::new(),
            provided: BTreeSet::new(),
            #[cfg(feature = "test-hooks")]
            frozen: false,
            reachability: Reachability::Unknown,
            relayed: false,
            relay_server: config.relay_server,
            memory: config.transport == TransportKind::Memory,
            rejoin: Rejoin::new(&config.bootstrap, own),
            trim: Trim::new(config.max_connections, config.connection_grace),
        }
    }

    /// Handles swarm events until `listeners` addresses are up, at most `limit`.
    pub(super) async fn wait_listening(&mut self, listeners: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.listen_addrs.len() < listeners {
            match tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await {
                Ok(event) => self.on_swarm_event(event),
                Err(_) => break,
            }
        }
    }

    /// Runs until cancelled or the last handle is dropped; cancellation goes
    /// first, then commands, then swarm events.
    pub(super) async fn run(mut self) {
        loop {
            #[cfg(feature = "test-hooks")]
            if self.frozen {
                tokio::select! {
                    biased;
                    () = self.cancel.cancelled() => break,
                    command = self.inbox.recv() => match command {
                        Some(Command::Freeze(frozen)) => self.frozen = frozen,
                        Some(_) => {} // a hung node answers nothing; dropping the reply says so
                        None => break,
                    },
                }
                continue;
            }
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => break,
                command = self.inbox.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                () = self.rejoin.timer().as_mut() => self.on_rejoin_timer(),
                Some(id) = self.lookup_deadlines.next(), if !self.lookup_deadlines.is_empty() => {
                    self.on_lookup_deadline(id);
                }
            }
        }
        tracing::debug!("network stopped");
    }

    /// The first connection after a redial of the bootstrap peers: fills the
    /// routing table, and announces again what this node provides (the
    /// announcements made while it was alone reached no one).
    fn rejoined(&mut self) {
        let kad = &mut self.swarm.behaviour_mut().kad;
        if let Err(error) = kad.bootstrap() {
            tracing::debug!(%error, "bootstrap not started");
        }
        for specialist in &self.provided {
            if let Err(error) = kad.start_providing(crate::key::specialist_key(specialist)) {
                tracing::debug!(%specialist, %error, "not announced again");
            }
        }
    }

    /// Dials the bootstrap peers again if this node knows no one: no
    /// connection, and no peer but them in the routing table.
    fn on_rejoin_timer(&mut self) {
        let alone = self.swarm.connected_peers().next().is_none() && {
            let rejoin = &self.rejoin;
            let kad = &mut self.swarm.behaviour_mut().kad;
            kad.kbuckets().all(|bucket| bucket.iter().all(|entry| rejoin.is_bootstrap(entry.node.key.preimage())))
        };
        let peers = self.rejoin.due(alone).to_vec();
        for (peer, address) in peers {
            tracing::debug!(%address, "alone: dialling a bootstrap peer again");
            self.swarm.behaviour_mut().kad.add_address(&peer, address.clone());
            let dial = DialOpts::peer_id(peer)
                .addresses(vec![address])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(dial) {
                tracing::debug!(%peer, %error, "bootstrap peer not dialled");
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Listeners(reply) => {
                let _ = reply.send(self.listen_addrs.clone());
            }
            Command::Dial(address, reply) => {
                let Some(Protocol::P2p(peer)) = address.iter().last() else {
                    let _ = reply.send(Err(NetError::Address {
                        address: address.to_string(),
                        reason: "the address must end in /p2p/<peer id>".to_owned(),
                    }));
                    return;
                };
                self.peer(peer).used = Some(Instant::now());
                if self.swarm.is_connected(&peer) {
                    let _ = reply.send(Ok(peer));
                    return;
                }
                self.swarm.behaviour_mut().kad.add_address(&peer, address.clone());
                match self.swarm.dial(address) {
                    Ok(()) => self.pending_dials.entry(peer).or_default().push(reply),
                    Err(error) => {
                        let _ = reply.send(Err(NetError::Dial { peer: peer.to_string(), reason: error.to_string() }));
                    }
                }
            }
            Command::Bootstrap(reply) => {
                let result = self.swarm.behaviour_mut().kad.bootstrap().map(|_| ()).map_err(|_| NetError::NoPeers);
                let _ = reply.send(result);
            }
            Command::SetProvided(wanted, reply) => self.set_provided(wanted, reply),
            Command::FindProviders { specialist, want, within, reply } => {
                self.find_providers(&specialist, want, within, reply);
            }
            Command::Status { peer, reply } => self.probe_status(peer, reply),
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_infos());
            }
            Command::Reachability(reply) => {
                let _ = reply.send(self.current_reachability());
            }
            #[cfg(feature = "test-hooks")]
            Command::Freeze(frozen) => self.frozen = frozen,
            Command::Quarantined(reply) => {
                let _ = reply.send(self.quarantined_now());
            }
            Command::StoredRecords(reply) => {
                let _ = reply.send(self.swarm.behaviour_mut().kad.store_mut().other_records());
            }
            Command::AddressesOf(peer, reply) => {
                let mut known: BTreeSet<Multiaddr> =
                    self.peers.get(&peer).map(|state| state.addresses.clone()).unwrap_or_default();
                let kad = &mut self.swarm.behaviour_mut().kad;
                if let Some(bucket) = kad.kbucket(peer) {
                    for entry in bucket.iter().filter(|entry| *entry.node.key.preimage() == peer) {
                        known.extend(entry.node.value.iter().cloned());
                    }
                }
                let _ = reply.send(known.into_iter().collect());
            }
            Command::AddAddresses(peer, addresses) => {
                for address in addresses.into_iter().take(MAX_ADDED_ADDRESSES) {
                    if self.remember(peer, address.clone()) {
                        self.swarm.behaviour_mut().kad.add_address(&peer, address);
                    }
                }
            }
        }
    }

    /// What this node knows about `peer` (created empty).
    pub(super) fn peer(&mut self, peer: PeerId) -> &mut PeerState {
        self.peers.entry(peer).or_default()
    }

    /// Remembers an address of `peer`, up to [`MAX_ADDRESSES_PER_PEER`]: a
    /// peer cannot grow this node's memory by announcing addresses.
    pub(super) fn remember(&mut self, peer: PeerId, address: Multiaddr) -> bool {
        let addresses = &mut self.peer(peer).addresses;
        if addresses.len() >= MAX_ADDRESSES_PER_PEER && !addresses.contains(&address) {
            return false;
        }
        addresses.insert(address);
        true
    }

    /// Forgets the peers gone longest, while more than [`MAX_KNOWN_PEERS`]
    /// are known; connected ones are kept.
    fn prune_peers(&mut self) {
        if self.peers.len() <= MAX_KNOWN_PEERS {
            return;
        }
        let mut gone: Vec<(Instant, PeerId)> =
            self.peers.iter().filter_map(|(peer, state)| state.gone_since.map(|since| (since, *peer))).collect();
        gone.sort();
        let excess = self.peers.len() - MAX_KNOWN_PEERS;
        for (_, peer) in gone.into_iter().take(excess) {
            self.peers.remove(&peer);
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                if address.iter().any(|protocol| matches!(protocol, Protocol::P2pCircuit)) {
                    self.relayed = true;
                } else if self.relay_server || self.memory {
                    // A relay must have addresses others can reach; running
                    // one (`chorus serve --relay`) declares this machine
                    // reachable at what it listens on. On the memory
                    // transport every listen address is reachable; declaring
                    // it puts it into this node's provider records, without
                    // which a record holder can only name the provider if it
                    // happens to have it in its routing table.
                    self.swarm.add_external_address(address.clone());
                }
                self.listen_addrs.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => self.listen_addrs.retain(|known| *known != address),
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                let now = Instant::now();
                let state = self.peer(peer_id);
                if state.connections == 0 {
                    state.since = Some(now);
                }
                state.connections += 1;
                state.used = Some(now);
                state.failures = 0;
                state.gone_since = None;
                if endpoint.is_dialer() {
                    let _ = self.remember(peer_id, endpoint.get_remote_address().clone());
                }
                for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(peer_id));
                }
                if self.rejoin.connected() {
                    self.rejoined();
                }
                self.trim_connections();
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                let state = self.peer(peer_id);
                state.connections = num_established;
                if num_established == 0 {
                    state.gone_since = Some(Instant::now());
                    state.since = None;
                    self.trim.closed(&peer_id);
                    self.prune_peers();
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                tracing::debug!(%peer, %error, "dial failed");
                // Refused by this node itself (its own limits, a quarantine):
                // no fault of the peer's.
                let denied = matches!(error, DialError::Denied { .. });
                let max_failures = self.max_failures;
                let state = self.peer(peer);
                state.failures += u32::from(!denied);
                let failures = state.failures;
                if !denied && failures >= max_failures {
                    // A peer that keeps failing leaves the routing table, so
                    // lookups stop wasting time on it.
                    self.swarm.behaviour_mut().kad.remove_peer(&peer);
                }
                for reply in self.pending_dials.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(NetError::Dial { peer: peer.to_string(), reason: error.to_string() }));
                }
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Kad(KadEvent::Kad(event)) => self.on_kad_event(event),
            BehaviourEvent::Kad(KadEvent::Unresponsive(peer)) => self.on_unresponsive(peer),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let chorus = info.protocols.contains(&KAD_PROTOCOL);
                let state = self.peer(peer_id);
                state.agent = Some(info.agent_version.clone());
                state.chorus = chorus;
                if chorus {
                    // Identify's listen addresses feed the routing table: that
                    // is how peers we were dialled by become reachable.
                    // On a public network a peer's private and loopback
                    // addresses reach no one: they stay out of the DHT. A
                    // node on a LAN or loopback only (tests) keeps them.
                    let public = self.on_public_network();
                    for address in info.listen_addrs {
                        if !is_unroutable(&address)
                            && (!public || is_global(&address))
                            && self.remember(peer_id, address.clone())
                        {
                            self.swarm.behaviour_mut().kad.add_address(&peer_id, address);
                        }
                    }
                }
            }
            BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. }) => self.peer(peer).rtt = Some(rtt),
            BehaviourEvent::Status(event) => self.on_status_event(event),
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    tracing::debug!(%peer, %address, "found on the local network");
                    let _ = self.remember(peer, address.clone());
                    self.swarm.behaviour_mut().kad.add_address(&peer, address.clone());
                    if !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(address);
                    }
                }
            }
            BehaviourEvent::Autonat(autonat::Event::StatusChanged { new, .. }) => {
                self.reachability = match new {
                    autonat::NatStatus::Public(_) => Reachability::Public,
                    autonat::NatStatus::Private => Reachability::Private,
                    autonat::NatStatus::Unknown => Reachability::Unknown,
                };
                tracing::info!(reachability = ?self.reachability, "reachability changed");
            }
            _ => {}
        }
    }
}

impl EventLoop {
    /// Whether this node is on a public network: it listens on a global
    /// address, or AutoNAT found it reachable from outside.
    fn on_public_network(&self) -> bool {
        self.reachability == Reachability::Public || self.listen_addrs.iter().any(is_global)
    }
}

/// Whether an address is reachable from the internet at large: not
/// loopback, private, link-local, unspecified or shared (CGNAT); not a
/// memory address. DNS names count as global.
pub(super) fn is_global(address: &Multiaddr) -> bool {
    match address.iter().next() {
        Some(Protocol::Ip4(ip)) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || (a == 100 && (64..128).contains(&b)))
        }
        Some(Protocol::Ip6(ip)) => {
            let first = ip.segments()[0];
            !(ip.is_loopback() || ip.is_unspecified() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80)
        }
        Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_) | Protocol::Dnsaddr(_)) => true,
        _ => false,
    }
}

fn is_unroutable(address: &Multiaddr) -> bool {
    address.iter().any(|protocol| match protocol {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(address: &str) -> bool {
        is_global(&address.parse().unwrap_or_else(|_| Multiaddr::empty()))
    }

    #[test]
    fn only_addresses_the_internet_can_reach_are_global() {
        for address in
            ["/ip4/93.184.216.34/tcp/4001", "/ip6/2a00:1450:4001::200e/udp/4001/quic-v1", "/dns4/node.example/tcp/1"]
        {
            assert!(global(address), "{address}");
        }
        for address in [
            "/ip4/127.0.0.1/tcp/1",
            "/ip4/10.0.0.5/tcp/1",
            "/ip4/192.168.1.20/tcp/1",
            "/ip4/172.16.0.1/tcp/1",
            "/ip4/169.254.1.1/tcp/1",
            "/ip4/100.64.0.1/tcp/1",
            "/ip4/0.0.0.0/tcp/1",
            "/ip6/::1/tcp/1",
            "/ip6/fd00::1/tcp/1",
            "/ip6/fe80::1/tcp/1",
            "/memory/5",
        ] {
            assert!(!global(address), "{address}");
        }
    }
}
