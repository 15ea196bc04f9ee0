//! Descriptors both ways on real sockets (Unix): Qt's
//! `setSocketDescriptor` with each state and open mode, `socketDescriptor`,
//! `listen(qintptr)` on path and abstract sockets (docs/semantics.md §9
//! item 38), and the clear errors for what cannot be adopted.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use localsock_blocking::{
    Event, LocalServer, LocalSocket, OpenMode, ServerError, SocketError, State,
};

const LONG: Duration = Duration::from_secs(30);

fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "lsk-fd-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn unconnected_stream() -> OwnedFd {
    rustix::net::socket(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        None,
    )
    .unwrap()
}

fn events(s: &mut LocalSocket) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn an_adopted_socketpair_end_exchanges_data_both_ways() {
    let (mine, mut theirs) = UnixStream::pair().unwrap();
    let raw = mine.as_raw_fd();
    let mut socket = LocalSocket::new();
    assert!(socket.socket_descriptor().is_none(), "Qt's -1 before");
    assert_eq!(socket.as_raw_fd(), -1);
    socket
        .set_socket_descriptor(mine, State::Connected, OpenMode::ReadWrite)
        .unwrap();
    assert_eq!(socket.state(), State::Connected);
    assert_eq!(socket.open_mode(), Some(OpenMode::ReadWrite));
    assert_eq!(socket.as_raw_fd(), raw, "the same descriptor, adopted");
    assert_eq!(socket.as_fd().as_raw_fd(), raw);
    assert_eq!(
        events(&mut socket),
        [],
        "setSocketDescriptor signals nothing"
    );
    // A socketpair is unnamed: the names are empty, as in Qt.
    assert_eq!((socket.server_name(), socket.full_server_name()), ("", ""));
    let flags = rustix::io::fcntl_getfd(socket.as_fd()).unwrap();
    assert!(
        flags.contains(rustix::io::FdFlags::CLOEXEC),
        "close-on-exec set"
    );

    socket.write_all(b"ping").unwrap();
    socket.flush().unwrap();
    let mut buf = [0; 4];
    theirs.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    theirs.write_all(b"pong").unwrap();
    socket.wait_for_ready_read(LONG).unwrap();
    assert_eq!(&socket.read_all().unwrap()[..], b"pong");

    drop(theirs);
    socket.wait_for_disconnected(LONG).unwrap();
    assert_eq!(socket.state(), State::Unconnected);
    assert!(
        socket.socket_descriptor().is_none(),
        "released with the connection"
    );
}

#[test]
fn adopted_connecting_completes_with_qt_signals_in_every_mode() {
    for mode in [OpenMode::ReadOnly, OpenMode::WriteOnly, OpenMode::ReadWrite] {
        let (mine, mut theirs) = UnixStream::pair().unwrap();
        let mut socket = LocalSocket::new();
        socket
            .set_socket_descriptor(mine, State::Connecting, mode)
            .unwrap();
        assert_eq!(socket.state(), State::Connecting);
        assert!(
            socket.socket_descriptor().is_none(),
            "none while connecting"
        );
        socket.wait_for_connected(LONG).unwrap();
        assert_eq!(
            events(&mut socket),
            [Event::StateChanged(State::Connected), Event::Connected]
        );
        assert_eq!(socket.open_mode(), Some(mode));
        // The mode is enforced on the adopted socket, as on any other.
        assert_eq!(
            socket.write_bytes(&b"w"[..]).is_ok(),
            mode.can_write(),
            "{mode:?}"
        );
        if mode.can_write() {
            socket.flush().unwrap();
            let mut b = [0; 1];
            theirs.read_exact(&mut b).unwrap();
        }
        theirs.write_all(b"r").unwrap();
        if mode.can_read() {
            socket.wait_for_ready_read(LONG).unwrap();
            assert_eq!(&socket.read_all().unwrap()[..], b"r");
        } else {
            assert!(socket.read_all().is_err(), "write-only reads nothing");
        }
    }
}

#[test]
fn adopted_connected_in_each_mode_is_open_in_that_mode() {
    for mode in [OpenMode::ReadOnly, OpenMode::WriteOnly, OpenMode::ReadWrite] {
        let (mine, _theirs) = UnixStream::pair().unwrap();
        let mut socket = LocalSocket::new();
        socket
            .set_socket_descriptor(mine, State::Connected, mode)
            .unwrap();
        assert_eq!(socket.open_mode(), Some(mode));
        assert_eq!(socket.write_bytes(&b"x"[..]).is_ok(), mode.can_write());
    }
}

#[test]
fn unconnected_and_closing_states_are_refused() {
    for state in [State::Unconnected, State::Closing] {
        let (mine, _theirs) = UnixStream::pair().unwrap();
        let mut socket = LocalSocket::new();
        let e = socket
            .set_socket_descriptor(mine, state, OpenMode::ReadWrite)
            .unwrap_err();
        assert_eq!(e.kind(), SocketError::Operation, "{state:?}");
        assert_eq!(socket.state(), State::Unconnected);
        assert!(socket.socket_descriptor().is_none());
    }
}

