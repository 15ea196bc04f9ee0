//! [`LocalServer`]: Qt's `QLocalServer` for code without an event loop.

use std::io;
use std::time::{Duration, Instant};

use localsock_core::{
    Config, ErrorSource, ListenError, OsError, Server, ServerError, ServerEvent, ServerOptions,
};

use crate::platform::{Listener, Stream};
use crate::{name_context, LocalSocket, Timeout};

mod descriptor;

/// A local server: listens on a Qt-style name and hands out a
/// [`LocalSocket`] per client.
///
/// ```no_run
/// use localsock_blocking::{LocalServer, ServerOptions, Access};
/// let mut server = LocalServer::new();
/// server.listen_with("myapp", ServerOptions { access: Access::USER, ..Default::default() })?;
/// eprintln!("listening on {}", server.full_server_name());
/// for socket in server.incoming() {
///     let socket = socket?;
///     println!("client pid {:?}", socket.peer_credentials()?.pid);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The socket file of a listening server is removed by [`close`](Self::close)
/// and on drop. A leftover file from a crashed server is reclaimed by
/// `listen` only if it is a socket nobody answers on; a live server's socket
/// is never taken over (unlike Qt with access options).
#[derive(Debug)]
pub struct LocalServer {
    /// Pending connections wait as bare streams and become sockets when
    /// taken: a socket is a few hundred bytes, and each move through the
    /// queue copied it (nothing happens to a pending socket meanwhile: this
    /// runtime does no I/O in the background).
    core: Server<Stream>,
    listener: Option<Listener>,
    options: ServerOptions,
    config: std::sync::Arc<Config>,
}

impl Default for LocalServer {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalServer {
    localsock_core::qt_server_api!();

    /// Accepts one connection, if the OS has one and none is queued yet,
    /// without blocking. One at a time, as Qt does: draining the backlog
    /// eagerly costs a failed `accept` after every success, and the queue
    /// would only hold connections the caller has not asked for yet.
    /// An error (out of descriptors, say) is returned when nothing is
    /// queued (see `Server::handle_accept_error`).
    fn accept_ready(&mut self, explicit_wait: bool) -> Result<(), ListenError> {
        if self.core.has_pending_connections() || !self.core.should_accept(explicit_wait) {
            return Ok(());
        }
        let Some(listener) = self.listener.as_mut() else {
            return Ok(());
        };
        match listener.accept() {
            Ok(Some(stream)) => self.queue(stream),
            Ok(None) => Ok(()),
            Err(e) => self.accept_failed(&e),
        }
    }

    /// Queues an accepted stream as a pending connection.
    fn queue(&mut self, stream: Stream) -> Result<(), ListenError> {
        if self.core.address().is_some() {
            self.core.push_pending(stream);
        }
        Ok(())
    }

    /// The next pending connection, made a socket now (see `core`).
    fn take_pending(&mut self) -> Option<LocalSocket> {
        let stream = self.core.next_pending_connection()?;
        let from = self.core.accepted_from(&self.config)?;
        Some(LocalSocket::accepted(from, stream))
    }

    /// Out of descriptors and the like: recorded in `server_error`, and the
    /// server keeps listening (Qt closes it; a server that survives EMFILE
    /// is what a daemon needs).
    fn accept_failed(&mut self, e: &io::Error) -> Result<(), ListenError> {
        let os = OsError::from_io(e);
        self.core.handle_accept_error(os)
    }

    /// Whether a connection is pending (accepting what the OS has first).
    pub fn has_pending_connections(&mut self) -> bool {
        let _ = self.accept_ready(false);
        self.core.has_pending_connections()
    }

    /// Qt's `nextPendingConnection`: the next accepted connection, if any;
    /// never blocks.
    pub fn next_pending_connection(&mut self) -> Option<LocalSocket> {
        let _ = self.accept_ready(false);
        self.take_pending()
    }

