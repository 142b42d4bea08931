//! File helpers of the model manager: partial paths, free space.

use std::path::{Path, PathBuf};

use chorus_core::{PARTIAL_SUFFIX, VALIDATOR_SUFFIX};

use super::error::ModelsError;

/// Extra free space kept on top of what a pull needs.
const SPACE_MARGIN_BYTES: u64 = 16 << 20;

pub(crate) fn partial_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

/// The file next to a partial download that says which file its bytes are
/// of (the `ETag` for `If-Range`); it goes with the partial file.
pub(crate) fn validator_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(VALIDATOR_SUFFIX);
    PathBuf::from(name)
}

/// Whether `path` is inside `dir`, comparing canonical paths when they exist.
pub(crate) fn is_inside(path: &Path, dir: &Path) -> bool {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let file_dir = path.parent().map(canonical);
    file_dir.is_some_and(|parent| parent.starts_with(canonical(dir)))
}

/// Free bytes on the filesystem holding `dir`; `None` when it cannot be
/// told (the check is then skipped).
pub(crate) fn free_space(dir: &Path) -> Option<u64> {
    chorus_core::available_space(dir).ok()
}

/// Fails when the filesystem holding `dest` has less than `needed` bytes
/// (plus a margin) free.
pub(crate) fn check_space(dest: &Path, needed: u64) -> Result<(), ModelsError> {
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
