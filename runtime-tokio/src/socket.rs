//! [`LocalSocket`]: Qt's `QLocalSocket` as a tokio stream.

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use localsock_core::{
    AcceptedFrom, Config, Connection, DeviceError, ErrorSource, Event, LocalSocketError, OpenMode,
    PeerCredentials, SocketError, State,
};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use crate::driver::{Driver, Role, Wakers};
use crate::split::{self, OwnedReadHalf, OwnedWriteHalf};
use crate::sys::Stream;
use crate::{name_context, Timeout};

/// A local socket: a client of a [`LocalServer`](crate::LocalServer) (or of
/// a Qt `QLocalServer`), or the server side of an accepted connection.
///
/// Three ways to use it, freely mixed:
/// - **Qt's calls** as async fns: [`connect_to_server`](Self::connect_to_server)
///   then [`wait_for_connected`](Self::wait_for_connected),
///   [`write`](Self::write), [`wait_for_ready_read`](Self::wait_for_ready_read),
///   [`read_all`](Self::read_all), [`disconnect_from_server`](Self::disconnect_from_server).
/// - **tokio's I/O traits**: [`AsyncRead`], [`AsyncBufRead`], [`AsyncWrite`],
///   so codecs, `BufReader`, `copy` and friends work on it.
/// - **Qt's signals** as [`Event`]s: [`next_event`](Self::next_event) drives
///   the socket and returns `StateChanged`, `ReadyRead`, `BytesWritten`, … in
///   Qt's order.
///
/// With `tokio_util::codec::Framed` and `LinesCodec`:
///
/// ```
/// use futures_util::{SinkExt, StreamExt};
/// use localsock_tokio::{LocalServer, LocalSocket};
/// use tokio_util::codec::{Framed, LinesCodec};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// # let name = format!("tokio-framed-doc-{}", std::process::id());
/// let mut server = LocalServer::new();
/// server.listen(&name)?;
/// let mut client = Framed::new(LocalSocket::connect(&name).await?, LinesCodec::new());
/// let mut peer = Framed::new(server.accept().await?, LinesCodec::new());
///
/// client.send("ping").await?; // `send` flushes
/// assert_eq!(peer.next().await.transpose()?.as_deref(), Some("ping"));
/// peer.send("pong").await?;
/// assert_eq!(client.next().await.transpose()?.as_deref(), Some("pong"));
///
/// SinkExt::<&str>::close(&mut client).await?; // `poll_shutdown`: Qt's graceful disconnect
/// assert!(peer.next().await.is_none(), "end of stream");
/// # Ok(())
/// # }
/// ```
///
/// # Buffering
/// Writes are buffered, as in Qt and like `BufWriter`: small writes are
/// coalesced and leave on a flush ([`AsyncWriteExt::flush`], Qt's
/// [`flush`](Self::flush)), on any read or `wait_for_*`, when 64 KiB are
/// queued, and on shutdown or disconnect. A large write with nothing queued
/// goes straight to the OS, and a large read with nothing buffered comes
/// straight from it.
///
/// # Names shared with tokio's extension traits
/// Qt's inherent methods win: `socket.flush()` is Qt's non-blocking flush,
/// `socket.write(bytes)` queues owned data, `socket.read_line(max)` reads a
/// buffered line. Call the traits' versions explicitly, e.g.
/// `AsyncWriteExt::flush(&mut socket).await`.
///
/// # Drop
/// Dropping a socket hands the kernel whatever pending writes it takes at
/// once, without blocking; the rest is lost, and the connection is aborted
/// (as Qt's destructor aborts). Nothing blocks, nothing panics, and no
/// runtime needs to be running. To deliver everything, call
/// [`disconnect_from_server`](Self::disconnect_from_server) (or
/// [`start_disconnect`](Self::start_disconnect) then
/// [`wait_for_disconnected`](Self::wait_for_disconnected), or
/// `AsyncWriteExt::shutdown`) first.
///
/// # Half-close
/// A peer that shuts down only its writing (Unix) ends this side's reads:
/// they return end of stream, `ReadChannelFinished` is signalled once, and
/// the socket stays Connected with writes working. The socket then watches
/// for the peer's hang-up, so [`wait_for_disconnected`](Self::wait_for_disconnected)
/// and [`next_event`](Self::next_event) end when the peer closes.
///
/// # Runtime
/// The OS socket registers with the tokio runtime that first polls it; the
/// synchronous calls (`connect_to_server`, `write`, `flush`, `abort`, …)
/// work anywhere. As with tokio's own types, a socket stays bound to that
/// runtime: once it has shut down, the socket can only be dropped.
///
/// [`AsyncWriteExt::flush`]: tokio::io::AsyncWriteExt::flush
#[derive(Debug)]
pub struct LocalSocket {
    /// Boxed: the socket is moved into tasks and through `async fn`
    /// arguments, and each level of a future's state holds its own copy;
    /// unboxed, a 64-byte echo task took 1.7 KB instead of 0.2 KB.
    d: Box<Driver>,
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
            d: Box::new(Driver::new(config)),
        }
    }

    pub(crate) fn accepted(from: &AcceptedFrom, stream: Stream) -> Self {
        LocalSocket {
            d: Box::new(Driver::accepted(from, stream)),
        }
    }

    pub(crate) fn from_driver(d: Driver) -> Self {
        LocalSocket { d: Box::new(d) }
    }

    /// Connects to `name` and waits until connected, or until the core's
    /// connect timeout (Qt: 30 s) when the server's backlog stays full.
    ///
    /// # Cancel safety
    /// Cancelling drops the half-made socket, which aborts the attempt.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), localsock_tokio::LocalSocketError> {
    /// let socket = localsock_tokio::LocalSocket::connect("myapp").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(name: &str) -> Result<LocalSocket, LocalSocketError> {
        let mut s = LocalSocket::new();
        s.connect_to_server(name);
        if s.wait_for_connected(Timeout::FOREVER).await {
            Ok(s)
        } else {
            Err(s.d.conn.last_error().cloned().unwrap_or_else(|| {
                LocalSocketError::new(SocketError::SocketTimeout, ErrorSource::WaitForConnected)
            }))
        }
    }

    // ----- Qt's API ------------------------------------------------------

    /// Starts connecting to `name` (read-write) and returns at once. On Unix
    /// the connect usually completes inside this call; a full backlog is
    /// retried by whatever drives the socket next (a wait, a read, a write,
    /// [`next_event`](Self::next_event)) until the connect timeout.
    pub fn connect_to_server(&mut self, name: &str) {
        self.connect_to_server_with_mode(name, OpenMode::ReadWrite);
    }

    /// Starts connecting to `name` with the given open mode.
    pub fn connect_to_server_with_mode(&mut self, name: &str, mode: OpenMode) {
        self.d.connect_to_server(name, mode);
    }

    /// Sets how long a connect keeps retrying a full backlog (Qt: 30 s).
    /// Takes effect from the next connect, on any socket (a used one too).
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.d.set_connect_timeout(timeout);
    }

    /// Sets how long a graceful disconnect may wait for pending writes to
    /// drain (`None`, the default, waits as long as the peer is there).
    /// Takes effect for the next disconnect, on any socket (an accepted
    /// one too); while Closing, at once, counted from now.
    pub fn set_drain_timeout(&mut self, timeout: Option<Duration>) {
        self.d.set_drain_timeout(timeout);
    }

    /// Qt's `AbstractNamespaceOption` for the next connect (Linux). Ignored,
    /// returning false, unless Unconnected.
    pub fn set_abstract_namespace(&mut self, on: bool) -> bool {
        self.d.conn.set_abstract_namespace(on)
    }

    /// Waits until connected. Returns at once unless Connecting. On
    /// timeout returns false with no error and stays Connecting (Qt).
    /// Qt's `waitFor*` semantics, decided by the core, for all four waits.
    ///
    /// # Cancel safety
    /// Cancel-safe: the connect carries on when the socket is driven again.
    pub async fn wait_for_connected(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.d.wait_for_connected(timeout.into()).await
    }

    /// Waits until new data is buffered. False when Unconnected, when the
    /// peer closed (the closing signals are queued) or half-closed (at
    /// once: no more data can come), when the read buffer is full
    /// (nothing can arrive), or on timeout (which emits `SocketTimeout`, as
    /// in Qt; the socket stays connected).
    ///
    /// # Cancel safety
    /// Cancel-safe: data read meanwhile stays buffered in the socket.
    pub async fn wait_for_ready_read(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.d.wait_for_ready_read(timeout.into()).await
    }

    /// Waits until at least one byte of pending data was written. False at
    /// once when nothing is pending or Unconnected; false when the
    /// connection ends first, or on timeout (emitting `SocketTimeout`).
    ///
    /// # Cancel safety
    /// Cancel-safe: queued data stays queued; what left is counted.
    pub async fn wait_for_bytes_written(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.d.wait_for_bytes_written(timeout.into()).await
    }

    /// Waits until Unconnected: drains pending writes when Closing, or waits
    /// for the peer to close when Connected (after a half-close, for its
    /// hang-up). False at once when already Unconnected (Qt warns) or
    /// when nothing can happen, or on timeout (emitting `SocketTimeout`).
    ///
    /// # Cancel safety
    /// Cancel-safe: a drain under way carries on when the socket is driven
    /// again.
    pub async fn wait_for_disconnected(&mut self, timeout: impl Into<Timeout>) -> bool {
        self.d.wait_for_disconnected(timeout.into()).await
    }

    /// Qt's `disconnectFromServer`, awaited: Closing while every pending
    /// byte drains, then Unconnected. If the peer goes away first it ends
    /// with the core's error (see [`error`](Self::error)); with a drain
    /// timeout set it ends with `SocketTimeout` after it. Buffered input
    /// stays readable.
    ///
    /// # Cancel safety
    /// Cancel-safe: the socket stays Closing and the drain carries on when it
    /// is driven again (dropping it aborts).
    pub async fn disconnect_from_server(&mut self) {
        self.d.disconnect().await;
    }

    /// Qt's `disconnectFromServer`: starts a graceful disconnect and
    /// returns at once. Nothing is sent inside the call: with writes
    /// pending the socket is Closing (Unconnected at once otherwise), and
    /// the drain happens when the socket is driven
    /// ([`wait_for_disconnected`](Self::wait_for_disconnected), a read, a
    /// flush, [`next_event`](Self::next_event)).
    pub fn start_disconnect(&mut self) {
        self.d.start_disconnect();
    }

    /// Qt's `close`: `AboutToClose`, buffered input dropped, then a graceful
    /// disconnect (pending writes drain when the socket is driven).
    pub fn close(&mut self) {
        self.d.close();
    }

    /// Ends the connection now, discarding pending writes (Qt's `abort`:
    /// `AboutToClose` is the last signal).
    pub fn abort(&mut self) {
        self.d.abort();
    }

    /// Writes what the OS takes now, without waiting. True if anything was
    /// written (Qt's `flush`). For tokio's flush, which waits until
    /// everything left, call `AsyncWriteExt::flush(&mut socket)`.
    pub fn flush(&mut self) -> bool {
        self.d.flush_now()
    }

    /// Queues owned data without copying it; see the type's notes on
    /// buffering. Returns the number of bytes queued (Qt's `write`).
    pub fn write(&mut self, data: impl Into<Bytes>) -> Result<usize, DeviceError> {
        self.d.write(data)
    }

    /// Takes up to `max` buffered bytes, without copying.
    pub fn read_bytes(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.d.conn.read_bytes(max)
    }

    /// Takes everything buffered, without copying.
    pub fn read_all(&mut self) -> Result<Bytes, DeviceError> {
        self.d.conn.read_all()
    }

    /// Qt's `readLine(max)` over what is buffered (0 = no limit).
    pub fn read_line(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.d.conn.read_line(max)
    }

    /// Copies buffered bytes without consuming them.
    pub fn peek(&self, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.d.conn.peek(out)
    }

    /// Drops up to `n` buffered bytes.
    pub fn skip(&mut self, n: usize) -> Result<usize, DeviceError> {
        self.d.conn.skip(n)
    }

    /// Sets the read-buffer limit (0 = unlimited, the default). At the
    /// limit the socket stops polling for readability until the user reads,
    /// so a fast peer is held back by the kernel's socket buffer.
    pub fn set_read_buffer_size(&mut self, size: usize) {
        self.d.conn.set_read_buffer_size(size);
    }

    /// The read-buffer limit (0 = unlimited).
    pub fn read_buffer_size(&self) -> usize {
        self.d.conn.read_buffer_size()
    }

    /// The state.
    pub fn state(&self) -> State {
        self.d.conn.state()
    }

    /// The last error (`Unknown` if none).
    pub fn error(&self) -> SocketError {
        self.d.conn.error()
    }

    /// The last error with its OS code, if any.
    pub fn last_error(&self) -> Option<&LocalSocketError> {
        self.d.conn.last_error()
    }

    /// Qt's text for the last error.
    pub fn error_string(&self) -> String {
        self.d.conn.error_string()
    }

    /// Whether there is a connection (false once Unconnected).
    pub fn is_valid(&self) -> bool {
        self.d.conn.is_valid()
    }

    /// Whether the device is open.
    pub fn is_open(&self) -> bool {
        self.d.conn.is_open()
    }

    /// The open mode, if open.
    pub fn open_mode(&self) -> Option<OpenMode> {
        self.d.conn.open_mode()
    }

    /// The name passed to `connect_to_server` (empty once Unconnected).
    pub fn server_name(&self) -> &str {
        self.d.conn.server_name()
    }

    /// The resolved path or pipe name (empty once Unconnected).
    pub fn full_server_name(&self) -> &str {
        self.d.conn.full_server_name()
    }

    /// Bytes buffered.
    pub fn bytes_available(&self) -> usize {
        self.d.conn.bytes_available()
    }

    /// Bytes queued for writing.
    pub fn bytes_to_write(&self) -> usize {
        self.d.conn.bytes_to_write()
    }

    /// Whether a whole line is buffered.
    pub fn can_read_line(&self) -> bool {
        self.d.conn.can_read_line()
    }

    /// Qt's `atEnd`: not open, or nothing buffered.
    pub fn at_end(&self) -> bool {
        self.d.conn.at_end()
    }

    /// The next queued Qt signal, if any (does no I/O).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.d.conn.poll_event()
    }

    /// All queued Qt signals, oldest first (does no I/O).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.d.conn.poll_event()).collect()
    }

    /// Drives the socket (reads while the read buffer has room, writes what
    /// is pending, acts on the core's deadlines) until Qt queues a signal,
    /// and returns it; `None` once Unconnected with no signal left.
    ///
    /// At the read-buffer limit with nothing to send, nothing can happen
    /// until the user reads, and this waits.
    ///
    /// # Cancel safety
    /// Cancel-safe: events live in the socket until returned.
    ///
    /// ```no_run
    /// use localsock_tokio::{Event, LocalSocket};
    /// # async fn demo() {
    /// let mut socket = LocalSocket::new();
    /// socket.connect_to_server("myapp");
    /// while let Some(event) = socket.next_event().await {
    ///     match event {
    ///         Event::ReadyRead => println!("{:?}", socket.read_all()),
    ///         Event::Error(e) => eprintln!("{e:?}: {}", socket.error_string()),
    ///         _ => {}
    ///     }
    /// }
    /// # }
    /// ```
    pub async fn next_event(&mut self) -> Option<Event> {
        poll_fn(|cx| self.d.poll_next_event(cx)).await
    }

    /// The poll form of [`next_event`](Self::next_event).
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.d.poll_next_event(cx)
    }

    /// Qt's signals as a [`futures_core::Stream`] (see
    /// [`next_event`](Self::next_event)).
    pub fn events(&mut self) -> Events<'_> {
        Events { socket: self }
    }

    /// Credentials of the process at the other end (Qt lacks this).
    pub fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        self.d.peer_credentials()
    }

    /// Writes everything pending, then half-closes: the peer reads end of
    /// stream while this side can still read. Not a Qt call.
    ///
    /// # Cancel safety
    /// Cancel-safe: if cancelled before the half-close, pending data stays
    /// queued and nothing is closed.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        tokio::io::AsyncWriteExt::flush(self).await?;
        self.d.shutdown_write()
    }

    /// The core state machine (read-only), for inspection.
    pub fn connection(&self) -> &Connection {
        &self.d.conn
    }

    /// Splits the socket into a read half and a write half that two tasks
    /// can use at once (each registers only its own direction with tokio).
    /// See [`OwnedReadHalf`] and [`OwnedWriteHalf`] for what dropping a half
    /// does; [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        split::split(*self.d)
    }
}

