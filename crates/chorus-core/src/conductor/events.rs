//! What the conductor reports: the events of a query and the end state of
//! each sub-task.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::plan::{PlanSource, SubtaskStatus};

use super::ConductorError;
use super::outbound::SentText;

/// Everything that happens to a query, in order. Serialised with an
/// `event` tag; this is the `chorus ask --json` format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConductorEvent {
    /// How a question asked in a conversation used it (first, before
    /// `analysis`; only for a question that continues a conversation).
    Context {
        /// Whether the question was read as a follow-up of the conversation.
        follow_up: bool,
        /// Earlier turns of the conversation.
        turns: usize,
        /// How many of them the answer is written with (0 or 1).
        carried: usize,
        /// What was decided and why, in words (what was carried, what was
        /// left out).
        reason: String,
        /// The self-contained question a conductor model rewrote the
        /// follow-up into, when it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resolved: Option<String>,
    },
    /// The analysis: simple or composite, and why.
    Analysis {
        /// `simple` or `composite`.
        kind: String,
        /// The rule that decided it, in words.
        reason: String,
        /// The chosen specialists (one for a simple query).
        specialists: Vec<String>,
    },
    /// The plan of a composite query.
    Plan {
        /// `analysis`, `model`, `repaired`, `fallback` or `split`.
        source: PlanSource,
        /// The sub-tasks.
        subtasks: Vec<crate::plan::PlanStep>,
        /// What was repaired, in words.
        repairs: Vec<String>,
        /// Parts of the question no sub-task does, and why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_planned: Vec<crate::plan::UnplannedPart>,
    },
    /// No executor can run a sub-task now: it waits in the durable queue
    /// until one appears (a peer joins) or the queue timeout passes. The
    /// prompt is carried so the journal can keep the sub-task.
    SubtaskQueued {
        /// Index in the plan.
        index: usize,
        /// The specialist it needs.
        specialist: String,
        /// The specialist's system prompt.
        system: String,
        /// The sub-task's prompt.
        prompt: String,
        /// Longest wait, in seconds.
        timeout_s: u64,
    },
    /// The `token` text streamed so far is void: the attempt that wrote it
    /// failed (a simple query's specialist, whose text is the answer). The
    /// answer starts again with the next `token`.
    AnswerReset {
        /// The attempt that failed.
        attempt: u32,
    },
    /// A sub-task started on an executor.
    SubtaskStarted {
        /// Its index in the plan.
        index: usize,
        /// The specialist.
        specialist: String,
        /// The executor.
        executor: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// Whether the part left this device (ran on a peer: `executor`).
        #[serde(default)]
        left_device: bool,
        /// Personal data items replaced by placeholders in what the peer
        /// received (0 when the part stayed on this device).
        #[serde(default)]
        redacted: u32,
        /// Exactly what the peer received (absent when the part stayed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sent: Option<SentText>,
        /// Why the part was kept on this device although a peer offered
        /// its specialist (the owner keeps sensitive parts home), if it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept_on_device: Option<String>,
    },
    /// Text of a sub-task of a composite query.
    SubtaskToken {
        /// Its index.
        index: usize,
        /// The text.
        text: String,
    },
    /// A sub-task finished.
    SubtaskDone {
        /// Its index.
        index: usize,
        /// The specialist.
        specialist: String,
        /// The executor.
        executor: String,
        /// Tokens generated.
        tokens: u32,
        /// Milliseconds of the successful attempt.
        ms: u64,
    },
    /// An attempt of a sub-task failed (or ran past its deadline).
    SubtaskFailed {
        /// Its index.
        index: usize,
        /// The specialist.
        specialist: String,
        /// The executor.
        executor: String,
        /// Why.
        error: String,
        /// The attempt that failed.
        attempt: u32,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// A sub-task will not run because a dependency failed.
    SubtaskSkipped {
        /// Its index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Text of the answer (the synthesis, or a simple query's specialist).
    Token {
        /// The text.
        text: String,
    },
    /// The query failed as a whole (sub-task failures are not this).
    Error {
        /// A stable code: `empty_prompt`, `nothing_reachable`, `cancelled`, `conductor_failed`.
        code: String,
        /// What went wrong, for people.
        message: String,
    },
    /// The answer is complete.
    Done {
        /// The whole answer.
        answer: String,
        /// The end state of every sub-task.
        subtasks: Vec<SubtaskReport>,
        /// Milliseconds from the query to the end of the answer.
        ms: u64,
        /// How much of each done part's result the answer keeps.
        #[serde(default)]
        coverage: Vec<PartCoverage>,
        /// Where the time went: analysis, plan, first part started,
        /// slowest part, synthesis, total.
        #[serde(default)]
        timings: super::Timings,
    },
}

impl ConductorEvent {
    /// The `plan` event of `plan`.
    pub(super) fn plan(plan: &crate::plan::Plan) -> Self {
        Self::Plan {
            source: plan.source,
            subtasks: plan.subtasks.clone(),
            repairs: plan.repairs.clone(),
            not_planned: plan.not_planned.clone(),
        }
    }
}

/// The end state of one sub-task, as `done` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskReport {
    /// Its index.
    pub index: usize,
    /// The specialist.
    pub specialist: String,
    /// The executor of its last attempt (empty if it never started).
    pub executor: String,
    /// Its end state.
    pub status: SubtaskStatus,
    /// Attempts made.
    pub attempts: u32,
    /// Tokens of its result.
    pub tokens: u32,
    /// Milliseconds of its last attempt.
    pub ms: u64,
    /// Its result text (empty unless done).
    pub text: String,
    /// The last error, if any.
    pub error: Option<String>,
}

pub(super) async fn emit(events: &mpsc::Sender<ConductorEvent>, event: ConductorEvent) -> Result<(), ConductorError> {
    events.send(event).await.map_err(|_| ConductorError::Cancelled)
}

/// How much of one part's result the answer keeps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PartCoverage {
    /// The sub-task's index in the plan.
    pub index: usize,
    /// The share (0–1) of the distinct content words of its result that the
    /// answer holds.
    pub coverage: f64,
}
