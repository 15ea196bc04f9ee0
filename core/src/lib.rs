//! The sans-IO heart of localsock: everything Qt's `QLocalSocket` and
//! `QLocalServer` decide, with no system calls, clocks or threads.
//!
//! A runtime (blocking, smol, tokio, or your own event loop) owns the OS
//! objects and drives a [`Connection`]: it feeds in what the OS did and asks
//! what to do next. The same state machine therefore behaves identically on
//! every runtime, and it can be tested and fuzzed without I/O.
//!
//! # Driving a connection by hand
//! Here an in-memory "OS" stands in for a socket: the connect succeeds at
//! once, and bytes move through a `Vec`.
//!
//! ```
//! use std::time::Duration;
//! use bytes::BufMut;
//! use localsock_core::{Action, Config, Connection, Event, NameContext, OpenMode, Platform, State};
//!
//! let now = Duration::ZERO;
//! let mut conn = Connection::new(Config::new(NameContext::new(Platform::Linux, "/tmp")));
//! conn.connect_to_server("demo", OpenMode::ReadWrite);
//!
//! // 1. Actions: the core asks for a connect; our fake OS says yes.
//! while let Some(action) = conn.poll_action() {
//!     match action {
//!         Action::Connect { address, .. } => {
//!             assert_eq!(address.as_str(), "/tmp/demo");
//!             conn.handle_connected();
//!         }
//!         Action::Close => {}
//!     }
//! }
//! assert_eq!(conn.state(), State::Connected);
//!
//! // 2. Writes are queued; the driver sends the chunks and reports the count.
//! conn.write(&b"ping\n"[..]).unwrap();
//! let mut wire = Vec::new();
//! for chunk in conn.transmit_chunks() {
//!     wire.extend_from_slice(chunk);
//! }
//! conn.handle_sent(wire.len());
//! assert_eq!(conn.bytes_to_write(), 0);
//!
//! // 3. Reads go straight into the core's buffer, then get reported.
//! let n = conn.read_capacity().min(wire.len());
//! conn.recv_buf().put_slice(&wire[..n]);
//! conn.handle_received(n);
//! assert!(conn.can_read_line());
//! assert_eq!(&conn.read_line(0).unwrap()[..], b"ping\n");
//!
//! // 4. End of stream without a hang-up is a half-close: the peer may
//! //    still read, so this side stays Connected and can still write.
//! conn.handle_received(0);
//! assert_eq!(conn.state(), State::Connected);
//! assert!(conn.wants_hangup_watch());
//! // 5. When the peer goes away for good, Qt's closing signals follow.
//! conn.handle_hangup();
//! let events: Vec<Event> = std::iter::from_fn(|| conn.poll_event()).collect();
//! assert_eq!(events.last(), Some(&Event::Disconnected));
//! assert_eq!(conn.state(), State::Unconnected);
//! ```
//!
//! # Serving
//! A [`Server`] decides what to listen on and queues the
//! accepted connections. Build each accepted [`Connection`] from
//! [`Server::accepted_from`]: the server's
//! names and the socket configuration are then shared by every connection
//! it accepts instead of copied into each.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod buffer;
mod connection;
pub mod descriptor;
pub mod error;
mod event;
mod event_queue;
pub mod name;
pub mod os;
mod platform;
pub mod server;

pub use connection::{
    AcceptedFrom, Config, Connection, SocketOptions, Wait, WaitFor, DEFAULT_CONNECT_TIMEOUT,
    MAX_QUEUED_EVENTS, TRANSMIT_THRESHOLD,
};
pub use error::{
    classify_connect_error, classify_io_error, classify_listen_error, ConnectVerdict, DeviceError,
    Direction, ErrorSource, IoVerdict, ListenError, ListenStage, LocalSocketError, ServerError,
    SocketError, StreamError,
};
pub use event::{Action, Event, OpenMode, ServerEvent, State};
pub use name::{
    resolve_remove_server_name, resolve_server_name, resolve_socket_name, Address, NameContext,
    NameError,
};
pub use os::{OsCode, OsError};
pub use platform::Platform;
pub use server::{
    plan_listen, reclaim_decision, Access, ExistingPath, ListenPlan, ProbeOutcome, ReclaimDecision,
    Server, ServerOptions,
};

/// Credentials of the process at the other end of a connection, as the OS
/// reports them (Qt lacks this). Fields the platform does not report are
/// `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PeerCredentials {
    /// The peer's process id (Linux, Windows).
    pub pid: Option<u32>,
    /// The peer's effective user id (Unix).
    pub uid: Option<u32>,
    /// The peer's effective group id (Unix).
    pub gid: Option<u32>,
}