#[test]
fn a_socket_with_a_connection_does_not_adopt() {
    let (a, _a2) = UnixStream::pair().unwrap();
    let (b, _b2) = UnixStream::pair().unwrap();
    let mut socket = LocalSocket::new();
    socket
        .set_socket_descriptor(a, State::Connected, OpenMode::ReadWrite)
        .unwrap();
    let e = socket
        .set_socket_descriptor(b, State::Connected, OpenMode::ReadWrite)
        .unwrap_err();
    assert_eq!(e.kind(), SocketError::Operation);
    assert_eq!(
        socket.state(),
        State::Connected,
        "the first connection stays"
    );
}

#[test]
fn what_is_not_a_connected_local_stream_gives_a_clear_error() {
    let path = temp_path("nolisten");
    let listener = UnixListener::bind(&path).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let cases: Vec<(OwnedFd, SocketError, &str)> = vec![
        (
            unconnected_stream(),
            SocketError::Operation,
            "not connected",
        ),
        (
            file.into(),
            SocketError::UnsupportedSocketOperation,
            "not a socket",
        ),
        (
            UnixDatagram::unbound().unwrap().into(),
            SocketError::UnsupportedSocketOperation,
            "not a local stream socket",
        ),
        (
            listener.into(),
            SocketError::UnsupportedSocketOperation,
            "listening",
        ),
    ];
    for (fd, kind, says) in cases {
        let mut socket = LocalSocket::new();
        let e = socket
            .set_socket_descriptor(fd, State::Connected, OpenMode::ReadWrite)
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_server_listens_on_a_bound_path_descriptor_and_leaves_its_file() {
    let path = temp_path("srv");
    let listener = UnixListener::bind(&path).unwrap();
    let raw = listener.as_raw_fd();
    let mut server = LocalServer::new();
    assert_eq!(server.as_raw_fd(), -1, "Qt's -1 when not listening");
    server.listen_descriptor(listener).unwrap();
    assert!(server.is_listening());
    assert_eq!(server.as_raw_fd(), raw);
    assert_eq!(server.full_server_name(), path.to_str().unwrap());
    assert_eq!(
        server.server_name(),
        path.file_name().unwrap().to_str().unwrap(),
        "the last component, as Qt's verifyListenWithDescriptor"
    );
    let flags = rustix::io::fcntl_getfd(server.as_fd()).unwrap();
    assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));

    let mut client = LocalSocket::connect(path.to_str().unwrap()).unwrap();
    let mut peer = server.accept_timeout(LONG).unwrap();
    assert_eq!(peer.full_server_name(), path.to_str().unwrap());
    client.write_all(b"hello").unwrap();
    client.flush().unwrap();
    let mut buf = [0; 5];
    peer.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");

    server.close();
    assert!(!server.is_listening());
    assert!(path.exists(), "close() keeps a file it did not create");
    std::fs::remove_file(&path).unwrap();
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn a_server_listens_on_an_abstract_descriptor() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("lsk-fd-abs/{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let mut server = LocalServer::new();
    server.listen_descriptor(listener).unwrap();
    assert_eq!(
        server.full_server_name(),
        name,
        "no leading NUL; slashes allowed"
    );
    assert_eq!(server.server_name(), name);
    let mut client = LocalSocket::new();
    client.set_abstract_namespace(true);
    client.connect_to_server(&name);
    client.wait_for_connected(LONG).unwrap();
    let peer = server.accept_timeout(LONG).unwrap();
    assert_eq!(peer.full_server_name(), name);
}

#[test]
fn listen_on_what_is_not_listening_is_a_clear_error() {
    let (connected, _other) = UnixStream::pair().unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let cases: Vec<(OwnedFd, &str)> = vec![
        (connected.into(), "not listening"),
        (unconnected_stream(), "not listening"),
        (
            UnixDatagram::unbound().unwrap().into(),
            "not a local stream socket",
        ),
        (file.into(), "not a socket"),
    ];
    for (fd, says) in cases {
        let mut server = LocalServer::new();
        let e = server.listen_descriptor(fd).unwrap_err();
        assert_eq!(e.kind(), ServerError::UnsupportedSocketOperation, "{e}");
        assert!(e.to_string().contains(says), "{e}");
        assert!(!server.is_listening());
        assert_eq!(
            server.server_error(),
            ServerError::UnsupportedSocketOperation,
            "recorded"
        );
    }
}

#[test]
fn a_listening_server_does_not_take_a_second_descriptor() {
    let (p1, p2) = (temp_path("twice1"), temp_path("twice2"));
    let mut server = LocalServer::new();
    server
        .listen_descriptor(UnixListener::bind(&p1).unwrap())
        .unwrap();
    let e = server
        .listen_descriptor(UnixListener::bind(&p2).unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ServerError::AddressInUse);
    assert_eq!(server.full_server_name(), p1.to_str().unwrap());
    server.close();
    std::fs::remove_file(&p1).unwrap();
    std::fs::remove_file(&p2).unwrap();
}
