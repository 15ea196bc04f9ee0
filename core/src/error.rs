//! Qt's error categories, the tables that map OS codes onto them, and Qt's
//! texts.
//!
//! Three tables live here and nowhere else: OS code → [`SocketError`] for a
//! connect, for live I/O and (for servers) OS code → [`ServerError`]; and,
//! with the `std` feature, [`SocketError`] → `std::io::ErrorKind` for the
//! runtimes' I/O traits.

use alloc::string::String;
use core::fmt;

use crate::os::{OsCode, OsError};
use crate::platform::Platform;

/// `QLocalSocket::LocalSocketError`, with Qt's numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum SocketError {
    /// The server refused the connection (a stale socket file, or nobody listening).
    ConnectionRefused = 0,
    /// The peer closed the connection.
    PeerClosed = 1,
    /// No server by that name, or the name is invalid.
    ServerNotFound = 2,
    /// Not permitted to reach the server.
    SocketAccess = 3,
    /// Out of a resource: file descriptors, memory, buffers.
    SocketResource = 4,
    /// An operation timed out.
    SocketTimeout = 5,
    /// A message was too large.
    DatagramTooLarge = 6,
    /// The connection failed.
    Connection = 7,
    /// The OS does not support the operation.
    UnsupportedSocketOperation = 10,
    /// The operation is not permitted in the socket's current state.
    Operation = 19,
    /// Anything else.
    Unknown = -1,
}

impl SocketError {
    /// Qt's text for this error, without the function prefix.
    pub fn text(self, platform: Platform) -> &'static str {
        match self {
            SocketError::ConnectionRefused => "Connection refused",
            SocketError::PeerClosed => "Remote closed",
            SocketError::ServerNotFound => "Invalid name",
            SocketError::SocketAccess if platform.is_windows() => "Access denied",
            SocketError::SocketAccess => "Socket access error",
            SocketError::SocketResource => "Socket resource error",
            SocketError::SocketTimeout => "Socket operation timed out",
            SocketError::DatagramTooLarge => "Datagram too large",
            SocketError::Connection => "Connection error",
            SocketError::UnsupportedSocketOperation => "The socket operation is not supported",
            SocketError::Operation => "Operation not permitted when socket is in this state",
            SocketError::Unknown => "Unknown error",
        }
    }

    /// The `std::io::ErrorKind` the runtimes' I/O traits report for this error.
    #[cfg(feature = "std")]
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            SocketError::ConnectionRefused => K::ConnectionRefused,
            SocketError::PeerClosed => K::ConnectionReset,
            SocketError::ServerNotFound => K::NotFound,
            SocketError::SocketAccess => K::PermissionDenied,
            SocketError::SocketResource => K::OutOfMemory,
            SocketError::SocketTimeout => K::TimedOut,
            SocketError::DatagramTooLarge => K::InvalidInput,
            SocketError::Connection => K::ConnectionAborted,
            SocketError::UnsupportedSocketOperation => K::Unsupported,
            SocketError::Operation => K::NotConnected,
            SocketError::Unknown => K::Other,
        }
    }
}

/// `QAbstractSocket::SocketError` as `QLocalServer::serverError()` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ServerError {
    /// The name is invalid or its directory is missing (Qt: `HostNotFoundError`).
    HostNotFound = 2,
    /// Not permitted to create the socket or pipe.
    SocketAccess = 3,
    /// Out of file descriptors or memory.
    SocketResource = 4,
    /// A live server (or, with reclaiming off, a leftover file) holds the name.
    AddressInUse = 8,
    /// A wait for a new connection timed out (Qt's `SocketTimeoutError`;
    /// Qt's `waitForNewConnection` reports it through its `timedOut`
    /// argument and does not record it, and neither do we: a server's
    /// `server_error()` never returns it).
    SocketTimeout = 5,
    /// The OS does not support the operation.
    UnsupportedSocketOperation = 10,
    /// Anything else.
    Unknown = -1,
}

