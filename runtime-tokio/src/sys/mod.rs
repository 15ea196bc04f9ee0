//! The tokio runtime's view of one OS stream and one OS listener: the same
//! small set of non-blocking, readiness-aware methods on every platform, so
//! `socket.rs`, `split.rs` and `server.rs` hold no platform code.
//!
//! Unix lives in [`unix`]; Windows named pipes
//! (`tokio::net::windows::named_pipe`) in [`windows`], with the same
//! method set.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{Connect, Listener, Stream};

// The only module with `unsafe`: Win32 calls and handing raw handles to
// tokio, each block with its `// SAFETY:` reasoning.
#[cfg(windows)]
#[allow(unsafe_code)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{Connect, Listener, Stream};
