//! The data folder kept private: on Unix it is created with mode 0700
//! (only its owner may list or open anything in it: the journal, the
//! identity key, installed models), an existing one with more open modes is
//! tightened to 0700 at start, and the identity key file to 0600. Each
//! change is logged, and so is a mode that cannot be changed (a folder
//! owned by someone else): the node starts all the same. Elsewhere
//! (Windows) the folder is created as the platform does, with the access
//! its parent folder grants.

#[cfg(test)]
mod tests;

use std::path::Path;

/// What [`secure`] changed, for the log and the tests: `(path, old mode,
/// new mode)`.
pub(crate) type Tightened = Vec<(std::path::PathBuf, u32, u32)>;

/// Creates `dir` (its parents as the platform does, `dir` itself 0700 on
/// Unix) and tightens it and its identity key. Returns what it changed.
///
/// # Errors
/// The folder cannot be created.
pub(crate) fn secure(dir: &Path) -> std::io::Result<Tightened> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut changed = Vec::new();
    create(dir)?;
    #[cfg(unix)]
    {
        tighten_or_warn(dir, &mut changed);
        for name in [chorus_net::KEY_FILE, chorus_net::REQUESTER_KEY_FILE] {
            let key = dir.join(name);
            if key.is_file() {
                tighten_or_warn(&key, &mut changed);
            }
        }
    }
    log(&changed);
    Ok(changed)
}

/// Makes a file outside the data folder private to its owner (on Unix:
/// the group's and others' bits taken away, as for the identity key), such
/// as the app's settings, which hold the private names. A file that is
/// missing, or whose mode cannot be changed, is logged and left alone.
pub fn keep_private(path: &Path) {
    #[cfg(unix)]
    {
        let mut changed = Vec::new();
        if path.exists() {
            tighten_or_warn(path, &mut changed);
        }
        log(&changed);
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn log(changed: &Tightened) {
    for (path, old, new) in changed {
        tracing::warn!(
            path = %path.display(),
            old = %format!("{old:04o}"),
            new = %format!("{new:04o}"),
            "others could read this; it is now private to its owner"
        );
    }
}

#[cfg(unix)]
fn create(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

#[cfg(not(unix))]
fn create(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// [`tighten`], logging a failure instead of failing the start.
#[cfg(unix)]
fn tighten_or_warn(path: &Path, changed: &mut Tightened) {
    if let Err(error) = tighten(path, changed) {
        tracing::warn!(path = %path.display(), %error, "cannot make this private to its owner");
    }
}

/// Takes away the group's and others' bits (and set-id and sticky bits),
/// and records the change: a folder 0755 becomes 0700, a key 0644 0600.
/// The owner's own bits are left as they are, so a key the owner made
/// read-only stays so.
#[cfg(unix)]
fn tighten(path: &Path, changed: &mut Tightened) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    let tight = mode & 0o700;
    if tight != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(tight))?;
        changed.push((path.to_path_buf(), mode, tight));
    }
    Ok(())
}
