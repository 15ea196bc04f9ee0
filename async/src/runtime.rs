//! The runtime trait: everything the driver needs from an executor.
//!
//! The driver is spawn-free: it never starts a task or a thread, and all of
//! its work happens inside the caller's polls. So a runtime only has to
//! provide two things:
//! - **a timer** for the core's deadlines (connect retries and timeouts,
//!   the drain timeout, a wait's timeout);
//! - on Unix, **readiness** of a non-blocking descriptor: register it with
//!   the reactor, wait until it may be readable or writable, and run a
//!   system call that may report `WouldBlock`.
//!
//! Windows needs no reactor: named pipes use overlapped I/O whose
//! completion events wake the waiting task through the Win32 thread pool
//! (`localsock_os::windows::EventWaker`), under any executor.
//!
//! `localsock-smol` implements this for async-io and `localsock-tokio` for
//! tokio; the repository's `examples/custom_executor.rs` implements it for a
//! small executor of its own on `polling`.

use std::fmt::Debug;
#[cfg(unix)]
use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

/// A direction to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// The descriptor may be readable (or at end of stream, or failed).
    Readable,
    /// The descriptor may be writable (or failed).
    Writable,
}

/// An executor's timer and reactor, as the driver uses them.
///
/// Implemented on a type (usually a unit struct) rather than a value: the
/// sockets are generic over it, and a runtime's reactor is found the way
/// the runtime finds it (async-io's global reactor, tokio's thread-local
/// handle, or your own).
///
/// # Example
/// A runtime for a single-threaded executor whose reactor and timers live
/// in thread-locals is in the repository's `examples/custom_executor.rs`.
pub trait Runtime: Debug + Send + Sync + Sized + 'static {
    /// A timer: see [`Timer`].
    type Timer: Timer;

    /// A registered descriptor: see [`Source`].
    #[cfg(unix)]
    type Source<T: std::os::fd::AsFd + Debug + Send + Sync + 'static>: Source<T>;

    /// A timer that expires at `at`.
    ///
    /// Called only from within a poll (never from a synchronous method),
    /// so a runtime that needs a context to make timers finds it there.
    fn timer(at: Instant) -> Self::Timer;

    /// Whether a listening socket registers when `listen` creates it
    /// rather than on its first wait (the default, `false`, keeps `listen`
    /// free of any runtime context, which tokio needs).
    ///
    /// `true` for a reactor that starts on first use and needs descriptors
    /// of its own to start, as async-io's does (a poller and a notifier). A
    /// server accepts until the process runs out of descriptors; a reactor
    /// first started only then cannot start at all (async-io panics).
    /// Registering the listener at `listen` starts it while descriptors
    /// are free, and a failure is `listen`'s error.
    #[cfg(unix)]
    const REGISTER_LISTENERS_AT_ONCE: bool = false;

    /// Registers a non-blocking descriptor with the reactor.
    ///
    /// Called lazily, on the first poll that must wait for the descriptor
    /// (a listening socket: see
    /// [`REGISTER_LISTENERS_AT_ONCE`](Self::REGISTER_LISTENERS_AT_ONCE)):
    /// the synchronous calls (`connect_to_server`, `listen`, a queued write
    /// and its send) work without a runtime, and a socket that never waits
    /// never registers. An error (no reactor in this context, or the
    /// reactor refused the descriptor) is reported as the socket's or the
    /// server's error.
    #[cfg(unix)]
    fn register<T: std::os::fd::AsFd + Debug + Send + Sync + 'static>(
        io: T,
    ) -> io::Result<Self::Source<T>>;
}

/// A timer of the runtime, re-armed in place.
pub trait Timer: Debug + Send + Sync + Unpin {
    /// Moves the expiry to `at` (earlier or later).
    fn reset(&mut self, at: Instant);

    /// Ready once the expiry has passed; otherwise registers the task's
    /// waker to be woken then.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// A descriptor registered with a reactor.
///
/// The driver always tries the system call first ([`try_io`]) and waits
/// ([`poll_ready`]) only after `WouldBlock`, then tries again. The two
/// directions are independent: one task may wait for reading while another
/// waits for writing, and neither replaces the other's waker.
///
/// [`try_io`]: Source::try_io
/// [`poll_ready`]: Source::poll_ready
#[cfg(unix)]
pub trait Source<T>: Debug + Send + Sync {
    /// The registered object.
    fn get_ref(&self) -> &T;

    /// Ready when the reactor reports the direction ready (or at once, if
    /// it may still be ready from before); otherwise registers the task's
    /// waker for it.
    ///
    /// A reactor that reports an event only once per arming (async-io) may
    /// return `Pending` on the first call and register; one that caches
    /// readiness (tokio) returns `Ready` while the cache says so. Both are
    /// correct, because the driver calls [`try_io`](Source::try_io) again
    /// after every `Ready`.
    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>>;

    /// Runs a non-blocking operation in `interest`'s direction.
    ///
    /// `op` failing with `WouldBlock` means the direction is drained: a
    /// reactor that caches readiness clears it, so the next
    /// [`poll_ready`](Source::poll_ready) waits for a new event. A reactor
    /// may also skip `op` and report `WouldBlock` at once while its cache
    /// says the direction is not ready. The driver also reports a *short*
    /// write as `WouldBlock` from `op` (keeping its count), so a socket
    /// known to be full costs no more system calls.
    fn try_io<U>(&self, interest: Interest, op: impl FnOnce(&T) -> io::Result<U>) -> io::Result<U>;
}
