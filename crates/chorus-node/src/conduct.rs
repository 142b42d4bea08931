//! Queries through the conductor, journaled.

use chorus_core::{
    ConductorError, ConductorEvent, QueryId, QueryOutcome, QueryRecord, QueryStatus, Store, StoreError, Turn,
};
use tokio::sync::mpsc;

use crate::code::ErrorCode;
use crate::node::{Node, NodeError};

/// A query on its way: its journal id and its events, ending with `done`
/// or `error`. Dropping `events` cancels the query.
#[derive(Debug)]
pub struct RunningQuery {
    /// The journal id (`chorus history show <id>`).
    pub query_id: QueryId,
    /// The conversation it belongs to (its own id when it begins one).
    pub conversation: QueryId,
    /// The events.
    pub events: mpsc::Receiver<ConductorEvent>,
}

/// What a question continues.
#[derive(Debug, Clone, Default)]
pub enum Continues {
    /// Nothing: it begins a conversation.
    #[default]
    Nothing,
    /// The journal's conversation that this query belongs to (any of its
    /// queries' ids); the new query joins it.
    Conversation(QueryId),
    /// Turns the caller keeps (an API client sends its history with each
    /// request); the new query begins a conversation of its own in the
    /// journal.
    Turns(Vec<Turn>),
}

/// Privacy mode names as the journal stores them.
pub(crate) const ON_DEVICE: &str = "on_device";
/// Journal mode of a query whose sub-tasks may run on peers.
pub(crate) const NETWORK: &str = "network";

/// Events buffered between the conductor and the consumer.
const EVENT_BUFFER: usize = 512;

pub(crate) fn error_code(error: &ConductorError) -> ErrorCode {
    match error {
        ConductorError::EmptyQuery => ErrorCode::EmptyPrompt,
        ConductorError::NothingReachable => ErrorCode::NothingReachable,
        ConductorError::Cancelled => ErrorCode::Cancelled,
        _ => ErrorCode::ConductorFailed,
    }
}

impl Node {
    /// Sends a query through the conductor (analyse, plan, dispatch,
    /// synthesise). Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`NodeError::Store`] if the journal cannot record the query.
    pub fn conduct(&self, query: &str) -> Result<RunningQuery, NodeError> {
        self.conduct_with(query, false)
    }

    /// Like [`Node::conduct`]; with `on_device_only`, no sub-task leaves this
    /// device even when the network is joined (the per-query privacy
    /// override).
    ///
    /// # Errors
    /// As [`Node::conduct`].
    pub fn conduct_with(&self, query: &str, on_device_only: bool) -> Result<RunningQuery, NodeError> {
        self.conduct_in(query, Continues::Nothing, on_device_only)
    }

    /// Like [`Node::conduct_with`], the question continuing a conversation:
    /// the conductor reads it with the earlier turns, which stay on this
    /// device (a `context` event says how they were used).
    ///
    /// # Errors
    /// As [`Node::conduct`]; [`StoreError::UnknownQuery`] (code
    /// `unknown_query`) for a conversation the journal does not hold.
    pub fn conduct_in(
        &self,
        query: &str,
        continues: Continues,
        on_device_only: bool,
    ) -> Result<RunningQuery, NodeError> {
        let store = self.store().clone();
        let (conversation, history) = match continues {
            Continues::Nothing => (None, Vec::new()),
            Continues::Turns(turns) => (None, turns),
            Continues::Conversation(id) => {
                let root = store.conversation_of(id)?.ok_or(StoreError::UnknownQuery(id))?;
                (Some(root), store.conversation(root)?.iter().map(turn).collect())
            }
        };
        let networked = self.network().is_some() && !on_device_only;
        let query_id = store.begin_query_in(query, if networked { NETWORK } else { ON_DEVICE }, conversation)?;
        let conductor = if networked { self.conductor().clone() } else { self.on_device_conductor() };
        let (inner_tx, mut inner_rx) = mpsc::channel::<ConductorEvent>(EVENT_BUFFER);
        let (outer_tx, outer_rx) = mpsc::channel::<ConductorEvent>(EVENT_BUFFER);
        let text = query.to_owned();
        tokio::spawn(async move {
            let run = tokio::spawn(async move { conductor.ask_after(&text, &history, &inner_tx).await });
            let mut answer_so_far = String::new();
            // The last event (`done`) goes out once the journal has the
            // query finished: whoever sees it may list or delete the query.
            let mut last = None;
            while let Some(event) = inner_rx.recv().await {
                journal(&store, query_id, &event, &mut answer_so_far);
                if matches!(event, ConductorEvent::Done { .. } | ConductorEvent::Error { .. }) {
                    last = Some(event);
                    continue;
                }
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
                    let event = ConductorEvent::Error {
                        code: error_code(&error).as_str().to_owned(),
                        message: error.to_string(),
                    };
                    journal(&store, query_id, &event, &mut answer_so_far);
                    last = Some(event);
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
            if let Some(event) = last {
                let _ = outer_tx.send(event).await;
            }
        });
        Ok(RunningQuery { query_id, conversation: conversation.unwrap_or(query_id), events: outer_rx })
    }
}

/// A journaled query as a turn of its conversation: its answer only when it
/// finished with one.
fn turn(record: &QueryRecord) -> Turn {
    let answer =
        if record.status == QueryStatus::Done { record.answer.clone().unwrap_or_default() } else { String::new() };
    let mut specialists: Vec<String> = Vec::new();
    for subtask in &record.subtasks {
        if !specialists.contains(&subtask.specialist) {
            specialists.push(subtask.specialist.clone());
        }
    }
    Turn { question: record.text.clone(), answer, specialists }
}

/// Records an event in the journal ([`Store::record_event`]); a failure is
/// logged, not fatal to the query.
fn journal(store: &Store, id: QueryId, event: &ConductorEvent, answer: &mut String) {
    if let Err(error) = store.record_event(id, event, answer) {
        tracing::warn!(%error, %id, "could not journal an event");
    }
}
