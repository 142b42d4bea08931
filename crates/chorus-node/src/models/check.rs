//! The check before a base model's file goes to llama.cpp: a file whose
//! sha256 was recorded at install must still have it, and a model the
//! catalog has no sha256 for runs only once it was installed with the
//! explicit allowance (which recorded its hash).
//!
//! A file is hashed once per process while its size and modification time
//! stay the same.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use chorus_core::{BaseModel, InstalledKind, InstalledModel, Store, sha256_file};

use super::error::{ModelsError, io_error};

/// What to do with a base model's file before loading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hash the file and compare with the sha256 recorded at install.
    Compare(String),
    /// Load it: the catalog's sha256 was checked when the file was placed
    /// (by `pull`, setup or the app's bundled copy) and nothing was
    /// recorded since.
    Load,
    /// Refuse it: unverified, and never installed with the allowance.
    Refuse,
}

/// The verdict for `base` given its registry entry, if it has one for the
/// file about to be loaded. Pure.
pub(crate) fn verdict(base: &BaseModel, entry: Option<&InstalledModel>) -> Verdict {
    match (entry.and_then(|entry| entry.sha256.clone()), base.is_verified()) {
        (Some(recorded), _) => Verdict::Compare(recorded),
        (None, true) => Verdict::Load,
        (None, false) => Verdict::Refuse,
    }
}

/// The registry entry of `base`, if it is a base model's and for `path`.
pub(crate) fn entry_for(store: &Store, base: &BaseModel, path: &Path) -> Result<Option<InstalledModel>, ModelsError> {
    Ok(store
        .installed_model(&base.id)?
        .filter(|entry| entry.kind == InstalledKind::BaseModel && same_file(&entry.path, path)))
}

fn same_file(a: &Path, b: &Path) -> bool {
    let canonical = |path: &Path| path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    canonical(a) == canonical(b)
}

/// What a file looked like when it was hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp_of(path: &Path) -> Result<Stamp, ModelsError> {
    let metadata = std::fs::metadata(path).map_err(io_error(path))?;
    Ok(Stamp { len: metadata.len(), modified: metadata.modified().ok() })
}

/// The check of base model files before they are loaded, with the hashes
/// of this process.
#[derive(Debug)]
pub(crate) struct LoadCheck {
    store: Store,
    hashed: Mutex<HashMap<PathBuf, (Stamp, String)>>,
}

impl LoadCheck {
    pub(crate) fn new(store: Store) -> Self {
        Self { store, hashed: Mutex::new(HashMap::new()) }
    }

    /// Where `base` is installed according to the registry, if its file
    /// is there.
    pub(crate) fn recorded_path(&self, base: &BaseModel) -> Option<PathBuf> {
        let entry = self.store.installed_model(&base.id).ok().flatten()?;
        (entry.kind == InstalledKind::BaseModel && entry.path.is_file()).then_some(entry.path)
    }

    /// Whether `base`'s file at `path` may be loaded without hashing it:
    /// anything but [`Verdict::Refuse`]. A registry that cannot be read
    /// says yes here; [`check`](Self::check) then says no.
    pub(crate) fn admissible(&self, base: &BaseModel, path: &Path) -> bool {
        entry_for(&self.store, base, path).map_or(true, |entry| verdict(base, entry.as_ref()) != Verdict::Refuse)
    }

    /// Ok when `base`'s file at `path` may go to llama.cpp.
    ///
    /// # Errors
    /// [`ModelsError::Unverified`] for an unverified model that was never
    /// installed with the allowance; [`ModelsError::Changed`] for a file
    /// whose sha256 is not the one recorded at install; a registry or file
    /// error.
    pub(crate) fn check(&self, base: &BaseModel, path: &Path) -> Result<(), ModelsError> {
        let entry = entry_for(&self.store, base, path)?;
        let recorded = match verdict(base, entry.as_ref()) {
            Verdict::Load => return Ok(()),
            Verdict::Refuse => return Err(ModelsError::Unverified { id: base.id.clone() }),
            Verdict::Compare(recorded) => recorded,
        };
        let actual = self.sha256_of(path)?;
        if actual.eq_ignore_ascii_case(&recorded) {
            return Ok(());
        }
        tracing::warn!(
            id = %base.id,
            path = %path.display(),
            %recorded,
            %actual,
            "installed model changed; not loaded"
        );
        let found = format!("sha256 {actual}");
        Err(ModelsError::Changed { id: base.id.clone(), what: path.display().to_string(), recorded, found })
    }

    /// The file's sha256, hashed again only when its size or modification
    /// time changed.
    fn sha256_of(&self, path: &Path) -> Result<String, ModelsError> {
        let stamp = stamp_of(path)?;
        let known = self.hashed.lock().unwrap_or_else(PoisonError::into_inner).get(path).cloned();
        if let Some((seen, sha256)) = known
            && seen == stamp
        {
            return Ok(sha256);
        }
        let sha256 = sha256_file(path)?;
        // Stamped before hashing: a change while hashing is seen next time.
        self.hashed.lock().unwrap_or_else(PoisonError::into_inner).insert(path.to_path_buf(), (stamp, sha256.clone()));
        Ok(sha256)
    }
}
