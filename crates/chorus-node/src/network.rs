//! This device on the network: serving specialists to peers within the
//! owner's limits ([`NodeService`]), running sub-tasks on peers
//! ([`RemoteExecutor`]) and choosing where each sub-task runs
//! ([`NetworkDirectory`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::{
    AdmissionQueue, Admitted, Candidate, Catalog, Executor, ExecutorDirectory, GenerationChunk, GenerationSpec,
    GenerationStream, HostConditions, LedgerEntry, PlacementPolicy, Refusal, ServeLimits, SpecialistSampling, Store,
    pick_probe_targets, rank_executors, standing,
};
use chorus_net::{
    ChatMessage, DeviceClass, Multiaddr, NetConfig, Network, PROTOCOL_VERSION, PeerId, PeerStatus, Receipt,
    RemoteEvent, Sampling, ServiceEvent, TaskError, TaskErrorCode, TaskRequest, TaskService,
};
use futures::future::{BoxFuture, join_all};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::host::HostProbe;

/// How the node joins the network. Absent from [`crate::NodeConfig`] means
/// on-device only: the network stack is not started at all.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to join through (`…/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Relays to listen through when behind NAT.
    pub relays: Vec<Multiaddr>,
    /// mDNS discovery on the local network.
    pub mdns: bool,
    /// Act as a relay for others.
    pub relay_server: bool,
    /// Serve others (`None`: only ask).
    pub serve: Option<ServeSettings>,
    /// Overrides of the libp2p settings (timeouts, limits), applied last.
    pub tune: Option<fn(&mut NetConfig)>,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0".parse().unwrap_or_else(|_| Multiaddr::empty()),
                "/ip4/0.0.0.0/udp/0/quic-v1".parse().unwrap_or_else(|_| Multiaddr::empty()),
            ],
            bootstrap: Vec::new(),
            relays: Vec::new(),
            mdns: true,
            relay_server: false,
            serve: None,
            tune: None,
        }
    }
}

/// What this device serves to others, and within which limits.
#[derive(Clone)]
pub struct ServeSettings {
    /// Specialists offered (`None`: every one this device can run).
    pub specialists: Option<BTreeSet<String>>,
    /// The owner's limits.
    pub limits: ServeLimits,
    /// What kind of device this is.
    pub device_class: DeviceClass,
    /// Reports whether the device is idle and charging (the app plugs the
    /// platform in; the default says idle, no battery).
    pub host: HostProbe,
}

impl std::fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeSettings")
            .field("specialists", &self.specialists)
            .field("limits", &self.limits)
            .field("device_class", &self.device_class)
            .finish_non_exhaustive()
    }
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            specialists: None,
            limits: ServeLimits::default(),
            device_class: DeviceClass::Desktop,
            host: Arc::new(|| HostConditions { idle: true, charging: None }),
        }
    }
}

/// Converts the conductor's spec into a task request.
pub(crate) fn task_request(specialist: &str, spec: &GenerationSpec, deadline: Duration) -> TaskRequest {
    let mut messages = Vec::with_capacity(2);
    if !spec.system.trim().is_empty() {
        messages.push(ChatMessage { role: "system".to_owned(), content: spec.system.clone() });
    }
    messages.push(ChatMessage { role: "user".to_owned(), content: spec.prompt.clone() });
    TaskRequest {
        version: PROTOCOL_VERSION,
        specialist: specialist.to_owned(),
        messages,
        sampling: Sampling {
            temperature: spec.sampling.temperature,
            top_k: spec.sampling.top_k,
            top_p: spec.sampling.top_p,
            min_p: spec.sampling.min_p,
            repeat_penalty: spec.sampling.repeat_penalty,
            max_tokens: spec.sampling.max_tokens,
            seed: spec.seed,
        },
        deadline_ms: u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX),
    }
}