impl ServerError {
    /// Qt's text for this error, without the function prefix.
    pub fn text(self) -> &'static str {
        match self {
            ServerError::HostNotFound => "Name error",
            ServerError::SocketAccess => "Permission denied",
            ServerError::SocketResource => "Out of resources",
            ServerError::AddressInUse => "Address in use",
            ServerError::SocketTimeout => "Socket operation timed out",
            ServerError::UnsupportedSocketOperation => "The socket operation is not supported",
            ServerError::Unknown => "Unknown error",
        }
    }

    /// The `std::io::ErrorKind` for this error.
    #[cfg(feature = "std")]
    pub fn io_kind(self) -> std::io::ErrorKind {
        use std::io::ErrorKind as K;
        match self {
            ServerError::HostNotFound => K::NotFound,
            ServerError::SocketAccess => K::PermissionDenied,
            ServerError::SocketResource => K::OutOfMemory,
            ServerError::AddressInUse => K::AddrInUse,
            ServerError::SocketTimeout => K::TimedOut,
            ServerError::UnsupportedSocketOperation => K::Unsupported,
            ServerError::Unknown => K::Other,
        }
    }
}

/// What the core makes of an OS error reported for a connect attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectVerdict {
    /// Transient (full backlog, all pipe instances busy): retry until the deadline.
    Retry,
    /// The connect is under way (`EINPROGRESS`): wait for writability.
    InProgress,
    /// Interrupted: try again at once.
    Interrupted,
    /// The connect failed.
    Fail(SocketError),
}

/// Qt's connect-time mapping (`QLocalSocket::connectToServer`), plus our
/// decisions: descriptor exhaustion is `SocketResource`.
pub fn classify_connect_error(err: OsError) -> ConnectVerdict {
    use OsCode::*;
    match err.code() {
        Some(Again | PipeBusy) => ConnectVerdict::Retry,
        Some(InProgress) => ConnectVerdict::InProgress,
        Some(Intr) => ConnectVerdict::Interrupted,
        Some(Inval | ConnRefused) => ConnectVerdict::Fail(SocketError::ConnectionRefused),
        Some(NoEnt | FileNotFound | PathNotFound | InvalidName | BadPathname) => {
            ConnectVerdict::Fail(SocketError::ServerNotFound)
        }
        Some(Acces | Perm | AccessDenied) => ConnectVerdict::Fail(SocketError::SocketAccess),
        Some(TimedOut) => ConnectVerdict::Fail(SocketError::SocketTimeout),
        Some(
            MFile | NFile | NoBufs | NoMem | TooManyOpenFiles | NotEnoughMemory | NoSystemResources,
        ) => ConnectVerdict::Fail(SocketError::SocketResource),
        Some(BrokenPipe | NoData | PipeNotConnected | SemTimeout) => {
            ConnectVerdict::Fail(SocketError::Connection)
        }
        _ => ConnectVerdict::Fail(SocketError::Unknown),
    }
}

/// Which direction of a live connection an I/O error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A read (recv / `ReadFile`).
    Read,
    /// A write (send / `WriteFile`).
    Write,
}

/// What the core makes of an OS error on a live connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoVerdict {
    /// Not an error: would block or interrupted; try again later.
    Retry,
    /// The connection is over, with this error.
    Fatal(SocketError),
}

/// Qt's mapping for errors on a live connection (QAbstractSocket's, then
/// cast to `LocalSocketError`).
pub fn classify_io_error(direction: Direction, err: OsError) -> IoVerdict {
    use OsCode::*;
    match (direction, err.code()) {
        (_, Some(Again | Intr | IoPending)) => IoVerdict::Retry,
        // A pipe reader tolerates ERROR_MORE_DATA (a message pipe's partial
        // read), as Qt's QWindowsPipeReader does: the bytes read are valid.
        (Direction::Read, Some(MoreData)) => IoVerdict::Retry,
        (_, Some(ConnReset | Pipe | BrokenPipe | NoData | PipeNotConnected | NotConn)) => {
            IoVerdict::Fatal(SocketError::PeerClosed)
        }
        (_, Some(TimedOut | SemTimeout)) => IoVerdict::Fatal(SocketError::SocketTimeout),
        (Direction::Write, Some(MsgSize)) => IoVerdict::Fatal(SocketError::DatagramTooLarge),
        (_, Some(NoBufs | NoMem | NotEnoughMemory | NoSystemResources)) => {
            IoVerdict::Fatal(SocketError::SocketResource)
        }
        (_, Some(Acces | Perm | AccessDenied)) => IoVerdict::Fatal(SocketError::SocketAccess),
        _ => IoVerdict::Fatal(SocketError::Connection),
    }
}

