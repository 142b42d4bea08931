//! What the journal keeps of each conductor event: the mapping from
//! [`ConductorEvent`]s to the store's records, so that whoever runs the
//! conductor only hands the events over.

use crate::{ConductorEvent, SubtaskStatus};

use super::queries::{QueryId, SubtaskRecord};
use super::queue::QueuedSubtask;
use super::{Store, StoreError, now_ms};

impl Store {
    /// Records a conductor event of query `id`: everything but token events
    /// goes to the event log; the plan and sub-task results also go to their
    /// own fields, a queued sub-task to the queue (and out of it when it
    /// starts). `answer` is the answer text so far: token events append to
    /// it and an answer reset clears it, so that a failed or cancelled query
    /// keeps its partial answer.
    ///
    /// # Errors
    /// The first [`StoreError`] of the writes; the event is then not in the
    /// log.
    pub fn record_event(&self, id: QueryId, event: &ConductorEvent, answer: &mut String) -> Result<(), StoreError> {
        match event {
            ConductorEvent::Token { text } => {
                answer.push_str(text);
                return Ok(());
            }
            ConductorEvent::SubtaskToken { .. } => return Ok(()),
            ConductorEvent::AnswerReset { .. } => answer.clear(),
            ConductorEvent::SubtaskQueued { index, specialist, system, prompt, .. } => {
                self.queue_push(&QueuedSubtask {
                    query: id,
                    index: *index,
                    specialist: specialist.clone(),
                    system: system.clone(),
                    prompt: prompt.clone(),
                    queued_at_ms: now_ms(),
                })?;
            }
            ConductorEvent::SubtaskStarted { index, .. } => {
                self.queue_remove(id, *index)?;
            }
            ConductorEvent::Plan { .. } => {
                self.set_plan(id, &serde_json::to_value(event).unwrap_or_default())?;
            }
            ConductorEvent::Done { subtasks, .. } => {
                for report in subtasks {
                    self.record_subtask(
                        id,
                        &SubtaskRecord {
                            index: u32::try_from(report.index).unwrap_or(u32::MAX),
                            specialist: report.specialist.clone(),
                            executor: report.executor.clone(),
                            status: status_name(report.status),
                            attempts: report.attempts,
                            tokens: u64::from(report.tokens),
                            elapsed_ms: report.ms,
                            text: report.text.clone(),
                            error: report.error.clone(),
                        },
                    )?;
                }
            }
            _ => {}
        }
        self.append_event(id, &serde_json::to_value(event).unwrap_or_default())?;
        Ok(())
    }
}

/// The conductor's name for a sub-task status (`done`, `timed_out`, …), as
/// it serialises it.
fn status_name(status: SubtaskStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}
