//! What only an async runtime can get wrong: cancellation, dropping at
//! awkward moments, many tasks on one thread, back-pressure through the
//! reactor, and halves used from two tasks. All on real sockets (Unix) or
//! named pipes (Windows).

use std::time::Duration;

use async_io::Timer;
use futures_lite::future;
use futures_lite::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use futures_lite::StreamExt;
use localsock_smol::{Event, LocalServer, LocalSocket, OpenMode, SocketError, State};

/// A generous bound for waits expected to succeed.
const LONG: Duration = Duration::from_secs(30);
/// The state after the I/O trait's `close`: a half-close keeps a Unix
/// socket Connected (it can still read); pipes cannot half-close, so there
/// `close` is the graceful disconnect.
const HALF_CLOSED: State = if cfg!(unix) {
    State::Connected
} else {
    State::Unconnected
};

#[path = "../../tests/src/async_harness.rs"]
mod async_harness;
#[path = "../../tests/src/harness.rs"]
#[allow(dead_code)] // the conformance suite's helpers; this file uses a few
mod harness;

use harness::{payload, unique_name};

/// A listening server and a connected client with its accepted peer.
async fn pair(tag: &str) -> (LocalServer, LocalSocket, LocalSocket) {
    async_harness::pair(&unique_name(tag)).await
}

/// A read raced against a short timer, thousands of times, while the peer
/// streams data in odd-sized pieces: every cancelled read must leave the
/// stream intact (no byte lost, duplicated or reordered).
#[test]
fn cancelled_reads_lose_nothing() {
    let (_server, mut client, peer) = smol::block_on(pair("cancel"));
    let data = payload(2 << 20, 11);
    let expect = data.clone();
    let writer = std::thread::spawn(move || {
        smol::block_on(async move {
            let mut peer = peer;
            let mut off = 0;
            let mut step = 1usize;
            while off < data.len() {
                step = (step * 7 + 3) % 40_000 + 1;
                let end = (off + step).min(data.len());
                peer.write_all(&data[off..end]).await.unwrap();
                AsyncWriteExt::flush(&mut peer).await.unwrap();
                off = end;
                if step % 5 == 0 {
                    Timer::after(Duration::from_micros(200)).await;
                }
            }
            AsyncWriteExt::close(&mut peer).await.unwrap();
        })
    });
    let got = smol::block_on(async {
        let mut got = Vec::with_capacity(expect.len());
        let mut buf = vec![0u8; 3000];
        let mut cancelled = 0u32;
        loop {
            let read = async { Some(client.read(&mut buf).await) };
            let tick = async {
                Timer::after(Duration::from_micros(30)).await;
                None
            };
            match future::or(read, tick).await {
                Some(Ok(0)) => break,
                Some(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Some(Err(e)) => panic!("read failed: {e}"),
                None => cancelled += 1,
            }
        }
        eprintln!("{cancelled} reads cancelled");
        got
    });
    writer.join().unwrap();
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "bytes lost or reordered");
}

/// `next_event` and `fill_buf` raced against timers keep every signal and
/// byte too.
#[test]
fn cancelled_event_and_fill_buf_waits_lose_nothing() {
    smol::block_on(async {
        let (_server, mut client, mut peer) = pair("cancel-ev").await;
        client.take_events();
        // Nothing arrives: the wait is cancelled many times.
        for _ in 0..50 {
            let ev = future::or(async { client.next_event().await }, async {
                Timer::after(Duration::from_micros(100)).await;
                None
            })
            .await;
            assert_eq!(ev, None);
        }
        peer.write_all(b"one\ntwo\n").await.unwrap();
        AsyncWriteExt::flush(&mut peer).await.unwrap();
        assert_eq!(client.next_event().await, Some(Event::ReadyRead));
        // Everything buffered is still there after cancelled fills.
        for _ in 0..10 {
            let _ = future::or(
                async {
                    let _ = client.fill_buf().await;
                },
                async {},
            )
            .await;
        }
        let mut line = String::new();
        AsyncBufReadExt::read_line(&mut client, &mut line)
            .await
            .unwrap();
        assert_eq!(line, "one\n");
        line.clear();
        AsyncBufReadExt::read_line(&mut client, &mut line)
            .await
            .unwrap();
        assert_eq!(line, "two\n");
    });
}

