//! Round trips through the in-memory pair: short writes, split reads, a
//! bounded kernel buffer, EOF at every offset, back-pressure from the read
//! limit, and timeouts on the virtual clock.

mod common;

use bytes::Bytes;
use common::*;
use localsock_core::{Event, OpenMode, SocketError, State};

#[test]
fn bytes_arrive_complete_and_in_order_with_every_knob() {
    let data = pattern(3, 70_000);
    for (max_write, max_read, pipe) in [
        (usize::MAX, usize::MAX, usize::MAX),
        (1, usize::MAX, usize::MAX),
        (usize::MAX, 1, usize::MAX),
        (7, 13, 29),
        (4096, 1000, 8192),
        (65_536, 65_536, 1),
    ] {
        let mut p = Pair::new();
        p.max_write = max_write;
        p.max_read = max_read;
        p.pipe_capacity = pipe;
        // A mix of small (coalesced) and large (zero-copy) writes.
        let mut off = 0;
        for (i, len) in [10usize, 20_000, 1, 300, 40_000, 9_689].iter().enumerate() {
            let piece = &data[off..off + len];
            if i % 2 == 0 {
                p.c[A].write_slice(piece).unwrap();
            } else {
                p.c[A].write(Bytes::copy_from_slice(piece)).unwrap();
            }
            off += len;
        }
        assert_eq!(off, data.len());
        let got = p.run_reading(B);
        assert_eq!(got.len(), data.len(), "knobs {max_write}/{max_read}/{pipe}");
        assert!(
            got == data,
            "knobs {max_write}/{max_read}/{pipe}: reordered"
        );
        assert_eq!(p.wire[A], data);
        let written: usize = p.events[A]
            .iter()
            .map(|e| match e {
                Event::BytesWritten(n) => *n,
                _ => 0,
            })
            .sum();
        assert_eq!(written, data.len(), "BytesWritten adds up");
    }
}

#[test]
fn both_directions_at_once() {
    let mut p = Pair::new();
    p.max_write = 33;
    p.max_read = 17;
    p.pipe_capacity = 100;
    let ab = pattern(0, 5_000);
    let ba = pattern(100, 3_000);
    p.c[A].write_slice(&ab).unwrap();
    p.c[B].write_slice(&ba).unwrap();
    let mut got = [Vec::new(), Vec::new()];
    for _ in 0..100_000 {
        let progress = p.step();
        for (i, g) in got.iter_mut().enumerate() {
            g.extend_from_slice(&p.read_all(i));
        }
        if !progress {
            break;
        }
    }
    assert_eq!(got[B], ab);
    assert_eq!(got[A], ba);
}

#[test]
fn graceful_disconnect_delivers_everything_then_eof() {
    let mut p = Pair::new();
    p.max_write = 100;
    let data = pattern(0, 10_000);
    p.c[A].write_slice(&data).unwrap();
    p.c[A].disconnect_from_server(p.now);
    let got = p.run_reading(B);
    assert_eq!(got, data);
    assert_eq!(p.c[A].state(), State::Unconnected);
    assert_eq!(p.c[B].state(), State::Unconnected);
    assert!(disconnected_once(&p.events[A]));
    assert!(disconnected_once(&p.events[B]));
    assert_eq!(p.c[B].error(), SocketError::PeerClosed);
    assert_eq!(p.c[A].error(), SocketError::Unknown);
}

#[test]
fn eof_at_every_offset_delivers_exactly_the_prefix() {
    let data = pattern(0, 300);
    for k in 0..=data.len() {
        for max_read in [1, 7, usize::MAX] {
            let mut p = Pair::new();
            p.max_read = max_read;
            p.c[A].write_slice(&data).unwrap();
            // The OS takes k bytes, then the writer aborts.
            p.max_write = k;
            p.transmit(A);
            p.c[A].abort();
            let got = p.run_reading(B);
            assert_eq!(got, &data[..k], "offset {k}, read size {max_read}");
            let evs = &p.events[B];
            assert!(disconnected_once(evs), "offset {k}");
            let closed_at = evs
                .iter()
                .position(|e| *e == Event::Error(SocketError::PeerClosed))
                .unwrap();
            assert!(
                !evs[closed_at..].contains(&Event::ReadyRead),
                "no ReadyRead after the end, offset {k}"
            );
            assert!(p.c[B].read_exhausted());
        }
    }
}

