//! What model operations report: the listing, recommendations, pull
//! outcomes and removals (serialised as the CLI's `--json` prints them).

use std::path::PathBuf;

use serde::Serialize;

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

/// How [`Node::pull`](crate::Node::pull) may install a model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullOptions {
    /// Install a model the catalog has no sha256 for (its file cannot be
    /// checked; its sha256 is recorded at this first install and any later
    /// change is refused). Without it such a pull fails with
    /// [`ModelsError::Unverified`](crate::ModelsError::Unverified).
    pub allow_unverified: bool,
}

/// A base model in place after [`Node::pull`](crate::Node::pull).
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

/// What [`Node::remove_model`](crate::Node::remove_model) deleted.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedModel {
    /// The base model.
    pub id: String,
    /// Files deleted (the model, its `.partial`, fetched wheels).
    pub files: Vec<PathBuf>,
    /// Whether a registry entry was removed.
    pub registry_entry: bool,
}
