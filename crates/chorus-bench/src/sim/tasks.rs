//! The placement phase: requesters run tasks as a node does. For each
//! attempt a requester looks the specialist's providers up (cached for a
//! while), asks a few of them for their status, turns the answers into
//! candidates with what its own store measured of them, ranks them with
//! chorus-core's `rank_executors` and runs the task on the first, within a
//! deadline; the outcome goes into its store (a failure demotes the peer)
//! and a failed task is retried on the next candidate. A status beyond the
//! protocol's limits demotes its peer; once a provider of the specialist
//! failed, peers that never answered get a trial task first. The rules are
//! chorus-node's `requester_rules` and the conductor's retry loop; only the
//! numbers of providers wanted and probed can be changed, to see what they
//! do. One difference: a node sends its probes and tasks under a separate
//! requester identity, the simulation from the node that looks up.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chorus_core::{
    ExecutorErrorKind, GenerationSpec, LedgerEntry, PlacementPolicy, SpecialistSampling, Store, TaskOutcome,
    rank_executors, standing,
};
use chorus_net::{NetError, Network, PeerId, RemoteEvent};
use chorus_node::requester_rules as rules;

use super::config::SimConfig;

/// Tokens a task asks for (the conductor's cap of a sub-task).
const ASKED_TOKENS: u32 = 256;

/// One requester: its network, its own store and its provider cache.
pub(super) struct Asker {
    network: Network,
    store: Store,
    policy: PlacementPolicy,
    probes: usize,
    /// Deadline of an attempt, which bounds a trial's too.
    deadline: Duration,
    cache: rules::ProviderCache,
    /// What each lookup it made (not the cached ones) returned.
    pub(super) lookups: Mutex<Vec<Vec<PeerId>>>,
    /// Peers whose status broke the protocol, each time it did (each is
    /// demoted, so it is asked again only when no one else is left).
    pub(super) status_faults: Mutex<Vec<PeerId>>,
    /// Trial tasks and how each ended.
    pub(super) trials: Mutex<Vec<(PeerId, rules::Trial)>>,
}

/// Where one attempt ran and how it ended.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub(super) peer: PeerId,
    pub(super) answered: bool,
    /// Whether the peer had already failed this requester before.
    pub(super) failed_before: bool,
}

/// One task: its attempts, in order (none when no candidate was found).
#[derive(Debug, Clone, Default)]
pub(super) struct TaskRun {
    pub(super) attempts: Vec<Attempt>,
    pub(super) elapsed: Duration,
}

impl TaskRun {
    pub(super) fn answered(&self) -> bool {
        self.attempts.last().is_some_and(|attempt| attempt.answered)
    }
}

impl Asker {
    /// A requester over `network` with a fresh store of its own.
    ///
    /// # Errors
    /// [`NetError::Start`] when the temporary store cannot be opened.
    pub(super) fn new(network: Network, config: &SimConfig) -> Result<Self, NetError> {
        let store = Store::temporary().map_err(|error| NetError::Start(format!("store: {error}")))?;
        Ok(Self {
            network,
            store,
            policy: PlacementPolicy::default(),
            probes: config.probes.max(1),
            deadline: config.task_deadline,
            cache: rules::ProviderCache::new(config.providers_wanted),
            lookups: Mutex::new(Vec::new()),
            status_faults: Mutex::new(Vec::new()),
            trials: Mutex::new(Vec::new()),
        })
    }

    /// The providers of `specialist` that answered the status probe,
    /// ranked, best first (as `NetworkDirectory::placements`, with no local
    /// candidate: the requester has no specialist of its own). A round that
    /// leaves no one and found liars (statuses that broke the protocol,
    /// failed trials) is followed by another, probing twice as many.
    async fn placements(&self, specialist: &str, exclude: &[PeerId]) -> Vec<PeerId> {
        let exclude: Vec<String> = exclude.iter().map(ToString::to_string).collect();
        let mut ranked = Vec::new();
        for round in 0..rules::PROBE_ROUNDS {
            let probes = rules::probes_in_round(self.probes, round);
            let (placed, faults) = self.probe_round(specialist, &exclude, probes).await;
            ranked = placed;
            if !ranked.is_empty() || faults == 0 {
                break;
            }
        }
        ranked
    }

