//! Builds the swarm on the configured transports and starts listening.

use libp2p::core::transport::MemoryTransport;
use libp2p::core::upgrade;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::{Swarm, Transport as _, noise, tcp, yamux};

use super::NetError;
use crate::behaviour::Behaviour;
use crate::config::{NetConfig, TransportKind};

/// The swarm of `keypair` on `config`'s transports, listening (or about to)
/// on its addresses and relays; also how many plain listeners were asked for.
pub(super) fn build(keypair: &Keypair, config: &NetConfig) -> Result<(Swarm<Behaviour>, usize), NetError> {
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
            .with_behaviour(|key, relay| Behaviour::new(key, Some(relay), config).map_err(Into::into))
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
            .with_behaviour(|key| Behaviour::new(key, None, config).map_err(Into::into))
            .map_err(|error| start_error(&error))?
            .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(idle))
            .with_connection_timeout(config.dial_timeout)
            .build(),
    };
    let mut listeners = 0;
    for address in &config.listen {
        swarm.listen_on(address.clone()).map_err(|error| NetError::Start(format!("listen on {address}: {error}")))?;
        listeners += 1;
    }
    for relay in &config.relays {
        let circuit = relay.clone().with(Protocol::P2pCircuit);
        swarm.listen_on(circuit.clone()).map_err(|error| NetError::Start(format!("listen via {relay}: {error}")))?;
    }

    Ok((swarm, listeners))
}
