//! Transcript tests: for every transition of docs/semantics.md §3 (and the
//! decisions at the top of that file), the exact event sequence, the actions
//! and the getters afterwards.

mod common;

use common::*;
use localsock_core::{
    AcceptedFrom, Action, Address, Config, Connection, DeviceError, Direction, Event, NameContext,
    OpenMode, OsError, Platform, SocketError, State, DEFAULT_CONNECT_TIMEOUT,
};

use Event::*;
use State::{Closing, Connected as ConnectedState, Connecting, Unconnected};

const EAGAIN: i32 = 11;
const ECONNREFUSED: i32 = 111;
const ENOENT: i32 = 2;
const ENOTDIR: i32 = 20;
const ECONNRESET: i32 = 104;
const ERROR_PIPE_BUSY: i32 = 231;

fn linux_err(raw: i32) -> OsError {
    OsError::new(Platform::Linux, raw)
}

// ----- connect ----------------------------------------------------------

#[test]
fn fresh_socket_has_qt_defaults_and_no_events() {
    let mut c = Connection::new(config());
    assert_eq!(c.state(), Unconnected);
    assert_eq!(c.error(), SocketError::Unknown);
    assert_eq!(c.error_string(), "Unknown error");
    assert_eq!(c.server_name(), "");
    assert_eq!(c.full_server_name(), "");
    assert!(!c.is_open() && !c.is_valid());
    assert_eq!(c.read_buffer_size(), 0);
    assert_eq!(c.bytes_available(), 0);
    assert_eq!(c.bytes_to_write(), 0);
    assert!(!c.can_read_line());
    assert_eq!(c.poll_timeout(), None);
    assert!(events(&mut c).is_empty());
    assert!(actions(&mut c).is_empty());
}

#[test]
fn harmless_calls_on_a_fresh_socket_emit_nothing() {
    let mut c = Connection::new(config());
    c.abort();
    c.close(T0);
    c.disconnect_from_server(T0);
    c.report_wait_timeout();
    c.handle_timeout(ms(10));
    c.handle_connected();
    peer_closes(&mut c);
    c.handle_sent(10);
    assert!(events(&mut c).is_empty());
    assert_eq!(c.state(), Unconnected);
}

#[test]
fn connect_success_emits_connecting_connected_connected() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(events(&mut c), [StateChanged(Connecting)]);
    assert_eq!(c.server_name(), "srv");
    assert_eq!(c.full_server_name(), "/tmp/srv");
    assert!(!c.is_open(), "not open while connecting");
    assert_eq!(
        actions(&mut c),
        [Action::Connect {
            address: Address::Path("/tmp/srv".into()),
            mode: OpenMode::ReadWrite
        }]
    );
    c.handle_connected();
    assert_eq!(events(&mut c), [StateChanged(ConnectedState), Connected]);
    assert_eq!(c.state(), ConnectedState);
    assert_eq!(c.open_mode(), Some(OpenMode::ReadWrite));
    assert!(c.is_valid());
    assert_eq!(c.error(), SocketError::Unknown);
    assert_eq!(c.error_string(), "Unknown error");
    assert_eq!(c.poll_timeout(), None);
    assert!(actions(&mut c).is_empty());
}

#[test]
fn connect_success_keeps_requested_mode() {
    for mode in [OpenMode::ReadOnly, OpenMode::WriteOnly, OpenMode::ReadWrite] {
        let c = connected_mode(mode);
        assert_eq!(c.open_mode(), Some(mode));
    }
}

#[test]
fn connect_refused_emits_connecting_error_unconnected_and_clears_names() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = actions(&mut c);
    c.handle_connect_error(linux_err(ECONNREFUSED), T0);
    assert_eq!(
        events(&mut c),
        [
            StateChanged(Connecting),
            Error(SocketError::ConnectionRefused),
            StateChanged(Unconnected)
        ]
    );
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.server_name(), "");
    assert_eq!(c.full_server_name(), "");
    assert!(!c.is_open());
    assert_eq!(c.error(), SocketError::ConnectionRefused);
    assert_eq!(
        c.error_string(),
        "QLocalSocket::connectToServer: Connection refused"
    );
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn connect_to_missing_server_is_server_not_found() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    c.handle_connect_error(linux_err(ENOENT), T0);
    assert_eq!(c.error(), SocketError::ServerNotFound);
    assert_eq!(
        c.error_string(),
        "QLocalSocket::connectToServer: Invalid name"
    );
    assert_eq!(c.state(), Unconnected);
}

#[test]
fn connect_with_unmapped_errno_says_unknown_error_and_the_number() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    c.handle_connect_error(linux_err(ENOTDIR), T0);
    assert_eq!(c.error(), SocketError::Unknown);
    assert_eq!(
        c.error_string(),
        "QLocalSocket::connectToServer: Unknown error 20"
    );
}

#[test]
fn connect_in_progress_waits_without_events() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = events(&mut c);
    let _ = actions(&mut c);
    c.handle_connect_error(linux_err(115), T0); // EINPROGRESS
    assert!(events(&mut c).is_empty());
    assert!(actions(&mut c).is_empty());
    assert_eq!(c.state(), Connecting);
    c.handle_connected();
    assert_eq!(events(&mut c), [StateChanged(ConnectedState), Connected]);
}

#[test]
fn connect_interrupted_is_retried_at_once() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = actions(&mut c);
    let _ = events(&mut c);
    c.handle_connect_error(linux_err(4), T0); // EINTR
    assert_eq!(connect_addresses(&mut c).len(), 1);
    assert!(events(&mut c).is_empty());
}

