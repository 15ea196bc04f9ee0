//! How a connection ends on tokio, as the core decides it: a peer's
//! half-close and its later hang-up (watched with tokio's edge-triggered
//! readiness, on both runtime flavours), data of a peer that died before a
//! failing send, what a drop still sends, Qt's non-waiting disconnect, and
//! the timeouts set on accepted or reused sockets.

use std::time::{Duration, Instant};

#[cfg(unix)]
use localsock_tokio::Event;
use localsock_tokio::{LocalServer, LocalSocket, SocketError, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LONG: Duration = Duration::from_secs(30);

#[path = "../../tests/src/async_harness.rs"]
mod async_harness;
#[path = "../../tests/src/harness.rs"]
#[allow(dead_code)] // the conformance suite's helpers; this file uses a few
mod harness;

use harness::{one_slot, unique_name};

async fn pair(tag: &str) -> (LocalServer, LocalSocket, LocalSocket) {
    async_harness::pair(&unique_name(tag)).await
}

/// The signals that are not data signals.
#[cfg(unix)]
fn transitions(events: Vec<Event>) -> Vec<Event> {
    events
        .into_iter()
        .filter(|e| !matches!(e, Event::ReadyRead | Event::BytesWritten(_)))
        .collect()
}

/// A raw peer (a plain Unix stream) half-closes, reads our reply, then
/// closes after a delay. Our reads end at end of stream with the socket
/// still Connected, writes keep working, `wait_for_ready_read` fails at
/// once, and `wait_for_disconnected` ends when the peer closes: the
/// hang-up is watched although nothing else is left to wait for.
#[cfg(unix)]
async fn hang_up_after_half_close(tag: &str, reply_len: usize, queue_first: bool) {
    use std::io::{Read, Write};
    use std::net::Shutdown;
    use std::os::unix::net::UnixStream;

    let name = unique_name(tag);
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let path = server.full_server_name().to_string();
    let peer = std::thread::spawn(move || {
        let mut raw = UnixStream::connect(path).unwrap();
        raw.write_all(b"request").unwrap();
        raw.shutdown(Shutdown::Write).unwrap();
        let mut reply = vec![0u8; reply_len + 4];
        raw.read_exact(&mut reply).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(raw);
        reply
    });
    let mut s = server.accept().await.unwrap();
    let reply: Vec<u8> = (0..reply_len).map(|i| (i % 251) as u8).collect();
    if queue_first {
        s.write_bytes(reply.clone()).unwrap(); // drained while reading below
    }
    let mut request = Vec::new();
    s.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    assert_eq!(
        s.state(),
        State::Connected,
        "a half-close keeps the connection"
    );
    assert_eq!(
        s.read(&mut [0u8; 8]).await.unwrap(),
        0,
        "end of stream again"
    );
    let t = Instant::now();
    assert!(
        s.wait_for_ready_read(LONG).await.is_err(),
        "no more data can come"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "refused at once");
    if !queue_first {
        s.write_all(&reply).await.unwrap();
    }
    s.write_all(b"tail").await.unwrap();
    AsyncWriteExt::flush(&mut s).await.unwrap();
    let t = Instant::now();
    assert!(
        s.wait_for_disconnected(LONG).await.is_ok(),
        "the hang-up ends the wait: {}",
        s.error_string()
    );
    assert!(t.elapsed() < Duration::from_secs(20));
    assert_eq!(s.state(), State::Unconnected);
    assert_eq!(s.error(), SocketError::PeerClosed);
    assert_eq!(
        transitions(s.take_events()),
        vec![
            Event::ReadChannelFinished,
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Unconnected),
            Event::Disconnected,
        ]
    );
    let got = peer.join().unwrap();
    assert_eq!(&got[..reply_len], &reply[..]);
    assert_eq!(&got[reply_len..], b"tail");
}

#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn hang_up_after_half_close_current_thread() {
    hang_up_after_half_close("hup-ct", 5, false).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_after_half_close_multi_thread() {
    hang_up_after_half_close("hup-mt", 5, false).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "current_thread")]
async fn half_close_then_megabytes_queued_first_current_thread() {
    hang_up_after_half_close("hup-big-ct", 8 << 20, true).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_close_then_megabytes_written_after_multi_thread() {
    hang_up_after_half_close("hup-big-mt", 8 << 20, false).await;
}

/// After a half-close the event stream ends when the peer hangs up.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hang_up_after_half_close_ends_the_event_stream() {
    use std::net::Shutdown;
    use std::os::unix::net::UnixStream;

    let name = unique_name("hup-events");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let raw = UnixStream::connect(server.full_server_name()).unwrap();
    let mut s = server.accept().await.unwrap();
    raw.shutdown(Shutdown::Write).unwrap();
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(raw);
    });
    let mut events = Vec::new();
    let collect = async {
        while let Some(e) = s.next_event().await {
            events.push(e);
        }
    };
    tokio::time::timeout(LONG, collect)
        .await
        .expect("the stream ends");
    closer.join().unwrap();
    assert_eq!(
        events,
        vec![
            Event::ReadChannelFinished,
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Unconnected),
            Event::Disconnected,
        ]
    );
}

