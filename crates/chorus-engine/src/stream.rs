//! The token stream of one generation.

use tokio::sync::mpsc::Receiver;

use crate::error::GenerateError;
use crate::request::Completion;

/// What a running generation reports, in order: tokens, then exactly one
/// `Done` or `Failed`.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// New text (whole UTF-8 characters, never part of a stop string).
    Token(String),
    /// The generation finished.
    Done(Completion),
    /// The generation failed.
    Failed(GenerateError),
}

/// A running generation. Dropping it cancels the generation: the inference
/// thread notices before its next step and frees the sequence.
#[derive(Debug)]
pub struct Generation {
    events: Receiver<GenerationEvent>,
}

impl Generation {
    pub(crate) fn new(events: Receiver<GenerationEvent>) -> Self {
        Self { events }
    }

    /// The next event; `None` after the last one.
    pub async fn next_event(&mut self) -> Option<GenerationEvent> {
        self.events.recv().await
    }

    /// The next event, blocking the thread (not for use inside async code).
    pub fn blocking_next_event(&mut self) -> Option<GenerationEvent> {
        self.events.blocking_recv()
    }

    /// Waits for the whole completion.
    ///
    /// # Errors
    /// The generation's error, or [`GenerateError::WorkerGone`] if the
    /// inference thread stopped without an answer.
    pub async fn complete(mut self) -> Result<Completion, GenerateError> {
        while let Some(event) = self.next_event().await {
            if let Some(result) = terminal(event) {
                return result;
            }
        }
        Err(GenerateError::WorkerGone)
    }

    /// Blocking form of [`Generation::complete`].
    ///
    /// # Errors
    /// As [`Generation::complete`].
    pub fn blocking_complete(mut self) -> Result<Completion, GenerateError> {
        while let Some(event) = self.blocking_next_event() {
            if let Some(result) = terminal(event) {
                return result;
            }
        }
        Err(GenerateError::WorkerGone)
    }
}

fn terminal(event: GenerationEvent) -> Option<Result<Completion, GenerateError>> {
    match event {
        GenerationEvent::Token(_) => None,
        GenerationEvent::Done(completion) => Some(Ok(completion)),
        GenerationEvent::Failed(error) => Some(Err(error)),
    }
}