fn failed_name(
    ctx: NameContext,
    name: &str,
    abstract_ns: bool,
) -> (Vec<Event>, Vec<Action>, Connection) {
    let mut c = Connection::new(Config::new(ctx));
    assert!(c.set_abstract_namespace(abstract_ns));
    c.connect_to_server(name, OpenMode::ReadWrite);
    let e = events(&mut c);
    let a = actions(&mut c);
    (e, a, c)
}

fn assert_bad_name(ctx: NameContext, name: &str, abstract_ns: bool) {
    let (e, a, c) = failed_name(ctx, name, abstract_ns);
    assert_eq!(
        e,
        [
            StateChanged(Connecting),
            Error(SocketError::ServerNotFound),
            StateChanged(Unconnected)
        ],
        "name {name:?}"
    );
    assert!(
        !a.iter().any(|a| matches!(a, Action::Connect { .. })),
        "no connect for {name:?}: {a:?}"
    );
    assert!(c
        .error_string()
        .starts_with("QLocalSocket::connectToServer: Invalid name"));
    assert_eq!(c.server_name(), "");
    assert_eq!(c.full_server_name(), "");
}

fn assert_good_name(ctx: NameContext, name: &str, abstract_ns: bool) -> Address {
    let (e, a, _) = failed_name(ctx, name, abstract_ns);
    assert_eq!(e, [StateChanged(Connecting)], "name {name:?}");
    match a.as_slice() {
        [Action::Connect { address, .. }] => address.clone(),
        other => panic!("name {name:?}: {other:?}"),
    }
}

#[test]
fn empty_name_fails_with_server_not_found_and_no_connect() {
    assert_bad_name(linux(), "", false);
    assert_bad_name(linux(), "", true);
    assert_bad_name(NameContext::new(Platform::Windows, ""), "", false);
}

#[test]
fn linux_path_may_be_106_bytes_but_not_107() {
    // "/tmp/" is 5 bytes: 101 + 5 = 106.
    assert_good_name(linux(), &"x".repeat(101), false);
    assert_bad_name(linux(), &"x".repeat(102), false);
    let abs106 = format!("/{}", "y".repeat(105));
    assert_eq!(
        assert_good_name(linux(), &abs106, false),
        Address::Path(abs106.as_str().into())
    );
    assert_bad_name(linux(), &format!("/{}", "y".repeat(106)), false);
}

#[test]
fn linux_abstract_name_may_be_106_bytes_but_not_107() {
    assert_good_name(linux(), &"a".repeat(106), true);
    assert_bad_name(linux(), &"a".repeat(107), true);
}

#[test]
fn apple_and_freebsd_paths_may_be_103_bytes_but_not_104() {
    for p in [Platform::Apple, Platform::FreeBsd] {
        let ctx = NameContext::new(p, "/tmp");
        assert_good_name(ctx.clone(), &format!("/{}", "z".repeat(102)), false);
        assert_bad_name(ctx, &format!("/{}", "z".repeat(103)), false);
    }
}

#[test]
fn interior_nul_in_a_path_is_an_invalid_name() {
    assert_bad_name(linux(), "a\0b", false);
    assert_bad_name(linux(), "/tmp/a\0", false);
    assert_bad_name(NameContext::new(Platform::Windows, ""), "p\0ipe", false);
}

#[test]
fn parent_component_in_a_relative_name_is_invalid() {
    assert_bad_name(linux(), "..", false);
    assert_bad_name(linux(), "../etc/x", false);
    assert_bad_name(linux(), "a/../../b", false);
    // Absolute paths are used as given.
    assert_good_name(linux(), "/tmp/../tmp/x", false);
}

#[test]
fn abstract_names_with_nul_are_valid_and_distinct() {
    let plain = assert_good_name(linux(), "x", true);
    let with_nul = assert_good_name(linux(), "x\0", true);
    assert_eq!(plain, Address::Abstract("x".into()));
    assert_eq!(with_nul, Address::Abstract("x\0".into()));
    assert_ne!(plain, with_nul);
}

#[test]
fn abstract_option_is_ignored_off_linux() {
    let ctx = NameContext::new(Platform::Apple, "/tmp");
    assert_eq!(
        assert_good_name(ctx, "x", true),
        Address::Path("/tmp/x".into())
    );
}

#[test]
fn set_abstract_namespace_is_refused_unless_unconnected() {
    let mut c = connected();
    assert!(!c.set_abstract_namespace(true));
    assert!(!c.abstract_namespace());
}

#[test]
fn connect_while_connecting_only_reports_operation_error() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = events(&mut c);
    let _ = actions(&mut c);
    c.connect_to_server("other", OpenMode::ReadOnly);
    assert_eq!(events(&mut c), [Error(SocketError::Operation)]);
    assert!(actions(&mut c).is_empty());
    assert_eq!(c.state(), Connecting);
    assert_eq!(c.server_name(), "srv");
    assert_eq!(c.error(), SocketError::Operation);
    assert_eq!(
        c.error_string(),
        "QLocalSocket::connectToServer: Operation not permitted when socket is in this state"
    );
    // The first connect still completes normally.
    c.handle_connected();
    assert_eq!(events(&mut c), [StateChanged(ConnectedState), Connected]);
    assert_eq!(c.open_mode(), Some(OpenMode::ReadWrite));
}

#[test]
fn connect_while_connected_only_reports_operation_error() {
    let mut c = connected();
    c.write(&b"keep"[..]).unwrap();
    c.connect_to_server("other", OpenMode::ReadWrite);
    assert_eq!(events(&mut c), [Error(SocketError::Operation)]);
    assert!(actions(&mut c).is_empty());
    assert_eq!(c.state(), ConnectedState);
    assert_eq!(c.full_server_name(), "/tmp/srv");
    assert_eq!(c.bytes_to_write(), 4);
}