/// Qt's `QLocalServer::listen` mapping (`setError`), plus our decision that
/// descriptor exhaustion is `SocketResource`.
pub fn classify_listen_error(err: OsError) -> ServerError {
    use OsCode::*;
    match err.code() {
        Some(Acces | Perm | AccessDenied) => ServerError::SocketAccess,
        Some(
            Loop | NoEnt | NameTooLong | RoFs | NotDir | PathNotFound | InvalidName | BadPathname,
        ) => ServerError::HostNotFound,
        // Every instance of the pipe name is taken: another server owns it.
        Some(AddrInUse | Exist | AlreadyExists | PipeBusy) => ServerError::AddressInUse,
        Some(
            MFile | NFile | NoBufs | NoMem | TooManyOpenFiles | NotEnoughMemory | NoSystemResources,
        ) => ServerError::SocketResource,
        _ => ServerError::Unknown,
    }
}

/// The step of a listen an OS error came from. The OS layer reports it
/// with the raw error; the core classifies the pair, since some codes mean
/// something else at some steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenStage {
    /// Creating the socket (`socket(2)`).
    Socket,
    /// Binding the name: `bind(2)`, the private temp directory, or the name
    /// being taken (`EADDRINUSE`).
    Bind,
    /// `listen(2)`.
    Listen,
    /// Giving the socket its access: `chmod(2)`, or a pipe's security
    /// descriptor.
    Permissions,
    /// Moving the socket file into place (`link` / `rename`).
    Rename,
    /// The liveness probe of an existing socket failed in an unexpected way
    /// (neither refused nor accepted), so it was left alone.
    Probe,
    /// Creating the first instance of a Windows pipe with
    /// `FILE_FLAG_FIRST_PIPE_INSTANCE`: "access denied" there means another
    /// server owns the name.
    FirstPipeInstance,
    /// Creating a further instance of a Windows pipe.
    PipeInstance,
}

/// The Qt function an error is attributed to; it becomes the prefix of
/// `LocalSocketError`'s text (its `Display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorSource {
    /// `QLocalSocket::connectToServer`: anything during a connect.
    ConnectToServer,
    /// `QLocalSocket::waitForConnected`: a wait primitive failed.
    WaitForConnected,
    /// `QLocalSocket`: errors of the live connection.
    Socket,
    /// `QLocalServer::listen`.
    Listen,
    /// `QLocalServer::waitForNewConnection`: a wait primitive failed.
    WaitForNewConnection,
    /// `QLocalServer::nextPendingConnection`: accept failed.
    Accept,
}

impl ErrorSource {
    /// The function name Qt prints before the error text.
    pub fn prefix(self) -> &'static str {
        match self {
            ErrorSource::ConnectToServer => "QLocalSocket::connectToServer",
            ErrorSource::WaitForConnected => "QLocalSocket::waitForConnected",
            ErrorSource::Socket => "QLocalSocket",
            ErrorSource::Listen => "QLocalServer::listen",
            ErrorSource::WaitForNewConnection => "QLocalServer::waitForNewConnection",
            ErrorSource::Accept => "QLocalServer::nextPendingConnection",
        }
    }
}

/// A socket error with its context: what `error()` and `error_string()`
/// report, and what the runtimes return as their error type.
///
/// ```
/// use localsock_core::{LocalSocketError, SocketError, ErrorSource, Platform};
/// let e = LocalSocketError::new(SocketError::ConnectionRefused, ErrorSource::ConnectToServer);
/// assert_eq!(e.to_string(), "QLocalSocket::connectToServer: Connection refused");
/// assert_eq!(e.kind(), SocketError::ConnectionRefused);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSocketError {
    kind: SocketError,
    source: ErrorSource,
    os: Option<OsError>,
    detail: Option<&'static str>,
    platform: Platform,
}

impl LocalSocketError {
    /// An error without an OS code.
    pub fn new(kind: SocketError, source: ErrorSource) -> Self {
        LocalSocketError {
            kind,
            source,
            os: None,
            detail: None,
            platform: Platform::CURRENT,
        }
    }

    /// An error caused by the OS code `os`.
    pub fn from_os(kind: SocketError, source: ErrorSource, os: OsError) -> Self {
        LocalSocketError {
            os: Some(os),
            platform: os.platform(),
            ..Self::new(kind, source)
        }
    }

    /// Adds a short explanation printed after Qt's text.
    pub fn with_detail(mut self, detail: &'static str) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Uses `platform`'s wording (Windows says "Access denied").
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = platform;
        self
    }

