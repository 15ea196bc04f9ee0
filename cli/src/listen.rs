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

mod blocking {
    use localsock::blocking::{LocalServer, LocalSocket, Timeout};
    use localsock::State;

    use super::*;

    pub(super) fn run(o: &ListenOptions) -> u8 {
        let mut server = LocalServer::new();
        if let Err(e) = server.listen_with(&o.name, o.server_options()) {
            return crate::report_listen_failure(&o.name, o.access != Access::DEFAULT, &e);
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
        let mut status = exit::OK;
        loop {
            let more = socket.wait_for_ready_read(Timeout::FOREVER).is_ok();
            let data = socket.read_all().unwrap_or_default();
            if !data.is_empty() {
                if echo {
                    if socket.write_bytes(data).is_ok() {
                        socket.try_flush();
                    }
                } else if !write_stdout(&data) {
                    socket.abort();
                    break;
                }
            }
            if !more && socket.state() != State::Connected {
                break;
            }
        }
        if socket.state() != State::Unconnected {
            socket.disconnect_from_server();
            // How it ended is in `last_error`, looked at below.
            let _ = socket.wait_for_disconnected(Timeout::FOREVER);
        }
        if let Some(e) = socket.last_error() {
            if e.kind() != localsock::SocketError::PeerClosed {
                eprintln!("localsock: {e}");
                status = exit::OTHER;
            }
        }
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
                    if let Err(e) = server.listen_with(&o.name, o.server_options()) {
                        let access = o.access != Access::DEFAULT;
                        return crate::report_listen_failure(&o.name, access, &e);
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
                let mut status = exit::OK;
                loop {
                    let more = socket.wait_for_ready_read(Timeout::FOREVER).await.is_ok();
                    let data = socket.read_all().unwrap_or_default();
                    if !data.is_empty() {
                        if echo {
                            if socket.write_bytes(data).is_ok() {
                                socket.try_flush();
                            }
                        } else if !write_stdout(&data) {
                            socket.abort();
                            break;
                        }
                    }
                    if !more && socket.state() != State::Connected {
                        break;
                    }
                }
                if socket.state() != State::Unconnected {
                    socket.disconnect_from_server();
                    let _ = socket.wait_for_disconnected(Timeout::FOREVER).await;
                }
                if let Some(e) = socket.last_error() {
                    if e.kind() != localsock::SocketError::PeerClosed {
                        eprintln!("localsock: {e}");
                        status = exit::OTHER;
                    }
                }
                client_line(pid, "disconnected");
                status
            }
        }
    };
}

async_arm!(smol_rt, smol, crate::exec::SmolExec::new());
async_arm!(tokio_rt, tokio, crate::exec::TokioExec::current_thread());
