//! `localsock listen NAME [--echo] [--once] [--access …]`: serve a name,
//! print what each client sends (or echo it back), one task or thread per
//! client.
//!
//! It stops, removing its socket file (only if it is still ours: the
//! library's `close`), on SIGINT (status 130) or SIGTERM (143), or when its
//! stdout closes while printing (one line on stderr, status 1). An accept
//! that fails (out of descriptors) does not stop it: the refusal is logged
//! once per burst and accepting is retried with a backoff.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use localsock::{Access, ActivatedSocket, ListenError, ServerOptions};
use smol::channel::{Receiver, Sender};

use crate::{exit, write_stdout, Runtime};

/// What `listen` was asked to do.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// The Qt-style server name.
    pub name: String,
    /// Send each client's bytes back to it instead of printing them.
    pub echo: bool,
    /// Stop after the first client has disconnected (and take no other).
    pub once: bool,
    /// Who may connect (Qt's access options); default: the umask decides.
    pub access: Access,
    /// Serve the socket systemd passed (`LISTEN_FDS`): the one `name`
    /// names in `LISTEN_FDNAMES`, or the first when `name` is empty.
    pub activated: bool,
}

/// Listens as `o` asks: on `o.name`, or on the activated socket.
macro_rules! listen_on {
    ($server:expr, $o:expr) => {
        if $o.activated {
            $o.listen_activated(&mut $server)
        } else {
            $server.listen_with(&$o.name, $o.server_options())
        }
    };
}

impl ListenOptions {
    /// Which activated socket `--activated` serves.
    fn activated_socket(&self) -> ActivatedSocket {
        if self.name.is_empty() {
            ActivatedSocket::Index(0)
        } else {
            ActivatedSocket::Name(self.name.clone())
        }
    }

    /// The name errors are reported under.
    fn shown_name(&self) -> String {
        match (self.activated, self.name.is_empty()) {
            (true, true) => "LISTEN_FDS[0]".to_string(),
            (true, false) => format!("LISTEN_FDNAMES={}", self.name),
            _ => self.name.clone(),
        }
    }

    #[cfg(unix)]
    fn listen_activated<S: ActivatedServer>(&self, server: &mut S) -> Result<(), ListenError> {
        server.listen_activated_socket(&self.activated_socket())
    }

    #[cfg(not(unix))]
    fn listen_activated<S>(&self, _server: &mut S) -> Result<(), ListenError> {
        let _ = self.activated_socket();
        Err(ListenError::new(
            localsock::ServerError::UnsupportedSocketOperation,
            localsock::ErrorSource::Listen,
        )
        .with_detail("socket activation is a Unix (systemd) protocol"))
    }

    fn server_options(&self) -> ServerOptions {
        ServerOptions {
            access: self.access,
            ..ServerOptions::default()
        }
    }
}

/// Runs `listen` on `runtime`; returns the exit status.
pub fn run(runtime: Runtime, options: &ListenOptions) -> u8 {
    match runtime {
        Runtime::Blocking => blocking::run(options),
        Runtime::Smol => smol_rt::run(options),
        Runtime::Tokio => tokio_rt::run(options),
    }
}

/// The runtimes' servers, for `--activated` (their `listen_activated`
/// methods are inherent, one per type).
#[cfg(unix)]
trait ActivatedServer {
    fn listen_activated_socket(&mut self, which: &ActivatedSocket) -> Result<(), ListenError>;
}

#[cfg(unix)]
macro_rules! activated_server {
    ($($t:ty),*) => {$(
        impl ActivatedServer for $t {
            fn listen_activated_socket(&mut self, which: &ActivatedSocket) -> Result<(), ListenError> {
                self.listen_activated(which)
            }
        }
    )*};
}
#[cfg(unix)]
activated_server!(
    localsock::blocking::LocalServer,
    localsock::smol::LocalServer,
    localsock::tokio::LocalServer
);

/// Where a reason to stop `listen` goes: the exit status to end with.
static STOP: OnceLock<Sender<u8>> = OnceLock::new();

