//! What a simulated node serves: nothing (most nodes), a small fast
//! word-echo service (an honest provider), or lies (a hostile node: every
//! specialist, a million tokens a second and 64 free slots — or, plausible,
//! what an honest provider states — and every task ends in an error or
//! hangs).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chorus_net::{
    PROTOCOL_VERSION, PeerId, PeerStatus, ServiceEvent, TaskError, TaskErrorCode, TaskRequest, TaskService,
};
use tokio::sync::mpsc;

/// What a node does with status probes and tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Role {
    /// Serves nothing: a requester, or a node that provides nothing.
    Idle,
    /// Answers tasks of its specialists with a few words, and says so.
    Honest {
        /// Specialists it provides.
        specialists: Vec<String>,
    },
    /// Provides every specialist, lies in its status, never answers.
    Hostile {
        /// Every specialist of the simulation.
        specialists: Vec<String>,
        /// States an honest provider's speed and slots rather than
        /// [`HOSTILE_TOKENS_PER_S`] and [`HOSTILE_SLOTS`].
        plausible: bool,
    },
}

/// How an honest provider answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answering {
    /// Tasks it runs at once.
    pub(super) slots: u32,
    /// Tokens of each answer (at most what the request asks for).
    pub(super) tokens: u32,
    /// Pause before each token.
    pub(super) interval: Duration,
}

/// A simulated node's task service; its role is set once the simulation
/// has drawn who provides what (until then it serves nothing).
pub(super) struct SimService {
    role: OnceLock<Role>,
    answering: Answering,
    running: Arc<AtomicU32>,
    /// Tasks a hostile node was given: even ones fail, odd ones hang.
    started: AtomicU64,
}

impl SimService {
    pub(super) fn new(answering: Answering) -> Self {
        Self { role: OnceLock::new(), answering, running: Arc::default(), started: AtomicU64::new(0) }
    }

    pub(super) fn set_role(&self, role: Role) {
        let _ = self.role.set(role);
    }

    fn role(&self) -> &Role {
        self.role.get().unwrap_or(&Role::Idle)
    }

    /// The speed an honest provider has and says: one token per interval.
    #[allow(clippy::cast_possible_truncation)] // a rate
    fn honest_speed(&self) -> f32 {
        (1.0 / self.answering.interval.as_secs_f64().max(0.000_1)) as f32
    }
}

/// Hostile answers: what the status claims.
pub(super) const HOSTILE_TOKENS_PER_S: f32 = 1.0e6;
/// Hostile answers: the free slots the status claims.
pub(super) const HOSTILE_SLOTS: u32 = 64;

impl TaskService for SimService {
    fn status(&self) -> PeerStatus {
        match self.role() {
            Role::Idle => PeerStatus { version: PROTOCOL_VERSION, ..PeerStatus::default() },
            Role::Honest { specialists } => {
                let slots = self.answering.slots;
                PeerStatus {
                    version: PROTOCOL_VERSION,
                    specialists: specialists.clone(),
                    free_slots: slots.saturating_sub(self.running.load(Ordering::SeqCst)),
                    total_slots: slots,
                    tokens_per_s: self.honest_speed(),
                    serving: true,
                    max_tokens: 256,
                    ..PeerStatus::default()
                }
            }
            Role::Hostile { specialists, plausible } => {
                let (slots, speed) = if *plausible {
                    (self.answering.slots, self.honest_speed())
                } else {
                    (HOSTILE_SLOTS, HOSTILE_TOKENS_PER_S)
                };
                PeerStatus {
                    version: PROTOCOL_VERSION,
                    specialists: specialists.clone(),
                    free_slots: slots,
                    total_slots: slots,
                    tokens_per_s: speed,
                    serving: true,
                    max_tokens: 4096,
                    ..PeerStatus::default()
                }
            }
        }
    }

    fn start(&self, _requester: PeerId, request: TaskRequest) -> Result<mpsc::Receiver<ServiceEvent>, TaskError> {
        match self.role() {
            Role::Idle => Err(TaskError::new(TaskErrorCode::NotServing, "this node serves nothing")),
            Role::Hostile { .. } => {
                if self.started.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                    return Err(TaskError::new(TaskErrorCode::Internal, "it failed, it says"));
                }
                // Hangs: admitted, then silent until the requester goes away
                // (or the server's deadline for the request passes).
                let (events, receiver) = mpsc::channel(1);
                tokio::spawn(async move {
                    let _ = events.send(ServiceEvent::Waiting).await;
                    events.closed().await;
                });
                Ok(receiver)
            }
            Role::Honest { specialists } => {
                if !specialists.contains(&request.specialist) {
                    return Err(TaskError::new(TaskErrorCode::UnknownSpecialist, request.specialist));
                }
                if self.running.fetch_add(1, Ordering::SeqCst) >= self.answering.slots {
                    self.running.fetch_sub(1, Ordering::SeqCst);
                    return Err(TaskError::new(TaskErrorCode::Busy, "all slots taken"));
                }
                Ok(self.answer(request.sampling.max_tokens))
            }
        }
    }
}

impl SimService {
    /// Streams `tokens` words, one per interval; the slot is freed when it
    /// ends or the requester goes away.
    fn answer(&self, max_tokens: u32) -> mpsc::Receiver<ServiceEvent> {
        let (events, receiver) = mpsc::channel(4);
        let tokens = self.answering.tokens.min(max_tokens);
        let interval = self.answering.interval;
        let running = Arc::clone(&self.running);
        tokio::spawn(async move {
            for index in 0..tokens {
                tokio::time::sleep(interval).await;
                if events.send(ServiceEvent::Token(format!("w{index} "))).await.is_err() {
                    running.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            }
            let _ = events.send(ServiceEvent::Done { prompt_tokens: 8, tokens }).await;
            running.fetch_sub(1, Ordering::SeqCst);
        });
        receiver
    }
}
