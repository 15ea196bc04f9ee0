//! `localsock listen NAME [--echo] [--once] [--access …]`: serve a name,
//! print what each client sends (or echo it back), one task or thread per
//! client.

use localsock::{Access, ServerOptions};

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
}

impl ListenOptions {
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
    use localsock::blocking::{LocalServer, LocalSocket, Timeout};
    use localsock::State;

    use super::*;

    pub(super) fn run(o: &ListenOptions) -> u8 {
        let mut server = LocalServer::new();
        if server.listen_with(&o.name, o.server_options()).is_err() {
            eprintln!("localsock: {}", server.error_string());
            return exit::OTHER;
        }
        announce(server.full_server_name());
        loop {
            let socket = match server.accept() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("localsock: {e}");
                    return exit::OTHER;
                }
            };
            if o.once {
                server.close();
                return serve(socket, o.echo);
            }
            let echo = o.echo;
            let spawned = std::thread::Builder::new()
                .name("client".into())
                .spawn(move || serve(socket, echo));
            if let Err(e) = spawned {
                eprintln!("localsock: cannot start a thread for a client: {e}");
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
                    let n = data.len() as u64;
                    if socket.write_bytes(data).is_err() {
                        break;
                    }
                    echoed += n;
                } else if !write_stdout(&data) {
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
            use localsock::$rt::{LocalServer, LocalSocket, Timeout};
            use localsock::State;

            use super::*;
            use crate::exec::Exec;

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
                    if server.listen_with(&o.name, o.server_options()).is_err() {
                        eprintln!("localsock: {}", server.error_string());
                        return exit::OTHER;
                    }
                    announce(server.full_server_name());
                    loop {
                        let socket = match server.accept().await {
                            Ok(s) => s,
                            Err(e) => {
                                eprintln!("localsock: {e}");
                                return exit::OTHER;
                            }
                        };
                        if o.once {
                            server.close();
                            return serve(socket, o.echo).await;
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
                            let n = data.len() as u64;
                            if socket.write_bytes(data).is_err() {
                                break;
                            }
                            echoed += n;
                        } else if !write_stdout(&data) {
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
