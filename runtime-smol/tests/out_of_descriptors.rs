//! Out of descriptors (`EMFILE`), a smol server keeps serving, and never
//! panics: async-io's reactor starts on first use and needs descriptors
//! of its own, so `listen` starts it
//! ([`Runtime::REGISTER_LISTENERS_AT_ONCE`](localsock_async::Runtime)).
//! Before, a server whose first wait came after the process ran out of
//! descriptors (clients queued before it first polled) panicked inside
//! async-io.
//!
//! The test runs in a child process (this test binary run again for one
//! test): the reactor must not have started before it, and the lowered
//! descriptor limit must not reach other tests. Unix only: Windows has no
//! descriptor limit to lower.
#![cfg(unix)]

use std::fs::File;
use std::process::Command;
use std::time::Duration;

use futures_lite::{future, StreamExt};
use localsock_smol::{LocalServer, LocalSocket, ServerError};

const CHILD: &str = "LOCALSOCK_SMOL_OUT_OF_DESCRIPTORS_CHILD";

/// Opens `/dev/null` until the process is out of descriptors.
fn exhaust(held: &mut Vec<File>) {
    while let Ok(f) = File::open("/dev/null") {
        held.push(f);
        assert!(held.len() < 100_000, "the descriptor limit was not lowered");
    }
}

fn in_child() {
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

    let name = format!("localsock-smol-emfile-{}", std::process::id());
    let mut server = LocalServer::new();
    server.listen(&name).expect("listen");
    let mut held = Vec::new();
    exhaust(&mut held);

    smol::block_on(async {
        // No descriptor to accept with (Linux takes one before it looks at
        // the queue): `incoming()` yields the failure, then pauses before
        // the next try. That pause is the first wait of the process, with
        // no descriptor free: it must not need to start the reactor now.
        let mut incoming = server.incoming();
        let failed = incoming.next().await.expect("an item");
        assert_eq!(
            failed.expect_err("no descriptor to accept with").kind(),
            ServerError::SocketResource
        );
        let (accepted, _client) = future::zip(incoming.next(), async {
            async_io::Timer::after(Duration::from_millis(20)).await;
            held.clear();
            LocalSocket::connect(&name).await.expect("connect")
        })
        .await;
        let accepted = accepted.expect("an item");
        assert!(accepted.expect("accepted once free").is_valid());
    });
    assert!(server.is_listening());
}

#[test]
fn a_server_out_of_descriptors_waits_and_accepts_again() {
    if std::env::var_os(CHILD).is_some() {
        in_child();
        return;
    }
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "a_server_out_of_descriptors_waits_and_accepts_again",
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
