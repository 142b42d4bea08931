//! Resumable, verified model downloads over HTTP(S).
//!
//! A [`Downloader`] streams a file to `<dest>.partial` next to its
//! destination, resumes an interrupted transfer with an HTTP `Range`
//! request, hashes the bytes as they arrive, checks free disk space before it
//! fetches anything, and only moves the file into place after its size and
//! sha256 match what was expected. A corrupt or incomplete download never
//! replaces a good file: `dest` is only ever written by one atomic rename.
//!
//! The downloader knows nothing about the catalog: the model manager maps a
//! base model to a [`DownloadRequest`].

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::sync::CancellationToken;

/// Suffix of the temporary file a download streams into, next to `dest`.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// Size of the write buffer in front of the partial file, and of the read
/// buffer used to re-hash existing bytes.
const BUFFER_BYTES: usize = 1 << 20;

/// What to download and what the result must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// `http://` or `https://` URL of the file.
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
}

impl DownloadRequest {
    /// A request with no expected size or hash; add them with
    /// [`with_size`](Self::with_size) and [`with_sha256`](Self::with_sha256).
    #[must_use]
    pub fn new(url: impl Into<String>, dest: impl Into<PathBuf>) -> Self {
        Self { url: url.into(), dest: dest.into(), expected_size: None, sha256: None }
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

    /// The temporary file this download streams into: `<dest>.partial`.
    /// It survives cancellation and network failures so that a later call
    /// resumes from it; the model manager should delete it with the model.
    #[must_use]
    pub fn partial_path(&self) -> PathBuf {
        partial_path_for(&self.dest)
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
        }
    }
}

type FreeSpaceProbe = dyn Fn(&Path) -> io::Result<u64> + Send + Sync;

/// Downloads files with resume, free-space check and verification.
///
/// Cheap to clone: clones share one HTTP connection pool.
#[derive(Clone)]
pub struct Downloader {
    client: reqwest::Client,
    options: DownloadOptions,
    free_space: Arc<FreeSpaceProbe>,
}