fn spec_of(request: &TaskRequest) -> GenerationSpec {
    GenerationSpec {
        system: request.system().to_owned(),
        prompt: request.user(),
        sampling: SpecialistSampling {
            temperature: request.sampling.temperature,
            top_k: request.sampling.top_k,
            top_p: request.sampling.top_p,
            min_p: request.sampling.min_p,
            repeat_penalty: request.sampling.repeat_penalty,
            max_tokens: request.sampling.max_tokens,
        },
        seed: request.sampling.seed,
        json_schema: None,
    }
}

fn refusal_error(refusal: &Refusal) -> TaskError {
    let code = match refusal {
        Refusal::Busy => TaskErrorCode::Busy,
        Refusal::TooManyTokens { .. } => TaskErrorCode::BadRequest,
        _ => TaskErrorCode::NotServing,
    };
    TaskError::new(code, refusal.to_string())
}

fn add_ledger(store: &Store, peer: &str, delta: &LedgerEntry) {
    if let Err(error) = store.ledger_add(peer, delta) {
        tracing::warn!(%error, %peer, "could not update the ledger");
    }
}

/// Exponentially weighted generation speed, for status replies.
#[derive(Debug, Default)]
struct Speed(Mutex<f32>);

impl Speed {
    fn record(&self, tokens: u32, elapsed: Duration) {
        if tokens < 4 || elapsed.is_zero() {
            return;
        }
        #[allow(clippy::cast_precision_loss)]
        let sample = tokens as f32 / elapsed.as_secs_f32();
        if let Ok(mut speed) = self.0.lock() {
            *speed = if *speed == 0.0 { sample } else { *speed * 0.7 + sample * 0.3 };
        }
    }

    fn get(&self) -> f32 {
        self.0.lock().map_or(0.0, |speed| *speed)
    }
}

/// The executor side: admits peers' tasks within the owner's limits and
/// runs them on this device's engine.
pub struct NodeService {
    local: Arc<dyn Executor>,
    served: BTreeSet<String>,
    settings: ServeSettings,
    store: Store,
    queue: Mutex<QueueState>,
    next_ticket: AtomicU64,
    speed: Speed,
}

#[derive(Default)]
struct QueueState {
    admission: Option<AdmissionQueue>,
    /// Waiting tickets: told to start (`Ok`) or refused.
    waiters: HashMap<u64, oneshot::Sender<Result<(), TaskError>>>,
}

impl std::fmt::Debug for NodeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeService").field("served", &self.served).finish_non_exhaustive()
    }
}

/// Tells a waiting task to start, or why it never will.
type StartSignal = oneshot::Receiver<Result<(), TaskError>>;

/// Frees a ticket's slot however the task ends, and starts the next waiters.
struct Ticket {
    service: Arc<NodeService>,
    id: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.service.release(self.id);
    }
}

impl NodeService {
    pub(crate) fn new(local: Arc<dyn Executor>, catalog: &Catalog, settings: ServeSettings, store: Store) -> Arc<Self> {
        let served = catalog
            .specialists()
            .iter()
            .filter(|specialist| local.serves(&specialist.id))
            .filter(|specialist| settings.specialists.as_ref().is_none_or(|wanted| wanted.contains(&specialist.id)))
            .map(|specialist| specialist.id.clone())
            .collect();
        let queue =
            QueueState { admission: Some(AdmissionQueue::new(settings.limits.clone())), waiters: HashMap::new() };
        Arc::new(Self {
            local,
            served,
            settings,
            store,
            queue: Mutex::new(queue),
            next_ticket: AtomicU64::new(1),
            speed: Speed::default(),
        })
    }

