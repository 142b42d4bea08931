//! The decisions of a download, pure — no network, no disk, no clock: what
//! a server's answer means ([`judge_answer`]), how an attempt whose body
//! ended stands ([`body_ended`]), and the retry loop's state machine
//! ([`Retries`]: fed each attempt's result, it answers what to do next).
//! The I/O in `http` only carries them out, so they are tested in tables.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

use super::{DownloadError, DownloadOptions};

/// How one attempt ended, when it did not fail.
#[derive(Debug)]
pub(super) enum Step {
    /// The partial file holds the whole body.
    Complete { total: Option<u64> },
    /// The partial file must be emptied and the download started over.
    Restart { reason: RestartReason },
}

#[derive(Debug, Clone, Copy)]
pub(super) enum RestartReason {
    /// A 206 whose `Content-Range` does not start where we asked.
    BadContentRange,
    /// A 200 answer to a ranged request.
    RangeIgnored,
    /// Bytes are on disk but range requests are disabled for this server.
    NoRanges,
    /// A 416 for an offset that is not the end of the file.
    Unsatisfiable,
    /// Bytes are on disk, nothing identifies the file they came from (no
    /// `ETag` or `Last-Modified` for `If-Range`), and no sha256 would catch
    /// a splice: they are not continued.
    NoValidator,
    /// A 206 whose `ETag` (or `Last-Modified`) is not the one the bytes on
    /// disk came with: the file changed on the server.
    Changed,
}

impl RestartReason {
    pub(super) fn disables_ranges(self) -> bool {
        matches!(self, Self::BadContentRange)
    }
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadContentRange => "the server answered a range request with the wrong range",
            Self::RangeIgnored => "the server sent the whole file, not the range (it changed, or ignores ranges)",
            Self::NoRanges => "ranges are disabled for this server",
            Self::Unsatisfiable => "the server cannot satisfy the range (the file changed?)",
            Self::NoValidator => "nothing identifies the file the partial bytes came from",
            Self::Changed => "the file changed on the server since the partial bytes came",
        })
    }
}

#[derive(Debug)]
pub(super) enum Failure {
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
pub(super) enum RetryCause {
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

/// Pause before a retry after `failures` consecutive failures without
/// progress (0 when the failed attempt made progress).
pub(super) fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    initial.saturating_mul(1u32 << doublings).min(max)
}

/// A parsed `Content-Range` header (RFC 9110 §14.4), bytes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ContentRange {
    /// `bytes start-end/total` (`total` is `None` for `*`); `end` inclusive.
    Bytes { start: u64, end: u64, total: Option<u64> },
    /// `bytes */total`, sent with 416.
    Unsatisfied { total: u64 },
}

/// Parses a `Content-Range` value; `None` if malformed or not in bytes.
pub(super) fn parse_content_range(value: &str) -> Option<ContentRange> {
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

/// What the server's answer to one request (its status and headers, before
/// the body) means.
#[derive(Debug)]
pub(super) enum Answer {
    /// Stream the body. It ends at byte `declared_end` (exclusive) of a file
    /// of `total` bytes, where known.
    Body {
        /// Where the body ends, if the server said.
        declared_end: Option<u64>,
        /// The whole file's size, if the server said.
        total: Option<u64>,
    },
    /// The attempt ends here, without a body.
    Ended(Step),
    /// The attempt failed.
    Failed(Failure),
}

/// Judges the answer to a request for `url` from byte `offset` (a range
/// request when `offset > 0`), given its status, its parsed `Content-Range`
/// and its `Content-Length`.
pub(super) fn judge_answer(
    url: &str,
    status: StatusCode,
    offset: u64,
    content_range: Option<ContentRange>,
    content_length: Option<u64>,
) -> Answer {
    let ranged = offset > 0;
    // What the server is about to send: where it starts, where it ends
    // (exclusive) and the size of the whole file, where known.
    match status {
        StatusCode::PARTIAL_CONTENT if ranged => match content_range {
            Some(ContentRange::Bytes { start, end, total }) if start == offset => {
                Answer::Body { declared_end: Some(end + 1), total }
            }
            _ => Answer::Ended(Step::Restart { reason: RestartReason::BadContentRange }),
        },
        StatusCode::OK => {
            if ranged {
                return Answer::Ended(Step::Restart { reason: RestartReason::RangeIgnored });
            }
            Answer::Body { declared_end: content_length, total: content_length }
        }
        StatusCode::RANGE_NOT_SATISFIABLE if ranged => {
            let total = match content_range {
                Some(ContentRange::Unsatisfied { total }) => Some(total),
                Some(ContentRange::Bytes { total, .. }) => total,
                None => None,
            };
            if total == Some(offset) {
                Answer::Ended(Step::Complete { total })
            } else {
                Answer::Ended(Step::Restart { reason: RestartReason::Unsatisfiable })
            }
        }
        status if is_transient_status(status) => Answer::Failed(Failure::Retry(RetryCause::Status(status.as_u16()))),
        status => {
            Answer::Failed(Failure::Fatal(DownloadError::HttpStatus { url: url.to_owned(), status: status.as_u16() }))
        }
    }
}

/// How an attempt stands when the body ended with the partial file `len`
/// bytes long. Without a declared length a closed connection looks like a
/// clean end: compare with what we expect instead.
pub(super) fn body_ended(
    len: u64,
    declared_end: Option<u64>,
    expected_size: Option<u64>,
    total: Option<u64>,
) -> Result<Step, Failure> {
    match declared_end.or(expected_size) {
        Some(end) if len < end => {
            Err(Failure::Retry(RetryCause::Transport(format!("body ended at byte {len} of {end}"))))
        }
        _ => Ok(Step::Complete { total }),
    }
}

/// How many attempts and failures a download call may take, and how long
/// it pauses between them (from [`DownloadOptions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RetryPolicy {
    /// [`DownloadOptions::max_retries`].
    pub(super) max_retries: u32,
    /// [`DownloadOptions::max_attempts`].
    pub(super) max_attempts: u32,
    /// [`DownloadOptions::initial_backoff`].
    pub(super) initial_backoff: Duration,
    /// [`DownloadOptions::max_backoff`].
    pub(super) max_backoff: Duration,
}

