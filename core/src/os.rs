//! Raw OS error codes and the per-platform tables that name them.
//!
//! Drivers hand the core the number the OS returned (`errno` or a Win32 code)
//! as an [`OsError`]; the core looks it up in the table for that platform and
//! decides from the symbolic [`OsCode`]. The numbers live only here, as
//! constants, one table per platform, so no adapter compares raw numbers.

use crate::platform::Platform;

/// A raw error code as the OS reported it, with the platform whose numbering
/// it uses. The raw number stays available to users through [`OsError::raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OsError {
    platform: Platform,
    raw: i32,
}

impl OsError {
    /// An error code of `platform`'s numbering.
    pub const fn new(platform: Platform, raw: i32) -> Self {
        OsError { platform, raw }
    }

    /// An error code of the platform this crate was compiled for
    /// (`io::Error::raw_os_error()` gives such a number).
    pub const fn native(raw: i32) -> Self {
        OsError::new(Platform::CURRENT, raw)
    }

    /// The number the OS returned.
    pub const fn raw(self) -> i32 {
        self.raw
    }

    /// The platform whose numbering [`raw`](Self::raw) uses.
    pub const fn platform(self) -> Platform {
        self.platform
    }

    /// The symbolic name of this code, if the core's table knows it.
    pub fn code(self) -> Option<OsCode> {
        let table = match self.platform {
            Platform::Linux => LINUX,
            Platform::Apple => APPLE,
            Platform::FreeBsd => FREEBSD,
            Platform::Windows => WINDOWS,
        };
        table
            .iter()
            .find(|(raw, _)| *raw == self.raw)
            .map(|(_, code)| *code)
    }

    /// The raw number of `code` on `platform`, if that platform has it.
    pub fn raw_for(platform: Platform, code: OsCode) -> Option<i32> {
        let table = match platform {
            Platform::Linux => LINUX,
            Platform::Apple => APPLE,
            Platform::FreeBsd => FREEBSD,
            Platform::Windows => WINDOWS,
        };
        table.iter().find(|(_, c)| *c == code).map(|(raw, _)| *raw)
    }

    /// Shorthand: the `OsError` for `code` on `platform` (tests and drivers
    /// that synthesise an error, such as a timed-out wait).
    pub fn from_code(platform: Platform, code: OsCode) -> Option<Self> {
        Self::raw_for(platform, code).map(|raw| OsError::new(platform, raw))
    }

    /// The OS error behind a `std::io::Error` on this platform. An error
    /// without an OS code (std's own `WouldBlock`, a custom error) becomes
    /// `EAGAIN` for would-block and code 0 (unknown) otherwise, so every
    /// runtime converts the same way.
    ///
    /// ```
    /// use localsock_core::OsError;
    /// let e = std::io::Error::from_raw_os_error(2);
    /// assert_eq!(OsError::from_io(&e).raw(), 2);
    /// ```
    #[cfg(feature = "std")]
    pub fn from_io(e: &std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(raw) => OsError::native(raw),
            None if e.kind() == std::io::ErrorKind::WouldBlock => {
                OsError::from_code(Platform::CURRENT, OsCode::Again).unwrap_or(OsError::native(0))
            }
            None => OsError::native(0),
        }
    }
}

