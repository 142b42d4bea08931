//! Kademlia on the network task: provider lookups (stopping at the first
//! useful providers), announcements, and the quarantine of hung peers.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult};
use tokio::sync::oneshot;

use super::event_loop::{EventLoop, LookupState, PeerState};
use super::{NetError, ProviderLookup};
use crate::key::specialist_key;

impl EventLoop {
    /// Starts a lookup of `specialist`'s providers; `reply` gets the first
    /// `want` useful ones (see [`EventLoop::on_kad_event`]).
    pub(super) fn find_providers(
        &mut self,
        specialist: &str,
        want: usize,
        within: Option<Duration>,
        reply: oneshot::Sender<ProviderLookup>,
    ) {
        let id = self.swarm.behaviour_mut().kad.get_providers(specialist_key(specialist));
        self.pending_lookups
            .insert(id, LookupState { want, found: Vec::new(), started: Instant::now(), reply: Some(reply) });
        if let Some(within) = within {
            self.lookup_deadlines.push(Box::pin(async move {
                tokio::time::sleep(within).await;
                id
            }));
        }
    }

    /// A lookup's deadline: if it is still going, it ends with what it found.
    pub(super) fn on_lookup_deadline(&mut self, id: QueryId) {
        if !self.pending_lookups.contains_key(&id) {
            return;
        }
        let asked = self.swarm.behaviour_mut().kad.query_mut(&id).map(|mut query| {
            query.finish();
            query.stats().num_requests()
        });
        self.finish_lookup(id, asked.unwrap_or(0));
    }

    /// Answers lookup `id` with what it found: useful providers first.
    fn finish_lookup(&mut self, id: QueryId, peers_asked: u32) {
        let Some(mut state) = self.pending_lookups.remove(&id) else { return };
        // Stable: the order found is kept within each group.
        state.found.sort_by_key(|provider| doubtful(&self.quarantined, &self.peers, provider));
        if let Some(reply) = state.reply.take() {
            let _ =
                reply.send(ProviderLookup { providers: state.found, peers_asked, elapsed: state.started.elapsed() });
        }
    }

    /// Peers quarantined now (expired ones are forgotten).
    pub(super) fn quarantined_now(&mut self) -> Vec<PeerId> {
        let now = Instant::now();
        self.quarantined.retain(|_, until| *until > now);
        self.quarantined.keys().copied().collect()
    }

    /// Kademlia requests to `peer` timed out: it is hung (or hopelessly
    /// slow). Drop it, and refuse it for a while, so lookups stop waiting
    /// for it; its connection closing fails its other pending requests now
    /// (unless task streams are open with it).
    pub(super) fn on_unresponsive(&mut self, peer: PeerId) {
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
        // A task running over the connection either way keeps it: a peer
        // busy generating can be slow to answer Kademlia, and its task (or
        // its requester's) must not die for that. New connections are
        // refused all the same.
        if self.task_streams.iter().any(|streams| streams.with(&peer) > 0) {
            tracing::debug!(%peer, "task streams open: the connection stays until they end");
            return;
        }
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    pub(super) fn set_provided(&mut self, wanted: BTreeSet<String>, reply: oneshot::Sender<Result<usize, NetError>>) {
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

    pub(super) fn on_kad_event(&mut self, event: kad::Event) {
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
                let useful =
                    state.found.iter().filter(|provider| !doubtful(&self.quarantined, &self.peers, provider)).count();
                if useful >= state.want || step.last {
                    if !step.last
                        && let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id)
                    {
                        query.finish();
                    }
                    self.finish_lookup(id, stats.num_requests());
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

/// A provider this node failed to reach and is not connected to is probably
/// gone (its record lingers until it expires), a quarantined one hangs: they
/// go last and do not count towards `want`, so the lookup goes on for a
/// useful one.
fn doubtful(quarantined: &HashMap<PeerId, Instant>, peers: &HashMap<PeerId, PeerState>, provider: &PeerId) -> bool {
    quarantined.contains_key(provider)
        || peers.get(provider).is_some_and(|peer| peer.failures > 0 && peer.connections == 0)
}
