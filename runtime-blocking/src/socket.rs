//! [`LocalSocket`]: Qt's `QLocalSocket` for code without an event loop.

use std::io::{self, BufRead, Read, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use localsock_core::{
    AcceptedFrom, Action, Config, Connection, DeviceError, Direction, Event, LocalSocketError,
    OpenMode, OsError, PeerCredentials, SocketError, SocketOptions, State, WaitFor,
    TRANSMIT_THRESHOLD,
};

use crate::platform::{Connect, Stream};
use crate::Timeout;
use localsock_os::default_config_ref;

mod descriptor;

/// A local socket: a client of a [`LocalServer`](crate::LocalServer) (or of
/// a Qt `QLocalServer`), or the server side of an accepted connection.
///
/// The API is Qt's "without an event loop" one: start with
/// [`connect_to_server`](Self::connect_to_server), then block with the
/// `wait_for_*` calls; or use [`std::io::Read`], [`Write`] and [`BufRead`].
///
/// Qt's calls map to methods as follows; none of them shares its name with
/// a method of `Read`, `Write` or `BufRead`, so a trait call never lands on
/// a Qt call by accident (and the reverse):
///
/// | Qt | here | blocks? |
/// |---|---|---|
/// | `waitForConnected` and the other `waitFor*` | `wait_for_*`: `Ok(())`, or why not ([`LocalSocketError`]; a timeout is [`SocketError::SocketTimeout`]) — Qt's `bool` is `.is_ok()` | up to the timeout |
/// | `write(QByteArray)` | [`write_bytes`](Self::write_bytes) (queues) | no |
/// | `flush` | [`try_flush`](Self::try_flush) (what the OS takes now) | no |
/// | `readLine(maxSize)` | [`read_line_bytes`](Self::read_line_bytes) (what is buffered) | no |
/// | `disconnectFromServer` | [`disconnect_from_server`](Self::disconnect_from_server) (starts the close) | no |
/// | `close` | [`close_device`](Self::close_device) | no |
/// | — | [`Write::flush`] (everything queued, or the loss as an error) | yes |
///
/// Writes are buffered, as in Qt and like `BufWriter`: they leave on
/// [`try_flush`](Self::try_flush) and [`Write::flush`], on any `wait_for_*`,
/// on a read, and when 64 KiB are queued; not inside
/// [`disconnect_from_server`](Self::disconnect_from_server), which only
/// starts the close. A `Write::write` of 64 KiB or more goes straight to
/// the OS once nothing is queued ahead of it, and waits for room like a std
/// stream does; unlike one, two peers that both write without reading never block each other:
/// a write the peer has taken nothing of for 10 ms reads into the socket's
/// buffer while it waits.
///
/// ```no_run
/// use localsock_blocking::{LocalSocket, Timeout};
/// use std::time::Duration;
///
/// let mut socket = LocalSocket::new();
/// socket.connect_to_server("myapp");
/// match socket.wait_for_connected(Duration::from_secs(3)) {
///     Ok(()) => {
///         socket.write_bytes(&b"hello\n"[..]).unwrap();
///         socket.wait_for_bytes_written(Timeout::FOREVER).unwrap();
///         if socket.wait_for_ready_read(Duration::from_secs(3)).is_ok() {
///             println!("{:?}", socket.read_all().unwrap());
///         }
///         socket.disconnect_from_server();
///         if let Err(e) = socket.wait_for_disconnected(Duration::from_secs(3)) {
///             eprintln!("not delivered: {e}");
///         }
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
///
/// Dropping a socket first hands the kernel whatever of the pending writes
/// it takes without blocking, then closes; what does not fit is lost, as
/// with Qt's destructor (which aborts). Call `disconnect_from_server` and
/// `wait_for_disconnected` (or [`Write::flush`]) first to deliver
/// everything.
#[derive(Debug)]
pub struct LocalSocket {
    conn: Connection,
    stream: Option<Stream>,
    /// A connect is under way on `stream` (`EINPROGRESS`).
    in_progress: bool,
    /// How a direct write waits for room (see [`SendMode`]).
    send_mode: SendMode,
    /// Inside a wait (`drive`): when it ends (`None`: never). Only then may
    /// a connect block, waiting inside the OS for room in a full backlog;
    /// `connect_to_server` and `open` return at once.
    waiting_until: Option<Option<Instant>>,
}

/// A connection as this runtime drives it: it can wait inside the OS for
/// room in a full backlog (Linux) or for a busy pipe (Windows), instead of
/// sleeping between retries.
#[inline]
fn driven(mut conn: Connection) -> Connection {
    conn.set_os_waits_for_backlog(Stream::CONNECT_WAITS_FOR_BACKLOG);
    conn
}

/// How long a large write waits inside one `send` for the peer to make
/// room before the socket falls back to waiting with `poll` and reading
/// meanwhile (see [`SendMode`]).
const SEND_PATIENCE: Duration = Duration::from_millis(10);

/// How a direct (large) write waits when the socket is full.
///
/// Waiting inside `send`, as a blocking std stream does, costs no system
/// call beyond the send itself; waiting with `poll` costs two (the failed
/// send and the `poll`) per refill, which is measurable when both ends share
/// one CPU. But a thread blocked in `send` reads nothing, and two peers that
/// both write without reading would block each other for good — which Qt's
/// buffered API, and ours, promise not to do. So a socket waits inside
/// `send` only for [`SEND_PATIENCE`] at a time; if the peer took nothing in
/// that time it may be writing to us, and the socket waits with `poll`,
/// reading into its buffer meanwhile, from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendMode {
    /// The socket has not been full yet: sends never wait.
    Probe,
    /// Sends wait inside `send`, up to [`SEND_PATIENCE`].
    Patient,
    /// Sends never wait; a full socket is waited for with `poll`, reading.
    Polling,
}

