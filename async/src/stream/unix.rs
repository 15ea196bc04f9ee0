//! Unix: `AF_UNIX` stream sockets, registered with the runtime's reactor.
//!
//! The system calls themselves come from `localsock_os::unix`
//! (close-on-exec, non-blocking, no `SIGPIPE`, race-free listen with
//! stale-socket reclaim); this module adds the waiting, through the
//! [`Runtime`]'s [`Source`].
//!
//! # Lazy registration
//! A descriptor is registered with the reactor on the first poll that has
//! to wait for it ([`Registration`]). Until then every call is a plain
//! non-blocking system call, so the synchronous methods work outside any
//! runtime, and a socket that never waits never registers. A runtime
//! whose reactor starts on first use registers listening sockets at
//! `listen` instead ([`Runtime::REGISTER_LISTENERS_AT_ONCE`]).
//!
//! # Watching a half-closed socket for the hang-up
//! After the peer half-closed (`shutdown(SHUT_WR)`), the core keeps the
//! connection open and asks the driver to watch for the peer going away
//! for good ([`Stream::poll_hangup`]). The socket itself cannot be waited
//! on for that: it stays readable (end of stream) and usually writable, so
//! its readiness would fire at once, forever. Instead:
//! - **Linux and Android**: a nested epoll. An epoll instance holds the
//!   socket with no interest at all, so it reports only what epoll always
//!   reports, `EPOLLHUP` and `EPOLLERR`; that epoll descriptor is
//!   registered with the reactor and becomes readable exactly when the
//!   socket hangs up (or has an error).
//! - **Other Unix (macOS, BSD)**: a timer that re-probes `POLLHUP` with
//!   backoff, 10 ms doubling to 1 s (kqueue has no filter for a hang-up
//!   alone; `EVFILT_READ` fires at the end of stream already). A peer that
//!   closes is noticed up to a second late.
//!
//! The watch is made on the first wait that needs it, so a socket whose
//! peer never half-closes pays nothing for it.

use std::fmt::Debug;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::task::{Context, Poll};

use localsock_core::{
    Address, Connection, ErrorSource, ListenError, ListenPlan, OpenMode, OsError, PeerCredentials,
};
use localsock_os::unix as sys;

use super::Connect;
use crate::runtime::{Interest, Runtime, Source};

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// A descriptor, registered with the reactor once something waits for it.
#[derive(Debug)]
enum Registration<T: AsFd + Debug + Send + Sync + 'static, R: Runtime> {
    Plain(T),
    Registered(R::Source<T>),
    /// Only while registering.
    Gone,
}