impl fmt::Debug for Downloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Downloader").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Downloader {
    /// A downloader with [`DownloadOptions::default`].
    ///
    /// # Errors
    /// [`DownloadError::Client`] if the HTTP client cannot be built.
    pub fn new() -> Result<Self, DownloadError> {
        Self::with_options(DownloadOptions::default())
    }

    /// A downloader with these options.
    ///
    /// # Errors
    /// [`DownloadError::Client`] if the HTTP client cannot be built.
    pub fn with_options(options: DownloadOptions) -> Result<Self, DownloadError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .user_agent(options.user_agent.clone());
        if !options.use_system_proxy {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|error| DownloadError::Client { reason: error_chain(&error) })?;
        Ok(Self { client, options, free_space: Arc::new(|path: &Path| crate::models::available_space(path)) })
    }

    /// Replaces the source of free disk space (by default
    /// `fs4::available_space` of the destination directory), e.g. to
    /// simulate a full disk in tests or to keep a reserve.
    #[must_use]
    pub fn with_free_space<F>(mut self, probe: F) -> Self
    where
        F: Fn(&Path) -> io::Result<u64> + Send + Sync + 'static,
    {
        self.free_space = Arc::new(probe);
        self
    }

    /// The options this downloader was built with.
    #[must_use]
    pub fn options(&self) -> &DownloadOptions {
        &self.options
    }

    /// Downloads `request.url` to `request.dest`.
    ///
    /// If `dest` already holds the expected file (size and sha256, or size
    /// alone when no sha256 is given) it returns at once without touching
    /// the network. Otherwise it streams into `<dest>.partial`, resuming
    /// from an existing partial file, and renames it to `dest` once it is
    /// complete and verified. `progress` is called at most every
    /// [`DownloadOptions::progress_interval`] and once at the end.
    ///
    /// # Errors
    /// A [`DownloadError`]; on every error `dest` is left as it was.
    /// [`Cancelled`](DownloadError::Cancelled) and
    /// [`Network`](DownloadError::Network) keep the partial file for a
    /// later resume; [`SizeMismatch`](DownloadError::SizeMismatch) and
    /// [`HashMismatch`](DownloadError::HashMismatch) delete it.
    pub async fn download(
        &self,
        request: &DownloadRequest,
        mut progress: impl FnMut(DownloadProgress),
        cancel: CancellationToken,
    ) -> Result<DownloadOutcome, DownloadError> {
        let plan = Plan::new(request)?;
        if cancel.is_cancelled() {
            return Err(DownloadError::Cancelled);
        }
        if let Some(outcome) = existing_destination(&plan, &cancel).await? {
            tracing::debug!(dest = %plan.dest.display(), "already present and verified");
            return Ok(outcome);
        }
        if let Some(dir) = plan.dest.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|source| DownloadError::Io { path: dir.to_path_buf(), source })?;
        }
        if let Some(expected) = plan.expected_size {
            // Checked before the partial file is re-hashed or anything is
            // requested; a partial longer than expected will be discarded.
            let kept = tokio::fs::metadata(&plan.partial).await.map_or(0, |metadata| metadata.len());
            let kept = if kept > expected { 0 } else { kept };
            self.check_space(&plan, expected - kept)?;
        }
        let mut partial = PartialFile::open(&plan.partial, plan.expected_size, &cancel).await?;
        let result = self.fill(&plan, &mut partial, &mut progress, &cancel).await;
        match result {
            Ok(resumed) => {
                let (sha256, bytes) = partial.finish().await?;
                let verified = verify(&plan, bytes, &sha256).await?;
                tokio::fs::rename(&plan.partial, &plan.dest)
                    .await
                    .map_err(|source| DownloadError::Io { path: plan.dest.clone(), source })?;
                sync_parent(&plan.dest).await;
                tracing::info!(url = %plan.url, dest = %plan.dest.display(), bytes, verified, resumed, "downloaded");
                Ok(DownloadOutcome { path: plan.dest, bytes, sha256, verified, resumed, already_present: false })
            }
            Err(error) => {
                let kept = partial.close().await;
                match &error {
                    DownloadError::SizeMismatch { .. } | DownloadError::HashMismatch { .. } => {
                        remove_quietly(&plan.partial).await;
                    }
                    _ if kept == 0 => remove_quietly(&plan.partial).await,
                    _ => {}
                }
                Err(error)
            }
        }
    }

    /// Brings the partial file to its complete length, retrying and
    /// resuming as needed. Returns whether the file was resumed: bytes of
    /// an earlier call or an earlier attempt were kept and continued with a
    /// range request.
    async fn fill(
        &self,
        plan: &Plan,
        partial: &mut PartialFile,
        progress: &mut impl FnMut(DownloadProgress),
        cancel: &CancellationToken,
    ) -> Result<bool, DownloadError> {
        let mut resumed = partial.len > 0;
        let mut meter = ProgressMeter::new(self.options.progress_interval, partial.len);
        if plan.expected_size == Some(partial.len) {
            meter.finish(partial.len, plan.expected_size, progress);
            return Ok(resumed);
        }
        let mut attempts = 0u32;
        let mut failures = 0u32;
        let mut use_ranges = true;
        loop {
            attempts += 1;
            let before = partial.len;
            let step = self.attempt(plan, partial, use_ranges, &mut resumed, &mut meter, progress, cancel).await;
            let cause = match step {
                Ok(Step::Complete { total }) => {
                    meter.finish(partial.len, total.or(plan.expected_size), progress);
                    return Ok(resumed);
                }
                Ok(Step::Restart { reason }) => {
                    tracing::debug!(url = %plan.url, %reason, "restarting from zero");
                    partial.reset().await?;
                    resumed = false;
                    use_ranges = !reason.disables_ranges();
                    if attempts >= self.options.max_attempts {
                        return Err(self.gave_up(plan, attempts, partial.len, reason.to_string()));
                    }
                    continue;
                }
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Retry(cause)) => cause,
            };
            partial.flush().await?;
            failures = if partial.len > before { 0 } else { failures + 1 };
            if failures > self.options.max_retries || attempts >= self.options.max_attempts {
                return Err(match cause {
                    RetryCause::Status(status) => DownloadError::HttpStatus { url: plan.url.clone(), status },
                    RetryCause::Transport(reason) => self.gave_up(plan, attempts, partial.len, reason),
                });
            }
            let pause = backoff(self.options.initial_backoff, self.options.max_backoff, failures);
            tracing::debug!(url = %plan.url, attempts, downloaded = partial.len, ?pause, cause = %cause, "retrying");
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(DownloadError::Cancelled),
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One request: sends it, checks the answer, streams the body. Sets
    /// `resumed` when the server accepts a range request.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        plan: &Plan,
        partial: &mut PartialFile,
        use_ranges: bool,
        resumed: &mut bool,
        meter: &mut ProgressMeter,
        progress: &mut impl FnMut(DownloadProgress),
        cancel: &CancellationToken,
    ) -> Result<Step, Failure> {
        let offset = partial.len;
        if offset > 0 && !use_ranges {
            return Ok(Step::Restart { reason: RestartReason::NoRanges });
        }
        let ranged = offset > 0;
        let mut builder = self.client.get(&plan.url);
        if ranged {
            builder = builder.header(RANGE, format!("bytes={offset}-"));
        }
        let sent = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Failure::Fatal(DownloadError::Cancelled)),
            sent = builder.send() => sent,
        };
        let mut response = sent.map_err(|error| classify(&plan.url, &error))?;
        let status = response.status();
        let content_range =
            response.headers().get(CONTENT_RANGE).and_then(|value| value.to_str().ok()).and_then(parse_content_range);

        // What the server is about to send: where it starts, where it ends
        // (exclusive) and the size of the whole file, where known.
        let (declared_end, total) = match status {
            StatusCode::PARTIAL_CONTENT if ranged => match content_range {
                Some(ContentRange::Bytes { start, end, total }) if start == offset => (Some(end + 1), total),
                _ => {
                    return Ok(Step::Restart { reason: RestartReason::BadContentRange });
                }
            },
            StatusCode::OK => {
                if ranged {
                    return Ok(Step::Restart { reason: RestartReason::RangeIgnored });
                }
                let length = response.content_length();
                (length, length)
            }
            StatusCode::RANGE_NOT_SATISFIABLE if ranged => {
                let total = match content_range {
                    Some(ContentRange::Unsatisfied { total }) => Some(total),
                    Some(ContentRange::Bytes { total, .. }) => total,
                    None => None,
                };
                return if total == Some(offset) {
                    Ok(Step::Complete { total })
                } else {
                    Ok(Step::Restart { reason: RestartReason::Unsatisfiable })
                };
            }
            status if is_transient_status(status) => {
                return Err(Failure::Retry(RetryCause::Status(status.as_u16())));
            }
            status => {
                return Err(Failure::Fatal(DownloadError::HttpStatus {
                    url: plan.url.clone(),
                    status: status.as_u16(),
                }));
            }
        };
        match (plan.expected_size, total) {
            (Some(expected), Some(total)) if expected != total => {
                return Err(Failure::Fatal(DownloadError::SizeMismatch { expected, actual: total }));
            }
            // The size was not known before: check the space now.
            (None, Some(total)) => self.check_space(plan, total.saturating_sub(offset))?,
            _ => {}
        }
        let total = total.or(plan.expected_size);
        if ranged {
            *resumed = true;
        }
        meter.report(partial.len, total, progress);

        loop {
            let chunk = tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    return Err(Failure::Fatal(DownloadError::Cancelled));
                }
                chunk = response.chunk() => chunk,
            };
            match chunk {
                Ok(Some(bytes)) => {
                    let after = partial.len + bytes.len() as u64;
                    if let Some(expected) = plan.expected_size.filter(|&expected| after > expected) {
                        return Err(Failure::Fatal(DownloadError::SizeMismatch { expected, actual: after }));
                    }
                    partial.append(&bytes).await?;
                    meter.report(partial.len, total, progress);
                }
                Ok(None) => break,
                Err(error) => return Err(classify(&plan.url, &error)),
            }
        }
        // The body ended. Without a declared length a closed connection
        // looks like a clean end: compare with what we expect instead.
        let wanted = declared_end.or(plan.expected_size);
        match wanted {
            Some(end) if partial.len < end => {
                Err(Failure::Retry(RetryCause::Transport(format!("body ended at byte {} of {end}", partial.len))))
            }
            _ => Ok(Step::Complete { total }),
        }
    }

    fn check_space(&self, plan: &Plan, needed: u64) -> Result<(), DownloadError> {
        if needed == 0 {
            return Ok(());
        }
        let dir = plan.space_dir();
        match (self.free_space)(&dir) {
            Ok(available) if available < needed => {
                Err(DownloadError::InsufficientSpace { path: dir, needed, available })
            }
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot read free disk space; downloading anyway");
                Ok(())
            }
        }
    }

    fn gave_up(&self, plan: &Plan, attempts: u32, downloaded: u64, reason: String) -> DownloadError {
        DownloadError::Network { url: plan.url.clone(), attempts, downloaded, reason }
    }
}

