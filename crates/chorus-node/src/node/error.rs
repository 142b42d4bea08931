//! Why the node could not do what was asked, and each failure's code.

use chorus_core::{CatalogError, ConductorError, StoreError};
use chorus_engine::{EngineError, GenerateError, GgufError, LoadError};
use chorus_net::{IdentityError, NetError};

use crate::code::ErrorCode;
use crate::models::ModelsError;
use crate::settings::InvalidSettings;

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
    /// The model file given (`--model`) fails the GGUF check: llama.cpp
    /// would refuse it or abort on it. The message says what is wrong and
    /// where.
    #[error(transparent)]
    InvalidModel(#[from] GgufError),
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
    /// The conductor could not analyse, plan or answer a question.
    #[error(transparent)]
    Conductor(#[from] ConductorError),
    /// Listing, recommending, installing or removing models failed.
    #[error(transparent)]
    Models(#[from] ModelsError),
    /// The network could not start or failed. The message is the network's
    /// own, prefixed; the error is not also given as the source, so an error
    /// chain (`{:#}`) does not print it twice.
    #[error("network: {0}")]
    Network(NetError),
    /// This device's network identity (its key file) could not be read or
    /// created.
    #[error("network: {0}")]
    Identity(IdentityError),
    /// The network is not joined, or a step over it did not give what was
    /// needed (a specialist not announced, no address to listen on).
    #[error("network: {0}")]
    NetworkUnavailable(String),
    /// Settings that cannot be used (the message says which and why).
    #[error(transparent)]
    InvalidSettings(#[from] InvalidSettings),
    /// The data folder could not be created.
    #[error("data folder {}: {source}", path.display())]
    Io {
        /// The folder.
        path: std::path::PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
}

impl NodeError {
    /// A stable, machine-readable code (`empty_prompt`, `busy`,
    /// `model_not_found`, a model operation's own code, …).
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Generate(GenerateError::EmptyPrompt) => ErrorCode::EmptyPrompt,
            Self::Generate(GenerateError::Busy(_)) => ErrorCode::Busy,
            Self::Models(models) => models.code(),
            Self::Store(error) => ErrorCode::of_store(error),
            Self::Network(_) | Self::Identity(_) | Self::NetworkUnavailable(_) => ErrorCode::Network,
            Self::ModelNotFound { .. } => ErrorCode::ModelNotFound,
            Self::InvalidModel(_) | Self::Load(LoadError::InvalidFile(_)) => ErrorCode::InvalidModel,
            Self::Catalog(_) => ErrorCode::Catalog,
            Self::InvalidSettings(_) => ErrorCode::InvalidSettings,
            Self::Io { .. } => ErrorCode::Io,
            Self::Conductor(error) => crate::conduct::error_code(error),
            Self::Generate(_) | Self::Engine(_) | Self::Load(_) | Self::InvalidBench(_) => ErrorCode::Internal,
        }
    }
}

impl From<NetError> for NodeError {
    fn from(error: NetError) -> Self {
        Self::Network(error)
    }
}

impl From<IdentityError> for NodeError {
    fn from(error: IdentityError) -> Self {
        Self::Identity(error)
    }
}