impl<T: AsFd + Debug + Send + Sync + 'static, R: Runtime> Registration<T, R> {
    fn get_ref(&self) -> Option<&T> {
        match self {
            Registration::Plain(t) => Some(t),
            Registration::Registered(s) => Some(s.get_ref()),
            Registration::Gone => None,
        }
    }

    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.get_ref()
            .map(AsFd::as_fd)
            .ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// A non-blocking operation; through the reactor's readiness once
    /// registered, straight to the OS before.
    fn try_io<U>(&self, interest: Interest, op: impl FnOnce(&T) -> io::Result<U>) -> io::Result<U> {
        match self {
            Registration::Plain(t) => op(t),
            Registration::Registered(s) => s.try_io(interest, op),
            Registration::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>> {
        if let Registration::Plain(_) = self {
            if let Registration::Plain(t) = std::mem::replace(self, Registration::Gone) {
                *self = Registration::Registered(R::register(t)?);
            }
        }
        match self {
            Registration::Registered(s) => s.poll_ready(cx, interest),
            _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }
}

/// A connected (or connecting) stream socket.
#[derive(Debug)]
pub(crate) struct Stream<R: Runtime> {
    io: Registration<UnixStream, R>,
    /// The hang-up watch of a half-closed socket, made on first use (see
    /// the module's docs).
    hangup: Option<Box<HangupWatch<R>>>,
    /// The last read left its buffer short, which on a stream socket
    /// usually means it took everything there was: the next read waits for
    /// readability instead of first paying a `recv` that would fail. (A
    /// writer blocked on a full socket keeps reading its own socket, so
    /// that two peers writing to each other cannot deadlock; this keeps
    /// that from costing a failed `recv` per wait.) A short read is only a
    /// guess: the peer decides where a read stops (after a passed
    /// descriptor, at an out-of-band mark), with data still queued. The
    /// guess is safe because it never clears the reactor's readiness (only
    /// a `recv` that fails with `EAGAIN` does): a level-triggered reactor
    /// reports a socket holding data at once, one that caches readiness
    /// still has it. A wrong guess costs one trip through the reactor,
    /// never a stall (the conformance scenario
    /// `short_reads_at_message_boundaries_never_stall` checks it).
    drained: bool,
}

/// Reads into a smaller buffer than this go through the stack, so that a
/// short read can mark the socket drained (see [`Stream::recv_direct`]).
const SMALL_READ: usize = 4096;

impl<R: Runtime> Stream<R> {
    /// Large writes may go straight from the caller's buffer to the socket:
    /// `send(2)` is done with the buffer when it returns.
    pub(crate) const DIRECT_WRITES: bool = true;

    /// Starts a non-blocking connect. On Unix the socket carries both
    /// directions whatever the open mode; the core enforces the mode.
    pub(crate) fn connect(address: &Address, _mode: OpenMode) -> io::Result<Connect<R>> {
        Ok(match sys::connect(&sys::socket_address(address))? {
            sys::Connecting::Connected(s) => Connect::Done(Stream::from_std(s)),
            sys::Connecting::InProgress(s) => Connect::InProgress(Stream::from_std(s)),
        })
    }

    /// Wraps a socket that the platform layer created non-blocking.
    pub(crate) fn from_std(s: UnixStream) -> Stream<R> {
        Stream {
            io: Registration::Plain(s),
            hangup: None,
            drained: false,
        }
    }

    pub(crate) fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.io.fd()
    }

    /// Waits until a connect under way has finished: `Ok` when connected,
    /// the connect's error otherwise.
    pub(crate) fn poll_finish_connect(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self
                .io
                .try_io(Interest::Writable, |s| match sys::finish_connect(s) {
                    // Not yet: as `WouldBlock`, which clears a cached readiness.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(would_block()),
                    r => r,
                }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.io.poll_ready(cx, Interest::Writable))?;
                }
                r => return Poll::Ready(r),
            }
        }
    }

    /// Waits for readability (or end of stream, or an error).
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::Readable)
    }

    /// Waits for writability (or an error).
    pub(crate) fn poll_writable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::Writable)
    }

    /// Whether the peer is gone for good (`POLLHUP`: both directions shut),
    /// as opposed to a half-close. Does not wait. A failing probe counts
    /// as "not known to be gone": the core then treats the end of stream
    /// as a half-close, and the hang-up watch or a failing send settles it.
    pub(crate) fn hung_up(&self) -> bool {
        self.fd().and_then(sys::hung_up).unwrap_or(false)
    }

    /// Waits until the peer hangs up (`Ready(Ok)`), or an error is pending
    /// on the socket (`Ready(Err)`, the error taken from the socket). For a
    /// half-closed socket, which is always readable: see the module's docs.
    pub(crate) fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let fd = self.io.fd()?;
        let watch = match &mut self.hangup {
            Some(w) => w,
            None => self.hangup.insert(Box::new(HangupWatch::new(fd)?)),
        };
        watch.poll(fd, cx)
    }

    /// Reads with `op`, noting a read that found the socket empty or left
    /// its buffer short (see `drained`).
    fn recv_with(
        &mut self,
        cap: usize,
        op: impl FnOnce(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        if std::mem::take(&mut self.drained) {
            return Err(would_block());
        }
        let n = self.io.try_io(Interest::Readable, |s| op(s.as_fd()))?;
        self.drained = n > 0 && n < cap;
        Ok(n)
    }

    /// Reads into the core's buffer (at most its read capacity). `Ok(0)` is
    /// end of stream.
    pub(crate) fn recv_into(&mut self, conn: &mut Connection) -> io::Result<usize> {
        let cap = conn.read_capacity();
        self.recv_with(cap, |fd| sys::recv_into(fd, &mut conn.recv_buf()))
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
        if out.len() >= SMALL_READ {
            let cap = out.len();
            let n = self.recv_with(cap, |fd| sys::recv_nowait(fd, out))?;
            return Ok((n, 0));
        }
        let cap = out
            .len()
            .saturating_add(conn.read_capacity())
            .min(SMALL_READ);
        // Left uninitialised (`recv_uninit` hands back what the kernel
        // wrote): zeroing 4 KiB per small read cost a tenth of a
        // request/response round trip.
        let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); SMALL_READ];
        let mut split = (0, 0);
        self.recv_with(cap, |fd| {
            let data = sys::recv_uninit(fd, &mut stack[..cap])?;
            let mine = data.len().min(out.len());
            out[..mine].copy_from_slice(&data[..mine]);
            let rest = &data[mine..];
            if !rest.is_empty() {
                bytes::BufMut::put_slice(&mut conn.recv_buf(), rest);
            }
            split = (mine, rest.len());
            Ok(data.len())
        })?;
        Ok(split)
    }

    /// Sends with `op`; a short send reports its count but tells the
    /// reactor the socket is full (see [`Source::try_io`]).
    fn send_with(
        &mut self,
        offered: usize,
        op: impl FnOnce(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut short = 0;
        let r = self.io.try_io(Interest::Writable, |s| {
            let n = op(s.as_fd())?;
            if n > 0 && n < offered {
                short = n;
                return Err(would_block());
            }
            Ok(n)
        });
        match r {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && short > 0 => Ok(short),
            r => r,
        }
    }

    /// Sends the core's queued chunks (vectored).
    pub(crate) fn send(&mut self, conn: &Connection) -> io::Result<usize> {
        let offered = conn
            .transmit_chunks()
            .take(sys::MAX_IOV)
            .fold(0usize, |n, c| n.saturating_add(c.len()));
        self.send_with(offered, |fd| sys::send_chunks(fd, conn.transmit_chunks()))
    }

    /// Sends straight from the user's buffer.
    pub(crate) fn send_direct(&mut self, data: &[u8]) -> io::Result<usize> {
        self.send_with(data.len(), |fd| sys::send(fd, data))
    }

    /// The peer's process, user and group ids.
    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        sys::peer_credentials(self.fd()?)
    }

    /// Half-closes: the peer reads end of stream, this side can still read.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        sys::shutdown_write(self.fd()?)
    }
}

