//! What the platform tells the node about this device: whether it is idle
//! (`idle.rs`), whether it charges (`power.rs`), its class (desktop,
//! laptop, phone) and how much memory it has. Platform glue only; the
//! decisions (serve or not) are chorus-core's. The CLI (`chorus serve
//! --only-when-idle`) and the app use the same probe.

mod idle;
mod power;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;

use chorus_core::HostConditions;
use chorus_net::DeviceClass;

pub use idle::{BUSY_LIMIT, device_idle, others_busy, process_cpu_seconds};
use power::{POWER_SUPPLY, charging, has_battery};

/// Reports the host conditions when a peer asks for a slot
/// ([`ServeSettings::host`](crate::ServeSettings::host)).
pub type HostProbe = Arc<dyn Fn() -> HostConditions + Send + Sync>;

/// A probe that always reports the same conditions.
#[cfg(test)]
#[must_use]
pub(crate) fn fixed(idle: bool, charging: Option<bool>) -> HostProbe {
    Arc::new(move || HostConditions { idle, charging })
}

/// The probe of this device. Charging comes from the platform's power
/// supplies (Linux: `/sys/class/power_supply`; `None` without a battery,
/// which [`chorus_core::ServeLimits`] treats as always charging).
/// Idleness is the CPU left alone by the owner's programs
/// ([`device_idle`]).
#[must_use]
pub fn host_probe() -> HostProbe {
    Arc::new(|| HostConditions { idle: device_idle(), charging: device_charging() })
}

/// Whether this device charges now: `None` without a battery (see
/// [`host_probe`]).
#[must_use]
pub fn device_charging() -> Option<bool> {
    charging(Path::new(POWER_SUPPLY))
}

/// The device class: a phone on Android and iOS, a laptop when a battery
/// is present, a desktop otherwise.
#[must_use]
pub fn device_class() -> DeviceClass {
    if cfg!(any(target_os = "android", target_os = "ios")) {
        return DeviceClass::Phone;
    }
    if has_battery(Path::new(POWER_SUPPLY)) { DeviceClass::Laptop } else { DeviceClass::Desktop }
}

/// The device's memory in bytes (Linux and Android: `MemTotal` of
/// `/proc/meminfo`), for recommendations when the profile gives none.
#[must_use]
pub fn total_memory() -> Option<u64> {
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
