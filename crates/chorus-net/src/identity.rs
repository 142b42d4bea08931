//! The node's identity: one Ed25519 key, kept in the data directory.
//!
//! The key is the node's peer id and signs its receipts, so it must survive
//! restarts (a new key would be a stranger with no standing) and stay
//! private: the file is created with mode 0600 and written atomically.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

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
    let io = |source| IdentityError::Io { path: path.clone(), source };
    match fs::read(&path) {
        Ok(bytes) => {
            let keypair = Keypair::from_protobuf_encoding(&bytes)
                .map_err(|error| IdentityError::Corrupt { path: path.clone(), reason: error.to_string() })?;
            if keypair.clone().try_into_ed25519().is_err() {
                return Err(IdentityError::Corrupt { path, reason: "not an Ed25519 key".to_owned() });
            }
            Ok(keypair)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(io)?;
            let keypair = Keypair::generate_ed25519();
            let bytes = keypair
                .to_protobuf_encoding()
                .map_err(|error| IdentityError::Corrupt { path: path.clone(), reason: error.to_string() })?;
            let partial = dir.join(format!("{KEY_FILE}.partial"));
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
        Err(error) => Err(io(error)),
    }
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
}
