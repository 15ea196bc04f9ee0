//! The driver: one [`Connection`] plus its OS stream, moved forward by
//! poll functions. [`LocalSocket`](crate::LocalSocket) owns one directly; the
//! owned halves of [`into_split`](crate::LocalSocket::into_split) share one
//! behind a mutex. Everything a future needs lives here, never in the future,
//! so every async method is cancel-safe: dropping a future at an `.await`
//! loses no bytes and no events.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use localsock_core::{
    AcceptedFrom, Action, Config, Connection, DeviceError, Direction, Event, OsError, State, Wait,
    WaitFor, TRANSMIT_THRESHOLD,
};
use tokio::io::ReadBuf;
use tokio::time::Sleep;

use crate::sys::{Connect, Stream};
use crate::Timeout;

/// Which directions a caller may wait for. The owned halves each register
/// only their own direction with tokio (tokio keeps one reader and one writer
/// waker per socket, so a half registering the other direction would steal
/// the other task's wake-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The whole socket: reads, writes, deadlines.
    Both,
    /// The read half: waits for readability only; pending writes are sent
    /// when the OS takes them at once.
    Read,
    /// The write half: waits for writability only; never reads.
    Write,
}

impl Role {
    fn reads(self) -> bool {
        self != Role::Write
    }

    fn writes(self) -> bool {
        self != Role::Read
    }
}

/// The wakers a poll registers: `own` for the caller's direction, `shared`
/// for what both halves wait on (the core's deadline, a connect under way).
/// For a whole socket both are the task's waker.
pub(crate) struct Wakers<'a> {
    pub(crate) own: &'a Waker,
    pub(crate) shared: &'a Waker,
}

impl<'a> Wakers<'a> {
    pub(crate) fn single(w: &'a Waker) -> Self {
        Wakers { own: w, shared: w }
    }
}

/// What one round of [`Driver::poll_progress`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Something changed: re-check the condition and poll again.
    Moved,
    /// Nothing changed; a wake-up is registered for everything that can.
    Waiting,
    /// Nothing changed and nothing can change by waiting.
    Idle,
}

#[derive(Debug)]
pub(crate) struct Driver {
    pub(crate) conn: Connection,
    stream: Option<Stream>,
    /// A connect is under way on `stream`.
    in_progress: bool,
    /// The core's clock: time is `origin.elapsed()`.
    origin: Instant,
    /// The time of the last clock read. The data-path inputs (bytes in,
    /// bytes out, I/O errors) get it instead of a fresh read: the core uses
    /// time only for deadlines, which the commands and the timer path read
    /// fresh, and a clock read per message is measurable at small sizes.
    last_now: Duration,
    /// The core's deadline (connect retry or timeout, drain timeout),
    /// allocated on first use and reset in place afterwards.
    timer: Option<Pin<Box<Sleep>>>,
}

/// The OS error the core's tables understand.
pub(crate) fn os_error(e: &io::Error) -> OsError {
    OsError::from_io(e)
}

