//! Resumable, verified model downloads over HTTPS.
//!
//! A [`Downloader`] streams a file to `<dest>.partial` next to its
//! destination, resumes an interrupted transfer with an HTTP `Range`
//! request, hashes the bytes as they arrive, checks free disk space before it
//! fetches anything, and only moves the file into place after its size and
//! sha256 match what was expected. A corrupt or incomplete download never
//! replaces a good file: `dest` is only ever written by one atomic rename.
//!
//! What it fetches from whom: `https://` only, plain `http://` only to a
//! loopback host (tests, a mirror on this machine); at most
//! [`MAX_REDIRECTS`] redirects, each held to the same rule and never from
//! `https://` down to `http://`. A resumed request carries `If-Range` with
//! the `ETag` (or `Last-Modified`) of the response its first bytes came
//! from, so a file that changed on the server restarts from zero rather
//! than being spliced; without such a validator a partial file is only
//! continued when a sha256 will check the result. A request may cap the
//! size ([`DownloadRequest::max_size`]) for servers that announce none.
//!
//! The downloader knows nothing about the catalog: the model manager maps a
//! base model to a [`DownloadRequest`].
//!
//! Inside, the decisions are apart from the I/O: `retry` decides from a
//! server's answer and an attempt's result what to do next (stream, restart
//! from zero, pause and retry, give up) without touching the network or the
//! disk; `http` makes the requests and runs that loop; `files` owns the
//! partial file, hashing and the final rename; `progress` rates the reports.

mod files;
mod http;
mod policy;
mod progress;
mod retry;
#[cfg(test)]
mod tests;
mod validator;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use http::Downloader;
pub use policy::MAX_REDIRECTS;

/// Suffix of the temporary file a download streams into, next to `dest`.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Suffix of the small file next to `dest` that keeps, between calls, the
/// `ETag` or `Last-Modified` the partial file's bytes came with (for
/// `If-Range` on resume). It goes with the partial file.
pub const VALIDATOR_SUFFIX: &str = ".partial.validator";

/// Size of the write buffer in front of the partial file, and of the read
/// buffer used to re-hash existing bytes.
const BUFFER_BYTES: usize = 1 << 20;

/// What to download and what the result must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// `https://` URL of the file (plain `http://` only to a loopback host:
    /// `localhost`, `127.0.0.0/8`, `[::1]`).
    pub url: String,
    /// Where the verified file ends up. Its directory is created if needed.
    pub dest: PathBuf,
    /// Exact size in bytes, if known: checked before the file is accepted,
    /// and used for the free-space check before any request is made.
    pub expected_size: Option<u64>,
    /// Hex sha256 of the file, if known (either case). Without it the
    /// download is accepted unverified ([`DownloadOutcome::verified`] is
    /// `false`).
    pub sha256: Option<String>,
    /// The most bytes the file may have, whatever the server announces:
    /// a server that announces more, or streams past it without
    /// announcing a size, fails with [`DownloadError::TooLarge`].
    /// [`expected_size`](Self::expected_size), when given, caps it too.
    pub max_size: Option<u64>,
}

impl DownloadRequest {
    /// A request with no expected size or hash; add them with
    /// [`with_size`](Self::with_size) and [`with_sha256`](Self::with_sha256).
    #[must_use]
    pub fn new(url: impl Into<String>, dest: impl Into<PathBuf>) -> Self {
        Self { url: url.into(), dest: dest.into(), expected_size: None, sha256: None, max_size: None }
    }

    /// Sets the exact size the file must have.
    #[must_use]
    pub fn with_size(mut self, bytes: u64) -> Self {
        self.expected_size = Some(bytes);
        self
    }

    /// Sets the sha256 (hex) the file must have.
    #[must_use]
    pub fn with_sha256(mut self, sha256: impl Into<String>) -> Self {
        self.sha256 = Some(sha256.into());
        self
    }

    /// Sets the most bytes the file may have.
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = Some(bytes);
        self
    }

    /// The temporary file this download streams into: `<dest>.partial`.
    /// It survives cancellation and network failures so that a later call
    /// resumes from it; the model manager should delete it with the model.
    #[must_use]
    pub fn partial_path(&self) -> PathBuf {
        partial_path_for(&self.dest)
    }

    /// Where the validator of the partial file's bytes is kept between
    /// calls: `<dest>.partial.validator`. Delete it with the partial file.
    #[must_use]
    pub fn validator_path(&self) -> PathBuf {
        validator_path_for(&self.dest)
    }
}

