//! The driver: one core [`Connection`] plus the OS stream it talks to, and
//! the `poll_*` functions that move bytes between them.
//!
//! This is the whole adapter logic, written once as poll functions over
//! `&mut Driver`. [`LocalSocket`](crate::LocalSocket) owns a `Driver`
//! directly (no lock on the hot path); the split halves share one behind a
//! mutex and differ only in the [`Interest`] they pass: each half waits for
//! its own direction, so the two tasks never fight over one waker slot.
//!
//! Every `poll_*` follows the core's driver loop (see [`Connection`]): feed
//! in what the OS did, then drain the outputs (`poll_action`, transmit,
//! `poll_timeout`) before returning. Nothing here decides protocol
//! questions; the core does.

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::FutureExt;
use localsock_core::{
    AcceptedFrom, Action, Config, Connection, DeviceError, Direction, ErrorSource, OpenMode,
    OsCode, OsError, Platform, SocketError, State,
};

use crate::sys::{Connect, Stream};

/// Which directions a caller may wait for. A split half passes only its
/// own, so the read and the write task each own one of async-io's two
/// waker slots; [`LocalSocket`](crate::LocalSocket) passes both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interest {
    /// Read into the core's buffer while waiting (Qt reads whenever it
    /// waits) and register for readability.
    pub read: bool,
    /// Register for writability (pending data is always *tried* at once).
    pub write: bool,
}

impl Interest {
    pub const BOTH: Interest = Interest {
        read: true,
        write: true,
    };
    pub const READ: Interest = Interest {
        read: true,
        write: false,
    };
    pub const WRITE: Interest = Interest {
        read: false,
        write: true,
    };
}

/// The timer for the core's own deadlines (connect retry and timeout,
/// drain timeout). Re-armed only when the deadline changes, so a poll with
/// an unchanged deadline costs no reactor operation.
///
/// Allocated on the first deadline: most sockets never have one, and a
/// socket is copied into every level of the future of a task that owns it
/// (an unboxed timer made a 64-byte echo task 40% larger).
#[derive(Debug)]
pub(crate) struct CoreTimer {
    armed: Option<Box<Armed>>,
}

#[derive(Debug)]
struct Armed {
    timer: Timer,
    /// The deadline `timer` is set for; `None` once it fired.
    at: Option<Instant>,
}

impl CoreTimer {
    pub(crate) fn new() -> Self {
        CoreTimer { armed: None }
    }

