//! tokio-specific behaviour the shared conformance suite cannot express:
//! codecs, cancellation in `select!`, runtime shutdown, back-pressure,
//! owned halves on two tasks, and a connect against a full backlog (all
//! pipe instances busy on Windows). Unix and Windows alike; the Windows
//! pipe specifics are in `windows.rs`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use localsock_tokio::{Event, LocalServer, LocalSocket, SocketError, State, Timeout};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{Framed, LinesCodec};

#[path = "../../tests/src/async_harness.rs"]
mod async_harness;
#[path = "../../tests/src/harness.rs"]
#[allow(dead_code)] // the conformance suite's helpers; this file uses a few
mod harness;

use harness::{checksum, one_slot, payload, unique_name};

async fn pair(tag: &str) -> (LocalServer, LocalSocket, LocalSocket) {
    async_harness::pair(&unique_name(tag)).await
}

/// Streams `data` in writes of varying sizes with short pauses (so the
/// reader waits, and its waits get cancelled), then disconnects gracefully.
fn spawn_streamer(mut peer: LocalSocket, data: Vec<u8>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let sizes = [1usize, 7, 100, 4096, 65_536, 300_000, 13];
        let mut at = 0;
        for (i, size) in sizes.iter().cycle().enumerate() {
            if at == data.len() {
                break;
            }
            let end = (at + size).min(data.len());
            peer.write_all(&data[at..end]).await.expect("write");
            at = end;
            if i % 3 == 0 {
                AsyncWriteExt::flush(&mut peer).await.expect("flush");
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        peer.disconnect_from_server();
        let _ = peer
            .wait_for_disconnected(localsock_tokio::Timeout::FOREVER)
            .await;
        assert_eq!(
            peer.error(),
            SocketError::Unknown,
            "{}",
            peer.error_string()
        );
    })
}

#[test]
fn futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let mut s = LocalSocket::new();
    send(&s.wait_for_connected(Timeout::NONE));
    send(&s.wait_for_ready_read(Timeout::NONE));
    send(&s.wait_for_bytes_written(Timeout::NONE));
    send(&s.wait_for_disconnected(Timeout::NONE));
    send(&s.disconnect_from_server());
    send(&s.next_event());
    send(&s.read_u8());
    send(&s.write_all(b"x"));
    send(&LocalSocket::connect("x"));
    let mut server = LocalServer::new();
    send(&server.accept());
    send(&server.wait_for_new_connection(Timeout::NONE));
}

#[tokio::test]
async fn framed_lines_round_trip() {
    let (_server, client, peer) = pair("framed").await;
    let echo = tokio::spawn(async move {
        let mut peer = Framed::new(peer, LinesCodec::new());
        let mut n = 0;
        while let Some(line) = peer.next().await {
            let line = line.expect("a line");
            peer.send(line.to_uppercase()).await.expect("send");
            n += 1;
        }
        n
    });
    let mut client = Framed::new(client, LinesCodec::new());
    for i in 0..500 {
        client.send(format!("line {i}")).await.unwrap();
        let back = client.next().await.unwrap().unwrap();
        assert_eq!(back, format!("LINE {i}"));
    }
    // A burst of lines, then the half-close.
    for i in 0..1000 {
        client.feed(format!("burst {i}")).await.unwrap();
    }
    SinkExt::<String>::flush(&mut client).await.unwrap();
    for i in 0..1000 {
        assert_eq!(client.next().await.unwrap().unwrap(), format!("BURST {i}"));
    }
    // `close` flushes and half-closes: the echo sees the end of its input
    // and goes away, and only then is the client disconnected.
    // (Pipes cannot half-close: there `close` is the graceful disconnect.)
    SinkExt::<String>::close(&mut client).await.unwrap();
    let half_closed = if cfg!(unix) {
        State::Connected
    } else {
        State::Unconnected
    };
    assert_eq!(client.get_ref().state(), half_closed);
    assert_eq!(echo.await.unwrap(), 1500);
    assert!(client.next().await.is_none());
    assert_eq!(client.get_ref().state(), State::Unconnected);
}

