//! The token stream of one generation.

use std::collections::VecDeque;

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
///
/// Events come one a token, as generated; the inference thread hands them
/// over in batches (the first at once, then a batch once 20 ms have passed
/// since the last, and the end at once), because each hand-over wakes this
/// side's thread — on a machine whose cores all run llama.cpp's threads, a
/// context switch for one of them.
#[derive(Debug)]
pub struct Generation {
    batches: Receiver<Vec<GenerationEvent>>,
    /// Events of the last batch not read yet.
    ready: VecDeque<GenerationEvent>,
}

impl Generation {
    pub(crate) fn new(batches: Receiver<Vec<GenerationEvent>>) -> Self {
        Self { batches, ready: VecDeque::new() }
    }

    /// The next event; `None` after the last one.
    pub async fn next_event(&mut self) -> Option<GenerationEvent> {
        while self.ready.is_empty() {
            self.ready.extend(self.batches.recv().await?);
        }
        self.ready.pop_front()
    }

    /// The next event, blocking the thread (not for use inside async code).
    pub fn blocking_next_event(&mut self) -> Option<GenerationEvent> {
        while self.ready.is_empty() {
            self.ready.extend(self.batches.blocking_recv()?);
        }
        self.ready.pop_front()
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
