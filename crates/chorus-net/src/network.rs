//! The network task and its handle.
//!
//! [`Network::start`] builds the libp2p `Swarm` and spawns one task that owns
//! it; everything else holds a cheap [`Network`] handle whose commands carry
//! their own reply channel (rust-libp2p's file-sharing example, iroh's
//! actors). Dropping the last handle, or [`Network::shutdown`], stops the
//! task and closes every connection.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use libp2p::core::transport::MemoryTransport;
use libp2p::core::upgrade;
use libp2p::identity::Keypair;
use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, Transport as _, autonat, identify, mdns, noise, ping, tcp, yamux};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument as _;

use crate::behaviour::{Behaviour, BehaviourEvent, KadEvent};
use crate::config::{NetConfig, TransportKind};
use crate::key::specialist_key;
use crate::limits::RateLimiter;
use crate::server::{self, TaskService};
use crate::wire::{KAD_PROTOCOL, PROTOCOL_VERSION, PeerStatus, StatusRequest};

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

#[derive(Debug)]
enum Command {
    Listeners(oneshot::Sender<Vec<Multiaddr>>),
    Dial(Multiaddr, oneshot::Sender<Result<PeerId, NetError>>),
    Bootstrap(oneshot::Sender<Result<(), NetError>>),
    SetProvided(BTreeSet<String>, oneshot::Sender<Result<usize, NetError>>),
    FindProviders { specialist: String, want: usize, reply: oneshot::Sender<ProviderLookup> },
    Status { peer: PeerId, reply: oneshot::Sender<Result<PeerStatus, NetError>> },
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Reachability(oneshot::Sender<Reachability>),
    Freeze(bool),
    Quarantined(oneshot::Sender<Vec<PeerId>>),
}

/// A cheap, cloneable handle on a running network.
#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    peer_id: PeerId,
    keypair: Keypair,
    commands: mpsc::Sender<Command>,
    control: libp2p_stream::Control,
    cancel: CancellationToken,
    _guard: DropGuard,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("peer_id", &self.inner.peer_id).finish_non_exhaustive()
    }
}

