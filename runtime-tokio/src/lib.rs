//! localsock on tokio: Qt's `QLocalSocket` / `QLocalServer` as tokio
//! [`AsyncRead`](tokio::io::AsyncRead) / [`AsyncWrite`](tokio::io::AsyncWrite)
//! streams, over Unix domain sockets and Windows named pipes.
//!
//! Every decision (states, Qt's signal order, buffering, connect retries on
//! a full backlog, error categories and texts) is made by
//! [`localsock_core`]; this crate moves bytes between it and tokio's reactor
//! and turns Qt's `waitFor*` calls into async fns.
//!
//! ```
//! use localsock_tokio::{LocalServer, LocalSocket};
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let name = format!("tokio-doc-{}", std::process::id());
//! let mut server = LocalServer::new();
//! server.listen(&name)?;
//!
//! let client = tokio::spawn(async move {
//!     let mut socket = LocalSocket::connect(&name).await?;
//!     socket.write_all(b"hello\n").await?; // queued; the read below sends it
//!     let mut line = String::new();
//!     // The socket is its own `AsyncBufRead`; Qt's `read_line(max)` is the
//!     // inherent method, so name the trait's.
//!     AsyncBufReadExt::read_line(&mut socket, &mut line).await?;
//!     Ok::<_, std::io::Error>(line)
//! });
//!
//! let mut peer = server.accept().await?;
//! let mut line = String::new();
//! AsyncBufReadExt::read_line(&mut peer, &mut line).await?;
//! peer.write_all(line.as_bytes()).await?;
//! peer.shutdown().await?; // Qt's graceful disconnect: drains, then closes
//! assert_eq!(client.await??, "hello\n");
//! # Ok(())
//! # }
//! ```
//!
//! # Three surfaces, one socket
//! [`LocalSocket`] offers Qt's calls (`connect_to_server`, `write`,
//! `wait_for_ready_read`, `read_all`, `error_string`, …; the `wait_for_*`
//! calls are async fns with Qt's semantics), tokio's I/O traits, and Qt's
//! signals as [`Event`]s through [`LocalSocket::next_event`]. The same
//! operations exist under the same names in `localsock-blocking` and
//! `localsock-smol`.
//!
//! # Cancel safety
//! A socket keeps all its state (buffered input, queued output, events,
//! deadlines) in itself, never in a future. Every async method is
//! cancel-safe in the sense that dropping its future loses no bytes and no
//! events; each method's docs say what is left in progress. Reads,
//! [`LocalSocket::next_event`] and [`LocalServer::accept`] can therefore be
//! used in `tokio::select!` loops.
//!
//! # Runtimes
//! Works on the current-thread and the multi-thread runtime; I/O and time
//! must be enabled. An OS socket registers with the runtime that first polls
//! it, so the synchronous calls work outside a runtime too, and dropping a
//! socket or server never needs one.
//!
//! # Performance
//! No allocation per read or write; a read with nothing buffered goes
//! straight into the caller's buffer and a large write with nothing queued
//! straight to the OS; small writes coalesce into one vectored write. On
//! Unix a short write forgets the writability, as tokio's own streams do,
//! so no `send` is spent on a socket known to be full; a read keeps the
//! readability until `recv` finds the socket empty (a short read proves
//! nothing: the peer decides where a read stops, at a passed descriptor or
//! an out-of-band mark); small reads go through a 4 KiB stack buffer, so a
//! run of them makes one `recv` per 4 KiB. The
//! `vs_raw` example measures round trips and bulk throughput against raw
//! `tokio::net::UnixStream` on the same runtime flavour.
//!
//! # Platforms
//! Unix (Linux, macOS, BSD): `AF_UNIX` stream sockets. Windows: named pipes
//! through `tokio::net::windows::named_pipe`. Platform code lives in
//! `sys::unix` and `sys::windows`; everything else is shared.
//!
//! On Windows:
//! - A server keeps [`ServerOptions::pipe_instances`] instances open
//!   (default 50, Qt's backlog), so a burst of clients that connect before
//!   the first accept is held; each connected instance is replaced before
//!   it is handed off. The first instance is created with
//!   `FILE_FLAG_FIRST_PIPE_INSTANCE` (a name another server owns is
//!   `AddressInUse`), every instance rejects remote clients and carries the
//!   security descriptor of the access options.
//! - When every instance is busy (`ERROR_PIPE_BUSY`), a connect retries on
//!   the core's schedule with `tokio::time` until the connect timeout; no
//!   thread blocks in `WaitNamedPipe`.
//! - Pipes have no half-close: [`LocalSocket::shutdown_write`] fails with
//!   `Unsupported`. [`PeerCredentials`] carry the process id only.
//! - tokio does a pipe's I/O through the runtime's completion port, so a
//!   pipe reads and writes only once a runtime has polled it: a synchronous
//!   [`flush`](LocalSocket::flush) before that writes nothing (the next
//!   wait or read sends). A drop still hands such a pipe what it takes at
//!   once, with one overlapped write of its own.
//! - A dropped or closed pipe is released by the runtime's driver at its
//!   next turn (tokio keeps the handle until the cancelled read's completion
//!   is collected); only then does the peer see the end of the stream. On a
//!   current-thread runtime that nobody drives, that waits.
#![warn(missing_docs)]
// Unsafe code only where allowed by name, each with a `SAFETY:` comment:
// `sys::windows` (Win32 calls, raw handles for tokio) and the one read into
// tokio's uninitialised `ReadBuf` in `sys::unix`.
#![deny(unsafe_code)]

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
