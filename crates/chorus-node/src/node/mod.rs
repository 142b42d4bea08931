//! The node: configuration, start-up, and asking the local model. Joining
//! and leaving the network is in `join.rs`; model operations go to the
//! [`ModelManager`].

mod error;
mod history;
mod join;

pub use error::NodeError;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use chorus_core::{
    Catalog, Conductor, ConductorConfig, ConductorWriting, DownloadProgress, EMBEDDED_MODEL, Executor, ModelDirs,
    Profile, QuerySummary, SemanticSlot, Store, TextGenerator,
};
use chorus_engine::{
    ChatMessage, Engine, EngineOptions, GenerateError, GenerateRequest, Generation, Model, ModelOptions, ModelPool,
    SamplingParams,
};
use chorus_net::Network;
use tokio_util::sync::CancellationToken;

use crate::models::{
    LoadCheck, ModelFinder, ModelListing, ModelManager, ModelRecommendation, PullOptions, PullOutcome, RemovedModel,
    install_dir_of,
};
use crate::network::NodeService;
use crate::retention::Retention;

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
    /// Specialists the local executor may run (`None`: every one whose
    /// base model is installed). A device can hold the conductor model and
    /// leave every specialist to peers.
    pub local_specialists: Option<std::collections::BTreeSet<String>>,
    /// Days of history the journal keeps (`None`: forever). Queries that
    /// began longer ago are deleted at start and once a day while the node
    /// runs; [`Node::set_history_days`] changes it.
    pub history_days: Option<u32>,
    /// The sentence-embedding model folder for semantic routing
    /// (`all-MiniLM-L6-v2`); `None` looks for it in the models folders.
    /// Without one, routing uses keywords alone.
    pub embedder: Option<PathBuf>,
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
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from(".chorus"), |home| PathBuf::from(home).join(".local/share/chorus"))
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
            local_specialists: None,
            history_days: None,
            embedder: None,
        }
    }
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

/// The least weights of a conductor model (`--model`) that drafts plans and
/// writes answers freely (checked, and lost parts added back); a smaller one
/// leaves planning to the analysis and the answer to composition.
pub(crate) const FREE_WRITING_PARAMETERS: u64 = 1_000_000_000;

/// The system prompt of a plain `ask` until the conductor picks specialists.
pub(crate) const DEFAULT_SYSTEM_PROMPT: &str =
    "You are Chorus, a helpful assistant running privately on this device. Answer clearly and concisely.";

impl AskRequest {
    /// A question with default settings.
    pub fn new(question: impl Into<String>) -> Self {
        Self { question: question.into(), system: None, sampling: SamplingParams::default() }
    }
}

/// A running node.
///
/// Joining and leaving the network take `&self`: a shell keeps one node
/// and switches privacy on it. Cloning is cheap and gives a snapshot: a
/// second handle on the same engine, journal and (if joined) network, which
/// a shell can hand to a long task (a download, a query); a later
/// [`Node::join_network`] or [`Node::leave_network`] on the original does
/// not change what the snapshot sees, though a network it shares stops for
/// both when left.
pub struct Node {
    engine: Engine,
    pool: Arc<ModelPool>,
    default_model: PathBuf,
    catalog: Arc<Catalog>,
    store: Store,
    interrupted: Vec<QuerySummary>,
    data_dir: PathBuf,
    local: Arc<dyn Executor>,
    /// The same executor, for chatting with one specialist (`chat.rs`).
    local_models: Arc<crate::local::LocalExecutor>,
    conductor_model: Arc<dyn TextGenerator>,
    /// The conductor over this device alone; replaced when the privacy
    /// settings change.
    on_device: RwLock<Conductor>,
    /// The network half, once joined.
    joined: RwLock<Option<join::Joined>>,
    /// Serialises [`Node::join_network`] calls on this handle.
    joining: tokio::sync::Mutex<()>,
    models: ModelManager,
    /// How long the journal keeps past questions (shared by every clone).
    retention: Arc<Retention>,
    /// The semantic routing index, once ready (shared by every conductor).
    semantic: SemanticSlot,
    /// Whether the index's preparation has ended (ready, failed or none).
    semantic_settled: crate::semantic::Settled,
}

