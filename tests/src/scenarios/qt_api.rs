//! The rest of Qt's API: `setServerName` + `open(mode)`, a socket's
//! `socketOptions`, and the server's `newConnection` signal
//! (docs/semantics.md §1, §3, §7, §9.8 and differences 32-33).

use std::time::Duration;

use crate::harness::*;
use crate::*;

use super::connected_pair as pair;

scenarios!(
    /// docs/semantics.md §9.8 (connectWithOpen): `set_server_name` + `open`
    /// connects, data flows both ways, and `close` emits one AboutToClose.
    pub fn open_after_set_server_name_exchanges_data<R: Runtime>() {
        let name = unique_name("open");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut c = R::socket();
        assert!(c.set_server_name(&name));
        assert_eq!(c.server_name(), name, "Qt's serverName() shows it at once");
        assert_eq!(c.full_server_name(), "", "resolved by the connect");
        assert_eq!(c.take_events(), vec![], "setting a name emits nothing");
        c.open(OpenMode::ReadWrite).unwrap();
        assert_eq!(c.state(), State::Connected);
        assert!(c.is_open());
        assert!(c.full_server_name().ends_with(&name));
        let mut peer = server.accept_one();
        c.io_write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        peer.io_read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        peer.io_write_all(b"pong").unwrap();
        c.io_read_exact(&mut got).unwrap();
        assert_eq!(&got, b"pong");
        c.close();
        let events = c.take_events();
        assert_eq!(
            events.iter().filter(|e| **e == Event::AboutToClose).count(),
            1,
            "{events:?}"
        );
        assert!(events.contains(&Event::Connected), "{events:?}");
    },

    /// docs/semantics.md §3: `open` with no name set fails as Qt's connect
    /// to an empty name does: ServerNotFoundError, Unconnected.
    pub fn open_without_a_name_is_server_not_found<R: Runtime>() {
        let mut c = R::socket();
        let err = c.open(OpenMode::ReadWrite).unwrap_err();
        assert_eq!(err.kind(), SocketError::ServerNotFound);
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(c.error(), SocketError::ServerNotFound);
        assert!(
            c.error_string()
                .starts_with("QLocalSocket::connectToServer: Invalid name"),
            "{}",
            c.error_string()
        );
        assert_eq!(
            c.take_events(),
            vec![
                Event::StateChanged(State::Connecting),
                Event::Error(SocketError::ServerNotFound),
                Event::StateChanged(State::Unconnected)
            ]
        );
        assert!(!c.is_open());
    },

    /// docs/semantics.md §1 and difference 32: `set_server_name` outside
    /// Unconnected is refused and the name kept; `open` while connected is
    /// refused with OperationError and the connection carries on.
    pub fn set_server_name_while_connected_is_refused<R: Runtime>() {
        let (_server, mut c, mut peer) = pair::<R>("setname");
        let before = c.server_name();
        assert!(!before.is_empty());
        assert!(!c.set_server_name("somewhere-else"));
        assert_eq!(c.server_name(), before, "unchanged, as in Qt");
        let err = c.open(OpenMode::ReadWrite).unwrap_err();
        assert_eq!(err.kind(), SocketError::Operation);
        assert_eq!(c.state(), State::Connected, "the connection is untouched");
        assert_eq!(c.take_events(), vec![Event::Error(SocketError::Operation)]);
        c.io_write_all(b"still").unwrap();
        let mut got = [0u8; 5];
        peer.io_read_exact(&mut got).unwrap();
        assert_eq!(&got, b"still");
        // Once Unconnected the name can be set again, and the next open
        // uses it.
        c.abort();
        assert_eq!(c.server_name(), "", "Qt clears the names");
        assert!(c.set_server_name(&before));
        assert_eq!(c.server_name(), before);
    },

    /// docs/semantics.md §0: Qt's `socketOptions`/`setSocketOptions` on a
    /// socket: a round trip while Unconnected, refused while connected.
    pub fn socket_options_round_trip<R: Runtime>() {
        let mut c = R::socket();
        assert_eq!(c.socket_options(), SocketOptions::NONE, "Qt's NoOptions");
        assert!(c.set_socket_options(SocketOptions::ABSTRACT_NAMESPACE));
        assert_eq!(c.socket_options(), SocketOptions::ABSTRACT_NAMESPACE);
        assert!(c.set_socket_options(SocketOptions::NONE));
        assert_eq!(c.socket_options(), SocketOptions::NONE);
        assert!(c.set_abstract_namespace(true));
        assert_eq!(
            c.socket_options(),
            SocketOptions::ABSTRACT_NAMESPACE,
            "one option, two setters"
        );
        let (_server, mut connected, peer) = pair::<R>("sockopts");
        assert!(!connected.set_socket_options(SocketOptions::ABSTRACT_NAMESPACE));
        assert_eq!(connected.socket_options(), SocketOptions::NONE);
        assert_eq!(peer.socket_options(), SocketOptions::NONE, "a path or pipe");
    },

    /// docs/semantics.md §9.6 (Linux): the abstract option set through
    /// `set_socket_options` reaches an abstract server with `open`; the
    /// accepted socket reports the option of its address (as in Qt).
    #[only(
        any(target_os = "linux", target_os = "android"),
        "the abstract namespace is Linux's (elsewhere the option is ignored, as in Qt)"
    )]
    pub fn abstract_socket_option_opens<R: Runtime>() {
        let name = unique_name("absopen");
        let mut server = R::server();
        server
            .listen_with(
                &name,
                ServerOptions {
                    abstract_namespace: true,
                    ..Default::default()
                },
            )
            .unwrap();
        let mut c = R::socket();
        assert!(c.set_socket_options(SocketOptions::ABSTRACT_NAMESPACE));
        assert!(c.set_server_name(&name));
        c.open(OpenMode::ReadWrite).unwrap();
        assert_eq!(c.full_server_name(), name, "abstract names are bare");
        let peer = server.accept_one();
        assert_eq!(peer.socket_options(), SocketOptions::ABSTRACT_NAMESPACE);
    },

    /// docs/semantics.md §7: N clients give N `newConnection` signals, one
    /// per queued connection in accept order, through `next_event` and the
    /// async runtimes' `events()` stream (alternately); each announces the
    /// connection `next_pending_connection` then returns. No extra signal;
    /// a closed server has none left.
    pub fn n_connections_give_n_new_connection_events<R: Runtime>() {
        const N: u8 = 5;
        let name = unique_name("newconn");
        let mut server = R::server();
        server.listen(&name).unwrap();
        assert_eq!(
            server.take_server_events(),
            vec![],
            "listening emits nothing"
        );
        let mut clients = Vec::new();
        for _ in 0..N {
            let mut c = R::socket();
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(c.wait_for_connected(LONG), "{}", c.error_string());
            clients.push(c);
        }
        let mut peers = Vec::new();
        for i in 0..N {
            let event = if i % 2 == 0 {
                server.next_server_event(LONG)
            } else {
                server.next_server_event_from_stream(LONG)
            };
            assert_eq!(event, Some(ServerEvent::NewConnection), "event {i}");
            let mut peer = server
                .next_pending_connection()
                .expect("the connection the event announced");
            peer.io_write_all(&[i]).unwrap();
            peers.push(peer);
        }
        assert_eq!(
            server.take_server_events(),
            vec![],
            "one event per connection"
        );
        assert_eq!(
            server.next_server_event(Some(Duration::from_millis(50))),
            None
        );
        // Which accepted socket is which client: the order the OS accepted
        // them in, which is the connect order for a Unix backlog.
        let mut seen: Vec<u8> = clients
            .iter_mut()
            .map(|c| {
                let mut b = [0u8; 1];
                c.io_read_exact(&mut b).unwrap();
                b[0]
            })
            .collect();
        if cfg!(unix) {
            assert_eq!(seen, (0..N).collect::<Vec<_>>(), "accept order");
        } else {
            // Pipe instances are not a queue: any instance may take the
            // next client. Each client still has exactly one peer.
            seen.sort_unstable();
            assert_eq!(seen, (0..N).collect::<Vec<_>>());
        }
        server.close();
        assert_eq!(
            server.next_server_event(LONG),
            None,
            "a closed server has no signal"
        );
        assert_eq!(server.next_server_event_from_stream(LONG), None);
        drop(peers);
    },

    /// docs/semantics.md §7: as in Qt, where `waitForNewConnection` emits
    /// `newConnection`, connections taken with a wait (or `accept`) queue
    /// their events too, and closing the server drops the events of the
    /// connections it drops.
    pub fn waits_queue_new_connection_events_too<R: Runtime>() {
        let name = unique_name("waitev");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let mut c = R::socket();
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(c.wait_for_connected(LONG), "{}", c.error_string());
            clients.push(c);
        }
        let peers: Vec<_> = (0..3).map(|_| server.accept_one()).collect();
        assert_eq!(
            server.take_server_events(),
            vec![ServerEvent::NewConnection; 3]
        );
        let mut late = R::socket();
        late.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(late.wait_for_connected(LONG), "{}", late.error_string());
        assert!(server.wait_for_new_connection(LONG));
        server.close();
        assert_eq!(
            server.take_server_events(),
            vec![],
            "dropped with its connection"
        );
        drop((clients, peers));
    }
);