impl Network {
    /// Builds the swarm, starts listening and joins through the bootstrap
    /// peers. With a `service`, the node answers status probes with its
    /// status and serves the task protocol; without, it only asks.
    ///
    /// # Errors
    /// [`NetError::Start`] when the transports or a listener cannot be set
    /// up, [`NetError::Address`] for a bootstrap address without a peer id.
    pub async fn start(
        keypair: Keypair,
        config: NetConfig,
        service: Option<Arc<dyn TaskService>>,
    ) -> Result<Self, NetError> {
        let peer_id = keypair.public().to_peer_id();
        let start_error = |error: &dyn std::fmt::Display| NetError::Start(error.to_string());
        let idle = config.idle_timeout;
        let mut swarm: Swarm<Behaviour> = match config.transport {
            TransportKind::Tcp => libp2p::SwarmBuilder::with_existing_identity(keypair.clone())
                .with_tokio()
                .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
                .map_err(|error| start_error(&error))?
                .with_quic()
                .with_relay_client(noise::Config::new, yamux::Config::default)
                .map_err(|error| start_error(&error))?
                .with_behaviour(|key, relay| Behaviour::new(key, Some(relay), &config).map_err(Into::into))
                .map_err(|error| start_error(&error))?
                .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(idle))
                .with_connection_timeout(config.dial_timeout)
                .build(),
            TransportKind::Memory => libp2p::SwarmBuilder::with_existing_identity(keypair.clone())
                .with_tokio()
                .with_other_transport(|key| -> Result<_, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(MemoryTransport::default()
                        .upgrade(upgrade::Version::V1)
                        .authenticate(noise::Config::new(key)?)
                        .multiplex(yamux::Config::default()))
                })
                .map_err(|error| start_error(&error))?
                .with_behaviour(|key| Behaviour::new(key, None, &config).map_err(Into::into))
                .map_err(|error| start_error(&error))?
                .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(idle))
                .with_connection_timeout(config.dial_timeout)
                .build(),
        };
        let mut listeners = 0;
        for address in &config.listen {
            swarm
                .listen_on(address.clone())
                .map_err(|error| NetError::Start(format!("listen on {address}: {error}")))?;
            listeners += 1;
        }
        for relay in &config.relays {
            let circuit = relay.clone().with(Protocol::P2pCircuit);
            swarm
                .listen_on(circuit.clone())
                .map_err(|error| NetError::Start(format!("listen via {relay}: {error}")))?;
        }

        let mut control = swarm.behaviour().stream.new_control();
        let cancel = CancellationToken::new();
        let limiter = RateLimiter::new(config.requests_per_minute);
        if let Some(service) = &service {
            let incoming = control
                .accept(crate::wire::TASK_PROTOCOL)
                .map_err(|error| NetError::Start(format!("task protocol: {error}")))?;
            let span = tracing::info_span!("task_server", peer = %peer_id);
            tokio::spawn(
                server::serve(
                    incoming,
                    Arc::clone(service),
                    keypair.clone(),
                    limiter.clone(),
                    config.max_task_streams,
                    cancel.clone(),
                )
                .instrument(span),
            );
        }

        let (commands, inbox) = mpsc::channel(64);
        let mut event_loop = EventLoop {
            swarm,
            inbox,
            cancel: cancel.clone(),
            service,
            limiter,
            max_failures: config.max_peer_failures,
            quarantine: config.quarantine,
            quarantined: HashMap::new(),
            pending_lookups: HashMap::new(),
            pending_provides: HashMap::new(),
            pending_status: HashMap::new(),
            pending_dials: HashMap::new(),
            peers: HashMap::new(),
            listen_addrs: Vec::new(),
            provided: BTreeSet::new(),
            frozen: false,
            reachability: Reachability::Unknown,
            relayed: false,
            relay_server: config.relay_server,
            memory: config.transport == TransportKind::Memory,
        };
        event_loop.wait_listening(listeners, Duration::from_secs(5)).await;
        let mut bootstrapped = false;
        for address in &config.bootstrap {
            let Some(Protocol::P2p(peer)) = address.iter().last() else {
                return Err(NetError::Address {
                    address: address.to_string(),
                    reason: "a bootstrap address must end in /p2p/<peer id>".to_owned(),
                });
            };
            if peer == peer_id {
                continue;
            }
            event_loop.swarm.behaviour_mut().kad.add_address(&peer, address.clone());
            if let Err(error) = event_loop.swarm.dial(address.clone()) {
                tracing::warn!(%address, %error, "cannot dial a bootstrap peer");
            }
            bootstrapped = true;
        }
        if bootstrapped && let Err(error) = event_loop.swarm.behaviour_mut().kad.bootstrap() {
            tracing::debug!(%error, "bootstrap not started");
        }
        let span = tracing::info_span!("network", peer = %peer_id);
        tokio::spawn(event_loop.run().instrument(span));
        Ok(Self {
            inner: Arc::new(Inner {
                peer_id,
                keypair,
                commands,
                control,
                cancel: cancel.clone(),
                _guard: cancel.drop_guard(),
            }),
        })
    }

    /// This node's peer id.
    #[must_use]
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// This node's identity key (it signs receipts).
    #[must_use]
    pub fn keypair(&self) -> &Keypair {
        &self.inner.keypair
    }

    pub(crate) fn control(&self) -> libp2p_stream::Control {
        self.inner.control.clone()
    }

    /// Stops the network task: every connection closes.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    /// Whether the network task is still running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.inner.cancel.is_cancelled() && !self.inner.commands.is_closed()
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, NetError> {
        let (reply, answer) = oneshot::channel();
        self.inner.commands.send(make(reply)).await.map_err(|_| NetError::Stopped)?;
        answer.await.map_err(|_| NetError::Stopped)
    }

    /// The addresses this node listens on, each ending in `/p2p/<peer id>`.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, NetError> {
        let peer = self.inner.peer_id;
        let addrs = self.call(Command::Listeners).await?;
        Ok(addrs.into_iter().map(|address| address.with_p2p(peer).unwrap_or_else(|address| address)).collect())
    }

    /// Dials an address ending in `/p2p/<peer id>` and adds the peer to the
    /// routing table once connected.
    ///
    /// # Errors
    /// [`NetError::Address`], [`NetError::Dial`].
    pub async fn dial(&self, address: Multiaddr) -> Result<PeerId, NetError> {
        self.call(|reply| Command::Dial(address, reply)).await?
    }

    /// Refreshes the routing table from the known peers.
    ///
    /// # Errors
    /// [`NetError::NoPeers`] when no peer is known yet.
    pub async fn bootstrap(&self) -> Result<(), NetError> {
        self.call(Command::Bootstrap).await?
    }

    /// Announces exactly these specialists (stops announcing others). Returns
    /// how many announcements reached at least one peer.
    ///
    /// # Errors
    /// [`NetError::Provide`] when the local record store refuses a key.
    pub async fn set_provided(&self, specialists: BTreeSet<String>) -> Result<usize, NetError> {
        self.call(|reply| Command::SetProvided(specialists, reply)).await?
    }

    /// Looks up providers of a specialist in the DHT, stopping once `want`
    /// are found (the first useful ones, not all of them).
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn find_providers(&self, specialist: &str, want: usize) -> Result<ProviderLookup, NetError> {
        let specialist = specialist.to_owned();
        self.call(|reply| Command::FindProviders { specialist, want: want.max(1), reply }).await
    }

    /// Asks a peer for its live status.
    ///
    /// # Errors
    /// [`NetError::Status`] when it does not answer in time or at all.
    pub async fn status(&self, peer: PeerId) -> Result<PeerStatus, NetError> {
        self.call(|reply| Command::Status { peer, reply }).await?
    }

    /// What this node knows about its peers.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetError> {
        self.call(Command::Peers).await
    }

    /// How this node can be reached.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn reachability(&self) -> Result<Reachability, NetError> {
        self.call(Command::Reachability).await
    }

    /// Peers quarantined now: they let Kademlia requests time out and are
    /// refused for [`NetConfig::quarantine`].
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn quarantined(&self) -> Result<Vec<PeerId>, NetError> {
        self.call(Command::Quarantined).await
    }

    /// Stops (true) or resumes (false) handling network events while keeping
    /// every connection open: a hung peer, for simulations of failures.
    ///
    /// # Errors
    /// [`NetError::Stopped`].
    pub async fn freeze(&self, frozen: bool) -> Result<(), NetError> {
        self.inner.commands.send(Command::Freeze(frozen)).await.map_err(|_| NetError::Stopped)
    }
}