    /// One lookup and probe round of [`Asker::placements`]: the ranked
    /// peers and how many statuses broke the protocol.
    async fn probe_round(&self, specialist: &str, exclude: &[String], probes: usize) -> (Vec<PeerId>, usize) {
        let record = |peer: &str| self.store.peer_record(peer);
        let (providers, lookups) = self.cache.providers(&self.network, specialist, exclude, record).await;
        if let Ok(mut made) = self.lookups.lock() {
            made.extend(lookups);
        }
        let rtt: BTreeMap<String, u32> = self
            .network
            .peers()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|peer| peer.rtt_ms.map(|ms| (peer.peer_id, ms)))
            .collect();
        let targets = rules::probe_targets(&providers, &rtt, &BTreeMap::new(), record, chorus_core::now_ms(), probes);
        let probes = targets.iter().filter_map(|target| target.parse::<PeerId>().ok()).map(|peer| async move {
            let status = tokio::time::timeout(rules::PROBE_DEADLINE, self.network.status(peer)).await;
            (peer, status.ok().and_then(Result::ok))
        });
        let mut candidates = Vec::new();
        let mut faults = 0;
        for (peer, status) in futures::future::join_all(probes).await {
            let id = peer.to_string();
            let Some(status) = status else { continue };
            let Some(status) = rules::checked_status(&self.store, &id, status) else {
                faults += 1;
                if let Ok(mut faulted) = self.status_faults.lock() {
                    faulted.push(peer);
                }
                continue;
            };
            let peer_standing = self.store.ledger(&id).map(|entry| standing(&entry)).unwrap_or(0);
            let record = self.store.peer_record(&id);
            let rtt_ms = rtt.get(&id).copied();
            candidates.push(rules::peer_candidate(
                specialist,
                &id,
                &status,
                rtt_ms,
                peer_standing,
                &record,
                chorus_core::now_ms(),
            ));
        }
        let mut ranked = rank_executors(&candidates, &self.policy);
        // Liars about: a peer that never answered this requester gets a
        // trial task before a task of its own goes to it (as the directory).
        let trialled = rules::trial_targets(&ranked, &candidates, &providers, exclude, record, chorus_core::now_ms());
        if !trialled.is_empty() {
            let trials = trialled.into_iter().map(|peer| async move {
                let request = chorus_node::task_request(specialist, &spec(), self.deadline);
                (peer, rules::trial(&self.network, peer, request, self.deadline, &self.store).await)
            });
            let outcomes = futures::future::join_all(trials).await;
            faults += outcomes.iter().filter(|(_, outcome)| *outcome == rules::Trial::Failed).count();
            if let Ok(mut trials) = self.trials.lock() {
                trials.extend(outcomes);
            }
            ranked.retain(|placement| rules::vetted(&self.store.peer_record(&placement.executor)));
        }
        if ranked.is_empty() && !targets.is_empty() {
            self.cache.forget(specialist); // none answered or serves it: look again next time
        }
        (ranked.into_iter().filter_map(|placement| placement.executor.parse::<PeerId>().ok()).collect(), faults)
    }

    /// Runs one task as the conductor does: each attempt on the best
    /// candidate not tried yet (or, when every one was, on the best that
    /// did not refuse), at most `attempts` of them, each within `deadline`.
    pub(super) async fn run_task(&self, specialist: &str, attempts: u32, deadline: Duration) -> TaskRun {
        let started = Instant::now();
        let mut run = TaskRun::default();
        let mut tried: Vec<PeerId> = Vec::new();
        let mut refused: Vec<PeerId> = Vec::new();
        for _ in 0..attempts.max(1) {
            let mut ranked = self.placements(specialist, &tried).await;
            if ranked.is_empty() && !tried.is_empty() {
                ranked = self.placements(specialist, &refused).await;
            }
            let Some(&peer) = ranked.first() else { break };
            tried.push(peer);
            let failed_before = self.store.peer_record(&peer.to_string()).failed > 0;
            match self.attempt(peer, specialist, deadline).await {
                Ok(()) => {
                    run.attempts.push(Attempt { peer, answered: true, failed_before });
                    break;
                }
                Err(kind) => {
                    if kind == ExecutorErrorKind::Refused {
                        refused.push(peer);
                    }
                    run.attempts.push(Attempt { peer, answered: false, failed_before });
                }
            }
        }
        run.elapsed = started.elapsed();
        run
    }

    /// One attempt on `peer`, recorded as `RemoteExecutor` records it: a
    /// verified answer with the tokens credited and the time, a failure of
    /// the peer's own (an error that demotes, or the deadline passing).
    async fn attempt(&self, peer: PeerId, specialist: &str, deadline: Duration) -> Result<(), ExecutorErrorKind> {
        let request = chorus_node::task_request(specialist, &spec(), deadline);
        let started = Instant::now();
        let run = async {
            let mut task = match self.network.start_task(peer, request).await {
                Ok(task) => task,
                Err(error) => {
                    if rules::demotes(error.code) {
                        self.record(peer, TaskOutcome::Failed);
                    }
                    return Err(rules::error_kind(error.code));
                }
            };
            let mut frames: u64 = 0;
            while let Some(event) = task.next().await {
                match event {
                    Ok(RemoteEvent::Waiting) => {}
                    Ok(RemoteEvent::Token(_)) => frames += 1,
                    Ok(RemoteEvent::Done { summary, .. }) => {
                        let tokens = rules::credited_tokens(summary.tokens, frames, ASKED_TOKENS);
                        let delta =
                            LedgerEntry { tasks_received: 1, tokens_received: tokens, ..LedgerEntry::default() };
                        let _ = self.store.ledger_add(&peer.to_string(), &delta);
                        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                        self.record(peer, TaskOutcome::Succeeded { tokens, ms });
                        return Ok(());
                    }
                    Err(error) => {
                        if rules::demotes(error.code) {
                            self.record(peer, TaskOutcome::Failed);
                        }
                        return Err(rules::error_kind(error.code));
                    }
                }
            }
            Err(ExecutorErrorKind::Failed) // ended without an answer
        };
        if let Ok(outcome) = tokio::time::timeout(deadline, run).await {
            outcome
        } else {
            // The deadline passed: the peer hung, a failure of its own.
            self.record(peer, TaskOutcome::Failed);
            Err(ExecutorErrorKind::TimedOut)
        }
    }

    fn record(&self, peer: PeerId, outcome: TaskOutcome) {
        if let Err(error) = self.store.record_task(&peer.to_string(), outcome, chorus_core::now_ms()) {
            tracing::warn!(%error, %peer, "cannot record the task's outcome");
        }
    }
}

/// What every task (and trial) of the simulation asks: a few words.
fn spec() -> GenerationSpec {
    GenerationSpec {
        system: "You answer briefly.".to_owned(),
        prompt: "Say a few words.".to_owned(),
        sampling: SpecialistSampling {
            temperature: 0.0,
            top_k: 1,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            max_tokens: ASKED_TOKENS,
        },
        seed: 1,
        json_schema: None,
    }
}
