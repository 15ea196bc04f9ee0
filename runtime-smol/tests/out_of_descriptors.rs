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

use std::time::Duration;

use futures_lite::{future, StreamExt};
use localsock_smol::{LocalServer, LocalSocket, ServerError};

#[path = "../../tests/src/descriptor_limit.rs"]
mod descriptor_limit;

use descriptor_limit::exhaust;

fn in_child() {
    descriptor_limit::lower_limit(256);

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
    if descriptor_limit::in_child("a_server_out_of_descriptors_waits_and_accepts_again") {
        in_child();
    }
}
