//! The sha256 of model files hashed before, so a file checked once is not
//! read again at every start while it stays the same file.
//!
//! A hash is kept with the file's [`FileStamp`]: its size, modification
//! time and, on Unix, its change time, inode and device. Any write, rename
//! over it or `touch` changes the stamp, and the change time cannot be set
//! back from user space, so a file whose content changed never matches an
//! old stamp. At most [`MAX_ENTRIES`] files are remembered; past that the
//! cache starts again empty (it only saves time).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, TREE_FILE_HASHES, decode, encode};

/// Files whose hash is remembered at most.
const MAX_ENTRIES: usize = 256;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch.
    pub modified_ns: i128,
    /// Last change of content or metadata (Unix `ctime`), nanoseconds.
    pub changed_ns: Option<i128>,
    /// Inode and device (Unix).
    pub inode: Option<(u64, u64)>,
}

impl FileStamp {
    /// The stamp of the file at `path` now.
    ///
    /// # Errors
    /// The operating system's error when the file cannot be examined.
    pub fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        let modified_ns = metadata.modified().ok().and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok());
        #[cfg(unix)]
        let (changed_ns, inode) = {
            use std::os::unix::fs::MetadataExt;
            let changed = i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec());
            (Some(changed), Some((metadata.ino(), metadata.dev())))
        };
        #[cfg(not(unix))]
        let (changed_ns, inode) = (None, None);
        Ok(Self {
            size: metadata.len(),
            modified_ns: modified_ns.map_or(-1, |elapsed| i128::try_from(elapsed.as_nanos()).unwrap_or(i128::MAX)),
            changed_ns,
            inode,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Hashed {
    stamp: FileStamp,
    sha256: String,
}

fn key_of(path: &Path) -> Vec<u8> {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).as_os_str().as_encoded_bytes().to_vec()
}

impl Store {
    /// The sha256 recorded for the file at `path` when it had `stamp`;
    /// `None` when it was never hashed or has changed since.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be read.
    pub fn file_hash(&self, path: &Path, stamp: &FileStamp) -> Result<Option<String>, StoreError> {
        let key = key_of(path);
        let Some(bytes) = self.inner.file_hashes.get(&key)? else { return Ok(None) };
        match decode::<Hashed>(TREE_FILE_HASHES, || path.display().to_string(), &bytes) {
            Ok(hashed) if hashed.stamp == *stamp => Ok(Some(hashed.sha256)),
            Ok(_) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "forgetting a corrupt file hash");
                let _ = self.inner.file_hashes.remove(&key)?;
                Ok(None)
            }
        }
    }

    /// Remembers the sha256 of the file at `path` as it is with `stamp`. Not
    /// flushed: a lost entry costs one more hashing.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be written.
    pub fn record_file_hash(&self, path: &Path, stamp: &FileStamp, sha256: &str) -> Result<(), StoreError> {
        let tree = &self.inner.file_hashes;
        let key = key_of(path);
        if tree.len() >= MAX_ENTRIES && !tree.contains_key(&key)? {
            tree.clear()?;
        }
        let _ = tree.insert(key, encode(&Hashed { stamp: stamp.clone(), sha256: sha256.to_owned() })?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_holds_while_the_file_is_unchanged() {
        let store = Store::temporary().expect("store");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, b"abc").expect("write");
        let stamp = FileStamp::of(&path).expect("stamp");
        assert_eq!(store.file_hash(&path, &stamp).expect("read"), None);
        store.record_file_hash(&path, &stamp, "ab").expect("record");
        assert_eq!(store.file_hash(&path, &FileStamp::of(&path).expect("stamp")).expect("read").as_deref(), Some("ab"));
        // Same size, same modification time, other content: the change time
        // (and, after a rename over it, the inode) tells.
        let modified = std::fs::metadata(&path).expect("metadata").modified().expect("mtime");
        // File times advance by the kernel's clock tick, not by the nanosecond.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"abd").expect("write");
        std::fs::File::options().write(true).open(&path).expect("open").set_modified(modified).expect("set mtime");
        let changed = FileStamp::of(&path).expect("stamp");
        assert_eq!(changed.size, stamp.size);
        assert_eq!(changed.modified_ns, stamp.modified_ns);
        assert_eq!(store.file_hash(&path, &changed).expect("read"), None);
    }
}
