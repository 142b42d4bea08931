//! One error enum per operation, typed where the failure starts.

use std::path::PathBuf;

use crate::gguf::GgufError;

/// Starting the engine failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// llama.cpp's backend could not be initialised.
    #[error("llama.cpp backend failed to initialise: {0}")]
    Backend(String),
}

/// Loading a model failed. The process keeps running; nothing is loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file is missing, truncated, not a GGUF, or malformed.
    #[error(transparent)]
    InvalidFile(#[from] GgufError),
    /// The header is sound but llama.cpp refused the model (for example an
    /// architecture it does not know, or tensors that do not match it).
    #[error(
        "llama.cpp could not load {path} (architecture {architecture:?}); it is broken or of an unsupported architecture"
    )]
    Rejected {
        /// The model file.
        path: PathBuf,
        /// The architecture its header names.
        architecture: String,
    },
    /// llama.cpp could not create an inference context (usually: out of memory).
    #[error("could not create an inference context for {path}: {reason}")]
    Context {
        /// The model file.
        path: PathBuf,
        /// llama.cpp's reason.
        reason: String,
    },
    /// The settings asked for are impossible.
    #[error("invalid model options: {0}")]
    InvalidOptions(String),
    /// The model does not fit the memory budget of the pool, even alone.
    #[error("{path} needs about {needed} bytes, more than the pool's budget of {budget} bytes")]
    OverBudget {
        /// The model file.
        path: PathBuf,
        /// Estimated memory need.
        needed: u64,
        /// The pool's budget.
        budget: u64,
    },
    /// The inference thread could not be started.
    #[error("could not start the inference thread: {0}")]
    Thread(String),
}

/// A generation request was refused or failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GenerateError {
    /// The prompt is empty.
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// The prompt does not fit the context window.
    #[error("the prompt has {tokens} tokens; this model's context holds at most {limit}")]
    PromptTooLong {
        /// Tokens in the prompt.
        tokens: usize,
        /// Most prompt tokens accepted.
        limit: usize,
    },
    /// A sampling parameter is out of range.
    #[error("invalid sampling parameters: {0}")]
    InvalidSampling(String),
    /// The grammar or JSON Schema could not be compiled.
    #[error("invalid output constraint: {0}")]
    InvalidConstraint(String),
    /// The chat could not be rendered with the model's template.
    #[error("chat template failed: {0}")]
    Template(String),
    /// llama.cpp failed while decoding.
    #[error("decoding failed: {0}")]
    Decode(String),
    /// The model's inference thread has stopped (the model was unloaded).
    #[error("the model's inference thread has stopped")]
    WorkerGone,
    /// The request queue of the model is full; try again later.
    #[error("the model is busy: {0} requests are already waiting")]
    Busy(usize),
}
