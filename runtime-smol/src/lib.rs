//! localsock on async-io: Qt's `QLocalSocket` / `QLocalServer` as
//! futures-io streams, for smol and any other executor.
//!
//! Every decision (states, Qt's signal order, buffering, connect retries,
//! the ClosingState drain, error categories and texts) is made by
//! [`localsock_core`]; this crate moves bytes between it and the OS, waits
//! with async-io's reactor on Unix (`Async<UnixStream>`) and with the Win32
//! thread pool on Windows (overlapped named pipes' completion events), and
//! keeps the core's deadlines with `async_io::Timer`. Because async-io runs
//! its own reactor, the types work under smol, `futures::executor`, or any
//! executor.
//!
//! ```
//! use futures_lite::future;
//! use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
//! use localsock_smol::{LocalServer, LocalSocket};
//!
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let name = format!("localsock-smol-doc-{}", std::process::id());
//!     let mut server = LocalServer::new();
//!     server.listen(&name)?;
//!
//!     let client = async {
//!         let mut socket = LocalSocket::connect(&name).await?;
//!         socket.write_all(b"ping").await?;
//!         let mut reply = [0; 4];
//!         // A read sends pending writes first: no explicit flush needed.
//!         socket.read_exact(&mut reply).await?;
//!         Ok::<_, std::io::Error>(reply)
//!     };
//!     let serve = async {
//!         let mut peer = server.accept().await?;
//!         let mut request = [0; 4];
//!         peer.read_exact(&mut request).await?;
//!         peer.write_all(b"pong").await?;
//!         // `peer.flush()` would be Qt's non-blocking flush (a `bool`).
//!         AsyncWriteExt::flush(&mut peer).await?;
//!         Ok::<_, std::io::Error>(peer)
//!     };
//!     let (reply, _peer) = future::try_zip(client, serve).await?;
//!     assert_eq!(&reply, b"pong");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Three ways to drive a socket
//! - **Streams**: [`LocalSocket`] implements futures-io's `AsyncRead`,
//!   `AsyncBufRead` and `AsyncWrite`; [`LocalSocket::into_split`] gives two
//!   halves for two tasks. `AsyncWriteExt::close` is Qt's graceful
//!   disconnect.
//! - **Qt's waits**, as async functions with Qt's semantics and timeouts
//!   ([`Timeout`]): `wait_for_connected`, `wait_for_ready_read`,
//!   `wait_for_bytes_written`, `wait_for_disconnected`, and on the server
//!   `wait_for_new_connection`.
//! - **Qt's signals**: [`LocalSocket::next_event`] (or
//!   [`LocalSocket::events`]) drives I/O until the next [`Event`].
//!
//! # Cancel safety
//! Every async method documents it. All state lives in the core, so the
//! reads, `next_event`, `accept` and the waits are cancel-safe: a future
//! dropped before it completes loses no byte, no signal and no connection.
//!
//! # Platforms
//! - **Unix** (Linux, macOS, BSD): `AF_UNIX` stream sockets registered with
//!   async-io's reactor (`Async<UnixStream>`). A peer that half-closes
//!   (`shutdown(SHUT_WR)`) leaves the socket Connected: reads end, writes
//!   go on, and the socket is watched for the peer's hang-up (Linux: a
//!   nested epoll that reports only the hang-up; macOS and BSD: a re-probe
//!   on a timer, 10 ms doubling to 1 s, so the end may be seen up to a
//!   second late).
//! - **Windows**: named pipes opened for overlapped I/O (a read and a write
//!   in flight at once). A task waiting for a completion registers a
//!   one-shot wait for its event on the Win32 thread pool, whose callback
//!   wakes the task; no thread is parked per operation. (Not async-io's
//!   `Waitable`: its re-arming in `polling` can lose a wake-up on Windows.)
//!   A busy pipe (`ERROR_PIPE_BUSY`) is
//!   retried on the core's deadlines with `async_io::Timer`, never with the
//!   thread-blocking `WaitNamedPipe`. Pipes have no half-close
//!   ([`LocalSocket::shutdown_write`] reports `Unsupported`), carry no uid
//!   or gid in [`PeerCredentials`], and leave no file to remove.

mod driver;
mod server;
mod socket;
mod split;
mod sys;

pub use localsock_core::{
    Access, Address, Config, DeviceError, Event, ListenError, LocalSocketError, NameContext,
    OpenMode, PeerCredentials, Platform, ServerError, ServerOptions, SocketError, State,
};
pub use localsock_os::{name_context, Timeout};

pub use server::{Incoming, LocalServer};
pub use socket::{Events, LocalSocket};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