/// Asks the accept loop to close the server and end with `status`.
fn stop(status: u8) {
    if let Some(tx) = STOP.get() {
        let _ = tx.try_send(status);
    }
}

/// The stop channel's receiving end, with SIGINT and SIGTERM watched (on
/// Unix). One `listen` per process: a second one shares the first's
/// channel.
fn stop_requests() -> Receiver<u8> {
    let (tx, rx) = smol::channel::unbounded();
    if STOP.set(tx).is_err() {
        // Not the first `listen` in this process: a fresh channel nobody
        // but this listener's clients can reach would lose the signals.
        eprintln!("localsock: listen was started twice in one process; signals reach the first");
    }
    watch_signals();
    rx
}

/// SIGINT and SIGTERM stop `listen` with 128 + the signal number (130,
/// 143), after the socket file is removed. A second signal ends the
/// process at once.
#[cfg(unix)]
fn watch_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::iterator::Signals;
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("localsock: cannot watch SIGINT and SIGTERM: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut first = true;
            for signal in signals.forever() {
                let status = u8::try_from(128 + signal).unwrap_or(exit::OTHER);
                if !first {
                    std::process::exit(i32::from(status));
                }
                first = false;
                stop(status);
            }
        });
    if let Err(e) = spawned {
        eprintln!("localsock: cannot watch SIGINT and SIGTERM: {e}");
    }
}

/// Windows: Ctrl-C ends the process as usual; a named pipe leaves no file
/// behind.
#[cfg(not(unix))]
fn watch_signals() {}

/// A client's bytes cannot be printed: stdout is closed. `listen` says so
/// once and stops (status 1) instead of taking clients it cannot serve.
fn stdout_closed() {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        eprintln!("localsock: stdout is closed, so clients' bytes cannot be printed; stopping");
    }
    stop(exit::OTHER);
}

/// Accept failures (out of descriptors: the library keeps listening) are
/// retried after a pause of 50 ms, doubling up to 1 s while they last; the
/// first of a burst is logged, and so is the recovery.
#[derive(Debug)]
struct Backoff {
    pause: Duration,
    failing: bool,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Backoff {
            pause: Self::FIRST,
            failing: false,
        }
    }

    /// An accept failed: how long to wait before the next attempt.
    fn failed(&mut self, e: &ListenError) -> Duration {
        if !self.failing {
            eprintln!("localsock: cannot accept a client: {e}; still listening, retrying");
            self.failing = true;
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(Self::MAX);
        pause
    }

    /// An accept succeeded.
    fn succeeded(&mut self) {
        if self.failing {
            eprintln!("localsock: accepting clients again");
        }
        *self = Backoff::new();
    }
}

fn announce(full_name: &str) {
    eprintln!("localsock: listening on {full_name}");
}

fn client_line(pid: Option<u32>, what: &str) {
    match pid {
        Some(pid) => eprintln!("localsock: client (pid {pid}) {what}"),
        None => eprintln!("localsock: client {what}"),
    }
}

/// `--echo` reads at most this much from a client before its echo is
/// queued (the library's read-buffer limit: beyond it the kernel holds the
/// client back).
const ECHO_READ_LIMIT: usize = 256 * 1024;

/// `--echo` stops reading from a client while this much of its echo waits
/// to be taken, so a client that sends and never reads costs at most
/// `ECHO_BACKLOG + ECHO_READ_LIMIT` bytes.
const ECHO_BACKLOG: usize = 1 << 20;

/// How a client's connection ended: `echoed` bytes were queued back to it
/// and `sent` reached the OS. An echo the client never took, or an error
/// other than its closing, is reported (status 1).
fn outcome(
    pid: Option<u32>,
    echoed: u64,
    sent: u64,
    error: Option<&localsock::LocalSocketError>,
) -> u8 {
    let lost = echoed.saturating_sub(sent);
    if lost > 0 {
        let why = error.map(|e| format!(" ({e})")).unwrap_or_default();
        client_line(
            pid,
            &format!("left before taking {lost} bytes of its echo{why}"),
        );
        return exit::OTHER;
    }
    match error {
        Some(e) if e.kind() != localsock::SocketError::PeerClosed => {
            client_line(pid, &format!("failed: {e}"));
            exit::OTHER
        }
        _ => exit::OK,
    }
}

