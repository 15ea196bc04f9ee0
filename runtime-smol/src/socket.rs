//! [`LocalSocket`]: Qt's `QLocalSocket` as a futures-io stream.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;
use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use localsock_core::{
    AcceptedFrom, Config, Connection, DeviceError, ErrorSource, Event, LocalSocketError, OpenMode,
    PeerCredentials, SocketError, State, WaitFor,
};

use crate::driver::{CoreTimer, Driver, Interest};
use crate::split::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::sys::Stream;
use crate::{name_context, Timeout};

/// A local socket: a client of a [`LocalServer`](crate::LocalServer) (or of
/// a Qt `QLocalServer`), or the server side of an accepted connection.
///
/// Dropping a socket hands the kernel whatever of the pending writes it
/// takes without blocking; the rest is lost (as with Qt's destructor,
/// which aborts). To deliver everything, await
/// [`disconnect_from_server`](Self::disconnect_from_server) (or
/// [`start_disconnect`](Self::start_disconnect) then
/// [`wait_for_disconnected`](Self::wait_for_disconnected), or
/// `AsyncWriteExt::close`) before dropping it.
///
/// Three ways to use it, all on the same state machine:
/// - **futures-io streams**: [`AsyncRead`], [`AsyncBufRead`] and
///   [`AsyncWrite`] (use them through `futures_lite::io` / `futures::io`
///   extension traits);
/// - **Qt's waits**, as async functions: [`wait_for_connected`](Self::wait_for_connected),
///   [`wait_for_ready_read`](Self::wait_for_ready_read),
///   [`wait_for_bytes_written`](Self::wait_for_bytes_written),
///   [`wait_for_disconnected`](Self::wait_for_disconnected), with Qt's
///   queue-style [`write`](Self::write) and [`read_all`](Self::read_all);
/// - **Qt's signals**: [`next_event`](Self::next_event) drives the socket
///   and returns the next [`Event`].
///
/// Writes are buffered, as in Qt and like `BufWriter`: they leave on
/// `flush`, on any wait, on a read (so request/response needs no explicit
/// flush), when 64 KiB are queued, and on a disconnect. A write of 64 KiB
/// or more with nothing queued goes straight to the OS; so does a read into
/// a buffer when nothing is buffered.
///
/// Some inherent methods share a name with an extension-trait method and
/// win method resolution: `flush` (Qt's non-blocking flush, returns
/// `bool`), `write` (Qt's queueing write), `read_line(max)` (Qt's) and
/// `close` (Qt's, synchronous). Call the trait versions as
/// `AsyncWriteExt::flush(&mut socket).await` and so on.
///
/// Works on any executor: the I/O is driven by async-io's reactor.
#[derive(Debug)]
pub struct LocalSocket {
    /// Boxed: the socket is moved into tasks and through `async fn`
    /// arguments, and each level of a future's state holds its own copy;
    /// unboxed, a 64-byte echo task took about 1.8 KB.
    driver: Box<Driver>,
    timer: CoreTimer,
}

impl Default for LocalSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalSocket {
    /// An unconnected socket with Qt's defaults.
    pub fn new() -> Self {
        Self::with_config(Config::new(name_context()))
    }

