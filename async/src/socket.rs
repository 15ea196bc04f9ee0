//! [`LocalSocket`]: Qt's `QLocalSocket` on any runtime.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use localsock_core::{
    AcceptedFrom, Config, Connection, DeviceError, Event, LocalSocketError, OpenMode,
    PeerCredentials, SocketError, SocketOptions, State, WaitFor,
};
use localsock_os::{default_config_ref, Timeout};

use crate::driver::{CoreTimer, Directions, Driver};
use crate::split::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::stream::Stream;
use crate::Runtime;

mod descriptor;

/// A local socket: a client of a [`LocalServer`](crate::LocalServer) (or of
/// a Qt `QLocalServer`), or the server side of an accepted connection.
///
/// Generic over the [`Runtime`] that keeps its timers and (on Unix) its
/// reactor; `localsock-smol` and `localsock-tokio` name it
/// `LocalSocket` for theirs.
///
/// Dropping a socket hands the kernel whatever of the pending writes it
/// takes without blocking; the rest is lost (as with Qt's destructor,
/// which aborts). To deliver everything, call
/// [`disconnect_from_server`](Self::disconnect_from_server) and await
/// [`wait_for_disconnected`](Self::wait_for_disconnected) (or flush with
/// the I/O traits) before dropping it.
///
/// Three ways to use it, all on the same state machine:
/// - **Streams**: futures-io's `AsyncRead`, `AsyncBufRead` and `AsyncWrite`
///   (feature `futures-io`) or tokio's (feature `tokio`). Their
///   `close`/`shutdown` flush, then half-close (the peer reads end of
///   stream; this side can still read). Named pipes cannot half-close:
///   there it is Qt's graceful disconnect.
/// - **Qt's waits**, as async functions returning `Result` (Qt's bool is
///   `.is_ok()`): [`wait_for_connected`](Self::wait_for_connected),
///   [`wait_for_ready_read`](Self::wait_for_ready_read),
///   [`wait_for_bytes_written`](Self::wait_for_bytes_written),
///   [`wait_for_disconnected`](Self::wait_for_disconnected), with Qt's
///   queue-style [`write_bytes`](Self::write_bytes) and
///   [`read_all`](Self::read_all).
/// - **Qt's signals**: [`next_event`](Self::next_event) drives the socket
///   and returns the next [`Event`].
///
/// Writes are buffered, as in Qt and like `BufWriter`: they leave on a
/// flush, on any wait, on a read (so request/response needs no explicit
/// flush), when 64 KiB are queued, and on a disconnect. A write of 64 KiB
/// or more with nothing queued goes straight to the OS; so does a read into
/// a buffer when nothing is buffered.
///
/// The driver is spawn-free: the socket makes progress only while
/// something polls it (a wait, a read or write, [`next_event`](Self::next_event),
/// a flush or close). A graceful disconnect with writes pending therefore
/// drains in [`wait_for_disconnected`](Self::wait_for_disconnected) or in
/// later calls, not behind your back.
#[derive(Debug)]
pub struct LocalSocket<R: Runtime> {
    /// Boxed: the socket is moved into tasks and through `async fn`
    /// arguments, and each level of a future's state holds its own copy;
    /// unboxed, a 64-byte echo task took about 1.8 KB.
    pub(crate) driver: Box<Driver<R>>,
    pub(crate) timer: CoreTimer<R>,
}

impl<R: Runtime> Default for LocalSocket<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Runtime> LocalSocket<R> {
    /// An unconnected socket with Qt's defaults.
    pub fn new() -> Self {
        Self::from_driver(Driver::with_connection(Connection::with_static_config(
            default_config_ref(),
        )))
    }

