//! Server policy: listen plans, access bits, the stale-socket rule and the
//! `Server<T>` bookkeeping (docs/semantics.md §7 and the decisions).

use std::time::Duration;

use localsock_core::server::{DEFAULT_BACKLOG, DEFAULT_MAX_PENDING};
use localsock_core::{
    plan_listen, reclaim_decision, Access, Address, Config, Connection, ExistingPath, NameContext,
    OsError, Platform, ProbeOutcome, ReclaimDecision, Server, ServerError, ServerOptions,
};

fn ctx(p: Platform) -> NameContext {
    NameContext::new(p, "/tmp")
}

fn opts(access: Access) -> ServerOptions {
    ServerOptions {
        access,
        ..ServerOptions::default()
    }
}

fn abstract_opts(access: Access) -> ServerOptions {
    ServerOptions {
        access,
        abstract_namespace: true,
        ..ServerOptions::default()
    }
}

// ----- plan_listen -------------------------------------------------------------

#[test]
fn user_access_is_mode_0700() {
    let plan = plan_listen("s", &opts(Access::USER), &ctx(Platform::Linux)).unwrap();
    assert_eq!(plan.unix_mode, Some(0o700));
}

#[test]
fn group_access_is_mode_0070() {
    let plan = plan_listen("s", &opts(Access::GROUP), &ctx(Platform::Linux)).unwrap();
    assert_eq!(plan.unix_mode, Some(0o070));
}

#[test]
fn other_access_is_mode_0007() {
    let plan = plan_listen("s", &opts(Access::OTHER), &ctx(Platform::Linux)).unwrap();
    assert_eq!(plan.unix_mode, Some(0o007));
}

#[test]
fn world_access_is_mode_0777() {
    let plan = plan_listen("s", &opts(Access::WORLD), &ctx(Platform::Apple)).unwrap();
    assert_eq!(plan.unix_mode, Some(0o777));
}

#[test]
fn combined_bits_are_ored() {
    let a = Access {
        user: true,
        group: true,
        other: false,
    };
    assert_eq!(a.unix_mode(), Some(0o770));
}

#[test]
fn no_access_option_leaves_the_mode_to_the_umask() {
    let plan = plan_listen("s", &ServerOptions::default(), &ctx(Platform::Linux)).unwrap();
    assert_eq!(plan.unix_mode, None);
    assert_eq!(plan.access, Access::DEFAULT);
    assert!(!Access::DEFAULT.is_restricted());
}

#[test]
fn listen_plan_carries_qts_defaults() {
    let plan = plan_listen("s", &ServerOptions::default(), &ctx(Platform::Linux)).unwrap();
    assert_eq!(plan.address, Address::Path("/tmp/s".into()));
    assert_eq!(plan.backlog, DEFAULT_BACKLOG);
    assert_eq!(DEFAULT_BACKLOG, 50);
    assert_eq!(DEFAULT_MAX_PENDING, 30);
    assert!(plan.reclaim_stale_socket);
    assert!(plan.pipe_instances >= 1);
}

#[test]
fn pipe_instances_are_at_least_one() {
    let o = ServerOptions {
        pipe_instances: 0,
        ..ServerOptions::default()
    };
    assert_eq!(
        plan_listen("s", &o, &ctx(Platform::Windows))
            .unwrap()
            .pipe_instances,
        1
    );
}

#[test]
fn abstract_on_linux_drops_the_access_bits() {
    let plan = plan_listen("s", &abstract_opts(Access::WORLD), &ctx(Platform::Linux)).unwrap();
    assert_eq!(plan.address, Address::Abstract("s".into()));
    assert_eq!(plan.access, Access::DEFAULT);
    assert_eq!(plan.unix_mode, None);
}

#[test]
fn abstract_on_other_unix_becomes_world_access() {
    for p in [Platform::Apple, Platform::FreeBsd] {
        let plan = plan_listen("s", &abstract_opts(Access::DEFAULT), &ctx(p)).unwrap();
        assert_eq!(plan.address, Address::Path("/tmp/s".into()));
        assert_eq!(plan.access, Access::WORLD);
        assert_eq!(plan.unix_mode, Some(0o777));
    }
}

