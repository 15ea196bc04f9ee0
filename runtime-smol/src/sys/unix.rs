//! Unix: `AF_UNIX` stream sockets registered with async-io's reactor.
//!
//! The system calls themselves come from the blocking runtime's platform
//! layer (`localsock_os::unix`: close-on-exec, non-blocking, no
//! `SIGPIPE`, race-free listen with stale-socket reclaim); this module only
//! wraps the resulting descriptors in [`Async`] so a task can wait for them.
//!
//! # Watching a half-closed socket for the hang-up
//! After the peer half-closed (`shutdown(SHUT_WR)`), the core keeps the
//! connection open and asks the driver to watch for the peer going away
//! for good ([`Stream::poll_hangup`]). The socket itself cannot be waited
//! on for that: it stays readable (end of stream) and usually writable, so
//! async-io's readiness would fire at once, forever. Instead:
//! - **Linux and Android**: a nested epoll. An epoll instance holds the
//!   socket with no interest at all, so it reports only what epoll always
//!   reports, `EPOLLHUP` and `EPOLLERR`; that epoll descriptor is
//!   registered with async-io's reactor and becomes readable exactly when
//!   the socket hangs up (or has an error).
//! - **Other Unix (macOS, BSD)**: a timer that re-probes `POLLHUP` with
//!   backoff, 10 ms doubling to 1 s (kqueue has no filter for a hang-up
//!   alone; `EVFILT_READ` fires at the end of stream already). A peer that
//!   closes is noticed up to a second late.
//!
//! The watch is made on the first wait that needs it, so a socket whose
//! peer never half-closes pays nothing for it.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::task::{Context, Poll};

use async_io::Async;
use localsock_core::{Address, Connection, ListenError, ListenPlan, OpenMode, PeerCredentials};
use localsock_os::unix as sys;

use super::Connect;

/// A connected (or connecting) stream socket, registered with the reactor.
#[derive(Debug)]
pub(crate) struct Stream {
    /// The hang-up watch of a half-closed socket, made on first use (see
    /// the module's docs).
    hangup: Option<Box<HangupWatch>>,
    io: Async<UnixStream>,
    /// The last read left its buffer short, which on a stream socket
    /// usually means it took everything there was, or failed with `EAGAIN`:
    /// the next read waits for readability instead of first paying a
    /// `recv` that would fail. (A writer blocked on a full socket keeps
    /// reading its own socket, so that two peers writing to each other
    /// cannot deadlock; this keeps that from costing a failed `recv` per
    /// wait.) A short read is only a guess: the peer decides where a read
    /// stops (after a passed descriptor, at an out-of-band mark), with data
    /// still queued. The guess is safe here because async-io re-arms the
    /// poller (level-triggered, one-shot) at each wait, and the poller
    /// reports a socket holding data at once: a wrong guess costs one trip
    /// through the reactor, never a stall (the conformance scenario
    /// `short_reads_at_message_boundaries_never_stall` checks it).
    drained: bool,
}

/// Reads into a smaller buffer than this go through the stack, so that a
/// short read can mark the socket drained (see [`Stream::recv_direct`]).
const SMALL_READ: usize = 4096;

impl Stream {
    /// Large writes may go straight from the caller's buffer to the socket:
    /// `send(2)` is done with the buffer when it returns.
    pub(crate) const DIRECT_WRITES: bool = true;

    /// Starts a non-blocking connect. On Unix the socket carries both
    /// directions whatever the open mode; the core enforces the mode.
    pub(crate) fn connect(address: &Address, _mode: OpenMode) -> io::Result<Connect> {
        Ok(match sys::connect(&sys::socket_address(address))? {
            sys::Connecting::Connected(s) => Connect::Done(Stream::from_std(s)?),
            sys::Connecting::InProgress(s) => Connect::InProgress(Stream::from_std(s)?),
        })
    }

