//! Listening on a descriptor made elsewhere: Qt's `listen(qintptr)`,
//! systemd socket activation, `socketDescriptor()` and the std handle
//! traits.

#[cfg(unix)]
use super::Listener;
use super::LocalServer;
use crate::Runtime;

impl<R: Runtime> LocalServer<R> {
    localsock_core::qt_server_descriptor_api! {
        listen_descriptor:
        listen_activated:
    }
}

#[cfg(unix)]
impl<R: Runtime> LocalServer<R> {
    /// Qt's `socketDescriptor()`: the listening socket's descriptor, or
    /// `None` (Qt's -1) when not listening. (Unix only: a Windows pipe
    /// server has no single handle.)
    pub fn socket_descriptor(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.listener.as_ref().and_then(|l| l.fd().ok())
    }
}

localsock_core::descriptor_traits!(impl[R: Runtime] LocalServer<R>);
