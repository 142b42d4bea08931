//! This device and the network: where each sub-task runs, best first, by
//! what this device measured (placement in chorus-core decides).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chorus_core::{Catalog, Executor, ExecutorDirectory, PlacementPolicy, Store, rank_executors, standing};
use chorus_net::{Network, PeerId};
use futures::future::{BoxFuture, join_all};

use super::Requester;
use super::remote::RemoteExecutor;
use super::rules::{PROBE_DEADLINE, PROBES, ProviderCache, local_candidate, peer_candidate, probe_targets};

/// This device and the network: where sub-tasks can run, best first.
pub(crate) struct NetworkDirectory {
    pub(crate) local: Arc<dyn Executor>,
    /// The device's network: DHT lookups.
    pub(crate) network: Network,
    /// Status probes and sub-tasks go out under the asking identity.
    pub(crate) requester: Arc<Requester>,
    pub(crate) store: Store,
    pub(crate) deadline: Duration,
    pub(crate) policy: PlacementPolicy,
    providers: ProviderCache,
}

impl NetworkDirectory {
    pub(crate) fn new(
        local: Arc<dyn Executor>,
        network: Network,
        requester: Arc<Requester>,
        store: Store,
        deadline: Duration,
    ) -> Self {
        Self {
            local,
            network,
            requester,
            store,
            deadline,
            policy: PlacementPolicy::default(),
            providers: ProviderCache::default(),
        }
    }

    fn remote(&self, network: Network, peer: PeerId) -> Arc<dyn Executor> {
        Arc::new(RemoteExecutor { network, peer, store: self.store.clone(), deadline: self.deadline })
    }

    /// The candidates for a specialist with their live status, ranked.
    pub(crate) async fn placements(
        &self,
        specialist_id: &str,
        exclude: &[String],
    ) -> Vec<(chorus_core::Placement, Option<(PeerId, Network)>)> {
        let mut candidates = Vec::new();
        if self.local.serves(specialist_id) && !exclude.iter().any(|id| id == "local") {
            candidates.push(local_candidate());
        }
        // What this device measured of each provider decides which are asked.
        let record = |peer: &str| self.store.peer_record(peer);
        let (providers, _) = self.providers.providers(&self.network, specialist_id, exclude, record).await;
        // Round trips this device measured (pings), from its own node and
        // from the asking one: the peers it probed and ran tasks on are
        // connected to the latter.
        let mut rtt: BTreeMap<String, u32> = BTreeMap::new();
        let mut known = self.network.peers().await.unwrap_or_default();
        if let Some(asking) = self.requester.running().await {
            known.extend(asking.peers().await.unwrap_or_default());
        }
        // The network each known peer is on: many identities on one host or
        // one /24 take at most one of the first places to probe.
        let mut groups: BTreeMap<String, String> = BTreeMap::new();
        for peer in known {
            if let Some(group) = peer.addresses.iter().find_map(|address| chorus_core::address_group(address)) {
                groups.entry(peer.peer_id.clone()).or_insert(group);
            }
            if let Some(ms) = peer.rtt_ms {
                let best = rtt.entry(peer.peer_id).or_insert(ms);
                *best = (*best).min(ms);
            }
        }
        let targets = probe_targets(&providers, &rtt, &groups, record, chorus_core::now_ms(), PROBES);
        let probes = targets.iter().filter_map(|target| target.parse::<PeerId>().ok()).map(|peer| async move {
            let outcome = match self.requester.network_for(peer).await {
                Ok(network) => match tokio::time::timeout(PROBE_DEADLINE, network.status(peer)).await {
                    Ok(Ok(status)) => Some((network, status)),
                    _ => None,
                },
                Err(error) => {
                    tracing::warn!(%error, "cannot ask under the asking identity; no peer is asked");
                    None
                }
            };
            (peer, outcome)
        });
        let mut networks = HashMap::new();
        for (peer, outcome) in join_all(probes).await {
            let Some((network, status)) = outcome else {
                tracing::debug!(%peer, "no status answer");
                continue;
            };
            networks.insert(peer, network);
            let id = peer.to_string();
            let peer_standing = self.store.ledger(&id).map(|entry| standing(&entry)).unwrap_or(0);
            // What this device measured of it; its status is its own word.
            let record = self.store.peer_record(&id);
            let rtt_ms = rtt.get(&id).copied();
            candidates.push(peer_candidate(
                specialist_id,
                &id,
                &status,
                rtt_ms,
                peer_standing,
                &record,
                chorus_core::now_ms(),
            ));
        }
        let ranked = rank_executors(&candidates, &self.policy);
        if !targets.is_empty() && !ranked.iter().any(|placement| !placement.local) {
            // No provider asked answered or serves it now: look again next time.
            self.providers.forget(specialist_id);
        }
        ranked
            .into_iter()
            .filter_map(|placement| {
                if placement.local {
                    return Some((placement, None));
                }
                let peer: PeerId = placement.executor.parse().ok()?;
                let network = networks.get(&peer)?.clone();
                Some((placement, Some((peer, network))))
            })
            .collect()
    }
}

impl ExecutorDirectory for NetworkDirectory {
    fn reachable<'a>(&'a self, catalog: &'a Catalog, interest: &'a [String]) -> BoxFuture<'a, BTreeSet<String>> {
        Box::pin(async move {
            let mut reachable: BTreeSet<String> = catalog
                .specialists()
                .iter()
                .filter(|specialist| self.local.serves(&specialist.id))
                .map(|specialist| specialist.id.clone())
                .collect();
            let missing: Vec<&String> = interest.iter().filter(|id| !reachable.contains(*id)).collect();
            // A provider record is a stranger's word (and one found only in
            // this node's own store may have been put there by anyone): a
            // specialist counts as reachable when a provider that is not
            // demoted here answered its status probe and serves it.
            let checks = missing.iter().map(|id| async move {
                let now = chorus_core::now_ms();
                let placements = self.placements(id, &[]).await;
                let served = placements.iter().any(|(placement, peer)| {
                    peer.is_some() && !self.store.peer_record(&placement.executor).demoted(now)
                });
                (id.to_string(), served)
            });
            for (id, served) in join_all(checks).await {
                if served {
                    reachable.insert(id);
                }
            }
            reachable
        })
    }

    fn executors_for<'a>(
        &'a self,
        specialist_id: &'a str,
        exclude: &'a [String],
    ) -> BoxFuture<'a, Vec<Arc<dyn Executor>>> {
        Box::pin(async move {
            self.placements(specialist_id, exclude)
                .await
                .into_iter()
                .map(|(placement, peer)| match peer {
                    Some((peer, network)) => self.remote(network, peer),
                    None => {
                        tracing::debug!(reason = %placement.reason, "local placement");
                        Arc::clone(&self.local)
                    }
                })
                .collect()
        })
    }
}
