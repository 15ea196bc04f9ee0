//! The blocking runtime's view of one OS stream and one OS listener: the
//! same small method set on every platform, so `socket.rs` and `server.rs`
//! hold no platform code.

// One backend per platform, under one name.
#[cfg_attr(unix, path = "unix.rs")]
#[cfg_attr(windows, path = "windows.rs")]
mod backend;
pub(crate) use backend::{Listener, Stream};

/// Outcome of starting a connect: under way, wait for writability, then
/// [`Stream::finish_connect`].
pub(crate) type Connect = localsock_os::Connect<Stream>;
