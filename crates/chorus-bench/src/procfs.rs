//! The process's own figures from Linux's `/proc` (none elsewhere): this process's CPU
//! time (read by chorus-node's host probe), resident memory and the load
//! average.

#[cfg(test)]
mod tests;

/// CPU seconds this process used so far (user + system, all threads):
/// chorus-node's reader, the one `/proc/self/stat` parser of Chorus.
pub(crate) use chorus_node::process_cpu_seconds;

/// A `/proc/self/status` field in kB, as MiB (0 where there is no /proc).
#[allow(clippy::cast_precision_loss)]
pub(crate) fn rss_mib(field: &str) -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0.0;
    };
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
        })
        .map_or(0.0, |kb| kb as f64 / 1024.0)
}

/// The load average (1, 5, 15 min) from `/proc/loadavg` (empty elsewhere).
pub(crate) fn load_average() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).filter_map(|value| value.parse().ok()).collect())
        .unwrap_or_default()
}
