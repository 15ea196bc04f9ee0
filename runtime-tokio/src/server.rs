//! [`LocalServer`]: Qt's `QLocalServer` on tokio.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use localsock_core::{
    Config, ErrorSource, ListenError, OsError, Server, ServerError, ServerOptions,
};

use crate::driver::os_error;
use crate::sys::Listener;
use crate::{name_context, LocalSocket, Timeout};

/// A local server: listens on a Qt-style name and hands out a
/// [`LocalSocket`] per client.
///
/// ```no_run
/// use localsock_tokio::{Access, LocalServer, ServerOptions};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut server = LocalServer::new();
/// server.listen_with("myapp", ServerOptions { access: Access::USER, ..Default::default() })?;
/// loop {
///     let socket = server.accept().await?;
///     println!("client pid {:?}", socket.peer_credentials()?.pid);
///     tokio::spawn(async move { /* serve `socket` */ drop(socket) });
/// }
/// # }
/// ```
///
/// The socket file of a listening server is removed by [`close`](Self::close)
/// and on drop. A leftover file from a crashed server is reclaimed by
/// `listen` only if it is a socket nobody answers on; a live server's socket
/// is never taken over (unlike Qt with access options). Windows pipes leave
/// nothing behind; see the crate's platform notes for the pipe instances.
///
/// The listening socket registers with the tokio runtime that first polls
/// it, so `listen` and `next_pending_connection` work anywhere. (Windows:
/// inside a runtime, `next_pending_connection` sees a client once a wait or
/// an accept has polled the server; outside one, at once.)
#[derive(Debug)]
pub struct LocalServer {
    core: Server<LocalSocket>,
    listener: Option<Listener>,
    options: ServerOptions,
    config: Config,
}

impl Default for LocalServer {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalServer {
    /// A server that is not listening, with Qt's defaults.
    pub fn new() -> Self {
        LocalServer {
            core: Server::new(),
            listener: None,
            options: ServerOptions::default(),
            config: Config::new(name_context()),
        }
    }

    /// The options the next `listen` uses (Qt's `setSocketOptions`,
    /// `setListenBacklogSize`, …).
    pub fn set_options(&mut self, options: ServerOptions) {
        self.options = options;
    }

    /// The options the next `listen` uses.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// The configuration of accepted sockets (name context, timeouts).
    pub fn set_socket_config(&mut self, config: Config) {
        self.config = config;
    }

    /// Listens on `name` with the current options. The bind is synchronous.
    pub fn listen(&mut self, name: &str) -> Result<(), ListenError> {
        let options = self.options.clone();
        self.listen_with(name, options)
    }

    /// Listens on `name` with `options` (which become the current options).
    pub fn listen_with(&mut self, name: &str, options: ServerOptions) -> Result<(), ListenError> {
        self.options = options;
        let ctx = self.config.name_context.clone();
        let plan = self.core.listen(name, &self.options, &ctx)?;
        match Listener::bind(&plan) {
            Ok(l) => {
                self.listener = Some(l);
                self.core.handle_listening();
                Ok(())
            }
            Err(e) => {
                self.core.handle_listen_error(e.clone());
                Err(e)
            }
        }
    }

    /// Whether the server is listening.
    pub fn is_listening(&self) -> bool {
        self.core.is_listening()
    }

    /// The name passed to `listen`.
    pub fn server_name(&self) -> &str {
        self.core.server_name()
    }

    /// The resolved path or pipe name.
    pub fn full_server_name(&self) -> &str {
        self.core.full_server_name()
    }

    /// The last error (`Unknown` if none).
    pub fn server_error(&self) -> ServerError {
        self.core.server_error()
    }

    /// The last error with its context, if any.
    pub fn last_error(&self) -> Option<&ListenError> {
        self.core.last_error()
    }

    /// Qt's text for the last error ("" if none).
    pub fn error_string(&self) -> String {
        self.core.error_string()
    }

    /// The pending-connection limit (Qt default 30).
    pub fn max_pending_connections(&self) -> usize {
        self.core.max_pending_connections()
    }

    /// Sets the pending-connection limit: while this many accepted
    /// connections wait for `next_pending_connection`, no more are
    /// accepted from the OS (its backlog holds them).
    pub fn set_max_pending_connections(&mut self, max: usize) {
        self.options.max_pending_connections = max;
        self.core.set_max_pending_connections(max);
    }

    /// Accepts what the OS has, up to the pending limit, without waiting.
    /// An accept error (out of descriptors, …) is recorded and returned;
    /// the server keeps listening.
    fn accept_ready(&mut self, explicit_wait: bool) -> Result<(), ListenError> {
        // A task about to wait trusts the reactor's readiness; Qt's
        // synchronous calls ask the OS.
        let optimistic = !explicit_wait;
        while self
            .core
            .should_accept(explicit_wait && !self.core.has_pending_connections())
        {
            let Some(listener) = self.listener.as_mut() else {
                return Ok(());
            };
            match listener.try_accept(optimistic) {
                Ok(Some(stream)) => {
                    let Some(from) = self.core.accepted_from(&self.config) else {
                        return Ok(());
                    };
                    let socket = LocalSocket::accepted(from, stream);
                    self.core.push_pending(socket);
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    return self.core.handle_accept_error(os_error(&e));
                }
            }
        }
        Ok(())
    }