    /// Ready once `at` has passed; registers the waker otherwise.
    fn poll_at(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let armed = self.armed.get_or_insert_with(|| {
            Box::new(Armed {
                timer: Timer::never(),
                at: None,
            })
        });
        if armed.at != Some(at) {
            armed.timer.set_at(at);
            armed.at = Some(at);
        }
        match armed.timer.poll(cx) {
            Poll::Ready(_) => {
                armed.at = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A connection and its OS stream.
#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) conn: Connection,
    stream: Option<Stream>,
    /// A connect is under way on `stream` (`EINPROGRESS`).
    in_progress: bool,
    /// Bytes the OS took over the socket's life (for `wait_for_bytes_written`).
    pub(crate) sent_total: u64,
    /// The connection failed with bytes still queued: `flush` and `close`
    /// report the error instead of success. Cleared by a new connect.
    dropped_unsent: bool,
    /// The core's clock: time is `origin.elapsed()`.
    origin: Instant,
    /// The time of the last clock read. The data-path inputs (bytes in,
    /// bytes out, I/O errors) get it instead of a fresh read: the core uses
    /// time only for deadlines, which the commands and the timer path read
    /// fresh, and a clock read per message is measurable at small sizes.
    last_now: Duration,
}

impl Driver {
    pub(crate) fn new(config: Config) -> Self {
        Driver {
            conn: Connection::new(config),
            stream: None,
            in_progress: false,
            sent_total: 0,
            dropped_unsent: false,
            origin: Instant::now(),
            last_now: Duration::ZERO,
        }
    }

    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream) -> Self {
        Driver {
            conn: Connection::accepted_from(from),
            stream: Some(stream),
            in_progress: false,
            sent_total: 0,
            dropped_unsent: false,
            origin: Instant::now(),
            last_now: Duration::ZERO,
        }
    }

    pub(crate) fn now(&mut self) -> Duration {
        self.last_now = self.origin.elapsed();
        self.last_now
    }

    pub(crate) fn has_stream(&self) -> bool {
        self.stream.is_some()
    }

    pub(crate) fn stream(&self) -> Option<&Stream> {
        if self.in_progress {
            None
        } else {
            self.stream.as_ref()
        }
    }

    // ----- commands ------------------------------------------------------

    pub(crate) fn connect_to_server(&mut self, name: &str, mode: OpenMode) {
        let now = self.now();
        self.dropped_unsent = false;
        self.conn.connect_to_server(name, mode, now);
        self.run_actions();
    }

    /// The core's graceful disconnect, plus a first non-blocking send.
    pub(crate) fn start_disconnect(&mut self) {
        let now = self.now();
        self.conn.disconnect_from_server(now);
        self.send_now();
    }

    pub(crate) fn close(&mut self) {
        let now = self.now();
        self.conn.close(now);
        self.send_now();
    }

    pub(crate) fn abort(&mut self) {
        self.conn.abort();
        self.dropped_unsent = false;
        self.run_actions();
    }

    /// Qt's `flush`: writes what the OS takes now; true if anything left.
    pub(crate) fn flush_now(&mut self) -> bool {
        let before = self.conn.bytes_to_write();
        if before == 0 {
            return false;
        }
        self.send_now();
        self.conn.bytes_to_write() < before
    }

    /// Writes what the OS takes now, without waiting.
    pub(crate) fn send_now(&mut self) {
        let _ = self.poll_send(None);
        self.run_actions();
    }

    // ----- the driver loop ---------------------------------------------------

    /// Performs the core's queued actions.
    pub(crate) fn run_actions(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            match action {
                Action::Close => self.set_stream(None),
                Action::Connect { address, mode } => {
                    self.set_stream(None);
                    let result = Stream::connect(&address, mode);
                    let now = self.now();
                    match result {
                        Ok(Connect::Done(s)) => {
                            self.set_stream(Some(s));
                            self.conn.handle_connected(now);
                        }
                        Ok(Connect::InProgress(s)) => {
                            self.set_stream(Some(s));
                            self.in_progress = true;
                        }
                        Err(e) => self.conn.handle_connect_error(os_error(&e), now),
                    }
                }
            }
        }
    }

    /// Replaces the stream (a connect under way goes with it).
    fn set_stream(&mut self, stream: Option<Stream>) {
        self.stream = stream;
        self.in_progress = false;
    }

    /// Feeds an input that may end the connection, noting whether queued
    /// bytes were lost with it.
    fn input(&mut self, f: impl FnOnce(&mut Connection, Duration)) {
        let now = self.now();
        self.input_at(now, f);
    }

    /// Feeds a data-path input (see `last_now`).
    fn input_data(&mut self, f: impl FnOnce(&mut Connection, Duration)) {
        self.input_at(self.last_now, f);
    }

    fn input_at(&mut self, now: Duration, f: impl FnOnce(&mut Connection, Duration)) {
        let queued = self.conn.bytes_to_write();
        f(&mut self.conn, now);
        if queued > 0 && self.conn.bytes_to_write() == 0 && self.conn.state() == State::Unconnected
        {
            self.dropped_unsent = true;
        }
        self.run_actions();
    }

    /// Sends queued data until the OS would block. With a context, a full
    /// socket registers for writability (Pending); without, it just stops.
    /// Ready(true) if anything was sent or the connection changed.
    ///
    /// Like raw async-io, every attempt tries the system call first and
    /// registers only after `WouldBlock`: data that is already there is
    /// taken without waiting for the reactor to report it.
    fn poll_send(&mut self, mut cx: Option<&mut Context<'_>>) -> Poll<bool> {
        let mut progressed = false;
        while self.conn.wants_write() {
            let Some(stream) = self.stream.as_mut() else {
                break;
            };
            match stream.send(&self.conn) {
                Ok(n) => {
                    self.sent_total += n as u64;
                    let now = self.last_now;
                    self.conn.handle_sent(n, now);
                    self.run_actions();
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let Some(cx) = cx.as_deref_mut() else {
                        break;
                    };
                    match stream.poll_writable(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => {
                            self.input_data(|c, now| {
                                c.handle_io_error(Direction::Write, os_error(&e), now)
                            });
                            return Poll::Ready(true);
                        }
                        Poll::Pending if progressed => return Poll::Ready(true),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.input_data(|c, now| {
                        c.handle_io_error(Direction::Write, os_error(&e), now)
                    });
                    return Poll::Ready(true);
                }
            }
        }
        Poll::Ready(progressed)
    }

    /// Reads once into the core's buffer if it has room; registers for
    /// readability when the OS has nothing. Ready(true) on progress.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            if self.conn.read_capacity() == 0 {
                return Poll::Ready(false);
            }
            let Some(stream) = self.stream.as_mut() else {
                return Poll::Ready(false);
            };
            match stream.recv_into(&mut self.conn) {
                Ok(n) => {
                    self.input_data(|c, now| c.handle_received(n, now));
                    return Poll::Ready(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match stream.poll_readable(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => {
                        self.input_data(|c, now| {
                            c.handle_io_error(Direction::Read, os_error(&e), now)
                        });
                        return Poll::Ready(true);
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.input_data(|c, now| c.handle_io_error(Direction::Read, os_error(&e), now));
                    return Poll::Ready(true);
                }
            }
        }
    }

    /// One round of the driver loop: make what progress the OS allows
    /// without blocking, and otherwise register the task for everything the
    /// core waits on (a connect finishing, writability while data is
    /// queued, readability while the read buffer has room, the core's next
    /// deadline).
    ///
    /// - `Ready(true)`: something changed; the caller re-checks its
    ///   condition and calls again if it still waits.
    /// - `Pending`: nothing can happen now; the waker is registered.
    /// - `Ready(false)`: nothing can ever happen without a user command
    ///   (for example: the read buffer is full and nothing is queued).
    ///
    /// `need_writable` registers for writability even with an empty queue
    /// (a direct write hit a full socket).
    pub(crate) fn poll_drive(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
        need_writable: bool,
    ) -> Poll<bool> {
        let mut waiting = false;

        // 1. A connect under way.
        if self.in_progress {
            if let Some(stream) = self.stream.as_ref() {
                match stream.poll_finish_connect(cx) {
                    Poll::Ready(r) => {
                        self.in_progress = false;
                        let now = self.now();
                        match r {
                            Ok(()) => self.conn.handle_connected(now),
                            Err(e) => self.conn.handle_connect_error(os_error(&e), now),
                        }
                        self.run_actions();
                        return Poll::Ready(true);
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }

        // 2. Writes. Progress returns at once: the caller's condition is
        // likely met, and reads only matter once writes are stuck.
        if self.conn.wants_write() {
            let cx_send = if interest.write { Some(&mut *cx) } else { None };
            match self.poll_send(cx_send) {
                Poll::Ready(true) => return Poll::Ready(true),
                Poll::Ready(false) => {}
                Poll::Pending => waiting = true,
            }
        } else if need_writable && interest.write {
            if let Some(stream) = self.stream.as_ref() {
                match stream.poll_writable(cx) {
                    Poll::Ready(_) => return Poll::Ready(true),
                    Poll::Pending => waiting = true,
                }
            }
        }

        // 3. Reads, while the read buffer has room (back-pressure: with the
        // buffer full nothing registers for readability).
        if interest.read {
            match self.poll_recv(cx) {
                Poll::Ready(true) => return Poll::Ready(true),
                Poll::Ready(false) => {}
                Poll::Pending => waiting = true,
            }
        }

        // 4. The core's deadline.
        if let Some(t) = self.conn.poll_timeout() {
            match self.origin.checked_add(t) {
                Some(at) => match timer.poll_at(cx, at) {
                    Poll::Ready(()) => {
                        self.input(|c, now| c.handle_timeout(now));
                        return Poll::Ready(true);
                    }
                    Poll::Pending => waiting = true,
                },
                // Beyond `Instant`'s range: as good as never.
                None => waiting = true,
            }
        }

        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(false)
        }
    }

    /// Drives while Connecting. Ready once the connect has an outcome.
    pub(crate) fn poll_connected(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
    ) -> Poll<()> {
        while self.conn.state() == State::Connecting {
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(())
    }

    // ----- the I/O traits ----------------------------------------------------

    /// The error a read or write reports once the connection is over.
    pub(crate) fn io_error(&self) -> io::Error {
        match self.conn.last_error() {
            Some(e) => e.clone().into(),
            None => DeviceError::NotOpen.into(),
        }
    }

    /// What a read returns when nothing is buffered and nothing more can
    /// come: end of stream, unless the connection failed.
    fn read_result_when_empty(&self) -> io::Result<usize> {
        match self.conn.last_error() {
            // A graceful end (or our own disconnect) is end of stream.
            None => Ok(0),
            Some(e) if e.kind() == SocketError::PeerClosed => Ok(0),
            Some(e) if e.source() != ErrorSource::Socket => Ok(0),
            Some(e) if e.kind() == SocketError::SocketTimeout && self.conn.is_valid() => Ok(0),
            Some(e) => Err(e.clone().into()),
        }
    }

    /// Refusals that hold before any I/O: not open, or write-only.
    fn check_readable(&self) -> io::Result<()> {
        match self.conn.open_mode() {
            None => Err(self.io_error()),
            Some(OpenMode::WriteOnly) => Err(DeviceError::WriteOnly.into()),
            Some(_) => Ok(()),
        }
    }

    /// `AsyncRead::poll_read`: buffered data first; with nothing buffered a
    /// read goes straight into `buf` (one `read(2)`, as raw async-io
    /// does). Pending writes are sent first, so request/response needs no
    /// explicit flush.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        std::task::ready!(self.poll_connected(cx, timer, interest));
        self.check_readable()?;
        if self.conn.wants_write() {
            self.send_now();
        }
        loop {
            if self.conn.bytes_available() > 0 {
                return Poll::Ready(self.conn.read(buf).map_err(Into::into));
            }
            if self.conn.read_exhausted() {
                return Poll::Ready(self.read_result_when_empty());
            }
            if !self.conn.wants_write() && self.conn.can_read_direct(buf.len()) {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.recv_direct(buf, &mut self.conn) {
                        Ok((n, spilled)) if n > 0 => {
                            let now = self.last_now;
                            self.conn.handle_received_direct(n, now);
                            if spilled > 0 {
                                self.input_data(|c, now| c.handle_received(spilled, now));
                            }
                            return Poll::Ready(Ok(n));
                        }
                        Ok(_) => {
                            self.input_data(|c, now| c.handle_received_direct(0, now));
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            // Connected with nothing queued: readability is
                            // all there is to wait for.
                            match stream.poll_readable(cx) {
                                Poll::Ready(Ok(())) => continue,
                                Poll::Ready(Err(e)) => {
                                    self.input_data(|c, now| {
                                        c.handle_io_error(Direction::Read, os_error(&e), now)
                                    });
                                    continue;
                                }
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.input_data(|c, now| {
                                c.handle_io_error(Direction::Read, os_error(&e), now)
                            });
                            continue;
                        }
                    }
                }
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.io_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `AsyncBufRead::poll_fill_buf`: Ready once something is buffered (read
    /// it with `conn.buffered()`) or at end of stream (empty).
    pub(crate) fn poll_fill_buf(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_connected(cx, timer, interest));
        self.check_readable()?;
        if self.conn.wants_write() {
            self.send_now();
        }
        loop {
            if self.conn.bytes_available() > 0 {
                return Poll::Ready(Ok(()));
            }
            if self.conn.read_exhausted() {
                return Poll::Ready(self.read_result_when_empty().map(|_| ()));
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.io_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `AsyncWrite::poll_write`: queues `buf` (one copy), at most up to
    /// 64 KiB queued; a large write with nothing queued goes straight to
    /// the OS. Pending only while 64 KiB are queued and the socket is full,
    /// so the queue stays bounded.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.poll_connected(cx, timer, interest));
        let large = buf.len() >= localsock_core::TRANSMIT_THRESHOLD;
        loop {
            // 64 KiB or more queued: make room first. A large write behind
            // a short queue (typically the tail of an earlier partial
            // direct write) also waits for the queue to leave, so that it
            // can go straight to the OS instead of being copied.
            if self.conn.wants_transmit_now() || (large && self.conn.wants_write()) {
                match self.poll_drive(cx, timer, interest, false) {
                    Poll::Ready(true) => continue,
                    Poll::Ready(false) => return Poll::Ready(Err(self.io_error())),
                    Poll::Pending => return Poll::Pending,
                }
            }
            // The core's rule (large or the rest of a partial direct write,
            // nothing queued, connected), where the backend allows direct
            // writes at all.
            let direct = Stream::DIRECT_WRITES && self.conn.can_write_direct(buf.len());
            if direct {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.send_direct(buf) {
                        Ok(n) => {
                            self.sent_total += n as u64;
                            let now = self.last_now;
                            self.conn.handle_sent_direct(n, buf.len(), now);
                            return Poll::Ready(Ok(n));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            // Wait for writability (reading meanwhile if
                            // the interest allows).
                            match self.poll_drive(cx, timer, interest, true) {
                                Poll::Ready(true) => continue,
                                Poll::Ready(false) => return Poll::Ready(Err(self.io_error())),
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.input_data(|c, now| {
                                c.handle_io_error(Direction::Write, os_error(&e), now)
                            });
                            return Poll::Ready(Err(self.io_error()));
                        }
                    }
                }
            }
            // Queue what fits under the threshold; the caller's `write_all`
            // comes back for the rest (often straight to the OS then).
            let room =
                localsock_core::TRANSMIT_THRESHOLD.saturating_sub(self.conn.bytes_to_write());
            let take = buf.len().min(room);
            return match self.conn.write_slice(&buf[..take]) {
                Ok(n) => {
                    if self.conn.wants_transmit_now() {
                        self.send_now();
                    }
                    Poll::Ready(Ok(n))
                }
                Err(DeviceError::NotConnected) => Poll::Ready(Err(self.io_error())),
                Err(e) => Poll::Ready(Err(e.into())),
            };
        }
    }

    /// `AsyncWrite::poll_flush`: Ready once everything queued was taken by
    /// the OS; an error if the connection ended with bytes still queued.
    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_connected(cx, timer, interest));
        if self.conn.wants_write() {
            self.send_now();
        }
        loop {
            if !self.conn.wants_write() {
                return Poll::Ready(if self.dropped_unsent {
                    Err(self.io_error())
                } else {
                    Ok(())
                });
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.io_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `AsyncWrite::poll_close`: Qt's graceful disconnect (Closing while
    /// pending bytes drain, then Unconnected). An error if bytes were lost
    /// on the way (the peer went away, or the drain timeout passed).
    pub(crate) fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer,
        interest: Interest,
    ) -> Poll<io::Result<()>> {
        if matches!(self.conn.state(), State::Connected | State::Connecting) {
            self.start_disconnect();
        }
        loop {
            if self.conn.state() == State::Unconnected {
                return Poll::Ready(if self.dropped_unsent {
                    Err(self.io_error())
                } else {
                    Ok(())
                });
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.io_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Qt's destructor aborts. Nothing here blocks, waits for a runtime
        // or can panic: the core drops its queues and the stream is
        // deregistered from the (global) reactor and closed.
        self.conn.abort();
        self.set_stream(None);
    }
}

/// The core's view of an OS error.
pub(crate) fn os_error(e: &io::Error) -> OsError {
    match e.raw_os_error() {
        Some(raw) => OsError::native(raw),
        None if e.kind() == io::ErrorKind::WouldBlock => {
            OsError::from_code(Platform::CURRENT, OsCode::Again).unwrap_or(OsError::native(0))
        }
        None => OsError::native(0),
    }
}
