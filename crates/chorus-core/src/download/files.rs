//! The files of a download: the locked partial file with its running hash,
//! the check of an existing destination, verification and the final
//! rename's durability.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::sync::CancellationToken;

use super::{BUFFER_BYTES, DownloadError, DownloadOutcome, Plan};

/// The streaming target: `<dest>.partial`, locked, with the running hash of
/// its contents.
pub(super) struct PartialFile {
    path: PathBuf,
    writer: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    pub(super) len: u64,
}

impl PartialFile {
    /// Opens (or creates) the partial file, locks it, and hashes the bytes
    /// it already holds. A partial longer than `limit` (the expected size,
    /// or the cap) is emptied.
    pub(super) async fn open(
        path: &Path,
        limit: Option<u64>,
        cancel: &CancellationToken,
    ) -> Result<Self, DownloadError> {
        let owned = path.to_path_buf();
        let token = cancel.clone();
        let opening = tokio::task::spawn_blocking(move || open_and_hash(&owned, limit, &token));
        let opened = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(DownloadError::Cancelled),
            opened = opening => opened,
        };
        let (file, hasher, len) = opened
            .map_err(|join| DownloadError::Io { path: path.to_path_buf(), source: io::Error::other(join) })?
            .map_err(|error| match error {
                OpenError::Busy => DownloadError::Busy { path: path.to_path_buf() },
                OpenError::Cancelled => DownloadError::Cancelled,
                OpenError::Io(source) => DownloadError::Io { path: path.to_path_buf(), source },
            })?;
        if len > 0 {
            tracing::debug!(partial = %path.display(), len, "resuming from partial file");
        }
        Ok(Self {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(BUFFER_BYTES, tokio::fs::File::from_std(file)),
            hasher,
            len,
        })
    }

    fn io_error(&self, source: io::Error) -> DownloadError {
        DownloadError::Io { path: self.path.clone(), source }
    }

    pub(super) async fn append(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        match self.writer.write_all(bytes).await {
            Ok(()) => {
                self.hasher.update(bytes);
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(source) => Err(self.io_error(source)),
        }
    }

    pub(super) async fn flush(&mut self) -> Result<(), DownloadError> {
        match self.writer.flush().await {
            Ok(()) => Ok(()),
            Err(source) => Err(self.io_error(source)),
        }
    }

    /// Empties the file and the hash: the download starts over.
    pub(super) async fn reset(&mut self) -> Result<(), DownloadError> {
        self.flush().await?;
        let result = async {
            self.writer.seek(SeekFrom::Start(0)).await?;
            self.writer.get_mut().set_len(0).await
        }
        .await;
        result.map_err(|source| self.io_error(source))?;
        self.hasher = Sha256::new();
        self.len = 0;
        Ok(())
    }

    /// Flushes and fsyncs the file, releases the lock, and returns the hex
    /// sha256 and length of its contents.
    pub(super) async fn finish(mut self) -> Result<(String, u64), DownloadError> {
        self.flush().await?;
        if let Err(source) = self.writer.get_mut().sync_all().await {
            return Err(self.io_error(source));
        }
        Ok((hex(&self.hasher.finalize()), self.len))
    }

    /// Flushes what was received (best effort) and releases the file;
    /// returns the length kept on disk.
    pub(super) async fn close(mut self) -> u64 {
        if let Err(error) = self.writer.flush().await {
            tracing::warn!(partial = %self.path.display(), %error, "cannot flush partial file");
        }
        self.len
    }
}

enum OpenError {
    Busy,
    Cancelled,
    Io(io::Error),
}

impl From<io::Error> for OpenError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// Blocking part of [`PartialFile::open`].
fn open_and_hash(
    path: &Path,
    limit: Option<u64>,
    cancel: &CancellationToken,
) -> Result<(std::fs::File, Sha256, u64), OpenError> {
    let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    // Fully qualified: std has an inherent `File::try_lock` since 1.89.
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => return Err(OpenError::Busy),
        Err(fs4::TryLockError::Error(error)) => return Err(OpenError::Io(error)),
    }
    let mut len = file.metadata()?.len();
    if limit.is_some_and(|limit| len > limit) {
        file.set_len(0)?;
        len = 0;
    }
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; BUFFER_BYTES];
    let mut hashed = 0u64;
    file.seek(SeekFrom::Start(0))?;
    while hashed < len {
        if cancel.is_cancelled() {
            return Err(OpenError::Cancelled);
        }
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        hashed += n as u64;
    }
    file.seek(SeekFrom::Start(hashed))?;
    Ok((file, hasher, hashed))
}

