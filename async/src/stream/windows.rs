//! Windows: overlapped named pipes whose completions wake the waiting task.
//!
//! The pipe I/O itself is the policy-free overlapped layer
//! (`localsock_os::windows`): every handle is overlapped, a read
//! and a write can be in flight at once, each operation owns a heap
//! `OVERLAPPED` and buffer that are never freed while the kernel may use them,
//! and each operation slot signals a manual-reset event when its result is
//! ready. This module only adds the waiting: a task that finds an operation
//! pending registers, through [`sys::EventWaker`], a one-shot wait for that
//! event on the Win32 thread pool, whose callback wakes the task. No thread
//! is parked per operation (the pool's wait threads watch up to 63 events
//! each), and no reactor is involved: the wake-up goes straight to the
//! task's waker, under any executor.
//!
//! An earlier version registered the events with async-io's reactor
//! (`async_io::os::windows::Waitable`); a race in how `polling` re-arms such
//! waits on Windows lost a wake-up about once in 25 suite runs, hanging a
//! request/response loop between two threads. `EventWaker`'s docs have the
//! details.
//!
//! # Readiness over completion
//! The driver speaks readiness (try the operation; on `WouldBlock` wait,
//! then try again). Here "try" means: collect the operation in flight if it
//! has finished, otherwise start one; and "wait" means: wait for the
//! operation in flight to finish.
//! - Reads: the first `recv_*` starts an overlapped `ReadFile` and reports
//!   `WouldBlock` while it is pending; once its event fires the next
//!   `recv_*` hands the data over. Bytes beyond what the caller could take
//!   (its limit shrank, or a small direct read) are carried over and handed
//!   out first next time.
//! - Writes: `send` copies the core's first chunks into the write slot and
//!   starts an overlapped `WriteFile`; those bytes are reported as sent only
//!   when the write completes, so the core keeps counting them as queued and
//!   a drain (`flush`, a graceful disconnect) waits for them. Writes never
//!   bypass the core's queue ([`Stream::DIRECT_WRITES`] is false): a byte
//!   the OS has not taken yet must stay where the core can see it.
//!
//! # Waiting without races
//! Each event is manual-reset: it stays signalled from the completion until
//! `complete_*` collects the result and resets it. So "collect (nothing yet)
//! → register the waker" cannot miss a completion that lands in between: a
//! wait registered on a signalled event fires at once. A stale wake-up (the
//! result was collected elsewhere first) only costs one more try.
//!
//! # Handle ownership
//! Every [`sys::EventWaker`] owns a duplicate of its event handle
//! (`DuplicateHandle`), which keeps the event object alive for as long as a
//! wait on it may be registered, whatever order the pipe and the waker are
//! dropped in.
//!
//! # Connecting
//! `CreateFileW` on a pipe never waits: it connects, or fails at once.
//! `ERROR_PIPE_BUSY` (every instance taken) goes to the core, whose retry
//! policy re-connects on its own deadlines through the runtime's timer;
//! `WaitNamedPipe`, which blocks a thread, is never called.

use std::io;
use std::task::{Context, Poll};

use bytes::BufMut;
use localsock_core::{
    Address, Connection, ErrorSource, ListenError, ListenPlan, OpenMode, PeerCredentials,
};
use localsock_os::windows as sys;

use super::Connect;
use crate::Runtime;
use std::marker::PhantomData;

/// The smallest `ReadFile` a direct read issues: a tiny `read_exact`
/// should not cost one kernel round trip per few bytes. What the caller's
/// buffer cannot take is carried over to the next read.
const MIN_DIRECT_READ: usize = 4096;

