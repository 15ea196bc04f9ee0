//! Adopted descriptors (Qt's `setSocketDescriptor`, `listen(qintptr)`) and
//! systemd socket activation, decided without I/O (docs/semantics.md §1,
//! §9 item 38, and the deliberate differences).

use std::time::Duration;

use localsock_core::descriptor::{
    address_from_sockaddr, describe_socket, listen_fds, plan_adopt, plan_listen_descriptor,
    ActivatedSocket, DescriptorKind,
};
use localsock_core::{
    Action, Address, Config, Connection, Event, NameContext, OpenMode, Platform, Server,
    ServerError, SocketError, State,
};

const CONNECTED: DescriptorKind = DescriptorKind::LocalStream {
    listening: false,
    connected: true,
};
const UNCONNECTED: DescriptorKind = DescriptorKind::LocalStream {
    listening: false,
    connected: false,
};
const LISTENING: DescriptorKind = DescriptorKind::LocalStream {
    listening: true,
    connected: false,
};
const MODES: [OpenMode; 3] = [OpenMode::ReadOnly, OpenMode::WriteOnly, OpenMode::ReadWrite];

fn config() -> Config {
    Config::new(NameContext::new(Platform::Linux, "/tmp"))
}

#[test]
fn connected_descriptors_are_adopted_connected_or_connecting_in_every_mode() {
    for platform in [Platform::Linux, Platform::Windows] {
        for mode in MODES {
            for state in [State::Connected, State::Connecting] {
                assert_eq!(
                    plan_adopt(State::Unconnected, CONNECTED, state, mode, platform),
                    Ok(state)
                );
            }
        }
    }
}

#[test]
fn unconnected_and_closing_are_refused_with_operation() {
    for mode in MODES {
        for state in [State::Unconnected, State::Closing] {
            let e = plan_adopt(State::Unconnected, CONNECTED, state, mode, Platform::Linux)
                .unwrap_err();
            assert_eq!(e.kind(), SocketError::Operation, "{state:?} {mode:?}");
        }
    }
}

#[test]
fn only_an_unconnected_socket_adopts() {
    for current in [State::Connecting, State::Connected, State::Closing] {
        let e = plan_adopt(
            current,
            CONNECTED,
            State::Connected,
            OpenMode::ReadWrite,
            Platform::Linux,
        )
        .unwrap_err();
        assert_eq!(e.kind(), SocketError::Operation, "{current:?}");
    }
}

#[test]
fn a_descriptor_without_a_peer_is_refused_with_operation() {
    for state in [State::Connected, State::Connecting] {
        let e = plan_adopt(
            State::Unconnected,
            UNCONNECTED,
            state,
            OpenMode::ReadWrite,
            Platform::Linux,
        )
        .unwrap_err();
        assert_eq!(e.kind(), SocketError::Operation);
        assert!(e.to_string().contains("not connected"), "{e}");
    }
}

#[test]
fn what_is_not_a_local_stream_is_unsupported() {
    for kind in [
        DescriptorKind::NotSocket,
        DescriptorKind::OtherSocket,
        DescriptorKind::SynchronousPipe,
        LISTENING,
    ] {
        let e = plan_adopt(
            State::Unconnected,
            kind,
            State::Connected,
            OpenMode::ReadWrite,
            Platform::Linux,
        )
        .unwrap_err();
        assert_eq!(
            e.kind(),
            SocketError::UnsupportedSocketOperation,
            "{kind:?}"
        );
        assert!(e.detail().is_some(), "{kind:?} says why");
    }
    let e = plan_adopt(
        State::Unconnected,
        DescriptorKind::SynchronousPipe,
        State::Connected,
        OpenMode::ReadWrite,
        Platform::Windows,
    )
    .unwrap_err();
    assert!(e.to_string().contains("overlapped"), "{e}");
}

#[test]
fn an_adopted_connected_socket_is_open_in_its_mode_without_signals() {
    for mode in MODES {
        let addr = Address::Path("/run/app/sock".into());
        let mut c = Connection::adopted(
            config(),
            Some(&addr),
            State::Connected,
            mode,
            Duration::ZERO,
        );
        assert_eq!(c.state(), State::Connected);
        assert_eq!(c.open_mode(), Some(mode));
        assert_eq!(c.server_name(), "sock");
        assert_eq!(c.full_server_name(), "/run/app/sock");
        assert_eq!(c.poll_event(), None, "setSocketDescriptor emits nothing");
        assert_eq!(c.poll_action(), None);
        assert_eq!(c.write_slice(b"x").is_ok(), mode.can_write());
    }
}

#[test]
fn an_adopted_connecting_socket_signals_connected_when_the_driver_finishes() {
    let mut c = Connection::adopted(
        config(),
        None,
        State::Connecting,
        OpenMode::ReadOnly,
        Duration::ZERO,
    );
    assert_eq!(c.state(), State::Connecting);
    assert_eq!(c.open_mode(), None);
    assert_eq!(c.server_name(), "");
    assert_eq!(c.poll_event(), None);
    c.handle_connected();
    let events: Vec<Event> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(
        events,
        [Event::StateChanged(State::Connected), Event::Connected]
    );
    assert_eq!(c.open_mode(), Some(OpenMode::ReadOnly));
}

#[test]
fn an_adopted_connecting_socket_times_out_like_a_connect() {
    let mut c = Connection::adopted(
        config(),
        None,
        State::Connecting,
        OpenMode::ReadWrite,
        Duration::ZERO,
    );
    let deadline = c.poll_timeout().expect("the connect timeout runs");
    c.handle_timeout(deadline);
    assert_eq!(c.state(), State::Unconnected);
    assert_eq!(c.error(), SocketError::SocketTimeout);
    assert_eq!(c.poll_action(), Some(Action::Close));
}

