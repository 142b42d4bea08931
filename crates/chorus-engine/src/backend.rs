//! The one llama.cpp backend of the process.

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;

use crate::error::EngineError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// Initialises llama.cpp once per process and routes its logs into
/// `tracing` (targets `llama.cpp` and `ggml`), where they are silent unless a
/// subscriber enables them.
pub(crate) fn init() -> Result<&'static LlamaBackend, EngineError> {
    let backend = BACKEND.get_or_init(|| {
        llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
        LlamaBackend::init().map_err(|error| error.to_string())
    });
    backend.as_ref().map_err(|reason| EngineError::Backend(reason.clone()))
}
