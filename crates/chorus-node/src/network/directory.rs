//! This device and the network: where each sub-task runs, best first, by
//! what this device measured (placement in chorus-core decides).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chorus_core::{
    Catalog, Executor, ExecutorDirectory, GenerationSpec, PlacementPolicy, Store, rank_executors, standing,
};
use chorus_net::{Network, PeerId, TaskRequest};
use futures::future::{BoxFuture, join_all};

use super::Requester;
use super::remote::RemoteExecutor;
use super::rules::{
    PROBE_DEADLINE, PROBE_ROUNDS, PROBES, ProviderCache, Trial, checked_status, local_candidate, peer_candidate,
    probe_targets, probes_in_round, trial, trial_targets, vetted,
};

/// A ranked place to run a sub-task, with the peer and the network to reach
/// it by (`None` for this device).
pub(crate) type Ranked = (chorus_core::Placement, Option<(PeerId, Network)>);

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
    /// The specialists' public texts: trial tasks ask their examples.
    catalog: Arc<Catalog>,
}

impl NetworkDirectory {
    pub(crate) fn new(
        local: Arc<dyn Executor>,
        network: Network,
        requester: Arc<Requester>,
        store: Store,
        deadline: Duration,
        catalog: Arc<Catalog>,
    ) -> Self {
        Self {
            local,
            network,
            requester,
            store,
            deadline,
            policy: PlacementPolicy::default(),
            providers: ProviderCache::default(),
            catalog,
        }
    }

    /// A trial task for `specialist_id`: one of its public example questions
    /// with its own instructions and sampling, as a sub-task of it looks
    /// (at most the conductor's tokens for a sub-task and `peer_max_tokens`,
    /// what the peer said it generates).
    fn trial_request(&self, specialist_id: &str, peer_max_tokens: u32) -> TaskRequest {
        let now = chorus_core::now_ms();
        let seed = u32::try_from(now % u64::from(u32::MAX)).unwrap_or(0);
        let spec = match self.catalog.specialist(specialist_id) {
            Some(specialist) => {
                let examples = &specialist.examples;
                let pick = usize::try_from(now).unwrap_or(0) % examples.len().max(1);
                GenerationSpec {
                    system: specialist.system_prompt.clone(),
                    prompt: examples.get(pick).unwrap_or(&specialist.description).clone(),
                    sampling: specialist.sampling,
                    seed,
                    json_schema: None,
                }
            }
            // Not in this device's catalog: the conductor never places it.
            None => GenerationSpec {
                system: String::new(),
                prompt: "Say hello.".to_owned(),
                sampling: chorus_core::SpecialistSampling {
                    temperature: 0.7,
                    top_k: 40,
                    top_p: 0.9,
                    min_p: 0.05,
                    repeat_penalty: 1.1,
                    max_tokens: 64,
                },
                seed,
                json_schema: None,
            },
        };
        let mut spec = spec;
        spec.sampling.max_tokens = spec
            .sampling
            .max_tokens
            .min(chorus_core::ConductorConfig::default().subtask_max_tokens)
            .min(peer_max_tokens)
            .max(1);
        super::task_request(specialist_id, &spec, self.deadline)
    }

    fn remote(&self, network: Network, peer: PeerId) -> Arc<dyn Executor> {
        Arc::new(RemoteExecutor { network, peer, store: self.store.clone(), deadline: self.deadline })
    }

    /// The candidates for a specialist with their live status, ranked. When
    /// every status that came back broke the protocol, the liars are demoted
    /// by then and a second round looks past them.
    pub(crate) async fn placements(&self, specialist_id: &str, exclude: &[String]) -> Vec<Ranked> {
        let mut ranked = Vec::new();
        for round in 0..PROBE_ROUNDS {
            let (placed, faults) = self.probe_round(specialist_id, exclude, probes_in_round(PROBES, round)).await;
            ranked = placed;
            if faults == 0 || ranked.iter().any(|(placement, _)| !placement.local) {
                break;
            }
        }
        ranked
    }

    /// One lookup and probe round of [`NetworkDirectory::placements`]: the
    /// ranked candidates and how many statuses broke the protocol.
    async fn probe_round(&self, specialist_id: &str, exclude: &[String], probes: usize) -> (Vec<Ranked>, usize) {
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
        let targets = probe_targets(&providers, &rtt, &groups, record, chorus_core::now_ms(), probes);
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
        let mut max_tokens: HashMap<PeerId, u32> = HashMap::new();
        let mut faults = 0;
        for (peer, outcome) in join_all(probes).await {
            let Some((network, status)) = outcome else {
                tracing::debug!(%peer, "no status answer");
                continue;
            };
            let id = peer.to_string();
            let Some(status) = checked_status(&self.store, &id, status) else {
                faults += 1;
                continue;
            };
            max_tokens.insert(peer, status.max_tokens);
            networks.insert(peer, network);
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
        let mut ranked = rank_executors(&candidates, &self.policy);
        // Liars about: a peer that never answered this device gets a trial
        // task before the person's sub-task goes to it.
        let trialled = trial_targets(&ranked, &candidates, &providers, exclude, record, chorus_core::now_ms());
        if !trialled.is_empty() {
            let trials = trialled
                .into_iter()
                .filter_map(|peer| networks.get(&peer).map(|network| (peer, network.clone())))
                .map(|(peer, network)| {
                    let cap = max_tokens.get(&peer).copied().unwrap_or(u32::MAX);
                    let request = self.trial_request(specialist_id, cap);
                    async move { (peer.to_string(), trial(&network, peer, request, self.deadline, &self.store).await) }
                });
            let outcomes: HashMap<String, Trial> = join_all(trials).await.into_iter().collect();
            faults += outcomes.values().filter(|outcome| **outcome == Trial::Failed).count();
            // Only peers that answered this device, the trials' passes now
            // among them, take the person's sub-task.
            ranked.retain(|placement| placement.local || vetted(&self.store.peer_record(&placement.executor)));
        }
        if !targets.is_empty() && !ranked.iter().any(|placement| !placement.local) {
            // No provider asked answered or serves it now: look again next time.
            self.providers.forget(specialist_id);
        }
        let ranked = ranked
            .into_iter()
            .filter_map(|placement| {
                if placement.local {
                    return Some((placement, None));
                }
                let peer: PeerId = placement.executor.parse().ok()?;
                let network = networks.get(&peer)?.clone();
                Some((placement, Some((peer, network))))
            })
            .collect();
        (ranked, faults)
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
