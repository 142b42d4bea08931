//! Inbound connections per remote IP address: one host may hold only a few
//! of this node's connections, however many identities it makes up, so
//! the rest stay for other peers and for this node's own dials.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent,
    THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};

/// Why a connection was refused.
#[derive(Debug, thiserror::Error)]
#[error("{ip} already holds {held} inbound connections, the most one address may")]
pub(crate) struct TooManyFromAddress {
    ip: IpAddr,
    held: u32,
}

/// The behaviour (see the module docs). Connections without an IP (the
/// memory transport, relayed circuits) are not counted.
pub(crate) struct IpLimits {
    max_per_ip: u32,
    established: HashMap<IpAddr, u32>,
    inbound: HashMap<ConnectionId, IpAddr>,
}

impl IpLimits {
    pub(crate) fn new(max_per_ip: u32) -> Self {
        Self { max_per_ip: max_per_ip.max(1), established: HashMap::new(), inbound: HashMap::new() }
    }

    fn check(&self, remote: &Multiaddr) -> Result<Option<IpAddr>, ConnectionDenied> {
        let Some(ip) = ip_of(remote) else { return Ok(None) };
        let held = self.established.get(&ip).copied().unwrap_or(0);
        if held >= self.max_per_ip {
            return Err(ConnectionDenied::new(TooManyFromAddress { ip, held }));
        }
        Ok(Some(ip))
    }
}

/// The IP address a multiaddr starts with, if any. A relayed address
/// (`…/p2p-circuit/…`) is the relay's, not the peer's: not counted.
fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    if address.iter().any(|protocol| matches!(protocol, Protocol::P2pCircuit)) {
        return None;
    }
    match address.iter().next()? {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

impl NetworkBehaviour for IpLimits {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.check(remote_addr).map(|_| ())
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _peer: PeerId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        // Checked again: several may have been pending at once.
        if let Some(ip) = self.check(remote_addr)? {
            *self.established.entry(ip).or_default() += 1;
            self.inbound.insert(connection_id, ip);
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        if let FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) = event
            && let Some(ip) = self.inbound.remove(&connection_id)
            && let Some(held) = self.established.get_mut(&ip)
        {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.established.remove(&ip);
            }
        }
    }

    fn on_connection_handler_event(&mut self, _peer: PeerId, _connection: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_holds_at_most_its_share_and_gets_it_back_when_connections_close() {
        let mut limits = IpLimits::new(2);
        let remote: Multiaddr = "/ip4/203.0.113.5/tcp/4001".parse().unwrap_or_else(|_| Multiaddr::empty());
        let local: Multiaddr = "/ip4/0.0.0.0/tcp/4001".parse().unwrap_or_else(|_| Multiaddr::empty());
        let (first, second, third) =
            (ConnectionId::new_unchecked(1), ConnectionId::new_unchecked(2), ConnectionId::new_unchecked(3));
        assert!(limits.handle_established_inbound_connection(first, PeerId::random(), &local, &remote).is_ok());
        assert!(limits.handle_established_inbound_connection(second, PeerId::random(), &local, &remote).is_ok());
        assert!(limits.handle_pending_inbound_connection(third, &local, &remote).is_err());
        let other: Multiaddr = "/ip4/198.51.100.7/tcp/9".parse().unwrap_or_else(|_| Multiaddr::empty());
        assert!(limits.handle_pending_inbound_connection(third, &local, &other).is_ok(), "another address is free");
        assert!(ip_of(&"/memory/5".parse().unwrap_or_else(|_| Multiaddr::empty())).is_none());
    }
}
