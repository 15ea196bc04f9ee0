//! Property test: random operation sequences (decoded from random bytes
//! with the same `Op` type the fuzz target uses) against the model in
//! `ops/mod.rs`.

mod ops;

use localsock_core::{Event, SocketError, State};
use ops::{Code, Mode, NameChoice, Op, Report, Scenario, Setup, Side, World};
use proptest::prelude::*;

fn linux_setup() -> Setup {
    Setup {
        windows: false,
        drain_timeout_ms: Some(100),
        connect_timeout_ms: 1000,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Some(scenario) = Scenario::from_bytes(&bytes) {
            World::run(&scenario);
        }
    }

    /// The same, starting from a connected pair, so most ops hit live
    /// connections.
    #[test]
    fn random_operations_on_a_live_pair_keep_every_invariant(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        windows in any::<bool>(),
    ) {
        if let Some(mut scenario) = Scenario::from_bytes(&bytes) {
            scenario.setup.windows = windows;
            scenario.ops.splice(0..0, [
                Op::Connect { name: NameChoice::Plain, mode: Mode::ReadWrite },
                Op::HandleConnected,
            ]);
            World::run(&scenario);
        }
    }

    /// Without the ops that end a connection, so data keeps flowing and
    /// the end-of-run completeness check runs every time.
    #[test]
    fn random_data_flow_on_a_live_pair_is_complete_and_in_order(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        if let Some(mut scenario) = Scenario::from_bytes(&bytes) {
            scenario.ops.retain(|op| !ends_the_connection(op));
            scenario.ops.splice(0..0, [
                Op::Connect { name: NameChoice::Plain, mode: Mode::ReadWrite },
                Op::HandleConnected,
            ]);
            let r = World::run(&scenario);
            prop_assert!(r.checked_complete);
        }
    }
}

fn ends_the_connection(op: &Op) -> bool {
    matches!(
        op,
        Op::Connect { .. }
            | Op::Disconnect(_)
            | Op::Abort(_)
            | Op::Close(_)
            | Op::Eof(_)
            | Op::IoError { .. }
            | Op::HandleConnectError(_)
            | Op::Advance { .. }
            | Op::Vanish(_)
            // One direction may half-close and the connection goes on; when
            // both do, it is over.
            | Op::ShutdownWrite(Side::A)
    )
}

#[test]
fn the_interpreter_moves_bytes_both_ways_and_checks_completeness() {
    let scenario = Scenario {
        setup: linux_setup(),
        ops: vec![
            Op::Connect {
                name: NameChoice::Plain,
                mode: Mode::ReadWrite,
            },
            Op::HandleConnected,
            Op::Write {
                side: Side::A,
                len: 1000,
                owned: false,
            },
            Op::WriteLarge {
                side: Side::A,
                kib: 3,
            },
            Op::Write {
                side: Side::B,
                len: 700,
                owned: true,
            },
            Op::Transmit {
                side: Side::A,
                max: 99,
            },
            Op::Receive {
                side: Side::B,
                max: 49,
            },
            Op::ReadLine {
                side: Side::B,
                max: 0,
            },
            Op::Read {
                side: Side::B,
                len: 10,
            },
            Op::Pump,
            Op::ReadBytes {
                side: Side::A,
                len: 100,
            },
            Op::Skip {
                side: Side::A,
                len: 100,
            },
            Op::SetReadBufferSize {
                side: Side::B,
                size: 10,
            },
            Op::Pump,
        ],
    };
    let r = World::run(&scenario);
    assert_eq!(r.connections, 1);
    assert!(r.checked_complete);
    assert_eq!(r.bytes_read, 1000 + 19 * 1024 + 700);
}

#[test]
fn the_interpreter_follows_a_retried_connect_and_a_drain() {
    let scenario = Scenario {
        setup: linux_setup(),
        ops: vec![
            Op::Connect {
                name: NameChoice::Plain,
                mode: Mode::ReadWrite,
            },
            Op::HandleConnectError(Code::Again),
            Op::Advance { ms: 5 },
            Op::HandleConnected,
            Op::Write {
                side: Side::A,
                len: 300,
                owned: false,
            },
            Op::Disconnect(Side::A),
            Op::Transmit {
                side: Side::A,
                max: 1000,
            },
            Op::Pump,
            Op::Read {
                side: Side::B,
                len: 1000,
            },
            Op::Advance { ms: 1000 },
        ],
    };
    let r = World::run(&scenario);
    assert_eq!(r.connections, 1);
    assert_eq!(r.bytes_read, 300);
    assert!(!r.checked_complete, "both sides ended");
}

