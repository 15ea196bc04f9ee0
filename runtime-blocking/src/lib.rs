//! localsock on plain threads: Qt's `QLocalSocket` / `QLocalServer` API for
//! code without an event loop, over Unix domain sockets and Windows named
//! pipes.
//!
//! Every decision (states, Qt's signal order, buffering, retries, error
//! categories and texts) is made by [`localsock_core`]; this crate moves
//! bytes between it and the OS and blocks where Qt's `waitFor*` calls do.
//!
//! Qt's waits return `Result` instead of `bool`: `Ok(())`, or why not (a
//! [`LocalSocketError`] or [`ListenError`]; a timeout is the kind
//! `SocketTimeout`). Qt's `bool` is `.is_ok()`. No inherent method shares
//! its name with a method of `Read`, `Write` or `BufRead`: Qt's
//! non-blocking `write`, `flush`, `readLine` and `close` are
//! [`write_bytes`](LocalSocket::write_bytes),
//! [`try_flush`](LocalSocket::try_flush),
//! [`read_line_bytes`](LocalSocket::read_line_bytes) and
//! [`close_device`](LocalSocket::close_device), while `flush`, `write` and
//! `read_line` are the std traits' (which block).
//! [`disconnect_from_server`](LocalSocket::disconnect_from_server) starts
//! the graceful close and returns at once;
//! [`wait_for_disconnected`](LocalSocket::wait_for_disconnected) waits for
//! it to finish.
//!
//! ```
//! use localsock_blocking::{LocalServer, LocalSocket};
//! use std::io::{BufRead, BufReader, Write};
//!
//! let name = format!("echo-demo-{}", std::process::id());
//! let mut server = LocalServer::new();
//! server.listen(&name)?;
//! let client = std::thread::spawn(move || {
//!     let mut socket = LocalSocket::connect(&name).unwrap();
//!     socket.write_all(b"hello\n").unwrap();
//!     let mut line = String::new();
//!     BufReader::new(socket).read_line(&mut line).unwrap();
//!     line
//! });
//! let mut peer = server.accept()?;
//! let mut line = String::new();
//! peer.read_line(&mut line)?; // `BufRead`: blocks for a whole line
//! peer.write_all(line.as_bytes())?;
//! peer.flush()?; // `Write`: blocks until the OS took every byte
//! assert_eq!(client.join().unwrap(), "hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod platform;
mod server;
mod socket;

/// The owned byte buffer of [`LocalSocket::write_bytes`] and the reads
/// that return data without copying.
pub use bytes::Bytes;
pub use localsock_core::descriptor::ActivatedSocket;
pub use localsock_core::{
    Access, Address, Config, Connection, DeviceError, ErrorSource, Event, ListenError,
    LocalSocketError, NameContext, OpenMode, PeerCredentials, Platform, ServerError, ServerEvent,
    ServerOptions, SocketError, SocketOptions, State,
};
pub use localsock_os::descriptor::{BorrowedDescriptor, OwnedDescriptor};
pub use localsock_os::{name_context, Timeout};
pub use server::{Incoming, LocalServer};
pub use socket::LocalSocket;