/// Reads raced against a short sleep in `select!`: every cancelled read
/// must leave its bytes in the socket, for direct (large buffer) and
/// buffered (small buffer) reads alike.
async fn select_reads_lose_nothing() {
    let (_server, mut client, peer) = pair("select").await;
    let data = payload(6 << 20, 11);
    let expect = checksum(&data);
    let len = data.len();
    let streamer = spawn_streamer(peer, data);
    let mut got = Vec::with_capacity(len);
    let mut small = [0u8; 100];
    let mut large = vec![0u8; 256 * 1024];
    let (mut cancelled, mut round) = (0u32, 0u64);
    loop {
        round += 1;
        let buf: &mut [u8] = if round % 3 == 0 {
            &mut small
        } else {
            &mut large
        };
        tokio::select! {
            r = client.read(buf) => {
                let n = r.expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            _ = tokio::time::sleep(Duration::from_micros(20)) => cancelled += 1,
        }
    }
    streamer.await.unwrap();
    assert_eq!(got.len(), len);
    assert_eq!(checksum(&got), expect);
    // Not asserted (timing): cancellations normally happen many times.
    let _ = cancelled;
}

#[tokio::test(flavor = "current_thread")]
async fn select_cancellation_loses_no_bytes_current_thread() {
    select_reads_lose_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_cancellation_loses_no_bytes_multi_thread() {
    select_reads_lose_nothing().await;
}

/// `next_event` raced against a sleep: no `ReadyRead` data and no closing
/// signal is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_cancellation_of_next_event_loses_nothing() {
    let (_server, mut client, peer) = pair("events").await;
    client.take_events(); // the connect's signals
    let data = payload(3 << 20, 12);
    let expect = checksum(&data);
    let len = data.len();
    let streamer = spawn_streamer(peer, data);
    let mut got = Vec::with_capacity(len);
    let mut events = Vec::new();
    loop {
        tokio::select! {
            e = client.next_event() => match e {
                Some(e) => {
                    if e == Event::ReadyRead {
                        got.extend_from_slice(&client.read_all().unwrap());
                    }
                    events.push(e);
                }
                None => break,
            },
            _ = tokio::time::sleep(Duration::from_micros(20)) => {}
        }
    }
    got.extend_from_slice(&client.read_all().unwrap());
    streamer.await.unwrap();
    assert_eq!(got.len(), len);
    assert_eq!(checksum(&got), expect);
    let tail: Vec<_> = events
        .iter()
        .filter(|e| **e != Event::ReadyRead)
        .copied()
        .collect();
    assert_eq!(
        tail,
        vec![
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::ReadChannelFinished,
            Event::Disconnected
        ]
    );
}

/// Sockets, halves, a server and a socket with a pending connect-retry
/// timer are dropped while the runtime shuts down (inside tasks it cancels)
/// and after it is gone: nothing panics.
#[test]
fn dropping_during_and_after_runtime_shutdown_never_panics() {
    for flavor in 0..2 {
        let rt = if flavor == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            tokio::runtime::Builder::new_multi_thread()
        }
        .enable_all()
        .build()
        .unwrap();
        let leftovers = rt.block_on(async {
            let name = unique_name("shutdown");
            let mut server = LocalServer::new();
            server.listen_with(&name, one_slot()).unwrap();
            let mut a = LocalSocket::connect(&name).await.unwrap();
            let b = server.accept().await.unwrap();
            a.write_bytes(vec![7u8; 1 << 20]).unwrap(); // pending writes
                                                        // Fill the backlog so a connect stays Connecting, with its retry
                                                        // timer allocated by a short wait.
            let mut fill = Vec::new();
            let mut connecting = None;
            for _ in 0..16 {
                let mut s = LocalSocket::new();
                s.connect_to_server(&name);
                if s.state() == State::Connecting {
                    assert!(s
                        .wait_for_connected(Duration::from_millis(5))
                        .await
                        .is_err());
                    connecting = Some(s);
                    break;
                }
                fill.push(s);
            }
            // Tasks blocked in a read and in a write when the runtime stops.
            let (c, d) = pair("shutdown-tasks").await.1.into_split();
            tokio::spawn(async move {
                let mut c = c;
                let mut buf = [0u8; 16];
                let _ = c.read(&mut buf).await;
            });
            tokio::spawn(async move {
                let mut d = d;
                let big = vec![1u8; 8 << 20];
                let _ = d.write_all(&big).await;
            });
            let (_s, e, f) = pair("shutdown-events").await;
            tokio::spawn(async move {
                let mut e = e;
                while e.next_event().await.is_some() {}
                drop(f);
            });
            tokio::task::yield_now().await;
            (server, a, b, fill, connecting)
        });
        drop(rt); // cancels the tasks: their sockets drop during shutdown
        drop(leftovers); // and these after the runtime is gone
    }
}

