//! The composed libp2p behaviour of a Chorus node.

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::num::NonZeroUsize;
use std::ops::{Deref, DerefMut};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::ip_limits::IpLimits;
use crate::store::BoundedStore;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use libp2p::{autonat, connection_limits, dcutr, identify, kad, mdns, ping, relay};

use crate::config::NetConfig;
use crate::wire::{
    KAD_PROTOCOL, MAX_STATUS_BYTES, MAX_STATUS_REQUEST_BYTES, PeerStatus, STATUS_PROTOCOL, StatusRequest,
};

/// Identify's protocol version string: peers of other networks are told apart.
pub(crate) const IDENTIFY_PROTOCOL: &str = "/chorus/id/1";

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) ip_limits: IpLimits,
    pub(crate) kad: Kademlia,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) status: request_response::json::Behaviour<StatusRequest, PeerStatus>,
    pub(crate) stream: libp2p_stream::Behaviour,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(crate) autonat: Toggle<autonat::Behaviour>,
    pub(crate) relay_client: Toggle<relay::client::Behaviour>,
    pub(crate) dcutr: Toggle<dcutr::Behaviour>,
    pub(crate) relay_server: Toggle<relay::Behaviour>,
}

impl Behaviour {
    pub(crate) fn new(
        key: &Keypair,
        relay_client: Option<relay::client::Behaviour>,
        config: &NetConfig,
    ) -> Result<Self, std::io::Error> {
        let peer_id = key.public().to_peer_id();

        let limits = connection_limits::ConnectionLimits::default()
            .with_max_established(Some(config.max_connections))
            .with_max_established_incoming(Some(config.max_incoming.min(config.max_connections)))
            .with_max_established_per_peer(Some(config.max_connections_per_peer))
            .with_max_pending_incoming(Some(config.max_pending_incoming))
            .with_max_pending_outgoing(Some(config.max_pending_outgoing));

        let mut kad_config = kad::Config::new(KAD_PROTOCOL);
        kad_config
            .set_query_timeout(config.kad_query_timeout)
            .set_substreams_timeout(config.substream_timeout)
            .set_replication_factor(NonZeroUsize::new(20).unwrap_or(NonZeroUsize::MIN))
            .set_parallelism(NonZeroUsize::new(config.kad_parallelism).unwrap_or(NonZeroUsize::MIN))
            .set_provider_record_ttl(Some(config.provider_ttl))
            .set_provider_publication_interval(Some(config.reprovide_interval))
            .set_periodic_bootstrap_interval(Some(config.bootstrap_interval))
            .set_max_packet_size(64 * 1024);
        // Own provider records apart from others', which are capped per
        // provider and in all; value records refused (crate::store).
        let store = BoundedStore::new(peer_id);
        let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
        if config.kad_server {
            kad.set_mode(Some(kad::Mode::Server));
        }

        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                .with_agent_version(config.agent.clone())
                .with_interval(config.identify_interval),
        );
        let ping = ping::Behaviour::new(ping::Config::new().with_interval(config.ping_interval));
        let status = request_response::json::Behaviour::with_codec(
            request_response::json::codec::Codec::default()
                .set_request_size_maximum(MAX_STATUS_REQUEST_BYTES)
                .set_response_size_maximum(MAX_STATUS_BYTES),
            [(STATUS_PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(config.status_timeout)
                .with_max_concurrent_streams(64),
        );
        let mdns =
            if config.mdns { Some(mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)?) } else { None };
        let autonat = config.autonat.then(|| autonat::Behaviour::new(peer_id, autonat::Config::default()));
        let dcutr = relay_client.as_ref().map(|_| dcutr::Behaviour::new(peer_id));
        let relay_server = config.relay_server.then(|| relay::Behaviour::new(peer_id, relay::Config::default()));
        Ok(Self {
            limits: connection_limits::Behaviour::new(limits),
            ip_limits: IpLimits::new(config.max_incoming_per_ip),
            kad: Kademlia::new(kad),
            identify,
            ping,
            status,
            stream: libp2p_stream::Behaviour::new(),
            mdns: mdns.into(),
            autonat: autonat.into(),
            relay_client: relay_client.into(),
            dcutr: dcutr.into(),
            relay_server: relay_server.into(),
        })
    }
}

/// Kademlia, plus what libp2p-kad keeps to itself: which peer let requests
/// time out. A hung peer (connection open, nothing answered) costs every
/// lookup that asks it a whole substream timeout and is never dropped from
/// the routing table, since its connection never fails. This wrapper reports
/// a peer that let [`STRIKES`] requests in a row time out with nothing heard
/// from it in between ([`KadEvent::Unresponsive`]) and refuses connections
/// to and from the peers the network task quarantines, so that later
/// lookups skip them at once (a refused dial fails the request immediately).
pub(crate) struct Kademlia {
    inner: kad::Behaviour<BoundedStore>,
    /// Requests that timed out in a row, per peer, with nothing heard from
    /// it in between.
    strikes: HashMap<PeerId, u32>,
    unresponsive: VecDeque<PeerId>,
    quarantined: HashMap<PeerId, Instant>,
    /// When each connected peer's Kademlia handler last reported anything
    /// (a request of its own, an answer): the network task closes the
    /// connections used least recently near its limit.
    heard: HashMap<PeerId, Instant>,
}

/// Timeouts in a row, with nothing heard in between, that make a peer
/// unresponsive: one alone may be a busy peer, a hung one never answers.
const STRIKES: u32 = 2;

/// Most peers held in quarantine at once.
const MAX_QUARANTINED: usize = 1024;

/// What [`Kademlia`] reports.
// The swarm's event enum is as large anyway; boxing would allocate per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum KadEvent {
    /// An event of Kademlia itself.
    Kad(kad::Event),
    /// Kademlia requests to this peer timed out, [`STRIKES`] in a row.
    Unresponsive(PeerId),
}

