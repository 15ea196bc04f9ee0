//! The in-memory test harness: helpers to drive one `Connection` by hand,
//! and [`Pair`], two connections wired through a fake kernel pipe with knobs
//! for short writes, split reads, a bounded pipe and virtual time.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use bytes::BufMut;
use localsock_core::{
    Action, Address, Config, Connection, Direction, Event, NameContext, OpenMode, OsError,
    Platform, State,
};

/// Time zero of every test's virtual clock.
pub const T0: Duration = Duration::ZERO;

/// Linux `EPIPE`.
pub const EPIPE: i32 = 32;

/// Milliseconds as a `Duration`.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The Linux name context used by most tests (`/tmp` as the temp dir).
pub fn linux() -> NameContext {
    NameContext::new(Platform::Linux, "/tmp")
}

/// Qt's defaults on Linux.
pub fn config() -> Config {
    Config::new(linux())
}

/// Every queued event, in order.
pub fn events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// Every queued action, in order.
pub fn actions(c: &mut Connection) -> Vec<Action> {
    std::iter::from_fn(|| c.poll_action()).collect()
}

/// The addresses of the connects among the queued actions (drained).
pub fn connect_addresses(c: &mut Connection) -> Vec<Address> {
    actions(c)
        .into_iter()
        .filter_map(|a| match a {
            Action::Connect { address, .. } => Some(address),
            Action::Close => None,
        })
        .collect()
}

/// A Linux client connected to `/tmp/srv` in `mode`, with its connect's
/// events and actions drained.
pub fn connected_with(config: Config, mode: OpenMode) -> Connection {
    let mut c = Connection::new(config);
    c.connect_to_server("srv", mode);
    let acts = actions(&mut c);
    assert!(
        matches!(acts.as_slice(), [Action::Connect { .. }]),
        "{acts:?}"
    );
    c.handle_connected();
    let evs = events(&mut c);
    assert_eq!(evs.last(), Some(&Event::Connected));
    assert_eq!(c.state(), State::Connected);
    c
}

/// A Linux client connected read-write with Qt's defaults.
pub fn connected() -> Connection {
    connected_with(config(), OpenMode::ReadWrite)
}

/// A client connected in `mode`.
pub fn connected_mode(mode: OpenMode) -> Connection {
    connected_with(config(), mode)
}

/// Delivers up to `data.len()` bytes from the peer the way a driver does:
/// at most `read_capacity()` at a time, straight into `recv_buf()`.
/// Returns how many the core took (it stops at the read-buffer limit).
pub fn feed(c: &mut Connection, data: &[u8]) -> usize {
    let mut off = 0;
    while off < data.len() {
        let cap = c.read_capacity();
        if cap == 0 {
            break;
        }
        let n = cap.min(data.len() - off);
        c.recv_buf().put_slice(&data[off..off + n]);
        c.handle_received(n);
        off += n;
    }
    off
}

/// The peer closed completely, as a Unix driver reports it: the hang-up
/// seen with the end of stream, then the end of stream.
pub fn peer_closes(c: &mut Connection) {
    c.handle_hangup();
    c.handle_eof();
}

/// The queued output, concatenated (without consuming it).
pub fn pending_output(c: &Connection) -> Vec<u8> {
    let mut out = Vec::with_capacity(c.bytes_to_write());
    for chunk in c.transmit_chunks() {
        out.extend_from_slice(chunk);
    }
    out
}

/// Sends everything queued (as one `writev` that the OS takes whole) and
/// returns the bytes.
pub fn send_all(c: &mut Connection) -> Vec<u8> {
    let out = pending_output(c);
    c.handle_sent(out.len());
    out
}

/// A deterministic byte pattern of length `n` starting at `seed`
/// (contains a `\n` every so often).
pub fn pattern(seed: usize, n: usize) -> Vec<u8> {
    const CYCLE: usize = 251;
    let table: Vec<u8> = (0..CYCLE as u8).collect();
    let mut out = Vec::with_capacity(n);
    let mut at = seed % CYCLE;
    while out.len() < n {
        let take = (CYCLE - at).min(n - out.len());
        out.extend_from_slice(&table[at..at + take]);
        at = 0;
    }
    out
}

/// Side indexes of a [`Pair`].
pub const A: usize = 0;
/// The accepted (server) side.
pub const B: usize = 1;

/// Two connections wired through an in-memory "kernel": side `A` is a client
/// that connected to `/tmp/pair`, side `B` the accepted socket. `pipes[i]`
/// holds bytes travelling towards side `i`.
#[derive(Debug)]
pub struct Pair {
    /// The two connections: `c[A]` (client) and `c[B]` (accepted).
    pub c: [Connection; 2],
    /// The virtual clock.
    pub now: Duration,
    /// Most bytes the fake OS takes per write call (short writes).
    pub max_write: usize,
    /// Most bytes the fake OS returns per read call (split reads).
    pub max_read: usize,
    /// Most bytes the fake kernel buffers per direction (back-pressure).
    pub pipe_capacity: usize,
    /// Bytes in flight towards each side.
    pub pipes: [VecDeque<u8>; 2],
    /// Whether each side still holds its OS object (cleared by `Action::Close`).
    pub open: [bool; 2],
    /// Whether each side shut down its writing (a half-close).
    pub shut_write: [bool; 2],
    /// Every event each side emitted, in order.
    pub events: [Vec<Event>; 2],
    /// Every byte each side's core handed to the fake OS.
    pub wire: [Vec<u8>; 2],
}

impl Pair {
    /// A connected pair with Qt's defaults and unlimited knobs.
    pub fn new() -> Pair {
        Pair::with_config(config(), OpenMode::ReadWrite)
    }

