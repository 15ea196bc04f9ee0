//! `localsock connect NAME [-q SECS] [-N] [--read-buffer BYTES]`: bridge
//! stdin and stdout to a local socket, like `nc -U`.
//!
//! Stdin and the socket are served at once (a slow reader of the echo holds
//! stdin back, never the other way round). At end of stdin the pending
//! writes drain while what arrives is still printed; then, as `nc -U` does:
//! - by default, what arrives is printed until the server closes (or
//!   half-closes) its side;
//! - with `-N`, the write side is half-closed first (`shutdown(SHUT_WR)`),
//!   so the server reads end of stream; printing goes on as above;
//! - with `-q SECS`, printing stops SECS seconds after end of stdin (and
//!   the drain, as nc starts its timer once its buffer is written) at the
//!   latest.
//!
//! If the connection ends while input is still unsent (queued, or read from
//! stdin and not yet written), the command says how many bytes were lost,
//! as "Broken pipe", and exits 1. A closed stdout ends it quietly (status 0).

use std::time::Duration;

use crate::{exit, report_connect_failure, write_stdout, Runtime};

/// What `connect` was asked to do.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The Qt-style server name.
    pub name: String,
    /// `-q SECS`: after end of stdin, keep printing at most this long.
    pub linger: Option<Duration>,
    /// `-N`: half-close after end of stdin (once everything is sent).
    pub half_close: bool,
    /// `--read-buffer BYTES`: the socket's read-buffer limit (0 = none).
    pub read_buffer: Option<usize>,
}

/// Runs `connect` on `runtime`; returns the exit status.
pub fn run(runtime: Runtime, options: &ConnectOptions) -> u8 {
    match runtime {
        Runtime::Blocking => blocking::run(options),
        Runtime::Smol => smol_rt::run(options),
        Runtime::Tokio => tokio_rt::run(options),
    }
}

/// Stop taking stdin while this much waits to be written: a server that
/// does not read holds stdin back (through the kernel) instead of filling
/// memory.
const BACKLOG: usize = 1 << 20;

/// The exit status once connected. `queued` bytes of stdin were handed to
/// the socket, `sent` of them reached the OS, and `unread` more were read
/// from stdin but never queued: any difference is input the server never
/// got ("Broken pipe", status 1). Otherwise errors other than the peer
/// closing (or our own wait timeouts) are failures.
fn final_status(
    name: &str,
    queued: u64,
    sent: u64,
    unread: u64,
    error: Option<&localsock::LocalSocketError>,
) -> u8 {
    let unsent = queued.saturating_sub(sent) + unread;
    // A server that closes with our bytes unread in its socket resets the
    // connection: bytes the kernel had taken are lost too, uncounted.
    let reset = error.and_then(|e| e.os_error()).and_then(|os| os.code())
        == Some(localsock::core::OsCode::ConnReset);
    if unsent == 0 && reset {
        eprintln!(
            "localsock: {name}: Broken pipe: the server closed without reading all input ({})",
            error.map(ToString::to_string).unwrap_or_default()
        );
        return exit::OTHER;
    }
    if unsent > 0 {
        eprintln!(
            "localsock: {name}: Broken pipe: {unsent} byte{} of input not sent{}",
            if unsent == 1 { "" } else { "s" },
            match error {
                Some(e) => format!(" ({e})"),
                None => String::new(),
            }
        );
        return exit::OTHER;
    }
    match error {
        Some(e)
            if !matches!(
                e.kind(),
                localsock::SocketError::PeerClosed | localsock::SocketError::SocketTimeout
            ) =>
        {
            eprintln!("localsock: {e}");
            exit::OTHER
        }
        _ => exit::OK,
    }
}

/// Bytes read from stdin and not yet taken: the reader thread's queue.
fn unread_input(stdin: &smol::channel::Receiver<Vec<u8>>) -> u64 {
    let mut n = 0;
    while let Ok(chunk) = stdin.try_recv() {
        n += chunk.len() as u64;
    }
    n
}

/// Whether to wait for stdin's next chunk (or its end) when the
/// connection ends first, to tell "nothing more to send" from "input
/// lost", as nc learns it from its next write. Not on a terminal: a user
/// would have to type before the command could end.
fn await_more_input() -> bool {
    use std::io::IsTerminal;
    !std::io::stdin().is_terminal()
}

mod blocking {
    use std::time::Instant;