#[derive(Debug, thiserror::Error)]
#[error("the peer is quarantined: it let a request time out")]
struct Quarantined;

impl Kademlia {
    fn new(inner: kad::Behaviour<BoundedStore>) -> Self {
        Self {
            inner,
            strikes: HashMap::new(),
            unresponsive: VecDeque::new(),
            quarantined: HashMap::new(),
            heard: HashMap::new(),
        }
    }

    /// When Kademlia last heard from `peer` over the connections open now.
    pub(crate) fn heard(&self, peer: &PeerId) -> Option<Instant> {
        self.heard.get(peer).copied()
    }

    /// Refuses connections with `peer` until `until`.
    pub(crate) fn quarantine(&mut self, peer: PeerId, until: Instant) {
        let now = Instant::now();
        self.quarantined.retain(|_, end| *end > now);
        if self.quarantined.len() < MAX_QUARANTINED {
            self.quarantined.insert(peer, until);
        }
    }

    fn check(&self, peer: &PeerId) -> Result<(), ConnectionDenied> {
        match self.quarantined.get(peer) {
            Some(until) if *until > Instant::now() => Err(ConnectionDenied::new(Quarantined)),
            _ => Ok(()),
        }
    }
}

impl Deref for Kademlia {
    type Target = kad::Behaviour<BoundedStore>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Kademlia {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl NetworkBehaviour for Kademlia {
    type ConnectionHandler = <kad::Behaviour<BoundedStore> as NetworkBehaviour>::ConnectionHandler;
    type ToSwarm = KadEvent;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.inner.handle_pending_inbound_connection(connection_id, local_addr, remote_addr)
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer)?;
        self.inner.handle_established_inbound_connection(connection_id, peer, local_addr, remote_addr)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = &maybe_peer {
            self.check(peer)?;
        }
        self.inner.handle_pending_outbound_connection(connection_id, maybe_peer, addresses, effective_role)
    }

    fn handle_established_outbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        role_override: Endpoint,
        port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer)?;
        self.inner.handle_established_outbound_connection(connection_id, peer, addr, role_override, port_use)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        if let FromSwarm::ConnectionClosed(closed) = &event
            && closed.remaining_established == 0
        {
            self.heard.remove(&closed.peer_id);
        }
        self.inner.on_swarm_event(event);
    }

    fn on_connection_handler_event(
        &mut self,
        peer: PeerId,
        connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        if is_request_timeout(&event) {
            if self.strikes.len() >= MAX_QUARANTINED {
                self.strikes.clear();
            }
            let strikes = self.strikes.entry(peer).or_default();
            *strikes += 1;
            if *strikes >= STRIKES {
                self.strikes.remove(&peer);
                if self.unresponsive.len() < MAX_QUARANTINED {
                    self.unresponsive.push_back(peer);
                }
            }
        } else {
            // An answer, or a request of its own: the peer is alive, and in
            // use. At most one entry per connected peer: removed when its
            // last connection closes.
            if !self.strikes.is_empty() {
                self.strikes.remove(&peer);
            }
            self.heard.insert(peer, Instant::now());
        }
        self.inner.on_connection_handler_event(peer, connection_id, event);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        if let Some(peer) = self.unresponsive.pop_front() {
            return Poll::Ready(ToSwarm::GenerateEvent(KadEvent::Unresponsive(peer)));
        }
        self.inner.poll(cx).map(|event| event.map_out(KadEvent::Kad))
    }
}

/// Whether a Kademlia handler event is a request that timed out.
///
/// libp2p-kad 0.49 keeps its handler events in a private module, so the
/// variant cannot be named; its derived `Debug` starts with the variant
/// name, and a timeout reads `QueryError { error: Io(Kind(TimedOut)), …`.
/// Only the first bytes are formatted (the writer refuses the rest), so
/// large responses cost nothing. The network simulation's hang phase
/// checks that this still recognises timeouts (`peers_quarantined`).
fn is_request_timeout(event: &impl fmt::Debug) -> bool {
    let mut prefix = Prefix { bytes: [0; 64], len: 0 };
    let _ = write!(prefix, "{event:?}");
    let text = prefix.as_str();
    text.starts_with("QueryError") && text.contains("TimedOut")
}

/// The first bytes of a formatted value.
struct Prefix {
    bytes: [u8; 64],
    len: usize,
}

impl Prefix {
    fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..self.len).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(text) => text,
            // Cut inside a character: keep what is valid.
            Err(error) => std::str::from_utf8(bytes.get(..error.valid_up_to()).unwrap_or_default()).unwrap_or_default(),
        }
    }
}

impl fmt::Write for Prefix {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let take = room.min(text.len());
        if let (Some(target), Some(source)) =
            (self.bytes.get_mut(self.len..self.len + take), text.as_bytes().get(..take))
        {
            target.copy_from_slice(source);
            self.len += take;
        }
        if take < text.len() { Err(fmt::Error) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum Event {
        QueryError { error: Error, query_id: u32 },
        FindNodeRes { peers: Vec<String> },
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    enum Error {
        Io(std::io::Error),
    }

    #[test]
    fn timeouts_are_recognised_from_the_first_bytes_only() {
        let timeout = Event::QueryError { error: Error::Io(std::io::ErrorKind::TimedOut.into()), query_id: 7 };
        assert!(is_request_timeout(&timeout));
        let refused = Event::QueryError { error: Error::Io(std::io::ErrorKind::ConnectionRefused.into()), query_id: 7 };
        assert!(!is_request_timeout(&refused));
        let big = Event::FindNodeRes { peers: vec!["TimedOut".repeat(1000); 100] };
        assert!(!is_request_timeout(&big));
    }
}
