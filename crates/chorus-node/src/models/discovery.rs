//! Which model file this device uses for a name: the first in the search
//! order ([`ModelDirs`]), except that a file in the working directory's
//! `models/` folder is used only when its sha256 is one this device already
//! trusts for that name: the recorded hash of an installed model, or the
//! catalog's (the embedded model's, compiled in, counts as the catalog's).
//! Any other file there is ignored with a warning that says why, and the
//! search goes on to the verified install.
//!
//! Hashing a large model at every start would be slow, so:
//! * a file whose size matches no trusted copy is refused without hashing;
//! * a hash is kept in the journal with the file's stamp (size, times,
//!   inode: [`FileStamp`]) and reused while the file is unchanged.
//!
//! Comparing with the installed model's recorded hash alone would not
//! spare the hashing: the file found is another file, whose hash is not
//! recorded anywhere until it has been read once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chorus_core::{Catalog, EMBEDDED_MODEL, FileStamp, InstalledKind, ModelDirs, Store, sha256_file};

/// A hash this device trusts for a file name, and where it comes from.
struct Trusted {
    size: u64,
    sha256: String,
    source: &'static str,
}

/// Why a file of the checked folder may be used (whose hash it matches), or
/// why not.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Use(&'static str),
    Ignore(String),
}

/// Finds model files, vouching for those of the checked folder by hash.
#[derive(Clone)]
pub(crate) struct ModelFinder {
    dirs: ModelDirs,
    catalog: Arc<Catalog>,
    store: Store,
    /// The file the owner named (`--model`): used as it is, wherever it is.
    explicit: Option<PathBuf>,
}

impl std::fmt::Debug for ModelFinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelFinder").field("dirs", &self.dirs).finish_non_exhaustive()
    }
}

impl ModelFinder {
    pub(crate) fn new(dirs: ModelDirs, catalog: Arc<Catalog>, store: Store) -> Self {
        Self { dirs, catalog, store, explicit: None }
    }

    /// The same finder, taking `path` (the owner's `--model`) as it is.
    pub(crate) fn with_explicit(mut self, path: PathBuf) -> Self {
        self.explicit = Some(path);
        self
    }

    /// The directories searched, in order.
    pub(crate) fn dirs(&self) -> &ModelDirs {
        &self.dirs
    }

    /// The file this device uses for `file_name`, if any.
    pub(crate) fn find(&self, file_name: &str) -> Option<PathBuf> {
        self.dirs.find(file_name, |path| self.vouch(file_name, path))
    }

    /// The hashes this device trusts for `file_name`.
    fn trusted(&self, file_name: &str) -> Vec<Trusted> {
        let mut trusted = Vec::new();
        if file_name == EMBEDDED_MODEL.file_name {
            let sha256 = EMBEDDED_MODEL.sha256.to_owned();
            trusted.push(Trusted { size: EMBEDDED_MODEL.size_bytes, sha256, source: "the embedded model's hash" });
        }
        let bases: Vec<_> = self.catalog.base_models().iter().filter(|base| base.file_name == file_name).collect();
        for base in &bases {
            if let Some(sha256) = &base.sha256 {
                trusted.push(Trusted { size: base.size_bytes, sha256: sha256.clone(), source: "the catalog's hash" });
            }
        }
        match self.store.installed() {
            Ok(installed) => {
                for entry in installed {
                    let named = entry.path.file_name().is_some_and(|name| name == file_name)
                        || bases.iter().any(|base| base.id == entry.id);
                    if let (true, InstalledKind::BaseModel, Some(sha256)) = (named, entry.kind, entry.sha256) {
                        let source = "an installed model's recorded hash";
                        trusted.push(Trusted { size: entry.size_bytes, sha256, source });
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the installed models; only the catalog's hashes count"),
        }
        trusted
    }

    /// Whether the file at `path`, in the checked folder, may be used for
    /// `file_name`; says why in the log.
    fn vouch(&self, file_name: &str, path: &Path) -> bool {
        match self.verdict(file_name, path) {
            Verdict::Use(source) => {
                tracing::info!(path = %path.display(), "using this model file: its sha256 matches {source}");
                true
            }
            Verdict::Ignore(why) => {
                // Once per file and process: a node looks a name up more than once.
                static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
                let first = WARNED.lock().map_or(true, |mut warned| warned.insert(path.to_path_buf()));
                if first {
                    tracing::warn!(
                        path = %path.display(),
                        "ignoring this model file in the working directory: {why}; using the verified install \
                         instead (pass --model PATH to use it anyway)"
                    );
                }
                false
            }
        }
    }

    /// Whether the file at `path`, in the checked folder, may be used for
    /// `file_name`, and why.
    pub(super) fn verdict(&self, file_name: &str, path: &Path) -> Verdict {
        if self.explicit.as_deref().is_some_and(|explicit| same_file(explicit, path)) {
            return Verdict::Use("the file given with --model");
        }
        let trusted = self.trusted(file_name);
        if trusted.is_empty() {
            return Verdict::Ignore(format!("no installed model or catalog entry records a sha256 for {file_name}"));
        }
        let size = match std::fs::metadata(path) {
            Ok(metadata) => metadata.len(),
            Err(error) => return Verdict::Ignore(format!("it cannot be read ({error})")),
        };
        if !trusted.iter().any(|known| known.size == size) {
            return Verdict::Ignore(format!("its size ({size} bytes) is not that of any trusted copy of {file_name}"));
        }
        let actual = match self.sha256(path) {
            Ok(actual) => actual,
            Err(why) => return Verdict::Ignore(why),
        };
        match trusted.iter().find(|known| known.sha256 == actual) {
            Some(known) => Verdict::Use(known.source),
            None => Verdict::Ignore(format!(
                "its sha256 {actual} is neither an installed model's recorded hash nor the catalog's for {file_name}"
            )),
        }
    }

    /// The file's sha256, from the journal's cache while the file is
    /// unchanged.
    fn sha256(&self, path: &Path) -> Result<String, String> {
        let stamp = FileStamp::of(path).map_err(|error| format!("it cannot be read ({error})"))?;
        match self.store.file_hash(path, &stamp) {
            Ok(Some(sha256)) => return Ok(sha256),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot read the cache of file hashes"),
        }
        tracing::info!(path = %path.display(), "hashing a model file found in the working directory");
        let sha256 = sha256_file(path).map_err(|error| format!("it cannot be hashed ({error})"))?;
        if let Err(error) = self.store.record_file_hash(path, &stamp, &sha256) {
            tracing::warn!(%error, "cannot remember the file's hash");
        }
        Ok(sha256)
    }
}

/// Whether two paths name the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
