//! Progress reports: rate-limited, with a smoothed rate and an ETA.

use std::time::{Duration, Instant};

use super::DownloadProgress;

/// Rate-limited progress reports with a smoothed rate.
#[derive(Debug)]
pub(super) struct ProgressMeter {
    interval: Duration,
    last_report: Option<Instant>,
    last_bytes: u64,
    rate: Option<f64>,
}

impl ProgressMeter {
    pub(super) fn new(interval: Duration, start_bytes: u64) -> Self {
        Self { interval, last_report: None, last_bytes: start_bytes, rate: None }
    }

    /// Reports if the interval has passed (the first call always reports).
    pub(super) fn report(&mut self, downloaded: u64, total: Option<u64>, emit: &mut impl FnMut(DownloadProgress)) {
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
    pub(super) fn finish(&mut self, downloaded: u64, total: Option<u64>, emit: &mut impl FnMut(DownloadProgress)) {
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