#[test]
fn connect_from_closing_closes_the_old_connection_then_connects() {
    let mut c = connected();
    c.write(&b"pending"[..]).unwrap();
    c.disconnect_from_server(T0);
    assert_eq!(events(&mut c), [StateChanged(Closing)]);
    assert!(actions(&mut c).is_empty());
    c.connect_to_server("other", OpenMode::ReadWrite);
    assert_eq!(events(&mut c), [StateChanged(Connecting)]);
    assert_eq!(
        actions(&mut c),
        [
            Action::Close,
            Action::Connect {
                address: Address::Path("/tmp/other".into()),
                mode: OpenMode::ReadWrite
            }
        ]
    );
    assert_eq!(c.bytes_to_write(), 0, "old pending writes are dropped");
    assert_eq!(c.server_name(), "other");
    c.handle_connected();
    assert_eq!(events(&mut c), [StateChanged(ConnectedState), Connected]);
}

#[test]
fn a_close_cancels_a_connect_the_driver_has_not_taken() {
    // A driver that reports out of order (the connect's outcome before it
    // took the action) and then aborts: opening a socket only to close it
    // would show the server a connection that never existed.
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    c.handle_connected();
    c.abort();
    assert_eq!(actions(&mut c), [Action::Close]);
    // Queued again, the connect comes after the close.
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(
        actions(&mut c),
        [Action::Connect {
            address: Address::Path("/tmp/srv".into()),
            mode: OpenMode::ReadWrite
        }]
    );
}

#[test]
fn connect_clears_the_previous_error_and_buffers() {
    let mut c = connected();
    feed(&mut c, b"old data");
    peer_closes(&mut c);
    assert_eq!(c.error(), SocketError::PeerClosed);
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(c.error(), SocketError::Unknown);
    assert_eq!(c.error_string(), "Unknown error");
    assert_eq!(c.bytes_available(), 0);
}

// ----- full backlog / busy pipe -----------------------------------------

/// Reports `err` for every connect until the core gives up; returns the
/// number of connect attempts and the final events.
fn retry_until_timeout(mut c: Connection, err: OsError) -> (usize, Vec<Event>, Connection) {
    let mut attempts = 0;
    let mut now = T0;
    let deadline = DEFAULT_CONNECT_TIMEOUT;
    loop {
        let connects = connect_addresses(&mut c).len();
        attempts += connects;
        if c.state() != Connecting {
            break;
        }
        if connects > 0 {
            c.handle_connect_error(err, now);
            assert!(events(&mut c).is_empty() || c.state() == Unconnected);
            continue;
        }
        let t = c.poll_timeout().expect("a retry deadline while connecting");
        assert!(t > now, "deadline {t:?} must be in the future of {now:?}");
        assert!(t <= deadline, "never later than the connect deadline");
        now = t;
        c.handle_timeout(now);
        assert!(attempts < 100_000, "runaway retries");
    }
    let e = events(&mut c);
    (attempts, e, c)
}

#[test]
fn full_backlog_is_retried_until_the_deadline_then_times_out() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(events(&mut c), [StateChanged(Connecting)]);
    let (attempts, e, c) = retry_until_timeout(c, linux_err(EAGAIN));
    assert!(attempts > 2, "retried {attempts} times");
    assert_eq!(
        e,
        [Error(SocketError::SocketTimeout), StateChanged(Unconnected)]
    );
    assert_eq!(c.error(), SocketError::SocketTimeout);
    assert!(c
        .error_string()
        .starts_with("QLocalSocket::connectToServer: Socket operation timed out"));
    assert_eq!(c.full_server_name(), "");
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn pipe_busy_is_retried_until_the_deadline_then_times_out() {
    let mut c = Connection::new(Config::new(NameContext::new(Platform::Windows, "")));
    c.connect_to_server("busy", OpenMode::ReadWrite);
    assert_eq!(events(&mut c), [StateChanged(Connecting)]);
    let (attempts, e, _) = retry_until_timeout(c, OsError::new(Platform::Windows, ERROR_PIPE_BUSY));
    assert!(attempts > 2);
    assert_eq!(
        e,
        [Error(SocketError::SocketTimeout), StateChanged(Unconnected)]
    );
}

#[test]
fn full_backlog_retry_closes_the_failed_socket_and_waits() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = actions(&mut c);
    let _ = events(&mut c);
    c.handle_connect_error(linux_err(EAGAIN), T0);
    assert_eq!(actions(&mut c), [Action::Close]);
    assert!(events(&mut c).is_empty());
    assert_eq!(c.state(), Connecting);
    assert!(!c.is_open(), "not open while the connect is delayed");
    assert_eq!(c.write(&b"x"[..]), Err(DeviceError::NotOpen));
    let t = c.poll_timeout().unwrap();
    assert!(t > T0);
    // A spurious early timeout does nothing.
    c.handle_timeout(T0);
    assert!(actions(&mut c).is_empty());
    c.handle_timeout(t);
    assert_eq!(connect_addresses(&mut c).len(), 1);
    c.handle_connected();
    assert_eq!(events(&mut c), [StateChanged(ConnectedState), Connected]);
    assert_eq!(c.poll_timeout(), None);
}

