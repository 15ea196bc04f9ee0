//! The driver: one core [`Connection`] plus the OS stream it talks to, and
//! the `poll_*` functions that move bytes between them.
//!
//! This is the whole adapter logic, written once as poll functions over
//! `&mut Driver`. [`LocalSocket`](crate::LocalSocket) owns a `Driver`
//! directly (no lock on the hot path); the split halves share one behind a
//! mutex and differ only in the [`Directions`] they pass: each half waits for
//! its own direction, so the two tasks never fight over one waker slot.
//!
//! Every `poll_*` follows the core's driver loop (see [`Connection`]): feed
//! in what the OS did, then drain the outputs (`poll_action`, transmit,
//! `poll_timeout`) before returning. Nothing here decides protocol
//! questions; the core does.

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use localsock_core::{
    AcceptedFrom, Action, Config, Connection, DeviceError, Direction, ErrorSource,
    LocalSocketError, OpenMode, OsError, SocketError, State, Wait,
};

use crate::runtime::{Runtime, Timer};
use crate::stream::{Connect, Stream};

/// Which directions a caller may wait for. A split half passes only its
/// own, so the read and the write task each own one of async-io's two
/// waker slots; [`LocalSocket`](crate::LocalSocket) passes both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Directions {
    /// Read into the core's buffer while waiting (Qt reads whenever it
    /// waits) and register for readability.
    pub read: bool,
    /// Register for writability (pending data is always *tried* at once).
    pub write: bool,
}

impl Directions {
    pub const BOTH: Directions = Directions {
        read: true,
        write: true,
    };
    pub const READ: Directions = Directions {
        read: true,
        write: false,
    };
    pub const WRITE: Directions = Directions {
        read: false,
        write: true,
    };
}

/// The timer for the core's own deadlines (connect retry and timeout,
/// drain timeout). Re-armed only when the deadline changes, so a poll with
/// an unchanged deadline costs no timer operation.
///
/// Allocated on the first deadline: most sockets never have one, and a
/// socket is copied into every level of the future of a task that owns it
/// (an unboxed timer made a 64-byte echo task 40% larger).
#[derive(Debug)]
pub(crate) struct CoreTimer<R: Runtime> {
    armed: Option<Box<Armed<R>>>,
}

#[derive(Debug)]
struct Armed<R: Runtime> {
    timer: R::Timer,
    /// The deadline `timer` is set for; `None` once it fired.
    at: Option<Instant>,
}

impl<R: Runtime> CoreTimer<R> {
    pub(crate) fn new() -> Self {
        CoreTimer { armed: None }
    }

