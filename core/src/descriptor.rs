//! Descriptors made elsewhere: Qt's `QLocalSocket::setSocketDescriptor`,
//! `QLocalServer::listen(qintptr)` and systemd's socket activation, decided
//! without I/O.
//!
//! The OS layer inspects a descriptor and reports what it is
//! ([`DescriptorKind`]) and the raw address bytes the kernel gives; the
//! functions here decide whether it may be adopted, in which state, with
//! which names, and what error a refusal is.
//!
//! ```
//! use localsock_core::descriptor::{address_from_sockaddr, plan_adopt, DescriptorKind};
//! use localsock_core::{Address, OpenMode, Platform, State};
//!
//! let kind = DescriptorKind::LocalStream { listening: false, connected: true };
//! assert_eq!(plan_adopt(State::Unconnected, kind, State::Connected, OpenMode::ReadWrite, Platform::Linux), Ok(State::Connected));
//! // A listening socket is a server's, not a connection.
//! let listening = DescriptorKind::LocalStream { listening: true, connected: false };
//! assert!(plan_adopt(State::Unconnected, listening, State::Connected, OpenMode::ReadWrite, Platform::Linux).is_err());
//! // Names come from the address, as Qt's parser reads it.
//! assert_eq!(address_from_sockaddr(b"/run/app.sock\0", Platform::Linux), Some(Address::Path("/run/app.sock".into())));
//! assert_eq!(address_from_sockaddr(b"\0app", Platform::Linux), Some(Address::Abstract("app".into())));
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error::{ErrorSource, ListenError, LocalSocketError, ServerError, SocketError};
use crate::event::{OpenMode, State};
use crate::name::Address;
use crate::platform::Platform;

/// What the OS says a descriptor (Unix) or handle (Windows) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DescriptorKind {
    /// Not a socket (Unix) or not a pipe (Windows): a file, a FIFO, a
    /// device, …
    NotSocket,
    /// A socket of another family or type (a TCP socket, a datagram
    /// socket, …).
    OtherSocket,
    /// Windows: a pipe handle opened for synchronous I/O. Reads and writes
    /// on it are serialised by the system, so a read in flight blocks every
    /// write: full duplex deadlocks (Wine is lenient here, Windows is not).
    SynchronousPipe,
    /// A local stream socket (`AF_UNIX`, `SOCK_STREAM`), or on Windows an
    /// overlapped pipe handle.
    LocalStream {
        /// The socket is listening (`SO_ACCEPTCONN`).
        listening: bool,
        /// The socket has a peer (`getpeername` succeeds; on Windows the
        /// pipe is connected).
        connected: bool,
    },
}

fn socket_refusal(kind: SocketError, detail: &'static str) -> LocalSocketError {
    LocalSocketError::new(kind, ErrorSource::Socket).with_detail(detail)
}

/// Qt's `setSocketDescriptor(descriptor, state, mode)`, decided: the state
/// the adopted socket starts in, or why the descriptor is refused.
///
/// - A connected local stream socket is adopted **Connected** (no signal,
///   as in Qt), or **Connecting**: the first wait or poll then reports
///   `StateChanged(Connected)` and `Connected`, as for a connect this
///   socket started. A local connect completes at once (or fails), so
///   there is no half-made connection to adopt: a descriptor without a
///   peer is refused with `Operation` in both states.
/// - **Unconnected** and **Closing** are refused with `Operation`: Qt
///   accepts them and then holds a descriptor it never reads or writes
///   (docs/semantics.md, deliberate differences).
/// - Anything that is not a local stream socket, a listening socket, and
///   (Windows) a pipe handle not opened for overlapped I/O are refused
///   with `UnsupportedSocketOperation`, Qt's error for a descriptor its
///   socket engine cannot take.
///
/// Every open mode is accepted, as in Qt: the core enforces it (a
/// write-only socket reads and discards, to notice the end).
///
/// `current` is the adopting socket's own state: only an Unconnected
/// socket adopts (`Operation` otherwise; Qt silently drops the connection
/// it had).
pub fn plan_adopt(
    current: State,
    kind: DescriptorKind,
    state: State,
    _mode: OpenMode,
    platform: Platform,
) -> Result<State, LocalSocketError> {
    if current != State::Unconnected {
        return Err(socket_refusal(
            SocketError::Operation,
            "the socket already has a connection (abort or close it first)",
        ));
    }
    let connected = match kind {
        DescriptorKind::NotSocket if platform.is_windows() => {
            return Err(socket_refusal(
                SocketError::UnsupportedSocketOperation,
                "not a pipe handle",
            ))
        }
        DescriptorKind::NotSocket => {
            return Err(socket_refusal(
                SocketError::UnsupportedSocketOperation,
                "not a socket",
            ))
        }
        DescriptorKind::OtherSocket => {
            return Err(socket_refusal(
                SocketError::UnsupportedSocketOperation,
                "not a local stream socket (AF_UNIX, SOCK_STREAM)",
            ))
        }
        DescriptorKind::SynchronousPipe => {
            return Err(socket_refusal(
                SocketError::UnsupportedSocketOperation,
                "the pipe handle was not opened for overlapped I/O (FILE_FLAG_OVERLAPPED)",
            ))
        }
        DescriptorKind::LocalStream {
            listening: true, ..
        } => {
            return Err(socket_refusal(
                SocketError::UnsupportedSocketOperation,
                "a listening socket: a server's (listen_descriptor), not a connection",
            ))
        }
        DescriptorKind::LocalStream { connected, .. } => connected,
    };
    match state {
        State::Connected | State::Connecting if connected => Ok(state),
        State::Connected | State::Connecting => Err(socket_refusal(
            SocketError::Operation,
            "the descriptor has no peer (not connected)",
        )),
        State::Unconnected | State::Closing => Err(socket_refusal(
            SocketError::Operation,
            "a descriptor is adopted Connected or Connecting",
        )),
    }
}