#[test]
fn abstract_adopted_sockets_set_the_abstract_flag() {
    let addr = Address::Abstract("a/b\0".into());
    let c = Connection::adopted(
        config(),
        Some(&addr),
        State::Connected,
        OpenMode::ReadWrite,
        Duration::ZERO,
    );
    assert!(c.abstract_namespace());
    assert_eq!(
        c.server_name(),
        "a/b\0",
        "abstract names are whole, NULs kept"
    );
}

#[test]
fn sockaddr_parsing_follows_qt() {
    let l = Platform::Linux;
    assert_eq!(address_from_sockaddr(b"", l), None, "unbound");
    assert_eq!(address_from_sockaddr(b"\0", l), None, "empty abstract name");
    assert_eq!(
        address_from_sockaddr(b"/tmp/x\0\0\0", l),
        Some(Address::Path("/tmp/x".into()))
    );
    assert_eq!(
        address_from_sockaddr(b"\0a/b\0", l),
        Some(Address::Abstract("a/b\0".into()))
    );
    assert_eq!(
        address_from_sockaddr(b"/tmp/\xff", l),
        None,
        "not text: names stay empty"
    );
    // No abstract namespace on macOS: a leading NUL is an empty path.
    assert_eq!(address_from_sockaddr(b"\0x", Platform::Apple), None);
    // The peer's name first, else our own (an accepted socket's peer is unbound).
    assert_eq!(
        describe_socket(b"", b"/srv/s", l),
        Some(Address::Path("/srv/s".into()))
    );
    assert_eq!(
        describe_socket(b"/peer", b"/srv/s", l),
        Some(Address::Path("/peer".into()))
    );
}

#[test]
fn listen_descriptor_needs_a_listening_local_stream() {
    assert_eq!(plan_listen_descriptor(LISTENING, Platform::Linux), Ok(()));
    for kind in [
        CONNECTED,
        UNCONNECTED,
        DescriptorKind::NotSocket,
        DescriptorKind::OtherSocket,
    ] {
        let e = plan_listen_descriptor(kind, Platform::Linux).unwrap_err();
        assert_eq!(
            e.kind(),
            ServerError::UnsupportedSocketOperation,
            "{kind:?}"
        );
    }
    let e = plan_listen_descriptor(LISTENING, Platform::Windows).unwrap_err();
    assert_eq!(e.kind(), ServerError::UnsupportedSocketOperation);
}

#[test]
fn a_server_on_an_adopted_descriptor_takes_names_from_the_address_and_never_removes_its_file() {
    let mut s: Server<()> = Server::new();
    s.listen_descriptor(Some(Address::Path("/run/app/ctl.sock".into())))
        .unwrap();
    s.handle_listening();
    assert!(s.is_listening());
    assert_eq!(s.server_name(), "ctl.sock");
    assert_eq!(s.full_server_name(), "/run/app/ctl.sock");
    assert_eq!(s.socket_file(), None, "not ours to remove");
    let from = s.accepted_from(&std::sync::Arc::new(config())).unwrap();
    assert_eq!(Connection::accepted_from(from).server_name(), "ctl.sock");
    assert_eq!(
        s.listen_descriptor(None).unwrap_err().kind(),
        ServerError::AddressInUse,
        "already listening"
    );
    s.close();

    // Abstract names are whole (slashes allowed), as in Qt's test.
    s.listen_descriptor(Some(Address::Abstract("a/b".into())))
        .unwrap();
    s.handle_listening();
    assert_eq!((s.server_name(), s.full_server_name()), ("a/b", "a/b"));
    s.close();

    // Unnamed: empty names (Qt's unbound case), still listening here.
    s.listen_descriptor(None).unwrap();
    s.handle_listening();
    assert_eq!((s.server_name(), s.full_server_name()), ("", ""));
    assert!(s.is_listening());
    assert_eq!(s.socket_file(), None);
}

#[test]
fn sd_listen_fds_semantics() {
    let fds = listen_fds(Some("7"), Some("3"), None, 7).unwrap();
    assert_eq!(fds.descriptors().collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(fds.name(2), Some("unknown"));
    assert_eq!(fds.select(&ActivatedSocket::Index(2)).unwrap(), 2);
    assert_eq!(
        fds.select(&ActivatedSocket::Index(3)).unwrap_err().kind(),
        ServerError::HostNotFound
    );
    let named = listen_fds(Some("7"), Some("2"), Some("a:b"), 7).unwrap();
    assert_eq!(named.select(&ActivatedSocket::Name("b".into())).unwrap(), 1);
    assert!(named.select(&ActivatedSocket::Name("c".into())).is_err());
    // Not for us, not activated, or malformed: errors, never a guess.
    for (pid, n, names) in [
        (Some("8"), Some("1"), None),
        (None, Some("1"), None),
        (Some("7"), None, None),
        (Some("x"), Some("1"), None),
        (Some("7"), Some("-1"), None),
        (Some("7"), Some("2"), Some("only-one")),
        (Some("7"), Some("4294967295"), None),
    ] {
        let e = listen_fds(pid, n, names, 7).unwrap_err();
        assert_eq!(
            e.kind(),
            ServerError::HostNotFound,
            "{pid:?} {n:?} {names:?}"
        );
    }
    assert_eq!(
        listen_fds(Some("7"), Some("0"), None, 7).unwrap().count(),
        0
    );
}
