//! The one gate where work leaves this device: a sub-task for an executor
//! that [leaves the device](Executor::leaves_device) goes out with its
//! system and user text redacted, and its text comes back restored. Work
//! that stays on this device is not touched. The conductor's dispatch
//! sends every attempt through [`prepare`] and [`run`]; nothing else hands
//! an executor text.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::privacy::{Redactor, Restorer};

use super::executor::{Executor, ExecutorError, GenerationChunk, GenerationSpec, GenerationStream};

/// What a peer received for one attempt of a sub-task, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentText {
    /// The system prompt it received.
    pub system: String,
    /// The user text it received.
    pub prompt: String,
}

/// One attempt, ready to start.
pub(super) struct Prepared {
    executor: Arc<dyn Executor>,
    spec: GenerationSpec,
    /// The redactor of the question, when the attempt leaves the device.
    restore: Option<Redactor>,
    /// Values replaced by placeholders.
    pub(super) redacted: u32,
    /// What the peer receives (None when it stays on this device).
    pub(super) sent: Option<SentText>,
}

/// Prepares `spec` for `executor`: redacted through the question's
/// `redactor` when it leaves the device, as it is otherwise.
pub(super) fn prepare(executor: Arc<dyn Executor>, spec: GenerationSpec, redactor: &Redactor) -> Prepared {
    if !executor.leaves_device() {
        return Prepared { executor, spec, restore: None, redacted: 0, sent: None };
    }
    let system = redactor.redact(&spec.system);
    let prompt = redactor.redact(&spec.prompt);
    let redacted = u32::try_from(system.items.len() + prompt.items.len()).unwrap_or(u32::MAX);
    let sent = SentText { system: system.text, prompt: prompt.text };
    let spec = GenerationSpec { system: sent.system.clone(), prompt: sent.prompt.clone(), ..spec };
    Prepared { executor, spec, restore: Some(redactor.clone()), redacted, sent: Some(sent) }
}

/// Starts a prepared attempt; what an executor off the device writes comes
/// back with the question's values restored, token by token.
pub(super) fn run(prepared: Prepared, specialist_id: &str) -> Result<GenerationStream, ExecutorError> {
    let stream = prepared.executor.run(specialist_id, prepared.spec)?;
    Ok(match prepared.restore {
        None => stream,
        Some(redactor) => restored(stream, redactor.restorer(), redactor),
    })
}

/// Relays `inner`, restoring placeholders. Dropping the returned stream
/// ends the relay, which drops `inner` (cancelling the generation).
fn restored(mut inner: GenerationStream, mut restorer: Restorer, redactor: Redactor) -> GenerationStream {
    let (chunks, stream) = mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(chunk) = inner.recv().await {
            let chunk = match chunk {
                GenerationChunk::Token(piece) => {
                    let ready = restorer.push(&piece);
                    if ready.is_empty() {
                        continue;
                    }
                    GenerationChunk::Token(ready)
                }
                GenerationChunk::Done { text, tokens } => {
                    let rest = restorer.finish();
                    if !rest.is_empty() && chunks.send(GenerationChunk::Token(rest)).await.is_err() {
                        return;
                    }
                    GenerationChunk::Done { text: redactor.restore(&text), tokens }
                }
                failed @ GenerationChunk::Failed(_) => failed,
            };
            let last = !matches!(chunk, GenerationChunk::Token(_));
            if chunks.send(chunk).await.is_err() || last {
                return;
            }
        }
    });
    stream
}