/// A driver that waits inside the OS for backlog room (the blocking
/// runtime on Linux and Windows) retries at once, and its retries (never the first
/// attempt) may block until the connect deadline.
#[test]
fn a_driver_that_waits_in_the_os_retries_a_full_backlog_at_once() {
    let mut cfg = config();
    cfg.connect_timeout = ms(250);
    let mut c = Connection::new(cfg);
    c.set_os_waits_for_backlog(true);
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(
        c.connect_wait_deadline(),
        None,
        "the first attempt never blocks"
    );
    assert_eq!(connect_addresses(&mut c).len(), 1);
    c.handle_connect_error(linux_err(EAGAIN), T0);
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.poll_timeout(), Some(T0), "retried at once, no backoff");
    assert_eq!(c.connect_wait_deadline(), Some(T0 + ms(250)));
    c.handle_timeout(T0);
    assert_eq!(connect_addresses(&mut c).len(), 1);
    // The retry blocked until nearly the deadline and found no room.
    c.handle_connect_error(linux_err(EAGAIN), T0 + ms(249));
    assert_eq!(c.state(), Connecting);
    assert_eq!(c.poll_timeout(), Some(T0 + ms(249)));
    assert_eq!(c.connect_wait_deadline(), Some(T0 + ms(250)));
    c.handle_timeout(T0 + ms(249));
    assert_eq!(connect_addresses(&mut c).len(), 1);
    c.handle_connected();
    assert_eq!(c.state(), ConnectedState);
    assert_eq!(c.connect_wait_deadline(), None);
    assert_eq!(c.poll_timeout(), None);
    // At the deadline the retry gives up, as without the option.
    let mut c = Connection::new(config());
    c.set_os_waits_for_backlog(true);
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = actions(&mut c);
    c.handle_connect_error(linux_err(EAGAIN), T0);
    c.handle_timeout(T0);
    let _ = actions(&mut c);
    let _ = events(&mut c);
    c.handle_connect_error(linux_err(EAGAIN), T0 + DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(
        events(&mut c),
        [Error(SocketError::SocketTimeout), StateChanged(Unconnected)]
    );
    assert_eq!(c.connect_wait_deadline(), None);
}

/// Without the option the retry backs off: the driver sleeps between
/// attempts and never blocks in one.
#[test]
fn without_os_waits_a_full_backlog_backs_off() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = actions(&mut c);
    c.handle_connect_error(linux_err(EAGAIN), T0);
    assert_eq!(c.poll_timeout(), Some(T0 + ms(1)));
    assert_eq!(c.connect_wait_deadline(), None);
    c.handle_timeout(T0 + ms(1));
    let _ = actions(&mut c);
    c.handle_connect_error(linux_err(EAGAIN), T0 + ms(1));
    assert_eq!(c.poll_timeout(), Some(T0 + ms(3)), "the backoff doubles");
}

#[test]
fn retry_at_the_deadline_times_out_at_once() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = events(&mut c);
    // The first full backlog starts the connect timeout…
    c.handle_connect_error(linux_err(EAGAIN), T0);
    assert_eq!(c.state(), Connecting);
    assert_eq!(
        c.poll_timeout().map(|t| t <= T0 + DEFAULT_CONNECT_TIMEOUT),
        Some(true)
    );
    // …and a retry failing at its end gives up at once.
    c.handle_connect_error(linux_err(EAGAIN), T0 + DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(
        events(&mut c),
        [Error(SocketError::SocketTimeout), StateChanged(Unconnected)]
    );
}

#[test]
fn unanswered_connect_times_out_at_the_connect_deadline() {
    let mut cfg = config();
    cfg.connect_timeout = ms(250);
    let mut c = Connection::new(cfg);
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(
        c.poll_timeout(),
        None,
        "no deadline before the OS says wait"
    );
    c.poll_action();
    c.handle_connect_in_progress(ms(1000));
    let _ = events(&mut c);
    assert_eq!(c.poll_timeout(), Some(ms(1250)));
    c.handle_timeout(ms(1249));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(ms(1250));
    assert_eq!(
        events(&mut c),
        [Error(SocketError::SocketTimeout), StateChanged(Unconnected)]
    );
    // A late success report is ignored.
    c.handle_connected();
    assert!(events(&mut c).is_empty());
    assert_eq!(c.state(), Unconnected);
}

// ----- end of stream ------------------------------------------------------

