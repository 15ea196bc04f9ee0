//! What the benchmark needs from the OS: CPU pinning, the descriptor limit,
//! peak RSS, unique socket paths.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Pins the calling thread (and the threads it spawns afterwards, which
/// inherit the mask) to CPU 0: the "pinned to one CPU" layout, like
/// `taskset -c 0`.
#[cfg(target_os = "linux")]
pub fn pin_to_cpu0() -> io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(0);
    rustix::thread::sched_setaffinity(None, &set).map_err(io::Error::from)
}

/// Pinning needs `sched_setaffinity` (Linux).
#[cfg(not(target_os = "linux"))]
pub fn pin_to_cpu0() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "pinning to a CPU needs Linux's sched_setaffinity",
    ))
}

/// Raises the soft limit on open descriptors to the hard limit (workload C
/// holds two per connection); returns the limit now in force.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// A field of `/proc/self/status` in MiB (`VmHWM`: peak RSS; `VmRSS`: now).
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kib: f64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib / 1024.0)
    })
}

/// Peak resident set size of this process, in MiB (0 where unknown).
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM").unwrap_or(0.0)
}

/// Resident set size of this process now, in MiB (0 where unknown).
pub fn rss_mib() -> f64 {
    status_mib("VmRSS").unwrap_or(0.0)
}

/// A fresh socket path for one measurement (absolute, so every library
/// resolves it the same way), with any leftover file removed.
pub fn socket_path(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut dir = std::env::temp_dir().to_string_lossy().into_owned();
    if dir.len() > 60 || !dir.starts_with('/') {
        dir = "/tmp".into();
    }
    let path = format!(
        "{}/lsb-{}-{tag}-{n}",
        dir.trim_end_matches('/'),
        std::process::id()
    );
    let _ = std::fs::remove_file(&path);
    path
}

/// Whether a compiler is running (timings would be noise).
pub fn compiler_running() -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        std::fs::read_to_string(e.path().join("comm"))
            .map(|c| matches!(c.trim(), "rustc" | "cc1" | "cc1plus"))
            .unwrap_or(false)
    })
}