fn listen_refusal(kind: ServerError, detail: &'static str) -> ListenError {
    ListenError::new(kind, ErrorSource::Listen).with_detail(detail)
}

/// Qt's `QLocalServer::listen(qintptr socketDescriptor)`, decided: `Ok`
/// when the descriptor is a listening local stream socket.
///
/// Unlike Qt, which returns true for any descriptor and then is not
/// listening, anything else is an error (`UnsupportedSocketOperation`):
/// not a socket, another family or type, or a socket that is not
/// listening. On Windows a pipe server has no single handle to listen on
/// (Qt's `listen(qintptr)` is unsupported there too): always refused.
pub fn plan_listen_descriptor(kind: DescriptorKind, platform: Platform) -> Result<(), ListenError> {
    use ServerError::UnsupportedSocketOperation as Unsupported;
    if platform.is_windows() {
        return Err(listen_refusal(
            Unsupported,
            "a Windows pipe server has no single handle to listen on",
        ));
    }
    match kind {
        DescriptorKind::LocalStream {
            listening: true, ..
        } => Ok(()),
        DescriptorKind::LocalStream { .. } => Err(listen_refusal(
            Unsupported,
            "the socket is not listening (call listen(2) on it first)",
        )),
        DescriptorKind::NotSocket | DescriptorKind::SynchronousPipe => {
            Err(listen_refusal(Unsupported, "not a socket"))
        }
        DescriptorKind::OtherSocket => Err(listen_refusal(
            Unsupported,
            "not a local stream socket (AF_UNIX, SOCK_STREAM)",
        )),
    }
}

/// The error for a descriptor the OS could not even inspect (closed:
/// `EBADF`, say), for a socket: `UnsupportedSocketOperation` with the OS
/// code, as Qt's socket engine reports a descriptor it cannot initialise.
pub fn adopt_os_error(os: crate::OsError) -> LocalSocketError {
    LocalSocketError::from_os(
        SocketError::UnsupportedSocketOperation,
        ErrorSource::Socket,
        os,
    )
    .with_detail("the descriptor cannot be inspected (is it open?)")
}

/// As [`adopt_os_error`], for a server's `listen_descriptor`.
pub fn listen_descriptor_os_error(os: crate::OsError) -> ListenError {
    ListenError::from_os(ErrorSource::Listen, os)
        .into_kind(ServerError::UnsupportedSocketOperation)
        .with_detail("the descriptor cannot be inspected (is it open?)")
}

/// Qt's `parseSockaddr`: the address a socket's `sun_path` bytes name (as
/// `getsockname`/`getpeername` return them, without the family), or `None`
/// when they name nothing (unbound) or are not valid text (Qt then leaves
/// the names empty too).
///
/// A leading NUL is the Linux abstract namespace (where NULs are
/// significant and kept); a path loses its trailing NULs, and one with a
/// NUL inside names nothing.
pub fn address_from_sockaddr(sun_path: &[u8], platform: Platform) -> Option<Address> {
    if sun_path.is_empty() {
        return None;
    }
    if sun_path[0] == 0 && platform.supports_abstract_namespace() {
        let name = core::str::from_utf8(&sun_path[1..]).ok()?;
        return (!name.is_empty()).then(|| Address::Abstract(name.into()));
    }
    let end = sun_path.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let path = core::str::from_utf8(&sun_path[..end]).ok()?;
    // A NUL inside is no path (a leading one where there is no abstract
    // namespace): no name, rather than a name that cannot be opened.
    (!path.is_empty() && !path.contains('\0')).then(|| Address::Path(path.into()))
}