/// If `dest` already holds the expected file, the outcome for it.
pub(super) async fn existing_destination(
    plan: &Plan,
    cancel: &CancellationToken,
) -> Result<Option<DownloadOutcome>, DownloadError> {
    let Ok(metadata) = tokio::fs::metadata(&plan.dest).await else {
        return Ok(None);
    };
    if !metadata.is_file() || plan.expected_size.is_some_and(|size| size != metadata.len()) {
        return Ok(None);
    }
    let sha256 = match &plan.sha256 {
        Some(expected) => {
            let actual = hash_file(&plan.dest, cancel).await?;
            if &actual != expected {
                tracing::info!(dest = %plan.dest.display(), "existing file does not match; downloading again");
                return Ok(None);
            }
            actual
        }
        // Size alone is all we can check: accept it unverified.
        None if plan.expected_size.is_some() => hash_file(&plan.dest, cancel).await?,
        None => return Ok(None),
    };
    Ok(Some(DownloadOutcome {
        path: plan.dest.clone(),
        bytes: metadata.len(),
        sha256,
        verified: plan.sha256.is_some(),
        resumed: false,
        already_present: true,
    }))
}

/// The hex sha256 of a file, hashed off the async threads.
async fn hash_file(path: &Path, cancel: &CancellationToken) -> Result<String, DownloadError> {
    let owned = path.to_path_buf();
    let token = cancel.clone();
    let hashing = tokio::task::spawn_blocking(move || -> Result<String, OpenError> {
        let mut file = std::fs::File::open(&owned)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; BUFFER_BYTES];
        loop {
            if token.is_cancelled() {
                return Err(OpenError::Cancelled);
            }
            let n = file.read(&mut buffer)?;
            if n == 0 {
                return Ok(hex(&hasher.finalize()));
            }
            hasher.update(&buffer[..n]);
        }
    });
    let hashed = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(DownloadError::Cancelled),
        hashed = hashing => hashed,
    };
    let io_error = |source| DownloadError::Io { path: path.to_path_buf(), source };
    match hashed {
        Ok(Ok(hash)) => Ok(hash),
        Ok(Err(OpenError::Cancelled)) => Err(DownloadError::Cancelled),
        Ok(Err(OpenError::Io(source))) => Err(io_error(source)),
        Ok(Err(OpenError::Busy)) => Err(DownloadError::Busy { path: path.to_path_buf() }),
        Err(join) => Err(io_error(io::Error::other(join))),
    }
}

/// Checks size and hash of the complete partial file; deletes nothing
/// itself (the caller removes the partial on mismatch). Returns whether a
/// hash was checked.
pub(super) async fn verify(plan: &Plan, bytes: u64, sha256: &str) -> Result<bool, DownloadError> {
    let mismatch = if let Some(expected) = plan.expected_size.filter(|&expected| expected != bytes) {
        Some(DownloadError::SizeMismatch { expected, actual: bytes })
    } else {
        match &plan.sha256 {
            Some(expected) if expected != sha256 => {
                Some(DownloadError::HashMismatch { expected: expected.clone(), actual: sha256.to_owned() })
            }
            _ => None,
        }
    };
    match mismatch {
        Some(error) => {
            tracing::warn!(url = %plan.url, %error, "download rejected");
            remove_quietly(&plan.partial).await;
            Err(error)
        }
        None => Ok(plan.sha256.is_some()),
    }
}

pub(super) async fn remove_quietly(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), %error, "cannot remove partial file");
        }
        _ => {}
    }
}

/// Makes the rename durable (best effort; a no-op where directories cannot
/// be opened).
pub(super) async fn sync_parent(dest: &Path) {
    #[cfg(unix)]
    if let Some(dir) = dest.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        let dir = dir.to_path_buf();
        let synced =
            tokio::task::spawn_blocking(move || std::fs::File::open(&dir).and_then(|handle| handle.sync_all())).await;
        if let Ok(Err(error)) = synced {
            tracing::debug!(%error, "cannot fsync the destination directory");
        }
    }
    #[cfg(not(unix))]
    let _ = dest;
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}