    /// The specialists this device offers.
    #[must_use]
    pub fn served(&self) -> &BTreeSet<String> {
        &self.served
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> ServeLimits {
        self.queue
            .lock()
            .ok()
            .and_then(|queue| queue.admission.as_ref().map(|admission| admission.limits().clone()))
            .unwrap_or_else(|| self.settings.limits.clone())
    }

    /// Applies the owner's new limits now: waiting tickets that may start
    /// are told to, those that lost their place are refused.
    pub fn set_limits(&self, limits: ServeLimits) {
        let Ok(mut queue) = self.queue.lock() else { return };
        let state = &mut *queue;
        let Some(admission) = state.admission.as_mut() else { return };
        let change = admission.set_limits(limits);
        for ticket in change.start {
            if let Some(waiter) = state.waiters.remove(&ticket) {
                let _ = waiter.send(Ok(()));
            }
        }
        for (ticket, refusal) in change.refused {
            if let Some(waiter) = state.waiters.remove(&ticket) {
                let _ = waiter.send(Err(refusal_error(&refusal)));
            }
        }
    }

    fn release(&self, ticket: u64) {
        let Ok(mut queue) = self.queue.lock() else { return };
        let state = &mut *queue;
        let Some(admission) = state.admission.as_mut() else { return };
        if admission.cancel(ticket) {
            state.waiters.remove(&ticket);
            return;
        }
        for next in admission.finish(ticket) {
            if let Some(waiter) = state.waiters.remove(&next) {
                let _ = waiter.send(Ok(()));
            }
        }
    }

    fn admit(self: &Arc<Self>, requester: PeerId, max_tokens: u32) -> Result<(Ticket, Option<StartSignal>), TaskError> {
        let host = (self.settings.host)();
        let peer_standing = self.store.ledger(&requester.to_string()).map(|entry| standing(&entry)).unwrap_or(0);
        let id = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let mut queue =
            self.queue.lock().map_err(|_| TaskError::new(TaskErrorCode::Internal, "admission lock poisoned"))?;
        let state = &mut *queue;
        let admission =
            state.admission.as_mut().ok_or_else(|| TaskError::new(TaskErrorCode::Internal, "no admission queue"))?;
        let decision =
            admission.request(id, peer_standing, max_tokens, &host).map_err(|refusal| refusal_error(&refusal))?;
        if let Some(evicted) = decision.evicted
            && let Some(waiter) = state.waiters.remove(&evicted)
        {
            let _ =
                waiter.send(Err(TaskError::new(TaskErrorCode::Busy, "a requester in better standing took the place")));
        }
        let ticket = Ticket { service: Arc::clone(self), id };
        match decision.admitted {
            Admitted::RunNow => Ok((ticket, None)),
            Admitted::Wait => {
                let (start, started) = oneshot::channel();
                state.waiters.insert(id, start);
                Ok((ticket, Some(started)))
            }
        }
    }

    /// Live status for probes.
    fn live_status(&self) -> PeerStatus {
        let host = (self.settings.host)();
        let limits = &self.limits();
        let serving = limits.serve
            && (!limits.only_when_idle || host.idle)
            && (!limits.only_when_charging || host.charging != Some(false));
        let (free, waiting) = self
            .queue
            .lock()
            .ok()
            .and_then(|queue| {
                queue.admission.as_ref().map(|admission| {
                    (admission.free_slots(), u32::try_from(admission.waiting().len()).unwrap_or(u32::MAX))
                })
            })
            .unwrap_or((0, 0));
        PeerStatus {
            version: PROTOCOL_VERSION,
            specialists: self.served.iter().cloned().collect(),
            free_slots: free,
            total_slots: limits.max_slots,
            waiting,
            tokens_per_s: self.speed.get(),
            device_class: self.settings.device_class,
            serving,
            max_tokens: limits.max_tokens,
        }
    }
}

/// The service as the network sees it: an `Arc` so admitted tasks can hold it.
#[derive(Debug, Clone)]
pub(crate) struct ServiceHandle(pub(crate) Arc<NodeService>);

impl TaskService for ServiceHandle {
    fn status(&self) -> PeerStatus {
        self.0.live_status()
    }

