#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn proc_figures_are_read() {
    assert!(rss_mib("VmRSS") > 0.0);
    assert!(process_cpu_seconds().unwrap_or(0.0) >= 0.0);
}

#[test]
fn cpu_time_is_read_on_linux() {
    if cfg!(target_os = "linux") {
        let spent = process_cpu_seconds().unwrap();
        assert!(spent >= 0.0);
    }
}
