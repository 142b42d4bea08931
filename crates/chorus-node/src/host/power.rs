//! Batteries and mains power, from Linux's power-supply class directory.

use std::path::Path;

/// Linux's power-supply class directory.
pub(super) const POWER_SUPPLY: &str = "/sys/class/power_supply";

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

pub(super) fn has_battery(dir: &Path) -> bool {
    !batteries(dir).is_empty()
}

/// Whether the device charges: `None` without a battery; with one, true
/// when any battery charges or is full, or a mains supply is online.
pub(super) fn charging(dir: &Path) -> Option<bool> {
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