/// A validated request.
#[derive(Debug)]
struct Plan {
    url: String,
    dest: PathBuf,
    partial: PathBuf,
    expected_size: Option<u64>,
    sha256: Option<String>,
}

impl Plan {
    fn new(request: &DownloadRequest) -> Result<Self, DownloadError> {
        let invalid = |reason: String| DownloadError::InvalidRequest { reason };
        let url = reqwest::Url::parse(&request.url).map_err(|error| invalid(format!("{}: {error}", request.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!("{}: only http and https are supported", request.url)));
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
            expected_size: request.expected_size,
            sha256,
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

/// How one attempt ended, when it did not fail.
#[derive(Debug)]
enum Step {
    /// The partial file holds the whole body.
    Complete { total: Option<u64> },
    /// The partial file must be emptied and the download started over.
    Restart { reason: RestartReason },
}

#[derive(Debug, Clone, Copy)]
enum RestartReason {
    /// A 206 whose `Content-Range` does not start where we asked.
    BadContentRange,
    /// A 200 answer to a ranged request.
    RangeIgnored,
    /// Bytes are on disk but range requests are disabled for this server.
    NoRanges,
    /// A 416 for an offset that is not the end of the file.
    Unsatisfiable,
}

impl RestartReason {
    fn disables_ranges(self) -> bool {
        matches!(self, Self::BadContentRange)
    }
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadContentRange => "the server answered a range request with the wrong range",
            Self::RangeIgnored => "the server ignored the range request",
            Self::NoRanges => "ranges are disabled for this server",
            Self::Unsatisfiable => "the server cannot satisfy the range (the file changed?)",
        })
    }
}

