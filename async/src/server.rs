//! [`LocalServer`]: Qt's `QLocalServer` on any runtime.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream as FuturesStream;
use localsock_core::{
    Config, ErrorSource, ListenError, OsError, Server, ServerError, ServerEvent, ServerOptions,
};
use localsock_os::{name_context, Timeout};

use crate::backoff::AcceptBackoff;
use crate::socket::with_timeout;
use crate::stream::Listener;
use crate::{LocalSocket, Runtime};

mod descriptor;

/// A local server: listens on a Qt-style name and hands out a
/// [`LocalSocket`] per client.
///
/// Connections are accepted from the OS only while fewer than
/// [`max_pending_connections`](Self::max_pending_connections) wait to be
/// taken; the rest wait in the OS backlog (server-side back-pressure).
///
/// Unix: the socket file of a listening server is removed by
/// [`close`](Self::close) and on drop. A leftover file from a crashed server
/// is reclaimed by `listen` only if it is a socket nobody answers on; a live
/// server's socket is never taken over.
///
/// Windows: the server keeps `pipe_instances` (see [`ServerOptions`]) pipe
/// instances armed for clients to connect to, replacing each one before it
/// is handed out; while all are taken, clients see the pipe busy and their
/// connects are retried. Pipes leave no file behind.
#[derive(Debug)]
pub struct LocalServer<R: Runtime> {
    core: Server<LocalSocket<R>>,
    listener: Option<Listener<R>>,
    options: ServerOptions,
    config: std::sync::Arc<Config>,
}

impl<R: Runtime> Default for LocalServer<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Runtime> LocalServer<R> {
    localsock_core::qt_server_api!();

