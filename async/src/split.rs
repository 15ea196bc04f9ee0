//! [`OwnedReadHalf`] and [`OwnedWriteHalf`]: one socket used from two tasks.
//!
//! Both halves share the [`Driver`] behind a mutex (held only for the
//! duration of one poll, never across an await). Each half waits for its
//! own direction only, with its own timer, so the two tasks never replace
//! each other's wakers in async-io. What one half does that the other must
//! notice (the connection ending, the stream closing) wakes the other half
//! explicitly: async-io does not wake waiters of a source that is dropped.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use localsock_core::{SocketError, State};

use crate::driver::{CoreTimer, Directions, Driver};
use crate::{LocalSocket, Runtime};

struct Shared<R: Runtime> {
    driver: Driver<R>,
    /// The read half's task, while it waits.
    read_waker: Option<Waker>,
    /// The write half's task, while it waits.
    write_waker: Option<Waker>,
}

type SharedRef<R> = Arc<Mutex<Shared<R>>>;

pub(crate) fn split<R: Runtime>(driver: Driver<R>) -> (OwnedReadHalf<R>, OwnedWriteHalf<R>) {
    let shared = Arc::new(Mutex::new(Shared {
        driver,
        read_waker: None,
        write_waker: None,
    }));
    (
        OwnedReadHalf {
            shared: shared.clone(),
            timer: CoreTimer::new(),
            buf: Bytes::new(),
        },
        OwnedWriteHalf {
            shared,
            timer: CoreTimer::new(),
        },
    )
}

fn lock<R: Runtime>(shared: &SharedRef<R>) -> MutexGuard<'_, Shared<R>> {
    // A panic in the other half's task while it held the lock cannot leave
    // the driver half-updated in a way that matters more than the panic
    // itself; carrying on beats a second panic here.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

/// Runs one poll of `side` on the shared driver: stores the waker when
/// pending, and wakes the other side when the connection changed under it.
/// The read half also wakes the write half when it sent queued bytes: it
/// sends what the write half queued whenever it can, and on Windows that
/// collects the write completion the write half may be waiting for (the
/// completion event is reset by the collection, so it would not wake it).
fn poll_shared<R: Runtime, T>(
    shared: &SharedRef<R>,
    side: Side,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Driver<R>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let mut guard = lock(shared);
    let g = &mut *guard;
    let before = (g.driver.conn.state(), g.driver.has_stream());
    let sent_before = g.driver.conn.bytes_sent();
    let r = f(&mut g.driver, cx);
    // The halves have no event API: drop Qt's signals so the core's queue
    // stays empty however long the connection lives.
    while g.driver.conn.poll_event().is_some() {}
    let after = (g.driver.conn.state(), g.driver.has_stream());
    let sent_for_writer = side == Side::Read && g.driver.conn.bytes_sent() != sent_before;
    let (mine, other) = match side {
        Side::Read => (&mut g.read_waker, &mut g.write_waker),
        Side::Write => (&mut g.write_waker, &mut g.read_waker),
    };
    if r.is_pending() {
        match mine {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *mine = Some(cx.waker().clone()),
        }
    }
    let wake = if before != after || sent_for_writer {
        other.take()
    } else {
        None
    };
    drop(guard);
    if let Some(w) = wake {
        w.wake();
    }
    r
}

/// The reading half of a [`LocalSocket`], from [`LocalSocket::into_split`].
/// Implements futures-io's `AsyncRead` and `AsyncBufRead` (feature
/// `futures-io`) and tokio's `AsyncRead` and `AsyncBufRead` (feature
/// `tokio`).
///
/// The halves speak only the I/O traits: Qt's signals are discarded while
/// the socket is split.
///
/// It sends bytes the write half queued when it can do so without waiting
/// (so request/response works), but only the write half waits for the
/// socket to become writable: flush the write half to be sure.
pub struct OwnedReadHalf<R: Runtime> {
    shared: SharedRef<R>,
    timer: CoreTimer<R>,
    /// Data taken from the core for `poll_fill_buf` (the core's buffer sits
    /// behind the lock, so it cannot be lent out). At most one read-buffer
    /// limit's worth.
    buf: Bytes,
}

/// The writing half of a [`LocalSocket`], from [`LocalSocket::into_split`].
/// Implements the `AsyncWrite` of futures-io and of tokio (by feature);
/// `close` / `shutdown` flushes, then half-closes on Unix (the read half
/// still reads the peer's reply) and is Qt's graceful disconnect on
/// Windows pipes, which have no half-close.
pub struct OwnedWriteHalf<R: Runtime> {
    shared: SharedRef<R>,
    timer: CoreTimer<R>,
}

impl<R: Runtime> fmt::Debug for OwnedReadHalf<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("state", &self.state())
            .field("local_buffer", &self.buf.len())
            .finish()
    }
}

impl<R: Runtime> fmt::Debug for OwnedWriteHalf<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("state", &self.state())
            .finish()
    }
}

