//! An echo server on the blocking runtime: a thread per client, written in
//! Qt's "without an event loop" style: `wait_for_ready_read`, and Qt's
//! non-blocking `readLine`, `write` and `flush`, which are `read_line_bytes`,
//! `write_bytes` and `try_flush` here (the names `read_line`, `write` and
//! `flush` belong to `std::io`'s traits, which block).
//!
//! ```text
//! cargo run --example echo_server_blocking [NAME]       # default: localsock-echo
//! cargo run --example echo_client_blocking [NAME] [MESSAGE…]
//! ```
//!
//! Any client by the same name works: `localsock connect localsock-echo`,
//! the smol or tokio example clients, or a Qt program calling
//! `QLocalSocket::connectToServer("localsock-echo")`.

use localsock::blocking::{LocalServer, LocalSocket, Timeout};
use localsock::DeviceError;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "localsock-echo".into());
    let mut server = LocalServer::new();
    server.listen(&name)?;
    eprintln!("echo server listening on {}", server.full_server_name());
    for socket in server.incoming() {
        let socket = socket?;
        std::thread::spawn(move || serve(socket));
    }
    Ok(())
}

/// Echoes whole lines until the client goes.
fn serve(mut socket: LocalSocket) -> Result<(), DeviceError> {
    // `wait_for_ready_read` is an error once the client has closed;
    // whatever it sent last is still buffered and gets answered.
    while socket.wait_for_ready_read(Timeout::FOREVER).is_ok() || socket.bytes_available() > 0 {
        while socket.can_read_line() {
            let line = socket.read_line_bytes(0)?; // a zero-copy `Bytes`
            socket.write_bytes(line)?; // queued, sent on flush
        }
        socket.try_flush(); // what the OS takes now; never blocks
        if !socket.is_valid() {
            break;
        }
    }
    Ok(())
}