/// Dropping a socket while it drains megabytes to a peer that does not
/// read: no panic, no block; the peer then sees the connection end.
#[test]
fn drop_during_closing_neither_panics_nor_blocks() {
    let (mut client, mut peer) = smol::block_on(async {
        let (_server, client, peer) = pair("dropclosing").await;
        (client, peer)
    });
    client.write_bytes(payload(8 << 20, 3)).unwrap();
    client.disconnect_from_server();
    assert_eq!(client.state(), State::Closing);
    // A drain started and cancelled inside an executor, then the socket is
    // dropped outside any executor.
    smol::block_on(async {
        let drained = future::or(
            async {
                client.disconnect_from_server();
                let _ = client
                    .wait_for_disconnected(localsock_smol::Timeout::FOREVER)
                    .await;
                true
            },
            async {
                Timer::after(Duration::from_millis(20)).await;
                false
            },
        )
        .await;
        assert!(!drained, "8 MiB cannot drain to a peer that does not read");
    });
    assert_eq!(client.state(), State::Closing);
    drop(client);
    let got = smol::block_on(async {
        let mut v = Vec::new();
        let _ = peer.read_to_end(&mut v).await;
        v
    });
    assert!(got.len() < 8 << 20, "an aborted drain delivers only part");
    assert_eq!(peer.state(), State::Unconnected);
}

/// 200 client tasks and a server task on one single-threaded executor,
/// every client echoed. With a backlog of 50 many connects hit a full
/// backlog and are retried by the core's timer.
#[test]
fn many_tasks_on_one_executor() {
    let ex = std::rc::Rc::new(smol::LocalExecutor::new());
    let name = unique_name("many");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let clients = 200;
    future::block_on(ex.run(async {
        let serve = ex.spawn({
            let ex = ex.clone();
            async move {
                let mut echoers = Vec::new();
                for _ in 0..clients {
                    let mut peer = server.accept().await.unwrap();
                    echoers.push(ex.spawn(async move {
                        let mut line = String::new();
                        AsyncBufReadExt::read_line(&mut peer, &mut line)
                            .await
                            .unwrap();
                        peer.write_all(line.as_bytes()).await.unwrap();
                        AsyncWriteExt::close(&mut peer).await.unwrap();
                    }));
                }
                for e in echoers {
                    e.await;
                }
            }
        });
        let tasks: Vec<_> = (0..clients)
            .map(|i| {
                let name = name.clone();
                ex.spawn(async move {
                    let mut c = LocalSocket::connect(&name).await.unwrap();
                    let msg = format!("client {i}\n");
                    c.write_all(msg.as_bytes()).await.unwrap();
                    let mut back = Vec::new();
                    c.read_to_end(&mut back).await.unwrap();
                    assert_eq!(back, msg.as_bytes());
                })
            })
            .collect();
        for t in tasks {
            t.await;
        }
        serve.await;
    }));
}

