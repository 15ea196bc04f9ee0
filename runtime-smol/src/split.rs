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
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes};
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use localsock_core::{SocketError, State};

use crate::driver::{CoreTimer, Driver, Interest};
use crate::LocalSocket;

struct Shared {
    driver: Driver,
    /// The read half's task, while it waits.
    read_waker: Option<Waker>,
    /// The write half's task, while it waits.
    write_waker: Option<Waker>,
}

type SharedRef = Arc<Mutex<Shared>>;

pub(crate) fn split(driver: Driver) -> (OwnedReadHalf, OwnedWriteHalf) {
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

fn lock(shared: &SharedRef) -> MutexGuard<'_, Shared> {
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
fn poll_shared<R>(
    shared: &SharedRef,
    side: Side,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Driver, &mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
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
/// Implements [`AsyncRead`] and [`AsyncBufRead`].
///
/// The halves speak only futures-io: Qt's signals are discarded while the
/// socket is split.
///
/// It sends bytes the write half queued when it can do so without waiting
/// (so request/response works), but only the write half waits for the
/// socket to become writable: flush the write half to be sure.
pub struct OwnedReadHalf {
    shared: SharedRef,
    timer: CoreTimer,
    /// Data taken from the core for `poll_fill_buf` (the core's buffer sits
    /// behind the lock, so it cannot be lent out). At most one read-buffer
    /// limit's worth.
    buf: Bytes,
}

/// The writing half of a [`LocalSocket`], from [`LocalSocket::into_split`].
/// Implements [`AsyncWrite`]; `close` is Qt's graceful disconnect, which
/// ends both directions once the pending bytes have left.
pub struct OwnedWriteHalf {
    shared: SharedRef,
    timer: CoreTimer,
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("state", &self.state())
            .field("local_buffer", &self.buf.len())
            .finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("state", &self.state())
            .finish()
    }
}

/// The two halves passed to [`OwnedReadHalf::reunite`] came from different
/// sockets; they are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves belong to different sockets")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// Puts the socket back together. Data the read half took out of the
    /// socket's buffer for `poll_fill_buf` and not yet consumed is lost to
    /// the reunited socket, so consume it first.
    // The error hands both halves back by value, as tokio's does; it is
    // rare and 200 bytes are cheap to move.
    #[allow(clippy::result_large_err)]
    pub fn reunite(self, write: OwnedWriteHalf) -> Result<LocalSocket, ReuniteError> {
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
    pub fn is_pair_of(&self, write: &OwnedWriteHalf) -> bool {
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

impl OwnedWriteHalf {
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

impl AsyncRead for OwnedReadHalf {
    /// As [`LocalSocket`]'s `poll_read`, waiting only for readability.
    /// Cancel-safe.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.buf.is_empty() {
            let n = out.len().min(this.buf.len());
            this.buf.copy_to_slice(&mut out[..n]);
            return Poll::Ready(Ok(n));
        }
        let timer = &mut this.timer;
        poll_shared(&this.shared, Side::Read, cx, |d, cx| {
            d.poll_read(cx, timer, Interest::READ, out)
        })
    }
}

impl AsyncBufRead for OwnedReadHalf {
    /// Takes what the socket has buffered (without copying) and lends it
    /// out; empty at end of stream. Cancel-safe.
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            let timer = &mut this.timer;
            let taken = poll_shared(&this.shared, Side::Read, cx, |d, cx| {
                std::task::ready!(d.poll_fill_buf(cx, timer, Interest::READ))?;
                Poll::Ready(d.conn.read_all().map_err(io::Error::from))
            });
            this.buf = std::task::ready!(taken)?;
        }
        Poll::Ready(Ok(&this.buf[..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.buf.advance(amt.min(this.buf.len()));
    }
}

impl AsyncWrite for OwnedWriteHalf {
    /// As [`LocalSocket`]'s `poll_write`, waiting only for writability.
    /// Cancel-safe.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let timer = &mut this.timer;
        poll_shared(&this.shared, Side::Write, cx, |d, cx| {
            d.poll_write(cx, timer, Interest::WRITE, buf)
        })
    }

    /// Waits until everything queued was taken by the OS. Cancel-safe.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let timer = &mut this.timer;
        poll_shared(&this.shared, Side::Write, cx, |d, cx| {
            d.poll_flush(cx, timer, Interest::WRITE)
        })
    }

    /// Qt's graceful disconnect: pending bytes drain, then the connection
    /// ends in both directions (the read half then reads what is buffered,
    /// then end of stream). Cancel-safe.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let timer = &mut this.timer;
        poll_shared(&this.shared, Side::Write, cx, |d, cx| {
            d.poll_close(cx, timer, Interest::WRITE)
        })
    }
}
