//! Qt's `QLocalSocket` and `QLocalServer` for Rust: local IPC over Unix
//! domain sockets and Windows named pipes, with Qt's names, states, errors
//! and signals, so Rust programs talk to Qt programs by server name.
//!
//! One sans-IO core ([`core`](crate::core)) decides everything; pick the runtimes you need
//! with cargo features:
//!
//! | feature | module | for |
//! |---|---|---|
//! | `blocking` (default) | [`blocking`] | plain threads, Qt's `waitFor*` calls, `std::io` traits |
//! | `smol` (default) | [`smol`] | `futures-io` streams on async-io: smol or any executor |
//! | `tokio` | [`tokio`] | tokio's `AsyncRead`/`AsyncWrite` |
//! | `axum` | `tokio::axum` | axum 0.8 serves on a tokio `LocalServer`: `axum::serve(server, app)`; handlers take `ConnectInfo<PeerInfo>`, the client's credentials |
//! | `hyper` | `tokio::hyper` | `LocalConnector`: hyper-util's client (or tonic's `Endpoint`) calls a server by name, in a `localsock://` URI built by `hyper::uri` |
//! | `tonic` | `tokio::tonic` | accepted sockets are tonic's `Connected`: `serve_with_incoming(server.incoming())`; clients connect with the `hyper` connector (turns `hyper` on) |
//!
//! The HTTP and gRPC features are off by default and pull in nothing
//! unless turned on; `examples/http_axum.rs` and `examples/grpc_tonic.rs`
//! run both ends of each.
//!
//! The core's types (states, events, errors, options) are re-exported here
//! once, so code can name them without choosing a runtime.
//!
//! # Getting started
//! A server and a client in one process, on each runtime (each example
//! runs when its feature is on; docs.rs builds with every feature). Each
//! runtime module has its own `LocalSocket` and `LocalServer`, drivers of
//! the same sans-IO [`Connection`] of the core. They exchange a message of
//! known length, so the same code runs on Unix sockets and on Windows named
//! pipes (a pipe has no half-close: `shutdown` there disconnects).
//!
//! Plain threads ([`blocking`]):
//! ```
//! # #[cfg(feature = "blocking")] {
//! use std::io::{Read, Write};
//! use localsock::blocking::{LocalServer, LocalSocket};
//!
//! let name = format!("getting-started-blocking-{}", std::process::id());
//! let mut server = LocalServer::new();
//! server.listen(&name)?;
//! let client = std::thread::spawn({
//!     let name = name.clone();
//!     move || -> std::io::Result<[u8; 5]> {
//!         let mut socket = LocalSocket::connect(&name)?;
//!         socket.write_all(b"hello")?;
//!         socket.flush()?;
//!         let mut reply = [0u8; 5];
//!         socket.read_exact(&mut reply)?;
//!         Ok(reply)
//!     }
//! });
//! let mut peer = server.accept()?;
//! let mut got = [0u8; 5];
//! peer.read_exact(&mut got)?;
//! peer.write_all(&got)?;
//! peer.flush()?;
//! assert_eq!(&client.join().unwrap()?, b"hello");
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! smol, or any executor ([`smol`]):
//! ```
//! # #[cfg(feature = "smol")] {
//! use localsock::smol::{LocalServer, LocalSocket};
//! use smol::io::{AsyncReadExt, AsyncWriteExt};
//!
//! smol::block_on(async {
//!     let name = format!("getting-started-smol-{}", std::process::id());
//!     let mut server = LocalServer::new();
//!     server.listen(&name)?;
//!     let client = smol::spawn({
//!         let name = name.clone();
//!         async move {
//!             let mut socket = LocalSocket::connect(&name).await?;
//!             socket.write_all(b"hello").await?;
//!             socket.flush().await?;
//!             let mut reply = [0u8; 5];
//!             socket.read_exact(&mut reply).await?;
//!             Ok::<_, std::io::Error>(reply)
//!         }
//!     });
//!     let mut peer = server.accept().await?;
//!     let mut got = [0u8; 5];
//!     peer.read_exact(&mut got).await?;
//!     peer.write_all(&got).await?;
//!     peer.flush().await?;
//!     assert_eq!(&client.await?, b"hello");
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! tokio ([`tokio`]):
//! ```
//! # #[cfg(feature = "tokio")] {
//! use localsock::tokio::{LocalServer, LocalSocket};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! rt.block_on(async {
//!     let name = format!("getting-started-tokio-{}", std::process::id());
//!     let mut server = LocalServer::new();
//!     server.listen(&name)?;
//!     let client = tokio::spawn({
//!         let name = name.clone();
//!         async move {
//!             let mut socket = LocalSocket::connect(&name).await?;
//!             socket.write_all(b"hello").await?;
//!             socket.flush().await?;
//!             let mut reply = [0u8; 5];
//!             socket.read_exact(&mut reply).await?;
//!             Ok::<_, std::io::Error>(reply)
//!         }
//!     });
//!     let mut peer = server.accept().await?;
//!     let mut got = [0u8; 5];
//!     peer.read_exact(&mut got).await?;
//!     peer.write_all(&got).await?;
//!     peer.flush().await?;
//!     assert_eq!(&client.await??, b"hello");
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Qt's signal style, on a server and a client (here on smol; the
//! blocking and tokio modules have the same calls):
//! ```
//! # #[cfg(feature = "smol")] {
//! use localsock::smol::{LocalServer, LocalSocket};
//! use localsock::{OpenMode, ServerEvent};
//!
//! smol::block_on(async {
//!     let name = format!("getting-started-signals-{}", std::process::id());
//!     let mut server = LocalServer::new();
//!     server.listen(&name)?;
//!     let mut client = LocalSocket::new();
//!     client.set_server_name(&name); // Qt's setServerName + open
//!     client.open(OpenMode::ReadWrite)?;
//!     // newConnection()
//!     assert_eq!(server.next_event().await, Some(ServerEvent::NewConnection));
//!     let peer = server.next_pending_connection().expect("announced");
//!     assert_eq!(peer.full_server_name(), server.full_server_name());
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layers
//! - [`core`](crate::core): the sans-IO state machine. Every decision (states, Qt's
//!   signal order, buffering, connect retries, the ClosingState drain, what
//!   an end of stream or a failed send means, error kinds and texts).
//! - `localsock-os`: the system calls (Unix sockets, overlapped named
//!   pipes), shared by every runtime.
//! - `localsock-async`: the one async driver, generic over a small
//!   `Runtime` trait (a timer and, on Unix, a reactor registration).
//!   `smol` and `tokio` are two implementations of that trait; any other
//!   executor can add its own.
//! - [`blocking`]: the same driver loop on plain threads.
//!
//! # Qt to localsock
//! One verb means one thing on every runtime; the async methods are the
//! blocking ones with `.await`. Waits return `Result` (a timeout is the
//! error kind [`SocketError::SocketTimeout`] / [`ServerError::SocketTimeout`])
//! instead of Qt's `bool`, and no inherent method has the name of an I/O
//! trait method (`read`, `write`, `flush`, `close`, `read_line`), so the
//! trait methods always mean what they mean everywhere else in Rust.
//!
//! | Qt (`QLocalSocket`) | localsock `LocalSocket` |
//! |---|---|
//! | `connectToServer(name, mode)` | `connect_to_server(name)`, `connect_to_server_with_mode(name, mode)`; or `LocalSocket::connect(name)` (connects and waits) |
//! | `waitForConnected(ms)` | `wait_for_connected(timeout) -> Result<(), LocalSocketError>` |
//! | `waitForReadyRead(ms)` | `wait_for_ready_read(timeout) -> Result<(), LocalSocketError>` |
//! | `waitForBytesWritten(ms)` | `wait_for_bytes_written(timeout) -> Result<(), LocalSocketError>` |
//! | `waitForDisconnected(ms)` | `wait_for_disconnected(timeout) -> Result<(), LocalSocketError>` |
//! | `write(data)` | `write_bytes(data)` (queues all, never blocks); or the I/O trait's `write` |
//! | `read(max)`, `readAll()`, `readLine(max)` | `read_bytes(max)`, `read_all()`, `read_line_bytes(max)`; or the I/O traits' `read`, `read_line` |
//! | `peek`, `skip`, `canReadLine`, `atEnd` | `peek`, `skip`, `can_read_line`, `at_end` |
//! | `bytesAvailable`, `bytesToWrite` | `bytes_available`, `bytes_to_write` |
//! | `flush()` | `try_flush()` (sends what it can without waiting); the I/O trait's `flush` waits until all has left |
//! | `disconnectFromServer()` | `disconnect_from_server()`: starts the graceful disconnect and returns; wait with `wait_for_disconnected` |
//! | `close()` | `close_device()`: `AboutToClose`, input dropped, then the graceful disconnect |
//! | `abort()` | `abort()` |
//! | *(none)* | `shutdown_write()`, and the I/O traits' `close` / `shutdown`: flush, then half-close (Unix; the graceful disconnect on pipes) |
//! | `state`, `error`, `errorString`, `isValid`, `openMode` | `state`, `error`, `error_string`, `is_valid`, `open_mode` |
//! | `serverName`, `fullServerName` | `server_name`, `full_server_name` |
//! | `setServerName(name)`, `open(mode)` | `set_server_name(name) -> bool` (false, name kept, unless Unconnected); `open(mode) -> Result<(), LocalSocketError>`: connects to that name and returns at once on every runtime (not `async`): `Ok` when connected, [`SocketError::SocketTimeout`] while the connect is still retried (still Connecting; finish with `wait_for_connected`), else the connect's error (no name: `ServerNotFound`; already connected: `Operation`) |
//! | `setReadBufferSize`, `readBufferSize` | `set_read_buffer_size`, `read_buffer_size` |
//! | `setSocketOptions`, `socketOptions` | `set_socket_options(`[`SocketOptions`]`) -> bool` (false unless Unconnected), `socket_options()`; `set_abstract_namespace(bool)` sets the one option |
//! | `setSocketDescriptor(fd, state, mode)` | `set_socket_descriptor(descriptor, state, mode)`: an `OwnedFd` / `UnixStream` (Unix) or an overlapped pipe `OwnedHandle` (Windows); Connected or Connecting only |
//! | `socketDescriptor()` | `socket_descriptor() -> Option<BorrowedFd / BorrowedHandle>` (`None` for Qt's -1); `AsFd`/`AsRawFd` (Unix), `AsHandle`/`AsRawHandle` (Windows; -1 from the raw forms) |
//! | *(none)* | tokio, feature `hyper`: `hyper::LocalConnector` (a `tower::Service<Uri>` that connects with `LocalSocket::connect`), `hyper::uri(name, path)`, `hyper::server_name(uri)`; for tonic clients `Endpoint::connect_with_connector(LocalConnector::new())` |
//! | signals (`connected`, `readyRead`, `bytesWritten`, `disconnected`, `errorOccurred`, `stateChanged`, `aboutToClose`, …) | [`Event`]s: `poll_event`, `take_events`; async also `next_event` and the `events` stream |
//!
//! | Qt (`QLocalServer`) | localsock `LocalServer` |
//! |---|---|
//! | `listen(name)`, `setSocketOptions` | `listen(name)`, `listen_with(name, ServerOptions)`, `set_options` |
//! | `waitForNewConnection(ms, &timedOut)` | `wait_for_new_connection(timeout) -> Result<(), ListenError>` (a timeout is `ServerError::SocketTimeout`) |
//! | `nextPendingConnection()`, `hasPendingConnections()` | `next_pending_connection()`, `has_pending_connections()`; or `accept()` (waits), `incoming()` |
//! | `setMaxPendingConnections`, `maxPendingConnections` | same names in snake case |
//! | `serverError`, `errorString` | `server_error`, `error_string`; `last_error` keeps the whole [`ListenError`] |
//! | `close()`, `removeServer(name)` | `close()`, `LocalServer::remove_server(name)` |
//! | signal `newConnection()` | [`ServerEvent::NewConnection`], one per queued connection (plus [`ServerEvent::AcceptError`], which Qt lacks): `poll_event`, `take_events` on every runtime; async also `next_event` (accepts, as Qt's event loop does) and the `events` stream. The blocking server queues them in the calls that accept (`wait_for_new_connection`, `accept`, …), as Qt does without an event loop |
//! | `serverName`, `fullServerName`, `isListening` | `server_name`, `full_server_name`, `is_listening` |
//! | `listen(qintptr socketDescriptor)` | `listen_descriptor(descriptor)`: a listening `AF_UNIX` stream socket, else an error (Windows: always `UnsupportedSocketOperation`) |
//! | `socketDescriptor()` | `socket_descriptor()`, `AsFd`/`AsRawFd` (Unix only: a pipe server has no single handle) |
//! | *(none: systemd's `sd_listen_fds`)* | `listen_activated(&ActivatedSocket::Index(0) / ::Name(..))` (Unix) |
//! | *(none)* | tokio, feature `axum`: `axum::serve(server, app)` (a `LocalServer` is axum's `Listener`; accept failures are retried with a pause); `ConnectInfo<PeerInfo>` |
//! | *(none)* | tokio, feature `tonic`: `serve_with_incoming(server.incoming())` (a `LocalSocket` is tonic's `Connected`, with `PeerInfo`); `incoming()` pauses after an accept failure |
//!
//! ```
//! use localsock::{State, SocketError};
//! assert_eq!(State::Connected as i32, 3); // Qt's numbering
//! assert_eq!(SocketError::PeerClosed as i32, 1);
//! ```
// Links to the runtime modules resolve in every feature combination: to
// the module when its feature is on, else to the docs.rs page (built with
// every feature).
#![cfg_attr(feature = "blocking", doc = "[`blocking`]: crate::blocking")]
#![cfg_attr(
    not(feature = "blocking"),
    doc = "[`blocking`]: https://docs.rs/localsock/latest/localsock/blocking/"
)]
#![cfg_attr(feature = "smol", doc = "[`smol`]: crate::smol")]
#![cfg_attr(
    not(feature = "smol"),
    doc = "[`smol`]: https://docs.rs/localsock/latest/localsock/smol/"
)]
#![cfg_attr(feature = "tokio", doc = "[`tokio`]: crate::tokio")]
#![cfg_attr(
    not(feature = "tokio"),
    doc = "[`tokio`]: https://docs.rs/localsock/latest/localsock/tokio/"
)]
#![forbid(unsafe_code)]

pub use localsock_core as core;
pub use localsock_core::{
    descriptor::ActivatedSocket, Access, Address, Config, Connection, DeviceError, ErrorSource,
    Event, ListenError, LocalSocketError, NameContext, OpenMode, PeerCredentials, Platform,
    ServerError, ServerEvent, ServerOptions, SocketError, SocketOptions, State,
};

#[cfg(feature = "blocking")]
pub use localsock_blocking as blocking;
#[cfg(feature = "smol")]
pub use localsock_smol as smol;
#[cfg(feature = "tokio")]
pub use localsock_tokio as tokio;
