//! Unix: `AF_UNIX` streams and listeners created by the blocking crate's
//! platform layer (close-on-exec, non-blocking, no `SIGPIPE`, race-free
//! permissions, safe stale-socket reclaim) and registered with tokio's
//! reactor.
//!
//! Registration is lazy: a socket is created as a plain std object and
//! registered with the runtime that first polls it. So the synchronous calls
//! (`connect_to_server`, `listen`, `next_pending_connection`, `write`,
//! `flush`) work outside a runtime, and nothing needs a runtime to be dropped.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::{UnixListener as StdListener, UnixStream as StdStream};
use std::path::Path;
use std::task::{ready, Context, Poll};

use localsock_core::{Address, Connection, ListenError, ListenPlan, PeerCredentials};
use localsock_os::unix as sys;
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, ReadBuf};

/// Outcome of starting a connect.
pub(crate) enum Connect {
    /// Connected at once (the usual case for `AF_UNIX`).
    Done(Stream),
    /// Under way: poll [`Stream::poll_connected`].
    InProgress(Stream),
}

/// A connected (or connecting) stream.
#[derive(Debug)]
pub(crate) struct Stream {
    io: StreamIo,
}

#[derive(Debug)]
enum StreamIo {
    /// Not registered with a reactor yet.
    Std(StdStream),
    /// Registered with the reactor of the runtime that first polled it.
    /// `AsyncFd` rather than `tokio::net::UnixStream`: our writes go
    /// through the platform layer (`sendmsg(MSG_NOSIGNAL)` for several
    /// chunks, where tokio's vectored write is a `writev` that can raise
    /// `SIGPIPE`), and only `AsyncFd`'s readiness guards let a successful
    /// short write forget the writability without a failed `send`.
    Tokio(AsyncFd<StdStream>),
    /// Registration failed; the descriptor is closed.
    Gone,
}

/// Reads into a smaller buffer than this go through the stack (see
/// [`Stream::poll_recv_direct`]).
const SMALL_READ: usize = 4096;

fn no_reactor() -> io::Error {
    io::Error::other("localsock-tokio: polled outside a tokio runtime")
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// The bytes one `send_chunks` call offers the kernel (it takes at most
/// `MAX_IOV` chunks): a write shorter than this found the socket full.
fn offered<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> usize {
    chunks
        .take(sys::MAX_IOV)
        .fold(0usize, |n, c| n.saturating_add(c.len()))
}

/// Registers a descriptor-owning std object with the current runtime.
///
/// tokio 1.51.6/1.53.3 deprecated the safe `AsyncFd` constructors because a
/// `T` that does not own its descriptor (a bare `RawFd`) could close it while
/// registered; their replacement, `AsyncFd::register_with_interest`, is
/// `unsafe` and missing from the tokio versions this workspace supports
/// (1.42 and later, for `AsyncFd::try_io`). Here `T` is a std `UnixStream` or `UnixListener`, which
/// owns its descriptor for as long as the `AsyncFd` holds it, so the safe
/// constructor is sound.
#[allow(deprecated)]
fn register<T: std::os::fd::AsRawFd>(io: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    AsyncFd::with_interest(io, interest)
}

/// One read once the reactor reports the stream readable, waiting for that
/// if need be. `op` makes the system call; it runs only once the stream is
/// ready, so whatever it prepares (the core's read buffer, say) is not
/// prepared for a socket that has nothing to give.
///
/// Only `WouldBlock` proves the socket drained (`try_io` then forgets the
/// readability): a stream read stops short wherever the peer put a
/// boundary, with more data queued behind it — after a message carrying
/// descriptors (`SCM_RIGHTS`), at an out-of-band mark (`MSG_OOB`), at a
/// change of writer when credentials are passed. The reactor is
/// edge-triggered, so no event would ever announce that data: forgetting
/// the readability after a short read (as tokio's own streams do) left the
/// task waiting forever with bytes in the kernel. So a short read keeps
/// it, and the next read asks the kernel.
fn poll_read_once(
    s: &AsyncFd<StdStream>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        let mut guard = ready!(s.poll_read_ready(cx))?;
        if let Ok(r) = guard.try_io(|s| op(s.get_ref().as_fd())) {
            return Poll::Ready(r);
        }
    }
}

