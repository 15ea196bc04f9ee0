//! Descriptors both ways on smol (Unix, real sockets): an adopted
//! socketpair end exchanges data, Connecting completes with Qt's signals,
//! and a server serves on a bound listening descriptor.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use localsock_smol::{Event, LocalServer, LocalSocket, OpenMode, ServerError, State};

const LONG: Duration = Duration::from_secs(30);

#[test]
fn an_adopted_socketpair_end_exchanges_data() {
    smol::block_on(async {
        let (mine, mut theirs) = UnixStream::pair().unwrap();
        let raw = mine.as_raw_fd();
        let mut socket = LocalSocket::new();
        assert_eq!(socket.as_raw_fd(), -1);
        socket
            .set_socket_descriptor(mine, State::Connecting, OpenMode::ReadWrite)
            .unwrap();
        socket.wait_for_connected(LONG).await.unwrap();
        let events: Vec<Event> = std::iter::from_fn(|| socket.poll_event()).collect();
        assert_eq!(
            events,
            [Event::StateChanged(State::Connected), Event::Connected]
        );
        assert_eq!(socket.as_raw_fd(), raw);
        socket.write_all(b"ping").await.unwrap();
        socket.flush().await.unwrap();
        let mut buf = [0; 4];
        theirs.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        theirs.write_all(b"pong").unwrap();
        socket.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    });
}

#[test]
fn a_server_serves_on_a_listening_descriptor() {
    smol::block_on(async {
        let path = std::env::temp_dir().join(format!("lsk-smol-fd-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let mut server = LocalServer::new();
        server.listen_descriptor(listener).unwrap();
        assert_eq!(server.full_server_name(), path.to_str().unwrap());
        let mut client = LocalSocket::connect(path.to_str().unwrap()).await.unwrap();
        let mut peer = server.accept().await.unwrap();
        client.write_all(b"hi").await.unwrap();
        client.flush().await.unwrap();
        let mut buf = [0; 2];
        peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        server.close();
        assert!(path.exists(), "not ours to remove");
        std::fs::remove_file(&path).unwrap();

        let (a, _b) = UnixStream::pair().unwrap();
        let e = LocalServer::new().listen_descriptor(a).unwrap_err();
        assert_eq!(e.kind(), ServerError::UnsupportedSocketOperation);
    });
}