    /// Qt's category.
    pub fn kind(&self) -> SocketError {
        self.kind
    }

    /// The Qt function the error is attributed to.
    pub fn source(&self) -> ErrorSource {
        self.source
    }

    /// The OS code behind the error, if any.
    pub fn os_error(&self) -> Option<OsError> {
        self.os
    }
}

impl LocalSocketError {
    /// The short explanation our `Display` adds after Qt's text, if any.
    pub fn detail(&self) -> Option<&'static str> {
        self.detail
    }

    /// Qt's `errorString()` text, exactly: the function prefix and Qt's
    /// wording, without our detail (which `Display` adds).
    ///
    /// ```
    /// use localsock_core::{ErrorSource, LocalSocketError, SocketError};
    /// let e = LocalSocketError::new(SocketError::SocketTimeout, ErrorSource::ConnectToServer)
    ///     .with_detail("the server did not accept in time");
    /// assert_eq!(e.qt_text(), "QLocalSocket::connectToServer: Socket operation timed out");
    /// assert!(e.to_string().ends_with("(the server did not accept in time)"));
    /// ```
    pub fn qt_text(&self) -> String {
        use alloc::string::ToString;
        QtText(self).to_string()
    }
}

/// Qt's wording of a socket error, without our detail.
struct QtText<'a>(&'a LocalSocketError);

impl fmt::Display for QtText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(f, "{}: {}", e.source.prefix(), e.kind.text(e.platform))?;
        if e.kind == SocketError::Unknown {
            if let Some(os) = e.os {
                write!(f, " {}", os.raw())?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for LocalSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        QtText(self).fmt(f)?;
        if let Some(detail) = self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl core::error::Error for LocalSocketError {}

#[cfg(feature = "std")]
impl From<LocalSocketError> for std::io::Error {
    fn from(e: LocalSocketError) -> Self {
        std::io::Error::new(e.kind.io_kind(), e)
    }
}

/// A server error with its context: what `server_error()` and
/// `error_string()` report.
///
/// ```
/// use localsock_core::{ListenError, ServerError, ErrorSource};
/// let e = ListenError::new(ServerError::AddressInUse, ErrorSource::Listen);
/// assert_eq!(e.to_string(), "QLocalServer::listen: Address in use");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenError {
    kind: ServerError,
    source: ErrorSource,
    os: Option<OsError>,
    detail: Option<&'static str>,
}

impl ListenError {
    /// An error without an OS code.
    pub fn new(kind: ServerError, source: ErrorSource) -> Self {
        ListenError {
            kind,
            source,
            os: None,
            detail: None,
        }
    }

    /// An error mapped from the OS code `os` through Qt's listen table.
    pub fn from_os(source: ErrorSource, os: OsError) -> Self {
        ListenError {
            os: Some(os),
            ..Self::new(classify_listen_error(os), source)
        }
    }

    /// An error of `stage` mapped from the OS code `os`: Qt's listen table,
    /// except where the stage changes a code's meaning.
    ///
    /// ```
    /// use localsock_core::{ErrorSource, ListenError, ListenStage, OsError, Platform, ServerError};
    /// let denied = OsError::new(Platform::Windows, 5); // ERROR_ACCESS_DENIED
    /// let e = ListenError::from_os_at(ListenStage::FirstPipeInstance, denied);
    /// assert_eq!(e.kind(), ServerError::AddressInUse);
    /// let e = ListenError::from_os_at(ListenStage::PipeInstance, denied);
    /// assert_eq!(e.kind(), ServerError::SocketAccess);
    /// ```
    pub fn from_os_at(stage: ListenStage, os: OsError) -> Self {
        let e = Self::from_os(ErrorSource::Listen, os);
        match (stage, os.code()) {
            (ListenStage::FirstPipeInstance, Some(OsCode::AccessDenied)) => e
                .with_detail("another server owns this pipe name")
                .into_kind(ServerError::AddressInUse),
            _ => e,
        }
    }

    /// Adds a short explanation printed after Qt's text.
    pub fn with_detail(mut self, detail: &'static str) -> Self {
        self.detail = Some(detail);
        self
    }

    /// Replaces the category, keeping the OS code (for a platform whose
    /// code is ambiguous, such as a pipe server's "access denied" that
    /// means the name is taken).
    pub fn into_kind(mut self, kind: ServerError) -> Self {
        self.kind = kind;
        self
    }

    /// Qt's category.
    pub fn kind(&self) -> ServerError {
        self.kind
    }

    /// The Qt function the error is attributed to.
    pub fn source(&self) -> ErrorSource {
        self.source
    }

    /// The OS code behind the error, if any.
    pub fn os_error(&self) -> Option<OsError> {
        self.os
    }
}

impl ListenError {
    /// The short explanation our `Display` adds after Qt's text, if any.
    pub fn detail(&self) -> Option<&'static str> {
        self.detail
    }

    /// Qt's `errorString()` text, exactly, without our detail.
    ///
    /// ```
    /// use localsock_core::{ErrorSource, ListenError, ServerError};
    /// let e = ListenError::new(ServerError::HostNotFound, ErrorSource::Listen)
    ///     .with_detail("name too long");
    /// assert_eq!(e.qt_text(), "QLocalServer::listen: Name error");
    /// ```
    pub fn qt_text(&self) -> String {
        use alloc::string::ToString;
        ListenQtText(self).to_string()
    }
}