/// One write once the reactor reports the stream writable, waiting for
/// that if need be. `op` makes the system call and returns what it moved
/// and what it offered the kernel. A write that took less than the offer
/// (but something) found the send buffer full, and only the peer's
/// reading makes room, which the kernel reports as a new writable event:
/// so it forgets the writability, as tokio's own streams do, and the next
/// write waits for the reactor instead of paying a failed system call.
/// The guard clears with the reactor's tick, so an event that arrived
/// meanwhile is kept. (Measured: on the multi-thread runtime, where the
/// reader may drain the socket meanwhile, retrying at once was no faster
/// over 15-round runs.)
fn poll_write_once(
    s: &AsyncFd<StdStream>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<(usize, usize)>,
) -> Poll<io::Result<usize>> {
    loop {
        let mut guard = ready!(s.poll_write_ready(cx))?;
        match guard.try_io(|s| op(s.get_ref().as_fd())) {
            Ok(Ok((n, offered))) => {
                if n > 0 && n < offered {
                    guard.clear_ready();
                }
                return Poll::Ready(Ok(n));
            }
            Ok(Err(e)) => return Poll::Ready(Err(e)),
            Err(_would_block) => continue,
        }
    }
}

impl Stream {
    /// Starts a non-blocking connect to `address`. A full backlog is the
    /// raw `EAGAIN` error (the core retries it), not a silent failure.
    pub(crate) fn connect(address: &Address) -> io::Result<Connect> {
        Ok(match sys::connect(&sys::socket_address(address))? {
            sys::Connecting::Connected(s) => Connect::Done(Stream::from_std(s)),
            sys::Connecting::InProgress(s) => Connect::InProgress(Stream::from_std(s)),
        })
    }

    pub(crate) fn from_std(s: StdStream) -> Self {
        Stream {
            io: StreamIo::Std(s),
        }
    }

    /// The registered stream, registering it with the current runtime first.
    fn registered(&mut self) -> io::Result<&AsyncFd<StdStream>> {
        if matches!(self.io, StreamIo::Std(_)) {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(no_reactor());
            }
            if let StreamIo::Std(s) = std::mem::replace(&mut self.io, StreamIo::Gone) {
                self.io = StreamIo::Tokio(register(s, Interest::READABLE | Interest::WRITABLE)?);
            }
        }
        match &self.io {
            StreamIo::Tokio(s) => Ok(s),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        match &self.io {
            StreamIo::Std(s) => Ok(s.as_fd()),
            StreamIo::Tokio(s) => Ok(s.get_ref().as_fd()),
            StreamIo::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Completes an in-progress connect: ready when the socket turned
    /// writable and reports `SO_ERROR` (or is connected).
    pub(crate) fn poll_connected(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = self.registered()?;
        loop {
            let mut guard = ready!(s.poll_write_ready(cx))?;
            let r = guard.try_io(|s| {
                let s = s.get_ref();
                if let Some(e) = s.take_error()? {
                    return Err(e);
                }
                match s.peer_addr() {
                    Ok(_) => Ok(()),
                    // Not yet: clear the readiness and wait again.
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                    Err(e) => Err(e),
                }
            });
            if let Ok(r) = r {
                return Poll::Ready(r);
            }
        }
    }

    /// Reads once into the core's buffer (at most `read_capacity()` bytes);
    /// `Ok(0)` is end of stream. The caller checks `read_capacity() > 0`.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
    ) -> Poll<io::Result<usize>> {
        let s = self.registered()?;
        // The buffer is reserved inside `op`, once the socket is readable:
        // a flush waiting for a fresh socket's first writable event polls
        // this side too, and reserving first left every such connection
        // holding a read buffer it may never use (4 KiB each).
        poll_read_once(s, cx, |fd| sys::recv_into(fd, &mut conn.recv_buf()))
    }

    /// Reads once into `buf`'s unfilled part. The memory is not zeroed
    /// first: `recv` writes it, as tokio's own streams do, so a `read_buf`
    /// into spare capacity costs no `memset`.
    #[allow(unsafe_code)]
    fn poll_read_into(
        s: &AsyncFd<StdStream>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: `recv` only writes into the slice; it never
        // de-initialises bytes that `buf` counts as initialised.
        let unfilled = unsafe { buf.unfilled_mut() };
        let n = ready!(poll_read_once(s, cx, |fd| sys::recv(fd, &mut *unfilled)))?;
        // SAFETY: `recv` initialised the first `n` bytes of the unfilled
        // part it was given.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }

    /// Reads once straight into the user's buffer. A small buffer reads up
    /// to [`SMALL_READ`] bytes instead, through the stack: what does not fit
    /// spills into `conn`'s buffer (at most its read capacity), and the
    /// count spilled is returned for the caller to report with
    /// `handle_received`. Why: a run of small reads then costs one `recv`
    /// per 4 KiB, not one per read. (A read short of the 4 KiB does not
    /// prove the socket drained, and keeps the readiness: see
    /// [`poll_read_once`].)
    pub(crate) fn poll_recv_direct(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        conn: &mut Connection,
    ) -> Poll<io::Result<usize>> {
        let s = self.registered()?;
        let want = buf.remaining();
        if want >= SMALL_READ {
            return Self::poll_read_into(s, cx, buf).map_ok(|()| 0);
        }
        let cap = want.saturating_add(conn.read_capacity()).min(SMALL_READ);
        let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); SMALL_READ];
        let mut small = ReadBuf::uninit(&mut stack[..cap]);
        ready!(Self::poll_read_into(s, cx, &mut small))?;
        let got = small.filled();
        let mine = got.len().min(want);
        buf.put_slice(&got[..mine]);
        let rest = &got[mine..];
        if !rest.is_empty() {
            bytes::BufMut::put_slice(&mut conn.recv_buf(), rest);
        }
        Poll::Ready(Ok(rest.len()))
    }

