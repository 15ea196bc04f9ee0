//! The tokio runtime under the conformance suite, on both runtime flavours.
//!
//! Each test socket and server holds the runtime that drives it and runs
//! every async method to completion with `Runtime::block_on`, from whatever
//! thread the scenario uses it on:
//! - current-thread: every fresh socket and every server gets its own
//!   runtime; accepted sockets share their server's. Two threads may then
//!   `block_on` the same runtime at once (a scenario's main thread on the
//!   server, a peer thread on an accepted socket); tokio hands the driver to
//!   one of them and wakes the other's future from it.
//!
//!   Windows: one current-thread runtime for everything, driven by a
//!   thread of its own (`block_on` of a future that never ends; every
//!   other `block_on` polls its future on its own thread, as accepted
//!   sockets do above). tokio releases a dropped pipe's handle only when the
//!   runtime's driver collects the cancelled read (see `localsock_tokio`'s
//!   platform notes), so with idle runtimes a peer could wait forever for an
//!   end of stream (say `peer.abort()` on the server's runtime, then
//!   `client.wait_for_disconnected()` on the client's). And under Wine 8,
//!   with the driver passed among the scenario threads, a pipe read's
//!   completion was now and then collected before Wine had filled in its
//!   status (mio then reports `ERROR_IO_INCOMPLETE`, 996, as the read's
//!   error; Windows writes the status before it queues the completion):
//!   about one full run in ten failed in `many_sequential_clients`. With
//!   the driver on a thread of its own, as with the multi-thread runtime's
//!   workers, it has not shown up.
//! - multi-thread: one shared runtime with two workers; futures run on the
//!   calling thread, the reactor and timers on the workers (every wake-up
//!   crosses threads).

use std::io;
use std::sync::{Arc, OnceLock};

use localsock_core::DeviceError;
use localsock_tokio::{LocalServer, LocalSocket, Timeout};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::{Builder, Runtime as TokioRuntime};

use crate::*;

/// `localsock-tokio` on current-thread runtimes.
#[derive(Debug)]
pub struct TokioCurrentThread;

/// `localsock-tokio` on a multi-thread runtime.
#[derive(Debug)]
pub struct TokioMultiThread;

fn new_current_thread() -> Arc<TokioRuntime> {
    Arc::new(
        Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime"),
    )
}

#[cfg(not(windows))]
fn current_thread() -> Arc<TokioRuntime> {
    new_current_thread()
}

#[cfg(windows)]
fn current_thread() -> Arc<TokioRuntime> {
    static RT: OnceLock<Arc<TokioRuntime>> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = new_current_thread();
        let driver = rt.clone();
        std::thread::Builder::new()
            .name("tokio-current-thread-driver".into())
            .spawn(move || driver.block_on(std::future::pending::<()>()))
            .expect("the driver thread");
        rt
    })
    .clone()
}

fn multi_thread() -> Arc<TokioRuntime> {
    static RT: OnceLock<Arc<TokioRuntime>> = OnceLock::new();
    RT.get_or_init(|| {
        Arc::new(
            Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a multi-thread runtime"),
        )
    })
    .clone()
}

impl Runtime for TokioCurrentThread {
    const NAME: &'static str = "tokio_current_thread";
    type Socket = TokioSocket;
    type Server = TokioServer;
    fn socket() -> TokioSocket {
        TokioSocket::new(LocalSocket::new(), current_thread())
    }
    fn server() -> TokioServer {
        TokioServer::new(current_thread())
    }
    fn remove_server(name: &str) -> bool {
        LocalServer::remove_server(name)
    }
}

impl Runtime for TokioMultiThread {
    const NAME: &'static str = "tokio_multi_thread";
    type Socket = TokioSocket;
    type Server = TokioServer;
    fn socket() -> TokioSocket {
        TokioSocket::new(LocalSocket::new(), multi_thread())
    }
    fn server() -> TokioServer {
        TokioServer::new(multi_thread())
    }
    fn remove_server(name: &str) -> bool {
        LocalServer::remove_server(name)
    }
}

/// A [`LocalSocket`] with the runtime that drives it.
#[derive(Debug)]
pub struct TokioSocket {
    // Dropped before the runtime (field order).
    pub(crate) socket: LocalSocket,
    rt: Arc<TokioRuntime>,
}