    use localsock::blocking::{LocalSocket, Timeout};
    use localsock::State;
    use smol::channel::TryRecvError;

    use super::*;

    /// How often the blocking bridge looks at stdin while it waits for the
    /// socket (a blocking socket cannot wait for two things at once).
    const STDIN_POLL: Duration = Duration::from_millis(10);

    /// Prints what is buffered; false once stdout is gone.
    fn print_available(socket: &mut LocalSocket) -> bool {
        match socket.read_all() {
            Ok(data) if !data.is_empty() => write_stdout(&data),
            _ => true,
        }
    }

    pub(super) fn run(o: &ConnectOptions) -> u8 {
        let mut socket = LocalSocket::new();
        if let Some(limit) = o.read_buffer {
            socket.set_read_buffer_size(limit);
        }
        socket.connect_to_server(&o.name);
        if let Err(e) = socket.wait_for_connected(Timeout::FOREVER) {
            return report_connect_failure(&o.name, &e);
        }
        let stdin = crate::stdin::spawn_reader();
        let mut queued: u64 = 0;
        let status = |socket: &LocalSocket, queued: u64, unread: u64| {
            final_status(
                &o.name,
                queued,
                socket.connection().bytes_sent(),
                unread,
                socket.last_error(),
            )
        };

        // Bridge until stdin ends or the server goes.
        loop {
            let mut stdin_done = false;
            while socket.bytes_to_write() < BACKLOG {
                match stdin.try_recv() {
                    Ok(chunk) => {
                        let n = chunk.len() as u64;
                        if socket.write_bytes(chunk).is_err() {
                            print_available(&mut socket);
                            return status(&socket, queued, n + unread_input(&stdin));
                        }
                        queued += n;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => {
                        stdin_done = true;
                        break;
                    }
                }
            }
            if stdin_done {
                break;
            }
            socket.try_flush();
            // A timeout or the end of the connection: both are looked at
            // below (the state), or on the next round (stdin). Each wait
            // also sends what is queued and reads what comes.
            let _ = if socket.bytes_to_write() >= BACKLOG {
                socket.wait_for_bytes_written(STDIN_POLL)
            } else if socket.connection().read_exhausted() {
                // The server half-closed: nothing more to read, but it may
                // still take input; watch for it going away.
                if socket.bytes_to_write() > 0 {
                    socket.wait_for_bytes_written(STDIN_POLL)
                } else {
                    socket.wait_for_disconnected(STDIN_POLL)
                }
            } else {
                socket.wait_for_ready_read(STDIN_POLL)
            };
            drop(socket.take_events());
            if !print_available(&mut socket) {
                return exit::OK;
            }
            if socket.state() == State::Unconnected {
                let mut unread = 0;
                if await_more_input() {
                    if let Ok(chunk) = stdin.recv_blocking() {
                        unread += chunk.len() as u64;
                    }
                }
                return status(&socket, queued, unread + unread_input(&stdin));
            }
        }

        // End of stdin: drain what is pending, still reading.
        while socket.bytes_to_write() > 0 && socket.state() == State::Connected {
            let _ = socket.wait_for_bytes_written(Timeout::FOREVER);
            if !print_available(&mut socket) {
                return exit::OK;
            }
        }
        if o.half_close && socket.state() == State::Connected {
            if let Err(e) = socket.shutdown_write() {
                eprintln!("localsock: cannot half-close: {e}");
            }
        }
        // Print until the server closes its side (or -q's time is up).
        let deadline = o.linger.and_then(|d| Instant::now().checked_add(d));
        while socket.state() == State::Connected {
            let wait = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    Timeout::from(d - now)
                }
                None => Timeout::FOREVER,
            };
            let waited = socket.wait_for_ready_read(wait);
            if !print_available(&mut socket) {
                return exit::OK;
            }
            if waited.is_err() && socket.connection().read_exhausted() {
                break;
            }
        }
        if socket.state() != State::Unconnected {
            socket.disconnect_from_server();
            if socket.state() != State::Unconnected {
                let _ = socket.wait_for_disconnected(Timeout::FOREVER);
            }
        }
        print_available(&mut socket);
        status(&socket, queued, 0)
    }
}

