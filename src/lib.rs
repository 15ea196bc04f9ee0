//! localsock: Qt's `QLocalSocket` and `QLocalServer` for Rust.
#![forbid(unsafe_code)]

#[cfg(feature = "blocking")]
pub use localsock_blocking as blocking;
pub use localsock_core as core;
