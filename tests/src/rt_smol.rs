//! The smol runtime under the conformance suite: each of Qt's blocking
//! calls runs the runtime's async method to completion with
//! `smol::block_on` (async-io's reactor), so the scenarios exercise the
//! real async code paths.

use std::io;

use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use localsock_core::DeviceError;
use localsock_smol::{LocalServer, LocalSocket, Timeout};
use smol::block_on;

use crate::*;

/// `localsock-smol`.
#[derive(Debug)]
pub struct Smol;

impl Runtime for Smol {
    const NAME: &'static str = "smol";
    type Socket = LocalSocket;
    type Server = LocalServer;
    fn socket() -> LocalSocket {
        LocalSocket::new()
    }
    fn server() -> LocalServer {
        LocalServer::new()
    }
    fn remove_server(name: &str) -> bool {
        LocalServer::remove_server(name)
    }
}

impl TestSocket for LocalSocket {
    fn connect_to_server(&mut self, name: &str, mode: OpenMode) {
        LocalSocket::connect_to_server_with_mode(self, name, mode)
    }
    fn set_abstract_namespace(&mut self, on: bool) -> bool {
        LocalSocket::set_abstract_namespace(self, on)
    }
    fn set_server_name(&mut self, name: &str) -> bool {
        LocalSocket::set_server_name(self, name)
    }
    fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError> {
        LocalSocket::open(self, mode)
    }
    fn socket_options(&self) -> SocketOptions {
        LocalSocket::socket_options(self)
    }
    fn set_socket_options(&mut self, options: SocketOptions) -> bool {
        LocalSocket::set_socket_options(self, options)
    }
    fn wait_for_connected(&mut self, wait: Wait) -> bool {
        block_on(LocalSocket::wait_for_connected(self, Timeout::from(wait))).is_ok()
    }
    fn wait_for_ready_read(&mut self, wait: Wait) -> bool {
        block_on(LocalSocket::wait_for_ready_read(self, Timeout::from(wait))).is_ok()
    }
    fn wait_for_bytes_written(&mut self, wait: Wait) -> bool {
        block_on(LocalSocket::wait_for_bytes_written(
            self,
            Timeout::from(wait),
        ))
        .is_ok()
    }
    fn wait_for_disconnected(&mut self, wait: Wait) -> bool {
        block_on(LocalSocket::wait_for_disconnected(
            self,
            Timeout::from(wait),
        ))
        .is_ok()
    }
    fn write(&mut self, data: &[u8]) -> Result<usize, DeviceError> {
        LocalSocket::write_bytes(self, data.to_vec())
    }
    fn flush(&mut self) -> bool {
        LocalSocket::try_flush(self)
    }
    fn read_all(&mut self) -> Result<Vec<u8>, DeviceError> {
        LocalSocket::read_all(self).map(|b| b.to_vec())
    }
    fn read_line(&mut self, max: usize) -> Result<Vec<u8>, DeviceError> {
        LocalSocket::read_line_bytes(self, max).map(|b| b.to_vec())
    }
    fn skip(&mut self, n: usize) -> Result<usize, DeviceError> {
        LocalSocket::skip(self, n)
    }
    fn io_write_all(&mut self, data: &[u8]) -> io::Result<()> {
        block_on(async {
            AsyncWriteExt::write_all(self, data).await?;
            AsyncWriteExt::flush(self).await
        })
    }
    fn io_read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        block_on(AsyncReadExt::read_exact(self, buf))
    }
    fn io_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = AsyncReadExt::read(self, buf);
        let late = async {
            smol::Timer::after(LONG.unwrap_or_default()).await;
            Err(io::ErrorKind::TimedOut.into())
        };
        block_on(futures_lite::future::or(read, late))
    }
    fn io_write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        block_on(AsyncWriteExt::write_vectored(self, bufs))
    }
    fn io_read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        block_on(AsyncReadExt::read_to_end(self, &mut v))?;
        Ok(v)
    }
    fn io_shutdown_write(&mut self) -> io::Result<()> {
        block_on(LocalSocket::shutdown_write(self))
    }
    fn disconnect_from_server(&mut self) {
        LocalSocket::disconnect_from_server(self)
    }
    fn abort(&mut self) {
        LocalSocket::abort(self)
    }
    fn close(&mut self) {
        LocalSocket::close_device(self)
    }
    fn set_connect_timeout(&mut self, timeout: std::time::Duration) {
        LocalSocket::set_connect_timeout(self, timeout)
    }
    fn set_drain_timeout(&mut self, timeout: Option<std::time::Duration>) {
        LocalSocket::set_drain_timeout(self, timeout)
    }
    fn set_read_buffer_size(&mut self, size: usize) {
        LocalSocket::set_read_buffer_size(self, size)
    }
    fn read_buffer_size(&self) -> usize {
        LocalSocket::read_buffer_size(self)
    }
    fn state(&self) -> State {
        LocalSocket::state(self)
    }
    fn error(&self) -> SocketError {
        LocalSocket::error(self)
    }
    fn error_string(&self) -> String {
        LocalSocket::error_string(self)
    }
    fn is_valid(&self) -> bool {
        LocalSocket::is_valid(self)
    }
    fn is_open(&self) -> bool {
        LocalSocket::is_open(self)
    }
    fn server_name(&self) -> String {
        LocalSocket::server_name(self).to_string()
    }
    fn full_server_name(&self) -> String {
        LocalSocket::full_server_name(self).to_string()
    }
    fn bytes_available(&self) -> usize {
        LocalSocket::bytes_available(self)
    }
    fn bytes_to_write(&self) -> usize {
        LocalSocket::bytes_to_write(self)
    }
    fn can_read_line(&self) -> bool {
        LocalSocket::can_read_line(self)
    }
    fn take_events(&mut self) -> Vec<Event> {
        LocalSocket::take_events(self)
    }
    fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        LocalSocket::peer_credentials(self)
    }
    fn set_socket_descriptor(
        &mut self,
        descriptor: OwnedDescriptor,
        state: State,
        mode: OpenMode,
    ) -> Result<(), LocalSocketError> {
        LocalSocket::set_socket_descriptor(self, descriptor, state, mode)
    }
    fn socket_descriptor(&self) -> Option<RawDescriptor> {
        LocalSocket::socket_descriptor(self).map(|d| raw_of(&d))
    }
    fn raw_descriptor(&self) -> RawDescriptor {
        raw_of(self)
    }
}