/// The halves of one socket used from two threads at once, both ways, with
/// the peer split too. Qt's disconnect ends both directions, so the write
/// halves close only once both readers have everything.
#[test]
fn halves_used_from_two_threads() {
    let (server, client, peer) = smol::block_on(pair("split"));
    let up = payload(6 << 20, 1);
    let down = payload(6 << 20, 2);
    let (c_read, c_write) = client.into_split();
    let (p_read, p_write) = peer.into_split();
    assert!(c_read.is_pair_of(&c_write) && !c_read.is_pair_of(&p_write));

    let spawn_writer = |mut w: localsock_smol::OwnedWriteHalf, data: Vec<u8>| {
        std::thread::spawn(move || {
            smol::block_on(async move {
                for chunk in data.chunks(10_000) {
                    w.write_all(chunk).await.unwrap();
                }
                AsyncWriteExt::flush(&mut w).await.unwrap();
                w
            })
        })
    };
    let spawn_reader = |mut r: localsock_smol::OwnedReadHalf, n: usize| {
        std::thread::spawn(move || {
            smol::block_on(async move {
                let mut got = vec![0u8; n];
                r.read_exact(&mut got).await.unwrap();
                (r, got)
            })
        })
    };
    let cw = spawn_writer(c_write, up.clone());
    let pw = spawn_writer(p_write, down.clone());
    let cr = spawn_reader(c_read, down.len());
    let pr = spawn_reader(p_read, up.len());
    let (cr, got_down) = cr.join().unwrap();
    let (pr, got_up) = pr.join().unwrap();
    let mut cw = cw.join().unwrap();
    let pw = pw.join().unwrap();
    assert!(got_up == up, "up: lost or reordered");
    assert!(got_down == down, "down: lost or reordered");

    // The client closes its write half: a half-close, so the peer's read
    // half sees the end while the client's read half stays open; then the
    // peer closes its write half and the client's read half ends too.
    smol::block_on(async {
        cw.close().await.unwrap();
        assert_eq!(cw.state(), HALF_CLOSED, "half-closed, still reading");
        let mut rest = Vec::new();
        let mut pr = pr;
        assert_eq!(pr.read_to_end(&mut rest).await.unwrap(), 0);
        let mut pw = pw;
        pw.close().await.unwrap();
        let mut cr = cr;
        assert_eq!(cr.read_to_end(&mut rest).await.unwrap(), 0);
        assert!(rest.is_empty());
    });
    drop(server);
}

/// Two tasks on one executor, one per half, exchanging request/response
/// with an echo server: the read half waits while the write half writes.
#[test]
fn halves_as_two_tasks_echo() {
    let ex = smol::Executor::new();
    future::block_on(ex.run(async {
        let (_server, client, mut peer) = pair("split-echo").await;
        let echo = ex.spawn(async move {
            let mut buf = vec![0u8; 8192];
            loop {
                let n = peer.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                peer.write_all(&buf[..n]).await.unwrap();
                AsyncWriteExt::flush(&mut peer).await.unwrap();
            }
        });
        let (mut r, mut w) = client.into_split();
        let data = payload(1 << 20, 5);
        let n = data.len();
        let writer = ex.spawn(async move {
            for chunk in data.chunks(1000) {
                w.write_all(chunk).await.unwrap();
                AsyncWriteExt::flush(&mut w).await.unwrap();
            }
            w
        });
        let reader = ex.spawn(async move {
            let mut got = vec![0u8; n];
            r.read_exact(&mut got).await.unwrap();
            (r, got)
        });
        let w = writer.await;
        let (r, got) = reader.await;
        assert!(got == payload(1 << 20, 5));
        let mut socket = r.reunite(w).expect("same socket");
        assert_eq!(socket.state(), State::Connected);
        socket.disconnect_from_server();
        let _ = socket
            .wait_for_disconnected(localsock_smol::Timeout::FOREVER)
            .await;
        assert_eq!(socket.state(), State::Unconnected);
        echo.await;
    }));
}

/// Qt's signals through `next_event`, in Qt's order, ending with `None`.
#[test]
fn next_event_follows_qt_order() {
    smol::block_on(async {
        let name = unique_name("events");
        let mut server = LocalServer::new();
        server.listen(&name).unwrap();
        let mut c = LocalSocket::new();
        c.connect_to_server(&name);
        let mut events = Vec::new();
        while !events.contains(&Event::Connected) {
            events.push(c.next_event().await.unwrap());
        }
        assert_eq!(
            events,
            vec![
                Event::StateChanged(State::Connecting),
                Event::StateChanged(State::Connected),
                Event::Connected
            ]
        );
        let mut peer = server.accept().await.unwrap();
        c.write_bytes(&b"hi"[..]).unwrap();
        assert_eq!(c.next_event().await, Some(Event::BytesWritten(2)));
        peer.write_all(b"back").await.unwrap();
        // A full close (not the I/O trait's close, which half-closes).
        peer.disconnect_from_server();
        peer.wait_for_disconnected(LONG).await.unwrap();
        let rest: Vec<Event> = c.events().collect().await;
        assert_eq!(
            rest,
            vec![
                Event::ReadyRead,
                Event::Error(SocketError::PeerClosed),
                Event::StateChanged(State::Closing),
                Event::StateChanged(State::Unconnected),
                Event::ReadChannelFinished,
                Event::Disconnected
            ]
        );
        assert_eq!(&c.read_all().unwrap()[..], b"back");
        assert_eq!(c.next_event().await, None);
    });
}