/// Linux and Android: a nested epoll that reports only the socket's
/// `EPOLLHUP` and `EPOLLERR` (see the module's docs).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
struct HangupWatch<R: Runtime> {
    /// The epoll descriptor holding the socket with no interest, watched
    /// for readability.
    epoll: Registration<std::os::fd::OwnedFd, R>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl<R: Runtime> HangupWatch<R> {
    fn new(socket: BorrowedFd<'_>) -> io::Result<HangupWatch<R>> {
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
            epoll: Registration::Plain(ep),
        })
    }

    fn poll(&mut self, socket: BorrowedFd<'_>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let probe = self.epoll.try_io(Interest::Readable, |_| {
                if sys::hung_up(socket)? {
                    return Ok(Ok(()));
                }
                // EPOLLERR without a hang-up: take the error (which clears
                // it, so the watch does not fire again for it) and report
                // it. With neither, the wake-up was stale: wait again.
                match rustix::net::sockopt::socket_error(socket)? {
                    Err(e) => Ok(Err(io::Error::from(e))),
                    Ok(()) => Err(would_block()),
                }
            });
            match probe {
                Ok(r) => return Poll::Ready(r),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::task::ready!(self.epoll.poll_ready(cx, Interest::Readable))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Other Unix: a timer that re-probes `POLLHUP`, 10 ms doubling to 1 s
/// (see the module's docs).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[derive(Debug)]
struct HangupWatch<R: Runtime> {
    timer: Option<R::Timer>,
    /// The wait before the next probe.
    delay: std::time::Duration,
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl<R: Runtime> HangupWatch<R> {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(10);
    const MAX: std::time::Duration = std::time::Duration::from_secs(1);

    fn new(_socket: BorrowedFd<'_>) -> io::Result<HangupWatch<R>> {
        Ok(HangupWatch {
            timer: None,
            delay: Self::FIRST,
        })
    }

    fn poll(&mut self, socket: BorrowedFd<'_>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        use crate::runtime::Timer;
        loop {
            if sys::hung_up(socket)? {
                return Poll::Ready(Ok(()));
            }
            let timer = self
                .timer
                .get_or_insert_with(|| R::timer(std::time::Instant::now() + Self::FIRST));
            std::task::ready!(timer.poll_expired(cx));
            self.delay = (self.delay * 2).min(Self::MAX);
            timer.reset(std::time::Instant::now() + self.delay);
        }
    }
}

/// A listening socket.
#[derive(Debug)]
pub(crate) struct Listener<R: Runtime> {
    io: Registration<UnixListener, R>,
    /// The socket file `bind` created (`None` for an abstract name).
    file: Option<sys::SocketFileId>,
}

impl<R: Runtime> Listener<R> {
    /// Creates the listener the core planned (see
    /// `localsock_os::unix::listen_plan`).
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener<R>, ListenError> {
        let bound = sys::listen_plan(plan)?;
        match Self::registration(bound.listener) {
            Ok(io) => Ok(Listener {
                io,
                file: bound.file,
            }),
            Err(e) => {
                // A server that cannot wait has not started: its file goes
                // (the listener is closed already; see `remove_if_same`).
                if let (Address::Path(path), Some(id)) = (&plan.address, bound.file) {
                    let _ = sys::remove_if_same(Path::new(&**path), id);
                }
                Err(ListenError::from_os(
                    ErrorSource::Listen,
                    OsError::from_io(&e),
                ))
            }
        }
    }

    /// An adopted listening socket, made non-blocking and close-on-exec by
    /// `localsock_os::descriptor::prepare`. No socket file is recorded: it
    /// was not created here, so it is never removed.
    pub(crate) fn adopt(fd: std::os::fd::OwnedFd) -> io::Result<Listener<R>> {
        Ok(Listener {
            io: Self::registration(fd.into())?,
            file: None,
        })
    }

    /// Registered now if the runtime asks for it
    /// ([`Runtime::REGISTER_LISTENERS_AT_ONCE`]), else on the first wait.
    fn registration(listener: UnixListener) -> io::Result<Registration<UnixListener, R>> {
        Ok(if R::REGISTER_LISTENERS_AT_ONCE {
            Registration::Registered(R::register(listener)?)
        } else {
            Registration::Plain(listener)
        })
    }

    pub(crate) fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.io.fd()
    }

    /// Accepts one pending connection without blocking; `Ok(None)` when
    /// none is pending.
    pub(crate) fn accept(&mut self) -> io::Result<Option<Stream<R>>> {
        let r = self
            .io
            .try_io(Interest::Readable, |l| match sys::accept(l) {
                // As `WouldBlock`, so a reactor that caches readiness clears it.
                Ok(None) => Err(would_block()),
                r => r,
            });
        match r {
            Ok(Some(s)) => Ok(Some(Stream::from_std(s))),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits for a pending connection.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_ready(cx, Interest::Readable)
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
