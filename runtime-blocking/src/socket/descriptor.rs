//! Descriptors both ways: Qt's `setSocketDescriptor` and
//! `socketDescriptor()`, and the std handle traits.

use localsock_core::descriptor::{adopt_os_error, describe_socket, plan_adopt};
use localsock_core::{Connection, LocalSocketError, OpenMode, OsError, State};
use localsock_os::descriptor::{self as sys, BorrowedDescriptor, OwnedDescriptor};

use super::{LocalSocket, SendMode};
use crate::platform::Stream;

impl LocalSocket {
    /// Qt's `setSocketDescriptor(descriptor, state, openMode)`: adopts a
    /// connection made elsewhere, such as one end of a `socketpair`, a
    /// `UnixStream`, a descriptor passed by another process (Unix), or an
    /// overlapped pipe handle (Windows).
    ///
    /// `state` is Connected (no signal, as in Qt) or Connecting (the first
    /// wait reports `Connected`, as for a connect of this socket); `mode`
    /// is any open mode. The descriptor is made non-blocking and
    /// close-on-exec; the names come from its address (the peer's, else
    /// its own), as in Qt. Refused, with the descriptor closed: a socket
    /// that is not Unconnected, the states Unconnected and Closing, a
    /// descriptor without a peer (`Operation`), and anything that is not a
    /// connected local stream socket, including (Windows) a pipe handle
    /// not opened for overlapped I/O (`UnsupportedSocketOperation`).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use localsock_blocking::{LocalSocket, OpenMode, State};
    /// use std::io::{Read, Write};
    ///
    /// let (mine, mut theirs) = std::os::unix::net::UnixStream::pair()?;
    /// let mut socket = LocalSocket::new();
    /// socket.set_socket_descriptor(mine, State::Connected, OpenMode::ReadWrite)?;
    /// assert!(socket.socket_descriptor().is_some());
    /// socket.write_all(b"hi")?;
    /// socket.flush()?;
    /// let mut buf = [0; 2];
    /// theirs.read_exact(&mut buf)?;
    /// assert_eq!(&buf, b"hi");
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_socket_descriptor(
        &mut self,
        descriptor: impl Into<OwnedDescriptor>,
        state: State,
        mode: OpenMode,
    ) -> Result<(), LocalSocketError> {
        let descriptor = descriptor.into();
        let config = self.conn.config().clone();
        let platform = config.name_context.platform;
        let os_err = |e: &std::io::Error| adopt_os_error(OsError::from_io(e));
        let found = sys::inspect(borrow(&descriptor)).map_err(|e| os_err(&e))?;
        let state = plan_adopt(self.conn.state(), found.kind, state, mode, platform)?;
        sys::prepare(borrow(&descriptor)).map_err(|e| os_err(&e))?;
        let stream = adopt_stream(descriptor, found.server_end).map_err(|e| os_err(&e))?;
        let address = describe_socket(&found.peer, &found.local, platform);
        let now = self.now();
        self.conn = Connection::adopted(config, address.as_ref(), state, mode, now);
        self.stream = Some(stream);
        self.in_progress = state == State::Connecting;
        self.send_mode = SendMode::Probe;
        Ok(())
    }

    /// Qt's `socketDescriptor()`: the connected socket's descriptor (pipe
    /// handle on Windows), or `None` (Qt's -1) when there is none: while
    /// Unconnected, and while a connect is still under way.
    pub fn socket_descriptor(&self) -> Option<BorrowedDescriptor<'_>> {
        match &self.stream {
            Some(s) if !self.in_progress => Some(stream_descriptor(s)),
            _ => None,
        }
    }
}

#[cfg(unix)]
fn borrow(d: &OwnedDescriptor) -> BorrowedDescriptor<'_> {
    std::os::fd::AsFd::as_fd(d)
}

#[cfg(windows)]
fn borrow(d: &OwnedDescriptor) -> BorrowedDescriptor<'_> {
    std::os::windows::io::AsHandle::as_handle(d)
}

#[cfg(unix)]
fn adopt_stream(d: OwnedDescriptor, _server_end: bool) -> std::io::Result<Stream> {
    Ok(Stream::adopt(d))
}

#[cfg(windows)]
fn adopt_stream(d: OwnedDescriptor, server_end: bool) -> std::io::Result<Stream> {
    Stream::adopt(d, server_end)
}

#[cfg(unix)]
fn stream_descriptor(s: &Stream) -> BorrowedDescriptor<'_> {
    s.as_fd()
}

#[cfg(windows)]
fn stream_descriptor(s: &Stream) -> BorrowedDescriptor<'_> {
    s.as_handle()
}

/// The socket's descriptor; with none (see
/// [`socket_descriptor`](LocalSocket::socket_descriptor)), a process-wide
/// stand-in of `/dev/null`, since `AsFd` must lend an open descriptor.
#[cfg(unix)]
impl std::os::fd::AsFd for LocalSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self.socket_descriptor() {
            Some(d) => d,
            None => sys::no_descriptor(),
        }
    }
}

/// The socket's descriptor, or -1 (Qt's `socketDescriptor()`) when there
/// is none.
#[cfg(unix)]
impl std::os::fd::AsRawFd for LocalSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket_descriptor().map_or(-1, |fd| fd.as_raw_fd())
    }
}

/// The pipe handle; with none, a process-wide stand-in of the `NUL`
/// device, since `AsHandle` must lend an open handle.
#[cfg(windows)]
impl std::os::windows::io::AsHandle for LocalSocket {
    fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
        match self.socket_descriptor() {
            Some(d) => d,
            None => sys::no_descriptor(),
        }
    }
}

/// The pipe handle, or `INVALID_HANDLE_VALUE` (Qt's -1) when there is none.
#[cfg(windows)]
impl std::os::windows::io::AsRawHandle for LocalSocket {
    fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
        self.socket_descriptor()
            .map_or(usize::MAX as std::os::windows::io::RawHandle, |h| {
                h.as_raw_handle()
            })
    }
}
