//! The `localsock` command as a library: every subcommand's implementation
//! and the benchmark harness shared by `localsock bench` and
//! `cargo bench -p localsock-cli`.
//!
//! The binary (`src/main.rs`) only parses arguments and calls in here.

pub mod bench;
pub mod connect;
pub mod demo;
pub mod exec;
pub mod listen;
pub mod probe;
mod stdin;

use localsock::blocking::name_context;
use localsock::core::{resolve_server_name, resolve_socket_name, NameError, OsCode, OsError};
use localsock::{Address, ListenError, LocalSocketError, Platform, ServerError, SocketError};

/// Which localsock runtime a subcommand runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Runtime {
    /// `localsock-smol`: futures-io streams on async-io, one thread.
    Smol,
    /// `localsock-tokio`: tokio streams, current-thread runtime.
    Tokio,
    /// `localsock-blocking`: Qt's `waitFor*` calls on plain threads.
    Blocking,
}

impl Runtime {
    /// Every runtime, in the order `demo` and `bench` run them.
    pub const ALL: [Runtime; 3] = [Runtime::Blocking, Runtime::Smol, Runtime::Tokio];

    /// The default where a command needs one: smol, where one thread waits
    /// on stdin and every socket at once.
    pub const DEFAULT: Runtime = Runtime::Smol;

    /// The runtime's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Smol => "smol",
            Runtime::Tokio => "tokio",
            Runtime::Blocking => "blocking",
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Exit statuses of `localsock` (`probe` and `connect` share them).
pub mod exit {
    /// Success; for `probe`: a server is alive.
    pub const OK: u8 = 0;
    /// Any other failure (an I/O error, an invalid name, a busy server,
    /// a failed demo). Also a name where something other than a socket
    /// is (a regular file, a directory, a FIFO): no server died there, so
    /// it is not "stale", and `connect` and `probe` both say "not a socket".
    pub const OTHER: u8 = 1;
    /// Bad command line (clap's own status).
    pub const USAGE: u8 = 2;
    /// Nothing by that name: no socket file, no pipe (Qt's
    /// ServerNotFoundError).
    pub const MISSING: u8 = 3;
    /// A socket file is there but nobody listens: a stale socket left by a
    /// server that died (Qt's ConnectionRefusedError).
    pub const STALE: u8 = 4;
    /// The server exists but we may not connect (Qt's SocketAccessError).
    pub const DENIED: u8 = 5;
}

/// The exit status for a failed connect to `name`, by Qt's error category
/// (a name that cannot be resolved at all is "other", not "missing"). A
/// refused connect is "stale" only if a socket file is there: anything else
/// at the name (a regular file, a directory, a FIFO) is "other" ("not a
/// socket"), and nothing at all is "missing". [`connect_failure`] gives the
/// status with its message.
pub fn connect_failure_status(name: &str, error: SocketError) -> u8 {
    let full = match resolve_socket_name(name, false, &name_context()) {
        Ok(address) => address,
        Err(_) => return exit::OTHER,
    };
    match error {
        SocketError::ServerNotFound => exit::MISSING,
        SocketError::ConnectionRefused => match what_is_at(&full) {
            At::Socket => exit::STALE,
            At::Nothing => exit::MISSING,
            At::NotASocket(_) => exit::OTHER,
        },
        SocketError::SocketAccess => exit::DENIED,
        _ => exit::OTHER,
    }
}

/// Writes one formatted line to stdout and flushes it; false once stdout
/// is gone. (Rust ignores SIGPIPE, so a write to a closed pipe fails with
/// `BrokenPipe`, where `println!` would panic.)
pub(crate) fn print_line(args: std::fmt::Arguments<'_>) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{args}").is_ok() && out.flush().is_ok()
}

/// `println!` for reports on stdout: once stdout is closed (`| head -1`),
/// the command ends at once, quietly, with status 0, as coreutils' tools
/// end when their reader has gone.
macro_rules! outln {
    ($($arg:tt)*) => {
        if !$crate::print_line(format_args!($($arg)*)) {
            std::process::exit(i32::from($crate::exit::OK));
        }
    };
}
pub(crate) use outln;

/// A failed connect as `connect` and `probe` report it: the exit status and
/// the line for stderr, `localsock: PATH: REASON (Qt: QT TEXT)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFailure {
    /// One of [`exit`]'s statuses.
    pub status: u8,
    /// The whole line, without the newline.
    pub message: String,
}

/// Describes a failed connect to `name`: the resolved path, the OS reason
/// (or why the name is invalid, or "not a socket") and Qt's text.
pub fn connect_failure(name: &str, error: &LocalSocketError) -> ConnectFailure {
    let status = connect_failure_status(name, error.kind());
    let qt = error.qt_text();
    let (shown, reason) = match resolve_socket_name(name, false, &name_context()) {
        Err(e) => (name.to_string(), name_error_reason(e, false)),
        Ok(full) => {
            let reason = match (error.kind(), what_is_at(&full)) {
                (SocketError::ConnectionRefused, At::NotASocket(what)) => {
                    format!("not a socket ({what} is there)")
                }
                (SocketError::ConnectionRefused, At::Socket) => {
                    "Connection refused (a socket file nobody listens on: stale)".to_string()
                }
                (SocketError::SocketTimeout, _) => {
                    "timed out (a server may be there, but its backlog stayed full)".to_string()
                }
                _ => reason_of(error.os_error(), error.detail())
                    .unwrap_or_else(|| error.kind().text(Platform::CURRENT).to_string()),
            };
            (full.as_str().to_string(), reason)
        }
    };
    ConnectFailure {
        status,
        message: format!("localsock: {shown}: {reason} (Qt: {qt})"),
    }
}

