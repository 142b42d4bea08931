//! The node's identity: one Ed25519 key, kept in the data directory.
//!
//! The key is the node's peer id and signs its receipts, so it must survive
//! restarts (a new key would be a stranger with no standing) and stay
//! private: the file is created with mode 0600 and written atomically.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use libp2p::identity::Keypair;

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "identity.key";

/// Why the identity could not be loaded or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// Reading or writing the key file failed.
    #[error("identity key {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but does not hold an Ed25519 key.
    #[error("identity key {path} is not a valid key ({reason}); move it away to start with a new identity")]
    Corrupt {
        /// The key file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// Loads the key from `dir/identity.key`, or creates one there on first start.
///
/// # Errors
/// [`IdentityError`] when the file cannot be read or written, or is corrupt
/// (a corrupt key is never silently replaced: it is the node's standing).
pub fn load_or_create(dir: &Path) -> Result<Keypair, IdentityError> {
    let path = dir.join(KEY_FILE);
    match read_key(&path)? {
        Some(keypair) => Ok(keypair),
        None => write_new_key(dir, KEY_FILE),
    }
}

/// File name of the requester key inside the data directory.
pub const REQUESTER_KEY_FILE: &str = "requester.key";

/// The identity this device asks peers under, kept apart from the one it
/// serves under (`identity.key`), so that a peer cannot tie the questions
/// to the device that serves it, and replaced once older than `every`, so
/// that it cannot tie questions asked further apart to each other. The
/// key's age is its file's modification time. Returns the key and when it
/// was made. A corrupt or unreadable key is replaced: it carries no
/// standing.
///
/// # Errors
/// [`IdentityError::Io`] when the key cannot be written.
pub fn requester_identity(
    dir: &Path,
    every: Duration,
    now: SystemTime,
) -> Result<(Keypair, SystemTime), IdentityError> {
    let path = dir.join(REQUESTER_KEY_FILE);
    let made = fs::metadata(&path).and_then(|metadata| metadata.modified()).ok();
    if let Some(made) = made
        && !rotation_due(made, every, now)
        && let Ok(Some(keypair)) = read_key(&path)
    {
        return Ok((keypair, made));
    }
    let keypair = write_new_key(dir, REQUESTER_KEY_FILE)?;
    let made = fs::metadata(&path).and_then(|metadata| metadata.modified()).unwrap_or(now);
    Ok((keypair, made))
}

/// Whether a requester key made at `made` is due for replacement at `now`.
/// A key from the future (the clock was set back) is replaced too.
#[must_use]
pub fn rotation_due(made: SystemTime, every: Duration, now: SystemTime) -> bool {
    match now.duration_since(made) {
        Ok(age) => age >= every,
        Err(_) => true,
    }
}

/// The key in `path`: `None` when there is no file.
fn read_key(path: &Path) -> Result<Option<Keypair>, IdentityError> {
    match fs::read(path) {
        Ok(bytes) => {
            let keypair = Keypair::from_protobuf_encoding(&bytes)
                .map_err(|error| IdentityError::Corrupt { path: path.to_owned(), reason: error.to_string() })?;
            if keypair.clone().try_into_ed25519().is_err() {
                return Err(IdentityError::Corrupt { path: path.to_owned(), reason: "not an Ed25519 key".to_owned() });
            }
            Ok(Some(keypair))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(IdentityError::Io { path: path.to_owned(), source }),
    }
}

/// A new Ed25519 key written atomically to `dir/name`, readable by the
/// owner only.
fn write_new_key(dir: &Path, name: &str) -> Result<Keypair, IdentityError> {
    let path = dir.join(name);
    let io = |source| IdentityError::Io { path: path.clone(), source };
    fs::create_dir_all(dir).map_err(io)?;
    let keypair = Keypair::generate_ed25519();
    let bytes = keypair
        .to_protobuf_encoding()
        .map_err(|error| IdentityError::Corrupt { path: path.clone(), reason: error.to_string() })?;
    let partial = dir.join(format!("{name}.partial"));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&partial).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&partial, &path).map_err(io)?;
    Ok(keypair)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_key_is_created_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.public().to_peer_id(), second.public().to_peer_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_corrupt_key_is_an_error_not_a_new_identity() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), b"garbage").unwrap();
        assert!(matches!(load_or_create(dir.path()), Err(IdentityError::Corrupt { .. })));
        assert_eq!(fs::read(dir.path().join(KEY_FILE)).unwrap(), b"garbage");
    }

    #[test]
    fn the_requester_key_is_its_own_kept_while_young_and_replaced_when_old() {
        let dir = tempfile::tempdir().unwrap();
        let device = load_or_create(dir.path()).unwrap().public().to_peer_id();
        let day = Duration::from_secs(24 * 3600);
        let now = SystemTime::now();
        let (first, made) = requester_identity(dir.path(), day, now).unwrap();
        let first = first.public().to_peer_id();
        assert_ne!(first, device, "asking and serving are different identities");
        let (again, _) = requester_identity(dir.path(), day, now + Duration::from_secs(3600)).unwrap();
        assert_eq!(again.public().to_peer_id(), first, "kept within the day");
        let (next, next_made) = requester_identity(dir.path(), day, made + day).unwrap();
        assert_ne!(next.public().to_peer_id(), first, "replaced after a day");
        assert!(next_made >= made);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(REQUESTER_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A corrupt requester key is replaced, never an error.
        fs::write(dir.path().join(REQUESTER_KEY_FILE), b"garbage").unwrap();
        let (fresh, _) = requester_identity(dir.path(), day, SystemTime::now()).unwrap();
        assert_ne!(fresh.public().to_peer_id(), first);
        assert_eq!(load_or_create(dir.path()).unwrap().public().to_peer_id(), device, "the device key is untouched");
    }

    #[test]
    fn rotation_is_due_at_the_period_and_for_keys_from_the_future() {
        let made = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        assert!(!rotation_due(made, hour, made));
        assert!(!rotation_due(made, hour, made + hour - Duration::from_secs(1)));
        assert!(rotation_due(made, hour, made + hour));
        assert!(rotation_due(made, hour, made - Duration::from_secs(1)));
    }
}
