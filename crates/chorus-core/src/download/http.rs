//! The HTTP side of a download: the [`Downloader`], its requests and the
//! retry loop that runs the decisions of `retry`.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use reqwest::header::{CONTENT_RANGE, IF_RANGE, RANGE};
use tokio_util::sync::CancellationToken;

use super::files::{PartialFile, existing_destination, remove_quietly, sync_parent, verify};
use super::policy::{redirect_policy, refused_redirect};
use super::progress::ProgressMeter;
use super::retry::{
    Answer, Failure, GiveUp, Next, RestartReason, Retries, RetryCause, RetryPolicy, Step, body_ended, judge_answer,
    parse_content_range,
};
use super::validator::{self, Validator};
use super::{DownloadError, DownloadOptions, DownloadOutcome, DownloadProgress, DownloadRequest, Plan};

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
    /// [`DownloadError::Client`] if the HTTP client cannot be built or an
    /// extra root certificate is not DER.
    pub fn with_options(options: DownloadOptions) -> Result<Self, DownloadError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .user_agent(options.user_agent.clone())
            .redirect(redirect_policy());
        if !options.use_system_proxy {
            builder = builder.no_proxy();
        }
        for der in &options.extra_root_certificates {
            let certificate = reqwest::Certificate::from_der(der)
                .map_err(|error| DownloadError::Client { reason: error_chain(&error) })?;
            builder = builder.add_root_certificate(certificate);
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
    /// later resume; [`SizeMismatch`](DownloadError::SizeMismatch),
    /// [`TooLarge`](DownloadError::TooLarge) and
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
        let mut partial = PartialFile::open(&plan.partial, plan.max_size, &cancel).await?;
        let validator = if partial.len > 0 { validator::load(&plan.validator, &plan.url).await } else { None };
        let mut transfer = Transfer { resumed: partial.len > 0, validator };
        let result = self.fill(&plan, &mut partial, &mut transfer, &mut progress, &cancel).await;
        match result {
            Ok(()) => {
                let resumed = transfer.resumed;
                let (sha256, bytes) = partial.finish().await?;
                let verified = match verify(&plan, bytes, &sha256).await {
                    Ok(verified) => verified,
                    Err(error) => {
                        remove_quietly(&plan.validator).await;
                        return Err(error);
                    }
                };
                tokio::fs::rename(&plan.partial, &plan.dest)
                    .await
                    .map_err(|source| DownloadError::Io { path: plan.dest.clone(), source })?;
                remove_quietly(&plan.validator).await;
                sync_parent(&plan.dest).await;
                tracing::info!(url = %plan.url, dest = %plan.dest.display(), bytes, verified, resumed, "downloaded");
                Ok(DownloadOutcome { path: plan.dest, bytes, sha256, verified, resumed, already_present: false })
            }
            Err(error) => {
                let kept = partial.close().await;
                let discard = matches!(
                    &error,
                    DownloadError::SizeMismatch { .. }
                        | DownloadError::HashMismatch { .. }
                        | DownloadError::TooLarge { .. }
                ) || kept == 0;
                if discard {
                    remove_quietly(&plan.partial).await;
                    remove_quietly(&plan.validator).await;
                }
                Err(error)
            }
        }
    }

    /// Brings the partial file to its complete length, retrying and
    /// resuming as needed. `transfer.resumed` ends up saying whether the
    /// file was resumed: bytes of an earlier call or an earlier attempt
    /// were kept and continued with a range request.
    async fn fill(
        &self,
        plan: &Plan,
        partial: &mut PartialFile,
        transfer: &mut Transfer,
        progress: &mut impl FnMut(DownloadProgress),
        cancel: &CancellationToken,
    ) -> Result<(), DownloadError> {
        let mut meter = ProgressMeter::new(self.options.progress_interval, partial.len);
        if plan.expected_size == Some(partial.len) {
            meter.finish(partial.len, plan.expected_size, progress);
            return Ok(());
        }
        let mut retries = Retries::new(RetryPolicy::from(&self.options));
        loop {
            let use_ranges = retries.start();
            let before = partial.len;
            let step = self.attempt(plan, partial, use_ranges, transfer, &mut meter, progress, cancel).await;
            let next = match step {
                Ok(Step::Complete { total }) => {
                    meter.finish(partial.len, total.or(plan.expected_size), progress);
                    return Ok(());
                }
                Ok(Step::Restart { reason }) => {
                    tracing::debug!(url = %plan.url, %reason, "restarting from zero");
                    partial.reset().await?;
                    transfer.resumed = false;
                    transfer.validator = None;
                    remove_quietly(&plan.validator).await;
                    retries.restarted(reason)
                }
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Retry(cause)) => {
                    partial.flush().await?;
                    let next = retries.failed(&cause, partial.len > before);
                    if let Next::Pause(pause) = &next {
                        let attempts = retries.attempts();
                        tracing::debug!(url = %plan.url, attempts, downloaded = partial.len, ?pause, cause = %cause, "retrying");
                    }
                    next
                }
            };
            match next {
                Next::Again => {}
                Next::Pause(pause) => {
                    tokio::select! {
                        biased;
                        () = cancel.cancelled() => return Err(DownloadError::Cancelled),
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Next::GiveUp(GiveUp::Status(status)) => {
                    return Err(DownloadError::HttpStatus { url: plan.url.clone(), status });
                }
                Next::GiveUp(GiveUp::Network { attempts, reason }) => {
                    return Err(self.gave_up(plan, attempts, partial.len, reason));
                }
            }
        }
    }

    /// One request: sends it, checks the answer, streams the body. Sets
    /// `transfer.resumed` when the server accepts a range request, and
    /// `transfer.validator` from the answer that starts the file.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        plan: &Plan,
        partial: &mut PartialFile,
        use_ranges: bool,
        transfer: &mut Transfer,
        meter: &mut ProgressMeter,
        progress: &mut impl FnMut(DownloadProgress),
        cancel: &CancellationToken,
    ) -> Result<Step, Failure> {
        let offset = partial.len;
        if offset > 0 && !use_ranges {
            return Ok(Step::Restart { reason: RestartReason::NoRanges });
        }
        let ranged = offset > 0;
        let if_range = transfer.validator.as_ref().and_then(Validator::if_range).filter(|_| ranged);
        if ranged && if_range.is_none() && plan.sha256.is_none() {
            return Ok(Step::Restart { reason: RestartReason::NoValidator });
        }
        let mut builder = self.client.get(&plan.url);
        if ranged {
            builder = builder.header(RANGE, format!("bytes={offset}-"));
        }
        if let Some(if_range) = if_range {
            builder = builder.header(IF_RANGE, if_range);
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

        let (declared_end, total) =
            match judge_answer(&plan.url, status, offset, content_range, response.content_length()) {
                Answer::Body { declared_end, total } => (declared_end, total),
                Answer::Ended(step) => return Ok(step),
                Answer::Failed(failure) => return Err(failure),
            };
        match (plan.expected_size, total) {
            (Some(expected), Some(total)) if expected != total => {
                return Err(Failure::Fatal(DownloadError::SizeMismatch { expected, actual: total }));
            }
            (_, Some(total)) if plan.max_size.is_some_and(|limit| total > limit) => {
                let limit = plan.max_size.unwrap_or(total);
                return Err(Failure::Fatal(DownloadError::TooLarge { limit, actual: total }));
            }
            // The size was not known before: check the space now.
            (None, Some(total)) => self.check_space(plan, total.saturating_sub(offset))?,
            _ => {}
        }
        if ranged {
            if transfer.validator.as_ref().is_some_and(|known| known.contradicted_by(response.headers())) {
                return Ok(Step::Restart { reason: RestartReason::Changed });
            }
            transfer.resumed = true;
        } else {
            // The first bytes of the file: remember what file they are of.
            transfer.validator = Validator::of_response(&plan.url, response.headers());
            self.keep_validator(plan, transfer.validator.as_ref()).await;
        }
        let total = total.or(plan.expected_size);
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
                    if let Some(limit) = plan.max_size.filter(|&limit| after > limit) {
                        return Err(Failure::Fatal(DownloadError::TooLarge { limit, actual: after }));
                    }
                    partial.append(&bytes).await?;
                    meter.report(partial.len, total, progress);
                }
                Ok(None) => break,
                Err(error) => return Err(classify(&plan.url, &error)),
            }
        }
        body_ended(partial.len, declared_end, plan.expected_size, total)
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

    /// Saves the validator of the partial file's bytes for a later call, or
    /// removes a stale one (best effort: without it a later call restarts
    /// from zero or relies on the sha256).
    async fn keep_validator(&self, plan: &Plan, known: Option<&Validator>) {
        match known {
            Some(known) => {
                if let Err(error) = validator::save(&plan.validator, known).await {
                    tracing::warn!(path = %plan.validator.display(), %error, "cannot save the download's ETag");
                }
            }
            None => remove_quietly(&plan.validator).await,
        }
    }
}

/// What one download call knows across its attempts.
#[derive(Debug)]
struct Transfer {
    /// Bytes of an earlier call or attempt were kept and continued.
    resumed: bool,
    /// What identifies the file the partial bytes are of.
    validator: Option<Validator>,
}

/// Transport failures are retried; a bad URL or a redirect loop is not.
fn classify(url: &str, error: &reqwest::Error) -> Failure {
    if let Some(refused) = refused_redirect(error) {
        let reason = refused.refusal.to_string();
        return Failure::Fatal(DownloadError::RedirectRefused { url: url.to_owned(), to: refused.to, reason });
    }
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
