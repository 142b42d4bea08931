//! The executors of the instrumented serving stacks: the engine timed
//! in-process, and one that answers at once.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chorus_core::{Executor, ExecutorError, GenerationChunk, GenerationSpec, GenerationStream};
use chorus_engine::{GenerationEvent, Model};
use tokio::sync::mpsc;

use super::SPECIALIST;

/// When the executor was called and when its first token came out.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Stamps {
    pub(super) called: Option<Instant>,
    pub(super) first_token: Option<Instant>,
}

/// The engine as an executor (as the node's own), timed with the process's
/// monotonic clock, which the requester in the same process shares.
pub(super) struct TimedExecutor {
    pub(super) model: Model,
    pub(super) stamps: Arc<Mutex<Stamps>>,
}

impl Executor for TimedExecutor {
    fn id(&self) -> String {
        "local".to_owned()
    }

    fn serves(&self, specialist_id: &str) -> bool {
        specialist_id == SPECIALIST
    }

    fn leaves_device(&self) -> bool {
        false // This device (the serving side of the bench).
    }

    fn run(&self, _specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        let capacity = usize::try_from(spec.sampling.max_tokens).unwrap_or(1024).saturating_add(4);
        let called = Instant::now();
        let mut generation = self
            .model
            .generate(chorus_node::engine_request(spec))
            .map_err(|error| ExecutorError::failed(error.to_string()))?;
        if let Ok(mut stamps) = self.stamps.lock() {
            *stamps = Stamps { called: Some(called), first_token: None };
        }
        let stamps = Arc::clone(&self.stamps);
        let (chunks, stream) = mpsc::channel(capacity);
        // The same forwarding task as the node's own executor, with a stamp.
        tokio::spawn(async move {
            while let Some(event) = generation.next_event().await {
                let chunk = match event {
                    GenerationEvent::Token(text) => {
                        if let Ok(mut stamps) = stamps.lock() {
                            stamps.first_token.get_or_insert_with(Instant::now);
                        }
                        GenerationChunk::Token(text)
                    }
                    GenerationEvent::Done(done) => {
                        GenerationChunk::Done { text: done.text, tokens: done.completion_tokens }
                    }
                    GenerationEvent::Failed(error) => GenerationChunk::Failed(ExecutorError::failed(error.to_string())),
                };
                if chunks.send(chunk).await.is_err() {
                    return;
                }
            }
        });
        Ok(stream)
    }
}

/// An executor that answers at once: one token, done.
pub(super) struct InstantExecutor;

impl Executor for InstantExecutor {
    fn id(&self) -> String {
        "local".to_owned()
    }

    fn serves(&self, specialist_id: &str) -> bool {
        specialist_id == SPECIALIST
    }

    fn leaves_device(&self) -> bool {
        false // This device (the serving side of the bench).
    }

    fn run(&self, _specialist_id: &str, _spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        let (chunks, stream) = mpsc::channel(2);
        let _ = chunks.try_send(GenerationChunk::Token("Hello".to_owned()));
        let _ = chunks.try_send(GenerationChunk::Done { text: "Hello".to_owned(), tokens: 1 });
        Ok(stream)
    }
}
