//! The executor side: peers' tasks admitted within the owner's limits and
//! run on this device's engine.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chorus_core::{
    AdmissionQueue, Admitted, Catalog, Executor, GenerationChunk, HostConditions, LedgerEntry, Refusal, ServeLimits,
    Store, serving_rank,
};
use chorus_net::{
    PROTOCOL_VERSION, PeerId, PeerStatus, Receipt, ServiceEvent, TaskError, TaskErrorCode, TaskRequest, TaskService,
};
use tokio::sync::{mpsc, oneshot};

use super::{ServeSettings, add_ledger, spec_of};

fn refusal_error(refusal: &Refusal) -> TaskError {
    let code = match refusal {
        Refusal::Busy => TaskErrorCode::Busy,
        Refusal::TooManyTokens { .. } => TaskErrorCode::BadRequest,
        _ => TaskErrorCode::NotServing,
    };
    TaskError::new(code, refusal.to_string())
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
    /// The host's conditions as last read, and when: status probes arrive
    /// on the network task, which must not read `/proc` and `/sys` for
    /// each of them.
    host_seen: Mutex<Option<(Instant, HostConditions)>>,
}

/// How long a reading of the host's conditions serves status probes.
const HOST_READING_FOR: Duration = Duration::from_secs(1);

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
            host_seen: Mutex::new(None),
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
        // A requester this device never exchanged work with waits behind
        // every known one ([`serving_rank`]).
        let peer_standing =
            self.store.ledger(&requester.to_string()).map(|entry| serving_rank(&entry)).unwrap_or(i64::MIN);
        let id = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let mut queue =
            self.queue.lock().map_err(|_| TaskError::new(TaskErrorCode::Internal, "admission lock poisoned"))?;
        let state = &mut *queue;
        let admission =
            state.admission.as_mut().ok_or_else(|| TaskError::new(TaskErrorCode::Internal, "no admission queue"))?;
        let decision = admission
            .request_from(id, requester_key(&requester), peer_standing, max_tokens, &host)
            .map_err(|refusal| refusal_error(&refusal))?;
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
    /// The host's conditions, read at most once a second.
    fn host_now(&self) -> HostConditions {
        let Ok(mut seen) = self.host_seen.lock() else { return (self.settings.host)() };
        match *seen {
            Some((at, host)) if at.elapsed() < HOST_READING_FOR => host,
            _ => {
                let host = (self.settings.host)();
                *seen = Some((Instant::now(), host));
                host
            }
        }
    }

    fn live_status(&self) -> PeerStatus {
        let host = self.host_now();
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
            // Within what the protocol allows (`PeerStatus::fault`): slots
            // lowered while tasks ran, a speed measured on a tiny answer.
            free_slots: free.min(limits.max_slots),
            total_slots: limits.max_slots,
            waiting,
            tokens_per_s: self.speed.get().min(chorus_net::MAX_STATUS_TOKENS_PER_S),
            device_class: self.settings.device_class,
            serving,
            max_tokens: limits.max_tokens,
        }
    }
}

/// The service as the network sees it: an `Arc` so admitted tasks can hold it.
#[derive(Debug, Clone)]
pub(crate) struct ServiceHandle(pub(crate) Arc<NodeService>);

/// The key a requester's tickets share in the admission queue (its fair
/// share counts them together).
fn requester_key(peer: &PeerId) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    peer.hash(&mut hasher);
    hasher.finish()
}

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
        // What this peer was given, exactly: the owner's own record of it
        // (off unless RUST_LOG asks for `chorus::served=debug`). Tests read
        // it to check what a requester let leave its device.
        let texts: Vec<&str> = request.messages.iter().map(|message| message.content.as_str()).collect();
        tracing::debug!(target: "chorus::served", %requester, specialist = %request.specialist, ?texts, "task received");
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
                Err(error) => {
                    let error = TaskError::new(TaskErrorCode::Internal, error.message);
                    let _ = events.send(ServiceEvent::Failed(error)).await;
                    return;
                }
            };
            while let Some(chunk) = stream.recv().await {
                let event = match chunk {
                    GenerationChunk::Token(text) => ServiceEvent::Token(text),
                    GenerationChunk::Done { tokens, text } => {
                        tracing::debug!(target: "chorus::served", %requester, ?text, "task answered");
                        service.speed.record(tokens, started.elapsed());
                        ServiceEvent::Done { prompt_tokens: 0, tokens }
                    }
                    GenerationChunk::Failed(error) => {
                        ServiceEvent::Failed(TaskError::new(TaskErrorCode::Internal, error.message))
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

    fn abandoned(&self, requester: PeerId, tokens: u32) {
        // No receipt went out, but the tokens did: the requester is charged.
        add_ledger(
            &self.0.store,
            &requester.to_string(),
            &LedgerEntry { tasks_given: 1, tokens_given: u64::from(tokens), ..LedgerEntry::default() },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use chorus_core::{ExecutorError, GenerationSpec, GenerationStream};

    use super::*;

    /// Serves every specialist and never runs: only the status is asked.
    struct Idle;

    impl Executor for Idle {
        fn id(&self) -> String {
            "local".to_owned()
        }
        fn serves(&self, _specialist_id: &str) -> bool {
            true
        }
        fn leaves_device(&self) -> bool {
            false
        }
        fn run(&self, _specialist_id: &str, _spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
            Err(ExecutorError::failed("not in this test"))
        }
    }

    #[test]
    fn a_flood_of_status_probes_reads_the_host_once_a_second() {
        let reads = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&reads);
        let settings = ServeSettings {
            host: Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                HostConditions { idle: true, charging: None }
            }),
            ..ServeSettings::default()
        };
        let catalog = Catalog::bundled().expect("catalog");
        let service = NodeService::new(Arc::new(Idle), &catalog, settings, Store::temporary().expect("store"));
        for _ in 0..1_000 {
            assert!(service.live_status().serving);
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one reading serves the probes of a second");
    }
}