/// `incoming()` as a stream; it ends when the server closes.
#[test]
fn incoming_stream_yields_clients() {
    smol::block_on(async {
        let name = unique_name("incoming");
        let mut server = LocalServer::new();
        server.listen(&name).unwrap();
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(LocalSocket::connect(&name).await.unwrap());
        }
        let peers: Vec<_> = server.incoming().take(3).collect().await;
        assert_eq!(peers.len(), 3);
        for p in peers {
            assert_eq!(p.unwrap().state(), State::Connected);
        }
        server.close();
        assert!(server.incoming().next().await.is_none());
        assert!(server.accept().await.is_err());
    });
}

/// `close` (AsyncWrite) drains megabytes to a slow reader, then the
/// connection is Unconnected; the reader gets every byte.
#[test]
fn close_drains_everything() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("close").await;
        let data = payload(4 << 20, 4);
        let n = data.len();
        let write = async {
            c.write_all(&data).await.unwrap();
            // Flush, then half-close: the peer reads everything, then the end.
            AsyncWriteExt::close(&mut c).await.unwrap();
            assert_eq!(c.state(), HALF_CLOSED);
        };
        let read = async {
            peer.set_read_buffer_size(16 << 10);
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.unwrap();
            got
        };
        let ((), got) = future::zip(write, read).await;
        assert_eq!(got.len(), n);
        assert!(got == data);
        // The peer goes away for good: now the client is disconnected.
        drop(peer);
        if HALF_CLOSED == State::Connected {
            c.wait_for_disconnected(LONG).await.unwrap();
        }
        assert_eq!(c.state(), State::Unconnected);
    });
}

/// Bytes queued when the peer vanishes: `flush` and `close` report it.
#[test]
fn flush_and_close_report_lost_bytes() {
    smol::block_on(async {
        let (_server, mut c, peer) = pair("lost").await;
        drop(peer);
        let mut result = Ok(());
        for _ in 0..1000 {
            c.write_bytes(vec![0u8; 64 << 10]).unwrap_or(0);
            result = AsyncWriteExt::flush(&mut c).await;
            if result.is_err() {
                break;
            }
        }
        let e = result.expect_err("the loss is reported");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
        assert!(AsyncWriteExt::close(&mut c).await.is_err());
        assert_eq!(c.state(), State::Unconnected);
        assert!(c.write_all(b"x").await.is_err());
    });
}

/// The types need async-io's reactor only, not smol's executor: a plain
/// `block_on` from futures-lite drives them.
#[test]
fn works_without_smol() {
    future::block_on(async {
        let (_server, mut c, mut peer) = pair("plain").await;
        c.write_all(b"ping").await.unwrap();
        AsyncWriteExt::flush(&mut c).await.unwrap();
        let mut buf = [0u8; 4];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        assert!(
            peer.wait_for_ready_read(Duration::from_millis(10))
                .await
                .is_err(),
            "a timeout with the timer on async-io's thread"
        );
        assert_eq!(peer.error(), SocketError::SocketTimeout);
    });
}

