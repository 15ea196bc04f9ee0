//! Owned halves of a [`LocalSocket`], for one reading task and one writing
//! task.
//!
//! Both halves share the socket's driver behind a mutex that is never held
//! across an `.await`. tokio keeps one reader and one writer waker per OS
//! socket, so each half registers only its own direction with it; what both
//! may wait on (the core's deadline, a connect under way) is registered
//! with a fan-out waker that wakes both, and a half that changes the
//! connection's state wakes the other.

use std::fmt;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use localsock_core::{SocketError, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::driver::{Driver, Role, Wakers};
use crate::LocalSocket;

const READ: usize = 0;
const WRITE: usize = 1;

/// The two halves' task wakers; waking it wakes both.
#[derive(Debug, Default)]
struct Fanout {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Fanout {
    fn slots(&self) -> MutexGuard<'_, [Option<Waker>; 2]> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn register(&self, slot: usize, waker: &Waker) {
        let mut slots = self.slots();
        if !slots[slot].as_ref().is_some_and(|w| w.will_wake(waker)) {
            slots[slot] = Some(waker.clone());
        }
    }

    fn wake_slot(&self, slot: usize) {
        let waker = self.slots()[slot].clone();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Wake for Fanout {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let wakers = self.slots().clone();
        for w in wakers.into_iter().flatten() {
            w.wake();
        }
    }
}

#[derive(Debug)]
struct Shared {
    driver: Mutex<Driver>,
    fanout: Arc<Fanout>,
    /// `fanout` as a `Waker`, made once.
    fanout_waker: Waker,
}

impl Shared {
    fn driver(&self) -> MutexGuard<'_, Driver> {
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one poll of the half in `slot` on the shared driver.
    fn poll<R>(
        &self,
        slot: usize,
        cx: &Context<'_>,
        f: impl FnOnce(&mut Driver, &Wakers<'_>) -> R,
    ) -> R {
        self.fanout.register(slot, cx.waker());
        let mut d = self.driver();
        let before = d.conn.state();
        let w = Wakers {
            own: cx.waker(),
            shared: &self.fanout_waker,
        };
        let r = f(&mut d, &w);
        let changed = d.conn.state() != before;
        drop(d);
        if changed {
            // The other half may be waiting on an OS readiness that will
            // never come now (the stream may even be gone).
            self.fanout.wake_slot(1 - slot);
        }
        r
    }
}

pub(crate) fn split(d: Driver) -> (OwnedReadHalf, OwnedWriteHalf) {
    let fanout = Arc::new(Fanout::default());
    let shared = Arc::new(Shared {
        driver: Mutex::new(d),
        fanout_waker: Waker::from(fanout.clone()),
        fanout,
    });
    (
        OwnedReadHalf {
            shared: shared.clone(),
        },
        OwnedWriteHalf { shared },
    )
}

/// The reading half of a [`LocalSocket`], from
/// [`into_split`](LocalSocket::into_split). Implements [`AsyncRead`].
///
/// Reads never wait for writability: pending writes of the write half are
/// sent before a read when the OS takes them at once, but delivering them is
/// the write half's job (flush it, as with any buffered writer).
///
/// Dropping the read half leaves the connection as it is (the write half
/// keeps writing, nothing more is read); the connection is aborted when
/// both halves are gone, as when a [`LocalSocket`] is dropped.
#[derive(Debug)]
pub struct OwnedReadHalf {
    shared: Arc<Shared>,
}

/// The writing half of a [`LocalSocket`], from
/// [`into_split`](LocalSocket::into_split). Implements [`AsyncWrite`].
///
/// Writes are buffered as on the socket: flush to deliver. `shutdown` is
/// Qt's graceful disconnect of the whole connection: it drains what is
/// queued, then the connection is Unconnected and the read half reads what
/// is buffered, then end of stream.
///
/// Dropping the write half leaves the connection as it is (unflushed data
/// stays queued and leaves only if the read half happens to send it); the
/// connection is aborted when both halves are gone. Shut it down first to
/// end the connection gracefully.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    shared: Arc<Shared>,
}

/// The halves passed to [`OwnedReadHalf::reunite`] came from different
/// sockets; they are handed back.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different local sockets")
    }
}

impl std::error::Error for ReuniteError {}

impl OwnedReadHalf {
    /// Puts the two halves of one socket back together.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<LocalSocket, ReuniteError> {
        if !Arc::ptr_eq(&self.shared, &other.shared) {
            return Err(ReuniteError(self, other));
        }
        drop(other);
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(LocalSocket::from_driver(
                shared
                    .driver
                    .into_inner()
                    .unwrap_or_else(PoisonError::into_inner),
            )),
            // Only the two halves hold the driver, so this cannot happen;
            // hand back two valid halves rather than panic.
            Err(shared) => Err(ReuniteError(
                OwnedReadHalf {
                    shared: shared.clone(),
                },
                OwnedWriteHalf { shared },
            )),
        }
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.shared.driver().conn.state()
    }

    /// The last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        self.shared.driver().conn.error()
    }

    /// Qt's text for the last error.
    pub fn error_string(&self) -> String {
        self.shared.driver().conn.error_string()
    }

    /// Bytes buffered.
    pub fn bytes_available(&self) -> usize {
        self.shared.driver().conn.bytes_available()
    }
}

impl OwnedWriteHalf {
    /// The connection's state.
    pub fn state(&self) -> State {
        self.shared.driver().conn.state()
    }

    /// The last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        self.shared.driver().conn.error()
    }

    /// Qt's text for the last error.
    pub fn error_string(&self) -> String {
        self.shared.driver().conn.error_string()
    }

    /// Bytes queued for writing.
    pub fn bytes_to_write(&self) -> usize {
        self.shared.driver().conn.bytes_to_write()
    }
}

impl AsyncRead for OwnedReadHalf {
    /// As [`LocalSocket`]'s `poll_read`; cancel-safe.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.shared
            .poll(READ, cx, |d, w| d.poll_read(w, Role::Read, buf))
    }
}

impl AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.shared.poll(WRITE, cx, |d, w| {
            d.poll_write(w, Role::Write, &[IoSlice::new(buf)])
        })
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.shared
            .poll(WRITE, cx, |d, w| d.poll_write(w, Role::Write, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared
            .poll(WRITE, cx, |d, w| d.poll_flush(w, Role::Write))
    }

    /// Qt's graceful disconnect of the whole connection (see the type's
    /// docs).
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared
            .poll(WRITE, cx, |d, w| d.poll_shutdown(w, Role::Write))
    }
}