    /// Accepts what the OS has, up to the pending limit, without waiting.
    /// An accept failure (out of descriptors, …) is recorded and returned;
    /// the server keeps listening (Qt closes it; a daemon should survive
    /// `EMFILE`).
    fn accept_ready(&mut self, explicit_wait: bool) -> Result<(), ListenError> {
        while self
            .core
            .should_accept(explicit_wait && !self.core.has_pending_connections())
        {
            let Some(listener) = self.listener.as_mut() else {
                return Ok(());
            };
            match listener.accept() {
                Ok(Some(stream)) => {
                    let Some(from) = self.core.accepted_from(&self.config) else {
                        return Ok(());
                    };
                    let socket = LocalSocket::accepted(from, stream);
                    self.core.push_pending(socket);
                }
                Ok(None) => return Ok(()),
                Err(e) => {
                    return self.core.handle_accept_error(OsError::from_io(&e));
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

    /// Qt's `nextPendingConnection`: the next accepted connection, if any
    /// (accepting what the OS has, up to the pending limit, first); never
    /// waits.
    pub fn next_pending_connection(&mut self) -> Option<LocalSocket<R>> {
        let _ = self.accept_ready(false);
        self.core.next_pending_connection()
    }

    /// Waits until a connection is pending; returns at once if one already
    /// is (unlike Qt on Unix). An error when not listening, on an accept
    /// error (also recorded: see [`server_error`](Self::server_error)), or
    /// on timeout: `ServerError::SocketTimeout`, which is not recorded (Qt
    /// reports it through `timedOut`). Qt's bool is `.is_ok()`.
    ///
    /// Cancel safety: cancel-safe; connections accepted meanwhile stay
    /// queued for `next_pending_connection`.
    pub async fn wait_for_new_connection(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), ListenError> {
        if !self.core.is_listening() && !self.core.has_pending_connections() {
            return Err(self.not_listening());
        }
        let op = poll_fn(|cx| self.poll_pending(cx));
        match with_timeout::<R, _>(timeout.into(), op).await {
            Some(r) => r,
            None => Err(ListenError::new(
                ServerError::SocketTimeout,
                ErrorSource::WaitForNewConnection,
            )),
        }
    }

    /// Ready once a connection is queued (Ok), or on an accept or wait
    /// failure (Err).
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ListenError>> {
        loop {
            if self.core.has_pending_connections() {
                return Poll::Ready(Ok(()));
            }
            self.accept_ready(true)?;
            if self.core.has_pending_connections() {
                return Poll::Ready(Ok(()));
            }
            let Some(listener) = self.listener.as_mut() else {
                return Poll::Ready(Err(self.not_listening()));
            };
            match listener.poll_readable(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    let err = ListenError::from_os(
                        ErrorSource::WaitForNewConnection,
                        OsError::from_io(&e),
                    );
                    self.fail(err.clone());
                    return Poll::Ready(Err(err));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Waits for a client and returns it: the next queued connection, or
    /// the next one the OS has (one is accepted even with a pending limit of
    /// 0). Errors: not listening, or an accept failure (the server keeps
    /// listening; try again later).
    ///
    /// Cancel safety: cancel-safe; a connection accepted from the OS is
    /// queued before anything can be cancelled, and the next call (or
    /// `next_pending_connection`) returns it.
    pub async fn accept(&mut self) -> Result<LocalSocket<R>, ListenError> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](Self::accept).
    pub fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<LocalSocket<R>, ListenError>> {
        if !self.core.is_listening() && !self.core.has_pending_connections() {
            return Poll::Ready(Err(self.not_listening()));
        }
        std::task::ready!(self.poll_pending(cx))?;
        match self.core.next_pending_connection() {
            Some(s) => Poll::Ready(Ok(s)),
            None => Poll::Ready(Err(self.not_listening())),
        }
    }

    fn not_listening(&self) -> ListenError {
        self.core.last_error().cloned().unwrap_or_else(|| {
            ListenError::new(ServerError::Unknown, ErrorSource::Accept).with_detail("not listening")
        })
    }

    /// The next queued server signal, if any, without accepting.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.core.poll_event()
    }

    /// All queued server signals, oldest first, without accepting.
    pub fn take_events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.core.poll_event()).collect()
    }

    /// Qt's `newConnection` signal: accepts what the OS has, up to the
    /// pending limit (as Qt's event loop does), until a server signal is
    /// queued, and returns it. One
    /// [`NewConnection`](ServerEvent::NewConnection) per accepted
    /// connection, in accept order (so also those that `accept` or
    /// `wait_for_new_connection` queued); take it with
    /// [`next_pending_connection`](Self::next_pending_connection). An
    /// [`AcceptError`](ServerEvent::AcceptError) when accepting fails with
    /// nothing queued: the server keeps listening, and asking again at once
    /// tries again at once. `None` once the server is not listening and no
    /// signal is left. While `max_pending_connections` connections wait to
    /// be taken nothing more is accepted: the future stays pending until
    /// you take one (Qt's notifier is off then too).
    ///
    /// Cancel safety: cancel-safe; signals and connections stay queued in
    /// the server until taken.
    pub async fn next_event(&mut self) -> Option<ServerEvent> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The poll form of [`next_event`](Self::next_event).
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<ServerEvent>> {
        loop {
            if let Some(e) = self.core.poll_event() {
                return Poll::Ready(Some(e));
            }
            if !self.core.is_listening() {
                return Poll::Ready(None);
            }
            // A failure is queued as an `AcceptError` by the core.
            let _ = self.accept_ready(false);
            if let Some(e) = self.core.poll_event() {
                return Poll::Ready(Some(e));
            }
            if !self.core.should_accept(false) {
                return Poll::Pending;
            }
            let Some(listener) = self.listener.as_mut() else {
                return Poll::Ready(None);
            };
            match listener.poll_readable(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    // The server closes, as in Qt; the error stays in
                    // `last_error` and the signals end.
                    let err = ListenError::from_os(
                        ErrorSource::WaitForNewConnection,
                        OsError::from_io(&e),
                    );
                    self.fail(err);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// The server's signals as a [`Stream`](futures_core::Stream),
    /// accepting as [`next_event`](Self::next_event) does. To take the
    /// connection a `NewConnection` announces, drop the stream (it borrows
    /// the server) or use [`next_event`](Self::next_event) in a loop.
    pub fn events(&mut self) -> ServerEvents<'_, R> {
        ServerEvents { server: self }
    }

    /// Accepted connections as a [`Stream`](futures_core::Stream), ending
    /// when the server stops listening. An accept failure is an `Err` item;
    /// the stream goes on after it, after a pause (50 ms, doubling up to
    /// 1 s while failures last), so a loop that retries at once (tonic's
    /// `serve_with_incoming` does) does not spin while the process is out
    /// of descriptors.
    pub fn incoming(&mut self) -> Incoming<'_, R> {
        Incoming {
            server: self,
            backoff: AcceptBackoff::new(),
        }
    }
}

impl<R: Runtime> Drop for LocalServer<R> {
    fn drop(&mut self) {
        self.close();
    }
}

/// Accepted connections as a [`Stream`](futures_core::Stream); see
/// [`LocalServer::incoming`]. Cancel-safe like [`LocalServer::accept`].
#[derive(Debug)]
pub struct Incoming<'a, R: Runtime> {
    server: &'a mut LocalServer<R>,
    backoff: AcceptBackoff<R>,
}

impl<R: Runtime> FuturesStream for Incoming<'_, R> {
    type Item = Result<LocalSocket<R>, ListenError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let server = &mut *this.server;
        if !server.is_listening() && !server.core.has_pending_connections() {
            return Poll::Ready(None);
        }
        std::task::ready!(this.backoff.poll_wait(cx));
        let item = std::task::ready!(server.poll_accept(cx));
        match &item {
            Ok(_) => this.backoff.succeeded(),
            Err(_) => this.backoff.failed(),
        }
        Poll::Ready(Some(item))
    }
}

/// The stream of a server's [`ServerEvent`]s: see [`LocalServer::events`].
/// Cancel-safe like [`LocalServer::next_event`].
#[derive(Debug)]
pub struct ServerEvents<'a, R: Runtime> {
    server: &'a mut LocalServer<R>,
}

impl<R: Runtime> FuturesStream for ServerEvents<'_, R> {
    type Item = ServerEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ServerEvent>> {
        self.get_mut().server.poll_next_event(cx)
    }
}
