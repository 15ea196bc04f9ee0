//! localsock's async driver: Qt's `QLocalSocket` / `QLocalServer` for any
//! executor, generic over a small [`Runtime`] trait.
//!
//! Every decision (states, Qt's signal order, buffering, connect retries,
//! the ClosingState drain, lost-write accounting, error categories and
//! texts) is made by [`localsock_core`]. This crate is the one async
//! driver that moves bytes between the core and the OS, written once for
//! every executor, the way quinn's endpoint is generic over its runtime.
//! It is spawn-free: it never starts a task or a thread, and works only
//! inside the caller's polls. From a runtime it needs a timer and, on
//! Unix, descriptor readiness ([`Runtime`]); Windows named pipes complete
//! through the Win32 thread pool and need no reactor.
//!
//! Most users take a runtime crate that names the types for its runtime:
//! `localsock-smol` (async-io, futures-io streams) or `localsock-tokio`
//! (tokio streams). Use this crate directly to embed localsock in another
//! executor: implement [`Runtime`] and name the types with it. The
//! repository's `examples/custom_executor.rs` does so for a small
//! single-threaded executor of its own on `polling`.
//!
//! The I/O traits come with features: `futures-io` implements futures-io's
//! `AsyncRead`/`AsyncBufRead`/`AsyncWrite`, `tokio` implements tokio's.
//! (They live here rather than in the runtime crates because Rust's orphan
//! rule forbids a runtime crate to implement a foreign trait for a type
//! defined here.) For the same reason the features `axum` (a
//! [`LocalServer`] is axum 0.8's `serve::Listener`) and `tonic` (a
//! [`LocalSocket`] is tonic's `Connected`) live here; both hand handlers
//! the client's `PeerInfo`, and `localsock-tokio` documents them.
//!
//! # Cancel safety
//! All state lives in the core and the socket, never in a future: the
//! reads, `next_event`, `accept` and the waits are cancel-safe; a future
//! dropped before it completes loses no byte, no signal and no connection.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
// Without an I/O trait feature the split halves and the trait plumbing go unused.
#![cfg_attr(not(any(feature = "futures-io", feature = "tokio")), allow(dead_code))]

#[cfg(feature = "axum")]
mod axum;
mod backoff;
mod driver;
#[cfg(feature = "futures-io")]
mod io_futures;
#[cfg(feature = "tokio")]
mod io_tokio;
#[cfg(any(feature = "axum", feature = "tonic"))]
mod peer;
mod runtime;
mod server;
mod socket;
mod split;
mod stream;
#[cfg(feature = "tonic")]
mod tonic;

pub use bytes::Bytes;
pub use localsock_core::descriptor::ActivatedSocket;
pub use localsock_core::{
    Access, Address, Config, Connection, DeviceError, ErrorSource, Event, ListenError,
    LocalSocketError, NameContext, OpenMode, PeerCredentials, Platform, ServerError, ServerEvent,
    ServerOptions, SocketError, SocketOptions, State,
};
pub use localsock_os::descriptor::{BorrowedDescriptor, OwnedDescriptor};
pub use localsock_os::{name_context, Timeout};
#[cfg(any(feature = "axum", feature = "tonic"))]
pub use peer::PeerInfo;

#[cfg(unix)]
pub use runtime::Source;
pub use runtime::{Interest, Runtime, Timer};
pub use server::{Incoming, LocalServer, ServerEvents};
pub use socket::{Events, LocalSocket};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};

/// Declares a runtime crate's runtime: the unit type `$rt` (with the doc
/// lines before it), its [`Runtime`] impl, and the names of
/// [`runtime_types!`].
///
/// The impl hands over to the crate's own `Timer` and, on Unix,
/// `Source<T>`, which provide `Timer::at(Instant) -> Timer` and
/// `Source::register(T) -> io::Result<Source<T>>`: a runtime crate writes
/// only what differs between executors. A trailing
/// `, register_listeners_at_once = true` sets
/// [`Runtime::REGISTER_LISTENERS_AT_ONCE`].
#[macro_export]
macro_rules! runtime {
    ($(#[$doc:meta])* $rt:ident $(, register_listeners_at_once = $at_once:expr)?) => {
        $crate::runtime_types!($rt);

        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $rt;

        impl $crate::Runtime for $rt {
            type Timer = Timer;
            #[cfg(unix)]
            type Source<T: std::os::fd::AsFd + std::fmt::Debug + Send + Sync + 'static> =
                Source<T>;

            $(
                #[cfg(unix)]
                const REGISTER_LISTENERS_AT_ONCE: bool = $at_once;
            )?

            fn timer(at: std::time::Instant) -> Timer {
                Timer::at(at)
            }

            #[cfg(unix)]
            fn register<T: std::os::fd::AsFd + std::fmt::Debug + Send + Sync + 'static>(
                io: T,
            ) -> std::io::Result<Source<T>> {
                Source::register(io)
            }
        }
    };
}

/// Declares, in a runtime crate, the names its users write: the core's
/// types, and the driver's types for the runtime `$rt` (`LocalSocket`,
/// `LocalServer`, the split halves, the streams).
///
/// `localsock-smol` and `localsock-tokio` get it, with their [`Runtime`],
/// from [`runtime!`]; a crate for another executor can do the same.
#[macro_export]
macro_rules! runtime_types {
    ($rt:ty) => {
        pub use $crate::{
            name_context, Access, ActivatedSocket, Address, BorrowedDescriptor, Bytes, Config,
            Connection, DeviceError, ErrorSource, Event, ListenError, LocalSocketError,
            NameContext, OpenMode, OwnedDescriptor, PeerCredentials, Platform, ServerError,
            ServerEvent, ServerOptions, SocketError, SocketOptions, State, Timeout,
        };

        /// Qt's `QLocalSocket` on this runtime: see
        /// [`localsock_async::LocalSocket`].
        pub type LocalSocket = $crate::LocalSocket<$rt>;
        /// Qt's `QLocalServer` on this runtime: see
        /// [`localsock_async::LocalServer`].
        pub type LocalServer = $crate::LocalServer<$rt>;
        /// The read half of [`LocalSocket::into_split`].
        pub type OwnedReadHalf = $crate::OwnedReadHalf<$rt>;
        /// The write half of [`LocalSocket::into_split`].
        pub type OwnedWriteHalf = $crate::OwnedWriteHalf<$rt>;
        /// Two halves that do not belong together, handed back by `reunite`.
        pub type ReuniteError = $crate::ReuniteError<$rt>;
        /// The stream of [`LocalSocket::events`].
        pub type Events<'a> = $crate::Events<'a, $rt>;
        /// The stream of [`LocalServer::incoming`].
        pub type Incoming<'a> = $crate::Incoming<'a, $rt>;
        /// The stream of [`LocalServer::events`].
        pub type ServerEvents<'a> = $crate::ServerEvents<'a, $rt>;
    };
}
