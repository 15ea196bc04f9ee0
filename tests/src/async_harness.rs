//! Helpers for the own tests of the async driver's runtime crates
//! (localsock-smol, localsock-tokio), generic over its runtime; they
//! include this file by path (`#[path]`), next to `harness.rs`.

use localsock_async::{LocalServer, LocalSocket, Runtime};

/// A server listening on `name`, a connected client and its accepted peer.
pub async fn pair<R: Runtime>(name: &str) -> (LocalServer<R>, LocalSocket<R>, LocalSocket<R>) {
    let mut server = LocalServer::new();
    server.listen(name).expect("listen");
    let client = LocalSocket::connect(name).await.expect("connect");
    let peer = server.accept().await.expect("accept");
    (server, client, peer)
}