#[derive(Debug)]
enum Failure {
    /// Worth another attempt.
    Retry(RetryCause),
    /// Not worth another attempt.
    Fatal(DownloadError),
}

impl From<DownloadError> for Failure {
    fn from(error: DownloadError) -> Self {
        Self::Fatal(error)
    }
}

#[derive(Debug)]
enum RetryCause {
    Status(u16),
    Transport(String),
}

impl fmt::Display for RetryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "HTTP {status}"),
            Self::Transport(reason) => f.write_str(reason),
        }
    }
}

/// Statuses that say "try again later" rather than "no".
fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 502 | 503 | 504)
}

/// Transport failures are retried; a bad URL or a redirect loop is not.
fn classify(url: &str, error: &reqwest::Error) -> Failure {
    if error.is_builder() || error.is_redirect() {
        Failure::Fatal(DownloadError::InvalidRequest { reason: format!("{url}: {}", error_chain(error)) })
    } else {
        Failure::Retry(RetryCause::Transport(error_chain(error)))
    }
}

/// An error and its sources, joined by `": "`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The streaming target: `<dest>.partial`, locked, with the running hash of
/// its contents.
struct PartialFile {
    path: PathBuf,
    writer: BufWriter<tokio::fs::File>,
    hasher: Sha256,
    len: u64,
}

