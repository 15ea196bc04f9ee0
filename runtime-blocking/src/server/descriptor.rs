//! Listening on a descriptor made elsewhere: Qt's `listen(qintptr)`,
//! systemd socket activation, `socketDescriptor()` and the std handle
//! traits.

#[cfg(unix)]
use localsock_core::descriptor::describe_socket;
use localsock_core::descriptor::{listen_descriptor_os_error, plan_listen_descriptor};
use localsock_core::{ListenError, OsError};
use localsock_os::descriptor::{self as sys, OwnedDescriptor};

use super::LocalServer;

impl LocalServer {
    /// Qt's `listen(qintptr socketDescriptor)`: serves on a socket that is
    /// already bound and listening (made by the caller, inherited, or
    /// passed by another process).
    ///
    /// The descriptor is made non-blocking and close-on-exec. The names
    /// come from its address as in Qt: `full_server_name` is the path (or
    /// the abstract name) and `server_name` its last component.
    /// [`close`](Self::close) never removes the socket file: it was not
    /// created here. Unlike Qt, which returns true for any descriptor and
    /// then is not listening, anything but a listening `AF_UNIX` stream
    /// socket is an error (`UnsupportedSocketOperation`), as is every
    /// descriptor on Windows, where a pipe server has no single handle.
    /// The error is recorded, as for [`listen`](Self::listen).
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
    pub fn listen_descriptor(
        &mut self,
        descriptor: impl Into<OwnedDescriptor>,
    ) -> Result<(), ListenError> {
        let descriptor = descriptor.into();
        if self.core.is_listening() {
            return self.core.listen_descriptor(None);
        }
        match self.adopt_listener(descriptor) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.core.handle_listen_error(e.clone());
                Err(e)
            }
        }
    }

    #[cfg(unix)]
    fn adopt_listener(&mut self, descriptor: OwnedDescriptor) -> Result<(), ListenError> {
        use std::os::fd::AsFd;
        let platform = self.config.name_context.platform;
        let os_err = |e: &std::io::Error| listen_descriptor_os_error(OsError::from_io(e));
        let found = sys::inspect(descriptor.as_fd()).map_err(|e| os_err(&e))?;
        plan_listen_descriptor(found.kind, platform)?;
        sys::prepare(descriptor.as_fd()).map_err(|e| os_err(&e))?;
        self.core
            .listen_descriptor(describe_socket(&[], &found.local, platform))?;
        self.listener = Some(crate::platform::Listener::adopt(descriptor));
        self.core.handle_listening();
        Ok(())
    }

    /// Windows: always refused (see `listen_descriptor`); the handle is
    /// closed.
    #[cfg(windows)]
    fn adopt_listener(&mut self, descriptor: OwnedDescriptor) -> Result<(), ListenError> {
        use std::os::windows::io::AsHandle;
        let platform = self.config.name_context.platform;
        let found = sys::inspect(descriptor.as_handle())
            .map_err(|e| listen_descriptor_os_error(OsError::from_io(&e)))?;
        plan_listen_descriptor(found.kind, platform)
    }
}

#[cfg(unix)]
impl LocalServer {
    /// Listens on a socket passed by systemd socket activation
    /// (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`; `sd_listen_fds`), by
    /// index or by name, as [`listen_descriptor`](Self::listen_descriptor)
    /// does.
    ///
    /// The variables are read once per process and each passed descriptor
    /// is handed out once (a second take is `AddressInUse`); they are not
    /// unset, since changing the environment races with other threads, and
    /// `LISTEN_PID` already keeps children from taking them (see
    /// `localsock_os::activation`). Not activated, or no such socket:
    /// `HostNotFound`.
    ///
    /// ```no_run
    /// use localsock_blocking::{ActivatedSocket, LocalServer};
    /// let mut server = LocalServer::new();
    /// server.listen_activated(&ActivatedSocket::Index(0))?;
    /// # Ok::<(), localsock_blocking::ListenError>(())
    /// ```
    pub fn listen_activated(
        &mut self,
        which: &localsock_core::descriptor::ActivatedSocket,
    ) -> Result<(), ListenError> {
        if self.core.is_listening() {
            return self.core.listen_descriptor(None);
        }
        match localsock_os::activation::take_activated(which) {
            Ok(fd) => self.listen_descriptor(fd),
            Err(e) => {
                self.core.handle_listen_error(e.clone());
                Err(e)
            }
        }
    }

    /// Qt's `socketDescriptor()`: the listening socket's descriptor, or
    /// `None` (Qt's -1) when not listening. (Unix only: a Windows pipe
    /// server has no single handle.)
    pub fn socket_descriptor(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.listener.as_ref().map(|l| l.as_fd())
    }
}

/// The listening descriptor; when not listening, a process-wide stand-in
/// of `/dev/null`, since `AsFd` must lend an open descriptor.
#[cfg(unix)]
impl std::os::fd::AsFd for LocalServer {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self.socket_descriptor() {
            Some(d) => d,
            None => sys::no_descriptor(),
        }
    }
}

/// The listening descriptor, or -1 (Qt's `socketDescriptor()`) when not
/// listening.
#[cfg(unix)]
impl std::os::fd::AsRawFd for LocalServer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.socket_descriptor().map_or(-1, |fd| fd.as_raw_fd())
    }
}
