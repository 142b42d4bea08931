//! The local engine behind the conductor's traits: the conductor model
//! ([`TextGenerator`]) and this device as an [`Executor`] of specialists.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chorus_core::{
    BaseModel, Catalog, Executor, ExecutorError, ExecutorErrorKind, GenerationChunk, GenerationSpec, GenerationStream,
    TextGenerator,
};
use chorus_engine::{
    ChatMessage, Constraint, GenerateError, GenerateRequest, Generation, GenerationEvent, Model, ModelPool,
    SamplingParams,
};
use tokio::sync::mpsc;

use crate::models::{LoadCheck, ModelFinder};

/// Turns a conductor request into an engine request (the local executor's,
/// and chorus-bench's timed executor's in `chorus bench --network`).
pub fn engine_request(spec: GenerationSpec) -> GenerateRequest {
    let mut messages = Vec::with_capacity(2);
    if !spec.system.trim().is_empty() {
        messages.push(ChatMessage::system(spec.system));
    }
    messages.push(ChatMessage::user(spec.prompt));
    let sampling = SamplingParams {
        temperature: spec.sampling.temperature,
        top_k: i32::try_from(spec.sampling.top_k).unwrap_or(40),
        top_p: spec.sampling.top_p,
        min_p: spec.sampling.min_p,
        repeat_penalty: spec.sampling.repeat_penalty,
        seed: spec.seed,
        max_tokens: spec.sampling.max_tokens,
        stop: Vec::new(),
    };
    let mut request = GenerateRequest::chat(messages).with_sampling(sampling);
    if let Some(schema) = spec.json_schema {
        request = request.with_constraint(Constraint::JsonSchema(schema.to_string()));
    }
    request
}

/// Forwards an engine generation as a conductor stream. Dropping the
/// conductor's stream drops the engine's, which cancels the generation.
fn forward(mut generation: Generation, chunks: mpsc::Sender<GenerationChunk>) {
    tokio::spawn(async move {
        while let Some(event) = generation.next_event().await {
            let chunk = match event {
                GenerationEvent::Token(text) => GenerationChunk::Token(text),
                GenerationEvent::Done(done) => {
                    GenerationChunk::Done { text: done.text, tokens: done.completion_tokens }
                }
                GenerationEvent::Failed(error) => GenerationChunk::Failed(generate_error(&error)),
            };
            if chunks.send(chunk).await.is_err() {
                return;
            }
        }
    });
}

/// An engine error as the conductor sees it: a request the model will not
/// take is refused, a full queue is busy, the rest failed.
pub(crate) fn generate_error(error: &GenerateError) -> ExecutorError {
    let kind = match error {
        GenerateError::EmptyPrompt
        | GenerateError::PromptTooLong { .. }
        | GenerateError::InvalidSampling(_)
        | GenerateError::InvalidConstraint(_) => ExecutorErrorKind::Refused,
        GenerateError::Busy(_) => ExecutorErrorKind::Busy,
        _ => ExecutorErrorKind::Failed,
    };
    ExecutorError::new(kind, error.to_string())
}

/// A model that cannot be loaded: this device cannot run it now.
fn load_error(error: &impl std::fmt::Display) -> ExecutorError {
    ExecutorError::failed(error.to_string())
}

/// Starts `spec` on `model` and returns the conductor-side stream.
fn start(model: &Model, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
    let capacity = usize::try_from(spec.sampling.max_tokens).unwrap_or(1024).saturating_add(4);
    let generation = model.generate(engine_request(spec)).map_err(|error| generate_error(&error))?;
    let (chunks, stream) = mpsc::channel(capacity);
    forward(generation, chunks);
    Ok(stream)
}

/// The conductor model: the default model on this device.
#[derive(Debug)]
pub(crate) struct LocalConductorModel {
    pub(crate) pool: Arc<ModelPool>,
    pub(crate) path: PathBuf,
}

impl TextGenerator for LocalConductorModel {
    fn generate(&self, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        let model = self.pool.get(&self.path).map_err(|error| load_error(&error))?;
        start(&model, spec)
    }
}

