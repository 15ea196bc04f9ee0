//! Descriptors both ways: Qt's `setSocketDescriptor` and
//! `socketDescriptor()`, and the std handle traits.

use std::time::Duration;

use localsock_core::Connection;
use localsock_os::descriptor::{BorrowedDescriptor, OwnedDescriptor};

use super::LocalSocket;
use crate::driver::Driver;
use crate::stream::Stream;
use crate::Runtime;

impl<R: Runtime> LocalSocket<R> {
    localsock_core::qt_socket_descriptor_api! {
        ///
        /// Synchronous, and needs no runtime context: the descriptor is
        /// registered with the reactor on the first wait, as any socket's.
    }

    fn install_adopted(&mut self, adopted: impl FnOnce(Duration) -> Connection, stream: Stream<R>) {
        let conn = adopted(self.driver.now());
        *self.driver = Driver::adopted(conn, stream);
    }

    /// Qt's `socketDescriptor()`: the connected socket's descriptor (pipe
    /// handle on Windows), or `None` (Qt's -1) when there is none: while
    /// Unconnected, and while a connect is still under way.
    pub fn socket_descriptor(&self) -> Option<BorrowedDescriptor<'_>> {
        self.driver.stream().and_then(stream_descriptor)
    }
}

#[cfg(unix)]
fn adopt_stream<R: Runtime>(d: OwnedDescriptor, _server_end: bool) -> std::io::Result<Stream<R>> {
    Ok(Stream::from_std(d.into()))
}

#[cfg(windows)]
fn adopt_stream<R: Runtime>(d: OwnedDescriptor, server_end: bool) -> std::io::Result<Stream<R>> {
    Stream::from_pipe(localsock_os::windows::PipeStream::from_handle(
        d, server_end,
    )?)
}

#[cfg(unix)]
fn stream_descriptor<R: Runtime>(s: &Stream<R>) -> Option<BorrowedDescriptor<'_>> {
    s.fd().ok()
}

#[cfg(windows)]
fn stream_descriptor<R: Runtime>(s: &Stream<R>) -> Option<BorrowedDescriptor<'_>> {
    Some(s.handle())
}

localsock_core::descriptor_traits!(impl[R: Runtime] LocalSocket<R>, windows);
