//! Whether the device is idle, for the "only when idle" serving limit of
//! the app and of `chorus serve --only-when-idle`.
//!
//! Idle means the owner's own programs leave the processor alone: over the
//! last half minute or so, everything but this process (whose CPU time is
//! mostly llama.cpp serving peers) kept less than [`BUSY_LIMIT`] of the
//! machine's CPU time busy. A sampler thread reads the kernel's counters
//! every [`SAMPLE_EVERY`] (Linux: `/proc/stat` and `/proc/self/stat`) and
//! keeps a moving average; the probe only reads it, so a peer's slot request
//! never waits on a measurement.
//!
//! Where the counters cannot be read (Android forbids `/proc/stat` to apps,
//! and other platforms have no `/proc`) the device is never reported idle:
//! "only when idle" then holds serving back rather than guessing.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The share of all CPU time that other processes may keep busy on an idle
/// device.
pub const BUSY_LIMIT: f64 = 0.25;
/// How often the counters are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(3);
/// Weight of the newest sample in the moving average: with a sample every
/// 3 s, the average forgets a burst within about half a minute.
const SMOOTHING: f64 = 0.2;

/// CPU time counters of the whole machine and of this process, in clock
/// ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSample {
    /// All CPU time of all processors.
    pub total: u64,
    /// The part of it spent running something (not idle, not waiting for
    /// I/O).
    pub busy: u64,
    /// This process's user and system time.
    pub own: u64,
}

/// Reads the `cpu` line of `/proc/stat`: `(total, busy)` ticks.
pub(crate) fn parse_proc_stat(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let fields: Vec<u64> = line.split_whitespace().skip(1).map(str::parse).collect::<Result<_, _>>().ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]:
    // guest time is already counted in user and nice.
    if fields.len() < 4 {
        return None;
    }
    let counted = &fields[..fields.len().min(8)];
    let total: u64 = counted.iter().sum();
    let idle = counted[3] + counted.get(4).copied().unwrap_or(0);
    Some((total, total.saturating_sub(idle)))
}

/// Reads `utime + stime` (ticks) from `/proc/<pid>/stat`. The command name
/// in parentheses may hold spaces, so fields are counted after its `)`.
pub(crate) fn parse_self_stat(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state(3) ppid(4) … utime(14) stime(15); `rest` starts at field 3.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The moving average of other processes' share of the CPU.
#[derive(Debug, Default)]
pub(crate) struct IdleMeter {
    last: Option<CpuSample>,
    others_busy: Option<f64>,
}

impl IdleMeter {
    /// Takes a new sample; returns the updated average share of all CPU
    /// time that other processes kept busy, once two samples are in.
    pub(crate) fn update(&mut self, sample: CpuSample) -> Option<f64> {
        if let Some(last) = self.last.replace(sample) {
            let total = sample.total.saturating_sub(last.total);
            if total > 0 {
                let busy = sample.busy.saturating_sub(last.busy);
                let own = sample.own.saturating_sub(last.own);
                // Counters of the machine and of the process are read a moment
                // apart, so the difference is clamped.
                #[allow(clippy::cast_precision_loss)]
                let share = (busy.saturating_sub(own) as f64 / total as f64).clamp(0.0, 1.0);
                self.others_busy = Some(match self.others_busy {
                    Some(average) => average + SMOOTHING * (share - average),
                    None => share,
                });
            }
        }
        self.others_busy
    }
}

/// Whether other processes' share of the CPU counts as idle; an unknown
/// share does not.
pub(crate) fn idle_by(others_busy: Option<f64>) -> bool {
    others_busy.is_some_and(|share| share < BUSY_LIMIT)
}

/// Reads this machine's counters now, where the platform has them.
pub(crate) fn sample() -> Option<CpuSample> {
    let (total, busy) = parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)?;
    Some(CpuSample { total, busy, own: own_cpu_ticks()? })
}

/// Clock ticks per second of `/proc`'s CPU times (Linux's USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// This process's CPU time so far (user + system, all threads), in
/// `/proc` ticks: the one `/proc/self/stat` reader of Chorus. `None` where
/// there is no `/proc` (or it cannot be read).
pub(crate) fn own_cpu_ticks() -> Option<u64> {
    parse_self_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// This process's CPU time so far (user + system, all threads), in
/// seconds; `None` where there is no `/proc`. The benches divide it by the
/// wall time to show how many cores a run got.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn process_cpu_seconds() -> Option<f64> {
    own_cpu_ticks().map(|ticks| ticks as f64 / TICKS_PER_SECOND)
}

/// The average share as `f64` bits; `u64::MAX` while unknown.
static OTHERS_BUSY: AtomicU64 = AtomicU64::new(u64::MAX);
static SAMPLER: OnceLock<()> = OnceLock::new();

/// Whether the device is idle now. The first call starts the sampler
/// thread, so the answer is `false` for the first few seconds, and always
/// where the counters cannot be read.
pub fn device_idle() -> bool {
    SAMPLER.get_or_init(|| {
        if sample().is_none() {
            tracing::info!("CPU counters unreadable here: 'only when idle' will not serve");
            return;
        }
        let spawned = std::thread::Builder::new().name("chorus-idle".into()).spawn(|| {
            let mut meter = IdleMeter::default();
            loop {
                if let Some(share) = sample().and_then(|sample| meter.update(sample)) {
                    OTHERS_BUSY.store(share.to_bits(), Ordering::Relaxed);
                }
                std::thread::sleep(SAMPLE_EVERY);
            }
        });
        if let Err(error) = spawned {
            tracing::warn!(%error, "could not start the idle sampler");
        }
    });
    idle_by(others_busy())
}

/// The last average share of the CPU other processes kept busy, if known.
pub fn others_busy() -> Option<f64> {
    match OTHERS_BUSY.load(Ordering::Relaxed) {
        u64::MAX => None,
        bits => Some(f64::from_bits(bits)),
    }
}

#[cfg(test)]
mod tests;