mod blocking {
    use std::time::Instant;

    use localsock::blocking::{LocalServer, LocalSocket, Timeout};
    use localsock::{ServerError, State};

    use super::*;

    /// How often the accept loop looks for a reason to stop (a blocking
    /// accept cannot wait for two things at once).
    const STOP_POLL: Duration = Duration::from_millis(200);

    pub(super) fn run(o: &ListenOptions) -> u8 {
        let mut server = LocalServer::new();
        if let Err(e) = listen_on!(server, o) {
            return crate::report_listen_failure(&o.shown_name(), o.access != Access::DEFAULT, &e);
        }
        // Signals are watched before the name is announced: whoever waits
        // for the announcement may signal at once.
        let stop_requests = stop_requests();
        announce(server.full_server_name());
        let mut backoff = Backoff::new();
        loop {
            if let Ok(status) = stop_requests.try_recv() {
                server.close();
                return status;
            }
            let socket = match server.accept_timeout(STOP_POLL) {
                Ok(s) => s,
                Err(e) if e.kind() == ServerError::SocketTimeout => continue,
                Err(e) if server.is_listening() => {
                    // Plain sleeps: a timer of an async reactor would need a
                    // descriptor, which is what is missing.
                    let until = Instant::now() + backoff.failed(&e);
                    loop {
                        if let Ok(status) = stop_requests.try_recv() {
                            server.close();
                            return status;
                        }
                        let left = until.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        std::thread::sleep(left.min(STOP_POLL));
                    }
                    continue;
                }
                Err(e) => {
                    eprintln!("localsock: {e}");
                    return exit::OTHER;
                }
            };
            backoff.succeeded();
            let echo = o.echo;
            let once = o.once;
            if once {
                server.close();
            }
            let spawned = std::thread::Builder::new()
                .name("client".into())
                .spawn(move || {
                    let status = serve(socket, echo);
                    if once {
                        stop(status);
                    }
                });
            if let Err(e) = spawned {
                eprintln!("localsock: cannot start a thread for a client: {e}");
                if once {
                    return exit::OTHER;
                }
            }
            if once {
                // The client's status, or a signal's.
                return stop_requests.recv_blocking().unwrap_or(exit::OTHER);
            }
        }
    }

    fn serve(mut socket: LocalSocket, echo: bool) -> u8 {
        let pid = socket.peer_credentials().ok().and_then(|c| c.pid);
        client_line(pid, "connected");
        let mut echoed: u64 = 0;
        if echo {
            socket.set_read_buffer_size(ECHO_READ_LIMIT);
        }
        loop {
            let data = socket.read_all().unwrap_or_default();
            if !data.is_empty() {
                if echo {
                    // Counted before it is queued: a refused write is echo
                    // lost, reported below.
                    echoed += data.len() as u64;
                    if socket.write_bytes(data).is_err() {
                        break;
                    }
                } else if !write_stdout(&data) {
                    stdout_closed();
                    socket.abort();
                    break;
                }
            }
            if socket.state() != State::Connected || socket.connection().read_exhausted() {
                // The client closed, or half-closed: what it sent is all
                // taken; the echo drains below.
                break;
            }
            // Each wait also sends what is queued. An echo the client does
            // not take stops the reading (the read limit holds the rest in
            // the kernel), so memory stays bounded.
            let _ = if echo && socket.bytes_to_write() >= ECHO_BACKLOG {
                socket.wait_for_bytes_written(Timeout::FOREVER)
            } else {
                socket.wait_for_ready_read(Timeout::FOREVER)
            };
        }
        if socket.state() != State::Unconnected {
            socket.disconnect_from_server();
            // How it ended is in `last_error`, looked at below.
            let _ = socket.wait_for_disconnected(Timeout::FOREVER);
        }
        let status = outcome(
            pid,
            echoed,
            socket.connection().bytes_sent(),
            socket.last_error(),
        );
        client_line(pid, "disconnected");
        status
    }
}

