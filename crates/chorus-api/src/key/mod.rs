//! The API key: 32 random bytes from the operating system, as 64 hex
//! digits in `<data-dir>/api.key` (mode 0600), made on first start and
//! reused after.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The key file's name inside the data folder.
pub const KEY_FILE: &str = "api.key";

/// Fewest characters a key read from the file may have.
const MIN_KEY_CHARS: usize = 32;

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("API key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The file holds something too short to be a key.
    #[error("API key file {0} holds no key (delete it to make a new one)")]
    Empty(PathBuf),
    /// The operating system gave no random bytes.
    #[error("no random bytes for the API key: {0}")]
    Random(String),
}

/// The key of `data_dir` and its file: read if it exists (its mode
/// tightened to 0600), else made.
///
/// # Errors
/// [`KeyError`].
pub fn load_or_create(data_dir: &Path) -> Result<(String, PathBuf), KeyError> {
    let path = data_dir.join(KEY_FILE);
    let io = |source| KeyError::Io { path: path.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_owned();
            if key.len() < MIN_KEY_CHARS {
                return Err(KeyError::Empty(path));
            }
            private(&path).map_err(io)?;
            return Ok((key, path));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io(error)),
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let key = new_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(format!("{key}\n").as_bytes()).map_err(io)?;
            file.sync_all().map_err(io)?;
            Ok((key, path))
        }
        // Another process made it first: use that one.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(data_dir),
        Err(error) => Err(io(error)),
    }
}

/// 32 random bytes as 64 lower-case hex digits.
fn new_key() -> Result<String, KeyError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| KeyError::Random(error.to_string()))?;
    Ok(hex(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A random 32-bit number (a request's seed when it gives none).
pub(crate) fn random_u32() -> u32 {
    let mut bytes = [0_u8; 4];
    // Without the OS's randomness the seed is merely fixed: not a failure.
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes)
}

#[cfg(unix)]
fn private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if mode != 0o600 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "API key file was not private: now 0600");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Whether `given` is `key`, in time that does not depend on where they
/// differ.
pub(crate) fn same(given: &[u8], key: &[u8]) -> bool {
    if given.len() != key.len() {
        return false;
    }
    given.iter().zip(key).fold(0_u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests;
