//! Windows named pipes under tokio: bursts of clients, busy pipes retried
//! without blocking a runtime thread, dead-on-arrival clients, the first
//! pipe instance, security descriptors and peer process ids.
#![cfg(windows)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use localsock_os::windows::is_wine;
use localsock_tokio::{
    Access, LocalServer, LocalSocket, ServerError, ServerOptions, SocketError, State, Timeout,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "../../tests/src/harness.rs"]
#[allow(dead_code)] // the conformance suite's helpers; this file uses a few
mod harness;

use harness::unique_name;

const LONG: Duration = Duration::from_secs(30);

/// The default 50 instances hold 50 clients that connect before the first
/// accept: none sees `ERROR_PIPE_BUSY`, all are served, in any order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_fifty_clients_before_any_accept() {
    const CLIENTS: u32 = 50;
    let name = unique_name("burst");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut c = LocalSocket::new();
        c.connect_to_server(&name);
        assert_eq!(c.state(), State::Connected, "{}", c.error_string());
        clients.push(c);
    }
    let clients: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move {
                c.write_all(&(i as u32).to_le_bytes()).await.unwrap();
                let mut back = [0u8; 4];
                c.read_exact(&mut back).await.unwrap();
                assert_eq!(u32::from_le_bytes(back), i as u32 + 1000);
            })
        })
        .collect();
    let mut seen = vec![false; CLIENTS as usize];
    for _ in 0..CLIENTS {
        let mut peer = tokio::time::timeout(LONG, server.accept())
            .await
            .expect("accept in time")
            .unwrap();
        let mut id = [0u8; 4];
        peer.read_exact(&mut id).await.unwrap();
        let id = u32::from_le_bytes(id);
        assert!(
            !std::mem::replace(&mut seen[id as usize], true),
            "{id} twice"
        );
        peer.write_all(&(id + 1000).to_le_bytes()).await.unwrap();
        peer.disconnect_from_server();
        let _ = peer
            .wait_for_disconnected(localsock_tokio::Timeout::FOREVER)
            .await;
    }
    for c in clients {
        c.await.unwrap();
    }
}

/// One instance: a second client finds the pipe busy and keeps retrying
/// (Connecting) on the core's schedule; a short connect timeout ends in
/// SocketTimeout; an accept frees an instance and the patient client gets
/// it. Meanwhile a ticker on the same current-thread runtime keeps running:
/// the busy wait blocks no runtime thread.
#[tokio::test(flavor = "current_thread")]
async fn busy_pipe_is_retried_without_blocking_the_runtime() {
    let name = unique_name("busy");
    let mut server = LocalServer::new();
    server
        .listen_with(
            &name,
            ServerOptions {
                pipe_instances: 1,
                ..Default::default()
            },
        )
        .unwrap();
    let first = LocalSocket::connect(&name).await.unwrap();

    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    let mut short = LocalSocket::new();
    short.set_connect_timeout(Duration::from_millis(200));
    short.connect_to_server(&name);
    assert_eq!(
        short.state(),
        State::Connecting,
        "ERROR_PIPE_BUSY is retried"
    );
    let before = ticks.load(Ordering::Relaxed);
    assert!(short.wait_for_connected(Timeout::FOREVER).await.is_err());
    assert_eq!(short.error(), SocketError::SocketTimeout);
    assert!(
        ticks.load(Ordering::Relaxed) > before,
        "the runtime kept running during the busy wait"
    );

    let mut patient = LocalSocket::new();
    patient.connect_to_server(&name);
    assert_eq!(patient.state(), State::Connecting);
    assert!(patient
        .wait_for_connected(Duration::from_millis(30))
        .await
        .is_err());
    assert_eq!(patient.state(), State::Connecting, "still retrying");
    let _peer = server.accept().await.unwrap(); // frees an instance
    assert!(
        patient.wait_for_connected(LONG).await.is_ok(),
        "{}",
        patient.error_string()
    );
    let mut peer2 = server.accept().await.unwrap();
    patient.write_all(b"late").await.unwrap();
    AsyncWriteExt::flush(&mut patient).await.unwrap();
    let mut got = [0u8; 4];
    peer2.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"late");
    ticker.abort();
    drop(first);
}