    /// An unconnected socket with the given core configuration.
    pub fn with_config(config: Config) -> Self {
        LocalSocket {
            driver: Box::new(Driver::new(config)),
            timer: CoreTimer::new(),
        }
    }

    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream) -> Self {
        LocalSocket {
            driver: Box::new(Driver::accepted(from, stream)),
            timer: CoreTimer::new(),
        }
    }

    /// Connects to `name` and waits up to the connect timeout (Qt: 30 s; a
    /// full backlog is retried meanwhile).
    ///
    /// Cancel safety: dropping the future drops (aborts) the half-made
    /// socket; nothing else is affected.
    pub async fn connect(name: &str) -> Result<LocalSocket, LocalSocketError> {
        let mut s = LocalSocket::new();
        s.connect_to_server(name);
        if s.wait_for_connected(Timeout::FOREVER).await {
            Ok(s)
        } else {
            Err(s.driver.conn.last_error().cloned().unwrap_or_else(|| {
                LocalSocketError::new(SocketError::SocketTimeout, ErrorSource::WaitForConnected)
            }))
        }
    }

    // ----- Qt's API ------------------------------------------------------

    /// Starts connecting to `name` (read-write) and returns at once. The
    /// connect usually completes inside this call; otherwise (a full
    /// backlog, or on Windows every pipe instance busy, retried on the
    /// core's timer) it completes in [`wait_for_connected`](Self::wait_for_connected)
    /// or in any other call that waits.
    pub fn connect_to_server(&mut self, name: &str) {
        self.connect_to_server_with_mode(name, OpenMode::ReadWrite);
    }

    /// Starts connecting to `name` with the given open mode.
    pub fn connect_to_server_with_mode(&mut self, name: &str, mode: OpenMode) {
        self.driver.connect_to_server(name, mode);
    }

    /// Sets how long a connect keeps retrying a full backlog or busy pipe.
    /// It applies from the next connect, on any socket (a used one too).
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.driver.set_connect_timeout(timeout);
    }

    /// Sets how long a graceful disconnect may wait for pending writes to
    /// drain (`None`, the default, waits as long as the peer is there). It
    /// applies to the next disconnect, on any socket (an accepted one too);
    /// while Closing it applies at once, counted from now.
    pub fn set_drain_timeout(&mut self, timeout: Option<Duration>) {
        self.driver.set_drain_timeout(timeout);
    }

    /// Qt's `AbstractNamespaceOption` for the next connect (Linux). Ignored,
    /// returning false, unless Unconnected.
    pub fn set_abstract_namespace(&mut self, on: bool) -> bool {
        self.driver.conn.set_abstract_namespace(on)
    }

    /// Waits until connected. Returns at once unless Connecting. On timeout
    /// returns false with no error and stays Connecting (as Qt does).
    ///
    /// Cancel safety: cancel-safe; the connect carries on and a later call
    /// picks it up.
    pub async fn wait_for_connected(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.wait(WaitFor::Connected, timeout.into()).await
    }

    /// Waits until new data is buffered. False when Unconnected, when the
    /// peer closed or half-closed (no more data can come), when the read
    /// buffer is full, or on timeout (which emits `SocketTimeout`, as in
    /// Qt; the socket stays connected). Pending writes are sent meanwhile.
    ///
    /// Cancel safety: cancel-safe; data read meanwhile stays buffered and a
    /// cancelled wait reports no timeout.
    pub async fn wait_for_ready_read(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.wait(WaitFor::ReadyRead, timeout.into()).await
    }

    /// Waits until at least one byte of pending data was written. False at
    /// once when nothing is pending or Unconnected; false when the
    /// connection ends first, or on timeout (emitting `SocketTimeout`).
    ///
    /// Cancel safety: cancel-safe; queued data stays queued.
    pub async fn wait_for_bytes_written(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.wait(WaitFor::BytesWritten, timeout.into()).await
    }

    /// Waits until Unconnected: drains pending writes when Closing, or
    /// waits for the peer to close when Connected (after a half-close too:
    /// the socket is watched for the peer's hang-up). False at once when
    /// already Unconnected (as in Qt), or on timeout (emitting
    /// `SocketTimeout`).
    ///
    /// Cancel safety: cancel-safe; a drain under way carries on in later
    /// calls.
    pub async fn wait_for_disconnected(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.wait(WaitFor::Disconnected, timeout.into()).await
    }

    /// One of Qt's waits: the core sets its baseline and judges it; this
    /// drives the socket until then, or gives up at `timeout` (which the
    /// core records where Qt does).
    async fn wait(&mut self, kind: WaitFor, timeout: Timeout) -> bool {
        let wait = self.driver.conn.begin_wait(kind);
        let driver = &mut self.driver;
        let timer = &mut self.timer;
        let op = poll_fn(|cx| driver.poll_wait(cx, timer, Interest::BOTH, &wait).map(Some));
        match with_timeout(timeout, op, None).await {
            Some(done) => done,
            None => {
                self.driver.conn.wait_timed_out(&wait);
                false
            }
        }
    }

    /// Qt's graceful close, awaited (`disconnectFromServer` followed by
    /// `waitForDisconnected`): Closing until every pending byte was taken
    /// by the OS, then Unconnected. If the peer goes away first the
    /// socket ends with the core's error (see [`error`](Self::error)).
    /// Buffered input stays readable. While Connecting, the connect is
    /// cancelled.
    ///
    /// Cancel safety: cancel-safe; the socket stays Closing and any later
    /// wait (or another call of this) continues the drain. Dropping the
    /// socket instead sends only what the kernel takes at once (see the
    /// type's docs).
    pub async fn disconnect_from_server(&mut self) {
        let driver = &mut self.driver;
        let timer = &mut self.timer;
        let _ = poll_fn(|cx| driver.poll_close(cx, timer, Interest::BOTH)).await;
    }

    /// Starts Qt's graceful disconnect and returns at once, writing
    /// nothing: with writes pending the socket is Closing until they drain
    /// (in any later wait, read, write or `next_event`), then Unconnected;
    /// with none it is Unconnected at once. What the non-blocking
    /// `QLocalSocket::disconnectFromServer` does.
    pub fn start_disconnect(&mut self) {
        self.driver.start_disconnect();
    }

    /// Qt's `close`: `AboutToClose`, buffered input dropped, then a graceful
    /// disconnect that drains in later waits (see
    /// [`start_disconnect`](Self::start_disconnect)); nothing is written
    /// inside the call.
    pub fn close(&mut self) {
        self.driver.close();
    }

    /// Ends the connection now, discarding pending writes (`AboutToClose`
    /// comes last, as in Qt).
    pub fn abort(&mut self) {
        self.driver.abort();
    }

    /// Qt's `flush`: writes what the OS takes now, without waiting. True
    /// if anything was written. (`AsyncWriteExt::flush` waits for all.)
    pub fn flush(&mut self) -> bool {
        self.driver.flush_now()
    }

    /// Queues owned data without copying it; see the type's notes on
    /// buffering. Returns the number of bytes queued. Unlike
    /// [`AsyncWrite`], the queue is not bounded: this is Qt's `write`.
    pub fn write(&mut self, data: impl Into<Bytes>) -> Result<usize, DeviceError> {
        let n = self.driver.conn.write(data)?;
        if self.driver.conn.wants_transmit_now() {
            self.driver.send_now();
        }
        Ok(n)
    }

    /// Takes up to `max` buffered bytes, without copying.
    pub fn read_bytes(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.driver.conn.read_bytes(max)
    }

    /// Takes everything buffered, without copying.
    pub fn read_all(&mut self) -> Result<Bytes, DeviceError> {
        self.driver.conn.read_all()
    }

    /// Qt's `readLine(max)` over what is buffered (0 = no limit).
    pub fn read_line(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.driver.conn.read_line(max)
    }

    /// Copies buffered bytes without consuming them.
    pub fn peek(&self, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.driver.conn.peek(out)
    }

    /// Drops up to `n` buffered bytes.
    pub fn skip(&mut self, n: usize) -> Result<usize, DeviceError> {
        self.driver.conn.skip(n)
    }

    /// Sets the read-buffer limit (0 = unlimited, the default). At the
    /// limit nothing more is read from the OS, so a fast peer is held back
    /// by the kernel (real back-pressure); reading from the buffer resumes
    /// it.
    pub fn set_read_buffer_size(&mut self, size: usize) {
        self.driver.conn.set_read_buffer_size(size);
    }

    /// The read-buffer limit (0 = unlimited).
    pub fn read_buffer_size(&self) -> usize {
        self.driver.conn.read_buffer_size()
    }

    /// The state.
    pub fn state(&self) -> State {
        self.driver.conn.state()
    }

    /// The last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        self.driver.conn.error()
    }

    /// The last error with its OS code, if any.
    pub fn last_error(&self) -> Option<&LocalSocketError> {
        self.driver.conn.last_error()
    }

    /// Qt's text for the last error.
    pub fn error_string(&self) -> String {
        self.driver.conn.error_string()
    }

    /// Whether there is a connection (false once Unconnected).
    pub fn is_valid(&self) -> bool {
        self.driver.conn.is_valid()
    }

    /// Whether the device is open.
    pub fn is_open(&self) -> bool {
        self.driver.conn.is_open()
    }

    /// The open mode, if open.
    pub fn open_mode(&self) -> Option<OpenMode> {
        self.driver.conn.open_mode()
    }

    /// The name passed to `connect_to_server` (empty once Unconnected).
    pub fn server_name(&self) -> &str {
        self.driver.conn.server_name()
    }

    /// The resolved path or pipe name (empty once Unconnected).
    pub fn full_server_name(&self) -> &str {
        self.driver.conn.full_server_name()
    }

    /// Bytes buffered.
    pub fn bytes_available(&self) -> usize {
        self.driver.conn.bytes_available()
    }

    /// Bytes queued for writing.
    pub fn bytes_to_write(&self) -> usize {
        self.driver.conn.bytes_to_write()
    }

    /// Whether a whole line is buffered.
    pub fn can_read_line(&self) -> bool {
        self.driver.conn.can_read_line()
    }

    /// Qt's `atEnd`: not open, or nothing buffered.
    pub fn at_end(&self) -> bool {
        self.driver.conn.at_end()
    }

    /// The next queued Qt signal, if any, without driving I/O.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.driver.conn.poll_event()
    }

    /// All queued Qt signals, oldest first, without driving I/O.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.driver.conn.poll_event()).collect()
    }

    /// Drives I/O (reads while the read buffer has room, writes what is
    /// queued, acts on the core's deadlines, watches a half-closed
    /// connection for the peer's hang-up) until a Qt signal is queued,
    /// and returns it. `None` once Unconnected with no signal left. While
    /// the read buffer is full and nothing is queued no signal can arrive:
    /// the future stays pending until you read.
    ///
    /// Cancel safety: cancel-safe; signals live in the core until taken,
    /// so none is lost.
    pub async fn next_event(&mut self) -> Option<Event> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The poll form of [`next_event`](Self::next_event).
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            if let Some(e) = self.driver.conn.poll_event() {
                return Poll::Ready(Some(e));
            }
            if self.driver.conn.state() == State::Unconnected {
                return Poll::Ready(None);
            }
            match self
                .driver
                .poll_drive(cx, &mut self.timer, Interest::BOTH, false)
            {
                Poll::Ready(true) => {}
                // Nothing can happen until the user acts (full read
                // buffer): there is no event to wait for.
                Poll::Ready(false) | Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The signals as a [`Stream`](futures_core::Stream), driving I/O as
    /// [`next_event`](Self::next_event) does.
    pub fn events(&mut self) -> Events<'_> {
        Events { socket: self }
    }

    /// Credentials of the process at the other end (Qt lacks this). On
    /// Windows only the process id is known (no uid or gid).
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        match self.driver.stream() {
            Some(s) => s.peer_credentials(),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Sends everything pending, then half-closes: the peer reads end of
    /// stream while this side can still read. Not a Qt call. Windows named
    /// pipes have no half-close: there the pending data is sent and the
    /// result is an `Unsupported` error, the connection carrying on.
    ///
    /// Cancel safety: cancel-safe before the half-close (pending data stays
    /// queued); the half-close itself is one non-blocking call.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        {
            let driver = &mut self.driver;
            let timer = &mut self.timer;
            poll_fn(|cx| driver.poll_flush(cx, timer, Interest::BOTH)).await?;
        }
        match self.driver.stream() {
            Some(s) if self.driver.conn.state() == State::Connected => s.shutdown_write(),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The core state machine (read-only), for inspection.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// Splits the socket into a read half and a write half that two tasks
    /// can use at once (each implements the futures-io traits). The halves
    /// share the connection behind a mutex; each waits only for its own
    /// direction.
    ///
    /// Dropping one half leaves the connection to the other. Dropping the
    /// last one is like dropping the socket (what the kernel takes at once
    /// is sent, the rest is lost); to deliver pending bytes first, `close` the write half (Qt's graceful disconnect, which ends
    /// both directions). [`OwnedReadHalf::reunite`] puts the socket back
    /// together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(*self.driver)
    }

    pub(crate) fn from_driver(driver: Driver) -> Self {
        LocalSocket {
            driver: Box::new(driver),
            timer: CoreTimer::new(),
        }
    }
}