impl From<&DownloadOptions> for RetryPolicy {
    fn from(options: &DownloadOptions) -> Self {
        Self {
            max_retries: options.max_retries,
            max_attempts: options.max_attempts,
            initial_backoff: options.initial_backoff,
            max_backoff: options.max_backoff,
        }
    }
}

/// What the retry loop does after an attempt that neither completed nor
/// failed for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Next {
    /// Make the next request now (after a restart from zero).
    Again,
    /// Pause this long, then make the next request.
    Pause(Duration),
    /// Stop.
    GiveUp(GiveUp),
}

/// Why the retry loop stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum GiveUp {
    /// The server kept answering with this "try again later" status.
    Status(u16),
    /// The transfer kept failing: `attempts` requests were made, the last
    /// one failed for `reason`.
    Network {
        /// Requests made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
}

/// The retry loop's state across the attempts of one download call: the
/// requests made, the consecutive failures without progress, and whether
/// range requests (resuming) are still allowed.
#[derive(Debug)]
pub(super) struct Retries {
    policy: RetryPolicy,
    attempts: u32,
    failures: u32,
    use_ranges: bool,
}

impl Retries {
    /// Before the first attempt.
    pub(super) fn new(policy: RetryPolicy) -> Self {
        Self { policy, attempts: 0, failures: 0, use_ranges: true }
    }

    /// Counts a new attempt; returns whether it may resume with a range
    /// request.
    pub(super) fn start(&mut self) -> bool {
        self.attempts += 1;
        self.use_ranges
    }

    /// Requests made so far.
    pub(super) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The attempt asked to start over from zero (the caller has emptied
    /// the partial file). Restarts are not failures: no pause, but they
    /// count against [`RetryPolicy::max_attempts`].
    pub(super) fn restarted(&mut self, reason: RestartReason) -> Next {
        self.use_ranges = !reason.disables_ranges();
        if self.attempts >= self.policy.max_attempts {
            return Next::GiveUp(GiveUp::Network { attempts: self.attempts, reason: reason.to_string() });
        }
        Next::Again
    }

    /// The attempt failed for a `cause` worth retrying; `progressed` when it
    /// added bytes to the file, which resets the count of failures.
    pub(super) fn failed(&mut self, cause: &RetryCause, progressed: bool) -> Next {
        self.failures = if progressed { 0 } else { self.failures + 1 };
        if self.failures > self.policy.max_retries || self.attempts >= self.policy.max_attempts {
            return Next::GiveUp(match cause {
                RetryCause::Status(status) => GiveUp::Status(*status),
                RetryCause::Transport(reason) => GiveUp::Network { attempts: self.attempts, reason: reason.clone() },
            });
        }
        Next::Pause(backoff(self.policy.initial_backoff, self.policy.max_backoff, self.failures))
    }
}