#[test]
fn eof_with_unread_data_keeps_it_for_the_reader() {
    let mut p = Pair::new();
    p.c[A].write_slice(b"last words").unwrap();
    p.c[A].disconnect_from_server(p.now);
    p.run();
    assert_eq!(p.c[B].state(), State::Unconnected);
    assert!(p.c[B].is_open());
    assert_eq!(p.read_all(B), b"last words");
    assert!(p.c[B].read_exhausted());
}

#[test]
fn read_limit_applies_back_pressure_to_the_writer() {
    let mut p = Pair::new();
    p.pipe_capacity = 1000;
    p.c[B].set_read_buffer_size(500);
    let data = pattern(0, 20_000);
    p.c[A].write_slice(&data).unwrap();
    p.run();
    assert_eq!(p.c[B].bytes_available(), 500, "never past the limit");
    assert_eq!(p.c[B].read_capacity(), 0);
    assert_eq!(p.pipes[B].len(), 1000, "the kernel buffer is full");
    assert_eq!(
        p.c[A].bytes_to_write(),
        20_000 - 1500,
        "the writer is held back"
    );
    let mut got = Vec::new();
    for _ in 0..10_000 {
        got.extend_from_slice(&p.c[B].read_bytes(123).unwrap());
        assert!(p.c[B].bytes_available() <= 500);
        if !p.step() && p.c[B].bytes_available() == 0 {
            break;
        }
    }
    assert_eq!(got, data);
}

#[test]
fn eof_is_not_seen_while_the_buffer_is_full() {
    let mut p = Pair::new();
    p.c[B].set_read_buffer_size(4);
    p.c[A].write_slice(b"12345678").unwrap();
    p.c[A].disconnect_from_server(p.now);
    p.run();
    assert_eq!(
        p.c[B].state(),
        State::Connected,
        "EOF waits behind the data"
    );
    assert_eq!(p.read_all(B), b"1234");
    p.run();
    assert_eq!(p.read_all(B), b"5678");
    p.run();
    assert_eq!(p.c[B].state(), State::Unconnected);
}

#[test]
fn writing_to_a_closed_peer_is_peer_closed() {
    let mut p = Pair::new();
    p.c[B].abort();
    p.do_actions(B);
    p.c[A].write_slice(b"into the void").unwrap();
    p.transmit(A);
    p.collect_events();
    assert_eq!(
        p.c[A].state(),
        State::Connected,
        "end of stream is read first"
    );
    p.run();
    assert_eq!(p.c[A].error(), SocketError::PeerClosed);
    assert_eq!(p.c[A].state(), State::Unconnected);
    assert!(disconnected_once(&p.events[A]));
}

#[test]
fn write_only_client_still_notices_the_peer_leaving() {
    let mut p = Pair::with_config(config(), OpenMode::WriteOnly);
    p.c[B].write_slice(b"ignored").unwrap();
    p.c[B].disconnect_from_server(p.now);
    p.run();
    assert_eq!(p.c[A].bytes_available(), 0);
    assert_eq!(p.c[A].state(), State::Unconnected);
    assert!(disconnected_once(&p.events[A]));
    assert!(!p.events[A].contains(&Event::ReadyRead));
}

#[test]
fn drain_timeout_fires_on_the_virtual_clock() {
    let mut cfg = config();
    cfg.drain_timeout = Some(ms(200));
    let mut p = Pair::with_config(cfg, OpenMode::ReadWrite);
    p.pipe_capacity = 10;
    p.c[B].set_read_buffer_size(10);
    p.c[A].write_slice(&pattern(0, 100)).unwrap();
    p.c[A].disconnect_from_server(p.now);
    p.run(); // B's user never reads: its buffer and the pipe fill
    assert_eq!(p.c[A].state(), State::Closing);
    p.advance(ms(199));
    assert_eq!(p.c[A].state(), State::Closing);
    p.advance(ms(1));
    assert_eq!(p.c[A].state(), State::Unconnected);
    assert_eq!(p.c[A].error(), SocketError::SocketTimeout);
    assert_eq!(
        p.run_reading(B),
        pattern(0, 20),
        "what was sent still arrives"
    );
    assert_eq!(p.c[B].state(), State::Unconnected);
}

#[test]
fn reconnecting_client_talks_to_a_new_peer() {
    let mut p = Pair::new();
    p.c[A].write_slice(b"one").unwrap();
    p.c[A].disconnect_from_server(p.now);
    assert_eq!(p.run_reading(B), b"one");
    let mut q = Pair::new();
    q.c[A].write_slice(b"two").unwrap();
    assert_eq!(q.run_reading(B), b"two");
}
