//! The event queue stays bounded when the user never takes events: data
//! signals merge between state changes, and a hard cap holds the rest.

mod common;

use common::*;
use localsock_core::{Connection, Event, OpenMode, State};

/// An echo loop (read a line, write it back) that never takes events.
#[test]
fn echo_loop_without_taking_events_keeps_queue_small() {
    let mut c = connected();
    events(&mut c);
    for i in 0..10_000u32 {
        feed(&mut c, format!("line {i}\n").as_bytes());
        let line = c.read_line(0).unwrap();
        c.write(line).unwrap();
        send_all(&mut c);
    }
    let queued = events(&mut c);
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.contains(&Event::ReadyRead));
    let written: usize = queued
        .iter()
        .map(|e| match e {
            Event::BytesWritten(n) => *n,
            _ => 0,
        })
        .sum();
    assert_eq!(
        written,
        (0..10_000u32).map(|i| format!("line {i}\n").len()).sum()
    );
}

/// Merging never moves a data event across a state change.
#[test]
fn data_events_do_not_cross_state_changes() {
    let mut c = connected();
    events(&mut c);
    c.write(&b"abc"[..]).unwrap();
    send_all(&mut c);
    c.disconnect_from_server(T0);
    let got = events(&mut c);
    assert_eq!(
        got,
        vec![
            Event::BytesWritten(3),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::ReadChannelFinished,
            Event::Disconnected
        ]
    );
}

/// Connect/abort cycles without taking events hit the hard cap, not memory:
/// the events of connections that already ended make room.
#[test]
fn connect_abort_loop_is_capped() {
    let mut c = Connection::new(config());
    for _ in 0..5_000 {
        c.connect_to_server("x", OpenMode::ReadWrite);
        actions(&mut c);
        c.handle_connected();
        c.abort();
        actions(&mut c);
    }
    let queued = events(&mut c);
    assert_eq!(queued.len(), localsock_core::MAX_QUEUED_EVENTS);
    assert_eq!(
        queued.last(),
        Some(&Event::AboutToClose),
        "the newest are kept (Qt's abort emits AboutToClose last)"
    );
}

/// Timed-out waits never grow the queue: consecutive timeouts merge, and
/// at the cap a timeout or data event gives way, never a transition.
#[test]
fn timed_out_waits_merge_and_never_push_out_transitions() {
    let mut c = connected();
    for _ in 0..100_000 {
        let w = c.begin_wait(localsock_core::WaitFor::ReadyRead);
        c.wait_timed_out(&w);
    }
    assert_eq!(
        events(&mut c),
        [Event::Error(localsock_core::SocketError::SocketTimeout)]
    );
    // Fill the queue with data events and timeouts, then end the connection.
    for i in 0..3 * localsock_core::MAX_QUEUED_EVENTS {
        feed(&mut c, b"x");
        c.read_all().unwrap();
        c.write(&b"y"[..]).unwrap();
        send_all(&mut c);
        if i % 2 == 0 {
            c.report_wait_timeout();
        }
    }
    assert!(c.queued_events() <= localsock_core::MAX_QUEUED_EVENTS);
    peer_closes(&mut c);
    let got = events(&mut c);
    assert!(got.len() <= localsock_core::MAX_QUEUED_EVENTS);
    assert_eq!(
        &got[got.len() - 5..],
        [
            Event::Error(localsock_core::SocketError::PeerClosed),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::ReadChannelFinished,
            Event::Disconnected
        ],
        "the transitions survive a full queue"
    );
}
