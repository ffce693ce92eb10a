//! The memory the machine can still give, checked before the engine's large allocations (the
//! weights, a run's trace and caches): an allocation that fails aborts the process, so a model or
//! a run that cannot fit is refused with an error that says how much it needs instead.
use super::error::{EngineError, Result};

/// Overrides the available bytes: to see what a smaller machine would say, and for tests.
pub const AVAILABLE_VAR: &str = "NEURONAV_MEM_AVAILABLE";

/// Bytes the machine can give without swapping: `NEURONAV_MEM_AVAILABLE` when set, else Linux's
/// `MemAvailable` (free memory plus the page cache it can reclaim); unknown elsewhere.
pub fn available() -> Option<u64> {
    if let Some(bytes) = std::env::var(AVAILABLE_VAR).ok().and_then(|v| v.trim().parse().ok()) {
        return Some(bytes);
    }
    system_available()
}

#[cfg(target_os = "linux")]
fn system_available() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(mem_available)
}

#[cfg(not(target_os = "linux"))]
fn system_available() -> Option<u64> {
    None
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|l| l.strip_prefix("MemAvailable:"))?;
    let kib = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kib.checked_mul(1024)
}

/// Refuses `needed` bytes for `what` when they exceed what the machine has available; passes when
/// that is unknown. `hint` says what needs less.
pub fn check(what: impl FnOnce() -> String, needed: u64, hint: &str) -> Result<()> {
    check_against(available(), what, needed, hint)
}

fn check_against(available: Option<u64>, what: impl FnOnce() -> String, needed: u64, hint: &str) -> Result<()> {
    match available {
        Some(available) if needed > available => {
            Err(EngineError::Memory { what: what(), needed, available, hint: hint.to_string() })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_bytes() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         2000000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(mem_available(meminfo), Some(20_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: lots\n"), None);
    }

    #[test]
    fn more_than_available_is_refused_with_both_numbers() {
        let err = check_against(Some(1 << 30), || "loading the weights".into(), 3 << 30, "try less").unwrap_err();
        let EngineError::Memory { needed, available, .. } = &err else { panic!("{err}") };
        assert_eq!((*needed, *available), (3 << 30, 1 << 30));
        assert_eq!(
            err.to_string(),
            "loading the weights needs 3.00 GiB of memory but only 1.00 GiB is available; try less"
        );
        assert!(check_against(Some(3 << 30), || unreachable!(), 3 << 30, "").is_ok());
        assert!(check_against(None, || unreachable!(), u64::MAX, "").is_ok());
    }
}