#[test]
fn the_interpreter_catches_a_broken_invariant() {
    // Reading from the accepted side before any connect does nothing; a
    // wrong model would be caught by the assertions, so show that they fire:
    // feeding the world a scenario and then corrupting its view must panic.
    let result = std::panic::catch_unwind(|| {
        let mut w = World::new(&linux_setup());
        w.apply(&Op::Connect {
            name: NameChoice::Plain,
            mode: Mode::ReadWrite,
        });
        w.apply(&Op::HandleConnected);
        w.apply(&Op::Write {
            side: Side::A,
            len: 10,
            owned: false,
        });
        w.corrupt_for_test();
        w.apply(&Op::Pump);
    });
    assert!(result.is_err());
}

/// Random byte strings (from a fixed-seed generator) must reach the
/// interesting parts of the interpreter, or the property test proves little.
#[test]
fn random_scenarios_reach_connections_data_and_the_final_check() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut runs, mut connected, mut moved, mut complete, mut events, mut nops) =
        (0, 0, 0, 0, 0, 0);
    let mut total = Report::default();
    for _ in 0..400 {
        let len = (next() % 1500) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let Some(mut s) = Scenario::from_bytes(&bytes) else {
            continue;
        };
        if runs % 2 == 0 {
            s.ops.retain(|op| !ends_the_connection(op));
        }
        s.ops.splice(
            0..0,
            [
                Op::Connect {
                    name: NameChoice::Plain,
                    mode: Mode::ReadWrite,
                },
                Op::HandleConnected,
            ],
        );
        let r = World::run(&s);
        runs += 1;
        connected += usize::from(r.connections > 0);
        moved += usize::from(r.bytes_read > 0);
        complete += usize::from(r.checked_complete);
        events += r.events;
        nops += r.ops;
        total.shutdowns += r.shutdowns;
        total.half_closes += r.half_closes;
        total.ends_of_stream += r.ends_of_stream;
        total.send_failures += r.send_failures;
        total.bytes_after_gone += r.bytes_after_gone;
        total.waits_over += r.waits_over;
    }
    eprintln!("ops {nops} runs {runs} connected {connected} moved {moved} complete {complete} events {events}");
    eprintln!("{total:?}");
    assert!(runs >= 300);
    assert!(
        connected * 10 >= runs * 5,
        "connected in {connected} of {runs}"
    );
    assert!(moved * 4 >= runs, "bytes moved in {moved} of {runs}");
    assert!(
        complete * 3 >= runs,
        "completeness checked in {complete} of {runs}"
    );
    // The ends of a connection are reached too: half-closes, sends to a
    // gone peer, and a gone peer's last bytes read out.
    assert!(total.shutdowns > 0 && total.half_closes > 0, "{total:?}");
    assert!(total.ends_of_stream > total.half_closes, "{total:?}");
    assert!(total.send_failures > 0, "{total:?}");
    assert!(total.bytes_after_gone > 0, "{total:?}");
    assert!(total.waits_over > 0, "{total:?}");
}

fn live_pair(windows: bool) -> World {
    let mut w = World::new(&Setup {
        windows,
        ..linux_setup()
    });
    w.apply(&Op::Connect {
        name: NameChoice::Plain,
        mode: Mode::ReadWrite,
    });
    w.apply(&Op::HandleConnected);
    w
}

fn write(side: Side, len: u16) -> Op {
    Op::Write {
        side,
        len,
        owned: false,
    }
}

fn read(side: Side) -> Op {
    Op::Read {
        side,
        len: u16::MAX,
    }
}

fn state(w: &World, side: Side) -> State {
    w.connection(side).unwrap().state()
}

fn count(events: &[Event], e: Event) -> usize {
    events.iter().filter(|x| **x == e).count()
}

/// Rule 1: B shuts down its writing; A reads B's data, then end of stream
/// without an error, and stays connected: what A writes afterwards all
/// reaches B.
#[test]
fn after_a_half_close_the_other_direction_delivers_everything() {
    let mut w = live_pair(false);
    for op in [
        write(Side::B, 500),
        Op::ShutdownWrite(Side::B),
        Op::Pump,
        read(Side::A),
    ] {
        w.apply(&op);
    }
    let a = w.connection(Side::A).unwrap();
    assert_eq!(a.state(), State::Connected);
    assert!(a.is_half_closed() && a.wants_hangup_watch());
    assert_eq!(a.read_outcome_when_empty(), Some(Ok(())));
    assert_eq!(w.events(Side::A).last(), Some(&Event::ReadChannelFinished));
    for op in [
        write(Side::A, 700),
        Op::WriteLarge {
            side: Side::A,
            kib: 20,
        },
        Op::Transmit {
            side: Side::A,
            max: 999,
        },
        Op::Receive {
            side: Side::B,
            max: 99,
        },
        read(Side::B),
        Op::Pump,
    ] {
        w.apply(&op);
    }
    let r = w.finish();
    assert!(r.checked_complete);
    assert_eq!(r.bytes_read, 500 + 700 + 36 * 1024);
    assert_eq!((r.shutdowns, r.half_closes), (1, 1));
    assert_eq!(state(&w, Side::A), State::Connected);
    assert_eq!(count(w.events(Side::A), Event::ReadChannelFinished), 1);
}

