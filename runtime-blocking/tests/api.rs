//! The blocking API's contracts on real sockets: Qt's waits return
//! `Result` (a timeout is `SocketTimeout`), a server wait's timeout is not
//! recorded, and `disconnect_from_server` starts the close without waiting.

use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};

use localsock_blocking::{
    Bytes, ErrorSource, Event, LocalServer, LocalSocket, ServerError, SocketError, State, Timeout,
};

/// How long a wait that must succeed may take.
const LONG: Duration = Duration::from_secs(30);
/// How long a wait that must time out waits.
const SHORT: Duration = Duration::from_millis(50);
/// What "returns at once" allows on a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(2);

#[path = "../../tests/src/harness.rs"]
#[allow(dead_code)] // the conformance suite's helpers; this file uses a few
mod harness;

use harness::unique_name;

/// A listening server, a connected client and the accepted peer.
fn pair(tag: &str) -> (LocalServer, LocalSocket, LocalSocket) {
    let name = unique_name(tag);
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let mut client = LocalSocket::new();
    client.connect_to_server(&name);
    client.wait_for_connected(LONG).unwrap();
    let peer = server.accept_timeout(LONG).unwrap();
    (server, client, peer)
}

/// Queues data until the OS takes no more because the peer does not read.
/// Returns how much was written (taken by the OS or still queued).
fn fill(socket: &mut LocalSocket) -> usize {
    let chunk = Bytes::from(vec![b'x'; 1 << 20]);
    let mut total = 0;
    for _ in 0..256 {
        socket.write_bytes(chunk.clone()).unwrap();
        total += chunk.len();
        while socket.try_flush() {}
        if socket.bytes_to_write() > 0 {
            return total;
        }
    }
    panic!("the OS took {total} bytes nobody reads");
}

#[test]
fn socket_waits_time_out_with_socket_timeout() {
    let (_server, mut client, _peer) = pair("ready-read");
    drop(client.take_events());
    let start = Instant::now();
    let err = client.wait_for_ready_read(SHORT).unwrap_err();
    assert!(start.elapsed() >= SHORT, "gave up early");
    assert_eq!(err.kind(), SocketError::SocketTimeout, "{err}");
    assert_eq!(err.source(), ErrorSource::Socket);
    // Recorded and emitted, as in Qt; the connection carries on.
    assert_eq!(client.error(), SocketError::SocketTimeout);
    assert_eq!(client.last_error(), Some(&err));
    assert_eq!(
        client.take_events(),
        vec![Event::Error(SocketError::SocketTimeout)]
    );
    assert_eq!(client.state(), State::Connected);

    // With the pipe full, no byte leaves: `wait_for_bytes_written` times out.
    fill(&mut client);
    let err = client.wait_for_bytes_written(SHORT).unwrap_err();
    assert_eq!(err.kind(), SocketError::SocketTimeout, "{err}");
    assert_eq!(client.state(), State::Connected);
}

#[test]
fn socket_waits_that_cannot_succeed_fail_at_once() {
    let (_server, mut client, mut peer) = pair("refused");
    // Nothing pending: nothing to wait for.
    let start = Instant::now();
    let err = client.wait_for_bytes_written(LONG).unwrap_err();
    assert_ne!(err.kind(), SocketError::SocketTimeout, "{err}");
    assert!(start.elapsed() < AT_ONCE);
    // Already Connected.
    client.wait_for_connected(Timeout::NONE).unwrap();

    // The peer closes: the wait for the disconnect succeeds; then neither
    // data nor another disconnect can come.
    peer.abort();
    client.wait_for_disconnected(LONG).unwrap();
    assert_eq!(client.state(), State::Unconnected);
    let start = Instant::now();
    let err = client.wait_for_ready_read(LONG).unwrap_err();
    assert_ne!(err.kind(), SocketError::SocketTimeout, "{err}");
    let err = client.wait_for_disconnected(LONG).unwrap_err();
    assert_ne!(err.kind(), SocketError::SocketTimeout, "{err}");
    assert!(start.elapsed() < AT_ONCE);
}

#[test]
fn connect_failure_is_the_wait_error() {
    let name = unique_name("nobody");
    let mut client = LocalSocket::new();
    client.connect_to_server(&name);
    let err = client.wait_for_connected(LONG).unwrap_err();
    assert_eq!(err.kind(), SocketError::ServerNotFound, "{err}");
    assert_eq!(client.last_error(), Some(&err));
    assert_eq!(LocalSocket::connect(&name).unwrap_err(), err);
}

