//! The one error of the crate: loading the model and embedding texts.

use std::path::PathBuf;

/// Loading the model or embedding texts failed. Every variant about a file
/// names it; nothing here is a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// A file of the model folder is not there (run `scripts/setup.sh`).
    #[error("{path} is missing (scripts/setup.sh installs the model)")]
    Missing {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// A file is there but could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `config.json` is not a BERT configuration this crate can run.
    #[error("{path} is not a usable BERT configuration: {reason}")]
    InvalidConfig {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `tokenizer.json` could not be loaded or does not fit the model.
    #[error("{path} is not a usable tokenizer: {reason}")]
    InvalidTokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `model.safetensors` is truncated, malformed, or lacks a tensor of the
    /// right shape.
    #[error("{path} is not a usable safetensors file of this model: {reason}")]
    InvalidWeights {
        /// The weights file.
        path: PathBuf,
        /// What is wrong with it (the safetensors or candle message).
        reason: String,
    },
    /// A text could not be tokenised.
    #[error("could not tokenise a text: {0}")]
    Tokenize(String),
    /// The forward pass failed (out of memory, for example).
    #[error("the embedding model failed: {0}")]
    Inference(String),
}

impl EmbedError {
    pub(crate) fn inference(error: candle_core::Error) -> Self {
        Self::Inference(error.to_string())
    }
}