struct LookupState {
    want: usize,
    found: Vec<PeerId>,
    started: Instant,
    reply: Option<oneshot::Sender<ProviderLookup>>,
}

#[derive(Default)]
struct PeerState {
    addresses: BTreeSet<Multiaddr>,
    connections: u32,
    rtt: Option<Duration>,
    agent: Option<String>,
    chorus: bool,
    failures: u32,
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    inbox: mpsc::Receiver<Command>,
    cancel: CancellationToken,
    service: Option<Arc<dyn TaskService>>,
    limiter: RateLimiter,
    max_failures: u32,
    quarantine: Duration,
    quarantined: HashMap<PeerId, Instant>,
    pending_lookups: HashMap<QueryId, LookupState>,
    pending_provides: HashMap<QueryId, (String, oneshot::Sender<Result<bool, NetError>>)>,
    pending_status: HashMap<OutboundRequestId, (PeerId, oneshot::Sender<Result<PeerStatus, NetError>>)>,
    pending_dials: HashMap<PeerId, Vec<oneshot::Sender<Result<PeerId, NetError>>>>,
    peers: HashMap<PeerId, PeerState>,
    listen_addrs: Vec<Multiaddr>,
    provided: BTreeSet<String>,
    frozen: bool,
    reachability: Reachability,
    relayed: bool,
    relay_server: bool,
    /// On the memory transport every listen address is reachable.
    memory: bool,
}

impl EventLoop {
    async fn wait_listening(&mut self, listeners: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.listen_addrs.len() < listeners {
            match tokio::time::timeout_at(deadline, self.swarm.select_next_some()).await {
                Ok(event) => self.on_swarm_event(event),
                Err(_) => break,
            }
        }
    }

