//! The blocking runtime's view of one OS stream and one OS listener: the
//! same small method set on every platform, so `socket.rs` and `server.rs`
//! hold no platform code.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{Listener, Stream};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{Listener, Stream};

/// Outcome of starting a connect.
// Pipes connect at once; only Unix sockets can be in progress.
#[cfg_attr(windows, allow(dead_code))]
pub(crate) enum Connect {
    /// Connected at once.
    Done(Stream),
    /// Under way: wait for writability, then [`Stream::finish_connect`].
    InProgress(Stream),
}