    /// Registers a socket that the platform layer created non-blocking
    /// (so async-io's extra `fcntl` is skipped).
    pub(crate) fn from_std(s: UnixStream) -> io::Result<Stream> {
        Ok(Stream {
            hangup: None,
            io: Async::new_nonblocking(s)?,
            drained: false,
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
                Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
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

    /// Whether the peer is gone for good (`POLLHUP`: both directions shut),
    /// as opposed to a half-close. Does not wait. A failing probe counts
    /// as "not known to be gone": the core then treats the end of stream
    /// as a half-close, and the hang-up watch or a failing send settles it.
    pub(crate) fn hung_up(&self) -> bool {
        sys::hung_up(self.io.get_ref().as_fd()).unwrap_or(false)
    }

    /// Waits until the peer hangs up (`Ready(Ok)`), or an error is pending
    /// on the socket (`Ready(Err)`, the error taken from the socket). For a
    /// half-closed socket, which is always readable: see the module's docs.
    pub(crate) fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fd = self.io.get_ref().as_fd();
        let watch = match &mut self.hangup {
            Some(w) => w,
            None => self.hangup.insert(Box::new(HangupWatch::new(fd)?)),
        };
        watch.poll(fd, cx)
    }

    /// Notes a read that found the socket empty (see `drained`).
    fn note_empty(&mut self, r: io::Result<usize>) -> io::Result<usize> {
        if matches!(&r, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.drained = true;
        }
        r
    }

    /// Reads into the core's buffer (at most its read capacity). `Ok(0)` is
    /// end of stream.
    pub(crate) fn recv_into(&mut self, conn: &mut Connection) -> io::Result<usize> {
        if std::mem::take(&mut self.drained) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let cap = conn.read_capacity();
        let n = self.note_empty(sys::recv_into(
            self.io.get_ref().as_fd(),
            &mut conn.recv_buf(),
        ))?;
        self.drained = n > 0 && n < cap;
        Ok(n)
    }

    /// As [`recv_into`](Self::recv_into), but always asks the OS (no
    /// shortcut from an earlier short read): for reading out what a peer
    /// that went away left behind.
    pub(crate) fn recv_now(&mut self, conn: &mut Connection) -> io::Result<usize> {
        self.drained = false;
        self.recv_into(conn)
    }

    /// Reads into the user's buffer: straight into it when it is large;
    /// through up to [`SMALL_READ`] bytes on the stack when it is small, so
    /// that a short read marks the socket drained (then the next read
    /// waits for readability without a failing `recv` first: one system
    /// call saved per message in request/response). What does not fit
    /// spills into `conn`'s buffer (at most its read capacity); returns
    /// `(for the user, spilled)`. `(0, 0)` is end of stream.
    pub(crate) fn recv_direct(
        &mut self,
        out: &mut [u8],
        conn: &mut Connection,
    ) -> io::Result<(usize, usize)> {
        if std::mem::take(&mut self.drained) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        if out.len() >= SMALL_READ {
            let n = self.note_empty((&mut self.io.get_ref()).read(out))?;
            self.drained = n > 0 && n < out.len();
            return Ok((n, 0));
        }
        let cap = out
            .len()
            .saturating_add(conn.read_capacity())
            .min(SMALL_READ);
        let mut stack = [0u8; SMALL_READ];
        let n = self.note_empty((&mut self.io.get_ref()).read(&mut stack[..cap]))?;
        self.drained = n > 0 && n < cap;
        let mine = n.min(out.len());
        out[..mine].copy_from_slice(&stack[..mine]);
        let rest = &stack[mine..n];
        if !rest.is_empty() {
            bytes::BufMut::put_slice(&mut conn.recv_buf(), rest);
        }
        Ok((mine, rest.len()))
    }

    pub(crate) fn send(&mut self, conn: &Connection) -> io::Result<usize> {
        sys::send_chunks(self.io.get_ref().as_fd(), conn.transmit_chunks())
    }

    /// Sends straight from the user's buffer.
    pub(crate) fn send_direct(&mut self, data: &[u8]) -> io::Result<usize> {
        sys::send(self.io.get_ref().as_fd(), data)
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

/// Linux and Android: a nested epoll that reports only the socket's
/// `EPOLLHUP` and `EPOLLERR` (see the module's docs).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
struct HangupWatch {
    /// The epoll descriptor holding the socket with no interest,
    /// registered with async-io's reactor for readability.
    epoll: Async<std::os::fd::OwnedFd>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl HangupWatch {
    fn new(socket: BorrowedFd<'_>) -> io::Result<HangupWatch> {
        use rustix::event::epoll;
        let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        // No interest: epoll reports EPOLLHUP and EPOLLERR whatever is asked.
        epoll::add(
            &ep,
            socket,
            epoll::EventData::new_u64(0),
            epoll::EventFlags::empty(),
        )?;
        // An epoll descriptor is never read from, so its blocking mode does
        // not matter.
        Ok(HangupWatch {
            epoll: Async::new_nonblocking(ep)?,
        })
    }

    fn poll(&mut self, socket: BorrowedFd<'_>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.epoll.poll_readable(cx))?;
            if sys::hung_up(socket)? {
                return Poll::Ready(Ok(()));
            }
            // EPOLLERR without a hang-up: take the error (which clears it,
            // so the watch does not fire again for it) and report it. With
            // neither, the wake-up was stale: register again.
            if let Err(e) = rustix::net::sockopt::socket_error(socket)? {
                return Poll::Ready(Err(e.into()));
            }
        }
    }
}

/// Other Unix: a timer that re-probes `POLLHUP`, 10 ms doubling to 1 s
/// (see the module's docs).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[derive(Debug)]
struct HangupWatch {
    timer: async_io::Timer,
    /// The wait before the next probe.
    delay: std::time::Duration,
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl HangupWatch {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(10);
    const MAX: std::time::Duration = std::time::Duration::from_secs(1);

    fn new(_socket: BorrowedFd<'_>) -> io::Result<HangupWatch> {
        Ok(HangupWatch {
            timer: async_io::Timer::after(Self::FIRST),
            delay: Self::FIRST,
        })
    }

    fn poll(&mut self, socket: BorrowedFd<'_>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        use futures_lite::FutureExt;
        loop {
            if sys::hung_up(socket)? {
                return Poll::Ready(Ok(()));
            }
            std::task::ready!(self.timer.poll(cx));
            self.delay = (self.delay * 2).min(Self::MAX);
            self.timer.set_after(self.delay);
        }
    }
}

/// A listening socket, registered with the reactor.
#[derive(Debug)]
pub(crate) struct Listener {
    io: Async<UnixListener>,
    /// The socket file `bind` created (`None` for an abstract name).
    file: Option<sys::SocketFileId>,
}

impl Listener {
    /// Creates the listener the core planned (see
    /// `localsock_os::unix::listen_plan`).
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener, ListenError> {
        let bound = sys::listen_plan(plan)?;
        match Async::new_nonblocking(bound.listener) {
            Ok(io) => Ok(Listener {
                io,
                file: bound.file,
            }),
            Err(e) => {
                // The reactor refused the descriptor (out of memory): undo
                // the bind so the name is not left taken.
                if let (Address::Path(p), Some(id)) = (&plan.address, bound.file) {
                    let _ = sys::remove_if_same(Path::new(p), id);
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
    pub(crate) fn accept(&mut self) -> io::Result<Option<Stream>> {
        match sys::accept(self.io.get_ref())? {
            Some(s) => Stream::from_std(s).map(Some),
            None => Ok(None),
        }
    }

    /// Registers interest in a pending connection.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_readable(cx)
    }

    /// Closes the listener. The socket file at `socket_file` (the core's
    /// [`socket_file`](localsock_core::Server::socket_file)) is removed
    /// first, and only if it is still the file this listener created: never
    /// a newer server's, after ours was deleted behind our back.
    pub(crate) fn close(self, socket_file: Option<&str>) {
        if let (Some(path), Some(id)) = (socket_file, self.file) {
            let _ = sys::remove_if_same(Path::new(path), id);
        }
    }
}