/// The OS error conditions the core makes decisions on. Unix names follow
/// `errno`, Windows names follow `ERROR_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OsCode {
    // Unix errno.
    /// `EPERM`
    Perm,
    /// `ENOENT`
    NoEnt,
    /// `EINTR`
    Intr,
    /// `EAGAIN` / `EWOULDBLOCK` (on connect: the listen backlog is full)
    Again,
    /// `ENOMEM`
    NoMem,
    /// `EACCES`
    Acces,
    /// `ENOTDIR`
    NotDir,
    /// `EINVAL`
    Inval,
    /// `ENFILE`
    NFile,
    /// `EMFILE`
    MFile,
    /// `EROFS`
    RoFs,
    /// `EPIPE`
    Pipe,
    /// `ENAMETOOLONG`
    NameTooLong,
    /// `ELOOP`
    Loop,
    /// `EMSGSIZE`
    MsgSize,
    /// `EPROTOTYPE`
    ProtoType,
    /// `EADDRINUSE`
    AddrInUse,
    /// `ECONNABORTED`
    ConnAborted,
    /// `ECONNRESET`
    ConnReset,
    /// `ENOBUFS`
    NoBufs,
    /// `ENOTCONN`
    NotConn,
    /// `ETIMEDOUT`
    TimedOut,
    /// `ECONNREFUSED`
    ConnRefused,
    /// `EINPROGRESS`
    InProgress,
    /// `EEXIST`
    Exist,
    // Win32.
    /// `ERROR_FILE_NOT_FOUND` (2)
    FileNotFound,
    /// `ERROR_PATH_NOT_FOUND` (3)
    PathNotFound,
    /// `ERROR_TOO_MANY_OPEN_FILES` (4)
    TooManyOpenFiles,
    /// `ERROR_ACCESS_DENIED` (5)
    AccessDenied,
    /// `ERROR_NOT_ENOUGH_MEMORY` (8)
    NotEnoughMemory,
    /// `ERROR_INVALID_PARAMETER` (87)
    InvalidParameter,
    /// `ERROR_BROKEN_PIPE` (109)
    BrokenPipe,
    /// `ERROR_SEM_TIMEOUT` (121)
    SemTimeout,
    /// `ERROR_INVALID_NAME` (123)
    InvalidName,
    /// `ERROR_BAD_PATHNAME` (161)
    BadPathname,
    /// `ERROR_ALREADY_EXISTS` (183)
    AlreadyExists,
    /// `ERROR_PIPE_BUSY` (231): every server instance is taken
    PipeBusy,
    /// `ERROR_NO_DATA` (232): the pipe is being closed
    NoData,
    /// `ERROR_PIPE_NOT_CONNECTED` (233)
    PipeNotConnected,
    /// `ERROR_MORE_DATA` (234)
    MoreData,
    /// `ERROR_PIPE_CONNECTED` (535)
    PipeConnected,
    /// `ERROR_OPERATION_ABORTED` (995)
    OperationAborted,
    /// `ERROR_IO_PENDING` (997)
    IoPending,
    /// `ERROR_NO_SYSTEM_RESOURCES` (1450)
    NoSystemResources,
}

/// Linux (and Android) errno numbers.
pub const LINUX: &[(i32, OsCode)] = &[
    (1, OsCode::Perm),
    (2, OsCode::NoEnt),
    (4, OsCode::Intr),
    (11, OsCode::Again),
    (12, OsCode::NoMem),
    (13, OsCode::Acces),
    (17, OsCode::Exist),
    (20, OsCode::NotDir),
    (22, OsCode::Inval),
    (23, OsCode::NFile),
    (24, OsCode::MFile),
    (30, OsCode::RoFs),
    (32, OsCode::Pipe),
    (36, OsCode::NameTooLong),
    (40, OsCode::Loop),
    (90, OsCode::MsgSize),
    (91, OsCode::ProtoType),
    (98, OsCode::AddrInUse),
    (103, OsCode::ConnAborted),
    (104, OsCode::ConnReset),
    (105, OsCode::NoBufs),
    (107, OsCode::NotConn),
    (110, OsCode::TimedOut),
    (111, OsCode::ConnRefused),
    (115, OsCode::InProgress),
];

/// macOS / iOS errno numbers.
pub const APPLE: &[(i32, OsCode)] = &[
    (1, OsCode::Perm),
    (2, OsCode::NoEnt),
    (4, OsCode::Intr),
    (35, OsCode::Again),
    (12, OsCode::NoMem),
    (13, OsCode::Acces),
    (17, OsCode::Exist),
    (20, OsCode::NotDir),
    (22, OsCode::Inval),
    (23, OsCode::NFile),
    (24, OsCode::MFile),
    (30, OsCode::RoFs),
    (32, OsCode::Pipe),
    (63, OsCode::NameTooLong),
    (62, OsCode::Loop),
    (40, OsCode::MsgSize),
    (41, OsCode::ProtoType),
    (48, OsCode::AddrInUse),
    (53, OsCode::ConnAborted),
    (54, OsCode::ConnReset),
    (55, OsCode::NoBufs),
    (57, OsCode::NotConn),
    (60, OsCode::TimedOut),
    (61, OsCode::ConnRefused),
    (36, OsCode::InProgress),
];

/// FreeBSD errno numbers (the BSD numbering, as on macOS for these codes).
pub const FREEBSD: &[(i32, OsCode)] = APPLE;

/// Win32 error codes.
pub const WINDOWS: &[(i32, OsCode)] = &[
    (2, OsCode::FileNotFound),
    (3, OsCode::PathNotFound),
    (4, OsCode::TooManyOpenFiles),
    (5, OsCode::AccessDenied),
    (8, OsCode::NotEnoughMemory),
    (87, OsCode::InvalidParameter),
    (109, OsCode::BrokenPipe),
    (121, OsCode::SemTimeout),
    (123, OsCode::InvalidName),
    (161, OsCode::BadPathname),
    (183, OsCode::AlreadyExists),
    (231, OsCode::PipeBusy),
    (232, OsCode::NoData),
    (233, OsCode::PipeNotConnected),
    (234, OsCode::MoreData),
    (535, OsCode::PipeConnected),
    (995, OsCode::OperationAborted),
    (997, OsCode::IoPending),
    (1450, OsCode::NoSystemResources),
];