#[test]
fn abstract_on_windows_has_no_effect() {
    let plan = plan_listen(
        "s",
        &abstract_opts(Access::DEFAULT),
        &ctx(Platform::Windows),
    )
    .unwrap();
    assert_eq!(plan.address, Address::Pipe(r"\\.\pipe\s".into()));
    assert_eq!(
        plan.access,
        Access::DEFAULT,
        "not mapped to World on Windows"
    );
    let plan = plan_listen("s", &abstract_opts(Access::USER), &ctx(Platform::Windows)).unwrap();
    assert_eq!(plan.access, Access::USER);
}

#[test]
fn windows_access_goes_to_the_descriptor_not_the_mode() {
    let plan = plan_listen("s", &opts(Access::USER), &ctx(Platform::Windows)).unwrap();
    assert_eq!(plan.unix_mode, None);
    assert_eq!(plan.access, Access::USER);
}

#[test]
fn server_names_use_the_cleaned_temp_dir() {
    let c = NameContext::new(Platform::Linux, "/tmp//x/../");
    let plan = plan_listen("s", &ServerOptions::default(), &c).unwrap();
    assert_eq!(plan.address, Address::Path("/tmp/s".into()));
}

#[test]
fn bad_listen_names_are_name_errors() {
    for name in ["", "a\0b", "../x"] {
        let e = plan_listen(name, &ServerOptions::default(), &ctx(Platform::Linux)).unwrap_err();
        assert_eq!(e.kind(), ServerError::HostNotFound, "{name:?}");
        assert!(e
            .to_string()
            .starts_with("QLocalServer::listen: Name error ("));
    }
    let long = "x".repeat(200);
    let e = plan_listen(&long, &ServerOptions::default(), &ctx(Platform::Linux)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "QLocalServer::listen: Name error (name too long)",
        "no stale errno in the text"
    );
}

// ----- reclaim_decision -------------------------------------------------------------

macro_rules! reclaim_rows {
    ($($name:ident: $allowed:literal, $existing:ident, $probe:ident => $decision:ident;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(
                reclaim_decision($allowed, ExistingPath::$existing, ProbeOutcome::$probe),
                ReclaimDecision::$decision
            );
        }
    )*};
}

mod reclaim {
    use super::*;
    reclaim_rows! {
        allowed_missing_refused_retries: true, Missing, Refused => Retry;
        allowed_missing_live_retries: true, Missing, Live => Retry;
        allowed_missing_inconclusive_retries: true, Missing, Inconclusive => Retry;
        allowed_socket_refused_reclaims: true, Socket, Refused => Reclaim;
        allowed_socket_live_is_in_use: true, Socket, Live => AddressInUse;
        allowed_socket_inconclusive_is_in_use: true, Socket, Inconclusive => AddressInUse;
        allowed_other_refused_is_in_use: true, Other, Refused => AddressInUse;
        allowed_other_live_is_in_use: true, Other, Live => AddressInUse;
        allowed_other_inconclusive_is_in_use: true, Other, Inconclusive => AddressInUse;
        forbidden_missing_refused_retries: false, Missing, Refused => Retry;
        forbidden_missing_live_retries: false, Missing, Live => Retry;
        forbidden_missing_inconclusive_retries: false, Missing, Inconclusive => Retry;
        forbidden_socket_refused_is_in_use: false, Socket, Refused => AddressInUse;
        forbidden_socket_live_is_in_use: false, Socket, Live => AddressInUse;
        forbidden_socket_inconclusive_is_in_use: false, Socket, Inconclusive => AddressInUse;
        forbidden_other_refused_is_in_use: false, Other, Refused => AddressInUse;
        forbidden_other_live_is_in_use: false, Other, Live => AddressInUse;
        forbidden_other_inconclusive_is_in_use: false, Other, Inconclusive => AddressInUse;
    }
}

// ----- Access -----------------------------------------------------------------------

#[test]
fn access_parse_accepts_the_cli_spellings() {
    assert_eq!(Access::parse("user"), Some(Access::USER));
    assert_eq!(Access::parse("group"), Some(Access::GROUP));
    assert_eq!(Access::parse("other"), Some(Access::OTHER));
    assert_eq!(Access::parse("world"), Some(Access::WORLD));
    assert_eq!(
        Access::parse("user,other"),
        Some(Access {
            user: true,
            group: false,
            other: true
        })
    );
    assert_eq!(
        Access::parse(" user | group "),
        Some(Access {
            user: true,
            group: true,
            other: false
        })
    );
    assert_eq!(Access::parse("user,group,other"), Some(Access::WORLD));
}

