//! localsock on tokio: Qt's `QLocalSocket` / `QLocalServer` as tokio
//! [`AsyncRead`](tokio::io::AsyncRead) / [`AsyncWrite`](tokio::io::AsyncWrite)
//! streams, over Unix domain sockets and Windows named pipes.
//!
//! Every decision (states, Qt's signal order, buffering, connect retries on
//! a full backlog, error categories and texts) is made by
//! `localsock_core`, and the one async driver, [`localsock_async`], moves
//! the bytes. This crate is that driver's
//! [`Runtime`](localsock_async::Runtime) for tokio ([`Tokio`]):
//! descriptors wait in tokio's reactor (`AsyncFd`) and the core's deadlines
//! use `tokio::time`.
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
//!     // The socket is its own `AsyncBufRead`.
//!     socket.read_line(&mut line).await?;
//!     Ok::<_, std::io::Error>(line)
//! });
//!
//! let mut peer = server.accept().await?;
//! let mut line = String::new();
//! peer.read_line(&mut line).await?;
//! peer.write_all(line.as_bytes()).await?;
//! peer.shutdown().await?; // flushes, then half-closes
//! assert_eq!(client.await??, "hello\n");
//! # Ok(())
//! # }
//! ```
//!
//! # Three surfaces, one socket
//! [`LocalSocket`] offers Qt's calls (`connect_to_server`, `write_bytes`,
//! `wait_for_ready_read`, `read_all`, `error_string`, …; the `wait_for_*`
//! calls are async fns returning `Result`), tokio's I/O traits, and Qt's
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
//! an out-of-band mark). The `vs_raw` example measures round trips and bulk
//! throughput against raw `tokio::net::UnixStream` on the same runtime
//! flavour.
//!
//! # Platforms
//! Unix (Linux, macOS, BSD): `AF_UNIX` stream sockets in tokio's reactor.
//! Windows: named pipes opened for overlapped I/O, whose completions wake
//! the waiting task through the Win32 thread pool (the same pipe layer on
//! every runtime; tokio's reactor is not involved, so a pipe reads and
//! writes even before a runtime polls it, and a dropped pipe is released
//! at once).
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
//!   `Unsupported`, and `AsyncWriteExt::shutdown` is Qt's graceful
//!   disconnect. [`PeerCredentials`] carry the process id only.
//!
//! # HTTP and gRPC
//! Optional features put the usual servers and clients on local sockets:
//!
//! | feature | gives |
//! |---|---|
//! | `axum` | a [`LocalServer`] is axum 0.8's `serve::Listener`: `axum::serve(server, app)`; handlers take `ConnectInfo<PeerInfo>` (the client's credentials) |
//! | `hyper` | `hyper::LocalConnector`, a `tower::Service<Uri>` for hyper-util's client (and tonic's `Endpoint`), and `hyper::uri` to name a server in a URI |
//! | `tonic` | accepted sockets are tonic's `Connected`: `serve_with_incoming(server.incoming())`; requests carry `PeerInfo`; clients use the `hyper` connector |
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(feature = "tonic")]
pub mod tonic;

#[cfg(unix)]
use std::fmt;
use std::future::Future;
#[cfg(unix)]
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

#[cfg(unix)]
use localsock_async::Interest;

localsock_async::runtime! {
    /// tokio as the driver's [`Runtime`](localsock_async::Runtime). I/O and
    /// time must be enabled on the runtime that polls the sockets.
    Tokio
}

/// A `tokio::time::Sleep` as the driver's timer.
#[derive(Debug)]
pub struct Timer(Pin<Box<tokio::time::Sleep>>);

impl Timer {
    fn at(at: Instant) -> Timer {
        Timer(Box::pin(tokio::time::sleep_until(at.into())))
    }
}

impl localsock_async::Timer for Timer {
    fn reset(&mut self, at: Instant) {
        self.0.as_mut().reset(at.into());
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

/// A descriptor in tokio's reactor (`AsyncFd`).
///
/// tokio caches readiness per direction until an operation reports
/// `WouldBlock`: [`try_io`](localsock_async::Source::try_io) runs the
/// operation only while the cache says ready, and clears it on
/// `WouldBlock`.
#[cfg(unix)]
#[derive(Debug)]
pub struct Source<T: std::os::fd::AsFd>(tokio::io::unix::AsyncFd<Fd<T>>);

#[cfg(unix)]
impl<T: std::os::fd::AsFd> Source<T> {
    // tokio 1.51.6/1.53.3 deprecated the safe `AsyncFd` constructors
    // because a `T` that does not own its descriptor could close it while
    // registered; their replacement, `AsyncFd::register_with_interest`, is
    // `unsafe` and missing from the tokio versions this crate supports
    // (1.42 and later). The driver registers only descriptor-owning
    // objects (`UnixStream`, `UnixListener`, `OwnedFd`), owned by the
    // `AsyncFd` for as long as it is registered, so the safe constructor
    // is sound.
    #[allow(deprecated)]
    fn register(io: T) -> io::Result<Source<T>> {
        use tokio::io::Interest;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "localsock-tokio: polled outside a tokio runtime",
            ));
        }
        tokio::io::unix::AsyncFd::with_interest(Fd(io), Interest::READABLE | Interest::WRITABLE)
            .map(Source)
    }
}

/// `AsyncFd` wants `AsRawFd`; the driver's objects offer `AsFd`.
#[cfg(unix)]
#[derive(Debug)]
pub struct Fd<T>(T);

#[cfg(unix)]
impl<T: std::os::fd::AsFd> std::os::fd::AsRawFd for Fd<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd + fmt::Debug + Send + Sync> localsock_async::Source<T> for Source<T> {
    fn get_ref(&self) -> &T {
        &self.0.get_ref().0
    }

    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>> {
        // The guard is dropped without clearing: only an operation that
        // reports `WouldBlock` (in `try_io`) clears the readiness.
        match interest {
            Interest::Readable => self.0.poll_read_ready(cx).map_ok(drop),
            Interest::Writable => self.0.poll_write_ready(cx).map_ok(drop),
        }
    }

    fn try_io<U>(&self, interest: Interest, op: impl FnOnce(&T) -> io::Result<U>) -> io::Result<U> {
        let interest = match interest {
            Interest::Readable => tokio::io::Interest::READABLE,
            Interest::Writable => tokio::io::Interest::WRITABLE,
        };
        self.0.try_io(interest, |fd| op(&fd.0))
    }
}