/// Clients that connect and leave before the accept, both before the
/// server was ever polled and while its instances wait in `connect`: each
/// is handed off as a connection that ends at once, and the server goes on
/// serving the next client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_on_arrival_clients_do_not_wedge_the_server() {
    for armed in [false, true] {
        let name = unique_name("doa");
        let mut server = LocalServer::new();
        server
            .listen_with(
                &name,
                ServerOptions {
                    pipe_instances: 2,
                    ..Default::default()
                },
            )
            .unwrap();
        if armed {
            // Registers the instances and starts their connects.
            let timed_out = server
                .wait_for_new_connection(Duration::from_millis(20))
                .await
                .expect_err("no client yet");
            assert_eq!(timed_out.kind(), ServerError::SocketTimeout);
        }
        for _ in 0..2 {
            let mut gone = LocalSocket::new();
            gone.connect_to_server(&name);
            assert_eq!(gone.state(), State::Connected);
            drop(gone);
        }
        let mut doa = Vec::new();
        for _ in 0..2 {
            let mut peer = tokio::time::timeout(LONG, server.accept())
                .await
                .expect("accept in time")
                .unwrap();
            assert!(peer.wait_for_ready_read(LONG).await.is_err());
            assert_eq!(peer.state(), State::Unconnected, "armed: {armed}");
            doa.push(peer);
        }
        let mut alive = LocalSocket::connect(&name).await.unwrap();
        alive.write_all(b"alive").await.unwrap();
        AsyncWriteExt::flush(&mut alive).await.unwrap();
        let mut peer = tokio::time::timeout(LONG, server.accept())
            .await
            .expect("the server still accepts")
            .unwrap();
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"alive");
    }
}

/// The first instance carries `FILE_FLAG_FIRST_PIPE_INSTANCE`: a second
/// server on a live name is `AddressInUse` (Windows). Wine 8 does not
/// enforce the flag; that is reported, not passed silently.
#[tokio::test]
async fn second_server_on_a_live_name() {
    let name = unique_name("first");
    let mut first = LocalServer::new();
    first.listen(&name).unwrap();
    let mut second = LocalServer::new();
    match second.listen(&name) {
        Err(e) => assert_eq!(e.kind(), ServerError::AddressInUse, "{e}"),
        Ok(()) if is_wine() => {
            println!("note: Wine does not enforce FILE_FLAG_FIRST_PIPE_INSTANCE; a second server listens on {name}")
        }
        Ok(()) => panic!("a second server took the live name {name}"),
    }
    // The first still serves.
    let mut c = LocalSocket::connect(&name).await.unwrap();
    let mut peer = tokio::time::timeout(LONG, first.accept())
        .await
        .expect("the first server accepts")
        .unwrap_or_else(|_| panic!("the first server accepts"));
    c.write_all(b"x").await.unwrap();
    AsyncWriteExt::flush(&mut c).await.unwrap();
    let mut got = [0u8; 1];
    peer.read_exact(&mut got).await.unwrap();
}

/// Every access option builds a security descriptor that the pipe
/// instances are created with; a client of the same user reads and writes.
#[tokio::test]
async fn access_options_apply_a_descriptor_the_owner_can_use() {
    for access in [Access::USER, Access::GROUP, Access::OTHER, Access::WORLD] {
        let name = unique_name("acl");
        let mut server = LocalServer::new();
        server
            .listen_with(
                &name,
                ServerOptions {
                    access,
                    pipe_instances: 2,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut c = LocalSocket::connect(&name).await.unwrap();
        let mut peer = server.accept().await.unwrap();
        c.write_all(b"up").await.unwrap();
        AsyncWriteExt::flush(&mut c).await.unwrap();
        let mut got = [0u8; 2];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"up", "{access:?}");
        peer.write_all(b"down").await.unwrap();
        AsyncWriteExt::flush(&mut peer).await.unwrap();
        let mut got = [0u8; 4];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"down", "{access:?}");
    }
}

/// Both ends report the other's process id; pipes have no half-close.
#[tokio::test]
async fn peer_process_ids_and_no_half_close() {
    let name = unique_name("pid");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut c = LocalSocket::connect(&name).await.unwrap();
    let peer = server.accept().await.unwrap();
    let me = std::process::id();
    assert_eq!(c.peer_credentials().unwrap().pid, Some(me));
    assert_eq!(peer.peer_credentials().unwrap().pid, Some(me));
    assert_eq!(c.peer_credentials().unwrap().uid, None);
    let e = c.shutdown_write().await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
    assert_eq!(c.state(), State::Connected);
}

/// Closing the server drops its instances and queued connections: a
/// waiting client sees the end, a new one finds no server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_queued_connections_and_the_name() {
    let name = unique_name("close");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut c = LocalSocket::connect(&name).await.unwrap();
    assert!(server.wait_for_new_connection(LONG).await.is_ok());
    server.close();
    assert!(c.wait_for_disconnected(LONG).await.is_ok());
    let mut late = LocalSocket::new();
    late.connect_to_server(&name);
    assert!(late.wait_for_connected(LONG).await.is_err());
    assert_eq!(late.error(), SocketError::ServerNotFound);
}