/// The two halves passed to [`OwnedReadHalf::reunite`] came from different
/// sockets; they are handed back.
#[derive(Debug)]
pub struct ReuniteError<R: Runtime>(pub OwnedReadHalf<R>, pub OwnedWriteHalf<R>);

impl<R: Runtime> fmt::Display for ReuniteError<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves belong to different sockets")
    }
}

impl<R: Runtime> std::error::Error for ReuniteError<R> {}

impl<R: Runtime> OwnedReadHalf<R> {
    /// Puts the socket back together. Data the read half took out of the
    /// socket's buffer for `poll_fill_buf` and not yet consumed is lost to
    /// the reunited socket, so consume it first.
    // The error hands both halves back by value, as tokio's does; it is
    // rare and 200 bytes are cheap to move.
    #[allow(clippy::result_large_err)]
    pub fn reunite(self, write: OwnedWriteHalf<R>) -> Result<LocalSocket<R>, ReuniteError<R>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        let OwnedReadHalf { shared, .. } = self;
        drop(write);
        match Arc::try_unwrap(shared) {
            Ok(m) => {
                let shared = m.into_inner().unwrap_or_else(PoisonError::into_inner);
                Ok(LocalSocket::from_driver(shared.driver))
            }
            // Cannot happen: the two halves are the only handles and both
            // were consumed above. Hand them back rather than panic.
            Err(shared) => Err(ReuniteError(
                OwnedReadHalf {
                    shared: shared.clone(),
                    timer: CoreTimer::new(),
                    buf: Bytes::new(),
                },
                OwnedWriteHalf {
                    shared,
                    timer: CoreTimer::new(),
                },
            )),
        }
    }

    /// Whether `write` is the other half of the same socket.
    pub fn is_pair_of(&self, write: &OwnedWriteHalf<R>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        lock(&self.shared).driver.conn.state()
    }

    /// The connection's last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        lock(&self.shared).driver.conn.error()
    }

    /// Bytes buffered and readable now (including what this half holds for
    /// `poll_fill_buf`).
    pub fn bytes_available(&self) -> usize {
        self.buf.len() + lock(&self.shared).driver.conn.bytes_available()
    }
}

impl<R: Runtime> OwnedWriteHalf<R> {
    /// The connection's state.
    pub fn state(&self) -> State {
        lock(&self.shared).driver.conn.state()
    }

    /// The connection's last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        lock(&self.shared).driver.conn.error()
    }

    /// Bytes queued for writing.
    pub fn bytes_to_write(&self) -> usize {
        lock(&self.shared).driver.conn.bytes_to_write()
    }
}

impl<R: Runtime> OwnedReadHalf<R> {
    /// The I/O traits' `poll_read`: what an earlier `poll_fill_buf` took
    /// first, then the socket.
    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if !self.buf.is_empty() {
            let n = out.len().min(self.buf.len());
            self.buf.copy_to_slice(&mut out[..n]);
            return Poll::Ready(Ok(n));
        }
        let timer = &mut self.timer;
        poll_shared(&self.shared, Side::Read, cx, |d, cx| {
            d.poll_read(cx, timer, Directions::READ, out)
        })
    }

    /// The I/O traits' `poll_fill_buf`: takes what the core buffered into
    /// this half, so the lock is not held while the caller looks at it.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.buf.is_empty() {
            let timer = &mut self.timer;
            let taken = poll_shared(&self.shared, Side::Read, cx, |d, cx| {
                std::task::ready!(d.poll_fill_buf(cx, timer, Directions::READ))?;
                Poll::Ready(d.conn.read_all().map_err(io::Error::from))
            });
            self.buf = std::task::ready!(taken)?;
        }
        Poll::Ready(Ok(&self.buf[..]))
    }

    /// The I/O traits' `consume`.
    pub(crate) fn consume_buffered(&mut self, amt: usize) {
        self.buf.advance(amt.min(self.buf.len()));
    }
}

impl<R: Runtime> OwnedWriteHalf<R> {
    /// The I/O traits' `poll_write`.
    pub(crate) fn poll_write_from(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let timer = &mut self.timer;
        poll_shared(&self.shared, Side::Write, cx, |d, cx| {
            d.poll_write(cx, timer, Directions::WRITE, buf)
        })
    }

    /// The I/O traits' `poll_flush`.
    pub(crate) fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let timer = &mut self.timer;
        poll_shared(&self.shared, Side::Write, cx, |d, cx| {
            d.poll_flush(cx, timer, Directions::WRITE)
        })
    }

    /// The I/O traits' `poll_close` / `poll_shutdown`: flush, then
    /// half-close (see [`LocalSocket`]).
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let timer = &mut self.timer;
        poll_shared(&self.shared, Side::Write, cx, |d, cx| {
            d.poll_shutdown(cx, timer, Directions::WRITE)
        })
    }
}
