//! Unix: `AF_UNIX` stream sockets registered with async-io's reactor.
//!
//! The system calls themselves come from the blocking runtime's platform
//! layer (`localsock_blocking::sys::unix`: close-on-exec, non-blocking, no
//! `SIGPIPE`, race-free listen with stale-socket reclaim); this module only
//! wraps the resulting descriptors in [`Async`] so a task can wait for them.

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::task::{Context, Poll};

use async_io::Async;
use bytes::BufMut;
use localsock_blocking::sys::unix as sys;
use localsock_core::{Address, Connection, ListenError, ListenPlan, OpenMode, PeerCredentials};
use rustix::io::Errno;

use super::Connect;

/// Most slices handed to one `sendmsg`.
const MAX_IOV: usize = 64;

/// A connected (or connecting) stream socket, registered with the reactor.
#[derive(Debug)]
pub(crate) struct Stream {
    io: Async<UnixStream>,
}

fn socket_address(address: &Address) -> sys::SocketAddress<'_> {
    match address {
        Address::Abstract(name) => sys::SocketAddress::Abstract(name.as_bytes()),
        Address::Path(p) | Address::Pipe(p) => sys::SocketAddress::Path(Path::new(p)),
    }
}

impl Stream {
    /// Starts a non-blocking connect. On Unix the socket carries both
    /// directions whatever the open mode; the core enforces the mode.
    pub(crate) fn connect(address: &Address, _mode: OpenMode) -> io::Result<Connect> {
        Ok(match sys::connect(&socket_address(address))? {
            sys::Connecting::Connected(s) => Connect::Done(Stream::from_std(s)?),
            sys::Connecting::InProgress(s) => Connect::InProgress(Stream::from_std(s)?),
        })
    }

    /// Registers a socket that the platform layer created non-blocking
    /// (so async-io's extra `fcntl` is skipped).
    pub(crate) fn from_std(s: UnixStream) -> io::Result<Stream> {
        Ok(Stream {
            io: Async::new_nonblocking(s)?,
        })
    }

    /// Waits until a connect under way has finished: `Ok` when connected,
    /// the connect's error otherwise.
    pub(crate) fn poll_finish_connect(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Err(e) = std::task::ready!(self.io.poll_writable(cx)) {
                return Poll::Ready(Err(e));
            }
            match sys::finish_connect(self.io.get_ref()) {
                Err(e) if e.raw_os_error() == Some(Errno::NOTCONN.raw_os_error()) => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    /// Registers interest in readability (or EOF, or an error).
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_readable(cx)
    }

    /// Registers interest in writability (or an error).
    pub(crate) fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_writable(cx)
    }

    /// Reads once into the core's buffer. `Ok(0)` is end of stream.
    pub(crate) fn recv_into(&self, conn: &mut Connection) -> io::Result<usize> {
        let mut buf = conn.recv_buf();
        let chunk = buf.chunk_mut();
        // SAFETY: `recv` only writes into the slice (it never reads or
        // de-initialises it), so viewing the spare capacity as
        // `MaybeUninit<u8>` is sound.
        let spare = unsafe { chunk.as_uninit_slice_mut() };
        let n = recv_uninit(self.io.get_ref().as_fd(), spare)?;
        // SAFETY: `recv` initialised exactly the first `n` bytes of the
        // spare capacity it was given.
        unsafe { buf.advance_mut(n) };
        Ok(n)
    }

    /// Reads straight into the user's buffer. `Ok(0)` is end of stream.
    pub(crate) fn recv_direct(&self, out: &mut [u8]) -> io::Result<usize> {
        recv(self.io.get_ref().as_fd(), out)
    }

    /// Sends the core's pending chunks with one vectored write.
    /// One chunk (the common case: small writes coalesce into one) goes
    /// with a plain `send`, which is cheaper in the kernel than `sendmsg`.
    pub(crate) fn send(&self, conn: &Connection) -> io::Result<usize> {
        let fd = self.io.get_ref().as_fd();
        let mut chunks = conn.transmit_chunks();
        let Some(first) = chunks.next() else {
            return Ok(0);
        };
        let Some(second) = chunks.next() else {
            return send(fd, first);
        };
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        slices[0] = IoSlice::new(first);
        slices[1] = IoSlice::new(second);
        let mut n = 2;
        for chunk in chunks.take(MAX_IOV - 2) {
            slices[n] = IoSlice::new(chunk);
            n += 1;
        }
        sys::send_vectored(fd, &slices[..n])
    }

    /// Sends straight from the user's buffer.
    pub(crate) fn send_direct(&self, data: &[u8]) -> io::Result<usize> {
        send(self.io.get_ref().as_fd(), data)
    }

    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        let c = sys::peer_credentials(self.io.get_ref().as_fd())?;
        Ok(PeerCredentials {
            pid: c.pid,
            uid: Some(c.uid),
            gid: Some(c.gid),
        })
    }

    /// Half-closes: the peer reads end of stream, this side can still read.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        sys::shutdown_write(self.io.get_ref().as_fd())
    }
}

/// A listening socket, registered with the reactor.
#[derive(Debug)]
pub(crate) struct Listener {
    io: Async<UnixListener>,
}

impl Listener {
    /// Creates the listener the core planned (see
    /// `localsock_blocking::sys::unix::listen_plan`).
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener, ListenError> {
        let inner = sys::listen_plan(plan)?;
        match Async::new_nonblocking(inner) {
            Ok(io) => Ok(Listener { io }),
            Err(e) => {
                // The reactor refused the descriptor (out of memory): undo
                // the bind so the name is not left taken.
                if let Address::Path(p) = &plan.address {
                    let _ = sys::remove_socket_file(Path::new(p));
                }
                Err(ListenError::from_os(
                    localsock_core::ErrorSource::Listen,
                    crate::driver::os_error(&e),
                ))
            }
        }
    }

    /// Accepts one pending connection without blocking; `Ok(None)` when
    /// none is pending.
    pub(crate) fn accept(&self) -> io::Result<Option<Stream>> {
        match sys::accept(self.io.get_ref())? {
            Some(s) => Stream::from_std(s).map(Some),
            None => Ok(None),
        }
    }

    /// Registers interest in a pending connection.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_readable(cx)
    }

    /// Removes the socket file when the server closes (not for abstract names).
    pub(crate) fn remove_file(path: &str) {
        let _ = sys::remove_socket_file(Path::new(path));
    }
}

fn os(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// `recv(2)` into the user's buffer, as std's `UnixStream::read` does;
/// `EINTR` is retried.
fn recv(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *buf, rustix::net::RecvFlags::empty()) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os(e)),
        }
    }
}

/// `recv(2)` into uninitialised memory; the first `n` bytes are
/// initialised afterwards. `EINTR` is retried.
fn recv_uninit(fd: BorrowedFd<'_>, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *buf, rustix::net::RecvFlags::empty()) {
            Ok(((filled, _), _)) => return Ok(filled.len()),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os(e)),
        }
    }
}

/// One buffer with `send(MSG_NOSIGNAL)`: a closed peer yields `EPIPE`,
/// never `SIGPIPE`. `EINTR` is retried.
#[cfg(not(target_vendor = "apple"))]
fn send(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    use rustix::net::SendFlags;
    loop {
        match rustix::net::send(fd, data, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(os),
        }
    }
}

/// Apple has no `MSG_NOSIGNAL`; the platform layer's vectored write relies
/// on the socket's `SO_NOSIGPIPE` instead.
#[cfg(target_vendor = "apple")]
fn send(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    sys::send_vectored(fd, &[IoSlice::new(data)])
}