/// The async arm, once per async runtime (same API names in both).
macro_rules! async_arm {
    ($module:ident, $rt:ident, $exec:expr) => {
        mod $module {
            use futures_lite::future;
            use localsock::$rt::{LocalServer, LocalSocket, Timeout};
            use localsock::State;

            use super::*;
            use crate::exec::Exec;

            enum Next {
                Client(Result<LocalSocket, ListenError>),
                Stop(u8),
            }

            pub(super) fn run(o: &ListenOptions) -> u8 {
                let ex = match $exec {
                    Ok(ex) => ex,
                    Err(e) => {
                        eprintln!("localsock: cannot start the runtime: {e}");
                        return exit::OTHER;
                    }
                };
                ex.block_on(async {
                    let mut server = LocalServer::new();
                    if let Err(e) = listen_on!(server, o) {
                        let access = o.access != Access::DEFAULT;
                        return crate::report_listen_failure(&o.shown_name(), access, &e);
                    }
                    let stop_requests = stop_requests();
                    announce(server.full_server_name());
                    let stopped = || async { stop_requests.recv().await.unwrap_or(exit::OTHER) };
                    let mut backoff = Backoff::new();
                    loop {
                        let next =
                            future::or(async { Next::Client(server.accept().await) }, async {
                                Next::Stop(stopped().await)
                            })
                            .await;
                        let socket = match next {
                            Next::Stop(status) => {
                                server.close();
                                return status;
                            }
                            Next::Client(Ok(s)) => s,
                            Next::Client(Err(e)) if server.is_listening() => {
                                let pause = backoff.failed(&e);
                                let pause = async {
                                    ex.sleep(pause).await;
                                    None
                                };
                                let stop = async { Some(stopped().await) };
                                if let Some(status) = future::or(pause, stop).await {
                                    server.close();
                                    return status;
                                }
                                continue;
                            }
                            Next::Client(Err(e)) => {
                                eprintln!("localsock: {e}");
                                return exit::OTHER;
                            }
                        };
                        backoff.succeeded();
                        if o.once {
                            server.close();
                            // The client's status, or a signal's.
                            return future::or(serve(socket, o.echo), stopped()).await;
                        }
                        let echo = o.echo;
                        ex.detach(async move {
                            serve(socket, echo).await;
                        });
                    }
                })
            }

            async fn serve(mut socket: LocalSocket, echo: bool) -> u8 {
                let pid = socket.peer_credentials().ok().and_then(|c| c.pid);
                client_line(pid, "connected");
                let mut echoed: u64 = 0;
                if echo {
                    socket.set_read_buffer_size(ECHO_READ_LIMIT);
                }
                loop {
                    let data = socket.read_all().unwrap_or_default();
                    if !data.is_empty() {
                        if echo {
                            echoed += data.len() as u64;
                            if socket.write_bytes(data).is_err() {
                                break;
                            }
                        } else if !write_stdout(&data) {
                            stdout_closed();
                            socket.abort();
                            break;
                        }
                    }
                    if socket.state() != State::Connected || socket.connection().read_exhausted() {
                        break;
                    }
                    let _ = if echo && socket.bytes_to_write() >= ECHO_BACKLOG {
                        socket.wait_for_bytes_written(Timeout::FOREVER).await
                    } else {
                        socket.wait_for_ready_read(Timeout::FOREVER).await
                    };
                }
                if socket.state() != State::Unconnected {
                    socket.disconnect_from_server();
                    let _ = socket.wait_for_disconnected(Timeout::FOREVER).await;
                }
                let status = outcome(
                    pid,
                    echoed,
                    socket.connection().bytes_sent(),
                    socket.last_error(),
                );
                client_line(pid, "disconnected");
                status
            }
        }
    };
}

async_arm!(smol_rt, smol, crate::exec::SmolExec::new());
async_arm!(tokio_rt, tokio, crate::exec::TokioExec::current_thread());
