//! What this node tells and knows: status probes (answering them, within
//! the rate limit, and asking peers), the peer list and its reachability.

use std::collections::BTreeSet;

use libp2p::PeerId;
use libp2p::multiaddr::Protocol;
use libp2p::request_response;
use tokio::sync::oneshot;

use super::event_loop::EventLoop;
use super::{NetError, PeerInfo, Reachability};
use crate::wire::{PROTOCOL_VERSION, PeerStatus, StatusRequest};

impl EventLoop {
    /// Asks `peer` for its status; the answer (or failure) goes to `reply`.
    pub(super) fn probe_status(&mut self, peer: PeerId, reply: oneshot::Sender<Result<PeerStatus, NetError>>) {
        self.peer(peer).used = Some(std::time::Instant::now());
        let id = self.swarm.behaviour_mut().status.send_request(&peer, StatusRequest { version: PROTOCOL_VERSION });
        self.pending_status.insert(id, (peer, reply));
    }

    /// An event of the status protocol: a probe to answer, or the answer to ours.
    pub(super) fn on_status_event(&mut self, event: request_response::Event<StatusRequest, PeerStatus>) {
        match event {
            request_response::Event::Message { peer, message, .. } => {
                match message {
                    request_response::Message::Request { channel, .. } => {
                        if !self.limiter.allow(&peer) {
                            tracing::debug!(%peer, "status probe over the rate limit");
                            return; // dropping the channel fails the probe
                        }
                        // Probed: a task may follow over this connection.
                        self.peer(peer).used = Some(std::time::Instant::now());
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
            request_response::Event::OutboundFailure { request_id, error, .. } => {
                if let Some((peer, reply)) = self.pending_status.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Status { peer: peer.to_string(), reason: error.to_string() }));
                }
            }
            _ => {}
        }
    }

    /// What this node knows about its peers, connected ones first.
    pub(super) fn peer_infos(&self) -> Vec<PeerInfo> {
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
        peers
    }

    /// How this node can be reached, a relay reservation included.
    pub(super) fn current_reachability(&self) -> Reachability {
        if self.relayed && self.reachability != Reachability::Public {
            Reachability::Relayed
        } else {
            self.reachability
        }
    }
}