/// Qt's signals of one socket as a [`futures_core::Stream`]; see
/// [`LocalSocket::events`].
#[derive(Debug)]
pub struct Events<'a> {
    socket: &'a mut LocalSocket,
}

impl futures_core::Stream for Events<'_> {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().socket.d.poll_next_event(cx)
    }
}

impl AsyncRead for LocalSocket {
    /// Reads buffered data, waiting until some arrives. Pending writes are
    /// flushed first, so request/response works without explicit flushes.
    /// End of stream reads 0 bytes (also after the peer's half-close, while
    /// writes keep working); a connection that failed reports its error, a
    /// socket that is not open `NotConnected`. A connect under way is
    /// waited out first.
    ///
    /// Cancel-safe: bytes are either returned or stay buffered.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut()
            .d
            .poll_read(&Wakers::single(cx.waker()), Role::Both, buf)
    }
}

impl AsyncBufRead for LocalSocket {
    /// The socket's own read buffer: no second buffer (`BufReader`) needed.
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        match this
            .d
            .poll_fill_buf(&Wakers::single(cx.waker()), Role::Both)
        {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(this.d.conn.buffered())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let _ = self.get_mut().d.conn.skip(amt);
    }
}

impl AsyncWrite for LocalSocket {
    /// Queues `buf` (see the type's notes on buffering); a large write with
    /// nothing queued goes straight to the OS. Waits only while 64 KiB or
    /// more are queued (reading meanwhile).
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().d.poll_write(
            &Wakers::single(cx.waker()),
            Role::Both,
            &[IoSlice::new(buf)],
        )
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .d
            .poll_write(&Wakers::single(cx.waker()), Role::Both, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Waits until everything queued was written. Fails if a connection
    /// error dropped queued bytes, every time until the next connect.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .d
            .poll_flush(&Wakers::single(cx.waker()), Role::Both)
    }

    /// Qt's graceful disconnect: Closing while every queued byte drains,
    /// then Unconnected (the whole connection ends; Qt has no half-close —
    /// see [`LocalSocket::shutdown_write`] for one). Buffered input stays
    /// readable, then reads return end of stream. Fails if the peer went
    /// away before everything was delivered.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .d
            .poll_shutdown(&Wakers::single(cx.waker()), Role::Both)
    }
}