#[test]
fn access_parse_rejects_junk() {
    for s in ["", "bogus", "user,", "User", "user;group", ","] {
        assert_eq!(Access::parse(s), None, "{s:?}");
    }
}

#[test]
fn windows_sddl_has_one_entry_per_bit() {
    assert_eq!(Access::DEFAULT.windows_sddl("U", "G"), None);
    assert_eq!(
        Access::USER.windows_sddl("U", "G").unwrap(),
        "O:UG:GD:P(A;;FA;;;U)"
    );
    assert_eq!(
        Access::GROUP.windows_sddl("U", "G").unwrap(),
        "O:UG:GD:P(A;;FA;;;G)"
    );
    assert_eq!(
        Access::OTHER.windows_sddl("U", "G").unwrap(),
        "O:UG:GD:P(A;;FA;;;WD)"
    );
    assert_eq!(
        Access::WORLD.windows_sddl("U", "G").unwrap(),
        "O:UG:GD:P(A;;FA;;;U)(A;;FA;;;G)(A;;FA;;;WD)"
    );
}

// ----- Server<T> bookkeeping ------------------------------------------------------

fn linux() -> NameContext {
    ctx(Platform::Linux)
}

fn listening(name: &str, max: usize) -> Server<u32> {
    let mut s = Server::new();
    let o = ServerOptions {
        max_pending_connections: max,
        ..ServerOptions::default()
    };
    s.listen(name, &o, &linux()).unwrap();
    s.handle_listening();
    s
}

#[test]
fn fresh_server_has_qt_defaults() {
    let mut s: Server<u32> = Server::new();
    assert!(!s.is_listening());
    assert_eq!(s.server_name(), "");
    assert_eq!(s.full_server_name(), "");
    assert_eq!(s.server_error(), ServerError::Unknown);
    assert_eq!(s.error_string(), "", "a server's default text is empty");
    assert_eq!(s.max_pending_connections(), 30);
    assert!(!s.has_pending_connections());
    assert_eq!(s.next_pending_connection(), None);
    assert_eq!(s.socket_file(), None);
    assert!(!s.should_accept(false));
    assert!(!s.should_accept(true));
    assert!(s.close().is_empty(), "close is harmless");
}

#[test]
fn listen_sets_names_and_the_socket_file() {
    let s = listening("srv", 30);
    assert!(s.is_listening());
    assert_eq!(s.server_name(), "srv");
    assert_eq!(s.full_server_name(), "/tmp/srv");
    assert_eq!(s.address(), Some(&Address::Path("/tmp/srv".into())));
    assert_eq!(s.socket_file(), Some("/tmp/srv"));
}

#[test]
fn abstract_and_pipe_servers_have_no_socket_file() {
    let mut s: Server<u32> = Server::new();
    s.listen("a", &abstract_opts(Access::DEFAULT), &linux())
        .unwrap();
    s.handle_listening();
    assert_eq!(s.socket_file(), None);
    let mut w: Server<u32> = Server::new();
    w.listen("p", &ServerOptions::default(), &ctx(Platform::Windows))
        .unwrap();
    w.handle_listening();
    assert_eq!(w.socket_file(), None);
}

#[test]
fn listen_twice_fails_and_keeps_the_first() {
    let mut s = listening("srv", 30);
    let e = s
        .listen("other", &ServerOptions::default(), &linux())
        .unwrap_err();
    assert_eq!(e.kind(), ServerError::AddressInUse);
    assert_eq!(s.server_name(), "srv");
    assert!(s.is_listening());
    assert_eq!(s.server_error(), ServerError::Unknown, "error unchanged");
}

#[test]
fn listen_with_an_empty_name_is_a_name_error() {
    let mut s: Server<u32> = Server::new();
    let e = s
        .listen("", &ServerOptions::default(), &linux())
        .unwrap_err();
    assert_eq!(e.kind(), ServerError::HostNotFound);
    assert_eq!(s.server_error(), ServerError::HostNotFound);
    assert_eq!(s.error_string(), "QLocalServer::listen: Name error");
    assert_eq!(
        e.to_string(),
        "QLocalServer::listen: Name error (empty name)",
        "our detail is in Display"
    );
    assert!(!s.is_listening());
    assert_eq!(s.server_name(), "");
}

#[test]
fn successful_listen_clears_the_previous_error() {
    let mut s: Server<u32> = Server::new();
    let _ = s.listen("", &ServerOptions::default(), &linux());
    assert_eq!(s.server_error(), ServerError::HostNotFound);
    s.listen("srv", &ServerOptions::default(), &linux())
        .unwrap();
    s.handle_listening();
    assert_eq!(s.server_error(), ServerError::Unknown);
    assert_eq!(s.error_string(), "");
}

