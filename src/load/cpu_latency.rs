//! The OS request that keeps idle CPUs able to wake at once, held by the `precise` pacer for its
//! run. On a virtual machine an idle vCPU halts (cpuidle `haltpoll`), and waking a halted vCPU for
//! a timer is an exit to the host: on a quiet VM that, not the pacer, set the lag tail (p99
//! 0.2–3 ms at 50 µs to 10 ms intervals, benches/wakeup.rs). Writing 0 to `/dev/cpu_dma_latency`
//! asks the kernel to allow no idle state with a non-zero exit latency, so idle CPUs poll instead
//! of halting; the same benchmark's p99 fell to 0.1–0.35 ms at 1 ms … 100 µs intervals. On a busy
//! machine it changes little: a busy CPU is seldom idle (docs/measurement.md "Pacing").
//!
//! The kernel keeps the request only while the file stays open and drops it when the descriptor
//! closes — also when the process dies — so it can never outlive the run (cyclictest works the
//! same way). Only root (or whoever the device was given to) may open it; otherwise the run goes
//! on without it and its summary says why. The `sleep` pacer makes no request: it promises no CPU
//! while waiting, and polling idle CPUs spend it. Linux only; elsewhere nothing is requested.

use crate::scenario::PacerKind;
use std::path::{Path, PathBuf};

/// The PM QoS device (Linux).
pub const DEVICE: &str = "/dev/cpu_dma_latency";

#[derive(Debug, thiserror::Error)]
pub enum CpuLatencyError {
    #[error("{path}: {source}{}", if source.kind() == std::io::ErrorKind::PermissionDenied { "; it needs root, or write access to the device" } else { "" })]
    Open { path: PathBuf, source: std::io::Error },
    #[error("{path}: writing the request: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no CPU wake-up latency request on this OS")]
    Unsupported,
}

/// While this lives, the CPUs' wake-up latency request stays at 0 µs; dropping it closes the
/// device, which withdraws the request.
#[derive(Debug)]
pub struct CpuLatencyRequest {
    #[cfg(target_os = "linux")]
    _file: std::fs::File,
}

impl CpuLatencyRequest {
    pub fn hold() -> Result<CpuLatencyRequest, CpuLatencyError> {
        Self::hold_at(Path::new(DEVICE))
    }

    /// `path` is the device; tests give a file that stands in for it.
    pub fn hold_at(path: &Path) -> Result<CpuLatencyRequest, CpuLatencyError> {
        #[cfg(target_os = "linux")]
        {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|source| CpuLatencyError::Open { path: path.to_path_buf(), source })?;
            // The device takes a native-endian i32 of microseconds in one write.
            file.write_all(&0i32.to_ne_bytes()).map_err(|source| CpuLatencyError::Write { path: path.to_path_buf(), source })?;
            Ok(CpuLatencyRequest { _file: file })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = path;
            Err(CpuLatencyError::Unsupported)
        }
    }
}

/// What `generator.cpu_latency` says when the request is held.
pub const HELD: &str = "held at 0 µs";

/// The request a run with `pacer` makes, and what its summary says about it: nothing for `sleep`;
/// for `precise`, `HELD` or `not held: <why>` (logged as a warning too: the run goes on).
pub fn for_pacer(pacer: PacerKind) -> (Option<CpuLatencyRequest>, String) {
    for_pacer_at(pacer, Path::new(DEVICE))
}

fn for_pacer_at(pacer: PacerKind, path: &Path) -> (Option<CpuLatencyRequest>, String) {
    if pacer != PacerKind::Precise {
        return (None, String::new());
    }
    match CpuLatencyRequest::hold_at(path) {
        Ok(r) => (Some(r), HELD.to_string()),
        Err(e) => {
            tracing::warn!("precise pacer: CPU wake-up latency request not held ({e}); lag tails will be the OS's idle wake-ups");
            (None, format!("not held: {e}"))
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Descriptors of this process open on `path`.
    fn open_on(path: &Path) -> usize {
        let want = path.canonicalize().unwrap();
        std::fs::read_dir("/proc/self/fd").unwrap().filter_map(|e| std::fs::read_link(e.ok()?.path()).ok()).filter(|t| *t == want).count()
    }

    /// The request is a 4-byte native i32 of 0 written once, the file stays open while the guard
    /// lives (the kernel would drop the request on close) and is closed when it goes.
    #[test]
    fn holds_zero_while_alive_and_closes_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("cpu_dma_latency");
        std::fs::write(&dev, [0xffu8; 4]).unwrap();
        let before = open_on(&dev);
        let r = CpuLatencyRequest::hold_at(&dev).unwrap();
        assert_eq!(std::fs::read(&dev).unwrap(), 0i32.to_ne_bytes());
        assert_eq!(open_on(&dev), before + 1, "the request must stay open while held");
        drop(r);
        assert_eq!(open_on(&dev), before, "dropping the guard must close the device");
    }

    /// Not permitted (or no device): no guard, and the summary text names the path and why; the
    /// sleep pacer asks for nothing.
    #[test]
    fn not_permitted_says_so_and_sleep_asks_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("cpu_dma_latency");
        let (guard, text) = for_pacer_at(PacerKind::Precise, &missing);
        assert!(guard.is_none());
        assert!(text.starts_with("not held: ") && text.contains(&*missing.to_string_lossy()), "{text}");

        let denied = CpuLatencyError::Open { path: DEVICE.into(), source: std::io::Error::from(std::io::ErrorKind::PermissionDenied) };
        assert!(denied.to_string().starts_with("/dev/cpu_dma_latency: ") && denied.to_string().ends_with("; it needs root, or write access to the device"), "{denied}");

        let dev = dir.path().join("dev");
        std::fs::write(&dev, []).unwrap();
        let (guard, text) = for_pacer_at(PacerKind::Sleep, &dev);
        assert!(guard.is_none() && text.is_empty());
        assert!(std::fs::read(&dev).unwrap().is_empty(), "the sleep pacer must not write a request");
        let (guard, text) = for_pacer_at(PacerKind::Precise, &dev);
        assert!(guard.is_some() && text == HELD, "{text}");
    }
}