/// Why [`LocalExecutor::model_of`] has no model.
#[derive(Debug)]
pub(crate) enum LocalModelError {
    /// The specialist does not run here (unknown, its base model not
    /// installed, or left to peers).
    NotServed,
    /// Its model file is not the one installed.
    Refused(String),
    /// llama.cpp could not load it.
    Load(chorus_engine::LoadError),
}

/// This device as an executor: it serves every specialist whose base model
/// file is installed here and may be loaded (see [`LoadCheck`]).
#[derive(Debug)]
pub(crate) struct LocalExecutor {
    pool: Arc<ModelPool>,
    catalog: Arc<Catalog>,
    /// Base model id → its file on this device.
    installed: BTreeMap<String, PathBuf>,
    allowed: Option<std::collections::BTreeSet<String>>,
    check: LoadCheck,
}

impl LocalExecutor {
    /// Finds the installed base models of `catalog`: where the installed
    /// registry says, else with `finder`. An unverified model that was never
    /// installed with the allowance is left out (and logged).
    pub(crate) fn new(
        pool: Arc<ModelPool>,
        catalog: Arc<Catalog>,
        finder: &ModelFinder,
        allowed: Option<std::collections::BTreeSet<String>>,
        check: LoadCheck,
    ) -> Self {
        let installed = catalog
            .base_models()
            .iter()
            .filter_map(|base| {
                let path = check.recorded_path(base).or_else(|| finder.find(&base.file_name))?;
                if !check.admissible(base, &path) {
                    tracing::warn!(
                        id = %base.id,
                        path = %path.display(),
                        "unverified model not installed with --allow-unverified; not served"
                    );
                    return None;
                }
                Some((base.id.clone(), path))
            })
            .collect();
        Self { pool, catalog, installed, allowed, check }
    }

    /// The loaded base model of `specialist_id`, after the check that its
    /// file is still the one installed (`chorus-node`'s `chat.rs` and
    /// [`Executor::run`]).
    pub(crate) fn model_of(&self, specialist_id: &str) -> Result<Model, LocalModelError> {
        let (base, path) = self.path_of(specialist_id).ok_or(LocalModelError::NotServed)?;
        // Before llama.cpp sees the file: is it still the one installed?
        self.check.check(base, path).map_err(|error| LocalModelError::Refused(error.to_string()))?;
        self.pool.get(path).map_err(LocalModelError::Load)
    }

    /// Whether this device runs `specialist_id` ([`Executor::serves`]).
    pub(crate) fn serves_here(&self, specialist_id: &str) -> bool {
        self.path_of(specialist_id).is_some()
    }

    fn path_of(&self, specialist_id: &str) -> Option<(&BaseModel, &PathBuf)> {
        if self.allowed.as_ref().is_some_and(|allowed| !allowed.contains(specialist_id)) {
            return None;
        }
        let specialist = self.catalog.specialist(specialist_id)?;
        let base = self.catalog.base_model_of(specialist)?;
        Some((base, self.installed.get(&base.id)?))
    }
}

impl Executor for LocalExecutor {
    fn id(&self) -> String {
        "local".to_owned()
    }

    fn serves(&self, specialist_id: &str) -> bool {
        self.path_of(specialist_id).is_some()
    }

    fn leaves_device(&self) -> bool {
        false // This device.
    }

    fn run(&self, specialist_id: &str, spec: GenerationSpec) -> Result<GenerationStream, ExecutorError> {
        let model = self.model_of(specialist_id).map_err(|error| match error {
            LocalModelError::NotServed => ExecutorError::new(
                ExecutorErrorKind::Refused,
                format!("the base model of {specialist_id} is not installed on this device"),
            ),
            LocalModelError::Refused(reason) => ExecutorError::new(ExecutorErrorKind::Refused, reason),
            LocalModelError::Load(error) => load_error(&error),
        })?;
        start(&model, spec)
    }
}
