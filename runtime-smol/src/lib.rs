//! localsock on async-io: Qt's `QLocalSocket` / `QLocalServer` as
//! futures-io streams, for smol and any other executor.
//!
//! Every decision (states, Qt's signal order, buffering, connect retries,
//! the ClosingState drain, error categories and texts) is made by
//! `localsock_core`, and the one async driver, [`localsock_async`], moves
//! the bytes. This crate is that driver's [`Runtime`](localsock_async::Runtime)
//! for async-io ([`Smol`]): descriptors wait in async-io's reactor
//! (`Async<T>`), the core's deadlines use `async_io::Timer`, and Windows
//! pipes complete through the Win32 thread pool. Because async-io runs its
//! own reactor, the types work under smol, `futures::executor`, or any
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
//!         peer.flush().await?;
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
//!   halves for two tasks. `AsyncWriteExt::close` flushes, then
//!   half-closes (pipes: Qt's graceful disconnect).
//! - **Qt's waits**, as async functions with Qt's semantics and timeouts
//!   ([`Timeout`]), returning `Result` (Qt's bool is `.is_ok()`):
//!   `wait_for_connected`, `wait_for_ready_read`,
//!   `wait_for_bytes_written`, `wait_for_disconnected`, and on the server
//!   `wait_for_new_connection`.
//! - **Qt's signals**: [`LocalSocket::next_event`] (or
//!   [`LocalSocket::events`]) drives I/O until the next [`Event`];
//!   [`LocalServer::next_event`] (or [`LocalServer::events`]) accepts
//!   until the next [`ServerEvent`] (Qt's `newConnection`).
//!
//! # Cancel safety
//! Every async method documents it. All state lives in the core, so the
//! reads, `next_event`, `accept` and the waits are cancel-safe: a future
//! dropped before it completes loses no byte, no signal and no connection.
//!
//! # Platforms
//! - **Unix** (Linux, macOS, BSD): `AF_UNIX` stream sockets registered with
//!   async-io's reactor (`Async<T>`, registered on the first wait). A peer that half-closes
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

#[cfg(unix)]
use std::fmt;
#[cfg(unix)]
use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_lite::FutureExt;
#[cfg(unix)]
use localsock_async::Interest;

localsock_async::runtime! {
    /// async-io as the driver's [`Runtime`](localsock_async::Runtime).
    Smol, register_listeners_at_once = true
}

/// An `async_io::Timer` as the driver's timer.
#[derive(Debug)]
pub struct Timer(async_io::Timer);

impl Timer {
    fn at(at: Instant) -> Timer {
        Timer(async_io::Timer::at(at))
    }
}

impl localsock_async::Timer for Timer {
    fn reset(&mut self, at: Instant) {
        self.0.set_at(at);
    }

    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll(cx).map(drop)
    }
}

/// A descriptor in async-io's reactor (`Async<T>`).
///
/// async-io arms its poller one-shot and level-triggered at each wait, so
/// nothing is cached: an operation runs as it is, and a wait reports the
/// next event after it registered.
#[cfg(unix)]
#[derive(Debug)]
pub struct Source<T: std::os::fd::AsFd>(async_io::Async<T>);

#[cfg(unix)]
impl<T: std::os::fd::AsFd> Source<T> {
    fn register(io: T) -> io::Result<Source<T>> {
        // The descriptors the driver registers are non-blocking already.
        async_io::Async::new_nonblocking(io).map(Source)
    }
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd + fmt::Debug + Send + Sync> localsock_async::Source<T> for Source<T> {
    fn get_ref(&self) -> &T {
        self.0.get_ref()
    }

    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>> {
        match interest {
            Interest::Readable => self.0.poll_readable(cx),
            Interest::Writable => self.0.poll_writable(cx),
        }
    }

    fn try_io<U>(
        &self,
        _interest: Interest,
        op: impl FnOnce(&T) -> io::Result<U>,
    ) -> io::Result<U> {
        op(self.0.get_ref())
    }
}