    /// Sends the core's queued chunks with one vectored write, waiting for
    /// writability.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        conn: &Connection,
    ) -> Poll<io::Result<usize>> {
        let s = self.registered()?;
        poll_write_once(s, cx, |fd| {
            let n = sys::send_chunks(fd, conn.transmit_chunks())?;
            Ok((n, offered(conn.transmit_chunks())))
        })
    }

    /// Sends the user's slices directly, waiting for writability.
    pub(crate) fn poll_send_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let s = self.registered()?;
        poll_write_once(s, cx, |fd| {
            let n = sys::send_chunks(fd, bufs.iter().map(|b| &**b))?;
            Ok((n, offered(bufs.iter().map(|b| &**b))))
        })
    }

    /// Reads once into the core's buffer now, without a waker and whatever
    /// the reactor last saw (the peer is known gone: its last bytes are
    /// in our kernel buffer or nowhere); `WouldBlock` when nothing is there.
    pub(crate) fn try_recv(&self, conn: &mut Connection) -> io::Result<usize> {
        sys::recv_into(self.fd()?, &mut conn.recv_buf())
    }

    /// Sends the core's queued chunks now, without a waker. `optimistic`
    /// (the synchronous `write`/`flush`/`start_disconnect`): if the reactor
    /// has not seen the socket writable yet (fresh, or not polled), the
    /// system call is made anyway, as Qt's `flush` writes whatever the OS
    /// takes. Otherwise an unknown readiness is `WouldBlock`.
    pub(crate) fn try_send(&self, conn: &Connection, optimistic: bool) -> io::Result<usize> {
        let send = |fd: BorrowedFd<'_>| sys::send_chunks(fd, conn.transmit_chunks());
        match &self.io {
            StreamIo::Tokio(s) => {
                let mut tried = false;
                match s.try_io(Interest::WRITABLE, |s| {
                    tried = true;
                    send(s.as_fd())
                }) {
                    Err(e) if optimistic && !tried && would_block(&e) => send(s.get_ref().as_fd()),
                    r => r,
                }
            }
            StreamIo::Std(s) => send(s.as_fd()),
            StreamIo::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Whether the peer is gone for good (the socket polls `POLLHUP`),
    /// as opposed to having only shut down its writing. Asked at end of
    /// stream; does not wait.
    pub(crate) fn hung_up(&self) -> bool {
        self.fd().and_then(sys::hung_up).unwrap_or(false)
    }

    /// Ready when the peer hangs up: the core asks for this watch after a
    /// half-close, when nothing else is left to wait for. epoll reports a
    /// hang-up as writability with `EPOLLHUP` (tokio's
    /// `is_write_closed`). The socket has long been writable, so that
    /// stale readiness is cleared and the task waits for the next edge:
    /// the peer's close wakes the socket's wait queue, and edge-triggered
    /// epoll reports the socket again, now with `EPOLLHUP`.
    pub(crate) fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let s = self.registered()?;
        loop {
            let mut guard = ready!(s.poll_write_ready(cx))?;
            if guard.ready().is_write_closed() || sys::hung_up(s.get_ref().as_fd())? {
                return Poll::Ready(Ok(()));
            }
            guard.clear_ready();
        }
    }

    /// For a drop: hands the kernel what it takes now, never waiting
    /// (whatever the reactor last saw).
    pub(crate) fn send_without_waiting(&self, conn: &Connection) -> io::Result<usize> {
        self.try_send(conn, true)
    }

    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        let c = sys::peer_credentials(self.fd()?)?;
        Ok(PeerCredentials {
            pid: c.pid,
            uid: Some(c.uid),
            gid: Some(c.gid),
        })
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        sys::shutdown_write(self.fd()?)
    }
}

