//! The platform layer of localsock: thin, policy-free wrappers over the OS
//! objects every runtime uses — Unix domain sockets (non-blocking,
//! close-on-exec, no `SIGPIPE`), listeners with exact permissions and the
//! stale-socket probe, peer credentials, `poll(2)`; on Windows, overlapped
//! named pipes, their security descriptors and the thread-pool waker.
//!
//! Policy-free: every function performs its system calls and returns the
//! OS's own result (an [`std::io::Error`] with the raw code). What a code
//! means — a Qt error, a retry, the end of a connection — is decided by
//! `localsock-core`, never here. The runtimes (`localsock-blocking`,
//! `localsock-smol`, `localsock-tokio`) drive the core with what this crate
//! reports.
//!
//! ```
//! # #[cfg(unix)] {
//! use localsock_os::unix::hung_up;
//! use std::os::fd::AsFd;
//! let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
//! assert!(!hung_up(a.as_fd()).unwrap());
//! drop(b);
//! assert!(hung_up(a.as_fd()).unwrap(), "the peer is gone for good");
//! # }
//! ```
#![warn(missing_docs)]

#[cfg(unix)]
pub mod activation;
pub mod descriptor;
mod env;
#[cfg(unix)]
pub mod unix;
#[cfg(windows)]
pub mod windows;

pub use env::{
    clock_origin, core_now, default_config, default_config_ref, name_context, remove_server,
    Timeout,
};

/// Outcome of starting a connect, over a runtime's own stream type `S`.
#[derive(Debug)]
pub enum Connect<S> {
    /// Connected at once.
    Done(S),
    /// Under way: wait for writability, then finish the connect. (Never on
    /// Windows, where a pipe connect succeeds or fails at once.)
    InProgress(S),
}