impl TokioSocket {
    fn new(socket: LocalSocket, rt: Arc<TokioRuntime>) -> Self {
        TokioSocket { socket, rt }
    }
}

/// A [`LocalServer`] with the runtime that drives it and its sockets.
#[derive(Debug)]
pub struct TokioServer {
    server: LocalServer,
    rt: Arc<TokioRuntime>,
}

impl TokioServer {
    fn new(rt: Arc<TokioRuntime>) -> Self {
        TokioServer {
            server: LocalServer::new(),
            rt,
        }
    }
}

impl TestSocket for TokioSocket {
    fn connect_to_server(&mut self, name: &str, mode: OpenMode) {
        self.socket.connect_to_server_with_mode(name, mode)
    }
    fn set_abstract_namespace(&mut self, on: bool) -> bool {
        self.socket.set_abstract_namespace(on)
    }
    fn set_server_name(&mut self, name: &str) -> bool {
        self.socket.set_server_name(name)
    }
    fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError> {
        self.socket.open(mode)
    }
    fn socket_options(&self) -> SocketOptions {
        self.socket.socket_options()
    }
    fn set_socket_options(&mut self, options: SocketOptions) -> bool {
        self.socket.set_socket_options(options)
    }
    fn wait_for_connected(&mut self, wait: Wait) -> bool {
        let s = &mut self.socket;
        self.rt
            .block_on(s.wait_for_connected(Timeout::from(wait)))
            .is_ok()
    }
    fn wait_for_ready_read(&mut self, wait: Wait) -> bool {
        let s = &mut self.socket;
        self.rt
            .block_on(s.wait_for_ready_read(Timeout::from(wait)))
            .is_ok()
    }
    fn wait_for_bytes_written(&mut self, wait: Wait) -> bool {
        let s = &mut self.socket;
        self.rt
            .block_on(s.wait_for_bytes_written(Timeout::from(wait)))
            .is_ok()
    }
    fn wait_for_disconnected(&mut self, wait: Wait) -> bool {
        let s = &mut self.socket;
        self.rt
            .block_on(s.wait_for_disconnected(Timeout::from(wait)))
            .is_ok()
    }
    fn write(&mut self, data: &[u8]) -> Result<usize, DeviceError> {
        self.socket.write_bytes(data.to_vec())
    }
    fn flush(&mut self) -> bool {
        self.socket.try_flush()
    }
    fn read_all(&mut self) -> Result<Vec<u8>, DeviceError> {
        self.socket.read_all().map(|b| b.to_vec())
    }
    fn read_line(&mut self, max: usize) -> Result<Vec<u8>, DeviceError> {
        self.socket.read_line_bytes(max).map(|b| b.to_vec())
    }
    fn skip(&mut self, n: usize) -> Result<usize, DeviceError> {
        self.socket.skip(n)
    }
    fn io_write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let s = &mut self.socket;
        self.rt.block_on(async {
            s.write_all(data).await?;
            AsyncWriteExt::flush(s).await
        })
    }
    fn io_read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let s = &mut self.socket;
        self.rt
            .block_on(async { s.read_exact(buf).await.map(drop) })
    }
    fn io_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = &mut self.socket;
        self.rt.block_on(async {
            tokio::time::timeout(LONG.unwrap_or_default(), s.read(buf))
                .await
                .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
        })
    }
    fn io_write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let s = &mut self.socket;
        self.rt.block_on(s.write_vectored(bufs))
    }
    fn io_read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let s = &mut self.socket;
        self.rt.block_on(async {
            let mut v = Vec::new();
            s.read_to_end(&mut v).await?;
            Ok(v)
        })
    }
    fn io_shutdown_write(&mut self) -> io::Result<()> {
        let s = &mut self.socket;
        self.rt.block_on(s.shutdown_write())
    }
    fn disconnect_from_server(&mut self) {
        self.socket.disconnect_from_server()
    }
    fn abort(&mut self) {
        self.socket.abort()
    }
    fn close(&mut self) {
        self.socket.close_device()
    }
    fn set_connect_timeout(&mut self, timeout: std::time::Duration) {
        self.socket.set_connect_timeout(timeout)
    }
    fn set_drain_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.socket.set_drain_timeout(timeout)
    }
    fn set_read_buffer_size(&mut self, size: usize) {
        self.socket.set_read_buffer_size(size)
    }
    fn read_buffer_size(&self) -> usize {
        self.socket.read_buffer_size()
    }
    fn state(&self) -> State {
        self.socket.state()
    }
    fn error(&self) -> SocketError {
        self.socket.error()
    }
    fn error_string(&self) -> String {
        self.socket.error_string()
    }
    fn is_valid(&self) -> bool {
        self.socket.is_valid()
    }
    fn is_open(&self) -> bool {
        self.socket.is_open()
    }
    fn server_name(&self) -> String {
        self.socket.server_name().to_string()
    }
    fn full_server_name(&self) -> String {
        self.socket.full_server_name().to_string()
    }
    fn bytes_available(&self) -> usize {
        self.socket.bytes_available()
    }
    fn bytes_to_write(&self) -> usize {
        self.socket.bytes_to_write()
    }
    fn can_read_line(&self) -> bool {
        self.socket.can_read_line()
    }
    fn take_events(&mut self) -> Vec<Event> {
        self.socket.take_events()
    }
    fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        self.socket.peer_credentials()
    }
    fn set_socket_descriptor(
        &mut self,
        descriptor: OwnedDescriptor,
        state: State,
        mode: OpenMode,
    ) -> Result<(), LocalSocketError> {
        self.socket.set_socket_descriptor(descriptor, state, mode)
    }
    fn socket_descriptor(&self) -> Option<RawDescriptor> {
        self.socket.socket_descriptor().map(|d| raw_of(&d))
    }
    fn raw_descriptor(&self) -> RawDescriptor {
        raw_of(&self.socket)
    }
}

