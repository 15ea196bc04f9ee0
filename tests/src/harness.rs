//! Helpers shared by scenarios: unique names, peers on other threads,
//! checksums. The runtime crates' own tests include this file by path
//! (`#[path]`), so it uses only std and localsock-os.

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

/// A server name no other test (or test process) uses.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "lsk-{}-{}-{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `f` on its own thread (the peer side of a scenario).
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    std::thread::Builder::new()
        .name("peer".into())
        .spawn(f)
        .expect("spawn a peer thread")
}

/// A deterministic pseudo-random payload of `len` bytes.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// FNV-1a over the bytes: a checksum that catches loss and reordering.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Options for a server that holds one client before it accepts: a
/// backlog of 1 (Windows: one armed pipe instance, the next armed only when
/// the server accepts), so the next connects find it full.
pub fn one_slot() -> localsock_core::ServerOptions {
    localsock_core::ServerOptions {
        listen_backlog: 1,
        pipe_instances: 1,
        ..Default::default()
    }
}

/// The temporary directory names resolve in, as the runtimes see it.
pub fn temp_dir() -> String {
    localsock_os::name_context().temp_dir
}
