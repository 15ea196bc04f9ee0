//! An echo client on the blocking runtime, through `std::io::{Write, BufRead}`:
//! each line goes out, its echo comes back. Start
//! `cargo run --example echo_server_blocking` (or any echo server) first.
//!
//! ```text
//! cargo run --example echo_client_blocking [NAME] [MESSAGE…]
//! ```

use std::io::{BufRead, Write};

use localsock::blocking::{LocalSocket, Timeout};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "localsock-echo".into());
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = vec!["hello".into(), "from".into(), "localsock".into()];
    }

    // A failed connect is Qt's error, with Qt's text:
    // "QLocalSocket::connectToServer: Invalid name" when nobody listens.
    let mut socket = LocalSocket::connect(&name)?;
    for message in &messages {
        writeln!(socket, "{message}")?;
        // Reads send what is queued first: no explicit flush needed.
        let mut line = String::new();
        socket.read_line(&mut line)?; // `BufRead`: blocks for a whole line
        print!("echo: {line}");
    }
    // Qt's graceful close: `disconnect_from_server` starts it and returns
    // at once (Closing while anything is queued), `wait_for_disconnected`
    // waits until everything queued is written and the socket is closed.
    socket.disconnect_from_server();
    socket.wait_for_disconnected(Timeout::FOREVER)?;
    Ok(())
}