/// A listening socket.
#[derive(Debug)]
pub(crate) struct Listener {
    io: ListenerIo,
    /// The socket file `bind` created (`None` for an abstract name).
    file: Option<sys::SocketFileId>,
}

#[derive(Debug)]
enum ListenerIo {
    Std(StdListener),
    /// `AsyncFd` rather than `tokio::net::UnixListener`, so that accepts go
    /// through the platform layer (`accept4` with `SOCK_CLOEXEC |
    /// SOCK_NONBLOCK`; `SO_NOSIGPIPE` on Apple).
    Tokio(AsyncFd<StdListener>),
    Gone,
}

impl Listener {
    /// Binds as the plan says, through the platform layer every runtime
    /// shares.
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener, ListenError> {
        let bound = sys::listen_plan(plan)?;
        Ok(Listener {
            io: ListenerIo::Std(bound.listener),
            file: bound.file,
        })
    }

    fn registered(&mut self) -> io::Result<&AsyncFd<StdListener>> {
        if matches!(self.io, ListenerIo::Std(_)) {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(no_reactor());
            }
            if let ListenerIo::Std(l) = std::mem::replace(&mut self.io, ListenerIo::Gone) {
                self.io = ListenerIo::Tokio(register(l, Interest::READABLE)?);
            }
        }
        match &self.io {
            ListenerIo::Tokio(l) => Ok(l),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Accepts one pending connection without blocking, or `Ok(None)`.
    /// `optimistic` (Qt's synchronous `nextPendingConnection`): asks the OS
    /// even when the reactor has not reported the listener readable yet.
    /// Otherwise (a task that will wait with `poll_ready`) an unknown
    /// readiness is `None`, and no system call is spent on an empty backlog.
    pub(crate) fn try_accept(&self, optimistic: bool) -> io::Result<Option<Stream>> {
        let accepted = match &self.io {
            ListenerIo::Tokio(l) => {
                let mut tried = false;
                match l.try_io(Interest::READABLE, |l| {
                    tried = true;
                    sys::accept(l)?.ok_or_else(|| io::ErrorKind::WouldBlock.into())
                }) {
                    Ok(s) => Some(s),
                    Err(e) if would_block(&e) && (tried || !optimistic) => None,
                    Err(e) if would_block(&e) => sys::accept(l.get_ref())?,
                    Err(e) => return Err(e),
                }
            }
            ListenerIo::Std(l) => sys::accept(l)?,
            ListenerIo::Gone => return Err(io::ErrorKind::NotConnected.into()),
        };
        Ok(accepted.map(Stream::from_std))
    }

    /// Ready when a connection may be waiting (then call `try_accept`).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let l = self.registered()?;
        let _guard = ready!(l.poll_read_ready(cx))?;
        Poll::Ready(Ok(()))
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
