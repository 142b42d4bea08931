//! This device and the network: where each sub-task runs, best first, by
//! what this device measured (placement in chorus-core decides).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::{
    Candidate, Catalog, Executor, ExecutorDirectory, Measured, PlacementPolicy, Store, diverse_probe_targets,
    rank_executors, standing,
};
use chorus_net::{Network, PeerId, PeerStatus};
use futures::future::{BoxFuture, join_all};

use super::Requester;
use super::remote::RemoteExecutor;

/// How long provider lookups are reused.
const PROVIDER_CACHE: Duration = Duration::from_secs(10);
/// Deadline of one provider lookup.
const LOOKUP_DEADLINE: Duration = Duration::from_secs(3);
/// Deadline of the status probes before a dispatch.
const PROBE_DEADLINE: Duration = Duration::from_millis(1500);
/// Providers asked for their status per sub-task.
const PROBES: usize = 4;
/// Providers looked for per specialist.
const PROVIDERS_WANTED: usize = 4;

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
    providers: Mutex<HashMap<String, (Instant, Vec<PeerId>)>>,
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
            providers: Mutex::new(HashMap::new()),
        }
    }

    async fn providers(&self, specialist: &str) -> Vec<PeerId> {
        if let Ok(cache) = self.providers.lock()
            && let Some((at, peers)) = cache.get(specialist)
            && at.elapsed() < PROVIDER_CACHE
            && !peers.is_empty()
        {
            return peers.clone();
        }
        let found = match tokio::time::timeout(
            LOOKUP_DEADLINE,
            self.network.find_providers(specialist, PROVIDERS_WANTED),
        )
        .await
        {
            Ok(Ok(lookup)) => lookup.providers,
            Ok(Err(error)) => {
                tracing::debug!(%error, specialist, "provider lookup failed");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        if let Ok(mut cache) = self.providers.lock() {
            cache.insert(specialist.to_owned(), (Instant::now(), found.clone()));
        }
        found
    }

    fn forget(&self, specialist: &str) {
        if let Ok(mut cache) = self.providers.lock() {
            cache.remove(specialist);
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
        let providers: Vec<String> = self
            .providers(specialist_id)
            .await
            .into_iter()
            .map(|peer| peer.to_string())
            .filter(|peer| !exclude.contains(peer))
            .collect();
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
        let targets = diverse_probe_targets(&providers, &rtt, &groups, PROBES);
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
        let mut answered = 0;
        let mut networks = HashMap::new();
        for (peer, outcome) in join_all(probes).await {
            let Some((network, status)) = outcome else {
                tracing::debug!(%peer, "no status answer");
                continue;
            };
            answered += 1;
            networks.insert(peer, network);
            let id = peer.to_string();
            let peer_standing = self.store.ledger(&id).map(|entry| standing(&entry)).unwrap_or(0);
            // What this device measured of it; its status is its own word.
            let record = self.store.peer_record(&id);
            let measured = record.measured().then(|| Measured {
                tokens_per_s: record.tokens_per_s(),
                succeeded: record.succeeded,
                failed: record.failed,
            });
            let rtt_ms = rtt.get(&id).copied();
            let demoted = record.demoted(chorus_core::now_ms());
            let seen = PeerSeen { rtt_ms, standing: peer_standing, measured, demoted };
            candidates.push(peer_candidate(id, &status, specialist_id, seen));
        }
        if answered == 0 && !targets.is_empty() {
            self.forget(specialist_id); // stale providers: look again next time
        }
        rank_executors(&candidates, &self.policy)
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

/// This device as a placement candidate for a specialist it serves.
pub(crate) fn local_candidate() -> Candidate {
    Candidate {
        executor: "local".to_owned(),
        local: true,
        has_specialist: true,
        serving: true,
        free_slots: 1,
        total_slots: 1,
        rtt_ms: Some(0),
        tokens_per_s: None,
        standing: 0,
        measured: None,
        demoted: false,
    }
}

/// What this device knows of a peer itself: its round trip, its standing
/// in the ledger, what it measured of its tasks, whether it is demoted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerSeen {
    pub(crate) rtt_ms: Option<u32>,
    pub(crate) standing: i64,
    pub(crate) measured: Option<Measured>,
    pub(crate) demoted: bool,
}

/// A peer that answered a status probe, as a placement candidate for
/// `specialist_id`. Its status is its own word: it says whether to try the
/// peer at all (the specialist listed, serving, this protocol version) and
/// its claimed speed, which placement caps and counts only until it has
/// measured one; everything else is what this device saw.
pub(crate) fn peer_candidate(id: String, status: &PeerStatus, specialist_id: &str, seen: PeerSeen) -> Candidate {
    Candidate {
        // A peer of another protocol version would refuse the task
        // (docs/PROTOCOL.md, "Versions").
        has_specialist: status.version == chorus_net::PROTOCOL_VERSION
            && status.specialists.iter().any(|served| served == specialist_id),
        serving: status.serving,
        free_slots: status.free_slots,
        total_slots: status.total_slots,
        rtt_ms: seen.rtt_ms,
        tokens_per_s: (status.tokens_per_s > 0.0).then_some(status.tokens_per_s),
        standing: seen.standing,
        measured: seen.measured,
        demoted: seen.demoted,
        executor: id,
        local: false,
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
            let lookups = missing.iter().map(|id| async move { (id.to_string(), self.providers(id).await) });
            for (id, providers) in join_all(lookups).await {
                if !providers.is_empty() {
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
