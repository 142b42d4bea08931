//! On-device inference for Chorus, on llama.cpp through `llama-cpp-2`.
//!
//! * [`Engine`] initialises llama.cpp once per process and loads GGUF models
//!   after checking their header ([`inspect_gguf`]), so a broken file is a
//!   typed [`LoadError`], never a crash.
//! * Each loaded [`Model`] owns one inference thread that decodes all its
//!   running generations together in one batch (continuous batching); no
//!   llama.cpp type ever reaches async code.
//! * [`Model::generate`] streams tokens ([`Generation`]); dropping the stream
//!   cancels the generation. Output can be constrained by a GBNF grammar or
//!   a JSON Schema ([`Constraint`]).
//! * [`ModelPool`] loads models on demand under a memory budget and unloads
//!   the least recently used.
//!
//! The `llama` feature (on by default) is llama.cpp itself. Without it the
//! crate still builds, with the same API, but [`Engine::new`] fails: that
//! build exists only to type-check the rest of Chorus for targets whose C
//! toolchain is not at hand (Android without its NDK). `metal`, `vulkan`
//! and `cuda` choose llama.cpp's GPU backend.
//!
//! llama.cpp's own logs go to `tracing` under the targets `llama.cpp` and
//! `ggml`; they are silent unless a subscriber enables them.
//!
//! ```no_run
//! use chorus_engine::{ChatMessage, Engine, EngineOptions, GenerateRequest, ModelOptions};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = Engine::new(EngineOptions::default())?;
//! let model = engine.load("models/SmolLM2-135M-Instruct.Q4_1.gguf".as_ref(), &ModelOptions::default())?;
//! let request = GenerateRequest::chat(vec![ChatMessage::user("Name a colour.")]).with_max_tokens(16);
//! let completion = model.generate(request)?.blocking_complete()?;
//! println!("{}", completion.text);
//! # Ok(())
//! # }
//! ```

// Without llama.cpp the inference thread's helpers (text, stream, option
// checks) have no caller; they stay compiled so the API is the same.
#![cfg_attr(not(feature = "llama"), allow(dead_code))]

#[cfg(feature = "llama")]
mod backend;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod gguf;
#[cfg(feature = "llama")]
mod model;
mod options;
mod pool;
mod request;
mod stream;
mod text;
#[cfg(not(feature = "llama"))]
mod unavailable;
#[cfg(feature = "llama")]
mod worker;

pub use error::{EngineError, GenerateError, LoadError};
pub use gguf::{GgufError, GgufInfo, inspect as inspect_gguf, inspect_reader as inspect_gguf_reader};
#[cfg(feature = "llama")]
pub use model::{Engine, Model, json_schema_to_grammar};
pub use options::{EngineOptions, ModelInfo, ModelOptions};
pub use pool::ModelPool;
pub use request::{ChatMessage, Completion, Constraint, FinishReason, GenerateRequest, Prompt, Role, SamplingParams};
pub use stream::{Generation, GenerationEvent};
#[cfg(not(feature = "llama"))]
pub use unavailable::{Engine, Model, json_schema_to_grammar};

/// Peak resident memory of this process in bytes (`VmHWM`), where the
/// platform tells it.
#[must_use]
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
