//! The scenarios, each a generic function over a [`Runtime`]. Derived from
//! the behaviours Qt's own `tst_qlocalsocket` checks (docs/semantics.md §9) and
//! from our decisions where Qt errs (§10).
//!
//! A scenario is written inside its file's `scenarios!` block, which defines
//! it and registers it (see [`registry`]); [`all`] gathers
//! the files' lists, and `tests/tests/conformance.rs` runs every one on
//! every runtime. One that applies to some platforms only says so with
//! `#[only(<cfg predicate>, "<why>")]`, and is reported as ignored, with
//! that reason, elsewhere.

use std::time::Duration;

use localsock_core::{Access, DeviceError};

use crate::harness::*;
use crate::*;

mod descriptor;
mod lifecycle;
mod qt_api;
pub use descriptor::*;
pub use lifecycle::*;
pub use qt_api::*;

use crate::registry::Check;

/// Every scenario for runtime `R`: this file's, then each submodule's.
pub fn all<R: Runtime>() -> Vec<Check> {
    let mut all = registered::<R>();
    all.extend(lifecycle::registered::<R>());
    all.extend(qt_api::registered::<R>());
    all.extend(descriptor::registered::<R>());
    all
}

scenarios!(
    /// docs/semantics.md §9.1: defaults of a fresh server.
    pub fn server_basic<R: Runtime>() {
        let mut server = R::server();
        server.close();
        assert_eq!(server.error_string(), "");
        assert!(!server.has_pending_connections());
        assert!(!server.is_listening());
        assert_eq!(server.max_pending_connections(), 30);
        assert!(server.next_pending_connection().is_none());
        assert_eq!(server.server_name(), "");
        assert_eq!(server.full_server_name(), "");
        assert_eq!(server.server_error(), ServerError::Unknown);
        assert!(!server.wait_for_new_connection(Some(Duration::ZERO)));
        let err = server.listen("").unwrap_err();
        assert_eq!(err.kind(), ServerError::HostNotFound);
        assert_eq!(server.server_error(), ServerError::HostNotFound);
        assert!(server
            .error_string()
            .starts_with("QLocalServer::listen: Name error"));
        server.set_max_pending_connections(10);
        assert_eq!(server.max_pending_connections(), 10);
    },

    /// docs/semantics.md §9.3: defaults of a fresh socket; harmless calls emit nothing.
    pub fn socket_basic<R: Runtime>() {
        let mut s = R::socket();
        assert_eq!(s.server_name(), "");
        assert_eq!(s.full_server_name(), "");
        s.abort();
        s.close();
        s.disconnect_from_server();
        assert_eq!(s.bytes_available(), 0);
        assert_eq!(s.bytes_to_write(), 0);
        assert!(!s.can_read_line());
        assert_eq!(s.error(), SocketError::Unknown);
        assert_eq!(s.error_string(), "Unknown error");
        assert!(!s.flush());
        assert!(!s.is_valid());
        assert_eq!(s.read_buffer_size(), 0);
        assert_eq!(s.state(), State::Unconnected);
        assert!(!s.wait_for_connected(Some(Duration::ZERO)));
        assert!(!s.wait_for_ready_read(Some(Duration::ZERO)));
        assert!(!s.wait_for_disconnected(Some(Duration::ZERO)));
        assert!(!s.wait_for_bytes_written(Some(Duration::ZERO)));
        assert_eq!(s.write(b"x"), Err(DeviceError::NotOpen));
        assert_eq!(s.read_all(), Err(DeviceError::NotOpen));
        assert_eq!(s.take_events(), vec![], "no signals at all");
    },

    /// docs/semantics.md §9.4 and §7: names while listening, cleared by close.
    pub fn listen_names_and_errors<R: Runtime>() {
        let name = unique_name("names");
        let mut server = R::server();
        server.listen(&name).unwrap();
        assert!(server.is_listening());
        assert_eq!(server.server_name(), name);
        assert!(server.full_server_name().ends_with(&name));
        assert_ne!(
            server.full_server_name(),
            name,
            "resolved to a path or pipe"
        );
        assert!(!server.wait_for_new_connection(Some(Duration::from_millis(20))));
        server.close();
        assert!(!server.is_listening());
        assert_eq!(server.server_name(), "");
        assert_eq!(server.full_server_name(), "");
    },

    /// docs/semantics.md §9.4: a second listen on the same object fails and keeps listening.
    pub fn listen_twice_fails<R: Runtime>() {
        let name = unique_name("twice");
        let mut server = R::server();
        server.listen(&name).unwrap();
        assert!(server.listen(&unique_name("other")).is_err());
        assert!(server.is_listening());
        assert_eq!(server.server_name(), name);
    },

    /// docs/semantics.md §9.5: 0, 1 and 5 clients; exactly two state changes each.
    pub fn listen_and_connect_clients<R: Runtime>() {
        for clients in [0usize, 1, 5] {
            let name = unique_name("lac");
            let mut server = R::server();
            server.listen(&name).unwrap();
            let mut sockets = Vec::new();
            for _ in 0..clients {
                let mut c = R::socket();
                c.connect_to_server(&name, OpenMode::ReadWrite);
                assert_eq!(c.server_name(), name, "names are set immediately");
                assert!(c.wait_for_connected(LONG), "{}", c.error_string());
                assert!(c.is_valid());
                assert_eq!(c.state(), State::Connected);
                assert_eq!(c.error_string(), "Unknown error");
                assert_eq!(c.full_server_name(), server.full_server_name());
                let events = c.take_events();
                assert_eq!(
                    events,
                    vec![
                        Event::StateChanged(State::Connecting),
                        Event::StateChanged(State::Connected),
                        Event::Connected
                    ]
                );
                assert_eq!(c.bytes_available(), 0);
                assert_eq!(c.bytes_to_write(), 0);
                assert!(!c.can_read_line());
                assert!(!c.flush());
                sockets.push(c);
            }
            for _ in 0..clients {
                let peer = server.accept_one();
                assert_eq!(peer.state(), State::Connected);
                assert_eq!(peer.full_server_name(), server.full_server_name());
            }
            assert!(!server.has_pending_connections());
        }
    },

    /// docs/semantics.md §3 failure: Connecting, error, Unconnected; names cleared.
    pub fn connect_to_missing_server<R: Runtime>() {
        let mut c = R::socket();
        c.connect_to_server(&unique_name("missing"), OpenMode::ReadWrite);
        assert!(!c.wait_for_connected(LONG));
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(c.error(), SocketError::ServerNotFound);
        assert!(c
            .error_string()
            .starts_with("QLocalSocket::connectToServer: Invalid name"));
        assert_eq!(c.server_name(), "");
        assert_eq!(c.full_server_name(), "");
        assert!(!c.is_open());
        assert_eq!(
            c.take_events(),
            vec![
                Event::StateChanged(State::Connecting),
                Event::Error(SocketError::ServerNotFound),
                Event::StateChanged(State::Unconnected)
            ]
        );
    },

    /// A socket file with nobody listening: ConnectionRefused (Unix). Windows
    /// has no socket files; a pipe name without a server is ServerNotFound.
    pub fn connect_to_stale_socket<R: Runtime>() {
        let name = unique_name("stale");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let full = server.full_server_name();
        leave_stale_file::<R>(server);
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(!c.wait_for_connected(LONG));
        if cfg!(unix) {
            assert_eq!(
                c.error(),
                SocketError::ConnectionRefused,
                "{}",
                c.error_string()
            );
            assert_eq!(
                c.error_string(),
                "QLocalSocket::connectToServer: Connection refused"
            );
            let _ = std::fs::remove_file(full);
        } else {
            assert_eq!(c.error(), SocketError::ServerNotFound);
        }
    },

    /// Bad names fail cleanly with ServerNotFound, never a panic.
    pub fn connect_bad_names<R: Runtime>() {
        let long = "x".repeat(300);
        for name in ["", "a\0b", &long, "../escape"] {
            let mut c = R::socket();
            c.connect_to_server(name, OpenMode::ReadWrite);
            assert!(!c.wait_for_connected(Some(Duration::from_secs(5))));
            assert_eq!(c.state(), State::Unconnected, "{name:?}");
            if cfg!(unix) || name.is_empty() || name.contains('\0') || name.len() > 256 {
                assert_eq!(c.error(), SocketError::ServerNotFound, "{name:?}");
            }
            let events = c.take_events();
            assert_eq!(
                events.first(),
                Some(&Event::StateChanged(State::Connecting))
            );
            assert_eq!(
                events.last(),
                Some(&Event::StateChanged(State::Unconnected))
            );
        }
        let mut server = R::server();
        for name in ["", "a\0b", &long] {
            let e = server.listen(name).unwrap_err();
            assert_eq!(e.kind(), ServerError::HostNotFound, "{name:?}");
            assert!(!server.is_listening());
        }
    },

    /// docs/semantics.md §9.6 (Linux): abstract on both sides connects; mixed does not.
    #[only(
        any(target_os = "linux", target_os = "android"),
        "the abstract namespace is Linux's (elsewhere the option is ignored, as in Qt)"
    )]
    pub fn abstract_namespace<R: Runtime>() {
        let name = unique_name("abs");
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
        assert_eq!(server.full_server_name(), name, "abstract names are bare");
        assert!(!std::path::Path::new(&format!("{}/{}", temp_dir(), name)).exists());
        let mut c = R::socket();
        assert!(c.set_abstract_namespace(true));
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG), "{}", c.error_string());
        assert_eq!(c.full_server_name(), name);
        let peer = server.accept_one();
        assert_eq!(peer.full_server_name(), name);
        // A regular client does not find an abstract server.
        let mut plain = R::socket();
        plain.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(!plain.wait_for_connected(Some(Duration::from_secs(5))));
        assert_eq!(plain.error(), SocketError::ServerNotFound);
    },

    /// docs/semantics.md §9.7 (Linux): a trailing NUL is part of an abstract name.
    #[only(
        any(target_os = "linux", target_os = "android"),
        "the abstract namespace is Linux's"
    )]
    pub fn abstract_namespace_trailing_zeros<R: Runtime>() {
        let name = unique_name("abs0");
        let with_nul = format!("{name}\0");
        let mut server = R::server();
        server
            .listen_with(
                &with_nul,
                ServerOptions {
                    abstract_namespace: true,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(server.full_server_name(), with_nul);
        let mut wrong = R::socket();
        wrong.set_abstract_namespace(true);
        wrong.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(!wrong.wait_for_connected(Some(Duration::from_secs(5))));
        assert_eq!(wrong.full_server_name(), "");
        let mut right = R::socket();
        right.set_abstract_namespace(true);
        right.connect_to_server(&with_nul, OpenMode::ReadWrite);
        assert!(right.wait_for_connected(LONG));
        assert_eq!(right.full_server_name(), with_nul);
    },

    /// docs/semantics.md §9.10: a 50,004-byte line from server to client, then the client's
    /// disconnect: four state changes in all and no error.
    pub fn send_data_line_and_disconnect_signals<R: Runtime>() {
        let name = unique_name("send");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        let mut peer = server.accept_one();
        let mut line = vec![b'a'; 50_003];
        line.push(b'\n');
        assert_eq!(peer.write(&line), Ok(line.len()));
        assert!(peer.wait_for_bytes_written(LONG));
        let writer = spawn(move || {
            while peer.bytes_to_write() > 0 {
                assert!(peer.wait_for_bytes_written(LONG));
            }
            peer
        });
        let mut got = Vec::new();
        while !got.ends_with(b"\n") {
            if !c.can_read_line() {
                assert!(c.wait_for_ready_read(LONG), "{}", c.error_string());
            }
            got.extend(c.read_line(0).unwrap());
            if got.len() < line.len() && !c.can_read_line() && c.bytes_available() == 0 {
                continue;
            }
        }
        assert_eq!(got, line);
        let _peer = writer.join().unwrap();
        assert_eq!(c.bytes_to_write(), 0);
        assert!(!c.flush());
        assert_eq!(c.error_string(), "Unknown error");
        c.disconnect_from_server();
        assert_eq!(c.state(), State::Unconnected);
        let events = c.take_events();
        let state_changes = events
            .iter()
            .filter(|e| matches!(e, Event::StateChanged(_)))
            .count();
        assert_eq!(state_changes, 4, "{events:?}");
        assert_eq!(
            events.iter().filter(|e| **e == Event::Disconnected).count(),
            1
        );
        assert!(!events.iter().any(|e| matches!(e, Event::Error(_))));
    },

    /// docs/semantics.md §9.11: readLine with various limits over chunked input; 0 bytes
    /// while connected, an error once the peer closed and nothing is left.
    pub fn read_line_rows<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("rl");
        peer.write(b"line one\nline two\npartial").unwrap();
        assert!(peer.flush());
        while c.bytes_available() < 25 {
            assert!(c.wait_for_ready_read(LONG));
        }
        assert_eq!(c.read_line(0).unwrap(), b"line one\n");
        assert_eq!(c.read_line(4).unwrap(), b"line");
        assert_eq!(c.read_line(0).unwrap(), b" two\n");
        assert!(!c.can_read_line());
        assert_eq!(c.read_line(0).unwrap(), b"partial");
        assert_eq!(
            c.read_line(0).unwrap(),
            b"",
            "nothing buffered while connected"
        );
        peer.abort();
        drop(peer);
        assert!(!c.wait_for_ready_read(LONG), "EOF is not readyRead");
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(c.read_line(0).unwrap(), b"");
    },

    /// docs/semantics.md §9.12: skip works on data buffered before the peer disconnected.
    pub fn skip_after_disconnect<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("skip");
        let data = payload(20_000, 1);
        peer.io_write_all(&data).unwrap();
        peer.disconnect_from_server();
        assert!(peer.state() == State::Unconnected || peer.wait_for_disconnected(LONG));
        assert!(c.wait_for_disconnected(LONG));
        assert_eq!(c.bytes_available(), 20_000);
        assert_eq!(c.skip(10).unwrap(), 10);
        assert_eq!(c.read_all().unwrap()[..], data[10..]);
        assert_eq!(c.skip(5).unwrap(), 0, "past the end returns what was there");
    },

    /// docs/semantics.md §9.13: limit 128, 256 bytes arrive as two rounds of 128.
    pub fn read_buffer_limit<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("rbl");
        c.set_read_buffer_size(128);
        assert_eq!(c.read_buffer_size(), 128);
        peer.io_write_all(&payload(256, 2)).unwrap();
        let mut got = Vec::new();
        while got.len() < 256 {
            assert!(c.wait_for_ready_read(LONG));
            assert!(c.bytes_available() <= 128, "never beyond the limit");
            got.extend(c.read_all().unwrap());
        }
        assert_eq!(got, payload(256, 2));
        assert_eq!(c.bytes_available(), 0);
    },

    /// The limit holds back a fast writer; raising it (or 0) resumes reading.
    pub fn read_buffer_limit_changed_while_full<R: Runtime>() {
        let (_server, mut c, peer) = connected_pair::<R>("rblc");
        c.set_read_buffer_size(1000);
        let data = payload(200_000, 3);
        let expect = data.clone();
        let writer = spawn(move || {
            let mut peer = peer;
            peer.io_write_all(&data).unwrap();
            peer
        });
        while c.bytes_available() < 1000 {
            assert!(c.wait_for_ready_read(LONG));
        }
        assert_eq!(c.bytes_available(), 1000);
        assert!(
            !c.wait_for_ready_read(Some(Duration::from_millis(50))),
            "full: nothing arrives"
        );
        assert_eq!(c.bytes_available(), 1000);
        c.set_read_buffer_size(0);
        let mut got = Vec::new();
        while got.len() < expect.len() {
            if c.bytes_available() == 0 {
                assert!(c.wait_for_ready_read(LONG));
            }
            got.extend(c.read_all().unwrap());
        }
        assert_eq!(got, expect);
        writer.join().unwrap();
    },

    /// docs/semantics.md §9.14: request/response round trips with the blocking waits.
    pub fn simple_command_protocol<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("cmd");
        let echo = spawn(move || {
            for _ in 0..500 {
                let mut req = [0u8; 8];
                peer.io_read_exact(&mut req).unwrap();
                let n = u64::from_le_bytes(req);
                peer.io_write_all(&(n * 2).to_le_bytes()).unwrap();
            }
            peer
        });
        for i in 0..500u64 {
            c.write(&i.to_le_bytes()).unwrap();
            assert!(c.wait_for_bytes_written(LONG));
            let mut resp = [0u8; 8];
            c.io_read_exact(&mut resp).unwrap();
            assert_eq!(u64::from_le_bytes(resp), i * 2);
        }
        echo.join().unwrap();
    },

    /// docs/semantics.md §9.16: absolute paths (or full pipe names) as names.
    pub fn full_path<R: Runtime>() {
        let name = if cfg!(windows) {
            format!(r"\\.\pipe\{}", unique_name("fp"))
        } else {
            format!("{}/{}", temp_dir(), unique_name("fp"))
        };
        let mut server = R::server();
        server.listen(&name).unwrap();
        assert_eq!(server.server_name(), name);
        assert_eq!(server.full_server_name(), name);
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        assert_eq!(c.server_name(), name);
        assert_eq!(c.full_server_name(), name);
        c.disconnect_from_server();
        assert!(c.state() == State::Unconnected || c.wait_for_disconnected(LONG));
        assert_eq!(c.server_name(), "");
        assert_eq!(c.full_server_name(), "");
    },

    /// docs/semantics.md §9.17: with max 0, 1, 3 pending, max+1 clients are all served.
    pub fn hit_maximum_connections<R: Runtime>() {
        for max in [0usize, 1, 3] {
            let name = unique_name("max");
            let mut server = R::server();
            server.set_max_pending_connections(max);
            server.listen(&name).unwrap();
            let mut clients = Vec::new();
            for _ in 0..=max {
                let mut c = R::socket();
                c.connect_to_server(&name, OpenMode::ReadWrite);
                clients.push(c);
            }
            let mut hits = 0;
            for c in clients.iter_mut() {
                assert!(c.wait_for_connected(LONG), "{}", c.error_string());
            }
            while hits < max + 1 {
                assert!(server.wait_for_new_connection(LONG));
                while server.next_pending_connection().is_some() {
                    hits += 1;
                }
            }
            assert_eq!(hits, max + 1);
        }
    },

    /// docs/semantics.md §9.19: clients in their own threads against one server, each
    /// getting its own line back.
    pub fn concurrent_clients_threads<R: Runtime>() {
        let name = unique_name("thr");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let clients: Vec<_> = (0..10)
            .map(|i| {
                let name = name.clone();
                spawn(move || {
                    let mut c = R::socket();
                    c.connect_to_server(&name, OpenMode::ReadWrite);
                    assert!(c.wait_for_connected(LONG), "{}", c.error_string());
                    let msg = format!("hello {i}\n");
                    c.io_write_all(msg.as_bytes()).unwrap();
                    while !c.can_read_line() {
                        assert!(c.wait_for_ready_read(LONG), "{}", c.error_string());
                    }
                    assert_eq!(c.read_line(0).unwrap(), msg.into_bytes());
                })
            })
            .collect();
        for _ in 0..10 {
            let mut peer = server.accept_one();
            while !peer.can_read_line() {
                assert!(peer.wait_for_ready_read(LONG));
            }
            let line = peer.read_line(0).unwrap();
            assert!(line.starts_with(b"hello "));
            peer.io_write_all(&line).unwrap();
        }
        for c in clients {
            c.join().unwrap();
        }
    },

    /// docs/semantics.md §9.21: an over-long name fails to listen and leaves clients Unconnected.
    pub fn long_path<R: Runtime>() {
        let name = "a".repeat(256);
        let mut server = R::server();
        assert!(server.listen(&name).is_err());
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(!c.wait_for_connected(Some(Duration::from_secs(5))));
        assert_eq!(c.state(), State::Unconnected);
    },

    /// docs/semantics.md §9.22: the server side sees the client's disconnect.
    pub fn wait_for_disconnect_by_client<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("wfd");
        c.disconnect_from_server();
        assert!(c.state() == State::Unconnected || c.wait_for_disconnected(LONG));
        assert!(peer.wait_for_disconnected(LONG));
        assert_eq!(peer.state(), State::Unconnected);
    },

    /// docs/semantics.md §9.23: the client sees the server side's close; one `Disconnected`.
    pub fn wait_for_disconnect_by_server<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("wfds");
        peer.close();
        assert_eq!(peer.state(), State::Unconnected);
        assert!(c.wait_for_disconnected(LONG));
        let events = c.take_events();
        assert_eq!(
            events.iter().filter(|e| **e == Event::Disconnected).count(),
            1
        );
        assert_eq!(c.state(), State::Unconnected);
    },

    /// docs/semantics.md §9.24: one byte then close; the byte is readable, then no more waits.
    pub fn wait_for_ready_read_on_disconnected<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("wrrd");
        peer.write(b"x").unwrap();
        peer.disconnect_from_server();
        assert!(peer.state() == State::Unconnected || peer.wait_for_disconnected(LONG));
        // The byte and the EOF may arrive in one batch: either the wait sees the
        // byte, or it already sees the end with the byte buffered.
        let ready = c.wait_for_ready_read(LONG);
        assert!(ready || c.bytes_available() == 1);
        assert_eq!(c.read_all().unwrap(), b"x");
        assert!(
            !c.wait_for_ready_read(LONG),
            "after EOF it returns false at once"
        );
    },

    /// docs/semantics.md §9.25: disconnect with a pending byte → Closing, drained, Unconnected;
    /// the server side reads it, and close() on it empties its buffer.
    pub fn delayed_disconnect_drains<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("dd");
        c.write(b"z").unwrap();
        c.disconnect_from_server();
        assert_eq!(c.state(), State::Closing, "Qt: Closing until drained");
        assert!(c.wait_for_disconnected(LONG));
        assert_eq!(c.state(), State::Unconnected);
        assert!(c.is_open(), "a graceful disconnect leaves the device open");
        while peer.bytes_available() < 1 {
            assert!(peer.wait_for_ready_read(LONG) || peer.bytes_available() == 1);
        }
        assert_eq!(peer.bytes_available(), 1);
        peer.close();
        assert!(peer.take_events().contains(&Event::AboutToClose));
        assert!(!peer.is_open());
        assert_eq!(peer.bytes_available(), 0);
        assert_eq!(peer.state(), State::Unconnected);
    },

    /// ClosingState drains several MiB to a reader that takes its time.
    pub fn closing_drains_megabytes_to_slow_reader<R: Runtime>() {
        let (_server, mut c, peer) = connected_pair::<R>("drain");
        let data = payload(4 << 20, 4);
        let sum = checksum(&data);
        let reader = spawn(move || {
            let mut peer = peer;
            peer.set_read_buffer_size(16 * 1024);
            let mut got = Vec::new();
            loop {
                if peer.bytes_available() == 0 && !peer.wait_for_ready_read(LONG) {
                    break;
                }
                got.extend(peer.read_all().unwrap());
            }
            got.extend(peer.read_all().unwrap_or_default());
            got
        });
        c.write(&data).unwrap();
        c.disconnect_from_server();
        assert_eq!(c.state(), State::Closing, "4 MiB cannot leave at once");
        assert!(c.wait_for_disconnected(LONG), "{}", c.error_string());
        let events = c.take_events();
        let written: usize = events
            .iter()
            .map(|e| match e {
                Event::BytesWritten(n) => *n,
                _ => 0,
            })
            .sum();
        assert_eq!(written, data.len());
        let tail: Vec<_> = events
            .iter()
            .filter(|e| !matches!(e, Event::BytesWritten(_)))
            .copied()
            .collect();
        assert_eq!(
            tail,
            vec![
                Event::StateChanged(State::Closing),
                Event::StateChanged(State::Unconnected),
                Event::ReadChannelFinished,
                Event::Disconnected
            ]
        );
        let got = reader.join().unwrap();
        assert_eq!(got.len(), data.len());
        assert_eq!(checksum(&got), sum);
    },

    /// docs/semantics.md §9.26 with our decision: a live name cannot be taken (even with
    /// access options); Qt's removeServer removes it anyway.
    pub fn remove_server_and_live_name<R: Runtime>() {
        let name = unique_name("rm");
        assert!(R::remove_server(&name), "missing name: true");
        let mut first = R::server();
        first.listen(&name).unwrap();
        let mut second = R::server();
        if cfg!(unix) {
            let e = second.listen(&name).unwrap_err();
            assert_eq!(e.kind(), ServerError::AddressInUse);
            let e = second
                .listen_with(
                    &name,
                    ServerOptions {
                        access: Access::WORLD,
                        ..Default::default()
                    },
                )
                .unwrap_err();
            assert_eq!(
                e.kind(),
                ServerError::AddressInUse,
                "never steals a live socket"
            );
            // The first still works.
            let mut c = R::socket();
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(c.wait_for_connected(LONG));
            assert!(first.wait_for_new_connection(LONG));
            // Qt's hostile takeover still exists, explicitly.
            assert!(R::remove_server(&name));
            second.listen(&name).unwrap();
        }
        // Windows: the first pipe instance flag makes the second listen fail on
        // real Windows; Wine does not enforce it (see the Windows tests).
    },

    /// A leftover socket file from a crash is reclaimed by listen.
    #[only(unix, "pipes vanish with their server; no file stays")]
    pub fn stale_socket_reclaimed<R: Runtime>() {
        let name = unique_name("reclaim");
        let mut server = R::server();
        server.listen(&name).unwrap();
        leave_stale_file::<R>(server);
        let mut again = R::server();
        again.listen(&name).expect("stale socket reclaimed");
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        // With reclaiming off, Qt's AddressInUse.
        let name2 = unique_name("noreclaim");
        let mut s2 = R::server();
        s2.listen(&name2).unwrap();
        let full2 = s2.full_server_name();
        leave_stale_file::<R>(s2);
        let mut s3 = R::server();
        let e = s3
            .listen_with(
                &name2,
                ServerOptions {
                    reclaim_stale_socket: false,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.kind(), ServerError::AddressInUse);
        assert!(std::path::Path::new(&full2).exists(), "left alone");
        let _ = std::fs::remove_file(full2);
    },

    /// A regular file at the path is an error and is never removed.
    #[only(unix, "pipe names are not files")]
    pub fn non_socket_file_not_removed<R: Runtime>() {
        let name = unique_name("file");
        let path = format!("{}/{}", temp_dir(), name);
        std::fs::write(&path, b"precious").unwrap();
        let mut server = R::server();
        let e = server.listen(&name).unwrap_err();
        assert_eq!(e.kind(), ServerError::AddressInUse);
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
    },

    /// docs/semantics.md §9.27: a closed server listens again under a new name; the same
    /// client object reconnects.
    pub fn recycle_server<R: Runtime>() {
        let mut server = R::server();
        let mut c = R::socket();
        for _ in 0..2 {
            let name = unique_name("recycle");
            server.listen(&name).unwrap();
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(c.wait_for_connected(LONG));
            // Accepted sockets carry the server's names: this listen's, not
            // the previous one's (the server shares them among its sockets).
            let peer = server.accept_one();
            assert_eq!(peer.full_server_name(), server.full_server_name());
            assert_eq!(peer.full_server_name(), c.full_server_name());
            c.abort();
            server.close();
        }
    },

    /// docs/semantics.md §9.28: abort, connect, receive — three times on one client object.
    pub fn recycle_client_socket<R: Runtime>() {
        let name = unique_name("rcs");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut c = R::socket();
        for round in 0..3u8 {
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(c.wait_for_connected(LONG));
            let mut peer = server.accept_one();
            let msg = vec![round; 100];
            peer.io_write_all(&msg).unwrap();
            let mut got = vec![0; 100];
            c.io_read_exact(&mut got).unwrap();
            assert_eq!(got, msg);
            assert!(!c.take_events().iter().any(|e| matches!(e, Event::Error(_))));
            c.abort();
        }
    },

    /// docs/semantics.md §9.29: three clients connect before any accept.
    pub fn multi_connect<R: Runtime>() {
        let name = unique_name("multi");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut cs: Vec<_> = (0..3).map(|_| R::socket()).collect();
        for c in &mut cs {
            c.connect_to_server(&name, OpenMode::ReadWrite);
        }
        for c in &mut cs {
            assert!(c.wait_for_connected(LONG));
        }
        for _ in 0..3 {
            let _ = server.accept_one();
        }
    },

    /// docs/semantics.md §9.30: a write-only client still notices the peer's abort.
    pub fn write_only_socket<R: Runtime>() {
        let name = unique_name("wo");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::WriteOnly);
        assert!(c.wait_for_connected(LONG));
        let mut peer = server.accept_one();
        assert_eq!(c.bytes_available(), 0);
        assert_eq!(c.read_all(), Err(DeviceError::WriteOnly));
        c.write(b"to server").unwrap();
        assert!(c.wait_for_bytes_written(LONG));
        let mut got = [0u8; 9];
        peer.io_read_exact(&mut got).unwrap();
        assert_eq!(&got, b"to server");
        peer.write(b"ignored").unwrap();
        peer.flush();
        peer.abort();
        assert!(c.wait_for_disconnected(None));
        assert_eq!(c.state(), State::Unconnected);
        assert_eq!(c.bytes_available(), 0, "write-only sockets discard input");
    },

    /// Reads-only sockets refuse writes with Qt's refusal.
    pub fn read_only_socket_refuses_writes<R: Runtime>() {
        let name = unique_name("ro");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadOnly);
        assert!(c.wait_for_connected(LONG));
        assert_eq!(c.write(b"x"), Err(DeviceError::ReadOnly));
        let mut peer = server.accept_one();
        peer.io_write_all(b"down").unwrap();
        let mut got = [0u8; 4];
        c.io_read_exact(&mut got).unwrap();
        assert_eq!(&got, b"down");
    },

    /// docs/semantics.md §9.31: the server writes chunks and closes; everything is readable
    /// after the client sees the end.
    pub fn write_to_client_and_disconnect<R: Runtime>() {
        for chunks in [1usize, 20] {
            let (mut server, mut c, mut peer) = connected_pair::<R>("wtcd");
            server.close();
            for i in 0..chunks {
                peer.write(&[i as u8; 100]).unwrap();
            }
            peer.close();
            if peer.state() != State::Unconnected {
                assert!(peer.wait_for_disconnected(LONG));
            }
            assert!(c.wait_for_disconnected(LONG));
            let events = c.take_events();
            assert_eq!(
                events
                    .iter()
                    .filter(|e| **e == Event::ReadChannelFinished)
                    .count(),
                1
            );
            assert_eq!(c.bytes_available(), chunks * 100);
            assert_eq!(c.state(), State::Unconnected);
            let all = c.read_all().unwrap();
            for (i, chunk) in all.chunks(100).enumerate() {
                assert!(chunk.iter().all(|&b| b == i as u8));
            }
        }
    },

    /// docs/semantics.md §9.32: writing to an aborted peer: queued, then one error and Unconnected.
    pub fn write_to_disconnected<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("wtd");
        peer.abort();
        drop(peer);
        assert_eq!(c.state(), State::Connected, "not noticed yet");
        assert_eq!(c.write(b"a"), Ok(1));
        assert_eq!(c.bytes_to_write(), 1);
        // The first write may still be taken by the kernel; keep writing until
        // the loss is noticed.
        let mut rounds = 0;
        while c.state() == State::Connected && rounds < 100 {
            let _ = c.write(&[0u8; 1024]);
            let _ = c.wait_for_bytes_written(LONG);
            rounds += 1;
        }
        assert_eq!(c.state(), State::Unconnected);
        let errors = c
            .take_events()
            .into_iter()
            .filter(|e| matches!(e, Event::Error(_)))
            .count();
        assert_eq!(errors, 1, "exactly one error");
        assert!(matches!(
            c.error(),
            SocketError::PeerClosed | SocketError::Connection
        ));
        assert_eq!(c.bytes_to_write(), 0);
    },

    /// Peer EOF with unread data: Qt's signal order, data still readable.
    pub fn eof_with_unread_data<R: Runtime>() {
        let (_server, mut c, mut peer) = connected_pair::<R>("eof");
        peer.io_write_all(b"last words").unwrap();
        peer.disconnect_from_server();
        assert!(peer.state() == State::Unconnected || peer.wait_for_disconnected(LONG));
        assert!(c.wait_for_disconnected(LONG));
        let events = c.take_events();
        let tail: Vec<_> = events
            .iter()
            .skip_while(|e| **e == Event::ReadyRead)
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
        assert_eq!(c.error_string(), "QLocalSocket: Remote closed");
        assert!(c.is_open());
        assert_eq!(c.read_all().unwrap(), b"last words");
        assert_eq!(c.io_read_to_end().unwrap(), b"", "then end of stream");
    },

    /// abort drops pending writes at once; AboutToClose comes first.
    pub fn abort_drops_pending_writes<R: Runtime>() {
        let (_server, mut c, _peer) = connected_pair::<R>("abort");
        c.write(&payload(1 << 20, 5)).unwrap();
        assert!(c.bytes_to_write() > 0, "1 MiB cannot leave at once");
        c.abort();
        assert_eq!(c.bytes_to_write(), 0);
        assert_eq!(c.state(), State::Unconnected);
        assert!(!c.is_open());
        let events: Vec<_> = c
            .take_events()
            .into_iter()
            .filter(|e| !matches!(e, Event::BytesWritten(_)))
            .collect();
        assert_eq!(
            events,
            vec![
                Event::StateChanged(State::Unconnected),
                Event::ReadChannelFinished,
                Event::Disconnected,
                Event::AboutToClose,
            ]
        );
    },

    /// Our decision (Qt bug): after an abort, a later graceful disconnect on the
    /// same object still drains.
    pub fn abort_does_not_poison_later_disconnects<R: Runtime>() {
        let name = unique_name("poison");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        let _p1 = server.accept_one();
        c.abort();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        let peer = server.accept_one();
        let data = payload(1 << 20, 6);
        let n = data.len();
        let reader = spawn(move || {
            let mut peer = peer;
            peer.io_read_to_end().unwrap()
        });
        c.write(&data).unwrap();
        c.disconnect_from_server();
        assert!(c.state() == State::Unconnected || c.wait_for_disconnected(LONG));
        let got = reader.join().unwrap();
        assert_eq!(got.len(), n, "nothing lost");
    },

    /// connect while connected: only an Operation error; the connection stays.
    pub fn connect_while_connected_is_operation_error<R: Runtime>() {
        let (server, mut c, _peer) = connected_pair::<R>("op");
        c.connect_to_server(&server.server_name(), OpenMode::ReadWrite);
        assert_eq!(c.take_events(), vec![Event::Error(SocketError::Operation)]);
        assert_eq!(c.state(), State::Connected);
        assert_eq!(c.error(), SocketError::Operation);
    },

    /// Every wait with a zero timeout returns at once on an idle connection.
    pub fn wait_calls_with_zero_timeout<R: Runtime>() {
        let (_server, mut c, _peer) = connected_pair::<R>("zero");
        let z = Some(Duration::ZERO);
        assert!(c.wait_for_connected(z), "already connected");
        assert!(!c.wait_for_ready_read(z));
        assert!(!c.wait_for_bytes_written(z), "nothing pending");
        assert!(!c.wait_for_disconnected(z));
        assert_eq!(c.state(), State::Connected);
    },

    /// docs/semantics.md §5: a finite wait times out with SocketTimeout; still connected.
    pub fn wait_for_ready_read_times_out<R: Runtime>() {
        let (_server, mut c, _peer) = connected_pair::<R>("wto");
        assert!(!c.wait_for_ready_read(Some(Duration::from_millis(30))));
        assert_eq!(c.error(), SocketError::SocketTimeout);
        assert_eq!(c.error_string(), "QLocalSocket: Socket operation timed out");
        assert_eq!(c.state(), State::Connected);
        assert!(c
            .take_events()
            .contains(&Event::Error(SocketError::SocketTimeout)));
    },

    /// docs/semantics.md §7 close(): the socket file goes; queued clients see the end.
    pub fn server_close_removes_file_and_drops_queued<R: Runtime>() {
        let name = unique_name("close");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let full = server.full_server_name();
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        assert!(server.wait_for_new_connection(LONG));
        server.close();
        if cfg!(unix) {
            assert!(!std::path::Path::new(&full).exists());
        }
        assert!(c.wait_for_disconnected(LONG));
        // A new client finds nobody.
        let mut late = R::socket();
        late.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(!late.wait_for_connected(Some(Duration::from_secs(5))));
    },

    /// docs/semantics.md §9.37: access options give exactly Qt's modes, from the first instant.
    pub fn socket_access_options<R: Runtime>() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for (access, mode) in [
                (Access::USER, 0o700),
                (Access::GROUP, 0o070),
                (Access::OTHER, 0o007),
                (Access::WORLD, 0o777),
            ] {
                let name = unique_name("acc");
                let mut server = R::server();
                server
                    .listen_with(
                        &name,
                        ServerOptions {
                            access,
                            ..Default::default()
                        },
                    )
                    .unwrap();
                let meta = std::fs::metadata(server.full_server_name()).unwrap();
                assert_eq!(meta.permissions().mode() & 0o777, mode, "{access:?}");
            }
        }
        #[cfg(windows)]
        {
            // The descriptor is applied; a client of the same user connects.
            let name = unique_name("acc");
            let mut server = R::server();
            server
                .listen_with(
                    &name,
                    ServerOptions {
                        access: Access::USER,
                        ..Default::default()
                    },
                )
                .unwrap();
            let mut c = R::socket();
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(c.wait_for_connected(LONG), "{}", c.error_string());
        }
    },

    /// Peer credentials on both sides are this process's.
    pub fn peer_credentials_match<R: Runtime>() {
        let (_server, c, peer) = connected_pair::<R>("cred");
        let mine = std::process::id();
        let a = c.peer_credentials().unwrap();
        let b = peer.peer_credentials().unwrap();
        if cfg!(any(target_os = "linux", windows)) {
            assert_eq!(b.pid, Some(mine));
        }
        if cfg!(target_os = "linux") {
            assert_eq!(a.pid, Some(mine));
        }
        #[cfg(unix)]
        {
            let uid = rustix_uid();
            assert_eq!(a.uid, Some(uid));
            assert_eq!(b.uid, Some(uid));
        }
    },

    /// 8 MiB each way at once through the I/O traits, checksummed.
    /// Both ends write 8 MiB before either reads (far more than the socket or
    /// pipe buffers hold). Plain blocking streams deadlock here; ours read into
    /// their buffer while they wait to write (Qt's buffered model), so both
    /// writes finish and every byte arrives intact. On the blocking runtime
    /// this also covers the fall-back from waiting inside `send` to waiting
    /// with `poll` (a writer whose peer takes nothing starts reading).
    pub fn writers_do_not_block_each_other<R: Runtime>() {
        const LEN: usize = 8 << 20;
        let (_server, mut c, peer) = connected_pair::<R>("both-write");
        let up = payload(LEN, 21);
        let down = payload(LEN, 22);
        let (up_sum, down_sum) = (checksum(&up), checksum(&down));
        let server_side = spawn(move || {
            let mut peer = peer;
            peer.io_write_all(&down).unwrap();
            let mut got = vec![0u8; LEN];
            peer.io_read_exact(&mut got).unwrap();
            checksum(&got)
        });
        c.io_write_all(&up).unwrap();
        let mut got = vec![0u8; LEN];
        c.io_read_exact(&mut got).unwrap();
        assert_eq!(checksum(&got), down_sum, "server to client");
        assert_eq!(server_side.join().unwrap(), up_sum, "client to server");
    },

    /// A read-buffer limit against a fast writer, both driven from one
    /// thread: the reader never buffers more than the limit, and while it
    /// does not read the writer's queue grows (the kernel holds it back).
    /// Reading everything afterwards loses nothing.
    pub fn read_limit_holds_back_a_fast_writer<R: Runtime>() {
        const LIMIT: usize = 4096;
        let (_server, mut reader, mut writer) = connected_pair::<R>("backpressure-queue");
        reader.set_read_buffer_size(LIMIT);
        let data = payload(4 << 20, 9);
        let mut queued_seen = Vec::new();
        for chunk in data.chunks(256 << 10) {
            writer.write(chunk).unwrap();
            // Let both sides make progress for a moment.
            let _ = writer.wait_for_bytes_written(Some(Duration::from_millis(5)));
            let _ = reader.wait_for_ready_read(Some(Duration::from_millis(5)));
            assert!(reader.bytes_available() <= LIMIT, "beyond the limit");
            queued_seen.push(writer.bytes_to_write());
        }
        assert_eq!(reader.bytes_available(), LIMIT, "the buffer filled up");
        // A full buffer: the wait says no at once, nothing more is read.
        assert!(!reader.wait_for_ready_read(Some(Duration::from_millis(20))));
        assert_eq!(reader.bytes_available(), LIMIT);
        // The writer's queue grew while the reader did not read.
        assert!(
            queued_seen.windows(2).all(|w| w[1] >= w[0]),
            "{queued_seen:?}"
        );
        assert!(*queued_seen.last().unwrap() > 2 << 20, "{queued_seen:?}");

        // Now read everything (the writer drains on its own thread).
        let drain = spawn(move || {
            while writer.bytes_to_write() > 0 {
                assert!(
                    writer.wait_for_bytes_written(LONG),
                    "{}",
                    writer.error_string()
                );
            }
            writer
        });
        let n = data.len();
        let mut got = Vec::with_capacity(n);
        let mut buf = vec![0u8; 64 << 10];
        while got.len() < n {
            let k = reader.io_read(&mut buf).unwrap();
            assert!(k > 0);
            assert!(reader.bytes_available() <= LIMIT);
            got.extend_from_slice(&buf[..k]);
        }
        drop(drain.join().unwrap());
        assert!(got == data, "bytes lost or reordered");
    },

    /// With a read-buffer limit the socket stops reading at the limit, so the
    /// peer's writes (on another thread) stall in the kernel; reading resumes
    /// them, in order.
    pub fn read_buffer_limit_is_back_pressure<R: Runtime>() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        const LIMIT: usize = 4096;
        let (_server, mut client, mut peer) = connected_pair::<R>("backpressure");
        client.set_read_buffer_size(LIMIT);
        let data = payload(4 << 20, 13);
        let expect = checksum(&data);
        let len = data.len();
        let done = Arc::new(AtomicBool::new(false));
        let done2 = done.clone();
        let writer = spawn(move || {
            peer.io_write_all(&data).unwrap();
            done2.store(true, Ordering::SeqCst);
            peer.disconnect_from_server();
            let _ = peer.wait_for_disconnected(None);
        });
        while client.bytes_available() < LIMIT {
            assert!(client.wait_for_ready_read(LONG));
            assert!(client.bytes_available() <= LIMIT);
        }
        // Full: the socket no longer reads, nothing arrives, the writer stalls.
        assert!(!client.wait_for_ready_read(Some(Duration::from_millis(100))));
        assert_eq!(client.bytes_available(), LIMIT);
        assert!(
            !done.load(Ordering::SeqCst),
            "4 MiB cannot fit in the kernel's buffers"
        );
        let mut got = Vec::with_capacity(len);
        while got.len() < len {
            if client.bytes_available() == 0 {
                assert!(
                    client.wait_for_ready_read(LONG),
                    "{}",
                    client.error_string()
                );
            }
            assert!(client.bytes_available() <= LIMIT, "never beyond the limit");
            got.extend_from_slice(&client.read_all().unwrap());
        }
        assert_eq!(checksum(&got), expect);
        writer.join().unwrap();
    },

    /// Reads through the I/O trait in 7-byte pieces while 64 KiB arrive, with
    /// a 100-byte read-buffer limit. The async runtimes read a small piece
    /// through a larger stack buffer and keep the rest in the socket's buffer:
    /// every byte arrives once and in order, and the buffer never holds more
    /// than the limit.
    pub fn small_reads_keep_order_and_limit<R: Runtime>() {
        const LEN: usize = 64 << 10;
        const LIMIT: usize = 100;
        let (_server, mut c, peer) = connected_pair::<R>("small-reads");
        c.set_read_buffer_size(LIMIT);
        let data = payload(LEN, 31);
        let sent = data.clone();
        let writer = spawn(move || {
            let mut peer = peer;
            peer.io_write_all(&sent).unwrap();
            peer
        });
        let mut got = Vec::with_capacity(LEN);
        let mut piece = [0u8; 7];
        while got.len() < LEN {
            let n = piece.len().min(LEN - got.len());
            c.io_read_exact(&mut piece[..n]).unwrap();
            got.extend_from_slice(&piece[..n]);
            assert!(
                c.bytes_available() <= LIMIT,
                "{} bytes buffered over a limit of {LIMIT}",
                c.bytes_available()
            );
        }
        assert!(got == data, "the bytes arrived out of order or changed");
        drop(writer.join().unwrap());
    },

    /// 24 MiB in every mix of write and read sizes arrive whole and in order,
    /// with nothing stuck. Writes of 1 byte to 200 KB (queued, direct, partial
    /// direct with their tails), every fifth a vectored write of 100 slices;
    /// reads of 1 byte to 100 KiB (direct, through the stack, through the
    /// socket's buffer). The async runtimes forget readiness after a short
    /// write (tokio) or after a read that found the socket empty or short
    /// (smol): a wrong guess there leaves a side waiting for a wake-up that
    /// never comes, and `io_read`'s bound then fails the test. Checked: tokio
    /// clearing readability after a full read fails it.
    pub fn mixed_sizes_never_stall<R: Runtime>() {
        let (_server, mut c, peer) = connected_pair::<R>("mixed");
        let data = payload(24 << 20, 5);
        let sent = data.clone();
        let writer = spawn(move || {
            let mut peer = peer;
            let sizes = [1usize, 65_536, 3, 200_000, 4096, 70_000, 17, 131_072];
            let mut at = 0;
            for (i, size) in sizes.iter().cycle().enumerate() {
                if at == sent.len() {
                    break;
                }
                let end = (at + size).min(sent.len());
                if i % 5 == 4 {
                    let piece = &sent[at..end];
                    let step = piece.len().div_ceil(100);
                    let slices: Vec<std::io::IoSlice<'_>> =
                        piece.chunks(step).map(std::io::IoSlice::new).collect();
                    at += peer.io_write_vectored(&slices).unwrap();
                } else {
                    peer.io_write_all(&sent[at..end]).unwrap();
                    at = end;
                }
            }
            // A graceful disconnect: what is still queued leaves first.
            peer.disconnect_from_server();
            if peer.state() != State::Unconnected {
                assert!(peer.wait_for_disconnected(LONG), "{}", peer.error_string());
            }
            assert_eq!(
                peer.error(),
                SocketError::Unknown,
                "{}",
                peer.error_string()
            );
        });
        let reads = [1usize, 100_000, 64, 65_536, 4095, 7, 32_768];
        let mut buf = vec![0u8; 100_000];
        let mut got = Vec::with_capacity(data.len());
        for size in reads.iter().cycle() {
            let n = c.io_read(&mut buf[..*size]).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.join().unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "the bytes arrived out of order or changed");
    },

    pub fn bulk_both_ways_checksum<R: Runtime>() {
        let (_server, mut c, peer) = connected_pair::<R>("bulk");
        let up = payload(8 << 20, 7);
        let down = payload(8 << 20, 8);
        let (up_sum, down_sum) = (checksum(&up), checksum(&down));
        let down2 = down.clone();
        let server_side = spawn(move || {
            let mut peer = peer;
            let mut got = vec![0u8; 8 << 20];
            let reader_len = got.len();
            // Write and read in turns of 64 KiB so neither side blocks forever.
            let mut sent = 0;
            let mut recvd = 0;
            while sent < down2.len() || recvd < reader_len {
                if sent < down2.len() {
                    let end = (sent + 65536).min(down2.len());
                    peer.io_write_all(&down2[sent..end]).unwrap();
                    sent = end;
                }
                if recvd < reader_len {
                    let end = (recvd + 65536).min(reader_len);
                    peer.io_read_exact(&mut got[recvd..end]).unwrap();
                    recvd = end;
                }
            }
            checksum(&got)
        });
        let mut got = vec![0u8; 8 << 20];
        let mut sent = 0;
        let mut recvd = 0;
        while sent < up.len() || recvd < got.len() {
            if sent < up.len() {
                let end = (sent + 65536).min(up.len());
                c.io_write_all(&up[sent..end]).unwrap();
                sent = end;
            }
            if recvd < got.len() {
                let end = (recvd + 65536).min(got.len());
                c.io_read_exact(&mut got[recvd..end]).unwrap();
                recvd = end;
            }
        }
        assert_eq!(checksum(&got), down_sum);
        assert_eq!(server_side.join().unwrap(), up_sum);
    },

    /// Many clients one after another, each echoed.
    pub fn many_sequential_clients<R: Runtime>() {
        let name = unique_name("seq");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let n = 200;
        let name2 = name.clone();
        let clients = spawn(move || {
            for i in 0..n {
                let mut c = R::socket();
                c.connect_to_server(&name2, OpenMode::ReadWrite);
                assert!(c.wait_for_connected(LONG), "{i}: {}", c.error_string());
                let msg = format!("client {i}\n");
                c.io_write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                c.io_read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
                c.disconnect_from_server();
            }
        });
        for _ in 0..n {
            let mut peer = server.accept_one();
            while !peer.can_read_line() {
                assert!(peer.wait_for_ready_read(LONG));
            }
            let line = peer.read_line(0).unwrap();
            peer.io_write_all(&line).unwrap();
        }
        clients.join().unwrap();
    },

    /// Our decision (Qt removes the path unconditionally): a server whose socket
    /// file was deleted behind its back (a tmp cleaner) and then taken by a newer
    /// server leaves the newer server's file alone when it closes. Both ways of
    /// creating the file: a plain bind, and access options (bound in a private
    /// directory, then linked into place).
    #[only(unix, "pipes vanish with their server; no file stays")]
    pub fn server_close_spares_a_newer_servers_file<R: Runtime>() {
        for access in [Access::DEFAULT, Access::USER] {
            let options = ServerOptions {
                access,
                ..Default::default()
            };
            let name = unique_name("spare");
            let mut old = R::server();
            old.listen_with(&name, options.clone()).unwrap();
            let full = old.full_server_name();
            std::fs::remove_file(&full).expect("the cleaner removes the file");
            let mut new = R::server();
            new.listen_with(&name, options)
                .expect("the name is free again");
            drop(old);
            assert!(new.is_listening());
            assert!(
                std::path::Path::new(&full).exists(),
                "{access:?}: the old server removed the new server's file"
            );
            let mut c = R::socket();
            c.connect_to_server(&name, OpenMode::ReadWrite);
            assert!(
                c.wait_for_connected(LONG),
                "{access:?}: {}",
                c.error_string()
            );
            let _peer = new.accept_one();
            new.close();
            assert!(
                !std::path::Path::new(&full).exists(),
                "{access:?}: its own file goes"
            );
        }
    },

    /// A read stops short of the queued data wherever the peer put a boundary,
    /// and a short read must not be taken for a drained socket. A raw peer
    /// sends 10 bytes carrying a descriptor (`SCM_RIGHTS`), then 1,000 plain
    /// bytes; then, on a fresh connection, 10 bytes, one out-of-band byte
    /// (`MSG_OOB`, Linux 5.15+) and 1,000 plain bytes. The kernel's stream
    /// read returns the 10 bytes alone (it stops after a message carrying
    /// descriptors, and at the out-of-band mark), then the 1,000; the OOB byte
    /// is not inline, so the reader sees exactly the 1,010 plain bytes. Each
    /// case is read three ways: `AsyncRead`/`Read` with a small buffer (tokio:
    /// through the stack) and a large one (straight into it), and
    /// `wait_for_ready_read` + `read_all` (through the socket's buffer). Each
    /// wait for data is bounded (30 s), so a stall fails the test: tokio
    /// forgot the readability after the short read and waited forever with
    /// 1,000 bytes in the kernel. The descriptor is closed, not leaked: no runtime asks
    /// for it (no control buffer), so the kernel releases it. Checked on the
    /// passed socket itself, not by counting descriptors (the tests of this
    /// process run in parallel and open and close their own): its other end
    /// reads end of stream, and `/proc/self/fd` lists no copy of it.
    #[only(
        unix,
        "descriptor passing and out-of-band data are AF_UNIX features; named pipes have neither"
    )]
    pub fn short_reads_at_message_boundaries_never_stall<R: Runtime>() -> Result<(), Skip> {
        use std::io::{IoSlice, Read, Write};
        use std::mem::MaybeUninit;
        use std::os::fd::AsFd;
        use std::os::unix::net::UnixStream;

        use rustix::io::Errno;
        use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

        /// How the accepted socket reads.
        #[derive(Clone, Copy, Debug)]
        enum Path {
            /// `io_read` with a buffer of this size.
            Io(usize),
            /// `wait_for_ready_read`, then `read_all`.
            Wait,
        }

        /// Reads `len` bytes the way `path` says, each wait bounded
        /// (`io_read` gives up with `TimedOut`).
        fn read_len<S: TestSocket>(s: &mut S, len: usize, path: Path) -> Vec<u8> {
            let mut got = Vec::with_capacity(len);
            let mut buf = vec![0u8; 64 << 10];
            while got.len() < len {
                let at = got.len();
                match path {
                    Path::Io(size) => {
                        let n = s
                            .io_read(&mut buf[..size])
                            .unwrap_or_else(|e| panic!("{path:?}: after {at} of {len} bytes: {e}"));
                        assert!(n > 0, "{path:?}: end of stream after {at} of {len} bytes");
                        got.extend_from_slice(&buf[..n]);
                    }
                    Path::Wait => {
                        if s.bytes_available() == 0 {
                            assert!(
                                s.wait_for_ready_read(LONG),
                                "{path:?}: stalled after {at} of {len} bytes: {}",
                                s.error_string()
                            );
                        }
                        got.extend(s.read_all().unwrap());
                    }
                }
            }
            got
        }

        /// Whether `/proc/self/fd` lists the socket with inode `ino`
        /// (`None` without `/proc`).
        fn held_here(ino: u64) -> Option<bool> {
            let dir = std::fs::read_dir("/proc/self/fd").ok()?;
            let want = std::path::PathBuf::from(format!("socket:[{ino}]"));
            Some(
                dir.flatten()
                    .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == want)),
            )
        }

        let name = unique_name("boundary");
        let mut server = R::server();
        server.listen(&name).unwrap();
        let mut raw_pair = || {
            let raw = UnixStream::connect(server.full_server_name()).expect("connect raw");
            (raw, server.accept_one())
        };
        let paths = [Path::Io(2048), Path::Io(64 << 10), Path::Wait];
        let head = payload(10, 41);
        let tail = payload(1000, 42);
        let expected = [&head[..], &tail[..]].concat();

        // Descriptors: one end of a socket pair is passed and closed here;
        // the other end reads end of stream once no copy is left.
        for path in paths {
            let (raw, mut peer) = raw_pair();
            let (kept, passed) = UnixStream::pair().unwrap();
            let ino = rustix::fs::fstat(&passed).unwrap().st_ino;
            assert_ne!(held_here(ino), Some(false), "/proc/self/fd misread");
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            let fds = [passed.as_fd()];
            assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
            let sent = rustix::net::sendmsg(
                &raw,
                &[IoSlice::new(&head)],
                &mut control,
                SendFlags::empty(),
            )
            .unwrap();
            assert_eq!(sent, head.len());
            drop(passed);
            (&raw).write_all(&tail).unwrap();
            // In flight: the passed copy keeps `kept`'s peer open.
            kept.set_nonblocking(true).unwrap();
            let e = (&kept).read(&mut [0u8; 1]).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);

            assert!(
                read_len(&mut peer, expected.len(), path) == expected,
                "{path:?}"
            );
            drop(raw);
            assert_eq!(peer.io_read_to_end().unwrap(), b"", "{path:?}");
            // Read past: the kernel released the descriptor.
            kept.set_nonblocking(false).unwrap();
            kept.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            assert_eq!((&kept).read(&mut [0u8; 1]).unwrap(), 0, "{path:?}: leaked");
            assert_ne!(
                held_here(ino),
                Some(true),
                "{path:?}: leaked into this process"
            );
        }

        // Out-of-band data: the read stops at the mark; the byte itself is
        // not inline and never reaches the reader.
        for path in paths {
            let (raw, mut peer) = raw_pair();
            (&raw).write_all(&head).unwrap();
            match rustix::net::send(&raw, &[0xEE], SendFlags::OOB) {
                Ok(1) => {}
                Err(e) if e == Errno::OPNOTSUPP || e == Errno::INVAL => {
                    return Err(Skip::because(format!(
                        "this kernel refuses MSG_OOB on AF_UNIX ({e}): the descriptor \
                         half passed, the out-of-band half did not run"
                    )));
                }
                r => panic!("send(MSG_OOB): {r:?}"),
            }
            (&raw).write_all(&tail).unwrap();
            assert!(
                read_len(&mut peer, expected.len(), path) == expected,
                "{path:?}"
            );
            drop(raw);
            assert_eq!(peer.io_read_to_end().unwrap(), b"", "{path:?}");
        }
        Ok(())
    }
);