/// Qt's `describeSocket`: the peer's address if the socket has a named
/// one, else its own (an accepted socket's peer is an unbound client; its
/// own address is the server's).
pub fn describe_socket(peer: &[u8], local: &[u8], platform: Platform) -> Option<Address> {
    address_from_sockaddr(peer, platform).or_else(|| address_from_sockaddr(local, platform))
}

// ---------------------------------------------------------------------------
// systemd socket activation (sd_listen_fds)

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: i32 = 3;

/// Which activated socket a server takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActivatedSocket {
    /// The `n`-th passed descriptor, from 0 (descriptor `3 + n`).
    Index(usize),
    /// The first descriptor with this name in `LISTEN_FDNAMES` (systemd's
    /// `FileDescriptorName=`, `systemd-socket-activate --fdname=`).
    Name(String),
}

/// The descriptors systemd passed to this process, read from the
/// environment by [`listen_fds`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenFds {
    count: usize,
    names: Vec<String>,
}

impl ListenFds {
    /// How many descriptors were passed (`3..3 + count`).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The raw descriptor numbers, in order.
    pub fn descriptors(&self) -> impl Iterator<Item = i32> {
        (0..self.count).map(|i| LISTEN_FDS_START + i as i32)
    }

    /// The name of the `i`-th descriptor (systemd says `"unknown"` when
    /// `LISTEN_FDNAMES` is unset).
    pub fn name(&self, i: usize) -> Option<&str> {
        self.names.get(i).map(String::as_str)
    }

    /// The index of the descriptor `which` names, or `HostNotFound` ("Name
    /// error") when there is none.
    pub fn select(&self, which: &ActivatedSocket) -> Result<usize, ListenError> {
        match which {
            ActivatedSocket::Index(i) if *i < self.count => Ok(*i),
            ActivatedSocket::Index(_) => Err(listen_refusal(
                ServerError::HostNotFound,
                "no activated socket with that index (LISTEN_FDS)",
            )),
            ActivatedSocket::Name(n) => self.names.iter().position(|m| m == n).ok_or_else(|| {
                listen_refusal(
                    ServerError::HostNotFound,
                    "no activated socket with that name (LISTEN_FDNAMES)",
                )
            }),
        }
    }
}

/// `sd_listen_fds_with_names` on the values of `LISTEN_PID`, `LISTEN_FDS`
/// and `LISTEN_FDNAMES` (each `None` when unset) for the process `pid`.
///
/// Errors (`HostNotFound`, "Name error"): not activated (`LISTEN_PID` or
/// `LISTEN_FDS` unset, or `LISTEN_PID` names another process: the
/// variables were inherited, not meant for us), or a value systemd would
/// reject as invalid (not a number, too many descriptors, a name count
/// that differs from `LISTEN_FDS`).
///
/// ```
/// use localsock_core::descriptor::{listen_fds, ActivatedSocket};
/// let fds = listen_fds(Some("42"), Some("2"), Some("ctl:data"), 42).unwrap();
/// assert_eq!(fds.descriptors().collect::<Vec<_>>(), [3, 4]);
/// assert_eq!(fds.select(&ActivatedSocket::Name("data".into())).unwrap(), 1);
/// assert!(listen_fds(Some("41"), Some("2"), None, 42).is_err(), "for another process");
/// ```
pub fn listen_fds(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    listen_fdnames: Option<&str>,
    pid: u32,
) -> Result<ListenFds, ListenError> {
    use ServerError::HostNotFound;
    let (Some(listen_pid), Some(listen_fds)) = (listen_pid, listen_fds) else {
        return Err(listen_refusal(
            HostNotFound,
            "not socket-activated (LISTEN_PID or LISTEN_FDS is unset)",
        ));
    };
    let Ok(owner) = listen_pid.parse::<u32>() else {
        return Err(listen_refusal(
            HostNotFound,
            "LISTEN_PID is not a process id",
        ));
    };
    if owner != pid {
        return Err(listen_refusal(
            HostNotFound,
            "not socket-activated (LISTEN_PID names another process)",
        ));
    }
    let count = match listen_fds.parse::<u32>() {
        // The descriptors must fit in an int after the first three.
        Ok(n) if n <= (i32::MAX - LISTEN_FDS_START) as u32 => n as usize,
        _ => {
            return Err(listen_refusal(
                HostNotFound,
                "LISTEN_FDS is not a valid count",
            ))
        }
    };
    let names: Vec<String> = match listen_fdnames {
        None => (0..count).map(|_| "unknown".to_string()).collect(),
        Some("") if count == 0 => Vec::new(),
        Some(s) => s.split(':').map(ToString::to_string).collect(),
    };
    if names.len() != count {
        return Err(listen_refusal(
            HostNotFound,
            "LISTEN_FDNAMES does not name every descriptor of LISTEN_FDS",
        ));
    }
    Ok(ListenFds { count, names })
}

