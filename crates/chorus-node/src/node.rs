//! The node: configuration, start-up, and asking the local model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chorus_core::{
    Catalog, CatalogError, Conductor, ConductorConfig, EMBEDDED_MODEL, Executor, ModelDirs, QuerySummary, Store,
    StoreError, TextGenerator,
};
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
    /// Where the journal and other state live; `None` means
    /// `$CHORUS_DATA_DIR`, else `$XDG_DATA_HOME/chorus`, else `~/.local/share/chorus`.
    pub data_dir: Option<PathBuf>,
    /// A catalog file; `None` means the catalog built into Chorus.
    pub catalog: Option<PathBuf>,
    /// Settings of the conductor.
    pub conductor: ConductorConfig,
}

/// The default data directory.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CHORUS_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("chorus");
    }
    std::env::var_os("HOME").map_or_else(|| PathBuf::from(".chorus"), |home| PathBuf::from(home).join(".local/share/chorus"))
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            model: None,
            threads: None,
            context: ModelOptions::default().context,
            parallel: ModelOptions::default().parallel,
            memory_budget: 4 << 30,
            data_dir: None,
            catalog: None,
            conductor: ConductorConfig::default(),
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
    /// The catalog is invalid.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The journal cannot be opened or written.
    #[error("journal: {0}")]
    Store(#[from] StoreError),
    /// A benchmark setting makes no sense.
    #[error("invalid benchmark options: {0}")]
    InvalidBench(String),
    /// Listing, recommending, installing or removing models failed.
    #[error(transparent)]
    Models(#[from] crate::models::ModelsError),
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
pub(crate) const DEFAULT_SYSTEM_PROMPT: &str =
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
    pool: Arc<ModelPool>,
    default_model: PathBuf,
    catalog: Arc<Catalog>,
    store: Store,
    conductor: Conductor,
    interrupted: Vec<QuerySummary>,
    data_dir: PathBuf,
}

impl Node {
    /// Starts the engine and finds the default model (it is loaded on first use).
    ///
    /// # Errors
    /// [`NodeError::ModelNotFound`] or [`NodeError::Engine`].
    pub fn start(config: NodeConfig) -> Result<Self, NodeError> {
        let data_dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
        // Models installed by `chorus models pull` are found like the others.
        let standard = ModelDirs::standard().dirs().to_vec();
        let mut dirs = ModelDirs::new(standard.into_iter().chain([crate::models::install_dir_of(&data_dir)]).collect());
        let default_model = match &config.model {
            Some(path) if path.is_file() => {
                if let Some(parent) = path.parent() {
                    let mut list = vec![parent.to_path_buf()];
                    list.extend(dirs.dirs().iter().cloned());
                    dirs = ModelDirs::new(list);
                }
                path.clone()
            }
            Some(path) => {
                return Err(NodeError::ModelNotFound {
                    file: path.display().to_string(),
                    searched: "the given path".to_owned(),
                });
            }
            None => dirs.find(EMBEDDED_MODEL.file_name).ok_or_else(|| NodeError::ModelNotFound {
                file: EMBEDDED_MODEL.file_name.to_owned(),
                searched: dirs
                    .dirs()
                    .iter()
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        };
        let catalog = Arc::new(match &config.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::bundled()?,
        });
        let store = Store::open(data_dir.join("journal"))?;
        let interrupted = store.recover()?;
        if !interrupted.is_empty() {
            tracing::warn!(count = interrupted.len(), "queries interrupted by an earlier crash");
        }
        let engine = Engine::new(EngineOptions { threads: config.threads })?;
        let options = ModelOptions {
            context: config.context,
            parallel: config.parallel,
            ..ModelOptions::default()
        };
        let pool = Arc::new(ModelPool::new(engine.clone(), config.memory_budget, options));
        let conductor_model: Arc<dyn TextGenerator> = Arc::new(crate::local::LocalConductorModel {
            pool: Arc::clone(&pool),
            path: default_model.clone(),
        });
        let local: Arc<dyn Executor> =
            Arc::new(crate::local::LocalExecutor::new(Arc::clone(&pool), Arc::clone(&catalog), &dirs));
        let conductor = Conductor::new(Arc::clone(&catalog), conductor_model, vec![local], config.conductor.clone());
        Ok(Self {
            engine,
            pool,
            default_model,
            catalog,
            store,
            conductor,
            interrupted,
            data_dir,
        })
    }

    /// The catalog.
    #[must_use]
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Where the journal, installed models and other state live.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The journal and state store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The conductor.
    #[must_use]
    pub fn conductor(&self) -> &Conductor {
        &self.conductor
    }

    /// Queries an earlier run left unfinished (found at start-up, now marked interrupted).
    #[must_use]
    pub fn interrupted(&self) -> &[QuerySummary] {
        &self.interrupted
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