    /// Whether a connection is pending (accepting what the OS has first).
    pub fn has_pending_connections(&mut self) -> bool {
        let _ = self.accept_ready(false);
        self.core.has_pending_connections()
    }

    /// Qt's `nextPendingConnection`: the next accepted connection, if any;
    /// never waits.
    pub fn next_pending_connection(&mut self) -> Option<LocalSocket> {
        let _ = self.accept_ready(false);
        self.core.next_pending_connection()
    }

    /// Ready(true) once a connection is pending; Ready(false) when not
    /// listening or on an error (recorded in `server_error`).
    fn poll_new_connection(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            if self.accept_ready(true).is_err() {
                return Poll::Ready(false);
            }
            if self.core.has_pending_connections() {
                return Poll::Ready(true);
            }
            let Some(listener) = self.listener.as_mut() else {
                return Poll::Ready(false);
            };
            match listener.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    let os = OsError::from_io(&e);
                    self.fail(ListenError::from_os(ErrorSource::WaitForNewConnection, os));
                    return Poll::Ready(false);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Waits until a connection is pending; returns at once if one already
    /// is (unlike Qt on Unix). False when not listening, on timeout, or when
    /// an accept fails (see [`server_error`](Self::server_error); the server
    /// keeps listening).
    ///
    /// # Cancel safety
    /// Cancel-safe: connections accepted meanwhile stay queued.
    pub async fn wait_for_new_connection(&mut self, timeout: impl Into<Timeout>) -> bool {
        if !self.core.is_listening() {
            return false;
        }
        let until = poll_fn(|cx| self.poll_new_connection(cx));
        match timeout.into().duration() {
            None => until.await,
            Some(d) => tokio::time::timeout(d, until).await.unwrap_or(false),
        }
    }

    /// The poll form of [`accept`](Self::accept).
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Result<LocalSocket, ListenError>> {
        if let Some(s) = self.core.next_pending_connection() {
            return Poll::Ready(Ok(s));
        }
        if !self.core.is_listening() {
            return Poll::Ready(Err(self.not_listening()));
        }
        match self.poll_new_connection(cx) {
            Poll::Ready(true) => match self.core.next_pending_connection() {
                Some(s) => Poll::Ready(Ok(s)),
                None => Poll::Ready(Err(self.not_listening())),
            },
            Poll::Ready(false) => Poll::Ready(Err(self.not_listening())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn not_listening(&self) -> ListenError {
        self.core.last_error().cloned().unwrap_or_else(|| {
            ListenError::new(ServerError::Unknown, ErrorSource::Accept).with_detail("not listening")
        })
    }

    /// Waits for a client and returns it. An accept error (such as running
    /// out of descriptors) is returned; the server keeps listening, so the
    /// caller may retry.
    ///
    /// # Cancel safety
    /// Cancel-safe: a connection accepted from the OS is queued in the
    /// server until returned, so none is lost.
    pub async fn accept(&mut self) -> Result<LocalSocket, ListenError> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Accepted connections as a [`futures_core::Stream`], ending when the
    /// server stops listening.
    pub fn incoming(&mut self) -> Incoming<'_> {
        Incoming { server: self }
    }

    /// Qt's `close`: stops listening, drops queued connections (their clients
    /// see the connection closed) and removes the socket file. Unlike Qt, the
    /// file is removed only if it is still the one this server created: if
    /// ours was deleted and another server has since listened on the name,
    /// its file stays.
    pub fn close(&mut self) {
        self.close_listener();
        drop(self.core.close());
    }

    fn fail(&mut self, err: ListenError) {
        self.close_listener();
        drop(self.core.handle_fatal(err));
    }

    /// Closes the listener and removes the socket file, if it is still the
    /// one this server created.
    fn close_listener(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.close(self.core.socket_file());
        }
    }

    /// Qt's static `removeServer`: removes the socket file of `name`, whatever
    /// is there. True if nothing is left. Dangerous: it removes a live
    /// server's socket too; `listen` already reclaims stale sockets safely.
    pub fn remove_server(name: &str) -> bool {
        localsock_os::remove_server(name)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Accepted connections; see [`LocalServer::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    server: &'a mut LocalServer,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = Result<LocalSocket, ListenError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let server = &mut self.get_mut().server;
        if !server.is_listening() {
            return Poll::Ready(None);
        }
        server.poll_accept(cx).map(Some)
    }
}
