//! The node: configuration, start-up, and asking the local model.

use std::path::PathBuf;

use chorus_core::{EMBEDDED_MODEL, ModelDirs};
use chorus_engine::{
    ChatMessage, Engine, EngineError, EngineOptions, GenerateError, GenerateRequest, Generation, LoadError, Model,
    ModelOptions, ModelPool, SamplingParams,
};

/// How a node runs.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The model to answer with; `None` means the embedded default, looked
    /// up in the standard model directories.
    pub model: Option<PathBuf>,
    /// CPU threads per model; `None` means the physical cores.
    pub threads: Option<usize>,
    /// Context cells per model, shared by its parallel generations.
    pub context: u32,
    /// Generations decoded together per model.
    pub parallel: u32,
    /// Memory budget for loaded models, in bytes.
    pub memory_budget: u64,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            model: None,
            threads: None,
            context: ModelOptions::default().context,
            parallel: ModelOptions::default().parallel,
            memory_budget: 4 << 30,
        }
    }
}

/// Why the node could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// No model file was found.
    #[error("model {file} not found (looked in {searched}); run scripts/setup.sh or pass --model PATH")]
    ModelNotFound {
        /// The file looked for.
        file: String,
        /// The directories searched.
        searched: String,
    },
    /// The engine could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The model could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The generation was refused or failed.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// A benchmark setting makes no sense.
    #[error("invalid benchmark options: {0}")]
    InvalidBench(String),
}

/// A question for the local model.
#[derive(Debug, Clone)]
pub struct AskRequest {
    /// The question.
    pub question: String,
    /// The system prompt; `None` uses Chorus's default.
    pub system: Option<String>,
    /// Sampling parameters.
    pub sampling: SamplingParams,
}

/// The system prompt of a plain `ask` until the conductor picks specialists.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are Chorus, a helpful assistant running privately on this device. Answer clearly and concisely.";

impl AskRequest {
    /// A question with default settings.
    pub fn new(question: impl Into<String>) -> Self {
        Self {
            question: question.into(),
            system: None,
            sampling: SamplingParams::default(),
        }
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    engine: Engine,
    pool: ModelPool,
    default_model: PathBuf,
}

impl Node {
    /// Starts the engine and finds the default model (it is loaded on first use).
    ///
    /// # Errors
    /// [`NodeError::ModelNotFound`] or [`NodeError::Engine`].
    pub fn start(config: NodeConfig) -> Result<Self, NodeError> {
        let default_model = match config.model {
            Some(path) if path.is_file() => path,
            Some(path) => {
                return Err(NodeError::ModelNotFound {
                    file: path.display().to_string(),
                    searched: "the given path".to_owned(),
                });
            }
            None => {
                let dirs = ModelDirs::standard();
                dirs.find(EMBEDDED_MODEL.file_name).ok_or_else(|| NodeError::ModelNotFound {
                    file: EMBEDDED_MODEL.file_name.to_owned(),
                    searched: dirs
                        .dirs()
                        .iter()
                        .map(|dir| dir.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?
            }
        };
        let engine = Engine::new(EngineOptions { threads: config.threads })?;
        let options = ModelOptions {
            context: config.context,
            parallel: config.parallel,
            ..ModelOptions::default()
        };
        let pool = ModelPool::new(engine.clone(), config.memory_budget, options);
        Ok(Self {
            engine,
            pool,
            default_model,
        })
    }

    /// The engine (threads, backend).
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The default model, loaded on first use.
    ///
    /// # Errors
    /// [`NodeError::Load`] if it cannot be loaded.
    pub fn default_model(&self) -> Result<Model, NodeError> {
        Ok(self.pool.get(&self.default_model)?)
    }

    /// Asks the local default model; tokens stream on the returned generation.
    ///
    /// # Errors
    /// [`NodeError::Load`] or [`NodeError::Generate`] (empty or over-long
    /// question, bad sampling settings).
    pub fn ask(&self, request: AskRequest) -> Result<Generation, NodeError> {
        if request.question.trim().is_empty() {
            return Err(NodeError::Generate(GenerateError::EmptyPrompt));
        }
        let model = self.default_model()?;
        let system = request.system.unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_owned());
        let messages = vec![ChatMessage::system(system), ChatMessage::user(request.question)];
        Ok(model.generate(GenerateRequest::chat(messages).with_sampling(request.sampling))?)
    }
}