    fn start(&self, requester: PeerId, request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError> {
        let service = &self.0;
        if !service.served.contains(&request.specialist) {
            return Err(TaskError::new(
                TaskErrorCode::UnknownSpecialist,
                format!("this peer does not serve {}", request.specialist),
            ));
        }
        let (ticket, wait) = service.admit(requester, request.sampling.max_tokens)?;
        let (events, receiver) = mpsc::channel(64);
        let local = Arc::clone(&service.local);
        let service = Arc::clone(service);
        tokio::spawn(async move {
            let _ticket = ticket;
            if let Some(started) = wait {
                if events.send(ServiceEvent::Waiting).await.is_err() {
                    return;
                }
                let outcome = tokio::select! {
                    outcome = started => outcome,
                    () = events.closed() => return,
                };
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        let _ = events.send(ServiceEvent::Failed(error)).await;
                        return;
                    }
                    Err(_) => {
                        let error = TaskError::new(TaskErrorCode::NotServing, "serving stopped");
                        let _ = events.send(ServiceEvent::Failed(error)).await;
                        return;
                    }
                }
            }
            let started = Instant::now();
            let mut stream = match local.run(&request.specialist, spec_of(&request)) {
                Ok(stream) => stream,
                Err(message) => {
                    let _ = events.send(ServiceEvent::Failed(TaskError::new(TaskErrorCode::Internal, message))).await;
                    return;
                }
            };
            while let Some(chunk) = stream.recv().await {
                let event = match chunk {
                    GenerationChunk::Token(text) => ServiceEvent::Token(text),
                    GenerationChunk::Done { tokens, .. } => {
                        service.speed.record(tokens, started.elapsed());
                        ServiceEvent::Done { prompt_tokens: 0, tokens }
                    }
                    GenerationChunk::Failed(message) => {
                        ServiceEvent::Failed(TaskError::new(TaskErrorCode::Internal, message))
                    }
                };
                let last = !matches!(event, ServiceEvent::Token(_));
                if events.send(event).await.is_err() || last {
                    return; // dropping `stream` cancels the generation
                }
            }
        });
        Ok(receiver)
    }

    fn completed(&self, requester: PeerId, receipt: &Receipt) {
        add_ledger(
            &self.0.store,
            &requester.to_string(),
            &LedgerEntry { tasks_given: 1, tokens_given: u64::from(receipt.tokens), ..LedgerEntry::default() },
        );
    }
}

/// A peer as an executor of specialists.
pub(crate) struct RemoteExecutor {
    network: Network,
    peer: PeerId,
    store: Store,
    deadline: Duration,
}

impl Executor for RemoteExecutor {
    fn id(&self) -> String {
        self.peer.to_string()
    }

    fn serves(&self, _specialist_id: &str) -> bool {
        true // the directory only hands out peers that said they do
    }

    fn run(&self, specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, String> {
        let request = task_request(specialist_id, &spec, self.deadline);
        let (chunks, stream) =
            mpsc::channel(usize::try_from(spec.sampling.max_tokens).unwrap_or(512).saturating_add(4));
        let network = self.network.clone();
        let peer = self.peer;
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut task = match network.start_task(peer, request).await {
                Ok(task) => task,
                Err(error) => {
                    let _ = chunks.send(GenerationChunk::Failed(format!("peer {peer}: {error}"))).await;
                    return;
                }
            };
            while let Some(event) = task.next().await {
                let chunk = match event {
                    Ok(RemoteEvent::Waiting) => continue,
                    Ok(RemoteEvent::Token(text)) => GenerationChunk::Token(text),
                    Ok(RemoteEvent::Done { summary, text, .. }) => {
                        // The receipt was verified against the peer's key,
                        // the request sent and the text received.
                        add_ledger(
                            &store,
                            &peer.to_string(),
                            &LedgerEntry {
                                tasks_received: 1,
                                tokens_received: u64::from(summary.tokens),
                                ..LedgerEntry::default()
                            },
                        );
                        GenerationChunk::Done { text, tokens: summary.tokens }
                    }
                    Err(error) => GenerationChunk::Failed(format!("peer {peer}: {error}")),
                };
                if chunks.send(chunk).await.is_err() {
                    return; // the conductor gave up: dropping `task` cancels it on the peer
                }
            }
        });
        Ok(stream)
    }
}

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
    pub(crate) network: Network,
    pub(crate) store: Store,
    pub(crate) deadline: Duration,
    pub(crate) policy: PlacementPolicy,
    providers: Mutex<HashMap<String, (Instant, Vec<PeerId>)>>,
}

