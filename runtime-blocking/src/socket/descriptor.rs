//! Descriptors both ways: Qt's `setSocketDescriptor` and
//! `socketDescriptor()`, and the std handle traits.

use std::time::Duration;

use localsock_core::{Connection, State};
use localsock_os::descriptor::{BorrowedDescriptor, OwnedDescriptor};

use super::{LocalSocket, SendMode};
use crate::platform::Stream;

impl LocalSocket {
    localsock_core::qt_socket_descriptor_api! {
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
    }

    fn install_adopted(&mut self, adopted: impl FnOnce(Duration) -> Connection, stream: Stream) {
        self.conn = super::driven(adopted(self.now()));
        self.in_progress = self.conn.state() == State::Connecting;
        self.stream = Some(stream);
        self.send_mode = SendMode::Probe;
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

localsock_core::descriptor_traits!(impl[] LocalSocket, windows);