/// A raw peer writes 100,000 bytes and closes without reading, while 4 MiB
/// wait in our queue: the send fails, yet every byte the peer sent is read.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_of_a_peer_that_died_is_read_to_the_end() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    let name = unique_name("died");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut raw = UnixStream::connect(server.full_server_name()).unwrap();
    let mut s = server.accept().await.unwrap();
    s.write_bytes(vec![9u8; 4 << 20]).unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        raw.write_all(&sent).unwrap();
        drop(raw);
    });
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    writer.join().unwrap();
    assert_eq!(got.len(), data.len());
    assert_eq!(got, data);
    assert_eq!(s.state(), State::Unconnected);
    assert!(
        AsyncWriteExt::flush(&mut s).await.is_err(),
        "the queue was lost"
    );
}

/// A drop hands the kernel what it takes without blocking: a small write
/// queued just before it arrives.
#[tokio::test]
async fn drop_sends_what_the_kernel_takes() {
    let (_server, mut client, mut peer) = pair("drop").await;
    client.write_all(b"bye\n").await.unwrap(); // queued, not flushed
    drop(client);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye\n");

    // Qt's `write` on a socket no task ever polled, and an accepted one.
    let (_server, mut client, mut peer) = pair("drop-qt").await;
    client.write_bytes(&b"qt\n"[..]).unwrap();
    drop(client);
    peer.write_bytes(&b"back\n"[..]).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"qt\n");
    drop(peer);
}

/// Qt's non-waiting disconnect sends nothing inside the call: with writes
/// pending the socket is Closing; the wait drains them.
#[tokio::test]
async fn start_disconnect_with_writes_pending_is_closing() {
    let (_server, mut client, mut peer) = pair("closing").await;
    client.write_bytes(&b"hello"[..]).unwrap();
    client.disconnect_from_server();
    assert_eq!(client.state(), State::Closing);
    assert_eq!(client.bytes_to_write(), 5);
    assert!(client.wait_for_disconnected(LONG).await.is_ok());
    assert_eq!(client.state(), State::Unconnected);
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"hello");

    // `close` as well.
    let (_server, mut client, mut peer) = pair("closing-close").await;
    client.write_bytes(&b"bye"[..]).unwrap();
    client.close_device();
    assert_eq!(client.state(), State::Closing);
    assert!(client.wait_for_disconnected(LONG).await.is_ok());
    let mut got = Vec::new();
    peer.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
}

/// A drain timeout set on an accepted socket applies to its disconnect.
#[tokio::test]
async fn drain_timeout_on_an_accepted_socket() {
    let (_server, _client, mut peer) = pair("drain").await;
    peer.set_drain_timeout(Some(Duration::from_millis(100)));
    peer.write_bytes(vec![1u8; 16 << 20]).unwrap(); // the client never reads
    peer.disconnect_from_server();
    assert_eq!(peer.state(), State::Closing);
    let t = Instant::now();
    assert!(peer.wait_for_disconnected(LONG).await.is_ok());
    assert!(t.elapsed() < Duration::from_secs(10));
    assert_eq!(peer.error(), SocketError::SocketTimeout);
    assert!(
        AsyncWriteExt::flush(&mut peer).await.is_err(),
        "data was lost"
    );
}

/// A connect timeout set on a socket that was connected before applies to
/// its next connect.
#[tokio::test]
async fn connect_timeout_on_a_reused_socket() {
    let (_s, mut reused, _p) = pair("reuse-first").await;
    reused.disconnect_from_server();
    let _ = reused
        .wait_for_disconnected(localsock_tokio::Timeout::FOREVER)
        .await;
    assert_eq!(reused.state(), State::Unconnected);

    let name = unique_name("reuse-full");
    let mut server = LocalServer::new();
    server.listen_with(&name, one_slot()).unwrap();
    let mut queued = Vec::new();
    loop {
        let mut s = LocalSocket::new();
        s.connect_to_server(&name);
        if s.state() == State::Connecting {
            break;
        }
        queued.push(s);
        assert!(queued.len() < 64, "the backlog never filled");
    }
    reused.set_connect_timeout(Duration::from_millis(150));
    reused.connect_to_server(&name);
    assert_eq!(reused.state(), State::Connecting);
    let t = Instant::now();
    assert!(reused.wait_for_connected(LONG).await.is_err());
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the short timeout applied"
    );
    assert_eq!(reused.error(), SocketError::SocketTimeout);
}

/// After `abort` a read fails: the device is not open.
#[tokio::test]
async fn read_after_abort_is_not_connected() {
    let (_server, mut client, _peer) = pair("abort-read").await;
    client.abort();
    let err = client.read(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
}

/// Many zero-timeout waits leave a bounded event queue.
#[tokio::test]
async fn zero_timeouts_keep_the_event_queue_bounded() {
    let (_server, mut client, _peer) = pair("zero").await;
    for _ in 0..1_000_000 {
        assert!(client.wait_for_ready_read(Duration::ZERO).await.is_err());
    }
    assert!(client.connection().queued_events() <= localsock_core::MAX_QUEUED_EVENTS);
    assert_eq!(client.error(), SocketError::SocketTimeout);
    assert_eq!(client.state(), State::Connected);
}