#[test]
fn server_wait_timeout_is_not_recorded() {
    let name = unique_name("server-wait");
    let mut server = LocalServer::new();
    server.listen(&name).unwrap();
    let before = server.server_error();
    assert_eq!(before, ServerError::Unknown);

    let start = Instant::now();
    let err = server.wait_for_new_connection(SHORT).unwrap_err();
    assert!(start.elapsed() >= SHORT, "gave up early");
    assert_eq!(err.kind(), ServerError::SocketTimeout, "{err}");
    assert_eq!(err.source(), ErrorSource::WaitForNewConnection);
    assert_eq!(server.server_error(), before);
    assert_eq!(server.last_error(), None);
    assert_eq!(server.error_string(), "");
    assert!(server.is_listening());

    let err = server.accept_timeout(SHORT).unwrap_err();
    assert_eq!(err.kind(), ServerError::SocketTimeout, "{err}");
    assert_eq!(err.source(), ErrorSource::WaitForNewConnection);
    assert_eq!(server.server_error(), before);
    assert_eq!(server.last_error(), None);

    // A wait with a client there succeeds, and does not block again.
    let mut client = LocalSocket::new();
    client.connect_to_server(&name);
    client.wait_for_connected(LONG).unwrap();
    server.wait_for_new_connection(LONG).unwrap();
    server.wait_for_new_connection(Timeout::NONE).unwrap();
    assert!(server.next_pending_connection().is_some());
}

#[test]
fn server_not_listening_is_an_error() {
    let mut server = LocalServer::new();
    let err = server.wait_for_new_connection(LONG).unwrap_err();
    assert_ne!(err.kind(), ServerError::SocketTimeout, "{err}");
    assert!(server.accept_timeout(LONG).is_err());
    assert!(server.accept().is_err());
    assert_eq!(server.server_error(), ServerError::Unknown);
}

#[test]
fn disconnect_from_server_returns_at_once_and_the_wait_drains() {
    let (_server, mut client, mut peer) = pair("disconnect");
    let total = fill(&mut client);
    let queued = client.bytes_to_write();
    assert!(queued > 0);

    let start = Instant::now();
    client.disconnect_from_server();
    assert!(start.elapsed() < AT_ONCE, "disconnect_from_server waited");
    assert_eq!(client.state(), State::Closing);
    assert_eq!(client.bytes_to_write(), queued, "nothing is written inside");

    // The peer still reads nothing: the drain cannot finish.
    let err = client.wait_for_disconnected(SHORT).unwrap_err();
    assert_eq!(err.kind(), SocketError::SocketTimeout, "{err}");
    assert_eq!(client.state(), State::Closing);

    // The peer reads everything; then the drain finishes.
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).map(|_| got.len())
    });
    client.wait_for_disconnected(LONG).unwrap();
    assert_eq!(client.state(), State::Unconnected);
    assert_eq!(client.bytes_to_write(), 0);
    assert_eq!(reader.join().unwrap().unwrap(), total);
}

#[test]
fn renamed_qt_calls_and_the_std_traits() {
    let (_server, mut client, mut peer) = pair("names");
    // Qt's `write` and `flush`: queue, then what the OS takes now.
    assert_eq!(client.write_bytes(&b"one\ntw"[..]).unwrap(), 6);
    assert_eq!(client.bytes_to_write(), 6);
    assert!(client.try_flush());
    assert!(!client.try_flush(), "nothing left to flush");
    // `Write`: `flush` blocks until the OS took everything.
    client.write_all(b"o\n").unwrap();
    client.flush().unwrap();
    assert_eq!(client.bytes_to_write(), 0);

    // Qt's `readLine(max)` over what is buffered; never blocks.
    while !peer.can_read_line() {
        peer.wait_for_ready_read(LONG).unwrap();
    }
    assert_eq!(&peer.read_line_bytes(0).unwrap()[..], b"one\n");
    while !peer.can_read_line() {
        peer.wait_for_ready_read(LONG).unwrap();
    }
    // `read_line` is `BufRead`'s.
    let mut line = String::new();
    peer.read_line(&mut line).unwrap();
    assert_eq!(line, "two\n");

    // Qt's `close`: the graceful close, returning at once.
    client.close_device();
    assert!(!client.is_open());
    assert_eq!(client.state(), State::Unconnected);
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}