impl TestServer for LocalServer {
    type Socket = LocalSocket;
    fn listen_descriptor(&mut self, descriptor: OwnedDescriptor) -> Result<(), ListenError> {
        LocalServer::listen_descriptor(self, descriptor)
    }
    fn listen_with(&mut self, name: &str, options: ServerOptions) -> Result<(), ListenError> {
        LocalServer::listen_with(self, name, options)
    }
    fn wait_for_new_connection(&mut self, wait: Wait) -> bool {
        block_on(LocalServer::wait_for_new_connection(
            self,
            Timeout::from(wait),
        ))
        .is_ok()
    }
    fn next_pending_connection(&mut self) -> Option<LocalSocket> {
        LocalServer::next_pending_connection(self)
    }
    fn has_pending_connections(&mut self) -> bool {
        LocalServer::has_pending_connections(self)
    }
    fn set_max_pending_connections(&mut self, max: usize) {
        LocalServer::set_max_pending_connections(self, max)
    }
    fn max_pending_connections(&self) -> usize {
        LocalServer::max_pending_connections(self)
    }
    fn is_listening(&self) -> bool {
        LocalServer::is_listening(self)
    }
    fn server_name(&self) -> String {
        LocalServer::server_name(self).to_string()
    }
    fn full_server_name(&self) -> String {
        LocalServer::full_server_name(self).to_string()
    }
    fn server_error(&self) -> ServerError {
        LocalServer::server_error(self)
    }
    fn error_string(&self) -> String {
        LocalServer::error_string(self)
    }
    fn close(&mut self) {
        LocalServer::close(self)
    }
    fn take_server_events(&mut self) -> Vec<ServerEvent> {
        LocalServer::take_events(self)
    }
    fn next_server_event(&mut self, wait: Wait) -> Option<ServerEvent> {
        block_on(within(wait, LocalServer::next_event(self)))
    }
    fn next_server_event_from_stream(&mut self, wait: Wait) -> Option<ServerEvent> {
        let mut events = LocalServer::events(self);
        block_on(within(wait, futures_lite::StreamExt::next(&mut events)))
    }
}

/// `event`, or `None` once `wait` has passed (`None`: no limit).
async fn within(
    wait: Wait,
    event: impl std::future::Future<Output = Option<ServerEvent>>,
) -> Option<ServerEvent> {
    let late = async {
        match wait {
            Some(d) => {
                smol::Timer::after(d).await;
            }
            None => std::future::pending::<()>().await,
        }
        None
    };
    futures_lite::future::or(event, late).await
}
