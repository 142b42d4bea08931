//! The registry of models installed on this device.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TREE_INSTALLED, decode, encode};

/// What an installed model is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalledKind {
    /// A base GGUF model.
    BaseModel,
    /// A specialist (its prompt, sampling and optional adapter).
    Specialist,
}

/// A model present on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledModel {
    /// Catalog id of the base model or specialist.
    pub id: String,
    /// Base model or specialist.
    pub kind: InstalledKind,
    /// Where its file is.
    pub path: PathBuf,
    /// Size of the file in bytes.
    pub size_bytes: u64,
    /// Lowercase hex sha256 of the file, when known.
    pub sha256: Option<String>,
    /// Whether the file was checked against a published sha256.
    pub verified: bool,
    /// When it was installed, unix milliseconds.
    pub installed_at_ms: u64,
}

impl Store {
    /// Records (or replaces) an installed model. Flushed.
    pub fn record_installed(&self, model: &InstalledModel) -> Result<(), StoreError> {
        let _ = self.inner.installed.insert(model.id.as_bytes(), encode(model)?)?;
        self.flush()
    }

    /// Every installed model, by id; corrupt entries are skipped and logged.
    pub fn installed(&self) -> Result<Vec<InstalledModel>, StoreError> {
        let mut models = Vec::new();
        for entry in self.inner.installed.iter() {
            let (key, value) = entry?;
            match decode(TREE_INSTALLED, || String::from_utf8_lossy(&key).into_owned(), &value) {
                Ok(model) => models.push(model),
                Err(error) => tracing::warn!(%error, "skipping a corrupt installed-model entry"),
            }
        }
        Ok(models)
    }

    /// One installed model, if recorded.
    pub fn installed_model(&self, id: &str) -> Result<Option<InstalledModel>, StoreError> {
        self.inner
            .installed
            .get(id.as_bytes())?
            .map(|value| decode(TREE_INSTALLED, || id.to_owned(), &value))
            .transpose()
    }

    /// Forgets an installed model; returns whether it was recorded. Flushed.
    /// (Deleting the file is the model manager's job.)
    pub fn remove_installed(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.inner.installed.remove(id.as_bytes())?.is_some();
        self.flush()?;
        Ok(existed)
    }
}