/// Write-only sockets refuse reads through the I/O traits too; reads of
/// an unconnected socket fail rather than hang.
#[test]
fn io_traits_refuse_what_the_device_refuses() {
    smol::block_on(async {
        let name = unique_name("modes");
        let mut server = LocalServer::new();
        server.listen(&name).unwrap();
        let mut wo = LocalSocket::new();
        wo.connect_to_server_with_mode(&name, OpenMode::WriteOnly);
        assert!(wo.wait_for_connected(LONG).await.is_ok());
        let mut buf = [0u8; 4];
        let e = wo.read(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        let mut never = LocalSocket::new();
        assert!(never.read(&mut buf).await.is_err());
        assert!(never.write_all(b"x").await.is_err());
        assert!(AsyncWriteExt::flush(&mut never).await.is_ok());
    });
}

/// `accept` raced against a short timer while clients arrive one by one:
/// every connection is handed out exactly once.
#[test]
fn cancelled_accepts_lose_no_connection() {
    let name = unique_name("accept-cancel");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let n = 40;
    let clients = std::thread::spawn(move || {
        smol::block_on(async move {
            let mut held = Vec::new();
            for i in 0..n {
                let mut c = LocalSocket::connect(&name).await.unwrap();
                c.write_all(&[i as u8]).await.unwrap();
                AsyncWriteExt::flush(&mut c).await.unwrap();
                held.push(c);
                if i % 3 == 0 {
                    Timer::after(Duration::from_micros(300)).await;
                }
            }
            held
        })
    });
    let seen = smol::block_on(async {
        let mut seen = Vec::new();
        let mut cancelled = 0u32;
        while seen.len() < n {
            let accept = async { Some(server.accept().await) };
            let tick = async {
                Timer::after(Duration::from_micros(50)).await;
                None
            };
            match future::or(accept, tick).await {
                Some(peer) => {
                    let mut peer = peer.unwrap();
                    let mut b = [0u8; 1];
                    peer.read_exact(&mut b).await.unwrap();
                    seen.push(b[0]);
                }
                None => cancelled += 1,
            }
        }
        eprintln!("{cancelled} accepts cancelled");
        seen
    });
    let _held = clients.join().unwrap();
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..n as u8).collect::<Vec<_>>(),
        "each exactly once"
    );
    assert_eq!(seen, sorted, "in connect order");
}

/// A read started on a thread that then exits: the socket carries on on
/// another thread with nothing lost. (Windows cancels the I/O a thread
/// issued when the thread exits, for handles not bound to a completion
/// port; the pipe layer re-issues such a read.)
#[test]
fn socket_outlives_the_thread_that_started_its_read() {
    let (_server, client, mut peer) = smol::block_on(pair("thread-exit"));
    let mut client = std::thread::spawn(move || {
        let mut client = client;
        smol::block_on(async {
            let mut b = [0u8; 8];
            // Starts a read, then stops waiting for it.
            let read = future::or(async { Some(client.read(&mut b).await) }, async {
                Timer::after(Duration::from_millis(20)).await;
                None
            })
            .await;
            assert!(read.is_none(), "nothing was sent yet");
        });
        client
    })
    .join()
    .unwrap();
    smol::block_on(async {
        peer.write_all(b"after the thread exited").await.unwrap();
        AsyncWriteExt::flush(&mut peer).await.unwrap();
        let mut got = [0u8; 23];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"after the thread exited");
    });
}

/// Dropping one half leaves the connection to the other; dropping both
/// aborts it (the peer sees the end).
#[test]
fn dropping_halves() {
    smol::block_on(async {
        let (_server, client, mut peer) = pair("halfdrop").await;
        let (mut r, w) = client.into_split();
        drop(w);
        assert_eq!(r.state(), State::Connected);
        peer.write_all(b"still here").await.unwrap();
        AsyncWriteExt::flush(&mut peer).await.unwrap();
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still here");
        drop(r);
        let mut rest = Vec::new();
        assert_eq!(peer.read_to_end(&mut rest).await.unwrap(), 0);
        assert_eq!(peer.state(), State::Unconnected);
    });
}

/// `shutdown_write`: the peer reads end of stream and can still answer.
/// Unix only: named pipes have no half-close (Windows reports
/// `Unsupported`, checked below).
#[cfg(unix)]
#[test]
fn shutdown_write_half_closes() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("shutdown").await;
        c.write_all(b"request").await.unwrap();
        c.shutdown_write().await.unwrap();
        let mut req = Vec::new();
        peer.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        // A half-close: the peer stays connected and can answer.
        assert_eq!(peer.state(), State::Connected);
        assert!(peer
            .wait_for_ready_read(Duration::from_secs(5))
            .await
            .is_err());
        peer.write_all(b"response").await.unwrap();
        peer.disconnect_from_server();
        let _ = peer
            .wait_for_disconnected(localsock_smol::Timeout::FOREVER)
            .await;
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"response");
    });
}