/// Most chunks of the core's queue copied into one overlapped write (the
/// write slot takes at most `sys::MAX_WRITE_CHUNK` bytes anyway).
const MAX_WRITE_CHUNKS: usize = 16;

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// A connected pipe (client handle or accepted server instance) with a
/// waker for each of its read and write completions.
#[derive(Debug)]
pub(crate) struct Stream<R: Runtime> {
    pipe: sys::PipeStream,
    /// Wakes a task when the read slot's event is signalled.
    read_done: sys::EventWaker,
    /// Wakes a task when the write slot's event is signalled.
    write_done: sys::EventWaker,
    /// Pipes need no reactor; the runtime only keeps the core's deadlines.
    runtime: PhantomData<fn() -> R>,
}

impl<R: Runtime> Stream<R> {
    /// A write never goes straight from the caller's buffer to the OS: the
    /// overlapped write outlives the call, and its bytes must stay in the
    /// core's queue (counted as unsent) until it completes.
    pub(crate) const DIRECT_WRITES: bool = false;

    /// Opens the pipe (one `CreateFileW`, never waiting). Both directions
    /// are always requested whatever the open mode: the core enforces the
    /// mode, and a write-only socket must still read to notice that the
    /// peer closed (`PeekNamedPipe` would need read access too).
    pub(crate) fn connect(address: &Address, _mode: OpenMode) -> io::Result<Connect<R>> {
        let pipe = sys::PipeStream::connect(address.as_str(), true, true)?;
        Ok(Connect::Done(Stream::from_pipe(pipe)?))
    }

    /// Prepares the wakers for a pipe's two completion events.
    pub(crate) fn from_pipe(pipe: sys::PipeStream) -> io::Result<Stream<R>> {
        Ok(Stream {
            runtime: PhantomData,
            read_done: sys::EventWaker::new(pipe.read_event())?,
            write_done: sys::EventWaker::new(pipe.write_event())?,
            pipe,
        })
    }

    /// The pipe handle.
    pub(crate) fn handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        std::os::windows::io::AsHandle::as_handle(&self.pipe)
    }

    /// A pipe connect has no "in progress" phase: never called with a
    /// connect under way, ready at once if it is.
    pub(crate) fn poll_finish_connect(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Waits until the read in flight has finished (data, end of stream or
    /// an error for the next `recv_*` to collect). Ready at once when there
    /// is carried-over data or no read in flight: then the next `recv_*`
    /// makes progress without waiting.
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pipe.has_carry() || !self.pipe.read_pending() {
            return Poll::Ready(Ok(()));
        }
        self.read_done.poll_ready(cx)
    }

    /// Waits until the write in flight has finished. Ready at once when no
    /// write is in flight (the next `send` starts one).
    pub(crate) fn poll_writable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.pipe.write_pending() {
            return Poll::Ready(Ok(()));
        }
        self.write_done.poll_ready(cx)
    }

    /// Pipes have no half-close: the core treats their end of stream as the
    /// peer gone, so there is nothing to probe.
    pub(crate) fn hung_up(&self) -> bool {
        false
    }

    /// Pipes have no half-close, so the core never asks for a hang-up
    /// watch (`wants_hangup_watch` is never true on Windows): nothing to
    /// wait for.
    pub(crate) fn poll_hangup(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }

    /// Hands the core what a read returned, starting one (of the core's
    /// read capacity) if none is in flight. `Ok(0)` is end of stream;
    /// `WouldBlock` while the read is pending.
    pub(crate) fn recv_into(&mut self, conn: &mut Connection) -> io::Result<usize> {
        let cap = conn.read_capacity();
        let mut buf = conn.recv_buf();
        self.recv_with(cap, |data| {
            let n = buf.remaining_mut().min(data.len());
            buf.put_slice(&data[..n]);
            n
        })
    }

    /// As [`recv_into`](Self::recv_into) (which always asks the OS here):
    /// a read that cannot complete at once stays in flight.
    pub(crate) fn recv_now(&mut self, conn: &mut Connection) -> io::Result<usize> {
        self.recv_into(conn)
    }

    /// Reads into the user's buffer (the kernel fills the read slot's own
    /// buffer, so this saves the copy through the core's buffer). `Ok(0)`
    /// is end of stream.
    pub(crate) fn recv_direct(
        &mut self,
        out: &mut [u8],
        _conn: &mut Connection,
    ) -> io::Result<(usize, usize)> {
        let n = self.recv_with(out.len().max(MIN_DIRECT_READ), |data| {
            let n = out.len().min(data.len());
            out[..n].copy_from_slice(&data[..n]);
            n
        })?;
        // The excess is carried here, not spilled into `_conn`.
        Ok((n, 0))
    }

    /// The read path shared by `recv_into` and `recv_direct`: `take` copies
    /// from the data it is given and returns how much it took (> 0 when
    /// there is room); the rest is carried over. A read started here asks
    /// for up to `len` bytes.
    fn recv_with(&mut self, len: usize, take: impl FnOnce(&[u8]) -> usize) -> io::Result<usize> {
        self.pipe.read_with(len, take)
    }

    /// Reports a completed write (its byte count: the core may now drop
    /// them), or starts the next write from the core's queue. `WouldBlock`
    /// while a write is in flight; wait with `poll_writable`.
    pub(crate) fn send(&mut self, conn: &Connection) -> io::Result<usize> {
        if !self.pipe.write_pending() {
            let mut bufs: [&[u8]; MAX_WRITE_CHUNKS] = [&[]; MAX_WRITE_CHUNKS];
            let mut k = 0;
            for chunk in conn.transmit_chunks().take(MAX_WRITE_CHUNKS) {
                bufs[k] = chunk;
                k += 1;
            }
            if self.pipe.start_write(&bufs[..k])? == 0 {
                return Ok(0);
            }
        }
        // Collect at once if it already finished; else wait for the event.
        match self.pipe.complete_write()? {
            None => Err(would_block()),
            Some(n) => Ok(n),
        }
    }

    /// Never used ([`DIRECT_WRITES`](Self::DIRECT_WRITES) is false); kept so
    /// every backend has the same method set.
    pub(crate) fn send_direct(&mut self, _data: &[u8]) -> io::Result<usize> {
        Err(would_block())
    }

    /// The process id at the other end (`GetNamedPipeClientProcessId` on
    /// the server side, `GetNamedPipeServerProcessId` on the client side).
    /// Pipes carry no uid or gid.
    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        self.pipe.peer_credentials()
    }

    /// Named pipes have no half-close.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "named pipes cannot be half-closed",
        ))
    }
}

