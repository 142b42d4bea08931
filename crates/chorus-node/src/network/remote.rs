//! A peer as an executor of specialists: a sub-task over `/chorus/task/1`,
//! its verified receipt counted in the ledger.

use std::time::{Duration, Instant};

use chorus_core::{
    Executor, ExecutorError, GenerationChunk, GenerationSpec, GenerationStream, LedgerEntry, Store, TaskOutcome, now_ms,
};
use chorus_net::{Network, PeerId, RemoteEvent, TaskError, TaskErrorCode};
use tokio::sync::mpsc;

use super::rules::{HANG_GRACE, credited_tokens, demotes, error_kind};
use super::{add_ledger, task_request};

#[cfg(test)]
mod tests;

/// A peer's task error as the conductor sees it (its kind: [`error_kind`]).
fn task_error(peer: PeerId, error: &TaskError) -> ExecutorError {
    ExecutorError::new(error_kind(error.code), format!("peer {peer}: {error}"))
}

/// Writes a task's outcome into the peer's record (this device's own
/// measurement); a store error is logged, not fatal.
fn record(store: &Store, peer: PeerId, outcome: TaskOutcome) {
    if let Err(error) = store.record_task(&peer.to_string(), outcome, now_ms()) {
        tracing::warn!(%error, %peer, "cannot record the task's outcome");
    }
}

/// A peer as an executor of specialists.
pub(crate) struct RemoteExecutor {
    pub(super) network: Network,
    pub(super) peer: PeerId,
    pub(super) store: Store,
    pub(super) deadline: Duration,
}

impl Executor for RemoteExecutor {
    fn id(&self) -> String {
        self.peer.to_string()
    }

    fn serves(&self, _specialist_id: &str) -> bool {
        true // the directory only hands out peers that said they do
    }

    fn leaves_device(&self) -> bool {
        true // A peer: what it is given leaves this device.
    }

    fn run(&self, specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        let request = task_request(specialist_id, &spec, self.deadline);
        let asked = spec.sampling.max_tokens;
        let deadline = self.deadline;
        let (chunks, stream) =
            mpsc::channel(usize::try_from(spec.sampling.max_tokens).unwrap_or(512).saturating_add(4));
        let network = self.network.clone();
        let peer = self.peer;
        let store = self.store.clone();
        // Before the conductor starts its deadline: when it gives up at
        // the deadline, this side has seen the whole of it pass.
        let started = Instant::now();
        tokio::spawn(async move {
            let mut task = match network.start_task(peer, request).await {
                Ok(task) => task,
                Err(error) => {
                    if demotes(error.code) {
                        record(&store, peer, TaskOutcome::Failed);
                    }
                    let _ = chunks.send(GenerationChunk::Failed(task_error(peer, &error))).await;
                    return;
                }
            };
            // Token frames received: the most this side credits.
            let mut frames: u64 = 0;
            // Past the deadline the peer has hung: a failure of its own.
            let hung = tokio::time::sleep_until((started + deadline + HANG_GRACE).into());
            tokio::pin!(hung);
            loop {
                let event = tokio::select! {
                    event = task.next() => event,
                    () = chunks.closed() => {
                        // The conductor gave up: at the deadline, the peer
                        // hung; before it, the question was cancelled.
                        if started.elapsed() >= deadline {
                            record(&store, peer, TaskOutcome::Failed);
                        }
                        return; // dropping `task` cancels it on the peer
                    }
                    () = &mut hung => {
                        record(&store, peer, TaskOutcome::Failed);
                        let error = TaskError::new(TaskErrorCode::OverDeadline, "no answer within the deadline");
                        let _ = chunks.send(GenerationChunk::Failed(task_error(peer, &error))).await;
                        return;
                    }
                };
                let Some(event) = event else { break };
                let chunk = match event {
                    Ok(RemoteEvent::Waiting) => continue,
                    Ok(RemoteEvent::Token(text)) => {
                        frames += 1;
                        GenerationChunk::Token(text)
                    }
                    Ok(RemoteEvent::Done { summary, text, .. }) => {
                        // The receipt was verified against the peer's key,
                        // the request sent and the text received; the count
                        // it signs is credited only up to what arrived.
                        let tokens = credited_tokens(summary.tokens, frames, asked);
                        add_ledger(
                            &store,
                            &peer.to_string(),
                            &LedgerEntry { tasks_received: 1, tokens_received: tokens, ..LedgerEntry::default() },
                        );
                        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                        record(&store, peer, TaskOutcome::Succeeded { tokens, ms });
                        GenerationChunk::Done { text, tokens: u32::try_from(tokens).unwrap_or(u32::MAX) }
                    }
                    Err(error) => {
                        if demotes(error.code) {
                            record(&store, peer, TaskOutcome::Failed);
                        }
                        GenerationChunk::Failed(task_error(peer, &error))
                    }
                };
                if chunks.send(chunk).await.is_err() {
                    return; // the conductor gave up: dropping `task` cancels it on the peer
                }
            }
        });
        Ok(stream)
    }
}