impl Default for LocalSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalSocket {
    /// An unconnected socket with Qt's defaults.
    #[inline]
    pub fn new() -> Self {
        Self::with_connection(Connection::with_static_config(default_config_ref()))
    }

    /// An unconnected socket with the given core configuration.
    pub fn with_config(config: Config) -> Self {
        Self::with_connection(Connection::new(config))
    }

    #[inline]
    fn with_connection(conn: Connection) -> Self {
        LocalSocket {
            conn: driven(conn),
            stream: None,
            in_progress: false,
            send_mode: SendMode::Probe,
            waiting_until: None,
        }
    }

    /// Connects to `name` and waits up to the connect timeout (Qt: 30 s).
    ///
    /// ```no_run
    /// let socket = localsock_blocking::LocalSocket::connect("myapp")?;
    /// # Ok::<(), localsock_blocking::LocalSocketError>(())
    /// ```
    pub fn connect(name: &str) -> Result<LocalSocket, LocalSocketError> {
        let mut s = LocalSocket::new();
        s.connect_to_server(name);
        s.wait_for_connected(Timeout::FOREVER)?;
        Ok(s)
    }

    #[inline]
    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream) -> Self {
        LocalSocket {
            conn: driven(Connection::accepted_from(from)),
            stream: Some(stream),
            in_progress: false,
            send_mode: SendMode::Probe,
            waiting_until: None,
        }
    }

    fn now(&self) -> Duration {
        localsock_os::core_now()
    }

    // ----- Qt's API ------------------------------------------------------

    /// Starts connecting to `name` (read-write) and returns at once. On Unix
    /// the connect usually completes inside this call; a full backlog is
    /// retried by the `wait_for_*` calls until the connect timeout (on
    /// Linux and Windows they wait inside the OS, so the client gets in as
    /// soon as the server accepts).
    pub fn connect_to_server(&mut self, name: &str) {
        self.connect_to_server_with_mode(name, OpenMode::ReadWrite);
    }

    /// Starts connecting to `name` with the given open mode.
    pub fn connect_to_server_with_mode(&mut self, name: &str, mode: OpenMode) {
        self.conn.connect_to_server(name, mode);
        self.run_actions();
    }

    /// Sets how long a connect keeps retrying a full backlog or busy pipe;
    /// it applies from the next connect.
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.conn.set_connect_timeout(timeout);
    }

    /// Sets how long a graceful disconnect may wait for pending writes to
    /// drain (`None`, the default, waits as long as the peer is there). It
    /// applies to the next disconnect, and at once (from now) while Closing.
    pub fn set_drain_timeout(&mut self, timeout: Option<Duration>) {
        let now = self.now();
        self.conn.set_drain_timeout(timeout, now);
    }

    /// Qt's `AbstractNamespaceOption` for the next connect (Linux). Ignored,
    /// returning false, unless Unconnected.
    pub fn set_abstract_namespace(&mut self, on: bool) -> bool {
        self.conn.set_abstract_namespace(on)
    }

    /// Qt's `setSocketOptions`: the options of the next connect. Ignored,
    /// returning false, unless Unconnected (Qt warns and ignores it too).
    pub fn set_socket_options(&mut self, options: SocketOptions) -> bool {
        self.conn.set_socket_options(options)
    }

    /// Qt's `socketOptions`: those of the next connect; on an accepted
    /// socket, whether its address is abstract.
    pub fn socket_options(&self) -> SocketOptions {
        self.conn.socket_options()
    }

    /// Qt's `setServerName`: the name [`open`](Self::open) connects to.
    /// Ignored, returning false with the name unchanged, unless
    /// Unconnected (Qt warns and ignores it too).
    pub fn set_server_name(&mut self, name: &str) -> bool {
        self.conn.set_server_name(name)
    }

    /// Qt's `open(mode)`: connects to the name set by
    /// [`set_server_name`](Self::set_server_name) and returns what is known
    /// at once, never waiting (the same on every runtime): `Ok` when
    /// connected; [`SocketError::SocketTimeout`] while a full backlog or
    /// busy pipe is retried (the socket stays Connecting, nothing is
    /// recorded; finish with [`wait_for_connected`](Self::wait_for_connected));
    /// else the connect's error (no name set: `ServerNotFound`, as in Qt).
    /// While Connecting or Connected it is refused with `Operation`. Qt's
    /// `bool` is `.is_ok()`, except that Qt returns true when already
    /// connected.
    ///
    /// ```no_run
    /// use localsock_blocking::{LocalSocket, OpenMode};
    /// let mut socket = LocalSocket::new();
    /// socket.set_server_name("myapp");
    /// socket.open(OpenMode::ReadWrite)?;
    /// # Ok::<(), localsock_blocking::LocalSocketError>(())
    /// ```
    pub fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError> {
        let started = self.conn.open(mode);
        self.run_actions();
        started?;
        self.conn.open_outcome()
    }

    /// Qt's `waitForConnected`: waits until connected. `Ok(())` at once
    /// when already Connected. When the connect fails, or no connect is
    /// under way, the socket's last error (what ended the connect; else
    /// `Operation`). On timeout a [`SocketError::SocketTimeout`] error that
    /// is not recorded: the socket stays Connecting with no error, as in
    /// Qt, and a later wait picks the connect up. Qt's `bool` is
    /// `.is_ok()`.
    pub fn wait_for_connected(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait_for(WaitFor::Connected, timeout.into())
    }

    /// Qt's `waitForReadyRead`: waits until new data is buffered; pending
    /// writes are sent meanwhile. An error when Unconnected, when the peer
    /// closed or half-closed (no more data can come), when the read buffer
    /// is full, or on timeout: [`SocketError::SocketTimeout`], which is
    /// recorded and emitted as in Qt (the socket stays connected). Qt's
    /// `bool` is `.is_ok()`.
    pub fn wait_for_ready_read(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait_for(WaitFor::ReadyRead, timeout.into())
    }

    /// Qt's `waitForBytesWritten`: waits until at least one byte of the
    /// pending data was taken by the OS. An error at once when nothing is
    /// pending or Unconnected; the connection's error when it ends first;
    /// on timeout [`SocketError::SocketTimeout`] (recorded and emitted, as
    /// in Qt). Qt's `bool` is `.is_ok()`.
    pub fn wait_for_bytes_written(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait_for(WaitFor::BytesWritten, timeout.into())
    }

    /// Qt's `waitForDisconnected`: waits until Unconnected, draining pending
    /// writes when Closing (after
    /// [`disconnect_from_server`](Self::disconnect_from_server)), or waiting
    /// for the peer to close when Connected. An error at once when already
    /// Unconnected (Qt warns), or on timeout [`SocketError::SocketTimeout`]
    /// (recorded and emitted, as in Qt; the drain carries on in later
    /// calls). If the peer goes away before the drain ends, or the drain
    /// timeout ([`set_drain_timeout`](Self::set_drain_timeout)) passes, the
    /// socket becomes Unconnected with the core's error in
    /// [`last_error`](Self::last_error), and this returns `Ok(())`: it is
    /// disconnected, as Qt's `true` says. (To learn whether every byte
    /// left, use [`Write::flush`] before disconnecting.) Qt's `bool` is
    /// `.is_ok()`.
    pub fn wait_for_disconnected(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), LocalSocketError> {
        self.wait_for(WaitFor::Disconnected, timeout.into())
    }

    /// One of Qt's waits: the core sets its baseline and judges it; this
    /// drives the socket until then, or gives up at `timeout` (which the
    /// core records where Qt does).
    fn wait_for(&mut self, kind: WaitFor, timeout: Timeout) -> Result<(), LocalSocketError> {
        let wait = self.conn.begin_wait(kind);
        // A condition that holds already (a connect that completed inside
        // `connect_to_server`) needs no I/O first, as in Qt.
        if let Some(Ok(())) = self.conn.wait_outcome(&wait) {
            return Ok(());
        }
        self.drive(timeout, |s| s.conn.wait_outcome(&wait).is_some());
        match self.conn.wait_outcome(&wait) {
            Some(outcome) => outcome,
            None => Err(self.conn.wait_timed_out(&wait)),
        }
    }

    /// Qt's `flush`: writes what the OS takes now, without blocking. True
    /// if anything was written. [`Write::flush`] instead blocks until
    /// everything queued is written.
    pub fn try_flush(&mut self) -> bool {
        let before = self.conn.bytes_to_write();
        if before == 0 {
            return false;
        }
        self.try_send();
        self.conn.bytes_to_write() < before
    }

    /// Qt's `disconnectFromServer`: starts the graceful close and returns
    /// at once, writing nothing. With writes pending the socket is Closing
    /// until they have drained — in
    /// [`wait_for_disconnected`](Self::wait_for_disconnected), which is how
    /// to wait for it, or in any other wait, read or write — then
    /// Unconnected; with none it is Unconnected at once. While Connecting,
    /// the connect is cancelled. Buffered input stays readable.
    pub fn disconnect_from_server(&mut self) {
        let now = self.now();
        self.conn.disconnect_from_server(now);
        self.run_actions();
    }

    /// Qt's `close` (`close_device` on every runtime: futures'
    /// `AsyncWriteExt::close` has the name `close`): `AboutToClose`,
    /// buffered input dropped, then the graceful disconnect of
    /// [`disconnect_from_server`](Self::disconnect_from_server), which
    /// returns at once too; pending writes drain in
    /// [`wait_for_disconnected`](Self::wait_for_disconnected).
    pub fn close_device(&mut self) {
        let now = self.now();
        self.conn.close(now);
        self.run_actions();
    }

    /// Ends the connection now, discarding pending writes.
    pub fn abort(&mut self) {
        self.conn.abort();
        self.run_actions();
    }

    /// Qt's `write(QByteArray)`: queues owned data without copying it and
    /// without blocking (the queue is not bounded; see the type's notes on
    /// buffering). Returns the number of bytes queued.
    /// [`Write::write`] instead copies and may wait for the OS.
    pub fn write_bytes(&mut self, data: impl Into<Bytes>) -> Result<usize, DeviceError> {
        let n = self.conn.write(data)?;
        if self.conn.wants_transmit_now() {
            self.try_send();
        }
        Ok(n)
    }

    /// Takes up to `max` buffered bytes, without copying.
    pub fn read_bytes(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.conn.read_bytes(max)
    }

    /// Takes everything buffered, without copying.
    pub fn read_all(&mut self) -> Result<Bytes, DeviceError> {
        self.conn.read_all()
    }

    /// Qt's `readLine(maxSize)` over what is buffered (0 = no limit); never
    /// blocks. [`BufRead::read_line`] instead blocks for a whole line.
    pub fn read_line_bytes(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.conn.read_line(max)
    }

    /// Copies buffered bytes without consuming them.
    pub fn peek(&self, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.conn.peek(out)
    }

    /// Drops up to `n` buffered bytes.
    pub fn skip(&mut self, n: usize) -> Result<usize, DeviceError> {
        self.conn.skip(n)
    }

    /// Sets the read-buffer limit (0 = unlimited, the default). At the
    /// limit nothing more is read from the OS, so a fast peer is held back
    /// by the kernel's socket buffer.
    pub fn set_read_buffer_size(&mut self, size: usize) {
        self.conn.set_read_buffer_size(size);
    }

    /// The read-buffer limit.
    pub fn read_buffer_size(&self) -> usize {
        self.conn.read_buffer_size()
    }

    /// The state.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        self.conn.error()
    }

    /// The last error with its OS code, if any.
    pub fn last_error(&self) -> Option<&LocalSocketError> {
        self.conn.last_error()
    }

    /// Qt's text for the last error.
    pub fn error_string(&self) -> String {
        self.conn.error_string()
    }

    /// Whether there is a connection (false once Unconnected).
    pub fn is_valid(&self) -> bool {
        self.conn.is_valid()
    }

    /// Whether the device is open.
    pub fn is_open(&self) -> bool {
        self.conn.is_open()
    }

    /// The open mode, if open.
    pub fn open_mode(&self) -> Option<OpenMode> {
        self.conn.open_mode()
    }

    /// The name passed to `connect_to_server` (empty once Unconnected).
    pub fn server_name(&self) -> &str {
        self.conn.server_name()
    }

    /// The resolved path or pipe name (empty once Unconnected).
    pub fn full_server_name(&self) -> &str {
        self.conn.full_server_name()
    }

    /// Bytes buffered.
    pub fn bytes_available(&self) -> usize {
        self.conn.bytes_available()
    }

    /// Bytes queued for writing.
    pub fn bytes_to_write(&self) -> usize {
        self.conn.bytes_to_write()
    }

    /// Whether a whole line is buffered.
    pub fn can_read_line(&self) -> bool {
        self.conn.can_read_line()
    }

    /// Qt's `atEnd`: not open, or nothing buffered.
    pub fn at_end(&self) -> bool {
        self.conn.at_end()
    }

    /// The next queued Qt signal, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.conn.poll_event()
    }

    /// All queued Qt signals, oldest first.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.conn.poll_event()).collect()
    }

    /// Credentials of the process at the other end (Qt lacks this).
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        match &self.stream {
            Some(s) if !self.in_progress => s.peer_credentials(),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// [`Write::flush`] (blocks until everything queued is written, or
    /// reports the loss), then half-closes: the peer reads end of stream
    /// while this side can still read. Not a Qt call; on Windows pipes it is
    /// unsupported.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        Write::flush(self)?;
        match &mut self.stream {
            Some(s) if self.conn.state() == State::Connected => s.shutdown_write(),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The core state machine (read-only), for inspection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    // ----- the driver -----------------------------------------------------

    /// Performs the core's queued actions (after every input; usually
    /// there are none, so the check stays inline and the work does not).
    #[inline]
    fn run_actions(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            self.perform(action);
        }
    }

    #[inline(never)]
    fn perform(&mut self, action: Action) {
        match action {
            Action::Close => {
                self.stream = None;
                self.in_progress = false;
                self.send_mode = SendMode::Probe;
            }
            Action::Connect { address, .. } => {
                self.stream = None;
                self.send_mode = SendMode::Probe;
                let backlog_wait = self.backlog_wait();
                match Stream::connect(&address, backlog_wait) {
                    Ok(Connect::Done(s)) => {
                        self.stream = Some(s);
                        self.in_progress = false;
                        self.conn.handle_connected();
                    }
                    Ok(Connect::InProgress(s)) => {
                        self.stream = Some(s);
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

    /// Sends pending data until the OS would block.
    fn try_send(&mut self) {
        while self.conn.wants_write() {
            let Some(stream) = self.stream.as_mut() else {
                return;
            };
            match stream.send(&self.conn) {
                Ok(n) => self.conn.handle_sent(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.conn.handle_io_error(Direction::Write, os_error(&e));
                    self.run_actions();
                    self.drain_gone_peer();
                    break;
                }
            }
        }
        self.run_actions();
    }

    /// After a failing send: the peer's last bytes and its end of stream
    /// are already in our kernel buffer, so take them now (never blocks),
    /// and the connection ends as soon as nothing is left unread.
    fn drain_gone_peer(&mut self) {
        while self.conn.wants_read() && self.try_recv() {}
    }

    /// Reads once into the core's buffer; true if progress was made.
    fn try_recv(&mut self) -> bool {
        if self.conn.read_capacity() == 0 {
            return false;
        }
        let Some(stream) = self.stream.as_mut() else {
            return false;
        };
        let progressed = match stream.recv_into(&mut self.conn) {
            Ok(0) => {
                // A pipe write may have completed before the peer closed:
                // report what the OS took first, or it would count as lost.
                self.try_send();
                let Some(stream) = self.stream.as_mut() else {
                    return true;
                };
                // Qt's order for a peer that closed completely needs the
                // hang-up before the end of stream; without it, a half-close.
                if stream.hung_up() {
                    self.conn.handle_hangup();
                }
                self.conn.handle_received(0);
                true
            }
            Ok(n) => {
                self.conn.handle_received(n);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            Err(e) => {
                self.conn.handle_io_error(Direction::Read, os_error(&e));
                true
            }
        };
        self.run_actions();
        progressed
    }

    /// Blocks until the stream is writable, reading meanwhile while the read
    /// buffer has room: two peers that both write cannot block each other.
    fn wait_writable(&mut self) {
        let want_read = self.conn.read_capacity() > 0;
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        match stream.wait_ready(want_read, true) {
            Ok(true) => {
                self.try_recv();
            }
            Ok(false) => {}
            Err(e) => {
                self.conn.handle_io_error(Direction::Write, os_error(&e));
                self.run_actions();
            }
        }
    }

    /// One round of non-blocking progress: finish a connect, send, and —
    /// unless that already satisfied `done` — read once. Reading only when
    /// needed keeps request/response at two system calls per message.
    fn pump(&mut self, done: &impl Fn(&Self) -> bool) -> bool {
        if self.in_progress {
            let now = self.now();
            if let Some(s) = self.stream.as_mut() {
                match s.finish_connect() {
                    Ok(()) => {
                        self.in_progress = false;
                        self.conn.handle_connected();
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    Err(e) => {
                        self.in_progress = false;
                        self.conn.handle_connect_error(os_error(&e), now);
                    }
                }
                self.run_actions();
            }
        }
        self.try_send();
        if done(self) {
            return true;
        }
        self.try_recv();
        done(self)
    }

    /// Makes progress until `done` holds or `timeout` passes; true if done.
    fn drive(&mut self, timeout: Timeout, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = timeout.deadline();
        let outer = self.waiting_until.replace(deadline);
        let reached = self.drive_until(deadline, done);
        self.waiting_until = outer;
        reached
    }

    fn drive_until(&mut self, deadline: Option<Instant>, done: impl Fn(&Self) -> bool) -> bool {
        loop {
            if self.pump(&done) {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            if !self.wait_once(deadline) {
                // Nothing to wait for and no deadline: the condition cannot
                // become true.
                return done(self);
            }
        }
    }

    /// How long the connect about to be made may wait inside the OS for
    /// room in a full backlog: only inside a wait, only while the core
    /// retries a full backlog, and until the earlier of the wait's end and
    /// the connect deadline.
    fn backlog_wait(&self) -> Option<Duration> {
        let wait_end = self.waiting_until?;
        let connect_end = localsock_os::clock_origin() + self.conn.connect_wait_deadline()?;
        let end = wait_end.map_or(connect_end, |w| w.min(connect_end));
        Some(end.saturating_duration_since(Instant::now()))
    }

    /// Blocks once until the stream is ready for what the core wants
    /// (reading while there is room, writing while data is queued), or
    /// until the earlier of `deadline` and the core's next deadline; then
    /// lets the core act on the time. False if there is nothing to wait for.
    fn wait_once(&mut self, deadline: Option<Instant>) -> bool {
        let now = Instant::now();
        let core_deadline = self
            .conn
            .poll_timeout()
            .map(|t| localsock_os::clock_origin() + t);
        let wake = match (deadline, core_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let wait = wake.map(|w| w.saturating_duration_since(now));
        let want_read = self.conn.wants_read();
        let want_write = self.conn.wants_write() || self.in_progress;
        // A half-closed peer may still go away: `poll` reports the hang-up
        // with any interest, even none.
        let watch_hangup = self.conn.wants_hangup_watch();
        match self.stream.as_mut() {
            Some(s) if want_read || want_write || watch_hangup => {
                match s.wait(want_read, want_write, wait) {
                    Ok(_) if watch_hangup && s.hung_up() => {
                        self.conn.handle_hangup();
                        self.run_actions();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        self.conn.handle_io_error(Direction::Read, os_error(&e));
                        self.run_actions();
                    }
                }
            }
            _ => match wait {
                Some(w) => std::thread::sleep(w),
                None => return false,
            },
        }
        let now = self.now();
        self.conn.handle_timeout(now);
        self.run_actions();
        true
    }

    /// Blocks until at least one byte is buffered, or the core says what a
    /// read of an empty buffer comes to (end of stream or an error). A read
    /// while Connecting waits for the connect, as a write does.
    fn fill(&mut self) -> io::Result<()> {
        self.try_send();
        loop {
            if self.conn.bytes_available() > 0 {
                return Ok(());
            }
            if let Some(outcome) = self.conn.read_outcome_when_empty() {
                return outcome.map_err(Into::into);
            }
            if !self.drive(Timeout::FOREVER, |s| {
                s.conn.bytes_available() > 0 || s.conn.read_outcome_when_empty().is_some()
            }) {
                // Nothing can arrive (the read buffer is full and nothing
                // else can happen): the core's view of the wait says why.
                let wait = self.conn.begin_wait(WaitFor::ReadyRead);
                let err = match self.conn.wait_outcome(&wait) {
                    Some(Err(e)) => e.into(),
                    _ => io::Error::from(io::ErrorKind::WouldBlock),
                };
                return Err(err);
            }
        }
    }
}

fn os_error(e: &io::Error) -> OsError {
    OsError::from_io(e)
}

impl Read for LocalSocket {
    /// Reads buffered data, blocking until some arrives. Pending writes are
    /// flushed first, so request/response works without explicit flushes.
    /// `Ok(0)` is end of stream; a connection that failed reports its error.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.try_send();
        loop {
            if self.conn.bytes_available() > 0 {
                return self.conn.read(buf).map_err(Into::into);
            }
            if let Some(outcome) = self.conn.read_outcome_when_empty() {
                return outcome.map(|()| 0).map_err(Into::into);
            }
            if Stream::DIRECT_READS
                && self.conn.can_read_direct(buf.len())
                && !self.conn.wants_write()
            {
                if let Some(stream) = self.stream.as_mut() {
                    match stream.recv_direct(buf, true) {
                        Ok(n) => {
                            if n == 0 && stream.hung_up() {
                                self.conn.handle_hangup();
                            }
                            self.conn.handle_received_direct(n);
                            self.run_actions();
                            if n > 0 {
                                return Ok(n);
                            }
                            continue;
                        }
                        // Wait for readability, then read straight into
                        // `buf` again: no read into the core's buffer and
                        // no second copy.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if self.wait_once(None) {
                                continue;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.conn.handle_io_error(Direction::Read, os_error(&e));
                            self.run_actions();
                            continue;
                        }
                    }
                }
            }
            self.fill()?;
        }
    }
}

impl Write for LocalSocket {
    /// Queues `buf` (see the type's notes on buffering); a large write goes
    /// straight to the OS once nothing is queued ahead of it. Blocks only
    /// while more than 64 KiB are queued, or for a large write, until the
    /// OS takes some of it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.conn.state() == State::Connecting
            && self.wait_for_connected(Timeout::FOREVER).is_err()
        {
            return Err(self.conn.write_refusal().into());
        }
        if Stream::DIRECT_WRITES
            && buf.len() >= TRANSMIT_THRESHOLD
            && self.conn.state() == State::Connected
            && self.conn.wants_write()
        {
            // A large write behind a short queue (typically the tail of an
            // earlier partial write) lets the queue leave first, then goes
            // straight to the OS instead of being copied behind it.
            self.drive(Timeout::FOREVER, |s| !s.conn.wants_write());
        }
        while Stream::DIRECT_WRITES && self.conn.can_write_direct(buf.len()) {
            let Some(stream) = self.stream.as_mut() else {
                break;
            };
            let sent = match self.send_mode {
                SendMode::Patient => stream.send_direct_patient(buf),
                SendMode::Probe | SendMode::Polling => stream.send_direct(buf),
            };
            match sent {
                Ok(n) => {
                    self.conn.handle_sent_direct(n, buf.len());
                    return Ok(n);
                }
                // The socket is full. Then write straight from `buf` again
                // (no copy into the queue) once there is room.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.send_mode {
                    // First time: from now on wait for room inside `send`.
                    SendMode::Probe => {
                        self.send_mode = if stream.start_patient_sends(SEND_PATIENCE) {
                            SendMode::Patient
                        } else {
                            SendMode::Polling
                        };
                    }
                    // The peer took nothing for SEND_PATIENCE: it may be
                    // writing to us. Wait reading from now on.
                    SendMode::Patient => {
                        self.send_mode = SendMode::Polling;
                        self.wait_writable();
                    }
                    SendMode::Polling => self.wait_writable(),
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.conn.handle_io_error(Direction::Write, os_error(&e));
                    self.run_actions();
                    self.drain_gone_peer();
                    return Err(self.conn.write_refusal().into());
                }
            }
        }
        match self.conn.write_slice(buf) {
            Ok(n) => {
                while self.conn.wants_transmit_now() {
                    self.drive(Timeout::FOREVER, |s| !s.conn.wants_transmit_now());
                }
                Ok(n)
            }
            Err(DeviceError::NotConnected) => Err(self.conn.write_refusal().into()),
            Err(e) => Err(e.into()),
        }
    }

    /// Blocks until every queued byte was taken by the OS (not Qt's
    /// non-blocking `flush`: that is [`try_flush`](LocalSocket::try_flush)).
    /// Fails with the connection's error if it ended first and queued bytes
    /// were lost; succeeds at once when nothing is queued.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            if let Some(outcome) = self.conn.flush_outcome() {
                return outcome.map_err(Into::into);
            }
            if !self.drive(Timeout::FOREVER, |s| s.conn.flush_outcome().is_some()) {
                return Err(self.conn.write_refusal().into());
            }
        }
    }
}

impl BufRead for LocalSocket {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.conn.bytes_available() == 0 {
            self.fill()?;
        }
        Ok(self.conn.buffered())
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.conn.skip(amt);
    }
}

impl Drop for LocalSocket {
    fn drop(&mut self) {
        // Hand the kernel what it takes without blocking (`try_send` never
        // waits), then Qt's destructor: abort, which here is only closing
        // the stream (dropping it): the connection's state, queues and
        // signals go with it, and nobody is left to observe them, so the
        // core's `release` bookkeeping is skipped. Nothing here can panic.
        self.try_send();
    }
}
