//! The conformance suite: every scenario is written once against the
//! [`Runtime`] trait, registered where it is written (see [`registry`]),
//! and run on every runtime by `tests/tests/conformance.rs`, so no runtime
//! can silently skip one; a scenario that cannot run somewhere is reported
//! there as ignored, with its reason.
//!
//! The trait is Qt's blocking vocabulary (`wait_for_*`); async runtimes
//! implement it by running their async methods to completion on their own
//! executor, so the same scenario body exercises their real code paths.

pub mod async_harness;
#[cfg(unix)]
pub mod descriptor_limit;
pub mod harness;
pub mod interop;
pub mod reliability;
#[macro_use]
pub mod registry;
pub mod rt_blocking;
pub mod rt_smol;
pub mod rt_tokio;
pub mod scenarios;

use std::io;
use std::time::Duration;

pub use registry::Skip;

pub use localsock_core::{
    Event, ListenError, LocalSocketError, OpenMode, PeerCredentials, ServerError, ServerEvent,
    ServerOptions, SocketError, SocketOptions, State,
};

pub use localsock_os::descriptor::OwnedDescriptor;

/// A raw descriptor as std's `AsRawFd` / `AsRawHandle` give it: Qt's
/// `socketDescriptor()` value.
#[cfg(unix)]
pub type RawDescriptor = std::os::fd::RawFd;
/// A raw descriptor as std's `AsRawFd` / `AsRawHandle` give it: Qt's
/// `socketDescriptor()` value.
#[cfg(windows)]
pub type RawDescriptor = std::os::windows::io::RawHandle;

/// The raw descriptor of anything with std's handle traits.
#[cfg(unix)]
pub fn raw_of(d: &impl std::os::fd::AsRawFd) -> RawDescriptor {
    d.as_raw_fd()
}
/// The raw descriptor of anything with std's handle traits.
#[cfg(windows)]
pub fn raw_of(d: &impl std::os::windows::io::AsRawHandle) -> RawDescriptor {
    d.as_raw_handle()
}

/// `None` = wait forever (Qt's -1); `Some(ZERO)` = don't wait (Qt's 0).
pub type Wait = Option<Duration>;

/// A generous bound for waits that are expected to succeed: long enough for
/// a loaded machine, short enough that a hang fails the test.
pub const LONG: Wait = Some(Duration::from_secs(30));

/// Qt's `QLocalSocket` in the vocabulary every runtime shares.
pub trait TestSocket: Send + 'static {
    /// Starts a connect (returns at once).
    fn connect_to_server(&mut self, name: &str, mode: OpenMode);
    /// Qt's `AbstractNamespaceOption`.
    fn set_abstract_namespace(&mut self, on: bool) -> bool;
    /// Qt's `setServerName`.
    fn set_server_name(&mut self, name: &str) -> bool;
    /// Qt's `open(mode)`: connects to the preset name, returns at once.
    fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError>;
    /// Qt's `socketOptions`.
    fn socket_options(&self) -> SocketOptions;
    /// Qt's `setSocketOptions`.
    fn set_socket_options(&mut self, options: SocketOptions) -> bool;
    /// Qt's `waitForConnected`.
    fn wait_for_connected(&mut self, wait: Wait) -> bool;
    /// Qt's `waitForReadyRead`.
    fn wait_for_ready_read(&mut self, wait: Wait) -> bool;
    /// Qt's `waitForBytesWritten`.
    fn wait_for_bytes_written(&mut self, wait: Wait) -> bool;
    /// Qt's `waitForDisconnected`.
    fn wait_for_disconnected(&mut self, wait: Wait) -> bool;
    /// Qt's `write` (queues).
    fn write(&mut self, data: &[u8]) -> Result<usize, localsock_core::DeviceError>;
    /// Qt's `flush` (non-blocking; true if anything was written).
    fn flush(&mut self) -> bool;
    /// Takes everything buffered.
    fn read_all(&mut self) -> Result<Vec<u8>, localsock_core::DeviceError>;
    /// Qt's `readLine(max)`.
    fn read_line(&mut self, max: usize) -> Result<Vec<u8>, localsock_core::DeviceError>;
    /// Qt's `skip`.
    fn skip(&mut self, n: usize) -> Result<usize, localsock_core::DeviceError>;
    /// The runtime's I/O traits: write all and flush.
    fn io_write_all(&mut self, data: &[u8]) -> io::Result<()>;
    /// The runtime's I/O traits: read exactly `buf.len()` bytes.
    fn io_read_exact(&mut self, buf: &mut [u8]) -> io::Result<()>;
    /// The runtime's I/O traits: one read. The async runtimes give up after
    /// [`LONG`] with `TimedOut`, so a lost wake-up fails instead of hanging.
    fn io_read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// The runtime's I/O traits: one vectored write, without a flush.
    fn io_write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize>;
    /// The runtime's I/O traits: read until end of stream.
    fn io_read_to_end(&mut self) -> io::Result<Vec<u8>>;
    /// Flushes, then half-closes (Unix; pipes report `Unsupported`).
    fn io_shutdown_write(&mut self) -> io::Result<()>;
    /// Starts a graceful disconnect (returns at once).
    fn disconnect_from_server(&mut self);
    /// Qt's `abort`.
    fn abort(&mut self);
    /// Qt's `close`.
    fn close(&mut self);
    /// Qt's `setReadBufferSize`.
    fn set_read_buffer_size(&mut self, size: usize);
    /// How long a connect retries a full backlog or busy pipe.
    fn set_connect_timeout(&mut self, timeout: Duration);
    /// How long a graceful disconnect may drain.
    fn set_drain_timeout(&mut self, timeout: Option<Duration>);
    /// Qt's `readBufferSize`.
    fn read_buffer_size(&self) -> usize;
    /// Qt's `state`.
    fn state(&self) -> State;
    /// Qt's `error`.
    fn error(&self) -> SocketError;
    /// Qt's `errorString`.
    fn error_string(&self) -> String;
    /// Qt's `isValid`.
    fn is_valid(&self) -> bool;
    /// Qt's `isOpen`.
    fn is_open(&self) -> bool;
    /// Qt's `serverName`.
    fn server_name(&self) -> String;
    /// Qt's `fullServerName`.
    fn full_server_name(&self) -> String;
    /// Qt's `bytesAvailable`.
    fn bytes_available(&self) -> usize;
    /// Qt's `bytesToWrite`.
    fn bytes_to_write(&self) -> usize;
    /// Qt's `canReadLine`.
    fn can_read_line(&self) -> bool;
    /// The queued Qt signals.
    fn take_events(&mut self) -> Vec<Event>;
    /// The peer's credentials.
    fn peer_credentials(&self) -> io::Result<PeerCredentials>;
    /// Qt's `setSocketDescriptor(descriptor, state, openMode)`.
    fn set_socket_descriptor(
        &mut self,
        descriptor: OwnedDescriptor,
        state: State,
        mode: OpenMode,
    ) -> Result<(), LocalSocketError>;
    /// Qt's `socketDescriptor()`: `None` (Qt's -1) while there is none.
    fn socket_descriptor(&self) -> Option<RawDescriptor>;
    /// std's `AsRawFd` / `AsRawHandle` of the socket (-1 or
    /// `INVALID_HANDLE_VALUE` while there is none).
    fn raw_descriptor(&self) -> RawDescriptor;
}

