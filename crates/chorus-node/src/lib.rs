//! A running Chorus node: the one API over the engine and the domain core
//! that the `chorus` command and the app call. Shells hold no logic of their
//! own; they adapt this crate's calls and events to a terminal or a window.
//!
//! ```no_run
//! use chorus_node::{AskRequest, Node, NodeConfig};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::start(NodeConfig::default())?;
//! let completion = node.ask(AskRequest::new("What is Chorus?"))?.blocking_complete()?;
//! println!("{}", completion.text);
//! # Ok(())
//! # }
//! ```

mod chat;
mod cluster;
mod code;
mod conduct;
mod folder;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod host;
mod local;
mod models;
mod network;
mod node;
mod reply;
mod retention;
mod semantic;
mod serving;
mod settings;

pub use chat::ChatError;
pub use cluster::{Cluster, ClusterMember, start_cluster};
pub use code::ErrorCode;
pub use conduct::{Continues, RunningQuery};
pub use folder::keep_private;
pub use host::{
    BUSY_LIMIT, HostProbe, device_charging, device_class, device_idle, host_probe, others_busy, process_cpu_seconds,
    total_memory,
};
pub use local::engine_request;
pub use models::{
    BaseModelStatus, ModelListing, ModelRecommendation, ModelsError, PullOptions, PullOutcome, RemovedModel,
    SpecialistStatus,
};
/// The requester's rules (lookups, probes, candidates, demotion, credit), for `chorus sim`.
pub use network::rules as requester_rules;
pub use network::{NetworkSettings, NodeService, PeerView, RequesterIdentity, ServeSettings};
pub use node::{AskRequest, Node, NodeConfig, NodeError, default_data_dir};
pub use reply::ErrorReply;
pub use semantic::EMBEDDER_DIR;
pub use serving::{task_request, task_service};
pub use settings::{
    InvalidSettings, MAX_HISTORY_DAYS, MAX_SLOTS, MAX_THREADS, NetworkChange, Privacy, Settings, network_change,
};

/// The network layer's types (peer ids, addresses, statuses).
pub use chorus_net as net;

pub use chorus_engine::{
    ChatMessage, Completion, Constraint, FinishReason, GenerateError, GenerateRequest, Generation, GenerationEvent,
    ModelInfo, Role, SamplingParams,
};

/// The domain types (catalog, conductor events, journal records) the shells show.
pub use chorus_core as core;

/// Cancels a running [`Node::pull`].
pub use tokio_util::sync::CancellationToken;