impl Driver {
    pub(crate) fn new(config: Config) -> Self {
        Self::with(Connection::new(config), None)
    }

    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream) -> Self {
        Self::with(Connection::accepted_from(from), Some(stream))
    }

    fn with(conn: Connection, stream: Option<Stream>) -> Self {
        Driver {
            conn,
            stream,
            in_progress: false,
            origin: Instant::now(),
            last_now: Duration::ZERO,
            timer: None,
        }
    }

    fn now(&mut self) -> Duration {
        self.last_now = self.origin.elapsed();
        self.last_now
    }

    // ----- commands -------------------------------------------------------

    pub(crate) fn connect_to_server(&mut self, name: &str, mode: localsock_core::OpenMode) {
        let now = self.now();
        self.conn.connect_to_server(name, mode, now);
        self.run_actions();
    }

    /// Qt's `disconnectFromServer`: nothing is sent inside the call, so
    /// with writes pending the caller sees Closing; later polls drain.
    pub(crate) fn start_disconnect(&mut self) {
        let now = self.now();
        self.conn.disconnect_from_server(now);
        self.run_actions();
    }

    /// Qt's `close`: as [`start_disconnect`](Self::start_disconnect).
    pub(crate) fn close(&mut self) {
        let now = self.now();
        self.conn.close(now);
        self.run_actions();
    }

    pub(crate) fn abort(&mut self) {
        self.conn.abort();
        self.run_actions();
    }

    pub(crate) fn set_connect_timeout(&mut self, timeout: Duration) {
        self.conn.set_connect_timeout(timeout);
    }

    pub(crate) fn set_drain_timeout(&mut self, timeout: Option<Duration>) {
        let now = self.now();
        self.conn.set_drain_timeout(timeout, now);
    }

    pub(crate) fn write(&mut self, data: impl Into<bytes::Bytes>) -> Result<usize, DeviceError> {
        let n = self.conn.write(data)?;
        if self.conn.wants_transmit_now() {
            self.try_send();
        }
        Ok(n)
    }

    /// Qt's `flush`: writes what the OS takes now; true if anything left.
    pub(crate) fn flush_now(&mut self) -> bool {
        let before = self.conn.bytes_to_write();
        if before == 0 {
            return false;
        }
        self.try_send();
        self.conn.bytes_to_write() < before
    }

    pub(crate) fn peer_credentials(&self) -> io::Result<localsock_core::PeerCredentials> {
        match &self.stream {
            Some(s) if !self.in_progress => s.peer_credentials(),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match &self.stream {
            Some(s) if self.conn.state() == State::Connected && !self.in_progress => {
                s.shutdown_write()
            }
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    // ----- feeding the core -------------------------------------------------

    /// Performs the core's queued actions.
    fn run_actions(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            match action {
                Action::Close => {
                    self.stream = None;
                    self.in_progress = false;
                }
                Action::Connect { address, .. } => {
                    self.stream = None;
                    self.in_progress = false;
                    let now = self.now();
                    match Stream::connect(&address) {
                        Ok(Connect::Done(s)) => {
                            self.stream = Some(s);
                            self.conn.handle_connected(now);
                        }
                        Ok(Connect::InProgress(s)) => {
                            self.stream = Some(s);
                            self.in_progress = true;
                        }
                        Err(e) => self.conn.handle_connect_error(os_error(&e), now),
                    }
                }
            }
        }
    }

    /// Feeds an input to the core at time `now`, then performs its actions.
    fn feed_at(&mut self, now: Duration, input: impl FnOnce(&mut Connection, Duration)) {
        input(&mut self.conn, now);
        self.run_actions();
    }

    /// Feeds a connect outcome (fresh time: it may schedule a retry).
    fn feed(&mut self, input: impl FnOnce(&mut Connection, Duration)) {
        let now = self.now();
        self.feed_at(now, input);
    }

    /// Feeds a data-path input (see `last_now`).
    fn feed_data(&mut self, input: impl FnOnce(&mut Connection, Duration)) {
        self.feed_at(self.last_now, input);
    }

    fn sent(&mut self, n: usize) {
        self.conn.handle_sent(n, self.last_now);
        self.run_actions();
    }

    fn sent_direct(&mut self, n: usize, offered: usize) {
        self.conn.handle_sent_direct(n, offered, self.last_now);
    }

    /// A read into the core's buffer returned `n` bytes (0: end of stream).
    fn received(&mut self, n: usize) {
        if n == 0 {
            self.end_of_stream(false);
        } else {
            self.feed_data(|c, now| c.handle_received(n, now));
        }
    }

    /// A read returned end of stream (`direct`: one into the user's
    /// buffer). A peer that is gone for good (Unix: the socket polls
    /// `POLLHUP`) is reported first, for Qt's signals of a peer that
    /// closed; without it the core takes the end of stream for a
    /// half-close.
    fn end_of_stream(&mut self, direct: bool) {
        if self.stream.as_ref().is_some_and(Stream::hung_up) {
            self.feed_data(|c, now| c.handle_hangup(now));
        }
        self.feed_data(|c, now| {
            if direct {
                c.handle_received_direct(0, now);
            } else {
                c.handle_received(0, now);
            }
        });
    }

    fn io_failed(&mut self, direction: Direction, e: &io::Error) {
        let os = os_error(e);
        self.feed_data(|c, now| c.handle_io_error(direction, os, now));
        if direction == Direction::Write {
            self.drain_gone_peer();
        }
    }

    /// After a failing send the core reads the gone peer out to its end of
    /// stream (docs/semantics.md). Its last bytes and the end of stream are
    /// already in our kernel buffer: take them now, without waiting, so the
    /// connection ends at once when nothing is left unread (as Qt's write
    /// to a dead peer does), here too in the synchronous calls.
    fn drain_gone_peer(&mut self) {
        while self.conn.read_capacity() > 0 {
            let Some(stream) = self.stream.as_ref() else {
                return;
            };
            match stream.try_recv(&mut self.conn) {
                Ok(n) => self.received(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    self.io_failed(Direction::Read, &e);
                    return;
                }
            }
        }
    }

    /// Sends queued data until the OS would block, without waiting (the
    /// synchronous calls: Qt's `flush` writes whatever the OS takes).
    fn try_send(&mut self) {
        self.try_send_with(true);
    }

    /// As [`try_send`](Self::try_send), but only if the reactor last saw the
    /// socket writable: poll paths, which wait for writability properly
    /// when this sends nothing, so no system call is spent on a full socket.
    fn try_send_ready(&mut self) {
        self.try_send_with(false);
    }

    fn try_send_with(&mut self, optimistic: bool) {
        while self.conn.wants_write() {
            let Some(stream) = self.stream.as_ref() else {
                break;
            };
            match stream.try_send(&self.conn, optimistic) {
                Ok(0) => break,
                Ok(n) => self.sent(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.io_failed(Direction::Write, &e);
                    break;
                }
            }
        }
    }

    // ----- the driver loop ----------------------------------------------------

    /// One round of non-blocking progress, in the core's order: a connect
    /// under way, pending writes, reads (only while `read_capacity() > 0`:
    /// a full read buffer is back-pressure), the core's deadline, and the
    /// hang-up of a peer that half-closed.
    fn poll_progress(&mut self, w: &Wakers<'_>, role: Role) -> Progress {
        let mut moved = false;
        let mut waiting = false;

        if self.in_progress {
            if let Some(stream) = self.stream.as_mut() {
                match stream.poll_connected(&mut Context::from_waker(w.shared)) {
                    Poll::Ready(r) => {
                        self.in_progress = false;
                        match r {
                            Ok(()) => self.feed(|c, now| c.handle_connected(now)),
                            Err(e) => {
                                let os = os_error(&e);
                                self.feed(|c, now| c.handle_connect_error(os, now));
                            }
                        }
                        moved = true;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }

        if self.conn.wants_write() {
            if role.writes() {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.poll_send(&mut Context::from_waker(w.own), &self.conn) {
                        Poll::Ready(Ok(n)) => {
                            self.sent(n);
                            moved = true;
                        }
                        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                            moved = true;
                        }
                        Poll::Ready(Err(e)) => {
                            self.io_failed(Direction::Write, &e);
                            moved = true;
                        }
                        Poll::Pending => waiting = true,
                    }
                }
            } else {
                let before = self.conn.bytes_sent();
                self.try_send_ready();
                moved |= self.conn.bytes_sent() != before || !self.conn.wants_write();
            }
        }

        // Progress so far returns at once: the caller's condition is likely
        // met (a flush that just finished), and reading only matters once
        // writes are stuck (then it keeps two peers that write to each other
        // from blocking). A flush that reads here would also pull the next
        // request into the socket's buffer — an allocation per connection —
        // instead of letting the caller read it straight into its own.
        if moved {
            return Progress::Moved;
        }

        if role.reads() && self.conn.read_capacity() > 0 {
            if let Some(stream) = self.stream.as_mut() {
                match stream.poll_recv(&mut Context::from_waker(w.own), &mut self.conn) {
                    Poll::Ready(Ok(n)) => {
                        self.received(n);
                        moved = true;
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.io_failed(Direction::Read, &e);
                        moved = true;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }

        if let Some(at) = self.conn.poll_timeout() {
            match self.poll_deadline(at, w.shared) {
                Poll::Ready(()) => {
                    // The core acts only once its clock reached the
                    // deadline. The timer fired by tokio's clock, which
                    // can run apart from ours (a paused test clock); left
                    // behind, the core would do nothing and the fired
                    // timer would spin.
                    let now = self.now().max(at);
                    self.feed_at(now, |c, now| c.handle_timeout(now));
                    moved = true;
                }
                Poll::Pending => waiting = true,
            }
        }

        // The peer half-closed and nothing else is left to wait for: watch
        // for its hang-up, so waits and the event stream end when it goes.
        // (With writes pending, the send above sees it: tokio reports a
        // hung-up socket writable and the send fails.) Writability is this
        // role's direction; the read half never waits here, since its
        // reads are at end of stream.
        if role.writes() && self.conn.wants_hangup_watch() && !self.conn.wants_write() {
            if let Some(stream) = self.stream.as_mut() {
                match stream.poll_hangup(&mut Context::from_waker(w.own)) {
                    Poll::Ready(Ok(())) => {
                        self.feed_data(|c, now| c.handle_hangup(now));
                        moved = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.io_failed(Direction::Write, &e);
                        moved = true;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }

        if moved {
            Progress::Moved
        } else if waiting {
            Progress::Waiting
        } else {
            Progress::Idle
        }
    }

    /// Waits for the core's deadline `at` on the socket's one timer.
    fn poll_deadline(&mut self, at: Duration, waker: &Waker) -> Poll<()> {
        let Some(deadline) = self.origin.checked_add(at) else {
            // Beyond what an `Instant` can hold: never.
            return Poll::Pending;
        };
        let deadline = tokio::time::Instant::from_std(deadline);
        let timer = match &mut self.timer {
            Some(t) => {
                if t.deadline() != deadline {
                    t.as_mut().reset(deadline);
                }
                t
            }
            None => {
                if tokio::runtime::Handle::try_current().is_err() {
                    return Poll::Pending;
                }
                self.timer
                    .insert(Box::pin(tokio::time::sleep_until(deadline)))
            }
        };
        timer.as_mut().poll(&mut Context::from_waker(waker))
    }

    /// Makes progress until the core decides `wait`: true if its
    /// condition holds, false if it can no longer hold.
    fn poll_wait(&mut self, cx: &mut Context<'_>, wait: &Wait) -> Poll<bool> {
        let w = Wakers::single(cx.waker());
        loop {
            if let Some(r) = self.conn.wait_outcome(wait) {
                return Poll::Ready(r.is_ok());
            }
            match self.poll_progress(&w, Role::Both) {
                Progress::Moved => {}
                Progress::Waiting => return Poll::Pending,
                Progress::Idle => return Poll::Ready(false),
            }
        }
    }

    /// One of Qt's `waitFor*` calls, decided by the core; on `timeout` the
    /// core records Qt's `SocketTimeout` where Qt does. Cancel-safe: all
    /// state is in `self`.
    async fn wait(&mut self, kind: WaitFor, timeout: Timeout) -> bool {
        let wait = self.conn.begin_wait(kind);
        let outcome = match timeout.duration() {
            None => Some(poll_fn(|cx| self.poll_wait(cx, &wait)).await),
            // One round, without a timer: tokio's timer would round a zero
            // timeout up to its next millisecond tick.
            Some(d) if d.is_zero() => {
                poll_fn(|cx| match self.poll_wait(cx, &wait) {
                    Poll::Ready(r) => Poll::Ready(Some(r)),
                    Poll::Pending => Poll::Ready(None),
                })
                .await
            }
            Some(d) => tokio::time::timeout(d, poll_fn(|cx| self.poll_wait(cx, &wait)))
                .await
                .ok(),
        };
        outcome.unwrap_or_else(|| {
            self.conn.wait_timed_out(&wait);
            false
        })
    }

    // ----- Qt's waits ---------------------------------------------------------

    pub(crate) async fn wait_for_connected(&mut self, timeout: Timeout) -> bool {
        self.wait(WaitFor::Connected, timeout).await
    }

    pub(crate) async fn wait_for_ready_read(&mut self, timeout: Timeout) -> bool {
        self.wait(WaitFor::ReadyRead, timeout).await
    }

    pub(crate) async fn wait_for_bytes_written(&mut self, timeout: Timeout) -> bool {
        self.wait(WaitFor::BytesWritten, timeout).await
    }

    pub(crate) async fn wait_for_disconnected(&mut self, timeout: Timeout) -> bool {
        self.wait(WaitFor::Disconnected, timeout).await
    }

    pub(crate) async fn disconnect(&mut self) {
        self.start_disconnect();
        self.wait(WaitFor::Disconnected, Timeout::FOREVER).await;
    }

    pub(crate) fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let w = Wakers::single(cx.waker());
        loop {
            if let Some(e) = self.conn.poll_event() {
                return Poll::Ready(Some(e));
            }
            if self.conn.state() == State::Unconnected {
                return Poll::Ready(None);
            }
            match self.poll_progress(&w, Role::Both) {
                Progress::Moved => {}
                // Idle: connected with a full read buffer and nothing to
                // send; nothing happens until the user reads.
                Progress::Waiting | Progress::Idle => return Poll::Pending,
            }
        }
    }

    // ----- the I/O traits -------------------------------------------------------

    /// The error of an I/O call that can make no progress: the error that
    /// ended the connection, else "not connected".
    fn stalled(&self) -> io::Error {
        match self.conn.fatal_error() {
            Some(e) => e.clone().into(),
            None => DeviceError::NotConnected.into(),
        }
    }

    /// Waits out a connect under way; `Some` to return from the caller.
    fn poll_connecting<T>(&mut self, w: &Wakers<'_>, role: Role) -> Option<Poll<io::Result<T>>> {
        while self.conn.state() == State::Connecting {
            match self.poll_progress(w, role) {
                Progress::Moved => {}
                Progress::Waiting => return Some(Poll::Pending),
                Progress::Idle => return Some(Poll::Ready(Err(self.stalled()))),
            }
        }
        None
    }

    pub(crate) fn poll_read(
        &mut self,
        w: &Wakers<'_>,
        role: Role,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Reads flush pending writes first, so request/response works
        // without an explicit flush.
        if self.conn.wants_write() {
            self.try_send_ready();
        }
        loop {
            let available = self.conn.bytes_available();
            if available > 0 {
                let n = available.min(buf.remaining());
                buf.put_slice(&self.conn.buffered()[..n]);
                let _ = self.conn.skip(n);
                return Poll::Ready(Ok(()));
            }
            // End of stream, a refusal, or more may come (also while
            // Connecting: the connect is driven below).
            if let Some(r) = self.conn.read_outcome_when_empty() {
                return Poll::Ready(r.map_err(Into::into));
            }
            // Nothing buffered and nothing to send: the bytes come straight
            // from the OS into the caller's buffer, as on a raw stream (one
            // system call either way, one copy fewer). `AsyncBufRead` and
            // Qt's calls read through the socket's buffer instead.
            if self.conn.can_read_direct(buf.remaining()) && !self.conn.wants_write() {
                if let Some(stream) = self.stream.as_mut() {
                    let before = buf.filled().len();
                    let cx = &mut Context::from_waker(w.own);
                    match stream.poll_recv_direct(cx, buf, &mut self.conn) {
                        Poll::Ready(Ok(spilled)) => {
                            let n = buf.filled().len() - before;
                            if n == 0 {
                                self.end_of_stream(true);
                                continue;
                            }
                            self.feed_data(|c, now| c.handle_received_direct(n, now));
                            if spilled > 0 {
                                self.feed_data(|c, now| c.handle_received(spilled, now));
                            }
                            return Poll::Ready(Ok(()));
                        }
                        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Poll::Ready(Err(e)) => {
                            self.io_failed(Direction::Read, &e);
                            continue;
                        }
                        // Connected with nothing queued: readability is all
                        // there is to wait for.
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
            match self.poll_progress(w, role) {
                Progress::Moved => {}
                Progress::Waiting => return Poll::Pending,
                Progress::Idle => return Poll::Ready(Err(self.stalled())),
            }
        }
    }

    /// Ready when data is buffered or no more can come; the caller then
    /// returns [`Connection::buffered`].
    pub(crate) fn poll_fill_buf(&mut self, w: &Wakers<'_>, role: Role) -> Poll<io::Result<()>> {
        if self.conn.wants_write() {
            self.try_send_ready();
        }
        loop {
            if self.conn.bytes_available() > 0 {
                return Poll::Ready(Ok(()));
            }
            if let Some(r) = self.conn.read_outcome_when_empty() {
                return Poll::Ready(r.map_err(Into::into));
            }
            match self.poll_progress(w, role) {
                Progress::Moved => {}
                Progress::Waiting => return Poll::Pending,
                Progress::Idle => return Poll::Ready(Err(self.stalled())),
            }
        }
    }

    pub(crate) fn poll_write(
        &mut self,
        w: &Wakers<'_>,
        role: Role,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().fold(0usize, |n, b| n.saturating_add(b.len()));
        if len == 0 {
            return Poll::Ready(Ok(0));
        }
        loop {
            if let Some(r) = self.poll_connecting(w, role) {
                return r;
            }
            // 64 KiB or more queued: wait until the OS took some (reading
            // meanwhile, so two peers writing to each other cannot block).
            // A large write behind a small queue waits for the queue to
            // leave, then goes direct instead of being copied.
            if self.conn.wants_transmit_now()
                || (len >= TRANSMIT_THRESHOLD && self.conn.wants_write())
            {
                match self.poll_progress(w, role) {
                    Progress::Moved => continue,
                    Progress::Waiting => return Poll::Pending,
                    Progress::Idle => return Poll::Ready(Err(self.conn.write_refusal().into())),
                }
            }
            if self.conn.can_write_direct(len) {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.poll_send_slices(&mut Context::from_waker(w.own), bufs) {
                        Poll::Ready(Ok(n)) => {
                            self.sent_direct(n, len);
                            return Poll::Ready(Ok(n));
                        }
                        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Poll::Ready(Err(e)) => {
                            self.io_failed(Direction::Write, &e);
                            return Poll::Ready(Err(self.conn.write_refusal().into()));
                        }
                        Poll::Pending => {
                            // Writability is registered; keep reading.
                            if role.reads() && self.poll_progress(w, role) == Progress::Moved {
                                continue;
                            }
                            return Poll::Pending;
                        }
                    }
                }
            }
            // Qt's buffered write: copy into the queue, at most up to the
            // transmit threshold (so a large write behind a small queued one
            // is not copied whole; the rest goes direct next time).
            let room = self.conn.write_room().max(1);
            let mut queued = 0;
            for b in bufs {
                let take = b.len().min(room - queued);
                if take == 0 {
                    continue;
                }
                match self.conn.write_slice(&b[..take]) {
                    Ok(n) => queued += n,
                    Err(_) if queued > 0 => break,
                    Err(_) => return Poll::Ready(Err(self.conn.write_refusal().into())),
                }
                if queued == room {
                    break;
                }
            }
            if self.conn.wants_transmit_now() {
                self.try_send_ready();
            }
            return Poll::Ready(Ok(queued));
        }
    }

    pub(crate) fn poll_flush(&mut self, w: &Wakers<'_>, role: Role) -> Poll<io::Result<()>> {
        loop {
            if let Some(r) = self.conn.flush_outcome() {
                return Poll::Ready(r.map_err(Into::into));
            }
            match self.poll_progress(w, role) {
                Progress::Moved => {}
                Progress::Waiting => return Poll::Pending,
                Progress::Idle => return Poll::Ready(Err(self.conn.write_refusal().into())),
            }
        }
    }

    pub(crate) fn poll_shutdown(&mut self, w: &Wakers<'_>, role: Role) -> Poll<io::Result<()>> {
        if matches!(self.conn.state(), State::Connected | State::Connecting) {
            self.start_disconnect();
        }
        while self.conn.state() != State::Unconnected {
            match self.poll_progress(w, role) {
                Progress::Moved => {}
                Progress::Waiting => return Poll::Pending,
                Progress::Idle => return Poll::Ready(Err(self.conn.write_refusal().into())),
            }
        }
        Poll::Ready(match self.conn.flush_outcome() {
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Hands the kernel what it takes now, without waiting (one
        // non-blocking send loop), then aborts as Qt's destructor does:
        // the rest is lost. Nothing here blocks, panics or needs a runtime
        // (the stream and timer deregister themselves; a Windows write
        // tokio has taken completes on its own).
        while self.conn.wants_write() {
            let Some(stream) = self.stream.as_ref() else {
                break;
            };
            match stream.send_without_waiting(&self.conn) {
                Ok(0) => break,
                Ok(n) => self.sent(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Full, or failed: the rest is lost.
                Err(_) => break,
            }
        }
        self.conn.abort();
        self.stream = None;
    }
}
