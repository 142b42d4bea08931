//! How the engine and its models are set up, and what a loaded model is:
//! plain data, the same with or without the llama.cpp backend.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::LoadError;

/// Settings of the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// CPU threads per model; `None` means the number of physical cores.
    pub threads: Option<usize>,
}

/// The smallest context a model is given.
pub(crate) const MIN_CONTEXT: u32 = 256;
/// The smallest context of one generation.
pub(crate) const MIN_SEQUENCE_CONTEXT: u32 = 128;

/// How a model is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOptions {
    /// KV cache cells in all, split evenly between the parallel sequences
    /// (each gets at most the trained context).
    pub context: u32,
    /// Most generations decoded together in one batch.
    pub parallel: u32,
    /// Most tokens per decode call.
    pub batch: u32,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self { context: 4096, parallel: 4, batch: 512 }
    }
}

impl ModelOptions {
    pub(crate) fn validate(&self) -> Result<(), LoadError> {
        if !(1..=64).contains(&self.parallel) {
            return Err(LoadError::InvalidOptions(format!("parallel must be 1..=64, not {}", self.parallel)));
        }
        if !(32..=8192).contains(&self.batch) {
            return Err(LoadError::InvalidOptions(format!("batch must be 32..=8192, not {}", self.batch)));
        }
        if !(MIN_CONTEXT..=1 << 20).contains(&self.context) {
            return Err(LoadError::InvalidOptions(format!(
                "context must be {MIN_CONTEXT}..=1048576, not {}",
                self.context
            )));
        }
        Ok(())
    }
}

/// Facts about a loaded model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    /// The GGUF file.
    pub path: PathBuf,
    /// `general.name` from the header.
    pub name: Option<String>,
    /// `general.architecture` from the header.
    pub architecture: String,
    /// File size in bytes.
    pub file_size: u64,
    /// Number of parameters.
    pub parameters: u64,
    /// Context the model was trained with.
    pub context_trained: u32,
    /// Context of one generation (the cache split between parallel sequences).
    pub context: u32,
    /// KV cache cells in all.
    pub context_total: u32,
    /// Most generations decoded together.
    pub parallel: u32,
    /// CPU threads.
    pub threads: usize,
    /// Estimated resident memory in bytes (weights, KV cache, buffers).
    pub memory_estimate: u64,
    /// Whether the GGUF carries its own chat template (otherwise ChatML is used).
    pub has_chat_template: bool,
}
