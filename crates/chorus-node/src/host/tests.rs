use std::path::Path;

use super::power::{charging, has_battery};
use super::{device_class, host_probe, parse_mem_total, total_memory};

fn supply(dir: &Path, name: &str, files: &[(&str, &str)]) {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    for (file, text) in files {
        std::fs::write(path.join(file), format!("{text}\n")).unwrap();
    }
}

#[test]
fn no_battery_means_no_charging_state() {
    let dir = tempfile::tempdir().unwrap();
    supply(dir.path(), "AC", &[("type", "Mains"), ("online", "1")]);
    assert_eq!(charging(dir.path()), None);
    assert!(!has_battery(dir.path()));
    assert_eq!(charging(&dir.path().join("missing")), None);
}

#[test]
fn battery_status_and_mains_decide_charging() {
    let dir = tempfile::tempdir().unwrap();
    supply(dir.path(), "BAT0", &[("type", "Battery"), ("status", "Discharging")]);
    supply(dir.path(), "AC", &[("type", "Mains"), ("online", "0")]);
    assert!(has_battery(dir.path()));
    assert_eq!(charging(dir.path()), Some(false));
    supply(dir.path(), "AC", &[("type", "Mains"), ("online", "1")]);
    assert_eq!(charging(dir.path()), Some(true));
    supply(dir.path(), "AC", &[("type", "Mains"), ("online", "0")]);
    supply(dir.path(), "BAT0", &[("type", "Battery"), ("status", "Full")]);
    assert_eq!(charging(dir.path()), Some(true));
}

#[test]
fn mem_total_is_read_in_bytes() {
    let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000 kB\n";
    assert_eq!(parse_mem_total(meminfo), Some(24_576_000 * 1024));
    assert_eq!(parse_mem_total("MemFree: 1 kB\n"), None);
}

#[test]
fn this_device_answers() {
    // Whatever the machine, the probe and the class answer without panicking.
    let _ = (host_probe())();
    let _ = device_class();
    if cfg!(target_os = "linux") {
        assert!(total_memory().is_some_and(|bytes| bytes > 0));
    }
}
