//! Out of descriptors (`EMFILE`), a server that axum or tonic drives keeps
//! accepting once descriptors are free: axum's `Listener::accept` retries
//! inside, and `incoming()` yields the error, then accepts again.
//!
//! The descriptor limit is lowered in a child process (this test binary
//! run again for one test), so no other test runs out of descriptors.
//! Unix only: Windows has no descriptor limit to lower.
#![cfg(all(unix, feature = "axum"))]

use std::fs::File;
use std::time::Duration;

use futures_lite::StreamExt;
use localsock_tokio::{LocalServer, LocalSocket, ServerError};

#[path = "../../tests/src/descriptor_limit.rs"]
mod descriptor_limit;

use descriptor_limit::exhaust;

/// Connects a client while descriptors are scarce: frees one at a time
/// until the connect gets its socket, then takes every spare one again.
async fn connect_then_exhaust(name: &str, held: &mut Vec<File>) -> LocalSocket {
    loop {
        held.pop().expect("a descriptor to free");
        if let Ok(socket) = LocalSocket::connect(name).await {
            exhaust(held);
            return socket;
        }
    }
}

async fn in_child() {
    descriptor_limit::lower_limit(256);

    let name = format!("localsock-accept-backoff-{}", std::process::id());
    let mut server = LocalServer::new();
    server.listen(&name).expect("listen");
    let mut held = Vec::new();
    exhaust(&mut held);

    // axum's Listener: the accept fails first (proved by the recorded
    // error), then succeeds once descriptors are free.
    let _client = connect_then_exhaust(&name, &mut held).await;
    assert!(
        !server.has_pending_connections(),
        "accepted without a descriptor"
    );
    assert_eq!(server.server_error(), ServerError::SocketResource);
    let (accepted, ()) = tokio::join!(axum::serve::Listener::accept(&mut server), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        held.clear();
    });
    let (socket, peer) = accepted;
    assert!(socket.is_valid());
    assert_eq!(
        peer.credentials.and_then(|c| c.uid),
        Some(rustix::process::geteuid().as_raw())
    );
    assert!(server.is_listening());

    // `incoming()`: the failure is an item, and the stream goes on.
    exhaust(&mut held);
    let _client = connect_then_exhaust(&name, &mut held).await;
    let mut incoming = server.incoming();
    let failed = incoming.next().await.expect("an item");
    assert_eq!(
        failed.expect_err("no descriptor to accept with").kind(),
        ServerError::SocketResource
    );
    held.clear();
    let accepted = incoming.next().await.expect("an item");
    assert!(accepted
        .expect("accepted once descriptors are free")
        .is_valid());
}

#[test]
fn accepting_resumes_after_running_out_of_descriptors() {
    if descriptor_limit::in_child("accepting_resumes_after_running_out_of_descriptors") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(in_child());
    }
}
