//! An echo client on the tokio runtime, with Qt's signals printed as they
//! arrive (`next_event`).
//!
//! ```text
//! cargo run --features tokio --example echo_client_tokio [NAME] [MESSAGE…]
//! ```

use localsock::tokio::{LocalSocket, State, Timeout};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "localsock-echo".into());
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = vec!["hello".into(), "from".into(), "tokio".into()];
    }
    let mut socket = LocalSocket::connect(&name).await?;
    for signal in socket.take_events() {
        eprintln!("signal: {signal:?}");
    }
    for message in &messages {
        socket.write_all(format!("{message}\n").as_bytes()).await?; // AsyncWriteExt
        let mut line = String::new();
        socket.read_line(&mut line).await?; // AsyncBufReadExt
        print!("echo: {line}");
    }
    socket.disconnect_from_server(); // Qt's graceful close: drain, then Unconnected
    if socket.state() != State::Unconnected {
        socket.wait_for_disconnected(Timeout::FOREVER).await?;
    }
    while let Some(signal) = socket.next_event().await {
        eprintln!("signal: {signal:?}"); // Qt's signals, in Qt's order
    }
    Ok(())
}