/// Named pipes cannot be half-closed: `shutdown_write` says so (after
/// sending what is pending) and the connection carries on.
#[cfg(windows)]
#[test]
fn shutdown_write_is_unsupported_on_pipes() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("shutdown").await;
        c.write_all(b"request").await.unwrap();
        let e = c.shutdown_write().await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        let mut req = [0u8; 7];
        peer.read_exact(&mut req).await.unwrap();
        assert_eq!(&req, b"request");
        assert_eq!(c.state(), State::Connected);
    });
}

/// The awaited `disconnect_from_server` drains to a peer reading slowly
/// in another task; Qt's closing signals follow the written bytes.
#[test]
fn awaited_disconnect_drains_then_signals() {
    let ex = smol::Executor::new();
    future::block_on(ex.run(async {
        let (_server, mut c, mut peer) = pair("disc").await;
        c.take_events();
        let data = payload(3 << 20, 8);
        let n = data.len();
        let reader = ex.spawn(async move {
            peer.set_read_buffer_size(8 << 10);
            let mut got = Vec::new();
            let mut buf = vec![0u8; 4096];
            loop {
                let k = peer.read(&mut buf).await.unwrap();
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
            got
        });
        c.write_bytes(data.clone()).unwrap();
        c.disconnect_from_server();
        let _ = c
            .wait_for_disconnected(localsock_smol::Timeout::FOREVER)
            .await;
        assert_eq!(c.state(), State::Unconnected);
        assert!(c.is_open(), "buffered input stays readable");
        let events = c.take_events();
        let written: usize = events
            .iter()
            .map(|e| match e {
                Event::BytesWritten(k) => *k,
                _ => 0,
            })
            .sum();
        assert_eq!(written, n);
        assert_eq!(events.last(), Some(&Event::Disconnected));
        assert!(!events.iter().any(|e| matches!(e, Event::Error(_))));
        let got = reader.await;
        assert!(got == data);
    }));
}

/// A raw Unix socket connected to `server`, for peers that do what a
/// `LocalSocket` never does (half-close, die without reading).
#[cfg(unix)]
async fn raw_pair(tag: &str) -> (LocalServer, std::os::unix::net::UnixStream, LocalSocket) {
    let name = unique_name(tag);
    let mut server = LocalServer::new();
    server.listen(&name).expect("listen");
    let raw = std::os::unix::net::UnixStream::connect(server.full_server_name()).expect("connect");
    let ours = server.accept().await.expect("accept");
    (server, raw, ours)
}

/// `events` without the data signals (`ReadyRead`, `BytesWritten`).
#[cfg(unix)]
fn closing_signals(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::ReadyRead | Event::BytesWritten(_)))
        .cloned()
        .collect()
}

/// A half-close: the peer sends its request and shuts down its writing,
/// then reads. Our reads end (Ok(0)), writes keep working (8 MiB arrive),
/// `wait_for_ready_read` fails at once; when the peer then closes, the
/// hang-up watch ends `wait_for_disconnected` without our side writing,
/// and the signals end Qt's way, with one `ReadChannelFinished`.
#[cfg(unix)]
#[test]
fn half_close_then_hang_up() {
    use std::io::{Read, Write};
    smol::block_on(async {
        let (_server, mut raw, mut ours) = raw_pair("halfclose").await;
        let data = payload(8 << 20, 21);
        let expect = data.clone();
        let peer = std::thread::spawn(move || {
            raw.write_all(b"request").unwrap();
            raw.shutdown(std::net::Shutdown::Write).unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            while got.len() < expect.len() {
                let n = raw.read(&mut buf).unwrap();
                assert!(n > 0, "early end of stream");
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == expect, "the reply arrived changed");
            // Hang up only after a pause, so our side is idle, waiting.
            std::thread::sleep(Duration::from_millis(200));
            drop(raw);
        });
        let mut req = Vec::new();
        ours.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        assert_eq!(ours.state(), State::Connected);
        assert!(ours.connection().is_half_closed());
        assert!(ours
            .wait_for_ready_read(Duration::from_secs(10))
            .await
            .is_err());
        assert_ne!(
            ours.error(),
            SocketError::SocketTimeout,
            "the wait was refused at once, not timed out"
        );
        ours.write_all(&data).await.unwrap();
        AsyncWriteExt::flush(&mut ours).await.unwrap();
        assert!(ours.wait_for_disconnected(LONG).await.is_ok());
        peer.join().unwrap();
        let signals = closing_signals(&ours.take_events());
        assert_eq!(
            signals,
            [
                Event::ReadChannelFinished,
                Event::Error(SocketError::PeerClosed),
                Event::StateChanged(State::Unconnected),
                Event::Disconnected,
            ],
        );
    });
}