    async fn run(mut self) {
        loop {
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
            }
        }
        tracing::debug!("network stopped");
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
            Command::FindProviders { specialist, want, reply } => {
                let id = self.swarm.behaviour_mut().kad.get_providers(specialist_key(&specialist));
                self.pending_lookups
                    .insert(id, LookupState { want, found: Vec::new(), started: Instant::now(), reply: Some(reply) });
            }
            Command::Status { peer, reply } => {
                let id =
                    self.swarm.behaviour_mut().status.send_request(&peer, StatusRequest { version: PROTOCOL_VERSION });
                self.pending_status.insert(id, (peer, reply));
            }
            Command::Peers(reply) => {
                let mut peers: Vec<PeerInfo> = self
                    .peers
                    .iter()
                    .map(|(peer, state)| PeerInfo {
                        peer_id: peer.to_string(),
                        addresses: state
                            .addresses
                            .iter()
                            .map(|address| {
                                let mut address = address.clone();
                                if matches!(address.iter().last(), Some(Protocol::P2p(_))) {
                                    address.pop();
                                }
                                address.to_string()
                            })
                            .collect::<BTreeSet<String>>()
                            .into_iter()
                            .collect(),
                        connected: state.connections > 0,
                        rtt_ms: state.rtt.map(|rtt| u32::try_from(rtt.as_millis()).unwrap_or(u32::MAX)),
                        agent: state.agent.clone(),
                        chorus: state.chorus,
                    })
                    .collect();
                peers.sort_by(|a, b| b.connected.cmp(&a.connected).then(a.peer_id.cmp(&b.peer_id)));
                let _ = reply.send(peers);
            }
            Command::Reachability(reply) => {
                let reachability = if self.relayed && self.reachability != Reachability::Public {
                    Reachability::Relayed
                } else {
                    self.reachability
                };
                let _ = reply.send(reachability);
            }
            Command::Freeze(frozen) => self.frozen = frozen,
            Command::Quarantined(reply) => {
                let now = Instant::now();
                self.quarantined.retain(|_, until| *until > now);
                let _ = reply.send(self.quarantined.keys().copied().collect());
            }
        }
    }

    /// Kademlia requests to `peer` timed out: it is hung (or hopelessly
    /// slow). Drop it, and refuse it for a while, so lookups stop waiting
    /// for it; its connection closing fails its other pending requests now.
    fn on_unresponsive(&mut self, peer: PeerId) {
        if self.quarantine.is_zero() {
            return;
        }
        tracing::debug!(%peer, "Kademlia requests timed out; quarantining the peer");
        let until = Instant::now() + self.quarantine;
        let now = Instant::now();
        self.quarantined.retain(|_, end| *end > now);
        self.quarantined.insert(peer, until);
        let kad = &mut self.swarm.behaviour_mut().kad;
        kad.quarantine(peer, until);
        kad.remove_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    fn set_provided(&mut self, wanted: BTreeSet<String>, reply: oneshot::Sender<Result<usize, NetError>>) {
        let kad = &mut self.swarm.behaviour_mut().kad;
        for gone in self.provided.difference(&wanted) {
            kad.stop_providing(&specialist_key(gone));
        }
        let mut waiting = Vec::new();
        for specialist in &wanted {
            match kad.start_providing(specialist_key(specialist)) {
                Ok(id) => {
                    let (done, result) = oneshot::channel();
                    self.pending_provides.insert(id, (specialist.clone(), done));
                    waiting.push(result);
                }
                Err(error) => {
                    let _ = reply
                        .send(Err(NetError::Provide { specialist: specialist.clone(), reason: error.to_string() }));
                    return;
                }
            }
        }
        self.provided = wanted;
        tokio::spawn(async move {
            let mut reached = 0;
            for result in waiting {
                if let Ok(Ok(true)) = result.await {
                    reached += 1;
                }
            }
            let _ = reply.send(Ok(reached));
        });
    }

    fn peer(&mut self, peer: PeerId) -> &mut PeerState {
        self.peers.entry(peer).or_default()
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
                let state = self.peer(peer_id);
                state.connections += 1;
                state.failures = 0;
                if endpoint.is_dialer() {
                    state.addresses.insert(endpoint.get_remote_address().clone());
                }
                for reply in self.pending_dials.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, .. } => {
                self.peer(peer_id).connections = num_established;
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                tracing::debug!(%peer, %error, "dial failed");
                let max_failures = self.max_failures;
                let state = self.peer(peer);
                state.failures += 1;
                let failures = state.failures;
                if failures >= max_failures {
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
                    for address in info.listen_addrs {
                        if !is_unroutable(&address) {
                            self.peer(peer_id).addresses.insert(address.clone());
                            self.swarm.behaviour_mut().kad.add_address(&peer_id, address);
                        }
                    }
                }
            }
            BehaviourEvent::Ping(ping::Event { peer, result: Ok(rtt), .. }) => self.peer(peer).rtt = Some(rtt),
            BehaviourEvent::Status(request_response::Event::Message { peer, message, .. }) => {
                match message {
                    request_response::Message::Request { channel, .. } => {
                        if !self.limiter.allow(&peer) {
                            tracing::debug!(%peer, "status probe over the rate limit");
                            return; // dropping the channel fails the probe
                        }
                        let status = self.service.as_ref().map_or_else(
                            || PeerStatus { version: PROTOCOL_VERSION, ..PeerStatus::default() },
                            |service| service.status(),
                        );
                        let _ = self.swarm.behaviour_mut().status.send_response(channel, status);
                    }
                    request_response::Message::Response { request_id, response } => {
                        if let Some((_, reply)) = self.pending_status.remove(&request_id) {
                            let _ = reply.send(Ok(response));
                        }
                    }
                }
            }
            BehaviourEvent::Status(request_response::Event::OutboundFailure { request_id, error, .. }) => {
                if let Some((peer, reply)) = self.pending_status.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Status { peer: peer.to_string(), reason: error.to_string() }));
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    tracing::debug!(%peer, %address, "found on the local network");
                    self.peer(peer).addresses.insert(address.clone());
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

    fn on_kad_event(&mut self, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed { id, result, stats, step } = event else {
            return;
        };
        match result {
            QueryResult::GetProviders(result) => {
                let local = *self.swarm.local_peer_id();
                let Some(state) = self.pending_lookups.get_mut(&id) else {
                    return;
                };
                if let Ok(GetProvidersOk::FoundProviders { providers, .. }) = result {
                    let mut seen: HashSet<PeerId> = state.found.iter().copied().collect();
                    for provider in providers {
                        if provider != local && seen.insert(provider) {
                            state.found.push(provider);
                        }
                    }
                }
                // A provider this node failed to reach and is not connected
                // to is probably gone (its record lingers until it expires),
                // a quarantined one hangs: they go last and do not count
                // towards `want`, so the lookup goes on for a useful one.
                let peers = &self.peers;
                let quarantined = &self.quarantined;
                let doubtful = |provider: &PeerId| {
                    quarantined.contains_key(provider)
                        || peers.get(provider).is_some_and(|peer| peer.failures > 0 && peer.connections == 0)
                };
                let useful = state.found.iter().filter(|p| !doubtful(p)).count();
                if useful >= state.want || step.last {
                    // Stable: the order found is kept within each group.
                    state.found.sort_by_key(|provider| doubtful(provider));
                    let state_done = self.pending_lookups.remove(&id);
                    if !step.last
                        && let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id)
                    {
                        query.finish();
                    }
                    if let Some(mut state) = state_done
                        && let Some(reply) = state.reply.take()
                    {
                        let _ = reply.send(ProviderLookup {
                            providers: state.found,
                            peers_asked: stats.num_requests(),
                            elapsed: state.started.elapsed(),
                        });
                    }
                }
            }
            QueryResult::StartProviding(result) | QueryResult::RepublishProvider(result) => {
                if step.last
                    && let Some((specialist, reply)) = self.pending_provides.remove(&id)
                {
                    tracing::debug!(
                        %specialist,
                        ok = result.is_ok(),
                        peers = stats.num_successes(),
                        "provided"
                    );
                    let _ = reply.send(Ok(result.is_ok() && stats.num_successes() > 0));
                }
            }
            _ => {}
        }
    }
}

fn is_unroutable(address: &Multiaddr) -> bool {
    address.iter().any(|protocol| match protocol {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}
