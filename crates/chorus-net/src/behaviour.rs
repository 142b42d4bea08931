//! The composed libp2p behaviour of a Chorus node.

use std::num::NonZeroUsize;

use libp2p::identity::Keypair;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{autonat, connection_limits, dcutr, identify, kad, mdns, ping, relay};

use crate::network::NetConfig;
use crate::wire::{
    KAD_PROTOCOL, MAX_STATUS_BYTES, MAX_STATUS_REQUEST_BYTES, PeerStatus, STATUS_PROTOCOL,
    StatusRequest,
};

/// Identify's protocol version string: peers of other networks are told apart.
pub(crate) const IDENTIFY_PROTOCOL: &str = "/chorus/id/1";

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) kad: kad::Behaviour<MemoryStore>,
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
        let store = MemoryStore::with_config(
            peer_id,
            MemoryStoreConfig {
                max_provided_keys: 4096,
                max_providers_per_key: 64,
                ..MemoryStoreConfig::default()
            },
        );
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
        let mdns = if config.mdns {
            Some(mdns::tokio::Behaviour::new(
                mdns::Config::default(),
                peer_id,
            )?)
        } else {
            None
        };
        let autonat = config
            .autonat
            .then(|| autonat::Behaviour::new(peer_id, autonat::Config::default()));
        let dcutr = relay_client
            .as_ref()
            .map(|_| dcutr::Behaviour::new(peer_id));
        let relay_server = config
            .relay_server
            .then(|| relay::Behaviour::new(peer_id, relay::Config::default()));
        Ok(Self {
            limits: connection_limits::Behaviour::new(limits),
            kad,
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
