//! An echo server on the smol runtime: one thread, a task per client, and
//! the futures-io traits (the socket splits into a read half and a write
//! half, and `smol::io::copy` joins them).
//!
//! ```text
//! cargo run --example echo_server_smol [NAME]           # default: localsock-echo
//! cargo run --example echo_client_smol [NAME] [MESSAGE…]
//! ```

use localsock::smol::LocalServer;
use smol::io::AsyncWriteExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "localsock-echo".into());
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let mut server = LocalServer::new();
        server.listen(&name)?;
        eprintln!("echo server listening on {}", server.full_server_name());
        loop {
            let socket = server.accept().await?;
            ex.spawn(async move {
                let (mut read, mut write) = socket.into_split();
                let _ = smol::io::copy(&mut read, &mut write).await;
                // Qt's graceful disconnect: drain, then close.
                let _ = write.close().await;
            })
            .detach();
        }
    }))
}
