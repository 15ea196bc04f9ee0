//! An echo client on the smol runtime: `AsyncWriteExt::write_all` out,
//! `AsyncBufReadExt::read_line` back, then Qt's graceful disconnect.
//!
//! ```text
//! cargo run --example echo_client_smol [NAME] [MESSAGE…]
//! ```

use localsock::smol::{LocalSocket, State, Timeout};
use smol::io::{AsyncBufReadExt, AsyncWriteExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "localsock-echo".into());
    let mut messages: Vec<String> = args.collect();
    if messages.is_empty() {
        messages = vec!["hello".into(), "from".into(), "smol".into()];
    }
    smol::block_on(async {
        let mut socket = LocalSocket::connect(&name).await?;
        for message in &messages {
            socket.write_all(format!("{message}\n").as_bytes()).await?;
            let mut line = String::new();
            socket.read_line(&mut line).await?;
            print!("echo: {line}");
        }
        // Qt's graceful disconnect: Closing while writes drain, then
        // Unconnected (at once here: the reads above sent everything).
        socket.disconnect_from_server();
        if socket.state() != State::Unconnected {
            socket.wait_for_disconnected(Timeout::FOREVER).await?;
        }
        Ok(())
    })
}