impl TestServer for TokioServer {
    type Socket = TokioSocket;
    fn listen_descriptor(&mut self, descriptor: OwnedDescriptor) -> Result<(), ListenError> {
        self.server.listen_descriptor(descriptor)
    }
    fn listen_with(&mut self, name: &str, options: ServerOptions) -> Result<(), ListenError> {
        self.server.listen_with(name, options)
    }
    fn wait_for_new_connection(&mut self, wait: Wait) -> bool {
        let s = &mut self.server;
        self.rt
            .block_on(s.wait_for_new_connection(Timeout::from(wait)))
            .is_ok()
    }
    fn next_pending_connection(&mut self) -> Option<TokioSocket> {
        let socket = self.server.next_pending_connection()?;
        Some(TokioSocket::new(socket, self.rt.clone()))
    }
    fn has_pending_connections(&mut self) -> bool {
        self.server.has_pending_connections()
    }
    fn set_max_pending_connections(&mut self, max: usize) {
        self.server.set_max_pending_connections(max)
    }
    fn max_pending_connections(&self) -> usize {
        self.server.max_pending_connections()
    }
    fn is_listening(&self) -> bool {
        self.server.is_listening()
    }
    fn server_name(&self) -> String {
        self.server.server_name().to_string()
    }
    fn full_server_name(&self) -> String {
        self.server.full_server_name().to_string()
    }
    fn server_error(&self) -> ServerError {
        self.server.server_error()
    }
    fn error_string(&self) -> String {
        self.server.error_string()
    }
    fn close(&mut self) {
        self.server.close()
    }
    fn take_server_events(&mut self) -> Vec<ServerEvent> {
        self.server.take_events()
    }
    fn next_server_event(&mut self, wait: Wait) -> Option<ServerEvent> {
        let s = &mut self.server;
        self.rt.block_on(within(wait, s.next_event()))
    }
    fn next_server_event_from_stream(&mut self, wait: Wait) -> Option<ServerEvent> {
        let mut events = self.server.events();
        self.rt
            .block_on(within(wait, futures_lite::StreamExt::next(&mut events)))
    }
}

/// `event`, or `None` once `wait` has passed (`None`: no limit).
async fn within(
    wait: Wait,
    event: impl std::future::Future<Output = Option<ServerEvent>>,
) -> Option<ServerEvent> {
    match wait {
        Some(d) => tokio::time::timeout(d, event).await.unwrap_or(None),
        None => event.await,
    }
}
