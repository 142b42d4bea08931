//! A peer as an executor of specialists: a sub-task over `/chorus/task/1`,
//! its verified receipt counted in the ledger.

use std::time::Duration;

use chorus_core::{
    Executor, ExecutorError, ExecutorErrorKind, GenerationChunk, GenerationSpec, GenerationStream, LedgerEntry, Store,
};
use chorus_net::{Network, PeerId, RemoteEvent, TaskError, TaskErrorCode};
use tokio::sync::mpsc;

use super::{add_ledger, task_request};

#[cfg(test)]
mod tests;

/// A peer's task error as the conductor sees it. The code is what the peer
/// (or this side's client) said; it only chooses between retrying the same
/// peer or not, never where else the task goes.
fn task_error(peer: PeerId, error: &TaskError) -> ExecutorError {
    let kind = match error.code {
        TaskErrorCode::Busy | TaskErrorCode::NotServing | TaskErrorCode::RateLimited => ExecutorErrorKind::Busy,
        TaskErrorCode::UnknownSpecialist | TaskErrorCode::BadRequest | TaskErrorCode::TooLarge => {
            ExecutorErrorKind::Refused
        }
        TaskErrorCode::OverDeadline => ExecutorErrorKind::TimedOut,
        TaskErrorCode::Disconnected => ExecutorErrorKind::Unreachable,
        _ => ExecutorErrorKind::Failed, // Internal, Protocol, and codes of newer peers
    };
    ExecutorError::new(kind, format!("peer {peer}: {error}"))
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
        let (chunks, stream) =
            mpsc::channel(usize::try_from(spec.sampling.max_tokens).unwrap_or(512).saturating_add(4));
        let network = self.network.clone();
        let peer = self.peer;
        let store = self.store.clone();
        tokio::spawn(async move {
            let mut task = match network.start_task(peer, request).await {
                Ok(task) => task,
                Err(error) => {
                    let _ = chunks.send(GenerationChunk::Failed(task_error(peer, &error))).await;
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
                    Err(error) => GenerationChunk::Failed(task_error(peer, &error)),
                };
                if chunks.send(chunk).await.is_err() {
                    return; // the conductor gave up: dropping `task` cancels it on the peer
                }
            }
        });
        Ok(stream)
    }
}