    /// An unconnected socket with the given core configuration.
    pub fn with_config(config: Config) -> Self {
        Self::from_driver(Driver::new(config))
    }

    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream<R>) -> Self {
        Self::from_driver(Driver::accepted(from, stream))
    }

    pub(crate) fn from_driver(driver: Driver<R>) -> Self {
        LocalSocket {
            driver: Box::new(driver),
            timer: CoreTimer::new(),
        }
    }

    /// Connects to `name` and waits up to the connect timeout (Qt: 30 s; a
    /// full backlog is retried meanwhile).
    ///
    /// Cancel safety: dropping the future drops (aborts) the half-made
    /// socket; nothing else is affected.
    pub async fn connect(name: &str) -> Result<Self, LocalSocketError> {
        let mut s = Self::new();
        s.connect_to_server(name);
        s.wait_for_connected(Timeout::FOREVER).await?;
        Ok(s)
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

    /// Qt's `setSocketOptions`: the options of the next connect. Ignored,
    /// returning false, unless Unconnected (Qt warns and ignores it too).
    pub fn set_socket_options(&mut self, options: SocketOptions) -> bool {
        self.driver.conn.set_socket_options(options)
    }

    /// Qt's `socketOptions`: those of the next connect; on an accepted
    /// socket, whether its address is abstract.
    pub fn socket_options(&self) -> SocketOptions {
        self.driver.conn.socket_options()
    }

    /// Qt's `setServerName`: the name [`open`](Self::open) connects to.
    /// Ignored, returning false with the name unchanged, unless
    /// Unconnected (Qt warns and ignores it too).
    pub fn set_server_name(&mut self, name: &str) -> bool {
        self.driver.conn.set_server_name(name)
    }

    /// Qt's `open(mode)`: connects to the name set by
    /// [`set_server_name`](Self::set_server_name) and returns what is known
    /// at once. Not `async`: like `connect_to_server`, and like `open` on
    /// the blocking runtime, it never waits. `Ok` when connected;
    /// [`SocketError::SocketTimeout`] while a full backlog or busy pipe is
    /// retried (the socket stays Connecting, nothing is recorded; finish
    /// with [`wait_for_connected`](Self::wait_for_connected)); else the
    /// connect's error (no name set: `ServerNotFound`, as in Qt). While
    /// Connecting or Connected it is refused with `Operation`. Qt's `bool`
    /// is `.is_ok()`, except that Qt returns true when already connected.
    pub fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError> {
        self.driver.open(mode)
    }

    /// Waits until connected. `Ok` at once when Connected. A timeout is
    /// `SocketTimeout` and the socket stays Connecting (as in Qt); a failed
    /// connect is its error.
    ///
    /// Cancel safety: cancel-safe; the connect carries on and a later call
    /// picks it up.
    pub async fn wait_for_connected(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait(WaitFor::Connected, timeout.into()).await
    }

    /// Waits until new data is buffered. An error when Unconnected, when
    /// the peer closed or half-closed (no more data can come), when the
    /// read buffer is full, or on timeout (`SocketTimeout`, recorded as in
    /// Qt; the socket stays connected). Pending writes are sent meanwhile.
    ///
    /// Cancel safety: cancel-safe; data read meanwhile stays buffered and a
    /// cancelled wait records no timeout.
    pub async fn wait_for_ready_read(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait(WaitFor::ReadyRead, timeout.into()).await
    }

    /// Waits until at least one byte of pending data was written. An error
    /// at once when nothing is pending or Unconnected, when the connection
    /// ends first, or on timeout (`SocketTimeout`).
    ///
    /// Cancel safety: cancel-safe; queued data stays queued.
    pub async fn wait_for_bytes_written(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait(WaitFor::BytesWritten, timeout.into()).await
    }

    /// Waits until Unconnected: drains pending writes when Closing, or
    /// waits for the peer to close when Connected (after a half-close too:
    /// the socket is watched for the peer's hang-up). An error at once when
    /// already Unconnected (as in Qt), or on timeout (`SocketTimeout`).
    ///
    /// Cancel safety: cancel-safe; a drain under way carries on in later
    /// calls.
    pub async fn wait_for_disconnected(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait(WaitFor::Disconnected, timeout.into()).await
    }

    /// One of Qt's waits: the core sets its baseline and judges it; this
    /// drives the socket until then, or gives up at `timeout` (which the
    /// core records where Qt does).
    async fn wait(&mut self, kind: WaitFor, timeout: Timeout) -> Result<(), LocalSocketError> {
        let wait = self.driver.conn.begin_wait(kind);
        let driver = &mut self.driver;
        let timer = &mut self.timer;
        let op = poll_fn(|cx| driver.poll_wait(cx, timer, Directions::BOTH, &wait));
        match with_timeout::<R, _>(timeout, op).await {
            Some(outcome) => outcome,
            None => Err(self.driver.conn.wait_timed_out(&wait)),
        }
    }

    /// Starts Qt's graceful disconnect and returns at once, writing
    /// nothing: with writes pending the socket is Closing until they drain
    /// (in [`wait_for_disconnected`](Self::wait_for_disconnected) or any
    /// later wait, read, write or `next_event`), then Unconnected; with
    /// none it is Unconnected at once. While Connecting, the connect is
    /// cancelled. Buffered input stays readable.
    pub fn disconnect_from_server(&mut self) {
        self.driver.start_disconnect();
    }

    /// Qt's `close`: `AboutToClose`, buffered input dropped, then a graceful
    /// disconnect that drains in later waits (see
    /// [`disconnect_from_server`](Self::disconnect_from_server)); nothing
    /// is written inside the call.
    pub fn close_device(&mut self) {
        self.driver.close();
    }

    /// Ends the connection now, discarding pending writes (`AboutToClose`
    /// comes last, as in Qt).
    pub fn abort(&mut self) {
        self.driver.abort();
    }

    /// Qt's `flush`: writes what the OS takes now, without waiting. True
    /// if anything was written. (The I/O traits' flush waits for all.)
    pub fn try_flush(&mut self) -> bool {
        self.driver.flush_now()
    }

    /// Qt's `write`: queues owned data without copying it; see the type's
    /// notes on buffering. Returns the number of bytes queued. Unlike the
    /// I/O traits' writes, the queue is not bounded.
    pub fn write_bytes(&mut self, data: impl Into<Bytes>) -> Result<usize, DeviceError> {
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
    pub fn read_line_bytes(&mut self, max: usize) -> Result<Bytes, DeviceError> {
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
                .poll_drive(cx, &mut self.timer, Directions::BOTH, false)
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
    pub fn events(&mut self) -> Events<'_, R> {
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

    /// Sends everything queued, then half-closes: the peer reads end of
    /// stream, this side can still read (Qt lacks this). Pipes cannot
    /// half-close: `Unsupported` on Windows.
    ///
    /// Cancel safety: cancel-safe; queued data stays queued.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        {
            let driver = &mut self.driver;
            let timer = &mut self.timer;
            poll_fn(|cx| driver.poll_flush(cx, timer, Directions::BOTH)).await?;
        }
        self.driver.shutdown_write()
    }

    /// The core state machine, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// Splits into halves for one reading and one writing task.
    pub fn into_split(self) -> (OwnedReadHalf<R>, OwnedWriteHalf<R>) {
        split::split(*self.driver)
    }
}

/// Runs `op` until it completes or `timeout` passes (`None`). A zero
/// timeout polls `op` once and needs no timer.
pub(crate) async fn with_timeout<R: Runtime, T>(
    timeout: Timeout,
    op: impl Future<Output = T>,
) -> Option<T> {
    let deadline = timeout.duration().map(|d| Instant::now().checked_add(d));
    let mut op = pin!(op);
    let mut timer = CoreTimer::<R>::new();
    poll_fn(move |cx| {
        if let Poll::Ready(v) = op.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        match deadline {
            // No timeout, or one beyond `Instant`'s range.
            None | Some(None) => Poll::Pending,
            Some(Some(at)) if at <= Instant::now() => Poll::Ready(None),
            Some(Some(at)) => timer.poll_at(cx, at).map(|()| None),
        }
    })
    .await
}

/// The stream of a socket's [`Event`]s: see [`LocalSocket::events`].
#[derive(Debug)]
pub struct Events<'a, R: Runtime> {
    socket: &'a mut LocalSocket<R>,
}

impl<R: Runtime> FuturesStream for Events<'_, R> {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().socket.poll_next_event(cx)
    }
}