/// Owned halves on two tasks (on a multi-thread runtime, so on two threads):
/// the client writes and reads at once through an echo server that copies
/// between its own halves; then the halves are reunited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_halves_on_two_tasks() {
    let (_server, client, peer) = pair("halves").await;
    let echo = tokio::spawn(async move {
        let (mut r, mut w) = peer.into_split();
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
        n
    });
    let data = payload(8 << 20, 14);
    let expect = checksum(&data);
    let len = data.len();
    let (mut r, mut w) = client.into_split();
    let writer = tokio::spawn(async move {
        for chunk in data.chunks(10_000) {
            w.write_all(chunk).await.unwrap();
        }
        AsyncWriteExt::flush(&mut w).await.unwrap();
        w
    });
    let reader = tokio::spawn(async move {
        let mut got = vec![0u8; len];
        r.read_exact(&mut got).await.unwrap();
        (r, checksum(&got))
    });
    let w = writer.await.unwrap();
    let (r, sum) = reader.await.unwrap();
    assert_eq!(sum, expect);
    let mut client = r.reunite(w).expect("halves of one socket");
    assert_eq!(client.state(), State::Connected);
    client.disconnect_from_server();
    let _ = client
        .wait_for_disconnected(localsock_tokio::Timeout::FOREVER)
        .await;
    assert_eq!(echo.await.unwrap(), len as u64);
}

/// Halves of different sockets do not reunite, and come back intact.
#[tokio::test]
async fn reunite_rejects_foreign_halves() {
    let (_s1, a, _pa) = pair("reunite-a").await;
    let (_s2, b, _pb) = pair("reunite-b").await;
    let (ar, _aw) = a.into_split();
    let (_br, bw) = b.into_split();
    let err = ar.reunite(bw).unwrap_err();
    assert_eq!(err.0.state(), State::Connected);
    assert_eq!(err.1.state(), State::Connected);
}

/// `incoming()` and `events()` as streams.
#[tokio::test]
async fn incoming_and_events_streams() {
    let name = unique_name("streams");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let client = tokio::spawn({
        let name = name.clone();
        async move {
            let mut s = LocalSocket::new();
            s.connect_to_server(&name);
            let events: Vec<Event> = s.events().take(3).collect().await;
            assert_eq!(
                events,
                vec![
                    Event::StateChanged(State::Connecting),
                    Event::StateChanged(State::Connected),
                    Event::Connected
                ]
            );
            s.write_all(b"hi").await.unwrap();
            s.disconnect_from_server();
            let _ = s
                .wait_for_disconnected(localsock_tokio::Timeout::FOREVER)
                .await;
        }
    });
    let mut peer = server.incoming().next().await.unwrap().unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"hi");
    client.await.unwrap();
    server.close();
    assert!(server.incoming().next().await.is_none());
}

/// A flush fails when the peer vanished with bytes still queued, and keeps
/// failing until the next connect; reading goes on to end of stream, where
/// the connection ends.
#[tokio::test]
async fn flush_reports_lost_writes() {
    let (_server, mut client, peer) = pair("lost").await;
    drop(peer);
    client.write_bytes(vec![3u8; 4 << 20]).unwrap(); // queued
    let r = AsyncWriteExt::flush(&mut client).await;
    assert!(r.is_err(), "4 MiB cannot reach a closed peer");
    assert!(
        AsyncWriteExt::flush(&mut client).await.is_err(),
        "reported again"
    );
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    assert_eq!(client.state(), State::Unconnected);
    assert!(matches!(
        client.error(),
        SocketError::PeerClosed | SocketError::Connection
    ));
    assert!(
        AsyncWriteExt::flush(&mut client).await.is_err(),
        "until the next connect"
    );
}

/// Sync calls work outside any runtime; the socket registers with the
/// runtime that first polls it.
#[test]
fn sync_calls_outside_a_runtime() {
    let name = unique_name("outside");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut client = LocalSocket::new();
    client.connect_to_server(&name);
    assert_eq!(client.state(), State::Connected);
    let mut peer = server.next_pending_connection().expect("the OS has it");
    client.write_bytes(&b"ping"[..]).unwrap();
    // The OS takes it now, without a runtime (on Windows too: the pipes are
    // localsock-os's overlapped ones, which need no reactor to start).
    assert!(client.try_flush());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        AsyncWriteExt::flush(&mut client).await.unwrap();
        let mut buf = [0u8; 4];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    });
}

/// The I/O traits honour the open mode: a write-only socket refuses reads
/// at once (instead of waiting for data it discards), a read-only one
/// refuses writes.
#[tokio::test]
async fn io_traits_honour_the_open_mode() {
    let name = unique_name("modes");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut wo = LocalSocket::new();
    wo.connect_to_server_with_mode(&name, localsock_tokio::OpenMode::WriteOnly);
    assert!(wo.wait_for_connected(Timeout::FOREVER).await.is_ok());
    let err = wo.read(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    let mut ro = LocalSocket::new();
    ro.connect_to_server_with_mode(&name, localsock_tokio::OpenMode::ReadOnly);
    assert!(ro.wait_for_connected(Timeout::FOREVER).await.is_ok());
    let err = ro.write_all(b"x").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
}