#[test]
fn os_listen_error_uses_the_table_and_clears_names() {
    let mut s: Server<u32> = Server::new();
    s.listen("srv", &ServerOptions::default(), &linux())
        .unwrap();
    let e = s.handle_listen_os_error(OsError::new(Platform::Linux, 98));
    assert_eq!(e.kind(), ServerError::AddressInUse);
    assert_eq!(s.server_error(), ServerError::AddressInUse);
    assert_eq!(s.error_string(), "QLocalServer::listen: Address in use");
    assert!(!s.is_listening());
    assert_eq!(s.server_name(), "");
    assert_eq!(s.full_server_name(), "");
    assert_eq!(s.address(), None);
}

#[test]
fn close_when_not_listening_keeps_the_error() {
    let mut s: Server<u32> = Server::new();
    s.listen("srv", &ServerOptions::default(), &linux())
        .unwrap();
    s.handle_listen_os_error(OsError::new(Platform::Linux, 13));
    assert!(s.close().is_empty());
    assert_eq!(s.server_error(), ServerError::SocketAccess, "Qt: a no-op");
}

#[test]
fn close_returns_pending_connections_in_order_and_resets() {
    let mut s = listening("srv", 30);
    s.push_pending(1);
    s.push_pending(2);
    s.push_pending(3);
    assert_eq!(s.next_pending_connection(), Some(1));
    let rest: Vec<u32> = s.close().into_iter().collect();
    assert_eq!(rest, [2, 3]);
    assert!(!s.is_listening());
    assert_eq!(s.server_name(), "");
    assert_eq!(s.full_server_name(), "");
    assert_eq!(s.socket_file(), None);
    assert!(!s.has_pending_connections());
    assert_eq!(s.error_string(), "");
}

