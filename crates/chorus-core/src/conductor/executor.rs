//! How the conductor sees models: generations, the [`TextGenerator`] it
//! writes with, the [`Executor`]s that run specialists and the
//! [`ExecutorDirectory`] it finds them in.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::catalog::{Catalog, SpecialistSampling};

/// One generation asked of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationSpec {
    /// The system prompt.
    pub system: String,
    /// The user's turn.
    pub prompt: String,
    /// Sampling settings.
    pub sampling: SpecialistSampling,
    /// Random seed.
    pub seed: u32,
    /// When set, the output is JSON valid under this schema.
    pub json_schema: Option<serde_json::Value>,
}

/// What a running generation reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GenerationChunk {
    /// More text.
    Token(String),
    /// Finished: the whole text and the number of tokens.
    Done {
        /// The whole text.
        text: String,
        /// Tokens generated.
        tokens: u32,
    },
    /// Failed.
    Failed(ExecutorError),
}

/// Why a generation could not start or did not finish, as the executor (or
/// the conductor model) saw it. The conductor branches on the kind (a
/// timeout is reported as `timed_out`, a refusal is not retried on the same
/// executor); the message is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ExecutorError {
    /// What went wrong, for decisions.
    pub kind: ExecutorErrorKind,
    /// What went wrong, for people (events, the journal).
    pub message: String,
}

impl ExecutorError {
    /// An error of this kind.
    pub fn new(kind: ExecutorErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// The generation started and failed (or never produced a result).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ExecutorErrorKind::Failed, message)
    }
}

/// The kinds of [`ExecutorError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExecutorErrorKind {
    /// No free slot now: another executor, or this one later, may take it.
    Busy,
    /// The executor will not run this request (unknown specialist, its
    /// limits or policy, a request it found invalid): asking it again
    /// gives the same answer.
    Refused,
    /// The deadline passed.
    TimedOut,
    /// The executor could not be reached, or the connection broke.
    Unreachable,
    /// The generation started and failed, or ended without a result.
    Failed,
    /// Whoever waited for the result went away.
    Cancelled,
}

/// A running generation. Dropping it cancels the generation.
pub type GenerationStream = mpsc::Receiver<GenerationChunk>;

/// Something that writes text: the conductor model.
pub trait TextGenerator: Send + Sync {
    /// Starts a generation.
    ///
    /// # Errors
    /// An [`ExecutorError`] when the generation cannot start.
    fn generate(&self, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError>;
}

/// Something that runs specialists: this device, or a peer.
pub trait Executor: Send + Sync {
    /// A stable name for events and the journal (`local`, or a peer id).
    fn id(&self) -> String;
    /// Whether it can run this specialist now.
    fn serves(&self, specialist_id: &str) -> bool;
    /// Whether work given to it leaves this device (a peer). The conductor
    /// redacts everything it sends such an executor and keeps sensitive
    /// parts away from it; there is no default, so every executor says.
    fn leaves_device(&self) -> bool;
    /// Runs one sub-task as the specialist `specialist_id`.
    ///
    /// # Errors
    /// An [`ExecutorError`] when the sub-task cannot start.
    fn run(&self, specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError>;
}

/// Where the conductor finds executors: this device alone, or this device
/// and the network. Asked per query, since peers come and go.
pub trait ExecutorDirectory: Send + Sync {
    /// Specialists some executor can run now. `interest` lists the ones the
    /// query is about, best first, so a network directory can look those
    /// up rather than every specialist of the catalog.
    fn reachable<'a>(&'a self, catalog: &'a Catalog, interest: &'a [String]) -> BoxFuture<'a, BTreeSet<String>>;

    /// Executors for `specialist_id`, best first, leaving out the ids in
    /// `exclude` (executors already tried for this sub-task).
    fn executors_for<'a>(
        &'a self,
        specialist_id: &'a str,
        exclude: &'a [String],
    ) -> BoxFuture<'a, Vec<Arc<dyn Executor>>>;
}

/// A fixed list of executors, in order of preference (this device alone).
#[derive(Clone)]
pub struct StaticExecutors(pub Vec<Arc<dyn Executor>>);

impl ExecutorDirectory for StaticExecutors {
    fn reachable<'a>(&'a self, catalog: &'a Catalog, _interest: &'a [String]) -> BoxFuture<'a, BTreeSet<String>> {
        let reachable = catalog
            .specialists()
            .iter()
            .filter(|specialist| self.0.iter().any(|executor| executor.serves(&specialist.id)))
            .map(|specialist| specialist.id.clone())
            .collect();
        Box::pin(std::future::ready(reachable))
    }

    fn executors_for<'a>(
        &'a self,
        specialist_id: &'a str,
        exclude: &'a [String],
    ) -> BoxFuture<'a, Vec<Arc<dyn Executor>>> {
        let executors = self
            .0
            .iter()
            .filter(|executor| executor.serves(specialist_id) && !exclude.contains(&executor.id()))
            .cloned()
            .collect();
        Box::pin(std::future::ready(executors))
    }
}

/// Reads a generation to its end, passing each token to `forward` (which
/// returns false to stop). Returns the text and token count.
pub(super) async fn collect<F, Fut>(
    mut stream: GenerationStream,
    mut forward: F,
) -> Result<(String, u32), ExecutorError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut text = String::new();
    while let Some(chunk) = stream.recv().await {
        match chunk {
            GenerationChunk::Token(piece) => {
                text.push_str(&piece);
                if !forward(piece).await {
                    return Err(ExecutorError::new(ExecutorErrorKind::Cancelled, "cancelled"));
                }
            }
            GenerationChunk::Done { text: whole, tokens } => return Ok((whole, tokens)),
            GenerationChunk::Failed(error) => return Err(error),
        }
    }
    Err(ExecutorError::failed(format!("the generation stopped without a result after {} bytes", text.len())))
}
