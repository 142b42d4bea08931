//! Figures from samples: the one percentile (nearest rank) and millisecond
//! conversions of the simulation and the benches.

use std::time::Duration;

#[cfg(test)]
mod tests;

/// Nearest-rank percentile of sorted values.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(crate) fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

/// Whole milliseconds (saturating).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds with their fraction.
pub(crate) fn millis_f64(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