    /// Qt's `waitForNewConnection`: waits until a connection is pending;
    /// `Ok(())` at once if one already is (unlike Qt on Unix). Errors:
    /// - on timeout, `ServerError::SocketTimeout` (source
    ///   `WaitForNewConnection`), which is not recorded: `server_error` and
    ///   `last_error` stay as they were, as in Qt (whose `timedOut`
    ///   argument says the same);
    /// - when accepting fails (out of descriptors), that error, also in
    ///   [`last_error`](Self::last_error); the server keeps listening;
    /// - when waiting fails, that error; the server is closed, as in Qt;
    /// - when not listening, the last error if any (a failed `listen`, or
    ///   what closed the server), else `Unknown` with the detail "not
    ///   listening".
    ///
    /// Qt's `bool` is `.is_ok()`.
    pub fn wait_for_new_connection(
        &mut self,
        timeout: impl Into<Timeout>,
    ) -> Result<(), ListenError> {
        if !self.core.is_listening() {
            return Err(self.not_listening(ErrorSource::WaitForNewConnection));
        }
        let deadline = timeout.into().deadline();
        if deadline.is_none()
            && !self.core.has_pending_connections()
            && self.core.should_accept(true)
        {
            // Forever: wait inside `accept` itself (one system call per
            // connection, as a std listener makes).
            if let Some(listener) = self.listener.as_mut() {
                match listener.accept_wait() {
                    Ok(stream) => self.queue(stream)?,
                    Err(e) => self.accept_failed(&e)?,
                }
            }
        }
        loop {
            self.accept_ready(true)?;
            if self.core.has_pending_connections() {
                return Ok(());
            }
            let Some(listener) = self.listener.as_mut() else {
                return Err(self.not_listening(ErrorSource::WaitForNewConnection));
            };
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(timed_out());
            }
            let wait = deadline.map(|d| d.saturating_duration_since(now));
            if let Err(e) = listener.wait(wait) {
                let os = OsError::from_io(&e);
                let err = ListenError::from_os(ErrorSource::WaitForNewConnection, os);
                self.fail(err.clone());
                return Err(err);
            }
        }
    }

    /// Blocks until a client connects and returns it (a queued connection
    /// first). Errors: those of
    /// [`wait_for_new_connection`](Self::wait_for_new_connection) without a
    /// timeout. While accepting fails (out of descriptors) it returns that
    /// error; the server keeps listening, so try again later.
    pub fn accept(&mut self) -> Result<LocalSocket, ListenError> {
        self.accept_within(Timeout::FOREVER)
    }

    /// Like [`accept`](Self::accept), but gives up after `timeout` with
    /// `ServerError::SocketTimeout` (not recorded, as for
    /// [`wait_for_new_connection`](Self::wait_for_new_connection)).
    pub fn accept_timeout(&mut self, timeout: Duration) -> Result<LocalSocket, ListenError> {
        self.accept_within(timeout.into())
    }

    fn accept_within(&mut self, timeout: Timeout) -> Result<LocalSocket, ListenError> {
        loop {
            if let Some(s) = self.take_pending() {
                return Ok(s);
            }
            self.wait_for_new_connection(timeout)?;
        }
    }

    /// Why a wait or an accept cannot start: the server is not listening.
    fn not_listening(&self, source: ErrorSource) -> ListenError {
        self.core.last_error().cloned().unwrap_or_else(|| {
            ListenError::new(ServerError::Unknown, source).with_detail("not listening")
        })
    }

    /// The next of Qt's server signals, if one is queued; never waits.
    /// As in Qt without an event loop, a `NewConnection` is queued by the
    /// call that accepts the connection
    /// ([`wait_for_new_connection`](Self::wait_for_new_connection),
    /// [`accept`](Self::accept), [`incoming`](Self::incoming),
    /// [`has_pending_connections`](Self::has_pending_connections),
    /// [`next_pending_connection`](Self::next_pending_connection)): one
    /// per connection, in accept order. An
    /// [`AcceptError`](ServerEvent::AcceptError) is queued when accepting
    /// fails with nothing queued.
    ///
    /// ```
    /// use std::time::Duration;
    /// use localsock_blocking::{LocalServer, LocalSocket, OpenMode, ServerEvent};
    /// let name = format!("doc-server-events-{}", std::process::id());
    /// let mut server = LocalServer::new();
    /// server.listen(&name)?;
    /// let mut client = LocalSocket::new();
    /// client.set_server_name(&name);
    /// client.open(OpenMode::ReadWrite)?;
    ///
    /// server.wait_for_new_connection(Duration::from_secs(30))?;
    /// assert_eq!(server.poll_event(), Some(ServerEvent::NewConnection));
    /// let peer = server.next_pending_connection().expect("announced");
    /// assert_eq!(server.poll_event(), None);
    /// # drop(peer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.core.poll_event()
    }

    /// All queued server signals, oldest first; never waits (see
    /// [`poll_event`](Self::poll_event)).
    pub fn take_events(&mut self) -> Vec<ServerEvent> {
        std::iter::from_fn(|| self.core.poll_event()).collect()
    }

    /// An iterator of accepted connections (blocking), ending when the
    /// server stops listening.
    pub fn incoming(&mut self) -> Incoming<'_> {
        Incoming { server: self }
    }
}

/// The error of a wait for a new connection that timed out (not recorded).
fn timed_out() -> ListenError {
    ListenError::new(
        ServerError::SocketTimeout,
        ErrorSource::WaitForNewConnection,
    )
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Accepted connections, one per `next` (blocking). See [`LocalServer::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    server: &'a mut LocalServer,
}

impl Iterator for Incoming<'_> {
    type Item = Result<LocalSocket, ListenError>;

    fn next(&mut self) -> Option<Self::Item> {
        if !self.server.is_listening() {
            return None;
        }
        Some(self.server.accept())
    }
}