    /// Ready once `at` has passed; registers the waker otherwise.
    pub(crate) fn poll_at(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let armed = self.armed.get_or_insert_with(|| {
            Box::new(Armed {
                timer: R::timer(at),
                at: Some(at),
            })
        });
        if armed.at != Some(at) {
            armed.timer.reset(at);
            armed.at = Some(at);
        }
        match armed.timer.poll_expired(cx) {
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
pub(crate) struct Driver<R: Runtime> {
    pub(crate) conn: Connection,
    stream: Option<Stream<R>>,
    /// A connect is under way on `stream` (`EINPROGRESS`).
    in_progress: bool,
}

impl<R: Runtime> Driver<R> {
    pub(crate) fn new(config: impl Into<Arc<Config>>) -> Self {
        Self::with_connection(Connection::new(config))
    }

    pub(crate) fn with_connection(conn: Connection) -> Self {
        Driver {
            conn,
            stream: None,
            in_progress: false,
        }
    }

    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream<R>) -> Self {
        Driver {
            conn: Connection::accepted_from(from),
            stream: Some(stream),
            in_progress: false,
        }
    }

    /// A connection adopted from a descriptor (`setSocketDescriptor`),
    /// with a connect to finish when the core left it Connecting.
    pub(crate) fn adopted(conn: Connection, stream: Stream<R>) -> Self {
        Driver {
            in_progress: conn.state() == localsock_core::State::Connecting,
            conn,
            stream: Some(stream),
        }
    }

    /// The core's clock (one origin for the process: see
    /// `localsock_os::core_now`). Only the inputs that set or check
    /// deadlines take the time; the data path reads no clock.
    pub(crate) fn now(&self) -> Duration {
        localsock_os::core_now()
    }

    pub(crate) fn has_stream(&self) -> bool {
        self.stream.is_some()
    }

    pub(crate) fn stream(&self) -> Option<&Stream<R>> {
        if self.in_progress {
            None
        } else {
            self.stream.as_ref()
        }
    }

    // ----- commands ------------------------------------------------------

    pub(crate) fn connect_to_server(&mut self, name: &str, mode: OpenMode) {
        self.conn.connect_to_server(name, mode);
        self.run_actions();
    }

    /// Qt's `open(mode)`: the core's open, its actions, then what it came
    /// to without waiting (see `Connection::open_outcome`).
    pub(crate) fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError> {
        let started = self.conn.open(mode);
        self.run_actions();
        started?;
        self.conn.open_outcome()
    }

    /// The core's graceful disconnect. Nothing is sent inside the call: with
    /// writes pending the caller sees Closing, and the drain happens in
    /// later waits and polls (as in Qt).
    pub(crate) fn start_disconnect(&mut self) {
        let now = self.now();
        self.conn.disconnect_from_server(now);
        self.run_actions();
    }

    /// Qt's `close`; like [`start_disconnect`](Self::start_disconnect),
    /// nothing is sent inside the call.
    pub(crate) fn close(&mut self) {
        let now = self.now();
        self.conn.close(now);
        self.run_actions();
    }

    pub(crate) fn abort(&mut self) {
        self.conn.abort();
        self.run_actions();
    }

    /// Applies from the next connect (on any socket, used or accepted).
    pub(crate) fn set_connect_timeout(&mut self, timeout: Duration) {
        self.conn.set_connect_timeout(timeout);
    }

    /// Applies from the next disconnect, or at once while Closing.
    pub(crate) fn set_drain_timeout(&mut self, timeout: Option<Duration>) {
        let now = self.now();
        self.conn.set_drain_timeout(timeout, now);
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

    /// Performs the core's queued actions (after every input; usually
    /// there are none, so the check stays inline and the work does not).
    #[inline]
    pub(crate) fn run_actions(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            self.perform(action);
        }
    }

    #[inline(never)]
    fn perform(&mut self, action: Action) {
        match action {
            Action::Close => self.set_stream(None),
            Action::Connect { address, mode } => {
                self.set_stream(None);
                match Stream::connect(&address, mode) {
                    Ok(Connect::Done(s)) => {
                        self.set_stream(Some(s));
                        self.conn.handle_connected();
                    }
                    Ok(Connect::InProgress(s)) => {
                        self.set_stream(Some(s));
                        self.in_progress = true;
                        let now = self.now();
                        self.conn.handle_connect_in_progress(now);
                    }
                    Err(e) => {
                        let now = self.now();
                        self.conn.handle_connect_error(os_error(&e), now)
                    }
                }
            }
        }
    }

    /// Replaces the stream (a connect under way goes with it).
    fn set_stream(&mut self, stream: Option<Stream<R>>) {
        self.stream = stream;
        self.in_progress = false;
    }

    /// Feeds an input that needs no clock (the data path, hang-ups, I/O
    /// errors), then performs the actions it queued.
    fn input(&mut self, f: impl FnOnce(&mut Connection)) {
        f(&mut self.conn);
        self.run_actions();
    }

    /// A send failed. If that is because the peer is gone, the core keeps
    /// the connection open for reading until end of stream, and what the
    /// peer sent before it went is already in the kernel: it is read out
    /// now, without waiting, so the connection ends (or its data is
    /// readable) without another wait.
    fn input_send_error(&mut self, e: &io::Error) {
        self.input(|c| c.handle_io_error(Direction::Write, os_error(e)));
        while self.conn.wants_read() {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            match stream.recv_now(&mut self.conn) {
                Ok(0) => self.input_eof(false),
                Ok(n) => self.input(|c| c.handle_received(n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => self.input(|c| c.handle_io_error(Direction::Read, os_error(&e))),
            }
        }
    }

    /// A read returned 0: end of stream. If the peer is gone for good (a
    /// hang-up, not a half-close), the core hears that first, which gives
    /// Qt's signal order for a peer that closed completely; otherwise the
    /// core takes it as a half-close. `direct`: the read went to the
    /// user's buffer.
    fn input_eof(&mut self, direct: bool) {
        // A pipe write may have completed before the peer closed: report
        // what the OS took before the core hears that the peer is gone,
        // or those bytes would count as lost.
        let _ = self.poll_send(None);
        let hung_up = self.stream.as_ref().is_some_and(|s| s.hung_up());
        if hung_up {
            self.conn.handle_hangup();
        }
        if direct {
            self.conn.handle_received_direct(0);
        } else {
            self.conn.handle_received(0);
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
                    self.conn.handle_sent(n);
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
                            self.input_send_error(&e);
                            return Poll::Ready(true);
                        }
                        Poll::Pending if progressed => return Poll::Ready(true),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.input_send_error(&e);
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
                Ok(0) => {
                    self.input_eof(false);
                    return Poll::Ready(true);
                }
                Ok(n) => {
                    self.input(|c| c.handle_received(n));
                    return Poll::Ready(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match stream.poll_readable(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => {
                        self.input(|c| c.handle_io_error(Direction::Read, os_error(&e)));
                        return Poll::Ready(true);
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.input(|c| c.handle_io_error(Direction::Read, os_error(&e)));
                    return Poll::Ready(true);
                }
            }
        }
    }

    /// Waits for the peer to hang up while the connection is half-closed
    /// and idle (see `sys`'s `poll_hangup`). Ready(true) once reported.
    fn poll_hangup(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(false);
        };
        match stream.poll_hangup(cx) {
            Poll::Ready(Ok(())) => {
                self.input(|c| c.handle_hangup());
                Poll::Ready(true)
            }
            Poll::Ready(Err(e)) => {
                self.input(|c| c.handle_io_error(Direction::Read, os_error(&e)));
                Poll::Ready(true)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// One round of the driver loop: make what progress the OS allows
    /// without blocking, and otherwise register the task for everything the
    /// core waits on (a connect finishing, writability while data is
    /// queued, readability while the read buffer has room, the core's next
    /// deadline, and, when nothing else is left, the hang-up of a
    /// half-closed connection).
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
        timer: &mut CoreTimer<R>,
        interest: Directions,
        need_writable: bool,
    ) -> Poll<bool> {
        let mut waiting = false;

        // 1. A connect under way.
        if self.in_progress {
            if let Some(stream) = self.stream.as_mut() {
                match stream.poll_finish_connect(cx) {
                    Poll::Ready(r) => {
                        self.in_progress = false;
                        let now = self.now();
                        match r {
                            Ok(()) => self.conn.handle_connected(),
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
            if let Some(stream) = self.stream.as_mut() {
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
            match localsock_os::clock_origin().checked_add(t) {
                Some(at) => match timer.poll_at(cx, at) {
                    Poll::Ready(()) => {
                        let now = self.now();
                        self.input(|c| c.handle_timeout(now));
                        return Poll::Ready(true);
                    }
                    Poll::Pending => waiting = true,
                },
                // Beyond `Instant`'s range: as good as never.
                None => waiting = true,
            }
        }

        // 5. The peer half-closed and nothing else is left to wait for:
        // watch for it going away (so a wait for the disconnect ends
        // without this side writing). A write under way already notices
        // it: a hung-up socket polls writable and the send fails.
        if !waiting && self.conn.wants_hangup_watch() {
            match self.poll_hangup(cx) {
                Poll::Ready(true) => return Poll::Ready(true),
                Poll::Ready(false) => {}
                Poll::Pending => waiting = true,
            }
        }

        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(false)
        }
    }

    /// Drives one of Qt's waits until the core judges it (`wait_outcome`).
    /// The caller's deadline is the caller's business.
    pub(crate) fn poll_wait(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
        wait: &Wait,
    ) -> Poll<Result<(), LocalSocketError>> {
        loop {
            if let Some(r) = self.conn.wait_outcome(wait) {
                return Poll::Ready(r);
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                // Nothing can happen (the core normally says so first).
                Poll::Ready(false) => {
                    return Poll::Ready(
                        self.conn
                            .wait_outcome(wait)
                            .unwrap_or_else(|| Err(self.stuck_error_for_wait())),
                    )
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Drives while Connecting. Ready once the connect has an outcome.
    pub(crate) fn poll_connected(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
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

    /// What a read reports when the driver finds nothing at all to wait
    /// for although the core expects more (which the core's rules should
    /// rule out): the connection's error, else "not open".
    fn stuck_error(&self) -> io::Error {
        match self.conn.fatal_error().or(self.conn.last_error()) {
            Some(e) => e.clone().into(),
            None => DeviceError::NotOpen.into(),
        }
    }

    /// As [`stuck_error`](Self::stuck_error), for a wait.
    fn stuck_error_for_wait(&self) -> LocalSocketError {
        self.conn
            .fatal_error()
            .or(self.conn.last_error())
            .cloned()
            .unwrap_or_else(|| LocalSocketError::new(SocketError::Operation, ErrorSource::Socket))
    }

    /// The error a write reports when writing is impossible (the core's
    /// `write_refusal`).
    fn write_error(&self) -> io::Error {
        self.conn.write_refusal().into()
    }

    /// `AsyncRead::poll_read`: buffered data first; with nothing buffered a
    /// read goes straight into `buf` (one `read(2)`, as raw async-io
    /// does). Pending writes are sent first, so request/response needs no
    /// explicit flush. While Connecting it waits for the connect. What a
    /// read with nothing buffered comes to is the core's
    /// `read_outcome_when_empty`.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.conn.wants_write() {
            self.send_now();
        }
        loop {
            if self.conn.bytes_available() > 0 {
                return Poll::Ready(self.conn.read(buf).map_err(Into::into));
            }
            match self.conn.read_outcome_when_empty() {
                Some(Ok(())) => return Poll::Ready(Ok(0)),
                Some(Err(e)) => return Poll::Ready(Err(e.into())),
                None => {}
            }
            if !self.conn.wants_write() && self.conn.can_read_direct(buf.len()) {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.recv_direct(buf, &mut self.conn) {
                        Ok((n, spilled)) if n > 0 => {
                            self.conn.handle_received_direct(n);
                            if spilled > 0 {
                                self.input(|c| c.handle_received(spilled));
                            }
                            return Poll::Ready(Ok(n));
                        }
                        Ok(_) => {
                            self.input_eof(true);
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            // Connected with nothing queued: readability is
                            // all there is to wait for.
                            match stream.poll_readable(cx) {
                                Poll::Ready(Ok(())) => continue,
                                Poll::Ready(Err(e)) => {
                                    self.input(|c| {
                                        c.handle_io_error(Direction::Read, os_error(&e))
                                    });
                                    continue;
                                }
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.input(|c| c.handle_io_error(Direction::Read, os_error(&e)));
                            continue;
                        }
                    }
                }
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.stuck_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `AsyncBufRead::poll_fill_buf`: Ready once something is buffered (read
    /// it with `conn.buffered()`) or at end of stream (empty).
    pub(crate) fn poll_fill_buf(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
    ) -> Poll<io::Result<()>> {
        if self.conn.wants_write() {
            self.send_now();
        }
        loop {
            if self.conn.bytes_available() > 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(r) = self.conn.read_outcome_when_empty() {
                return Poll::Ready(r.map_err(Into::into));
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.stuck_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// `AsyncWrite::poll_write`: queues `buf` (one copy), at most up to
    /// 64 KiB queued (the core's `write_room`); a large write with nothing
    /// queued goes straight to the OS. Pending only while 64 KiB are queued
    /// and the socket is full, so the queue stays bounded.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
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
                    Poll::Ready(false) => return Poll::Ready(Err(self.write_error())),
                    Poll::Pending => return Poll::Pending,
                }
            }
            // The core's rule (large or the rest of a partial direct write,
            // nothing queued, connected), where the backend allows direct
            // writes at all.
            let direct = Stream::<R>::DIRECT_WRITES && self.conn.can_write_direct(buf.len());
            if direct {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.send_direct(buf) {
                        Ok(n) => {
                            self.conn.handle_sent_direct(n, buf.len());
                            return Poll::Ready(Ok(n));
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            // Wait for writability (reading meanwhile if
                            // the interest allows).
                            match self.poll_drive(cx, timer, interest, true) {
                                Poll::Ready(true) => continue,
                                Poll::Ready(false) => return Poll::Ready(Err(self.write_error())),
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.input_send_error(&e);
                            return Poll::Ready(Err(self.write_error()));
                        }
                    }
                }
            }
            // Queue what fits under the threshold; the caller's `write_all`
            // comes back for the rest (often straight to the OS then).
            let take = buf.len().min(self.conn.write_room());
            return match self.conn.write_slice(&buf[..take]) {
                Ok(n) => {
                    if self.conn.wants_transmit_now() {
                        self.send_now();
                    }
                    Poll::Ready(Ok(n))
                }
                Err(_) => Poll::Ready(Err(self.write_error())),
            };
        }
    }

    /// `AsyncWrite::poll_flush`: Ready once everything queued was taken by
    /// the OS; the connection's error, every time until the next connect,
    /// if queued bytes were lost (the core's `flush_outcome`).
    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
    ) -> Poll<io::Result<()>> {
        if self.conn.wants_write() {
            self.send_now();
        }
        loop {
            if let Some(r) = self.conn.flush_outcome() {
                return Poll::Ready(r.map_err(Into::into));
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.write_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The I/O traits' `poll_close` / `poll_shutdown`: everything queued
    /// is sent (a connect under way first completes), then the socket
    /// half-closes: the peer reads end of stream, this side can still
    /// read. Named pipes cannot half-close: there, and when a graceful
    /// disconnect is already under way, it is Qt's graceful disconnect,
    /// Ready once Unconnected. An error if queued bytes were lost.
    pub(crate) fn poll_shutdown(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut CoreTimer<R>,
        interest: Directions,
    ) -> Poll<io::Result<()>> {
        let state = self.conn.state();
        if cfg!(unix) && matches!(state, State::Connected | State::Connecting) {
            std::task::ready!(self.poll_flush(cx, timer, interest))?;
            return Poll::Ready(match self.shutdown_write() {
                // The connection ended meanwhile: nothing left to close.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
                r => r,
            });
        }
        if matches!(state, State::Connected | State::Connecting) {
            self.start_disconnect();
        }
        loop {
            if self.conn.state() == State::Unconnected {
                return Poll::Ready(match self.conn.flush_outcome() {
                    Some(Err(e)) => Err(e.into()),
                    _ => Ok(()),
                });
            }
            match self.poll_drive(cx, timer, interest, false) {
                Poll::Ready(true) => {}
                Poll::Ready(false) => return Poll::Ready(Err(self.write_error())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Half-closes a connected socket (`Unsupported` on pipes).
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.stream() {
            Some(s) if self.conn.state() == State::Connected => s.shutdown_write(),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl<R: Runtime> Drop for Driver<R> {
    /// Qt's destructor aborts; first, the kernel gets whatever it takes of
    /// the queued bytes without blocking (one non-blocking send loop, no
    /// waker, no waiting), so a `write` right before a drop usually
    /// arrives. The rest is lost. Nothing here blocks, waits for a runtime
    /// or can panic: the connection's queues go with it and the stream is
    /// deregistered from the reactor and closed. (Windows: a write that
    /// cannot complete at once stays pending and is cancelled and collected
    /// by the pipe's own drop before its buffer is freed.)
    fn drop(&mut self) {
        if !self.in_progress {
            if let Some(stream) = self.stream.as_mut() {
                while self.conn.wants_write() {
                    match stream.send(&self.conn) {
                        Ok(0) => break,
                        Ok(n) => self.conn.handle_sent(n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            }
        }
        // The connection goes with the driver, so the core's `release`
        // bookkeeping (Qt's abort without signals) would be unobservable:
        // closing the stream is all that is left to do.
        self.set_stream(None);
    }
}

/// The core's view of an OS error.
pub(crate) fn os_error(e: &io::Error) -> OsError {
    OsError::from_io(e)
}