#[test]
fn eof_with_unread_data_keeps_it_readable_in_qt_order() {
    let mut c = connected();
    assert_eq!(feed(&mut c, b"hello"), 5);
    c.handle_hangup();
    assert_eq!(
        events(&mut c),
        [ReadyRead],
        "nothing ends before the data is read out"
    );
    c.handle_received(0);
    assert_eq!(
        events(&mut c),
        [
            Error(SocketError::PeerClosed),
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.state(), Unconnected);
    assert!(c.is_open(), "the device stays open after EOF");
    assert_eq!(c.server_name(), "");
    assert_eq!(c.full_server_name(), "");
    assert_eq!(c.error_string(), "QLocalSocket: Remote closed");
    assert_eq!(c.bytes_available(), 5);
    assert!(!c.read_exhausted());
    assert_eq!(c.read_capacity(), 0);
    let mut buf = [0u8; 16];
    assert_eq!(c.read(&mut buf), Ok(5));
    assert_eq!(&buf[..5], b"hello");
    assert!(c.read_exhausted());
    assert_eq!(c.read(&mut buf), Ok(0));
}

#[test]
fn eof_is_idempotent() {
    let mut c = connected();
    peer_closes(&mut c);
    let first = events(&mut c);
    assert!(disconnected_once(&first));
    peer_closes(&mut c);
    c.handle_received(0);
    c.handle_received_direct(0);
    assert!(events(&mut c).is_empty());
    assert!(actions(&mut c).len() <= 1);
}

#[test]
fn eof_with_no_data_skips_ready_read() {
    let mut c = connected();
    c.handle_hangup();
    c.handle_received(0);
    assert_eq!(
        events(&mut c),
        [
            Error(SocketError::PeerClosed),
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert!(c.read_exhausted());
}

#[test]
fn eof_drops_pending_writes() {
    let mut c = connected();
    c.write(&b"never sent"[..]).unwrap();
    peer_closes(&mut c);
    assert_eq!(c.bytes_to_write(), 0);
    assert!(!c.wants_write());
}

#[test]
fn write_after_eof_is_not_connected() {
    let mut c = connected();
    peer_closes(&mut c);
    assert_eq!(c.write(&b"x"[..]), Err(DeviceError::NotConnected));
    assert_eq!(c.write_slice(b"x"), Err(DeviceError::NotConnected));
    assert!(events(&mut c).iter().all(|e| *e != BytesWritten(1)));
}

#[test]
fn ready_read_once_per_batch_not_per_byte() {
    let mut c = connected();
    feed(&mut c, b"a");
    feed(&mut c, b"b");
    assert_eq!(events(&mut c), [ReadyRead]);
    feed(&mut c, b"c");
    assert_eq!(events(&mut c), [ReadyRead]);
}

// ----- disconnect_from_server ----------------------------------------------

#[test]
fn disconnect_with_nothing_pending_closes_synchronously() {
    let mut c = connected();
    feed(&mut c, b"kept");
    let _ = events(&mut c);
    c.disconnect_from_server(T0);
    assert_eq!(
        events(&mut c),
        [
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert_eq!(actions(&mut c), [Action::Close]);
    assert!(c.is_open(), "device stays open");
    assert_eq!(c.bytes_available(), 4, "unread data is kept");
    assert_eq!(c.server_name(), "");
    assert_eq!(
        c.error(),
        SocketError::Unknown,
        "a graceful close is no error"
    );
}

#[test]
fn disconnect_with_pending_writes_drains_then_closes() {
    let mut c = connected();
    c.write(&b"abc"[..]).unwrap();
    c.disconnect_from_server(T0);
    assert_eq!(events(&mut c), [StateChanged(Closing)]);
    assert!(actions(&mut c).is_empty(), "no close before the drain");
    assert_eq!(c.read_capacity(), 0, "reading stops while closing");
    assert!(c.wants_write());
    assert!(c.is_open());
    c.handle_sent(1);
    assert_eq!(events(&mut c), [BytesWritten(1)]);
    assert_eq!(c.state(), Closing);
    c.handle_sent(2);
    assert_eq!(
        events(&mut c),
        [
            BytesWritten(2),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert_eq!(actions(&mut c), [Action::Close]);
    assert!(c.is_open());
}

#[test]
fn disconnect_twice_is_harmless() {
    let mut c = connected();
    c.write(&b"abc"[..]).unwrap();
    c.disconnect_from_server(T0);
    c.disconnect_from_server(T0);
    assert_eq!(events(&mut c), [StateChanged(Closing)]);
}

#[test]
fn disconnect_while_connecting_cancels_the_attempt() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = events(&mut c);
    c.disconnect_from_server(T0);
    assert_eq!(events(&mut c), [StateChanged(Unconnected)]);
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn drain_timeout_gives_up_with_socket_timeout() {
    let mut cfg = config();
    cfg.drain_timeout = Some(ms(500));
    let mut c = connected_with(cfg, OpenMode::ReadWrite);
    c.write(&b"stuck"[..]).unwrap();
    c.disconnect_from_server(ms(100));
    assert_eq!(events(&mut c), [StateChanged(Closing)]);
    assert_eq!(c.poll_timeout(), Some(ms(600)));
    c.handle_timeout(ms(599));
    assert!(events(&mut c).is_empty());
    c.handle_timeout(ms(600));
    assert_eq!(
        events(&mut c),
        [
            Error(SocketError::SocketTimeout),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert_eq!(c.bytes_to_write(), 0);
    assert_eq!(c.poll_timeout(), None);
    assert!(c
        .error_string()
        .starts_with("QLocalSocket: Socket operation timed out"));
}

#[test]
fn without_drain_timeout_closing_has_no_deadline() {
    let mut c = connected();
    c.write(&b"slow"[..]).unwrap();
    c.disconnect_from_server(T0);
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(ms(1_000_000));
    assert_eq!(c.state(), Closing);
}

// ----- abort ----------------------------------------------------------------

#[test]
fn abort_when_unconnected_does_nothing() {
    let mut c = Connection::new(config());
    c.abort();
    assert!(events(&mut c).is_empty());
    assert!(actions(&mut c).is_empty());
}

#[test]
fn abort_while_connecting_gives_unconnected_and_read_channel_finished() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = events(&mut c);
    c.abort();
    assert_eq!(
        events(&mut c),
        [StateChanged(Unconnected), ReadChannelFinished]
    );
    assert_eq!(
        actions(&mut c),
        [Action::Close],
        "the queued connect is withdrawn"
    );
    assert_eq!(c.server_name(), "");
    assert_eq!(c.poll_timeout(), None);
    c.handle_connected();
    assert!(
        events(&mut c).is_empty(),
        "a late connect result is ignored"
    );
}

#[test]
fn abort_while_connected_drops_writes_and_emits_about_to_close_last() {
    let mut c = connected();
    feed(&mut c, b"unread");
    c.write(&b"unsent"[..]).unwrap();
    let _ = events(&mut c);
    c.abort();
    assert_eq!(
        events(&mut c),
        [
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected,
            AboutToClose,
        ]
    );
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.bytes_to_write(), 0);
    assert_eq!(c.bytes_available(), 0);
    assert!(!c.is_open());
    assert_eq!(c.server_name(), "");
    assert_eq!(c.error(), SocketError::Unknown);
}

#[test]
fn release_aborts_without_queueing_events() {
    let mut c = connected();
    feed(&mut c, b"unread");
    c.write(&b"unsent"[..]).unwrap();
    c.release();
    assert!(
        events(&mut c).is_empty(),
        "events queued before are dropped too"
    );
    assert_eq!(
        actions(&mut c),
        [Action::Close],
        "the stream is still closed"
    );
    assert_eq!(c.state(), Unconnected);
    assert_eq!(c.bytes_to_write(), 0);
    assert_eq!(c.bytes_available(), 0);
    // Nothing later queues an event either.
    c.abort();
    c.handle_received(0);
    assert!(events(&mut c).is_empty());
}

#[test]
fn abort_while_closing_drops_writes() {
    let mut c = connected();
    c.write(&b"unsent"[..]).unwrap();
    c.disconnect_from_server(T0);
    let _ = events(&mut c);
    c.abort();
    assert_eq!(
        events(&mut c),
        [
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected,
            AboutToClose,
        ]
    );
    assert_eq!(c.bytes_to_write(), 0);
}

#[test]
fn abort_after_eof_only_closes_the_device() {
    let mut c = connected();
    feed(&mut c, b"left");
    peer_closes(&mut c);
    let _ = events(&mut c);
    let _ = actions(&mut c);
    c.abort();
    assert_eq!(events(&mut c), [AboutToClose]);
    assert!(!c.is_open());
    assert_eq!(c.bytes_available(), 0);
    c.abort();
    assert!(events(&mut c).is_empty());
}

#[test]
fn graceful_disconnect_after_an_abort_still_drains() {
    let mut c = connected();
    c.abort();
    let _ = events(&mut c);
    let _ = actions(&mut c);
    c.connect_to_server("srv", OpenMode::ReadWrite);
    c.handle_connected();
    let _ = events(&mut c);
    let _ = actions(&mut c);
    c.write(&b"must arrive"[..]).unwrap();
    c.disconnect_from_server(T0);
    assert_eq!(events(&mut c), [StateChanged(Closing)]);
    assert_eq!(c.bytes_to_write(), 11, "not poisoned by the earlier abort");
    assert_eq!(send_all(&mut c), b"must arrive");
    assert_eq!(
        events(&mut c),
        [
            BytesWritten(11),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
}

// ----- close ----------------------------------------------------------------

#[test]
fn close_when_unconnected_does_nothing() {
    let mut c = Connection::new(config());
    c.close(T0);
    assert!(events(&mut c).is_empty());
}

#[test]
fn close_while_connecting_goes_unconnected() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    let _ = events(&mut c);
    c.close(T0);
    assert_eq!(events(&mut c), [StateChanged(Unconnected)]);
    assert_eq!(
        c.state(),
        Unconnected,
        "Qt's stuck-in-Connecting bug is not reproduced"
    );
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.server_name(), "");
}

#[test]
fn close_while_connected_emits_about_to_close_then_disconnects() {
    let mut c = connected();
    feed(&mut c, b"dropped");
    let _ = events(&mut c);
    c.close(T0);
    assert_eq!(
        events(&mut c),
        [
            AboutToClose,
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert!(!c.is_open());
    assert_eq!(c.bytes_available(), 0);
    assert_eq!(c.server_name(), "");
    assert_eq!(actions(&mut c), [Action::Close]);
}

#[test]
fn close_with_pending_writes_keeps_flushing_while_not_open() {
    let mut c = connected();
    c.write(&b"flush me"[..]).unwrap();
    c.close(T0);
    assert_eq!(events(&mut c), [AboutToClose, StateChanged(Closing)]);
    assert_eq!(c.state(), Closing);
    assert!(!c.is_open());
    assert_eq!(c.server_name(), "", "names clear at once");
    assert_eq!(c.full_server_name(), "");
    assert!(actions(&mut c).is_empty());
    assert_eq!(c.write(&b"more"[..]), Err(DeviceError::NotOpen));
    assert_eq!(send_all(&mut c), b"flush me");
    assert_eq!(
        events(&mut c),
        [
            BytesWritten(8),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
}

#[test]
fn close_while_closing_only_closes_the_device() {
    let mut c = connected();
    c.write(&b"x"[..]).unwrap();
    c.disconnect_from_server(T0);
    let _ = events(&mut c);
    c.close(T0);
    assert_eq!(events(&mut c), [AboutToClose]);
    assert_eq!(c.state(), Closing);
    c.close(T0);
    assert!(events(&mut c).is_empty(), "AboutToClose once");
}

#[test]
fn close_after_eof_emits_about_to_close_once() {
    let mut c = connected();
    peer_closes(&mut c);
    let _ = events(&mut c);
    c.close(T0);
    assert_eq!(events(&mut c), [AboutToClose]);
    c.close(T0);
    assert!(events(&mut c).is_empty());
}

// ----- open modes -------------------------------------------------------------

#[test]
fn write_on_read_only_is_refused() {
    let mut c = connected_mode(OpenMode::ReadOnly);
    assert_eq!(c.write(&b"x"[..]), Err(DeviceError::ReadOnly));
    assert_eq!(c.write_slice(b"x"), Err(DeviceError::ReadOnly));
    assert_eq!(c.bytes_to_write(), 0);
}

#[test]
fn read_on_write_only_is_refused() {
    let mut c = connected_mode(OpenMode::WriteOnly);
    let mut buf = [0u8; 4];
    assert_eq!(c.read(&mut buf), Err(DeviceError::WriteOnly));
    assert_eq!(c.read_bytes(4), Err(DeviceError::WriteOnly));
    assert_eq!(c.read_all(), Err(DeviceError::WriteOnly));
    assert_eq!(c.read_line(0), Err(DeviceError::WriteOnly));
    assert_eq!(c.peek(&mut buf), Err(DeviceError::WriteOnly));
    assert_eq!(c.skip(1), Err(DeviceError::WriteOnly));
}

#[test]
fn write_only_discards_incoming_bytes_but_sees_eof() {
    let mut c = connected_mode(OpenMode::WriteOnly);
    assert!(c.read_capacity() > 0, "it keeps reading to notice EOF");
    assert_eq!(feed(&mut c, b"ignored bytes"), 13);
    assert_eq!(c.bytes_available(), 0);
    assert!(!c.can_read_line());
    assert!(events(&mut c).is_empty(), "no ReadyRead");
    c.handle_hangup();
    c.handle_received(0);
    assert_eq!(
        events(&mut c),
        [
            Error(SocketError::PeerClosed),
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
}

#[test]
fn write_only_ignores_the_read_limit() {
    let mut c = connected_mode(OpenMode::WriteOnly);
    c.set_read_buffer_size(4);
    assert_eq!(feed(&mut c, &[7u8; 100]), 100);
}

#[test]
fn io_before_connecting_is_not_open() {
    let mut c = Connection::new(config());
    let mut buf = [0u8; 4];
    assert_eq!(c.write(&b"x"[..]), Err(DeviceError::NotOpen));
    assert_eq!(c.read(&mut buf), Err(DeviceError::NotOpen));
    assert_eq!(c.read_line(0), Err(DeviceError::NotOpen));
}

// ----- errors -----------------------------------------------------------------

#[test]
fn errors_stay_until_the_next_connect() {
    let mut c = Connection::new(config());
    c.connect_to_server("srv", OpenMode::ReadWrite);
    c.handle_connect_error(linux_err(ECONNREFUSED), T0);
    c.abort();
    c.close(T0);
    c.disconnect_from_server(T0);
    assert_eq!(c.error(), SocketError::ConnectionRefused);
    assert_eq!(
        c.error_string(),
        "QLocalSocket::connectToServer: Connection refused"
    );
    c.connect_to_server("srv", OpenMode::ReadWrite);
    assert_eq!(c.error(), SocketError::Unknown);
    assert_eq!(c.error_string(), "Unknown error");
}

#[test]
fn peer_closed_error_survives_abort_and_close() {
    let mut c = connected();
    peer_closes(&mut c);
    c.abort();
    c.close(T0);
    assert_eq!(c.error(), SocketError::PeerClosed);
    assert_eq!(c.error_string(), "QLocalSocket: Remote closed");
}

#[test]
fn report_wait_timeout_emits_socket_timeout_and_keeps_the_connection() {
    let mut c = connected();
    c.report_wait_timeout();
    assert_eq!(events(&mut c), [Error(SocketError::SocketTimeout)]);
    assert_eq!(c.state(), ConnectedState);
    assert_eq!(c.error(), SocketError::SocketTimeout);
    assert_eq!(c.error_string(), "QLocalSocket: Socket operation timed out");
    assert!(actions(&mut c).is_empty());
}

#[test]
fn report_wait_timeout_when_unconnected_is_silent() {
    let mut c = connected();
    c.abort();
    let _ = events(&mut c);
    c.report_wait_timeout();
    assert!(events(&mut c).is_empty());
    assert_eq!(c.error(), SocketError::Unknown);
}

#[test]
fn write_error_epipe_keeps_reading_what_the_peer_sent_then_ends_through_closing() {
    let mut c = connected();
    feed(&mut c, b"still here");
    c.write(&b"lost"[..]).unwrap();
    let _ = events(&mut c);
    c.handle_io_error(Direction::Write, linux_err(EPIPE));
    assert!(
        events(&mut c).is_empty(),
        "nothing ends before end of stream"
    );
    assert_eq!(c.state(), ConnectedState);
    assert_eq!(c.bytes_to_write(), 0, "the queue cannot be delivered");
    assert!(!c.wants_write());
    assert!(
        c.read_capacity() > 0,
        "what the peer sent is still read out"
    );
    assert_eq!(c.write(&b"more"[..]), Err(DeviceError::NotConnected));
    assert!(
        matches!(c.flush_outcome(), Some(Err(_))),
        "the loss is reported"
    );
    // The peer's last bytes, then its end of stream.
    feed(&mut c, b"!");
    c.handle_received(0);
    assert_eq!(
        events(&mut c),
        [
            ReadyRead,
            Error(SocketError::PeerClosed),
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert_eq!(c.bytes_available(), 11, "buffered input stays readable");
    assert!(c.is_open());
    assert_eq!(actions(&mut c), [Action::Close]);
    assert_eq!(c.read_outcome_when_empty(), None, "data first");
    c.read_all().unwrap();
    assert_eq!(
        c.read_outcome_when_empty(),
        Some(Ok(())),
        "then end of stream"
    );
    assert!(matches!(c.flush_outcome(), Some(Err(_))), "still reported");
}

#[test]
fn write_error_after_a_half_close_ends_at_once_without_a_second_read_channel_finished() {
    let mut c = connected();
    c.handle_eof();
    assert_eq!(events(&mut c), [ReadChannelFinished]);
    c.write(&b"reply"[..]).unwrap();
    c.handle_io_error(Direction::Write, linux_err(EPIPE));
    assert_eq!(
        events(&mut c),
        [
            Error(SocketError::PeerClosed),
            StateChanged(Closing),
            StateChanged(Unconnected),
            Disconnected
        ]
    );
}

#[test]
fn read_error_econnreset_is_handled_like_eof() {
    let mut c = connected();
    c.handle_io_error(Direction::Read, linux_err(ECONNRESET));
    assert_eq!(
        events(&mut c),
        [
            Error(SocketError::PeerClosed),
            StateChanged(Closing),
            StateChanged(Unconnected),
            ReadChannelFinished,
            Disconnected
        ]
    );
    assert_eq!(c.error_string(), "QLocalSocket: Remote closed");
}

#[test]
fn would_block_and_interrupt_are_not_errors() {
    let mut c = connected();
    for dir in [Direction::Read, Direction::Write] {
        c.handle_io_error(dir, linux_err(EAGAIN));
        c.handle_io_error(dir, linux_err(4));
    }
    assert!(events(&mut c).is_empty());
    assert_eq!(c.state(), ConnectedState);
}

#[test]
fn other_read_error_is_connection_error() {
    let mut c = connected();
    c.handle_io_error(Direction::Read, linux_err(5)); // EIO: not in the table
    assert_eq!(c.error(), SocketError::Connection);
    assert_eq!(c.state(), Unconnected);
}

#[test]
fn io_error_after_the_end_is_ignored() {
    let mut c = connected();
    peer_closes(&mut c);
    let _ = events(&mut c);
    c.handle_io_error(Direction::Write, linux_err(EPIPE));
    assert!(events(&mut c).is_empty());
    assert_eq!(c.error(), SocketError::PeerClosed);
}

// ----- accepted sockets -------------------------------------------------------

#[test]
fn accepted_socket_is_connected_without_events_and_named_like_qt() {
    let mut c = Connection::accepted(config(), &Address::Path("/tmp/sub/x".into()));
    assert_eq!(c.state(), ConnectedState);
    assert_eq!(c.open_mode(), Some(OpenMode::ReadWrite));
    assert_eq!(c.server_name(), "x");
    assert_eq!(c.full_server_name(), "/tmp/sub/x");
    assert!(events(&mut c).is_empty());
    assert!(actions(&mut c).is_empty());
    let a = Connection::accepted(config(), &Address::Abstract("abs\0".into()));
    assert!(a.abstract_namespace());
    assert_eq!(a.server_name(), "abs\0");
    assert_eq!(a.full_server_name(), "abs\0");
}

#[test]
fn accepted_from_one_template_shares_it_and_each_ends_alone() {
    let from = AcceptedFrom::new(config(), &Address::Path("/tmp/sub/x".into()));
    let mut a = Connection::accepted_from(&from);
    let b = Connection::accepted_from(&from);
    assert_eq!(from.address().as_str(), "/tmp/sub/x");
    // One copy of the names and the configuration, not one per connection.
    assert!(std::ptr::eq(a.server_name(), b.server_name()));
    assert!(std::ptr::eq(a.config(), b.config()));
    assert_eq!(a.config(), &config());
    a.abort();
    assert_eq!(a.server_name(), "");
    assert_eq!(a.full_server_name(), "");
    assert_eq!(b.state(), ConnectedState);
    assert_eq!(b.server_name(), "x");
    assert_eq!(b.full_server_name(), "/tmp/sub/x");
}

#[test]
fn connections_on_static_defaults_share_them_until_a_setter_copies() {
    use std::time::Duration;
    static DEFAULTS: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    let defaults = DEFAULTS.get_or_init(config);
    let mut a = Connection::with_static_config(defaults);
    let b = Connection::with_static_config(defaults);
    assert!(std::ptr::eq(a.config(), defaults));
    assert!(std::ptr::eq(b.config(), defaults));
    a.set_connect_timeout(Duration::from_millis(5));
    a.set_drain_timeout(Some(Duration::from_millis(7)), T0);
    // `a` has its own copy now; the defaults and `b` are untouched.
    assert!(!std::ptr::eq(a.config(), defaults));
    assert_eq!(a.config().connect_timeout, Duration::from_millis(5));
    assert_eq!(a.config().drain_timeout, Some(Duration::from_millis(7)));
    assert_eq!(defaults, &config());
    assert_eq!(b.config(), &config());
    // The copy is what the connect uses: its deadline is 5 ms away.
    a.connect_to_server("x", OpenMode::ReadWrite);
    let _ = actions(&mut a);
    a.handle_connect_error(linux_err(EAGAIN), T0);
    assert_eq!(a.state(), Connecting);
    a.handle_timeout(T0 + Duration::from_millis(5));
    assert_eq!(a.state(), Unconnected);
}

#[test]
fn connection_state_stays_small() {
    // Every accepted socket carries one, boxed in the async drivers: 10,000
    // connections pay for each byte 10,000 times (the benchmark's C row).
    // 44 words include four inline events (64 bytes), which replaced the
    // heap buffer (80 bytes with the allocator's header) that nearly every
    // connection allocated for its first signal, and a two-word handle on
    // the configuration (the defaults by reference, or a shared copy).
    assert!(
        std::mem::size_of::<Connection>() <= 44 * std::mem::size_of::<usize>(),
        "{}",
        std::mem::size_of::<Connection>()
    );
}

#[test]
fn is_valid_is_false_once_unconnected() {
    let mut c = connected();
    assert!(c.is_valid());
    c.disconnect_from_server(T0);
    assert!(!c.is_valid());
    assert!(c.is_open());
}