    /// A connected pair whose client opened in `mode`; both sides use `config`.
    pub fn with_config(config: Config, mode: OpenMode) -> Pair {
        let mut a = Connection::new(config.clone());
        a.connect_to_server("pair", mode);
        let address = match a.poll_action() {
            Some(Action::Connect { address, .. }) => address,
            other => panic!("expected a connect, got {other:?}"),
        };
        a.handle_connected();
        let b = Connection::accepted(config, &address);
        let mut p = Pair {
            c: [a, b],
            now: T0,
            max_write: usize::MAX,
            max_read: usize::MAX,
            pipe_capacity: usize::MAX,
            pipes: [VecDeque::new(), VecDeque::new()],
            open: [true, true],
            shut_write: [false, false],
            events: [Vec::new(), Vec::new()],
            wire: [Vec::new(), Vec::new()],
        };
        p.collect_events();
        p
    }

    /// Moves every queued event into [`events`](Self::events).
    pub fn collect_events(&mut self) {
        for i in 0..2 {
            while let Some(e) = self.c[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Takes the events side `i` emitted since the last call.
    pub fn take_events(&mut self, i: usize) -> Vec<Event> {
        self.collect_events();
        std::mem::take(&mut self.events[i])
    }

    /// Performs side `i`'s queued actions. Returns whether there were any.
    pub fn do_actions(&mut self, i: usize) -> bool {
        let mut any = false;
        while let Some(a) = self.c[i].poll_action() {
            any = true;
            if a == Action::Close {
                self.open[i] = false;
            }
        }
        any
    }

    /// One write call of side `i`: what fits of `max_write` and the pipe.
    pub fn transmit(&mut self, i: usize) -> bool {
        let peer = 1 - i;
        if !self.open[i] || !self.c[i].wants_write() {
            return false;
        }
        if !self.open[peer] {
            self.c[i].handle_io_error(Direction::Write, OsError::new(Platform::Linux, EPIPE));
            return true;
        }
        let room = self.pipe_capacity.saturating_sub(self.pipes[peer].len());
        let budget = room.min(self.max_write);
        if budget == 0 {
            return false;
        }
        let mut taken = Vec::new();
        for chunk in self.c[i].transmit_chunks() {
            let n = chunk.len().min(budget - taken.len());
            taken.extend_from_slice(&chunk[..n]);
            if taken.len() == budget {
                break;
            }
        }
        self.pipes[peer].extend(taken.iter().copied());
        self.wire[i].extend_from_slice(&taken);
        self.c[i].handle_sent(taken.len());
        true
    }

    /// One read call of side `i`: up to `max_read` and `read_capacity()`;
    /// end of stream once the pipe is empty and the peer closed.
    pub fn receive(&mut self, i: usize) -> bool {
        let peer = 1 - i;
        if !self.open[i] {
            return false;
        }
        let cap = self.c[i].read_capacity();
        if cap == 0 {
            return false;
        }
        if self.pipes[i].is_empty() {
            if !self.open[peer] {
                // A driver probes for the hang-up when it reads end of stream.
                self.c[i].handle_hangup();
                self.c[i].handle_received(0);
                return true;
            }
            if self.shut_write[peer] {
                self.c[i].handle_received(0);
                return true;
            }
            return false;
        }
        let n = cap.min(self.max_read).min(self.pipes[i].len());
        let data: Vec<u8> = self.pipes[i].drain(..n).collect();
        self.c[i].recv_buf().put_slice(&data);
        self.c[i].handle_received(n);
        true
    }

    /// Side `i` shuts down its writing: the peer reads end of stream once
    /// the pipe is drained, and may keep writing to `i`.
    pub fn shutdown_write(&mut self, i: usize) {
        self.shut_write[i] = true;
    }

    /// A driver watching for the hang-up of a half-closed peer.
    pub fn watch_hangup(&mut self, i: usize) -> bool {
        if self.open[i] && self.c[i].wants_hangup_watch() && !self.open[1 - i] {
            self.c[i].handle_hangup();
            return true;
        }
        false
    }

    /// One round of the driver loop on both sides. Returns whether anything
    /// happened.
    pub fn step(&mut self) -> bool {
        let mut progress = false;
        for i in 0..2 {
            progress |= self.watch_hangup(i);
            progress |= self.do_actions(i);
            progress |= self.transmit(i);
            progress |= self.receive(i);
            progress |= self.do_actions(i);
        }
        self.collect_events();
        progress
    }

    /// Steps until nothing more happens (bounded, so a livelock fails).
    pub fn run(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair never settled");
    }

    /// Advances the virtual clock by `d` and fires due deadlines.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        for i in 0..2 {
            if self.c[i].poll_timeout().is_some_and(|t| t <= self.now) {
                self.c[i].handle_timeout(self.now);
            }
        }
        self.collect_events();
    }

    /// Everything side `i` has buffered, taken.
    pub fn read_all(&mut self, i: usize) -> Vec<u8> {
        self.c[i].read_all().map(|b| b.to_vec()).unwrap_or_default()
    }

    /// Runs the pair while side `i`'s user keeps reading everything, until
    /// nothing more happens. Returns what the user read.
    pub fn run_reading(&mut self, i: usize) -> Vec<u8> {
        let mut got = Vec::new();
        for _ in 0..1_000_000 {
            let progress = self.step();
            let chunk = self.read_all(i);
            if !progress && chunk.is_empty() {
                return got;
            }
            got.extend_from_slice(&chunk);
        }
        panic!("the pair never settled");
    }
}

/// Whether `events` holds `Disconnected` exactly once.
pub fn disconnected_once(events: &[Event]) -> bool {
    events.iter().filter(|e| **e == Event::Disconnected).count() == 1
}
