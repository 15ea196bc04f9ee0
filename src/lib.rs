//! Qt's `QLocalSocket` and `QLocalServer` for Rust: local IPC over Unix
//! domain sockets and Windows named pipes, with Qt's names, states, errors
//! and signals, so Rust programs talk to Qt programs by server name.
//!
//! One sans-IO core ([`core`]) decides everything; pick the runtimes you need
//! with cargo features:
//!
//! | feature | module | for |
//! |---|---|---|
//! | `blocking` (default) | [`blocking`] | plain threads, Qt's `waitFor*` calls, `std::io` traits |
//! | `smol` (default) | `smol` | `futures-io` streams on async-io: smol or any executor |
//! | `tokio` | `tokio` | tokio's `AsyncRead`/`AsyncWrite` |
//!
//! The core's types (states, events, errors, options) are re-exported here
//! once, so code can name them without choosing a runtime.
//!
//! ```
//! use localsock::{State, SocketError};
//! assert_eq!(State::Connected as i32, 3); // Qt's numbering
//! assert_eq!(SocketError::PeerClosed as i32, 1);
//! ```
#![forbid(unsafe_code)]

pub use localsock_core as core;
pub use localsock_core::{
    Access, Address, Config, DeviceError, Event, ListenError, LocalSocketError, NameContext,
    OpenMode, PeerCredentials, Platform, ServerError, ServerOptions, SocketError, State,
};

#[cfg(feature = "blocking")]
pub use localsock_blocking as blocking;
#[cfg(feature = "smol")]
pub use localsock_smol as smol;
#[cfg(feature = "tokio")]
pub use localsock_tokio as tokio;