/// Rules 2 and 3: data in flight both ways when B dies. A's send fails
/// (ECONNRESET: B died with unread data); A's queue is lost, but what B
/// had sent is read out before the end, with Qt's sequence.
#[test]
fn a_peer_that_vanishes_is_read_out_before_the_end() {
    let mut w = live_pair(false);
    for op in [
        write(Side::A, 300),
        write(Side::B, 400),
        Op::Transmit {
            side: Side::A,
            max: u16::MAX,
        },
        Op::Transmit {
            side: Side::B,
            max: u16::MAX,
        },
        write(Side::A, 50),
        Op::Vanish(Side::B),
        Op::Transmit {
            side: Side::A,
            max: u16::MAX,
        },
    ] {
        w.apply(&op);
    }
    let a = w.connection(Side::A).unwrap();
    assert_eq!(a.state(), State::Connected, "reading goes on");
    assert!(!a.wants_write() && a.read_capacity() > 0);
    assert!(matches!(a.flush_outcome(), Some(Err(_))));
    w.apply(&Op::Receive {
        side: Side::A,
        max: 99,
    });
    let before = w.events(Side::A).len();
    w.apply(&Op::Pump);
    assert_eq!(
        w.events(Side::A)[before..],
        [
            Event::ReadyRead,
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::ReadChannelFinished,
            Event::Disconnected,
        ]
    );
    let a = w.connection(Side::A).unwrap();
    assert_eq!(a.bytes_available(), 400, "B's last bytes stay readable");
    assert!(matches!(a.flush_outcome(), Some(Err(_))));
    w.apply(&read(Side::A));
    let r = w.finish();
    assert_eq!(r.bytes_read, 400);
    assert_eq!(r.send_failures, 1);
}

/// Rule 4: a read that fails with ECONNRESET after the data ends the
/// connection like an end of stream after a hang-up.
#[test]
fn a_reset_seen_by_a_read_ends_like_a_hang_up() {
    let mut w = live_pair(false);
    for op in [
        write(Side::A, 300),
        write(Side::B, 200),
        Op::Transmit {
            side: Side::A,
            max: u16::MAX,
        },
        Op::Transmit {
            side: Side::B,
            max: u16::MAX,
        },
        Op::Vanish(Side::B),
        Op::Receive {
            side: Side::A,
            max: u16::MAX,
        },
    ] {
        w.apply(&op);
    }
    assert_eq!(state(&w, Side::A), State::Connected);
    let before = w.events(Side::A).len();
    w.apply(&Op::Receive {
        side: Side::A,
        max: u16::MAX,
    });
    assert_eq!(
        w.events(Side::A)[before..],
        [
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::ReadChannelFinished,
            Event::Disconnected,
        ]
    );
    assert_eq!(w.connection(Side::A).unwrap().bytes_available(), 200);
    assert_eq!(w.finish().ends_of_stream, 1);
}

/// Rule 2 after a half-close: the hang-up ends the connection with
/// Closing (writes were pending) and no second ReadChannelFinished.
#[test]
fn a_hang_up_after_a_half_close_ends_without_a_second_read_channel_finished() {
    let mut w = live_pair(false);
    for op in [
        Op::ShutdownWrite(Side::B),
        Op::Pump,
        write(Side::A, 100),
        Op::Vanish(Side::B),
    ] {
        w.apply(&op);
    }
    assert!(w.connection(Side::A).unwrap().is_half_closed());
    let before = w.events(Side::A).len();
    w.apply(&Op::Hangup(Side::A));
    assert_eq!(
        w.events(Side::A)[before..],
        [
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::Disconnected,
        ]
    );
    assert_eq!(count(w.events(Side::A), Event::ReadChannelFinished), 1);
    let a = w.connection(Side::A).unwrap();
    assert!(matches!(a.flush_outcome(), Some(Err(_))));
    w.finish();
}