impl NetworkDirectory {
    pub(crate) fn new(local: Arc<dyn Executor>, network: Network, store: Store, deadline: Duration) -> Self {
        Self {
            local,
            network,
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

    fn remote(&self, peer: PeerId) -> Arc<dyn Executor> {
        Arc::new(RemoteExecutor {
            network: self.network.clone(),
            peer,
            store: self.store.clone(),
            deadline: self.deadline,
        })
    }

    /// The candidates for a specialist with their live status, ranked.
    pub(crate) async fn placements(
        &self,
        specialist_id: &str,
        exclude: &[String],
    ) -> Vec<(chorus_core::Placement, Option<PeerId>)> {
        let mut candidates = Vec::new();
        if self.local.serves(specialist_id) && !exclude.iter().any(|id| id == "local") {
            candidates.push(Candidate {
                executor: "local".to_owned(),
                local: true,
                has_specialist: true,
                serving: true,
                free_slots: 1,
                total_slots: 1,
                rtt_ms: Some(0),
                tokens_per_s: None,
                standing: 0,
            });
        }
        let providers: Vec<String> = self
            .providers(specialist_id)
            .await
            .into_iter()
            .map(|peer| peer.to_string())
            .filter(|peer| !exclude.contains(peer))
            .collect();
        let peers = self.network.peers().await.unwrap_or_default();
        let rtt: BTreeMap<String, u32> =
            peers.iter().filter_map(|peer| peer.rtt_ms.map(|rtt| (peer.peer_id.clone(), rtt))).collect();
        let targets = pick_probe_targets(&providers, &rtt, PROBES);
        let probes = targets
            .iter()
            .filter_map(|target| target.parse::<PeerId>().ok())
            .map(|peer| async move { (peer, tokio::time::timeout(PROBE_DEADLINE, self.network.status(peer)).await) });
        let mut answered = 0;
        for (peer, outcome) in join_all(probes).await {
            let Ok(Ok(status)) = outcome else {
                tracing::debug!(%peer, "no status answer");
                continue;
            };
            answered += 1;
            let id = peer.to_string();
            let peer_standing = self.store.ledger(&id).map(|entry| standing(&entry)).unwrap_or(0);
            candidates.push(Candidate {
                has_specialist: status.specialists.iter().any(|served| served == specialist_id),
                serving: status.serving,
                free_slots: status.free_slots,
                total_slots: status.total_slots,
                rtt_ms: rtt.get(&id).copied(),
                tokens_per_s: (status.tokens_per_s > 0.0).then_some(status.tokens_per_s),
                standing: peer_standing,
                executor: id,
                local: false,
            });
        }
        if answered == 0 && !targets.is_empty() {
            self.forget(specialist_id); // stale providers: look again next time
        }
        rank_executors(&candidates, &self.policy)
            .into_iter()
            .map(|placement| {
                let peer = if placement.local { None } else { placement.executor.parse().ok() };
                (placement, peer)
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
                    Some(peer) => self.remote(peer),
                    None => {
                        tracing::debug!(reason = %placement.reason, "local placement");
                        Arc::clone(&self.local)
                    }
                })
                .collect()
        })
    }
}

/// A peer as `chorus peers` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    /// Its id.
    pub peer_id: String,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Connected now.
    pub connected: bool,
    /// Round-trip time, milliseconds.
    pub rtt_ms: Option<u32>,
    /// Its live status, when it answered.
    pub status: Option<PeerStatus>,
    /// Its standing in this device's ledger (tokens it gave minus received).
    pub standing: i64,
    /// Work exchanged with it.
    pub ledger: LedgerEntry,
}
