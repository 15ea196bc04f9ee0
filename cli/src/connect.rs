//! `localsock connect NAME [-q SECS] [-N] [--read-buffer BYTES]`: bridge
//! stdin and stdout to a local socket, like `nc -U`.
//!
//! At end of stdin the pending writes drain (Qt's ClosingState); then, with
//! `-N`, the write side is half-closed and what arrives is printed until the
//! server closes; with `-q SECS`, what arrives is printed for SECS seconds
//! (or until the server closes); then the socket disconnects. Without either
//! the socket disconnects as soon as the drain is done.

use std::time::Duration;

use crate::{exit, report_connect_failure, write_stdout, Runtime};

/// What `connect` was asked to do.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The Qt-style server name.
    pub name: String,
    /// `-q SECS`: after end of stdin, keep printing for this long.
    pub linger: Option<Duration>,
    /// `-N`: half-close after end of stdin.
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

/// The exit status once connected: errors other than the peer closing (or
/// our own wait timeouts) are failures.
fn final_status(error: Option<&localsock::LocalSocketError>) -> u8 {
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

        // Bridge until stdin ends or the server goes.
        loop {
            let mut stdin_done = false;
            loop {
                match stdin.try_recv() {
                    Ok(chunk) => {
                        if socket.write_bytes(chunk).is_err() {
                            break;
                        }
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
            // below (the state), or on the next round (stdin).
            let _ = socket.wait_for_ready_read(STDIN_POLL);
            drop(socket.take_events());
            if !print_available(&mut socket) {
                return exit::OK;
            }
            if socket.state() == State::Unconnected {
                return final_status(socket.last_error());
            }
        }

        // End of stdin.
        if !o.half_close && o.linger.is_none() {
            // Qt's ClosingState: everything pending drains, then Unconnected.
            // The outcome is in `last_error` (a peer that went first).
            socket.disconnect_from_server();
            if socket.state() != State::Unconnected {
                let _ = socket.wait_for_disconnected(Timeout::FOREVER);
            }
            print_available(&mut socket);
            return final_status(socket.last_error());
        }
        // Drain what is pending, still reading.
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
            let _ = socket.wait_for_ready_read(wait);
            if !print_available(&mut socket) {
                return exit::OK;
            }
        }
        if socket.state() != State::Unconnected {
            socket.disconnect_from_server();
            if socket.state() != State::Unconnected {
                let _ = socket.wait_for_disconnected(Timeout::FOREVER);
            }
        }
        print_available(&mut socket);
        final_status(socket.last_error())
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

            /// Stop taking stdin while this much waits to be written.
            const BACKLOG: usize = 1 << 20;

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
                            if socket.write_bytes(chunk).is_ok() {
                                socket.try_flush();
                            }
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
                        return final_status(socket.last_error());
                    }
                }

                // End of stdin.
                if !o.half_close && o.linger.is_none() {
                    // Qt's ClosingState: everything pending drains, then Unconnected.
                    socket.disconnect_from_server();
                    let _ = socket.wait_for_disconnected(Timeout::FOREVER).await;
                    print_available(&mut socket);
                    return final_status(socket.last_error());
                }
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
                    let _ = socket.wait_for_ready_read(wait).await;
                    if !print_available(&mut socket) {
                        return exit::OK;
                    }
                }
                if socket.state() != State::Unconnected {
                    socket.disconnect_from_server();
                    let _ = socket.wait_for_disconnected(Timeout::FOREVER).await;
                }
                print_available(&mut socket);
                final_status(socket.last_error())
            }
        }
    };
}

async_arm!(smol_rt, smol, crate::exec::SmolExec::new());
async_arm!(tokio_rt, tokio, crate::exec::TokioExec::current_thread());
