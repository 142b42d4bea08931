//! What the platform tells the node about this device: its class (desktop,
//! laptop, phone), whether it charges, how much memory it has. Platform
//! glue only; the decisions (serve or not) are chorus-core's.

use std::path::Path;
use std::sync::Arc;

use chorus_node::core::HostConditions;
use chorus_node::net::DeviceClass;

/// Reports the host conditions when a peer asks for a slot
/// (`ServeSettings::host`).
pub(crate) type HostProbe = Arc<dyn Fn() -> HostConditions + Send + Sync>;

/// Linux's power-supply class directory.
const POWER_SUPPLY: &str = "/sys/class/power_supply";

/// A probe that always reports the same conditions.
#[cfg(test)]
#[must_use]
pub(crate) fn fixed(idle: bool, charging: Option<bool>) -> HostProbe {
    Arc::new(move || HostConditions { idle, charging })
}

/// The probe of this device. Charging comes from the platform's power
/// supplies (Linux: `/sys/class/power_supply`; `None` without a battery,
/// which [`chorus_node::core::ServeLimits`] treats as always charging).
/// Idleness is the CPU left alone by the owner's programs
/// ([`chorus_node::device_idle`]).
#[must_use]
pub(crate) fn probe() -> HostProbe {
    Arc::new(|| HostConditions { idle: chorus_node::device_idle(), charging: charging(Path::new(POWER_SUPPLY)) })
}

/// The device class: a phone on Android and iOS, a laptop when a battery
/// is present, a desktop otherwise.
#[must_use]
pub(crate) fn device_class() -> DeviceClass {
    if cfg!(any(target_os = "android", target_os = "ios")) {
        return DeviceClass::Phone;
    }
    if has_battery(Path::new(POWER_SUPPLY)) { DeviceClass::Laptop } else { DeviceClass::Desktop }
}

/// The device's memory in bytes (Linux and Android: `MemTotal` of
/// `/proc/meminfo`), for recommendations when the profile gives none.
#[must_use]
pub(crate) fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&text)
}

fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let mut words = line.split_whitespace().skip(1);
    let amount: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => amount.checked_mul(1024),
        Some(_) => None,
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|text| text.trim().to_owned())
}

fn batteries(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| read_trimmed(&path.join("type")).as_deref() == Some("Battery"))
        .collect()
}

fn has_battery(dir: &Path) -> bool {
    !batteries(dir).is_empty()
}

/// Whether the device charges: `None` without a battery; with one, true
/// when any battery charges or is full, or a mains supply is online.
fn charging(dir: &Path) -> Option<bool> {
    let batteries = batteries(dir);
    if batteries.is_empty() {
        return None;
    }
    let battery_says = batteries
        .iter()
        .any(|battery| matches!(read_trimmed(&battery.join("status")).as_deref(), Some("Charging" | "Full")));
    let mains_online = std::fs::read_dir(dir).ok().is_some_and(|entries| {
        entries.filter_map(Result::ok).map(|entry| entry.path()).any(|path| {
            read_trimmed(&path.join("type")).as_deref() == Some("Mains")
                && read_trimmed(&path.join("online")).as_deref() == Some("1")
        })
    });
    Some(battery_says || mains_online)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let _ = (probe())();
        let _ = device_class();
        if cfg!(target_os = "linux") {
            assert!(total_memory().is_some_and(|bytes| bytes > 0));
        }
    }
}