/// The same, with our reply still queued when the peer hangs up: the
/// closing signals show Closing, and the event stream ends by itself.
#[cfg(unix)]
#[test]
fn half_close_then_hang_up_with_writes_pending() {
    use std::io::{Read, Write};
    smol::block_on(async {
        let (_server, mut raw, mut ours) = raw_pair("halfclose2").await;
        raw.write_all(b"request").unwrap();
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        let mut req = Vec::new();
        ours.read_to_end(&mut req).await.unwrap();
        assert_eq!(req, b"request");
        ours.write_bytes(payload(8 << 20, 22)).unwrap();
        let peer = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let _ = raw.read(&mut buf).unwrap();
            drop(raw);
        });
        let mut events = Vec::new();
        while let Some(e) = ours.next_event().await {
            events.push(e);
        }
        peer.join().unwrap();
        assert_eq!(
            closing_signals(&events),
            [
                Event::ReadChannelFinished,
                Event::Error(SocketError::PeerClosed),
                Event::StateChanged(State::Closing),
                Event::StateChanged(State::Unconnected),
                Event::Disconnected,
            ],
        );
    });
}

/// Idle and half-closed, with nothing else to wait for: the event stream
/// waits for the hang-up alone (no busy loop), then ends.
#[cfg(unix)]
#[test]
fn events_of_a_half_closed_socket_end_at_the_hang_up() {
    smol::block_on(async {
        let (_server, raw, mut ours) = raw_pair("halfclose3").await;
        raw.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(ours.next_event().await, Some(Event::ReadChannelFinished));
        // Nothing happens while the peer stays, and the wait costs no CPU.
        let cpu = thread_cpu_time();
        let early = future::or(async { Some(ours.next_event().await) }, async {
            Timer::after(Duration::from_millis(300)).await;
            None
        })
        .await;
        assert_eq!(early, None);
        if let (Some(before), Some(after)) = (cpu, thread_cpu_time()) {
            assert!(
                after - before < Duration::from_millis(100),
                "an idle wait took {:?} of CPU",
                after - before
            );
        }
        let peer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(raw);
        });
        let mut rest = Vec::new();
        while let Some(e) = ours.next_event().await {
            rest.push(e);
        }
        peer.join().unwrap();
        assert_eq!(
            rest,
            [
                Event::Error(SocketError::PeerClosed),
                Event::StateChanged(State::Unconnected),
                Event::Disconnected,
            ],
        );
    });
}

/// The calling thread's CPU time (user and system) on Linux, from
/// `/proc/thread-self/stat` (tests run in parallel: the process's would
/// count theirs); `None` elsewhere. `block_on` polls on this thread, so a
/// busy loop shows here.
#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line (1-based), in
    // clock ticks (100 per second on Linux).
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// A peer writes and closes without reading while our side has 4 MiB
/// queued: our send fails, and reading still gets every byte it sent.
#[cfg(unix)]
#[test]
fn data_of_a_peer_that_died_is_read_to_the_end() {
    use std::io::Write;
    smol::block_on(async {
        let (_server, mut raw, mut ours) = raw_pair("died").await;
        ours.write_bytes(payload(4 << 20, 23)).unwrap();
        let sent = payload(100_000, 24);
        let expect = sent.clone();
        std::thread::spawn(move || {
            raw.write_all(&sent).unwrap();
            drop(raw);
        })
        .join()
        .unwrap();
        let mut got = Vec::new();
        ours.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), expect.len());
        assert!(got == expect);
        assert_eq!(ours.state(), State::Unconnected);
        // The queued bytes were lost: a flush says so, every time.
        assert!(AsyncWriteExt::flush(&mut ours).await.is_err());
        assert!(AsyncWriteExt::flush(&mut ours).await.is_err());
    });
}

