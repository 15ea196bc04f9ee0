//! `localsock probe NAME`: is a server alive at this name, is the name
//! missing, is a stale socket file left behind, or is access denied? One
//! connect attempt on the blocking runtime (no event loop would add
//! anything to a single connect), then an immediate abort.

use std::time::Duration;

use localsock::blocking::{name_context, LocalSocket, Timeout};
use localsock::core::resolve_socket_name;

use crate::{exit, print_line};

/// How long a server whose backlog is full may keep us waiting.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A server accepted the connection.
    Alive,
    /// No socket file or pipe by that name.
    Missing,
    /// A socket file nobody listens on.
    Stale,
    /// The server exists but refuses us by permissions.
    AccessDenied,
    /// Anything else (an invalid name, not a socket, a timeout): the whole
    /// line for stderr, with the path, the reason and Qt's text.
    Other(String),
}

impl Outcome {
    /// The exit status `localsock probe` ends with.
    pub fn status(&self) -> u8 {
        match self {
            Outcome::Alive => exit::OK,
            Outcome::Missing => exit::MISSING,
            Outcome::Stale => exit::STALE,
            Outcome::AccessDenied => exit::DENIED,
            Outcome::Other(_) => exit::OTHER,
        }
    }
}

/// Probes `name`; returns what was found and the resolved full name.
pub fn probe(name: &str) -> (Outcome, String) {
    let full = match resolve_socket_name(name, false, &name_context()) {
        Ok(address) => address.as_str().to_string(),
        Err(_) => String::new(),
    };
    let mut socket = LocalSocket::new();
    socket.set_connect_timeout(PROBE_TIMEOUT);
    socket.connect_to_server(name);
    let Err(err) = socket.wait_for_connected(Timeout::FOREVER) else {
        socket.abort();
        return (Outcome::Alive, full);
    };
    // The same verdict and message as a failed `connect`.
    let failure = crate::connect_failure(name, &err);
    let outcome = match failure.status {
        exit::MISSING => Outcome::Missing,
        exit::STALE => Outcome::Stale,
        exit::DENIED => Outcome::AccessDenied,
        _ => Outcome::Other(failure.message),
    };
    (outcome, full)
}

/// Runs `probe`, printing one line on stdout (or the error on stderr);
/// returns the exit status.
pub fn run(name: &str) -> u8 {
    let (outcome, full) = probe(name);
    let shown = if full.is_empty() { name } else { &full };
    // The status tells the outcome even when nobody reads stdout (a closed
    // pipe is no error here).
    let _ = match &outcome {
        Outcome::Alive => print_line(format_args!("alive: a server is listening on {shown}")),
        Outcome::Missing => print_line(format_args!("missing: nothing is listening on {shown}")),
        Outcome::Stale => print_line(format_args!(
            "stale: {shown} is a socket file nobody listens on (a server died)"
        )),
        Outcome::AccessDenied => print_line(format_args!(
            "denied: {shown} exists but we may not connect"
        )),
        Outcome::Other(message) => {
            eprintln!("{message}");
            true
        }
    };
    outcome.status()
}
