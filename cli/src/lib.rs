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

use localsock::SocketError;

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
    /// a failed demo).
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
/// (a name that cannot be resolved at all is "other", not "missing").
pub fn connect_failure_status(name: &str, error: SocketError) -> u8 {
    let valid =
        localsock::core::resolve_socket_name(name, false, &localsock::blocking::name_context())
            .is_ok();
    match error {
        SocketError::ServerNotFound if valid => exit::MISSING,
        SocketError::ServerNotFound => exit::OTHER,
        SocketError::ConnectionRefused => exit::STALE,
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

/// Writes `data` to stdout and flushes; false once stdout is gone (a
/// closed pipe ends the command quietly, as with `| head`).
pub(crate) fn write_stdout(data: &[u8]) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(data).is_ok() && out.flush().is_ok()
}
