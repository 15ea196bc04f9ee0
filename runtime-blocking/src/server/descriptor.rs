//! Listening on a descriptor made elsewhere: Qt's `listen(qintptr)`,
//! systemd socket activation, `socketDescriptor()` and the std handle
//! traits.

#[cfg(unix)]
use super::Listener;
use super::LocalServer;

impl LocalServer {
    localsock_core::qt_server_descriptor_api! {
        listen_descriptor:
        ///
        /// ```
        /// # #[cfg(unix)] {
        /// use localsock_blocking::{LocalServer, LocalSocket};
        /// let path = std::env::temp_dir().join(format!("ls-doc-fd-{}", std::process::id()));
        /// let listener = std::os::unix::net::UnixListener::bind(&path)?;
        /// let mut server = LocalServer::new();
        /// server.listen_descriptor(listener)?;
        /// assert_eq!(server.full_server_name(), path.to_str().unwrap());
        /// let _client = LocalSocket::connect(path.to_str().unwrap())?;
        /// let _peer = server.accept()?;
        /// server.close();
        /// assert!(path.exists(), "not ours to remove");
        /// std::fs::remove_file(&path)?;
        /// # }
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        listen_activated:
        ///
        /// ```no_run
        /// use localsock_blocking::{ActivatedSocket, LocalServer};
        /// let mut server = LocalServer::new();
        /// server.listen_activated(&ActivatedSocket::Index(0))?;
        /// # Ok::<(), localsock_blocking::ListenError>(())
        /// ```
    }
}

#[cfg(unix)]
impl LocalServer {
    /// Qt's `socketDescriptor()`: the listening socket's descriptor, or
    /// `None` (Qt's -1) when not listening. (Unix only: a Windows pipe
    /// server has no single handle.)
    pub fn socket_descriptor(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.listener.as_ref().map(|l| l.as_fd())
    }
}

localsock_core::descriptor_traits!(impl[] LocalServer);