impl Clone for Node {
    fn clone(&self) -> Self {
        Self {
            engine: self.engine.clone(),
            pool: Arc::clone(&self.pool),
            default_model: self.default_model.clone(),
            catalog: Arc::clone(&self.catalog),
            store: self.store.clone(),
            interrupted: self.interrupted.clone(),
            data_dir: self.data_dir.clone(),
            local: Arc::clone(&self.local),
            local_models: Arc::clone(&self.local_models),
            conductor_model: Arc::clone(&self.conductor_model),
            on_device: RwLock::new(self.on_device_conductor()),
            joined: RwLock::new(self.joined()),
            joining: tokio::sync::Mutex::new(()),
            models: self.models.clone(),
            retention: Arc::clone(&self.retention),
            semantic: self.semantic.clone(),
            semantic_settled: self.semantic_settled.clone(),
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.data_dir)
            .field("default_model", &self.default_model)
            .field("network", &self.network())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts the engine and finds the default model (it is loaded on first use).
    ///
    /// The data folder is created private to its owner (mode 0700 on Unix)
    /// and tightened to that if it was more open, the identity key in it to
    /// 0600 (each change logged; a mode that cannot be changed is logged
    /// too, and the node starts all the same). The history setting
    /// ([`NodeConfig::history_days`]) is applied before the node returns.
    ///
    /// # Errors
    /// [`NodeError::ModelNotFound`], [`NodeError::InvalidModel`] when the
    /// `--model` file fails the GGUF check, [`NodeError::Engine`],
    /// [`NodeError::Io`] when the data folder cannot be created,
    /// [`NodeError::Store`] when the journal cannot be opened,
    /// [`NodeError::InvalidSettings`] for `history_days` outside 1–36500.
    pub fn start(mut config: NodeConfig) -> Result<Self, NodeError> {
        crate::settings::check_history_days(config.history_days)?;
        let data_dir = config.data_dir.clone().unwrap_or_else(default_data_dir);
        // Models installed by `chorus models pull` are found like the others.
        let mut dirs = ModelDirs::standard();
        dirs.push(install_dir_of(&data_dir));
        if let Some(path) = &config.model {
            if !path.is_file() {
                return Err(NodeError::ModelNotFound {
                    file: path.display().to_string(),
                    searched: "the given path".to_owned(),
                });
            }
            // Given by the owner, so used as it is; but llama.cpp must
            // survive it, so its header is checked now.
            let info = chorus_engine::inspect_gguf(path)?;
            // A conductor this large plans and writes the answer itself.
            if info.parameters >= FREE_WRITING_PARAMETERS {
                config.conductor.writing = ConductorWriting::Free;
            }
            if let Some(parent) = path.parent() {
                dirs.push_front(parent.to_path_buf());
            }
        }
        let catalog = Arc::new(match &config.catalog {
            Some(path) => Catalog::load(path)?,
            None => Catalog::bundled()?,
        });
        crate::folder::secure(&data_dir).map_err(|source| NodeError::Io { path: data_dir.clone(), source })?;
        let store = Store::open(data_dir.join("journal"))?;
        let interrupted = store.recover()?;
        if !interrupted.is_empty() {
            tracing::warn!(count = interrupted.len(), "queries interrupted by an earlier crash");
        }
        let embedder_dir = config.embedder.clone().or_else(|| crate::semantic::find(dirs.dirs()));
        let mut finder = ModelFinder::new(dirs, Arc::clone(&catalog), store.clone());
        if let Some(path) = &config.model {
            finder = finder.with_explicit(path.clone());
        }
        let default_model = match &config.model {
            Some(path) => path.clone(),
            None => finder.find(EMBEDDED_MODEL.file_name).ok_or_else(|| NodeError::ModelNotFound {
                file: EMBEDDED_MODEL.file_name.to_owned(),
                searched: finder
                    .dirs()
                    .dirs()
                    .iter()
                    .map(|dir| dir.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        };
        let retention = Arc::new(Retention::new(store.clone(), None));
        retention.set(config.history_days)?;
        let engine = Engine::new(EngineOptions { threads: config.threads })?;
        let options = ModelOptions { context: config.context, parallel: config.parallel, ..ModelOptions::default() };
        let pool = Arc::new(ModelPool::new(engine.clone(), config.memory_budget, options));
        let conductor_model: Arc<dyn TextGenerator> =
            Arc::new(crate::local::LocalConductorModel { pool: Arc::clone(&pool), path: default_model.clone() });
        let local_models = Arc::new(crate::local::LocalExecutor::new(
            Arc::clone(&pool),
            Arc::clone(&catalog),
            &finder,
            config.local_specialists.clone(),
            LoadCheck::new(store.clone()),
        ));
        let local: Arc<dyn Executor> = local_models.clone();
        let semantic = SemanticSlot::default();
        let semantic_settled = match embedder_dir {
            Some(dir) => crate::semantic::start(
                semantic.clone(),
                dir,
                Arc::clone(&catalog),
                crate::semantic::cache_dir(&data_dir),
            ),
            None => {
                tracing::info!("no sentence-embedding model found: routing by keywords alone");
                crate::semantic::Settled::now()
            }
        };
        let conductor = Conductor::new(
            Arc::clone(&catalog),
            Arc::clone(&conductor_model),
            vec![Arc::clone(&local)],
            config.conductor.clone(),
        )
        .with_semantic(semantic.clone());
        let models = ModelManager::new(Arc::clone(&catalog), store.clone(), &data_dir);
        Ok(Self {
            models,
            engine,
            pool,
            default_model,
            catalog,
            store,
            on_device: RwLock::new(conductor),
            interrupted,
            data_dir,
            local,
            local_models,
            conductor_model,
            joined: RwLock::new(None),
            joining: tokio::sync::Mutex::new(()),
            retention,
            semantic,
            semantic_settled,
        })
    }

    /// Waits until semantic routing is ready, at most `timeout`; false when
    /// it is not (still computing after `timeout`, or at once when there is
    /// no model or it failed to load). Routing works meanwhile, by keywords
    /// alone.
    #[must_use]
    pub fn wait_for_semantic_routing(&self, timeout: std::time::Duration) -> bool {
        crate::semantic::wait(&self.semantic, &self.semantic_settled, timeout)
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

    /// The conductor: over this device and the network once
    /// [`Node::join_network`] ran, over this device alone before.
    #[must_use]
    pub fn conductor(&self) -> Conductor {
        self.joined().map_or_else(|| self.on_device_conductor(), |joined| joined.conductor)
    }

    /// The conductor over this device alone (the per-query "on-device only"
    /// override).
    #[must_use]
    pub fn on_device_conductor(&self) -> Conductor {
        self.on_device.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Sets what the conductors redact and keep home: the names the owner
    /// listed, and whether sensitive parts stay on this device. Applies to
    /// questions asked from now on, on this handle.
    pub fn set_privacy(&self, private_names: &[String], keep_sensitive_on_device: bool) {
        let names = private_names.to_vec();
        {
            let mut on_device = self.on_device.write().unwrap_or_else(PoisonError::into_inner);
            *on_device = on_device.with_privacy(names.clone(), keep_sensitive_on_device);
        }
        if let Some(joined) = self.joined.write().unwrap_or_else(PoisonError::into_inner).as_mut() {
            joined.conductor = joined.conductor.with_privacy(names, keep_sensitive_on_device);
        }
    }

    /// The network, when joined.
    #[must_use]
    pub fn network(&self) -> Option<Network> {
        self.joined().map(|joined| joined.network)
    }

    /// What this device serves to peers, when it serves.
    #[must_use]
    pub fn service(&self) -> Option<Arc<NodeService>> {
        self.joined().and_then(|joined| joined.service)
    }

    /// This device's executor of specialists (`chat.rs`).
    pub(crate) fn local_models(&self) -> &crate::local::LocalExecutor {
        &self.local_models
    }

    /// The network half as it is now.
    fn joined(&self) -> Option<join::Joined> {
        self.joined.read().unwrap_or_else(PoisonError::into_inner).clone()
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

    /// Where `pull` installs models: `<data_dir>/models`.
    #[must_use]
    pub fn models_dir(&self) -> PathBuf {
        self.models.models_dir()
    }

    /// Every base model and specialist of the catalog, with what is
    /// installed on this device.
    ///
    /// # Errors
    /// [`NodeError::Models`] if the installed registry cannot be read.
    pub fn list_models(&self) -> Result<ModelListing, NodeError> {
        Ok(self.models.list_models()?)
    }

    /// The 2–5 specialists that fit a profile (see
    /// [`chorus_core::recommend`]), with whether each is installed.
    ///
    /// # Errors
    /// [`NodeError::Models`] when nothing fits the storage or memory given,
    /// or the registry cannot be read.
    pub fn recommend_models(&self, profile: &Profile) -> Result<Vec<ModelRecommendation>, NodeError> {
        Ok(self.models.recommend_models(profile)?)
    }

    /// Installs a base model (or the base model of a specialist) into
    /// [`models_dir`](Self::models_dir), reporting progress as it goes.
    ///
    /// Returns at once if it is already installed and verified. The file is
    /// only moved into place once its size and sha256 match the catalog.
    /// A model without a published sha256 installs only with
    /// [`PullOptions::allow_unverified`] and is reported **unverified**
    /// (`verified: false`); its sha256 is recorded then, and a later pull
    /// or load of a different file is refused. The result is recorded in
    /// the installed registry.
    ///
    /// # Errors
    /// [`NodeError::Models`]: unknown id, an unverified model without the
    /// allowance (`unverified_model`), a file that is not the one recorded
    /// at the first install (`model_changed`), too little space, a failed
    /// download, pip or extraction, a size or hash mismatch, cancellation.
    /// On every error nothing is left at the destination; a cancelled or
    /// interrupted direct download keeps its `.partial` file to resume.
    pub async fn pull(
        &self,
        id: &str,
        options: PullOptions,
        progress: impl FnMut(DownloadProgress),
        cancel: CancellationToken,
    ) -> Result<PullOutcome, NodeError> {
        Ok(self.models.pull(id, options, progress, cancel).await?)
    }

    /// Deletes an installed base model (or the base model of a specialist):
    /// its file in [`models_dir`](Self::models_dir), any `.partial` and
    /// fetched wheels, and its registry entry.
    ///
    /// # Errors
    /// [`NodeError::Models`]: unknown id;
    /// [`ModelsError::OutsideInstallDir`] when the only copy lives outside
    /// the install directory (the embedded model in the repository's
    /// `models/` folder); [`ModelsError::NotInstalled`] when there is
    /// nothing to remove.
    pub fn remove_model(&self, id: &str) -> Result<RemovedModel, NodeError> {
        Ok(self.models.remove_model(id)?)
    }
}
