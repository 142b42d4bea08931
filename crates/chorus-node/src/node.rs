//! The node: configuration, start-up, and asking the local model.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chorus_net::{NetConfig, Network};

use crate::network::{NetworkDirectory, NetworkSettings, NodeService, PeerView};

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
    /// Specialists the local executor may run (`None`: every one whose
    /// base model is installed). A device can hold the conductor model and
    /// leave every specialist to peers.
    pub local_specialists: Option<std::collections::BTreeSet<String>>,
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
    /// The network could not start or failed.
    #[error("network: {0}")]
    Network(String),
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
        Self { question: question.into(), system: None, sampling: SamplingParams::default() }
    }
}

/// A running node.
///
/// Cloning is cheap and gives a second handle on the same engine, journal
/// and network: a shell can hand a snapshot to a long task (a download, a
/// query) while it swaps the network in or out on its own copy
/// ([`Node::join_network`], [`Node::leave_network`]).
#[derive(Clone)]
pub struct Node {
    engine: Engine,
    pool: Arc<ModelPool>,
    default_model: PathBuf,
    catalog: Arc<Catalog>,
    store: Store,
    conductor: Conductor,
    interrupted: Vec<QuerySummary>,
    data_dir: PathBuf,
    local: Arc<dyn Executor>,
    conductor_model: Arc<dyn TextGenerator>,
    on_device: Conductor,
    network: Option<Network>,
    service: Option<Arc<NodeService>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.data_dir)
            .field("default_model", &self.default_model)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
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
                searched: dirs.dirs().iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>().join(", "),
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
        let options = ModelOptions { context: config.context, parallel: config.parallel, ..ModelOptions::default() };
        let pool = Arc::new(ModelPool::new(engine.clone(), config.memory_budget, options));
        let conductor_model: Arc<dyn TextGenerator> =
            Arc::new(crate::local::LocalConductorModel { pool: Arc::clone(&pool), path: default_model.clone() });
        let local: Arc<dyn Executor> = Arc::new(crate::local::LocalExecutor::new(
            Arc::clone(&pool),
            Arc::clone(&catalog),
            &dirs,
            config.local_specialists.clone(),
        ));
        let conductor = Conductor::new(
            Arc::clone(&catalog),
            Arc::clone(&conductor_model),
            vec![Arc::clone(&local)],
            config.conductor.clone(),
        );
        Ok(Self {
            engine,
            pool,
            default_model,
            catalog,
            store,
            on_device: conductor.clone(),
            conductor,
            interrupted,
            data_dir,
            local,
            conductor_model,
            network: None,
            service: None,
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

    /// The conductor: over this device and the network once
    /// [`Node::join_network`] ran, over this device alone before.
    #[must_use]
    pub fn conductor(&self) -> &Conductor {
        &self.conductor
    }

    /// The conductor over this device alone (the per-query "on-device only"
    /// override).
    #[must_use]
    pub fn on_device_conductor(&self) -> &Conductor {
        &self.on_device
    }

    /// The network, when joined.
    #[must_use]
    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
    }

    /// What this device serves to peers, when it serves.
    #[must_use]
    pub fn service(&self) -> Option<&Arc<NodeService>> {
        self.service.as_ref()
    }

    /// Starts the network and, with `settings.serve`, serves peers within
    /// the owner's limits. Until this is called the node opens no socket:
    /// that is the "on-device only" privacy mode.
    ///
    /// # Errors
    /// [`NodeError::Network`] when the identity or the network cannot start.
    pub async fn join_network(&mut self, settings: NetworkSettings) -> Result<(), NodeError> {
        if self.network.is_some() {
            return Ok(());
        }
        let keypair = chorus_net::load_or_create_identity(&self.data_dir)
            .map_err(|error| NodeError::Network(error.to_string()))?;
        let mut net = NetConfig::tcp(settings.listen.clone());
        net.bootstrap = settings.bootstrap.clone();
        net.relays = settings.relays.clone();
        net.mdns = settings.mdns;
        net.relay_server = settings.relay_server;
        if let Some(tune) = settings.tune {
            tune(&mut net);
        }
        let service = settings
            .serve
            .clone()
            .map(|serve| NodeService::new(Arc::clone(&self.local), &self.catalog, serve, self.store.clone()));
        let task_service = service.as_ref().map(|service| {
            Arc::new(crate::network::ServiceHandle(Arc::clone(service))) as Arc<dyn chorus_net::TaskService>
        });
        let network =
            Network::start(keypair, net, task_service).await.map_err(|error| NodeError::Network(error.to_string()))?;
        if let Some(service) = &service {
            let served = service.served().clone();
            let network = network.clone();
            // Announcing takes a DHT round; the node serves meanwhile.
            tokio::spawn(async move {
                match network.set_provided(served).await {
                    Ok(reached) => tracing::info!(reached, "specialists announced"),
                    Err(error) => tracing::warn!(%error, "could not announce the specialists"),
                }
            });
        }
        let mut config = self.conductor.config().clone();
        config.max_attempts = config.max_attempts.max(3);
        if config.queue_timeout.is_zero() {
            config.queue_timeout = Duration::from_secs(120);
        }
        let directory = NetworkDirectory::new(
            Arc::clone(&self.local),
            network.clone(),
            self.store.clone(),
            config.subtask_deadline,
        );
        self.conductor = Conductor::with_directory(
            Arc::clone(&self.catalog),
            Arc::clone(&self.conductor_model),
            Arc::new(directory),
            config,
        );
        self.network = Some(network);
        self.service = service;
        Ok(())
    }

    /// Stops the network stack (every connection closes) and goes back to
    /// on-device only: later queries run on this device alone and peers are
    /// no longer served. Queries already running keep the conductor they
    /// started with; their remote sub-tasks fail over to this device.
    /// Does nothing when the network is not joined.
    pub fn leave_network(&mut self) {
        if let Some(network) = self.network.take() {
            network.shutdown();
        }
        self.service = None;
        self.conductor = self.on_device.clone();
    }

    /// Applies new serving limits (slots, serve on or off, only when idle
    /// or charging) to the running service at once: waiting peers may start
    /// or be refused. Returns `false` when this node does not serve (not
    /// joined, or joined without [`NetworkSettings::serve`]).
    pub fn set_serve_limits(&self, limits: chorus_core::ServeLimits) -> bool {
        self.service.as_ref().is_some_and(|service| {
            service.set_limits(limits);
            true
        })
    }

    /// Announces the served specialists again (after joining more peers).
    ///
    /// # Errors
    /// [`NodeError::Network`].
    pub async fn announce(&self) -> Result<usize, NodeError> {
        let (Some(network), Some(service)) = (&self.network, &self.service) else {
            return Ok(0);
        };
        network.set_provided(service.served().clone()).await.map_err(|error| NodeError::Network(error.to_string()))
    }

    /// The peers this node knows, with their live status (asked now, in
    /// parallel, for connected peers) and their standing in the ledger.
    ///
    /// # Errors
    /// [`NodeError::Network`] when the network is not joined or stopped.
    pub async fn peers(&self) -> Result<Vec<PeerView>, NodeError> {
        let network =
            self.network.as_ref().ok_or_else(|| NodeError::Network("the network is not started".to_owned()))?;
        let peers = network.peers().await.map_err(|error| NodeError::Network(error.to_string()))?;
        let probes = peers.iter().map(|peer| async move {
            let status = match (peer.connected && peer.chorus, peer.peer_id.parse()) {
                (true, Ok(id)) => {
                    tokio::time::timeout(Duration::from_secs(2), network.status(id)).await.ok().and_then(Result::ok)
                }
                _ => None,
            };
            let ledger = self.store.ledger(&peer.peer_id).unwrap_or_default();
            PeerView {
                peer_id: peer.peer_id.clone(),
                addresses: peer.addresses.clone(),
                connected: peer.connected,
                rtt_ms: peer.rtt_ms,
                status,
                standing: chorus_core::standing(&ledger),
                ledger,
            }
        });
        Ok(futures::future::join_all(probes).await)
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
