//! The smol runtime's view of one OS stream and one OS listener: the same
//! small method set on every platform, so the driver, `socket.rs` and
//! `server.rs` hold no platform code.
//!
//! A backend provides:
//! - `Stream`: `connect(&Address, OpenMode) -> io::Result<Connect>`,
//!   `poll_finish_connect`, `poll_readable`, `poll_writable`, `recv_into`
//!   (into the core's buffer), `recv_direct`, `send` (the core's chunks,
//!   vectored), `send_direct`, `peer_credentials`, `shutdown_write`;
//! - `Listener`: `bind(&ListenPlan)`, `accept`, `poll_readable`,
//!   `remove_file`.
//!
//! Every I/O method is non-blocking and reports "not now" as
//! `io::ErrorKind::WouldBlock`; the `poll_*` methods register the task's
//! waker with async-io's reactor.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{Listener, Stream};

/// Outcome of starting a connect.
#[cfg(unix)]
pub(crate) enum Connect {
    /// Connected at once.
    Done(Stream),
    /// Under way: wait with `Stream::poll_finish_connect`.
    InProgress(Stream),
}