/// A set of armed pipe instances, with a waker for their shared connection
/// event.
#[derive(Debug)]
pub(crate) struct Listener<R: Runtime> {
    inner: sys::PipeListener,
    runtime: PhantomData<fn() -> R>,
    /// Wakes a task when the instances' shared event is signalled.
    ready: sys::EventWaker,
}

impl<R: Runtime> Listener<R> {
    /// Creates the pipe instances the core planned (see
    /// `localsock_os::windows::listen_plan`).
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener<R>, ListenError> {
        let inner = sys::listen_plan(plan)?;
        match sys::EventWaker::new(inner.event()) {
            Ok(ready) => Ok(Listener {
                inner,
                ready,
                runtime: PhantomData,
            }),
            // Dropping `inner` cancels and collects the armed instances.
            Err(e) => Err(ListenError::from_os(
                ErrorSource::Listen,
                localsock_core::OsError::from_io(&e),
            )),
        }
    }

    /// Takes a connected instance without waiting (a fresh one is armed
    /// before it is handed off); `Ok(None)` when no client is there.
    pub(crate) fn accept(&mut self) -> io::Result<Option<Stream<R>>> {
        match self.inner.accept()? {
            Some(pipe) => Stream::from_pipe(pipe).map(Some),
            None => Ok(None),
        }
    }

    /// Waits until a client may have connected (spurious wake-ups are
    /// sorted out by `accept`).
    pub(crate) fn poll_readable(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.ready.poll_ready(cx)
    }

    /// Closes the listener; pipes leave no file behind.
    pub(crate) fn close(self, _socket_file: Option<&str>) {}
}
