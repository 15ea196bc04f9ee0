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
        feed(&mut c, format!("line {i}\n").as_bytes(), T0);
        let line = c.read_line(0).unwrap();
        c.write(line).unwrap();
        send_all(&mut c, T0);
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
    send_all(&mut c, T0);
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

/// Connect/abort cycles without taking events hit the hard cap, not memory.
#[test]
fn connect_abort_loop_is_capped() {
    let mut c = Connection::new(config());
    for _ in 0..5_000 {
        c.connect_to_server("x", OpenMode::ReadWrite, T0);
        actions(&mut c);
        c.handle_connected(T0);
        c.abort();
        actions(&mut c);
    }
    let queued = events(&mut c);
    assert_eq!(queued.len(), localsock_core::MAX_QUEUED_EVENTS);
    assert_eq!(
        queued.last(),
        Some(&Event::Disconnected),
        "the newest are kept"
    );
}