/// When both sides shut down their writing the kernel reports a hang-up:
/// each side ends at its end of stream.
#[test]
fn both_half_closes_end_the_connection() {
    let mut w = live_pair(false);
    for op in [
        write(Side::A, 10),
        write(Side::B, 20),
        Op::ShutdownWrite(Side::A),
        Op::ShutdownWrite(Side::B),
        Op::Pump,
    ] {
        w.apply(&op);
    }
    for side in [Side::A, Side::B] {
        assert_eq!(state(&w, side), State::Unconnected);
        assert_eq!(
            w.connection(side).unwrap().fatal_error().map(|e| e.kind()),
            Some(SocketError::PeerClosed)
        );
    }
    for op in [read(Side::A), read(Side::B)] {
        w.apply(&op);
    }
    let r = w.finish();
    assert_eq!((r.bytes_read, r.half_closes, r.ends_of_stream), (30, 0, 2));
}

/// Rule 5: Windows pipes have no half-close: `shutdown_write` is refused
/// and end of stream means the peer is gone.
#[test]
fn on_windows_end_of_stream_means_the_peer_is_gone() {
    let mut w = live_pair(true);
    for op in [
        write(Side::B, 100),
        Op::ShutdownWrite(Side::B),
        Op::Transmit {
            side: Side::B,
            max: u16::MAX,
        },
        Op::Close(Side::B),
        Op::Pump,
    ] {
        w.apply(&op);
    }
    assert_eq!(state(&w, Side::A), State::Unconnected);
    assert_eq!(
        w.events(Side::A)[3..],
        [
            Event::ReadyRead,
            Event::Error(SocketError::PeerClosed),
            Event::StateChanged(State::Closing),
            Event::StateChanged(State::Unconnected),
            Event::ReadChannelFinished,
            Event::Disconnected,
        ]
    );
    w.apply(&read(Side::A));
    let r = w.finish();
    assert_eq!((r.bytes_read, r.shutdowns), (100, 0));
}

/// Rule 7: once the buffer reached the limit nothing is read until it is
/// drained completely; a `ReadyRead` wait reads into the room.
#[test]
fn the_read_limit_waits_for_a_complete_drain_except_in_a_wait() {
    let mut w = live_pair(false);
    for op in [
        Op::SetReadBufferSize {
            side: Side::A,
            size: 4,
        },
        write(Side::B, 10),
        Op::Pump,
        Op::Read {
            side: Side::A,
            len: 2,
        },
        Op::Pump,
    ] {
        w.apply(&op);
    }
    let a = w.connection(Side::A).unwrap();
    assert_eq!((a.bytes_available(), a.read_capacity()), (2, 0));
    w.apply(&Op::Wait {
        side: Side::A,
        kind: ops::WaitKind::ReadyRead,
    });
    assert_eq!(w.connection(Side::A).unwrap().read_capacity(), 2);
    w.apply(&Op::Receive {
        side: Side::A,
        max: 0,
    });
    assert_eq!(w.report().waits_over, 1);
    w.apply(&Op::Skip {
        side: Side::A,
        len: 100,
    });
    assert_eq!(w.connection(Side::A).unwrap().read_capacity(), 4);
    assert!(w.finish().checked_complete);
}

/// The configuration setters (docs/semantics.md difference 18): a drain
/// timeout set while Closing counts from that call; a connect timeout
/// applies from the next connect.
#[test]
fn the_setters_apply_as_documented() {
    let mut w = live_pair(false);
    for op in [
        write(Side::A, 300),
        Op::Disconnect(Side::A),
        Op::Advance { ms: 90 },
        Op::SetDrainTimeout {
            side: Side::A,
            ms: Some(50),
        },
        Op::Advance { ms: 40 },
    ] {
        w.apply(&op);
    }
    assert_eq!(state(&w, Side::A), State::Closing, "50 ms from the call");
    w.apply(&Op::Advance { ms: 10 });
    assert_eq!(state(&w, Side::A), State::Unconnected);
    assert_eq!(
        w.connection(Side::A).unwrap().error(),
        SocketError::SocketTimeout
    );
    for op in [
        Op::SetConnectTimeout {
            side: Side::A,
            ms: 5,
        },
        Op::Connect {
            name: NameChoice::Plain,
            mode: Mode::ReadWrite,
        },
        Op::HandleConnectError(Code::Again),
        Op::Advance { ms: 5 },
    ] {
        w.apply(&op);
    }
    assert_eq!(state(&w, Side::A), State::Unconnected, "timed out at 5 ms");
    assert_eq!(
        w.events(Side::A)[1..],
        [
            Event::Error(SocketError::SocketTimeout),
            Event::StateChanged(State::Unconnected),
        ]
    );
    w.finish();
}