/// Runs `op`, or gives `on_timeout` when `timeout` passes first. A zero
/// timeout still lets `op` make one round of non-blocking progress (it is
/// polled first).
pub(crate) async fn with_timeout<T>(
    timeout: Timeout,
    op: impl Future<Output = T>,
    on_timeout: T,
) -> T {
    match timeout
        .duration()
        .and_then(|d| Instant::now().checked_add(d))
    {
        None => op.await,
        Some(deadline) => {
            futures_lite::future::or(op, async {
                Timer::at(deadline).await;
                on_timeout
            })
            .await
        }
    }
}

impl AsyncRead for LocalSocket {
    /// Reads buffered data, waiting until some arrives. Pending writes are
    /// sent first, so request/response works without explicit flushes.
    /// `Ok(0)` is end of stream; a connection that failed reports its
    /// error. A read into a buffer with nothing buffered goes straight into
    /// it. Cancel-safe: nothing is consumed unless `Ready` is returned.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.driver
            .poll_read(cx, &mut this.timer, Interest::BOTH, buf)
    }
}

impl AsyncBufRead for LocalSocket {
    /// The buffered bytes, waiting until there are some; empty at end of
    /// stream. Cancel-safe.
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        std::task::ready!(this
            .driver
            .poll_fill_buf(cx, &mut this.timer, Interest::BOTH))?;
        Poll::Ready(Ok(this.driver.conn.buffered()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let _ = self.get_mut().driver.conn.skip(amt);
    }
}

impl AsyncWrite for LocalSocket {
    /// Queues `buf` (see the type's notes on buffering); a large write with
    /// nothing queued goes straight to the OS. Pending only while 64 KiB
    /// are queued and the OS takes nothing, so the queue stays bounded.
    /// Cancel-safe: `Ready(Ok(n))` means `n` bytes were queued or sent;
    /// `Pending` took nothing.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.driver
            .poll_write(cx, &mut this.timer, Interest::BOTH, buf)
    }

    /// Waits until everything queued was taken by the OS. An error if the
    /// connection ended with bytes still queued. Cancel-safe.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.driver.poll_flush(cx, &mut this.timer, Interest::BOTH)
    }

    /// Qt's graceful disconnect: Closing while pending bytes drain, then
    /// Unconnected (both directions end; buffered input stays readable).
    /// An error if bytes were lost on the way. Cancel-safe (the drain
    /// continues in later calls).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.driver.poll_close(cx, &mut this.timer, Interest::BOTH)
    }
}

/// The signals of a socket as a [`Stream`](futures_core::Stream); see
/// [`LocalSocket::events`]. Ends once the socket is Unconnected and every
/// signal was taken.
#[derive(Debug)]
pub struct Events<'a> {
    socket: &'a mut LocalSocket,
}

impl FuturesStream for Events<'_> {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().socket.poll_next_event(cx)
    }
}