/// The part of Qt's descriptor API that every runtime's `LocalServer`
/// shares word for word: `listen_descriptor` (Qt's `listen(qintptr)`) and,
/// on Unix, `listen_activated`.
///
/// For runtime crates: expanded inside `impl LocalServer { … }` next to
/// [`qt_server_api!`](crate::qt_server_api), with the same fields, and on
/// Unix `Listener::adopt(OwnedFd) -> io::Result<Listener>` in scope. The doc lines
/// after `listen_descriptor:` and `listen_activated:` are appended to those
/// methods' docs (a runtime's own examples).
#[doc(hidden)]
#[macro_export]
macro_rules! qt_server_descriptor_api {
    (
        listen_descriptor: $(#[$descriptor_doc:meta])*
        listen_activated: $(#[$activated_doc:meta])*
    ) => {
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
        $(#[$descriptor_doc])*
        pub fn listen_descriptor(
            &mut self,
            descriptor: impl Into<localsock_os::descriptor::OwnedDescriptor>,
        ) -> Result<(), $crate::ListenError> {
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
        fn adopt_listener(
            &mut self,
            descriptor: localsock_os::descriptor::OwnedDescriptor,
        ) -> Result<(), $crate::ListenError> {
            use localsock_os::descriptor as sys;
            use std::os::fd::AsFd;
            use $crate::descriptor::{describe_socket, listen_descriptor_os_error};
            let platform = self.config.name_context.platform;
            let os_err = |e: &std::io::Error| listen_descriptor_os_error($crate::OsError::from_io(e));
            let found = sys::inspect(descriptor.as_fd()).map_err(|e| os_err(&e))?;
            $crate::descriptor::plan_listen_descriptor(found.kind, platform)?;
            sys::prepare(descriptor.as_fd()).map_err(|e| os_err(&e))?;
            let listener = Listener::adopt(descriptor).map_err(|e| os_err(&e))?;
            self.core
                .listen_descriptor(describe_socket(&[], &found.local, platform))?;
            self.listener = Some(listener);
            self.core.handle_listening();
            Ok(())
        }

        /// Windows: always refused (see `listen_descriptor`); the handle is
        /// closed.
        #[cfg(windows)]
        fn adopt_listener(
            &mut self,
            descriptor: localsock_os::descriptor::OwnedDescriptor,
        ) -> Result<(), $crate::ListenError> {
            use std::os::windows::io::AsHandle;
            let platform = self.config.name_context.platform;
            let found = localsock_os::descriptor::inspect(descriptor.as_handle()).map_err(|e| {
                $crate::descriptor::listen_descriptor_os_error($crate::OsError::from_io(&e))
            })?;
            $crate::descriptor::plan_listen_descriptor(found.kind, platform)
        }

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
        $(#[$activated_doc])*
        #[cfg(unix)]
        pub fn listen_activated(
            &mut self,
            which: &$crate::descriptor::ActivatedSocket,
        ) -> Result<(), $crate::ListenError> {
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
    };
}

/// Qt's `setSocketDescriptor` as every runtime's `LocalSocket` has it: the
/// descriptor is inspected, the core decides ([`plan_adopt`]), and only
/// then is it prepared and wrapped.
///
/// For runtime crates: expanded inside `impl LocalSocket { … }`, with in
/// scope `adopt_stream(OwnedDescriptor, server_end: bool) ->
/// io::Result<Stream>` and the methods `connection(&self) -> &Connection`
/// (public on every runtime) and `install_adopted(&mut self, impl FnOnce(now) -> Connection,
/// Stream)`, which puts the adopted connection in place on the socket's
/// clock. The doc lines given are appended to the method's docs.
#[doc(hidden)]
#[macro_export]
macro_rules! qt_socket_descriptor_api {
    ($(#[$doc:meta])*) => {
        /// Qt's `setSocketDescriptor(descriptor, state, openMode)`: adopts a
        /// connection made elsewhere, such as one end of a `socketpair`, a
        /// `UnixStream`, a descriptor passed by another process (Unix), or an
        /// overlapped pipe handle (Windows).
        ///
        /// `state` is Connected (no signal, as in Qt) or Connecting (the
        /// next wait reports `Connected`, as for a connect of this socket);
        /// `mode` is any open mode. The descriptor is made non-blocking and
        /// close-on-exec; the names come from its address (the peer's, else
        /// its own), as in Qt. Refused, with the descriptor closed: a socket
        /// that is not Unconnected, the states Unconnected and Closing, a
        /// descriptor without a peer (`Operation`), and anything that is not a
        /// connected local stream socket, including (Windows) a pipe handle
        /// not opened for overlapped I/O (`UnsupportedSocketOperation`).
        $(#[$doc])*
        pub fn set_socket_descriptor(
            &mut self,
            descriptor: impl Into<localsock_os::descriptor::OwnedDescriptor>,
            state: $crate::State,
            mode: $crate::OpenMode,
        ) -> Result<(), $crate::LocalSocketError> {
            use localsock_os::descriptor as sys;
            use $crate::descriptor::{adopt_os_error, describe_socket, plan_adopt};
            let descriptor = descriptor.into();
            let config = self.connection().config().clone();
            let platform = config.name_context.platform;
            let os_err = |e: &std::io::Error| adopt_os_error($crate::OsError::from_io(e));
            let found = sys::inspect(sys::borrow(&descriptor)).map_err(|e| os_err(&e))?;
            let current = self.connection().state();
            let state = plan_adopt(current, found.kind, state, mode, platform)?;
            sys::prepare(sys::borrow(&descriptor)).map_err(|e| os_err(&e))?;
            let stream = adopt_stream(descriptor, found.server_end).map_err(|e| os_err(&e))?;
            let address = describe_socket(&found.peer, &found.local, platform);
            let adopted = |now| $crate::Connection::adopted(config, address.as_ref(), state, mode, now);
            self.install_adopted(adopted, stream);
            Ok(())
        }
    };
}

/// The std handle traits over a runtime's `socket_descriptor() ->
/// Option<BorrowedDescriptor>` (Qt's `socketDescriptor()`): `AsFd` and
/// `AsRawFd` on Unix, and with `, windows` also `AsHandle` and
/// `AsRawHandle` (a socket; a Windows pipe server has no single handle).
///
/// For runtime crates: `impl[generics] Type`, e.g.
/// `descriptor_traits!(impl[R: Runtime] LocalSocket<R>, windows)`; the
/// crate depends on `localsock_os` (for the stand-in descriptor).
#[doc(hidden)]
#[macro_export]
macro_rules! descriptor_traits {
    (impl[$($g:tt)*] $ty:ty) => {
        /// The descriptor of `socket_descriptor()`; with none, a process-wide
        /// stand-in of `/dev/null`, since `AsFd` must lend an open descriptor.
        #[cfg(unix)]
        impl<$($g)*> std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                match self.socket_descriptor() {
                    Some(d) => d,
                    None => localsock_os::descriptor::no_descriptor(),
                }
            }
        }

        /// The descriptor of `socket_descriptor()`, or -1 (Qt's
        /// `socketDescriptor()`) when there is none.
        #[cfg(unix)]
        impl<$($g)*> std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.socket_descriptor().map_or(-1, |fd| fd.as_raw_fd())
            }
        }
    };
    (impl[$($g:tt)*] $ty:ty, windows) => {
        $crate::descriptor_traits!(impl[$($g)*] $ty);

        /// The pipe handle; with none, a process-wide stand-in of the `NUL`
        /// device, since `AsHandle` must lend an open handle.
        #[cfg(windows)]
        impl<$($g)*> std::os::windows::io::AsHandle for $ty {
            fn as_handle(&self) -> std::os::windows::io::BorrowedHandle<'_> {
                match self.socket_descriptor() {
                    Some(d) => d,
                    None => localsock_os::descriptor::no_descriptor(),
                }
            }
        }

        /// The pipe handle, or `INVALID_HANDLE_VALUE` (Qt's -1) when there is
        /// none.
        #[cfg(windows)]
        impl<$($g)*> std::os::windows::io::AsRawHandle for $ty {
            fn as_raw_handle(&self) -> std::os::windows::io::RawHandle {
                self.socket_descriptor()
                    .map_or(usize::MAX as std::os::windows::io::RawHandle, |h| {
                        h.as_raw_handle()
                    })
            }
        }
    };
}
