//! The engine of a build without llama.cpp (`--no-default-features`).
//!
//! Such a build exists so that every other crate of Chorus can be checked
//! for targets whose C toolchain is not on this machine (Android's NDK): it
//! type-checks the node and the app against the same API. It never runs a
//! model: [`Engine::new`] says why, and since no [`Engine`] can be made, no
//! [`Model`] can exist either (both hold an uninhabited field).

use std::convert::Infallible;
use std::path::Path;

use crate::error::{EngineError, GenerateError, LoadError};
use crate::options::{EngineOptions, ModelInfo, ModelOptions};
use crate::request::{ChatMessage, GenerateRequest};
use crate::stream::Generation;

const NO_BACKEND: &str =
    "this build of Chorus has no inference backend (chorus-engine was built without its `llama` feature)";

/// The inference engine. In this build it cannot be started.
#[derive(Debug, Clone)]
pub struct Engine {
    never: Infallible,
}

impl Engine {
    /// Always fails: this build has no llama.cpp.
    ///
    /// # Errors
    /// [`EngineError::Backend`], always.
    pub fn new(_options: EngineOptions) -> Result<Self, EngineError> {
        Err(EngineError::Backend(NO_BACKEND.to_owned()))
    }

    /// Threads each model uses.
    #[must_use]
    pub fn threads(&self) -> usize {
        match self.never {}
    }

    /// Loads a GGUF model.
    ///
    /// # Errors
    /// None can happen: no engine exists in this build.
    pub fn load(&self, _path: &Path, _options: &ModelOptions) -> Result<Model, LoadError> {
        match self.never {}
    }
}

/// A loaded model. In this build none can exist.
#[derive(Debug, Clone)]
pub struct Model {
    never: Infallible,
}

impl Model {
    /// Facts about the model.
    #[must_use]
    pub fn info(&self) -> &ModelInfo {
        match self.never {}
    }

    /// Milliseconds the load took.
    #[must_use]
    pub fn load_ms(&self) -> f64 {
        match self.never {}
    }

    /// Tokens this model has generated since it was loaded.
    #[must_use]
    pub fn tokens_generated(&self) -> u64 {
        match self.never {}
    }

    /// Renders a chat with the model's template.
    ///
    /// # Errors
    /// None can happen: no model exists in this build.
    pub fn render_chat(&self, _messages: &[ChatMessage]) -> Result<String, GenerateError> {
        match self.never {}
    }

    /// Tokenizes text as a prompt.
    #[must_use]
    pub fn tokenize(&self, _text: &str) -> Vec<i32> {
        match self.never {}
    }

    /// Starts a generation.
    ///
    /// # Errors
    /// None can happen: no model exists in this build.
    pub fn generate(&self, _request: GenerateRequest) -> Result<Generation, GenerateError> {
        match self.never {}
    }

    /// Starts several generations together.
    ///
    /// # Errors
    /// None can happen: no model exists in this build.
    pub fn generate_many(&self, _requests: Vec<GenerateRequest>) -> Result<Vec<Generation>, GenerateError> {
        match self.never {}
    }

    /// llama.cpp's own generation loop, timed.
    ///
    /// # Errors
    /// None can happen: no model exists in this build.
    pub fn decode_only_tokens_per_s(&self, _tokens: u32) -> Result<f64, GenerateError> {
        match self.never {}
    }
}

/// Compiles a JSON Schema into a GBNF grammar; llama.cpp's converter is not
/// in this build.
///
/// # Errors
/// [`GenerateError::InvalidConstraint`], always.
pub fn json_schema_to_grammar(_schema: &str) -> Result<String, GenerateError> {
    Err(GenerateError::InvalidConstraint(NO_BACKEND.to_owned()))
}