/// Prints [`connect_failure`]'s line on stderr; returns its exit status.
pub fn report_connect_failure(name: &str, error: &LocalSocketError) -> u8 {
    let failure = connect_failure(name, error);
    eprintln!("{}", failure.message);
    failure.status
}

/// Describes a failed listen on `name` (`access`: whether access options
/// were given, which need room for a private directory): the line for
/// stderr, `localsock: PATH: REASON (Qt: QT TEXT)`.
pub fn listen_failure(name: &str, access: bool, error: &ListenError) -> String {
    let qt = error.qt_text();
    let (shown, reason) = match resolve_server_name(name, false, &name_context()) {
        Err(e) => (name.to_string(), name_error_reason(e, access)),
        Ok(full) => {
            let reason = match (error.kind(), what_is_at(&full)) {
                (ServerError::AddressInUse, At::NotASocket(what)) => {
                    format!("not a socket ({what} is there; listen never replaces one)")
                }
                (ServerError::AddressInUse, At::Socket) if error.os_error().is_none() => {
                    "a server is already listening there".to_string()
                }
                _ => {
                    let mut r = reason_of(error.os_error(), error.detail())
                        .unwrap_or_else(|| error.kind().text().to_string());
                    if error
                        .os_error()
                        .is_some_and(|e| e.code() == Some(OsCode::NameTooLong))
                        && access
                    {
                        r.push_str(&format!("; {ACCESS_ROOM}"));
                    }
                    r
                }
            };
            (full.as_str().to_string(), reason)
        }
    };
    format!("localsock: {shown}: {reason} (Qt: {qt})")
}

/// Prints [`listen_failure`]'s line on stderr; returns the exit status
/// ([`exit::OTHER`]).
pub fn report_listen_failure(name: &str, access: bool, error: &ListenError) -> u8 {
    eprintln!("{}", listen_failure(name, access, error));
    exit::OTHER
}

const ACCESS_ROOM: &str = "--access first binds the socket in a private directory beside it, \
     so the directory's path plus 10 bytes must fit too";

/// Why a name cannot be used, with the limit for one that is too long.
fn name_error_reason(e: NameError, access: bool) -> String {
    match e {
        NameError::TooLong { needed, max } if !Platform::CURRENT.is_windows() => {
            let overhead = if Platform::CURRENT.supports_abstract_namespace() {
                2
            } else {
                1
            };
            let mut r = format!(
                "name too long: the path has {} bytes, at most {} fit (sun_path holds {max} \
                 bytes on this system: 108 on Linux, 104 on macOS and the BSDs)",
                needed - overhead,
                max - overhead
            );
            if access {
                r.push_str(&format!("; {ACCESS_ROOM}"));
            }
            r
        }
        NameError::TooLong { needed, max } => {
            format!("name too long: the pipe name has {needed} UTF-16 units, at most {max}")
        }
        other => other.to_string(),
    }
}

/// The OS's text for `os` (without Rust's "(os error N)"), else `detail`.
fn reason_of(os: Option<OsError>, detail: Option<&str>) -> Option<String> {
    if let Some(os) = os {
        let text = std::io::Error::from_raw_os_error(os.raw()).to_string();
        let text = match text.rfind(" (os error ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        return Some(text);
    }
    detail.map(str::to_string)
}

/// What is at a resolved address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))] // Windows: pipes only, never files
enum At {
    /// A socket file (or an address that is not a file: pipe, abstract).
    Socket,
    /// Nothing.
    Nothing,
    /// Something that is not a socket: "a regular file", "a directory"…
    NotASocket(&'static str),
}

#[cfg(unix)]
fn what_is_at(address: &Address) -> At {
    use std::os::unix::fs::FileTypeExt;
    let Address::Path(path) = address else {
        return At::Socket;
    };
    let Ok(meta) = std::fs::symlink_metadata(&**path) else {
        return At::Nothing;
    };
    let t = meta.file_type();
    if t.is_socket() {
        At::Socket
    } else if t.is_file() {
        At::NotASocket("a regular file")
    } else if t.is_dir() {
        At::NotASocket("a directory")
    } else if t.is_fifo() {
        At::NotASocket("a FIFO")
    } else if t.is_symlink() {
        At::NotASocket("a symbolic link")
    } else {
        At::NotASocket("a device file")
    }
}

#[cfg(not(unix))]
fn what_is_at(_address: &Address) -> At {
    At::Socket
}

/// Writes `data` to stdout and flushes; false once stdout is gone (a
/// closed pipe ends the command quietly, as with `| head`).
pub(crate) fn write_stdout(data: &[u8]) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(data).is_ok() && out.flush().is_ok()
}
