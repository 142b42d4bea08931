//! Queries through the conductor, journaled.

use chorus_core::{
    ConductorError, ConductorEvent, QueryId, QueryOutcome, QueuedSubtask, Store, SubtaskRecord, SubtaskStatus,
};
use tokio::sync::mpsc;

use crate::node::{Node, NodeError};

/// A query on its way: its journal id and its events, ending with `done`
/// or `error`. Dropping `events` cancels the query.
#[derive(Debug)]
pub struct Conversation {
    /// The journal id (`chorus history show <id>`).
    pub query_id: QueryId,
    /// The events.
    pub events: mpsc::Receiver<ConductorEvent>,
}

/// Privacy mode names as the journal stores them.
pub(crate) const ON_DEVICE: &str = "on_device";
/// Journal mode of a query whose sub-tasks may run on peers.
pub(crate) const NETWORK: &str = "network";

/// Events buffered between the conductor and the consumer.
const EVENT_BUFFER: usize = 512;

fn status_name(status: SubtaskStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn error_code(error: &ConductorError) -> &'static str {
    match error {
        ConductorError::EmptyQuery => "empty_prompt",
        ConductorError::NothingReachable => "nothing_reachable",
        ConductorError::Cancelled => "cancelled",
        _ => "conductor_failed",
    }
}

impl Node {
    /// Sends a query through the conductor (analyse, plan, dispatch,
    /// synthesise). Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`NodeError::Store`] if the journal cannot record the query.
    pub fn conduct(&self, query: &str) -> Result<Conversation, NodeError> {
        self.conduct_with(query, false)
    }

    /// Like [`Node::conduct`]; with `on_device_only`, no sub-task leaves this
    /// device even when the network is joined (the per-query privacy
    /// override).
    ///
    /// # Errors
    /// As [`Node::conduct`].
    pub fn conduct_with(&self, query: &str, on_device_only: bool) -> Result<Conversation, NodeError> {
        let store = self.store().clone();
        let networked = self.network().is_some() && !on_device_only;
        let query_id = store.begin_query(query, if networked { NETWORK } else { ON_DEVICE })?;
        let conductor = if networked { self.conductor().clone() } else { self.on_device_conductor().clone() };
        let (inner_tx, mut inner_rx) = mpsc::channel::<ConductorEvent>(EVENT_BUFFER);
        let (outer_tx, outer_rx) = mpsc::channel::<ConductorEvent>(EVENT_BUFFER);
        let text = query.to_owned();
        tokio::spawn(async move {
            let run = tokio::spawn(async move { conductor.ask(&text, &inner_tx).await });
            let mut answer_so_far = String::new();
            while let Some(event) = inner_rx.recv().await {
                journal(&store, query_id, &event, &mut answer_so_far);
                if outer_tx.send(event).await.is_err() {
                    break; // the consumer went away: cancel
                }
            }
            drop(inner_rx);
            let outcome = match run.await {
                Ok(Ok(ConductorEvent::Done { answer, .. })) => QueryOutcome::Done { answer },
                Ok(Ok(_)) => QueryOutcome::Done { answer: answer_so_far },
                Ok(Err(ConductorError::Cancelled)) => QueryOutcome::Cancelled { partial_answer: Some(answer_so_far) },
                Ok(Err(error)) => {
                    let event =
                        ConductorEvent::Error { code: error_code(&error).to_owned(), message: error.to_string() };
                    journal(&store, query_id, &event, &mut answer_so_far);
                    let _ = outer_tx.send(event).await;
                    QueryOutcome::Failed { error: error.to_string(), partial_answer: Some(answer_so_far) }
                }
                Err(join) => QueryOutcome::Failed {
                    error: format!("the conductor task ended abnormally: {join}"),
                    partial_answer: Some(answer_so_far),
                },
            };
            // Whatever still waited in the queue is settled now: its failure
            // is part of the answer and of the journal.
            for queued in store.queue_for(query_id).unwrap_or_default() {
                let _ = store.queue_remove(query_id, queued.index);
            }
            if let Err(error) = store.finish_query(query_id, outcome) {
                tracing::warn!(%error, %query_id, "could not finish the query in the journal");
            }
        });
        Ok(Conversation { query_id, events: outer_rx })
    }
}

/// Records an event: everything but token events goes to the event log; the
/// plan and sub-task results also go to their own fields.
fn journal(store: &Store, id: QueryId, event: &ConductorEvent, answer: &mut String) {
    let result = (|| -> Result<(), chorus_core::StoreError> {
        match event {
            ConductorEvent::Token { text } => {
                answer.push_str(text);
                return Ok(());
            }
            ConductorEvent::SubtaskToken { .. } => return Ok(()),
            ConductorEvent::AnswerReset { .. } => answer.clear(),
            ConductorEvent::SubtaskQueued { index, specialist, system, prompt, .. } => {
                store.queue_push(&QueuedSubtask {
                    query: id,
                    index: *index,
                    specialist: specialist.clone(),
                    system: system.clone(),
                    prompt: prompt.clone(),
                    queued_at_ms: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
                })?;
            }
            ConductorEvent::SubtaskStarted { index, .. } => {
                store.queue_remove(id, *index)?;
            }
            ConductorEvent::Plan { .. } => {
                store.set_plan(id, &serde_json::to_value(event).unwrap_or_default())?;
            }
            ConductorEvent::Done { subtasks, .. } => {
                for report in subtasks {
                    store.record_subtask(
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
        store.append_event(id, &serde_json::to_value(event).unwrap_or_default())?;
        Ok(())
    })();
    if let Err(error) = result {
        tracing::warn!(%error, %id, "could not journal an event");
    }
}
