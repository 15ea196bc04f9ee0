//! One OS stream and one OS listener: the same small method set on every
//! platform, so the driver, `socket.rs` and `server.rs` hold no platform
//! code.
//!
//! A backend provides:
//! - `Stream`: `connect(&Address, OpenMode) -> io::Result<Connect>`,
//!   `poll_finish_connect`, `poll_readable`, `poll_writable`, `recv_into`
//!   (into the core's buffer), `recv_now` (the same, never skipping the
//!   system call), `recv_direct`, `send` (the core's chunks,
//!   vectored), `send_direct`, `peer_credentials`, `shutdown_write`,
//!   `hung_up` (the peer is gone for good, not just half-closed: probed on
//!   end of stream), `poll_hangup` (waits for that on a half-closed
//!   socket), and the constant `DIRECT_WRITES` (whether `send_direct` may
//!   be used);
//! - `Listener`: `bind(&ListenPlan)`, `accept`, `poll_readable`,
//!   `remove_file`.
//!
//! Every I/O method is non-blocking and reports "not now" as
//! `io::ErrorKind::WouldBlock`; the `poll_*` methods register the task's
//! waker (Unix: with the runtime's reactor, registering the descriptor on
//! first use; Windows: with the Win32 thread pool). The methods take
//! `&mut self`, since a backend keeps state between calls.
//!
//! The same vocabulary covers readiness (Unix) and completion (Windows):
//! - Unix: `recv_*`/`send*` are `recv(2)`/`send(2)`; `poll_readable` and
//!   `poll_writable` wait for readiness.
//! - Windows: `recv_*`/`send` collect the overlapped operation in flight
//!   if it has finished and start one otherwise (`WouldBlock` while it is
//!   pending); `poll_readable`/`poll_writable` wait for the operation in
//!   flight to finish (ready at once if none is). Bytes of a write count as
//!   sent when the write completes, and writes never bypass the core's
//!   queue (`DIRECT_WRITES` is false).

// One backend per platform, under one name.
#[cfg_attr(unix, path = "unix.rs")]
#[cfg_attr(windows, path = "windows.rs")]
mod backend;
pub(crate) use backend::{Listener, Stream};

/// Outcome of starting a connect: under way, wait with
/// `Stream::poll_finish_connect`.
pub(crate) type Connect<R> = localsock_os::Connect<Stream<R>>;