/// Qt's `QLocalServer` in the vocabulary every runtime shares.
pub trait TestServer: Send + 'static {
    /// The accepted socket type.
    type Socket: TestSocket;
    /// Qt's `listen` with options.
    fn listen_with(&mut self, name: &str, options: ServerOptions) -> Result<(), ListenError>;
    /// Qt's `listen` with default options.
    fn listen(&mut self, name: &str) -> Result<(), ListenError> {
        self.listen_with(name, ServerOptions::default())
    }
    /// Qt's `waitForNewConnection`.
    fn wait_for_new_connection(&mut self, wait: Wait) -> bool;
    /// Qt's `nextPendingConnection`.
    fn next_pending_connection(&mut self) -> Option<Self::Socket>;
    /// Qt's `hasPendingConnections`.
    fn has_pending_connections(&mut self) -> bool;
    /// Qt's `setMaxPendingConnections`.
    fn set_max_pending_connections(&mut self, max: usize);
    /// Qt's `maxPendingConnections`.
    fn max_pending_connections(&self) -> usize;
    /// Qt's `isListening`.
    fn is_listening(&self) -> bool;
    /// Qt's `serverName`.
    fn server_name(&self) -> String;
    /// Qt's `fullServerName`.
    fn full_server_name(&self) -> String;
    /// Qt's `serverError`.
    fn server_error(&self) -> ServerError;
    /// Qt's `errorString`.
    fn error_string(&self) -> String;
    /// Qt's `close`.
    fn close(&mut self);
    /// The queued server signals (`newConnection`), without accepting.
    fn take_server_events(&mut self) -> Vec<ServerEvent>;
    /// The next server signal within `wait`, `None` if none came: the
    /// async runtimes' `next_event` (which accepts, as Qt's event loop
    /// does); the blocking runtime's `wait_for_new_connection`, then
    /// `poll_event` (Qt without an event loop).
    fn next_server_event(&mut self, wait: Wait) -> Option<ServerEvent>;
    /// As [`next_server_event`](Self::next_server_event), through the async
    /// runtimes' `events()` stream (the blocking runtime has none: the same
    /// as `next_server_event` there).
    fn next_server_event_from_stream(&mut self, wait: Wait) -> Option<ServerEvent>;
    /// Qt's `listen(qintptr socketDescriptor)`.
    fn listen_descriptor(&mut self, descriptor: OwnedDescriptor) -> Result<(), ListenError>;
    /// Waits for and takes one connection (fails the test on timeout).
    fn accept_one(&mut self) -> Self::Socket {
        assert!(self.wait_for_new_connection(LONG), "no connection arrived");
        self.next_pending_connection()
            .expect("a pending connection")
    }
}

/// One runtime under test.
pub trait Runtime: 'static {
    /// Its name in test names and reports.
    const NAME: &'static str;
    /// Its socket.
    type Socket: TestSocket;
    /// Its server.
    type Server: TestServer;
    /// A new unconnected socket.
    fn socket() -> Self::Socket;
    /// A new server, not listening.
    fn server() -> Self::Server;
    /// Qt's static `removeServer`.
    fn remove_server(name: &str) -> bool;
}