/// A listening server, a client connected to it, and the socket the server
/// accepted (the client's connect events already taken).
fn connected_pair<R: Runtime>(
    tag: &str,
) -> (R::Server, R::Socket, <R::Server as TestServer>::Socket) {
    let name = unique_name(tag);
    let mut server = R::server();
    server.listen(&name).expect("listen");
    let mut client = R::socket();
    client.connect_to_server(&name, OpenMode::ReadWrite);
    assert!(client.wait_for_connected(LONG), "{}", client.error_string());
    let peer = server.accept_one();
    client.take_events();
    (server, client, peer)
}

/// Drops a listening server, then leaves a dead socket file at its path,
/// as a crashed server would (Unix; pipes leave nothing behind).
fn leave_stale_file<R: Runtime>(server: R::Server) {
    #[cfg(unix)]
    {
        let full = server.full_server_name();
        drop(server);
        let l = std::os::unix::net::UnixListener::bind(&full).expect("bind stale");
        drop(l); // the file stays; nobody listens
    }
    #[cfg(not(unix))]
    drop(server);
}

#[cfg(unix)]
fn rustix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file we just created is our effective uid.
    let p = format!("{}/{}", temp_dir(), unique_name("uid"));
    std::fs::write(&p, b"").unwrap();
    let uid = std::fs::metadata(&p).unwrap().uid();
    let _ = std::fs::remove_file(&p);
    uid
}
