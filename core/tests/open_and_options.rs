//! Qt's `setServerName` + `open(mode)` and `socketOptions` on a socket
//! (docs/semantics.md §1, §3 and differences 32-33), as transcripts.

mod common;

use common::*;
use localsock_core::{
    AcceptedFrom, Action, Address, Connection, ErrorSource, Event, OpenMode, OsError, Platform,
    SocketError, SocketOptions, State,
};

use Event::*;

const EAGAIN: i32 = 11;

#[test]
fn open_connects_to_the_preset_name() {
    let mut c = Connection::new(config());
    assert!(c.set_server_name("srv"));
    assert_eq!(
        c.server_name(),
        "srv",
        "Qt: serverName() returns it at once"
    );
    assert_eq!(c.full_server_name(), "", "resolved only by the connect");
    assert!(events(&mut c).is_empty(), "setting a name emits nothing");
    assert_eq!(c.open(OpenMode::ReadOnly), Ok(()));
    assert_eq!(
        actions(&mut c),
        [Action::Connect {
            address: Address::Path("/tmp/srv".into()),
            mode: OpenMode::ReadOnly
        }]
    );
    c.handle_connected();
    assert_eq!(c.open_outcome(), Ok(()));
    assert_eq!(c.open_mode(), Some(OpenMode::ReadOnly));
    assert_eq!(c.server_name(), "srv");
    assert_eq!(c.full_server_name(), "/tmp/srv");
    assert_eq!(
        events(&mut c),
        [
            StateChanged(State::Connecting),
            StateChanged(State::Connected),
            Connected
        ]
    );
}

#[test]
fn open_without_a_name_is_server_not_found() {
    let mut c = Connection::new(config());
    assert_eq!(c.open(OpenMode::ReadWrite), Ok(()), "the connect ran");
    assert!(
        actions(&mut c)
            .iter()
            .all(|a| !matches!(a, Action::Connect { .. })),
        "nothing to connect to"
    );
    let err = c.open_outcome().unwrap_err();
    assert_eq!(err.kind(), SocketError::ServerNotFound);
    assert_eq!(c.error(), SocketError::ServerNotFound);
    assert!(c
        .error_string()
        .starts_with("QLocalSocket::connectToServer: Invalid name"));
    assert_eq!(c.state(), State::Unconnected);
    assert_eq!(
        events(&mut c),
        [
            StateChanged(State::Connecting),
            Error(SocketError::ServerNotFound),
            StateChanged(State::Unconnected)
        ],
        "Qt's failed-connect sequence"
    );
}

#[test]
fn a_pending_open_is_socket_timeout_and_stays_connecting() {
    let mut c = Connection::new(config());
    c.set_server_name("srv");
    c.open(OpenMode::ReadWrite).unwrap();
    let _ = actions(&mut c);
    c.handle_connect_error(OsError::new(Platform::Linux, EAGAIN), T0);
    let err = c.open_outcome().unwrap_err();
    assert_eq!(err.kind(), SocketError::SocketTimeout);
    assert_eq!(err.source(), ErrorSource::ConnectToServer);
    assert_eq!(c.state(), State::Connecting);
    assert_eq!(c.error(), SocketError::Unknown, "not recorded");
    assert_eq!(events(&mut c), [StateChanged(State::Connecting)]);
    // The retry succeeds later: a wait for the connect picks it up.
    c.handle_timeout(ms(1));
    assert!(!connect_addresses(&mut c).is_empty(), "retried");
    c.handle_connected();
    assert_eq!(c.open_outcome(), Ok(()));
}

#[test]
fn open_while_connected_is_refused_with_operation() {
    let mut c = connected();
    let err = c.open(OpenMode::ReadWrite).unwrap_err();
    assert_eq!(err.kind(), SocketError::Operation);
    assert_eq!(c.state(), State::Connected, "the connection is untouched");
    assert_eq!(c.error(), SocketError::Operation);
    assert_eq!(events(&mut c), [Error(SocketError::Operation)]);
    assert!(actions(&mut c).is_empty());
}

#[test]
fn set_server_name_is_refused_unless_unconnected() {
    let mut c = connected();
    let before = c.server_name().to_string();
    assert!(!c.set_server_name("other"));
    assert_eq!(c.server_name(), before, "unchanged, as in Qt");
    let mut connecting = Connection::new(config());
    connecting.connect_to_server("srv", OpenMode::ReadWrite);
    assert!(!connecting.set_server_name("other"));
    assert_eq!(connecting.server_name(), "srv");
    assert!(events(&mut c).is_empty(), "refusing emits nothing");
}

#[test]
fn the_preset_name_is_used_once_and_cleared_with_the_connection() {
    let mut c = Connection::new(config());
    c.set_server_name("srv");
    c.open(OpenMode::ReadWrite).unwrap();
    let _ = actions(&mut c);
    c.handle_connected();
    c.disconnect_from_server(T0);
    assert_eq!(c.state(), State::Unconnected);
    assert_eq!(c.server_name(), "", "Qt clears the names when Unconnected");
    let _ = events(&mut c);
    let _ = actions(&mut c);
    // A second open has no name left: Qt's ServerNotFound.
    c.open(OpenMode::ReadWrite).unwrap();
    assert_eq!(
        c.open_outcome().unwrap_err().kind(),
        SocketError::ServerNotFound
    );
}

#[test]
fn connect_to_server_replaces_the_preset_name_and_abort_clears_it() {
    let mut c = Connection::new(config());
    c.set_server_name("preset");
    c.connect_to_server("given", OpenMode::ReadWrite);
    assert_eq!(c.server_name(), "given");
    assert_eq!(
        connect_addresses(&mut c),
        [Address::Path("/tmp/given".into())]
    );
    c.abort();
    assert_eq!(c.server_name(), "");
    let mut d = Connection::new(config());
    d.set_server_name("preset");
    d.abort();
    assert_eq!(d.server_name(), "", "Qt's close() clears serverName");
    d.set_server_name("again");
    d.close(T0);
    assert_eq!(d.server_name(), "");
}

#[test]
fn socket_options_round_trip_and_drive_the_address() {
    let mut c = Connection::new(config());
    assert_eq!(c.socket_options(), SocketOptions::NONE);
    assert!(c.set_socket_options(SocketOptions::ABSTRACT_NAMESPACE));
    assert_eq!(c.socket_options(), SocketOptions::ABSTRACT_NAMESPACE);
    assert!(
        c.abstract_namespace(),
        "the same option as set_abstract_namespace"
    );
    c.connect_to_server("abs", OpenMode::ReadWrite);
    assert_eq!(connect_addresses(&mut c), [Address::Abstract("abs".into())]);
    assert!(
        !c.set_socket_options(SocketOptions::NONE),
        "refused while Connecting, as in Qt"
    );
    assert_eq!(c.socket_options(), SocketOptions::ABSTRACT_NAMESPACE);
}

#[test]
fn accepted_sockets_report_the_option_of_their_address() {
    let abs = Connection::accepted_from(&AcceptedFrom::new(
        config(),
        &Address::Abstract("abs".into()),
    ));
    assert_eq!(abs.socket_options(), SocketOptions::ABSTRACT_NAMESPACE);
    let path = Connection::accepted_from(&AcceptedFrom::new(
        config(),
        &Address::Path("/tmp/p".into()),
    ));
    assert_eq!(path.socket_options(), SocketOptions::NONE);
}
