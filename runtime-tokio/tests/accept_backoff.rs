//! Out of descriptors (`EMFILE`), a server that axum or tonic drives keeps
//! accepting once descriptors are free: axum's `Listener::accept` retries
//! inside, and `incoming()` yields the error, then accepts again.
//!
//! The descriptor limit is lowered in a child process (this test binary
//! run again for one test), so no other test runs out of descriptors.
//! Unix only: Windows has no descriptor limit to lower.
#![cfg(all(unix, feature = "axum"))]

use std::fs::File;
use std::process::Command;
use std::time::Duration;

use futures_lite::StreamExt;
use localsock_tokio::{LocalServer, LocalSocket, ServerError};

const CHILD: &str = "LOCALSOCK_ACCEPT_BACKOFF_CHILD";

/// Opens `/dev/null` until the process is out of descriptors.
fn exhaust(held: &mut Vec<File>) {
    while let Ok(f) = File::open("/dev/null") {
        held.push(f);
        assert!(held.len() < 100_000, "the descriptor limit was not lowered");
    }
}

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
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(256),
            maximum: old.maximum,
        },
    )
    .expect("lower RLIMIT_NOFILE");

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
    if std::env::var_os(CHILD).is_some() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(in_child());
        return;
    }
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "accepting_resumes_after_running_out_of_descriptors",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{stderr}"
    );
}