/// Qt's wording of a server error, without our detail.
struct ListenQtText<'a>(&'a ListenError);

impl fmt::Display for ListenQtText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        write!(f, "{}: {}", e.source.prefix(), e.kind.text())?;
        if e.kind == ServerError::Unknown {
            if let Some(os) = e.os {
                write!(f, " {}", os.raw())?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ListenQtText(self).fmt(f)?;
        if let Some(detail) = self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl core::error::Error for ListenError {}

#[cfg(feature = "std")]
impl From<ListenError> for std::io::Error {
    fn from(e: ListenError) -> Self {
        std::io::Error::new(e.kind.io_kind(), e)
    }
}

/// `QIODevice`-level refusals: the call was not valid for the device's open
/// mode or state. Qt returns -1 and prints a warning; we return this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceError {
    /// The device is not open (never connected, or closed).
    NotOpen,
    /// A read on a device opened write-only.
    WriteOnly,
    /// A write on a device opened read-only.
    ReadOnly,
    /// A write after the connection ended (the device is still open so that
    /// buffered data can be read).
    NotConnected,
}

impl DeviceError {
    /// Qt's warning text for this refusal.
    pub fn text(self) -> &'static str {
        match self {
            DeviceError::NotOpen => "device not open",
            DeviceError::WriteOnly => "WriteOnly device",
            DeviceError::ReadOnly => "ReadOnly device",
            DeviceError::NotConnected => "Socket is not connected",
        }
    }

    /// The `std::io::ErrorKind` the runtimes report for this refusal.
    #[cfg(feature = "std")]
    pub fn io_kind(self) -> std::io::ErrorKind {
        match self {
            DeviceError::NotOpen | DeviceError::NotConnected => std::io::ErrorKind::NotConnected,
            DeviceError::WriteOnly | DeviceError::ReadOnly => std::io::ErrorKind::Unsupported,
        }
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl core::error::Error for DeviceError {}

#[cfg(feature = "std")]
impl From<DeviceError> for std::io::Error {
    fn from(e: DeviceError) -> Self {
        std::io::Error::new(e.io_kind(), e)
    }
}

/// Formats Qt's default error string when no error has happened yet.
pub(crate) const NO_ERROR_TEXT: &str = "Unknown error";

pub(crate) fn render(err: Option<&LocalSocketError>) -> String {
    match err {
        Some(e) => e.qt_text(),
        None => String::from(NO_ERROR_TEXT),
    }
}

/// Why a read, write or flush on a socket cannot go on: the device refuses
/// (not open, wrong open mode) or the connection failed. The runtimes' I/O
/// traits turn it into a `std::io::Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// `QIODevice`'s refusal.
    Device(DeviceError),
    /// The error that ended the connection.
    Socket(LocalSocketError),
}

impl From<DeviceError> for StreamError {
    fn from(e: DeviceError) -> Self {
        StreamError::Device(e)
    }
}

impl From<LocalSocketError> for StreamError {
    fn from(e: LocalSocketError) -> Self {
        StreamError::Socket(e)
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Device(e) => e.fmt(f),
            StreamError::Socket(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for StreamError {}

#[cfg(feature = "std")]
impl From<StreamError> for std::io::Error {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Device(e) => e.into(),
            StreamError::Socket(e) => e.into(),
        }
    }
}
