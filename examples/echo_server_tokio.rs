//! An echo server on the tokio runtime: a task per client, tokio's I/O
//! traits (`into_split` + `tokio::io::copy`).
//!
//! ```text
//! cargo run --features tokio --example echo_server_tokio [NAME]
//! cargo run --features tokio --example echo_client_tokio [NAME] [MESSAGE…]
//! ```

use localsock::tokio::LocalServer;
use tokio::io::AsyncWriteExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "localsock-echo".into());
    let mut server = LocalServer::new();
    server.listen(&name)?;
    eprintln!("echo server listening on {}", server.full_server_name());
    loop {
        let socket = server.accept().await?;
        tokio::spawn(async move {
            let (mut read, mut write) = socket.into_split();
            let _ = tokio::io::copy(&mut read, &mut write).await;
            // Drains what is queued, then closes (Qt's disconnectFromServer).
            let _ = write.shutdown().await;
        });
    }
}