/// `write_all` then drop: the kernel takes the bytes before the socket
/// goes, so the peer reads them.
#[test]
fn drop_sends_what_the_kernel_takes() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("dropsend").await;
        c.write_all(b"bye\n").await.unwrap();
        drop(c);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye\n");
    });
}

/// The non-waiting disconnect writes nothing inside the call: with writes
/// pending the socket is Closing, and a wait drains it.
#[test]
fn start_disconnect_leaves_the_drain_to_later_waits() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("startdisc").await;
        c.write_bytes(&b"hello"[..]).unwrap();
        c.disconnect_from_server();
        assert_eq!(c.state(), State::Closing);
        assert_eq!(c.bytes_to_write(), 5);
        assert!(c.wait_for_disconnected(LONG).await.is_ok());
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
    });
}

/// `next_event` keeps Qt's refill rule: once a read limit paused reading,
/// nothing more is read until the application drained the buffer.
#[test]
fn next_event_does_not_refill_a_paused_buffer() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("refill").await;
        c.set_read_buffer_size(1024);
        c.take_events();
        peer.write_all(&payload(4096, 25)).await.unwrap();
        AsyncWriteExt::flush(&mut peer).await.unwrap();
        assert_eq!(c.next_event().await, Some(Event::ReadyRead));
        assert_eq!(c.bytes_available(), 1024);
        assert_eq!(c.read_bytes(512).unwrap().len(), 512);
        let more = future::or(async { Some(c.next_event().await) }, async {
            Timer::after(Duration::from_millis(200)).await;
            None
        })
        .await;
        assert_eq!(more, None);
        assert_eq!(c.bytes_available(), 512);
        c.read_all().unwrap();
        assert_eq!(c.next_event().await, Some(Event::ReadyRead));
        assert_eq!(c.bytes_available(), 1024);
    });
}

/// A read while Connecting waits for the connect; after `abort` a read
/// fails: the device is not open.
#[test]
fn reads_wait_for_the_connect_and_fail_after_abort() {
    smol::block_on(async {
        let name = unique_name("readconn");
        let mut server = LocalServer::new();
        server.listen(&name).unwrap();
        let mut c = LocalSocket::new();
        c.connect_to_server(&name);
        let mut peer = server.accept().await.unwrap();
        peer.write_all(b"x").await.unwrap();
        AsyncWriteExt::flush(&mut peer).await.unwrap();
        let mut buf = [0u8; 1];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"x");
        c.abort();
        let e = c.read(&mut buf).await.unwrap_err();
        assert!(e.to_string().contains("device not open"), "{e}");
    });
}

/// The configuration setters work on used and accepted sockets.
#[test]
fn timeouts_can_be_set_on_any_socket() {
    smol::block_on(async {
        let (_server, mut c, mut peer) = pair("config").await;
        c.set_connect_timeout(Duration::from_millis(1234));
        assert_eq!(
            c.connection().config().connect_timeout,
            Duration::from_millis(1234)
        );
        // An accepted socket's drain timeout ends a drain to a peer that
        // never reads.
        peer.set_drain_timeout(Some(Duration::from_millis(100)));
        peer.write_bytes(payload(16 << 20, 26)).unwrap();
        peer.disconnect_from_server();
        assert_eq!(peer.state(), State::Closing);
        assert!(peer.wait_for_disconnected(LONG).await.is_ok());
        assert_eq!(peer.error(), SocketError::SocketTimeout);
    });
}

/// A million zero-timeout waits leave a bounded event queue.
#[test]
fn zero_timeout_waits_keep_the_queue_bounded() {
    smol::block_on(async {
        let (_server, mut c, _peer) = pair("zerowait").await;
        for _ in 0..1_000_000 {
            assert!(c.wait_for_ready_read(Duration::ZERO).await.is_err());
        }
        assert!(c.take_events().len() <= 1024);
        assert_eq!(c.error(), SocketError::SocketTimeout);
    });
}