/// The async arm, once per async runtime (same API names in both): waits
/// for stdin and the socket at once.
macro_rules! async_arm {
    ($module:ident, $rt:ident, $exec:expr) => {
        mod $module {
            use std::time::Instant;

            use futures_lite::future;
            use localsock::$rt::{LocalSocket, Timeout};
            use localsock::State;

            use super::*;
            use crate::exec::Exec;

            enum Woke {
                Stdin(Option<Vec<u8>>),
                /// A signal (or the end): print what is buffered.
                Socket,
            }

            /// Prints what is buffered; false once stdout is gone.
            fn print_available(socket: &mut LocalSocket) -> bool {
                match socket.read_all() {
                    Ok(data) if !data.is_empty() => write_stdout(&data),
                    _ => true,
                }
            }

            pub(super) fn run(o: &ConnectOptions) -> u8 {
                let ex = match $exec {
                    Ok(ex) => ex,
                    Err(e) => {
                        eprintln!("localsock: cannot start the runtime: {e}");
                        return exit::OTHER;
                    }
                };
                ex.block_on(bridge(o))
            }

            fn status(o: &ConnectOptions, socket: &LocalSocket, queued: u64, unread: u64) -> u8 {
                final_status(
                    &o.name,
                    queued,
                    socket.connection().bytes_sent(),
                    unread,
                    socket.last_error(),
                )
            }

            async fn bridge(o: &ConnectOptions) -> u8 {
                let mut socket = LocalSocket::new();
                if let Some(limit) = o.read_buffer {
                    socket.set_read_buffer_size(limit);
                }
                socket.connect_to_server(&o.name);
                if let Err(e) = socket.wait_for_connected(Timeout::FOREVER).await {
                    return report_connect_failure(&o.name, &e);
                }
                let stdin = crate::stdin::spawn_reader();
                let mut queued: u64 = 0;
                loop {
                    // The socket first: its signals are handled before more
                    // input is taken, and a slow server holds stdin back.
                    let woke = {
                        let take_stdin = socket.bytes_to_write() < BACKLOG;
                        let sock = async {
                            socket.next_event().await;
                            Woke::Socket
                        };
                        if take_stdin {
                            future::or(sock, async { Woke::Stdin(stdin.recv().await.ok()) }).await
                        } else {
                            sock.await
                        }
                    };
                    match woke {
                        Woke::Stdin(Some(chunk)) => {
                            let n = chunk.len() as u64;
                            if socket.write_bytes(chunk).is_err() {
                                print_available(&mut socket);
                                return status(o, &socket, queued, n + unread_input(&stdin));
                            }
                            queued += n;
                            socket.try_flush();
                        }
                        Woke::Stdin(None) => break,
                        Woke::Socket => {
                            if !print_available(&mut socket) {
                                return exit::OK;
                            }
                        }
                    }
                    if socket.state() == State::Unconnected {
                        print_available(&mut socket);
                        let mut unread = 0;
                        if await_more_input() {
                            if let Ok(chunk) = stdin.recv().await {
                                unread += chunk.len() as u64;
                            }
                        }
                        return status(o, &socket, queued, unread + unread_input(&stdin));
                    }
                }

                // End of stdin: drain what is pending, still reading.
                while socket.bytes_to_write() > 0 && socket.state() == State::Connected {
                    let _ = socket.wait_for_bytes_written(Timeout::FOREVER).await;
                    if !print_available(&mut socket) {
                        return exit::OK;
                    }
                }
                if o.half_close && socket.state() == State::Connected {
                    if let Err(e) = socket.shutdown_write().await {
                        eprintln!("localsock: cannot half-close: {e}");
                    }
                }
                // Print until the server closes its side (or -q's time is up).
                let deadline = o.linger.and_then(|d| Instant::now().checked_add(d));
                while socket.state() == State::Connected {
                    let wait = match deadline {
                        Some(d) => {
                            let now = Instant::now();
                            if now >= d {
                                break;
                            }
                            Timeout::from(d - now)
                        }
                        None => Timeout::FOREVER,
                    };
                    let waited = socket.wait_for_ready_read(wait).await;
                    if !print_available(&mut socket) {
                        return exit::OK;
                    }
                    if waited.is_err() && socket.connection().read_exhausted() {
                        break;
                    }
                }
                if socket.state() != State::Unconnected {
                    socket.disconnect_from_server();
                    let _ = socket.wait_for_disconnected(Timeout::FOREVER).await;
                }
                print_available(&mut socket);
                status(o, &socket, queued, 0)
            }
        }
    };
}

async_arm!(smol_rt, smol, crate::exec::SmolExec::new());
async_arm!(tokio_rt, tokio, crate::exec::TokioExec::current_thread());