/// How far a download has come. Reported every
/// [`DownloadOptions::progress_interval`] and once at the end.
///
/// `downloaded` counts the bytes in the partial file, including bytes kept
/// from an earlier, interrupted attempt; it only goes down if the server
/// refuses to resume and the download restarts from zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DownloadProgress {
    /// Bytes of the file on disk so far.
    pub downloaded: u64,
    /// Total size, if the request or the server said it.
    pub total: Option<u64>,
    /// Smoothed transfer rate of this call, in bytes per second.
    pub bytes_per_second: f64,
    /// Estimated seconds to completion, if the total and a rate are known.
    pub eta_seconds: Option<f64>,
}

/// A file that is in place at [`DownloadRequest::dest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownloadOutcome {
    /// The destination path.
    pub path: PathBuf,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Lowercase hex sha256 of the file.
    pub sha256: String,
    /// `true` when the file matched an expected sha256; `false` when the
    /// request carried none (the file is then only as good as its source).
    pub verified: bool,
    /// `true` when bytes from an earlier, interrupted attempt were kept.
    pub resumed: bool,
    /// `true` when `dest` already held the expected file and nothing was
    /// fetched.
    pub already_present: bool,
}

/// Why a download did not produce a verified file at its destination.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The request itself is unusable (bad URL, malformed sha256, no file
    /// name in `dest`).
    #[error("invalid download request: {reason}")]
    InvalidRequest {
        /// What is wrong with it.
        reason: String,
    },
    /// The URL is not `https://` (plain `http://` is allowed only to a
    /// loopback host). Nothing was requested.
    #[error(
        "{url}: refused, only https:// downloads are allowed (plain http:// only to this machine: \
         localhost, 127.0.0.1, [::1])"
    )]
    InsecureUrl {
        /// The URL refused.
        url: String,
    },
    /// The server redirected somewhere a download may not follow: more
    /// than [`MAX_REDIRECTS`] redirects, from `https://` down to
    /// `http://`, or to a URL that is not `https://` (plain `http://` only
    /// to a loopback host). The partial file is kept.
    #[error("{url}: redirect to {to} refused: {reason}")]
    RedirectRefused {
        /// The URL requested.
        url: String,
        /// Where the refused redirect pointed.
        to: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server announced more bytes than the request allows, or sent
    /// more without announcing a size. The partial file is deleted.
    #[error("the download is larger than allowed: more than {limit} bytes ({actual} announced or received)")]
    TooLarge {
        /// The most bytes allowed.
        limit: u64,
        /// The size announced, or the bytes received when it stopped.
        actual: u64,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {reason}")]
    Client {
        /// The client library's reason.
        reason: String,
    },
    /// The server answered with an HTTP error status.
    #[error("{url} answered HTTP {status}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The HTTP status code, e.g. 404.
        status: u16,
    },
    /// The transfer kept failing (connection refused or dropped, idle
    /// timeout, body cut short) and the retries ran out. The partial file is
    /// kept, so a later call resumes.
    #[error("downloading {url} failed after {attempts} attempts at byte {downloaded}: {reason}")]
    Network {
        /// The URL requested.
        url: String,
        /// Requests made, retries included.
        attempts: u32,
        /// Bytes in the partial file when it gave up.
        downloaded: u64,
        /// The last failure.
        reason: String,
    },
    /// The destination's filesystem has less free space than the bytes
    /// still to download.
    #[error("not enough free space in {path}: {needed} bytes needed, {available} available")]
    InsufficientSpace {
        /// The directory checked.
        path: PathBuf,
        /// Bytes still to download.
        needed: u64,
        /// Bytes available to this user.
        available: u64,
    },
    /// The file (or the size the server announced) is not the expected
    /// size. The partial file is deleted.
    #[error("size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The expected size.
        expected: u64,
        /// The size received or announced.
        actual: u64,
    },
    /// The downloaded bytes do not have the expected sha256. The partial
    /// file is deleted.
    #[error("sha256 mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        /// The expected hash (lowercase hex).
        expected: String,
        /// The hash of what was received.
        actual: String,
    },
    /// Another download (in this or another process) is writing the same
    /// partial file.
    #[error("{path} is being written by another download")]
    Busy {
        /// The partial file.
        path: PathBuf,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The cancellation token fired. The partial file is kept for a later
    /// resume.
    #[error("download cancelled")]
    Cancelled,
}

