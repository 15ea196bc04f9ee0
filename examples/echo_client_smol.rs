//! An echo client on the smol runtime: `AsyncWriteExt::write_all` out,
//! `AsyncBufReadExt::read_line` back, then Qt's graceful disconnect.
//!
//! ```text
//! cargo run --example echo_client_smol [NAME] [MESSAGE…]
//! ```

use localsock::smol::LocalSocket;
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
            // The trait's read_line (the inherent one is Qt's readLine).
            AsyncBufReadExt::read_line(&mut socket, &mut line).await?;
            print!("echo: {line}");
        }
        socket.disconnect_from_server().await;
        Ok(())
    })
}
