//! localsock on plain threads: Qt's `QLocalSocket` / `QLocalServer` API for
//! code without an event loop, over Unix domain sockets and Windows named
//! pipes.
//!
//! Every decision (states, Qt's signal order, buffering, retries, error
//! categories and texts) is made by [`localsock_core`]; this crate moves
//! bytes between it and the OS and blocks where Qt's `waitFor*` calls do.
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
//! // Qt's `read_line`/`flush` are inherent methods; the std traits' are
//! // reached through the trait.
//! BufRead::read_line(&mut peer, &mut line)?;
//! peer.write_all(line.as_bytes())?;
//! Write::flush(&mut peer)?;
//! assert_eq!(client.join().unwrap(), "hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod platform;
mod server;
mod socket;

pub use localsock_core::{
    Access, Address, Config, DeviceError, Event, ListenError, LocalSocketError, NameContext,
    OpenMode, PeerCredentials, Platform, ServerError, ServerOptions, SocketError, State,
};
pub use localsock_os::{name_context, Timeout};
pub use server::LocalServer;
pub use socket::LocalSocket;