impl PartialFile {
    /// Opens (or creates) the partial file, locks it, and hashes the bytes
    /// it already holds. A partial longer than the expected size is emptied.
    async fn open(path: &Path, expected_size: Option<u64>, cancel: &CancellationToken) -> Result<Self, DownloadError> {
        let owned = path.to_path_buf();
        let token = cancel.clone();
        let opening = tokio::task::spawn_blocking(move || open_and_hash(&owned, expected_size, &token));
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

    async fn append(&mut self, bytes: &[u8]) -> Result<(), DownloadError> {
        match self.writer.write_all(bytes).await {
            Ok(()) => {
                self.hasher.update(bytes);
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(source) => Err(self.io_error(source)),
        }
    }

    async fn flush(&mut self) -> Result<(), DownloadError> {
        match self.writer.flush().await {
            Ok(()) => Ok(()),
            Err(source) => Err(self.io_error(source)),
        }
    }

    /// Empties the file and the hash: the download starts over.
    async fn reset(&mut self) -> Result<(), DownloadError> {
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
    async fn finish(mut self) -> Result<(String, u64), DownloadError> {
        self.flush().await?;
        if let Err(source) = self.writer.get_mut().sync_all().await {
            return Err(self.io_error(source));
        }
        Ok((hex(&self.hasher.finalize()), self.len))
    }

    /// Flushes what was received (best effort) and releases the file;
    /// returns the length kept on disk.
    async fn close(mut self) -> u64 {
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
    expected_size: Option<u64>,
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
    if expected_size.is_some_and(|expected| len > expected) {
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
async fn existing_destination(
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
async fn verify(plan: &Plan, bytes: u64, sha256: &str) -> Result<bool, DownloadError> {
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

async fn remove_quietly(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            tracing::warn!(path = %path.display(), %error, "cannot remove partial file");
        }
        _ => {}
    }
}

/// Makes the rename durable (best effort; a no-op where directories cannot
/// be opened).
async fn sync_parent(dest: &Path) {
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

/// Rate-limited progress reports with a smoothed rate.
#[derive(Debug)]
struct ProgressMeter {
    interval: Duration,
    last_report: Option<Instant>,
    last_bytes: u64,
    rate: Option<f64>,
}

impl ProgressMeter {
    fn new(interval: Duration, start_bytes: u64) -> Self {
        Self { interval, last_report: None, last_bytes: start_bytes, rate: None }
    }

    /// Reports if the interval has passed (the first call always reports).
    fn report(&mut self, downloaded: u64, total: Option<u64>, emit: &mut impl FnMut(DownloadProgress)) {
        let now = Instant::now();
        match self.last_report {
            None => {
                self.last_report = Some(now);
                self.last_bytes = downloaded;
                emit(progress_at(downloaded, total, 0.0));
            }
            Some(last) if now.duration_since(last) >= self.interval => self.emit(now, last, downloaded, total, emit),
            Some(_) => {}
        }
    }

    /// The final report.
    fn finish(&mut self, downloaded: u64, total: Option<u64>, emit: &mut impl FnMut(DownloadProgress)) {
        let now = Instant::now();
        let last = self.last_report.unwrap_or(now);
        self.emit(now, last, downloaded, total, emit);
    }

    fn emit(
        &mut self,
        now: Instant,
        last: Instant,
        downloaded: u64,
        total: Option<u64>,
        emit: &mut impl FnMut(DownloadProgress),
    ) {
        let seconds = now.duration_since(last).as_secs_f64();
        if seconds > 0.0 {
            let delta = downloaded.saturating_sub(self.last_bytes);
            self.rate = Some(smoothed_rate(self.rate, delta, seconds));
        }
        self.last_report = Some(now);
        self.last_bytes = downloaded;
        emit(progress_at(downloaded, total, self.rate.unwrap_or(0.0)));
    }
}

fn progress_at(downloaded: u64, total: Option<u64>, bytes_per_second: f64) -> DownloadProgress {
    DownloadProgress {
        downloaded,
        total,
        bytes_per_second,
        eta_seconds: eta_seconds(downloaded, total, bytes_per_second),
    }
}

/// Weight of the newest interval in the smoothed rate.
const RATE_SMOOTHING: f64 = 0.3;

/// Exponentially smoothed rate: `delta_bytes` arrived in `seconds`.
pub(crate) fn smoothed_rate(previous: Option<f64>, delta_bytes: u64, seconds: f64) -> f64 {
    if seconds <= 0.0 || !seconds.is_finite() {
        return previous.unwrap_or(0.0);
    }
    #[allow(clippy::cast_precision_loss)] // byte counts far below 2^52
    let instant = delta_bytes as f64 / seconds;
    match previous {
        Some(rate) => RATE_SMOOTHING * instant + (1.0 - RATE_SMOOTHING) * rate,
        None => instant,
    }
}

/// Seconds until `total` at `bytes_per_second`; `None` without a total or
/// a rate.
pub(crate) fn eta_seconds(downloaded: u64, total: Option<u64>, bytes_per_second: f64) -> Option<f64> {
    let total = total?;
    if downloaded >= total {
        return Some(0.0);
    }
    if bytes_per_second <= 0.0 || !bytes_per_second.is_finite() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let remaining = (total - downloaded) as f64;
    Some(remaining / bytes_per_second)
}

/// Pause before a retry after `failures` consecutive failures without
/// progress (0 when the failed attempt made progress).
pub(crate) fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    initial.saturating_mul(1u32 << doublings).min(max)
}

/// A parsed `Content-Range` header (RFC 9110 §14.4), bytes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentRange {
    /// `bytes start-end/total` (`total` is `None` for `*`); `end` inclusive.
    Bytes { start: u64, end: u64, total: Option<u64> },
    /// `bytes */total`, sent with 416.
    Unsatisfied { total: u64 },
}

/// Parses a `Content-Range` value; `None` if malformed or not in bytes.
pub(crate) fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes")?;
    let rest = rest.strip_prefix(|c: char| c == ' ' || c == '=')?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        digits => Some(parse_decimal(digits)?),
    };
    if range.trim() == "*" {
        return total.map(|total| ContentRange::Unsatisfied { total });
    }
    let (start, end) = range.split_once('-')?;
    let (start, end) = (parse_decimal(start.trim())?, parse_decimal(end.trim())?);
    if end < start || total.is_some_and(|total| end >= total) {
        return None;
    }
    Some(ContentRange::Bytes { start, end, total })
}

fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Lowercase hex of a 64-character sha256, or `None` if it is not one.
pub(crate) fn normalize_sha256(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())).then(|| text.to_ascii_lowercase())
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

pub(crate) fn partial_path_for(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(PARTIAL_SUFFIX);
    dest.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_ranges() {
        let table: &[(&str, Option<ContentRange>)] = &[
            ("bytes 0-99/100", Some(ContentRange::Bytes { start: 0, end: 99, total: Some(100) })),
            ("bytes 50-99/*", Some(ContentRange::Bytes { start: 50, end: 99, total: None })),
            (" bytes  7-7/8 ", Some(ContentRange::Bytes { start: 7, end: 7, total: Some(8) })),
            ("bytes */1234", Some(ContentRange::Unsatisfied { total: 1234 })),
            ("bytes=10-19/20", Some(ContentRange::Bytes { start: 10, end: 19, total: Some(20) })),
            ("bytes */*", None),
            ("bytes 10-5/20", None),
            ("bytes 0-100/100", None),
            ("bytes -5/10", None),
            ("bytes 0-+5/10", None),
            ("items 0-1/2", None),
            ("bytes 0-1", None),
            ("", None),
        ];
        for (value, expected) in table {
            assert_eq!(parse_content_range(value), *expected, "{value:?}");
        }
    }

    #[test]
    fn eta_needs_a_total_and_a_rate() {
        assert_eq!(eta_seconds(0, None, 100.0), None);
        assert_eq!(eta_seconds(0, Some(1000), 0.0), None);
        assert_eq!(eta_seconds(0, Some(1000), f64::NAN), None);
        assert_eq!(eta_seconds(250, Some(1000), 100.0), Some(7.5));
        assert_eq!(eta_seconds(1000, Some(1000), 0.0), Some(0.0));
        assert_eq!(eta_seconds(1200, Some(1000), 5.0), Some(0.0));
    }

    #[test]
    fn rate_is_smoothed() {
        assert!((smoothed_rate(None, 1000, 0.5) - 2000.0).abs() < 1e-9);
        let next = smoothed_rate(Some(2000.0), 0, 1.0);
        assert!((next - 1400.0).abs() < 1e-9);
        assert!((smoothed_rate(Some(10.0), 5, 0.0) - 10.0).abs() < 1e-9);
        assert!(smoothed_rate(None, 5, 0.0).abs() < 1e-9);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        let pauses: Vec<u128> = (0..7).map(|failures| backoff(initial, max, failures).as_millis()).collect();
        assert_eq!(pauses, [100, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(initial, Duration::MAX, u32::MAX), initial * (1 << 16));
    }

    #[test]
    fn sha256_is_normalized() {
        let upper = "B179C9523D0E6A0F98A330C7562B682750A6F8C8C15E5BC70EA373728110DB53";
        assert_eq!(normalize_sha256(upper).as_deref(), Some(upper.to_ascii_lowercase().as_str()));
        assert_eq!(normalize_sha256("abc"), None);
        assert_eq!(normalize_sha256(&"g".repeat(64)), None);
    }

    #[test]
    fn partial_sits_next_to_dest() {
        let request = DownloadRequest::new("http://127.0.0.1/m.gguf", "/models/m.gguf");
        assert_eq!(request.partial_path(), PathBuf::from("/models/m.gguf.partial"));
        assert_eq!(partial_path_for(Path::new("m.gguf")), PathBuf::from("m.gguf.partial"));
    }

    #[test]
    fn rejects_bad_requests() {
        let bad = [
            DownloadRequest::new("not a url", "/tmp/x"),
            DownloadRequest::new("ftp://127.0.0.1/x", "/tmp/x"),
            DownloadRequest::new("http://127.0.0.1/x", "/"),
            DownloadRequest::new("http://127.0.0.1/x", "/tmp/x").with_sha256("abc"),
        ];
        for request in &bad {
            assert!(matches!(Plan::new(request), Err(DownloadError::InvalidRequest { .. })), "{request:?}");
        }
        assert!(Plan::new(&DownloadRequest::new("http://127.0.0.1/x", "x").with_sha256("A".repeat(64))).is_ok());
    }

    #[test]
    fn progress_is_rate_limited() {
        let mut meter = ProgressMeter::new(Duration::from_secs(3600), 0);
        let mut seen = Vec::new();
        let mut emit = |progress: DownloadProgress| seen.push(progress);
        meter.report(10, Some(100), &mut emit);
        meter.report(20, Some(100), &mut emit);
        meter.report(30, Some(100), &mut emit);
        meter.finish(100, Some(100), &mut emit);
        let downloaded: Vec<u64> = seen.iter().map(|progress| progress.downloaded).collect();
        assert_eq!(downloaded, [10, 100]);
        assert_eq!(seen.last().and_then(|progress| progress.eta_seconds), Some(0.0));
    }

    #[test]
    fn errors_have_codes() {
        let error = DownloadError::HttpStatus { url: "http://127.0.0.1/x".into(), status: 404 };
        assert_eq!(error.code(), "http_status");
        assert_eq!(error.to_string(), "http://127.0.0.1/x answered HTTP 404");
    }
}