impl DownloadError {
    /// A stable, machine-readable code for this error, for UIs that branch
    /// on codes rather than messages (`"http_status"`, `"hash_mismatch"`, …).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest { .. } => "invalid_request",
            Self::InsecureUrl { .. } => "insecure_url",
            Self::RedirectRefused { .. } => "redirect_refused",
            Self::TooLarge { .. } => "too_large",
            Self::Client { .. } => "client",
            Self::HttpStatus { .. } => "http_status",
            Self::Network { .. } => "network",
            Self::InsufficientSpace { .. } => "insufficient_space",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::HashMismatch { .. } => "hash_mismatch",
            Self::Busy { .. } => "busy",
            Self::Io { .. } => "io",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Timeouts, retry policy and reporting rate of a [`Downloader`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Deadline for establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Deadline for each read from the connection (headers or body): a
    /// stalled transfer fails after this long without a byte and is retried.
    pub read_timeout: Duration,
    /// Consecutive failed attempts that made no progress before giving up.
    /// An attempt that added bytes to the file resets this count.
    pub max_retries: u32,
    /// Hard cap on requests per call, whatever the progress.
    pub max_attempts: u32,
    /// Pause before the first retry; doubled after each failure without
    /// progress.
    pub initial_backoff: Duration,
    /// Longest pause between retries.
    pub max_backoff: Duration,
    /// Minimum time between two progress reports.
    pub progress_interval: Duration,
    /// Honour proxy settings from the environment (`HTTPS_PROXY`, …).
    pub use_system_proxy: bool,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
    /// Root certificates (DER) trusted on top of the built-in web roots:
    /// a private mirror's certificate authority, or a test server's.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            max_retries: 5,
            max_attempts: 100,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(15),
            progress_interval: Duration::from_millis(100),
            use_system_proxy: true,
            user_agent: concat!("chorus/", env!("CARGO_PKG_VERSION")).to_owned(),
            extra_root_certificates: Vec::new(),
        }
    }
}

/// A validated request.
#[derive(Debug)]
struct Plan {
    url: String,
    dest: PathBuf,
    partial: PathBuf,
    validator: PathBuf,
    expected_size: Option<u64>,
    sha256: Option<String>,
    /// The cap on the file's size: `expected_size` when given (it is
    /// never over `max_size`), else `max_size`.
    max_size: Option<u64>,
}

impl Plan {
    fn new(request: &DownloadRequest) -> Result<Self, DownloadError> {
        let invalid = |reason: String| DownloadError::InvalidRequest { reason };
        let url = reqwest::Url::parse(&request.url).map_err(|error| invalid(format!("{}: {error}", request.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("{}: only https is supported", request.url)));
        }
        if policy::check_url(&url).is_err() {
            return Err(DownloadError::InsecureUrl { url: request.url.clone() });
        }
        if let (Some(expected), Some(max)) = (request.expected_size, request.max_size)
            && expected > max
        {
            return Err(invalid(format!("expected size {expected} is over the cap of {max} bytes")));
        }
        if request.dest.file_name().is_none() {
            return Err(invalid(format!("{} has no file name", request.dest.display())));
        }
        let sha256 = match &request.sha256 {
            Some(hash) => Some(normalize_sha256(hash).ok_or_else(|| invalid(format!("{hash} is not a hex sha256")))?),
            None => None,
        };
        Ok(Self {
            url: request.url.clone(),
            dest: request.dest.clone(),
            partial: partial_path_for(&request.dest),
            validator: validator_path_for(&request.dest),
            expected_size: request.expected_size,
            sha256,
            max_size: request.expected_size.or(request.max_size),
        })
    }

    /// The directory whose filesystem receives the file.
    fn space_dir(&self) -> PathBuf {
        match self.dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// Lowercase hex of a 64-character sha256, or `None` if it is not one.
pub(crate) fn normalize_sha256(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())).then(|| text.to_ascii_lowercase())
}

pub(crate) fn partial_path_for(dest: &Path) -> PathBuf {
    with_suffix(dest, PARTIAL_SUFFIX)
}

pub(crate) fn validator_path_for(dest: &Path) -> PathBuf {
    with_suffix(dest, VALIDATOR_SUFFIX)
}

fn with_suffix(dest: &Path, suffix: &str) -> PathBuf {
    let mut name = dest.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(suffix);
    dest.with_file_name(name)
}