#[test]
fn pending_queue_is_fifo() {
    let mut s = listening("srv", 30);
    for i in 0..5 {
        s.push_pending(i);
    }
    assert_eq!(s.pending_len(), 5);
    assert!(s.has_pending_connections());
    let got: Vec<u32> = std::iter::from_fn(|| s.next_pending_connection()).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn should_accept_stops_exactly_at_the_limit() {
    let mut s = listening("srv", 2);
    assert!(s.should_accept(false));
    s.push_pending(1);
    assert!(s.should_accept(false));
    s.push_pending(2);
    assert!(!s.should_accept(false), "exact limit, not Qt's max+2");
    assert!(
        !s.should_accept(true),
        "a wait does not exceed a non-empty queue"
    );
    s.next_pending_connection();
    assert!(s.should_accept(false));
}

#[test]
fn limit_zero_accepts_only_for_an_explicit_wait_on_an_empty_queue() {
    let mut s = listening("srv", 0);
    assert!(!s.should_accept(false));
    assert!(s.should_accept(true));
    s.push_pending(1);
    assert!(!s.should_accept(true));
}

#[test]
fn max_pending_changes_take_effect_at_once() {
    let mut s = listening("srv", 1);
    s.push_pending(1);
    assert!(!s.should_accept(false));
    s.set_max_pending_connections(3);
    assert_eq!(s.max_pending_connections(), 3);
    assert!(s.should_accept(false));
}

#[test]
fn fatal_error_closes_and_returns_the_queue() {
    let mut s = listening("srv", 30);
    s.push_pending(7);
    let err = localsock_core::ListenError::new(
        ServerError::Unknown,
        localsock_core::ErrorSource::WaitForNewConnection,
    );
    let pending: Vec<u32> = s.handle_fatal(err).into_iter().collect();
    assert_eq!(pending, [7]);
    assert!(!s.is_listening());
    assert_eq!(s.server_error(), ServerError::Unknown);
    assert_eq!(
        s.error_string(),
        "QLocalServer::waitForNewConnection: Unknown error"
    );
    assert!(!s.should_accept(true));
}

/// An accept failure is recorded and reported, unless connections accepted
/// before it are queued: then they are served first (reporting would strand
/// them and their descriptors), and the error stays readable.
#[test]
fn accept_error_is_reported_only_when_nothing_is_queued() {
    use localsock_core::{OsError, Platform, ServerError};
    let emfile = OsError::new(Platform::Linux, 24);
    let mut s: Server<u32> = Server::new();
    let e = s.handle_accept_error(emfile).unwrap_err();
    assert_eq!(e.kind(), ServerError::SocketResource);
    assert_eq!(s.server_error(), ServerError::SocketResource);
    s.push_pending(7);
    assert!(s.handle_accept_error(emfile).is_ok());
    assert_eq!(s.server_error(), ServerError::SocketResource);
    assert_eq!(s.next_pending_connection(), Some(7));
}

#[test]
fn accepted_from_is_built_once_per_listen_and_config() {
    let config = std::sync::Arc::new(Config::new(linux()));
    let mut s: Server<u32> = Server::new();
    assert!(s.accepted_from(&config).is_none(), "not listening");
    s.listen("srv", &ServerOptions::default(), &linux())
        .unwrap();
    s.handle_listening();
    let first = s.accepted_from(&config).unwrap().clone();
    assert_eq!(first.address().as_str(), "/tmp/srv");
    assert_eq!(first.config(), &*config);
    // The same template while nothing changes: one copy for all.
    let again = s.accepted_from(&config).unwrap();
    assert!(std::ptr::eq(first.config(), again.config()));
    // An equal config in another allocation changes nothing either.
    let equal = std::sync::Arc::new((*config).clone());
    let again = s.accepted_from(&equal).unwrap();
    assert!(std::ptr::eq(first.config(), again.config()));
    // A new socket config takes effect for the next accepted connection.
    let mut slower = (*config).clone();
    slower.connect_timeout = Duration::from_secs(1);
    let slower = std::sync::Arc::new(slower);
    assert_eq!(s.accepted_from(&slower).unwrap().config(), &*slower);
    // A new listen gets its own names.
    let _ = s.close();
    assert!(s.accepted_from(&config).is_none(), "closed");
    s.listen("other", &ServerOptions::default(), &linux())
        .unwrap();
    s.handle_listening();
    let from = s.accepted_from(&config).unwrap();
    assert_eq!(from.address().as_str(), "/tmp/other");
    assert_eq!(Connection::accepted_from(from).server_name(), "other");
}

// ----- newConnection events ------------------------------------------------------

use localsock_core::{ServerEvent, MAX_QUEUED_EVENTS};

fn server_events(s: &mut Server<u32>) -> Vec<ServerEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn every_queued_connection_emits_one_new_connection_in_order() {
    let mut s = listening("srv", 30);
    assert!(server_events(&mut s).is_empty(), "listening emits nothing");
    for i in 0..3 {
        s.push_pending(i);
    }
    assert_eq!(s.queued_events(), 3);
    assert_eq!(
        server_events(&mut s),
        [ServerEvent::NewConnection; 3],
        "one newConnection per connection"
    );
    // Each event announces the next connection in accept order.
    let got: Vec<u32> = std::iter::from_fn(|| s.next_pending_connection()).collect();
    assert_eq!(got, [0, 1, 2]);
    assert!(server_events(&mut s).is_empty());
}

#[test]
fn undrained_events_stay_bounded_and_none_is_lost() {
    let mut s = listening("srv", 1);
    let n = 3 * MAX_QUEUED_EVENTS as u32;
    for i in 0..n {
        s.push_pending(i);
        assert_eq!(s.next_pending_connection(), Some(i));
    }
    assert_eq!(s.queued_events(), u64::from(n));
    assert_eq!(server_events(&mut s).len(), n as usize);
}

#[test]
fn an_accept_failure_with_nothing_queued_is_an_event_merged_when_repeated() {
    let mut s = listening("srv", 30);
    let emfile = OsError::new(Platform::Linux, 24);
    assert!(s.handle_accept_error(emfile).is_err());
    assert!(s.handle_accept_error(emfile).is_err());
    s.push_pending(1);
    assert!(
        s.handle_accept_error(emfile).is_ok(),
        "a queued connection is served first"
    );
    assert_eq!(
        server_events(&mut s),
        [
            ServerEvent::AcceptError(ServerError::SocketResource),
            ServerEvent::NewConnection
        ]
    );
    assert!(s.is_listening(), "the server survives EMFILE");
}

#[test]
fn close_drops_the_events_of_the_connections_it_drops() {
    let mut s = listening("srv", 30);
    s.push_pending(1);
    s.push_pending(2);
    drop(s.close());
    assert!(server_events(&mut s).is_empty());
    assert_eq!(s.queued_events(), 0);
}
