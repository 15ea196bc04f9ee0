//! Operation sequences against a model: one [`Op`] type, decoded with
//! `arbitrary`, shared by the property test (`tests/model.rs`), the corpus
//! replay (`tests/corpus_replay.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/ops.rs`, which includes this file by path).
//!
//! [`World`] holds a client `Connection` (side A), the accepted connection
//! of its current peer (side B), and a fake kernel between them that
//! behaves like Linux `AF_UNIX` stream sockets: a side may shut down its
//! writing (the peer reads end of stream without a hang-up, writes keep
//! flowing the other way), a closed object makes the peer's sends fail
//! with `EPIPE` and its polls report `POLLHUP`, and closing with unread
//! data makes the peer's next send or read fail with `ECONNRESET`. Windows
//! pipes cannot half-close.
//!
//! The model predicts every event each connection emits (a shadow of its
//! event queue, with the core's merging rules), its state, open mode,
//! queued and buffered bytes, errors, and the getters that describe the
//! end of a connection. After every op the world checks:
//! - the events, in order, are exactly the predicted ones; states move only
//!   along `State::can_move_to` edges and match `state()`; nothing is
//!   emitted after `Disconnected` until the next connect (except
//!   `AboutToClose` from the user's own `close`/`abort`); `Disconnected`
//!   and `ReadChannelFinished` come at most once per connection;
//! - bytes come out of the reader exactly as they went into the kernel, and
//!   out of the writer's queue exactly as the user wrote them (a byte model
//!   of both buffers); `BytesWritten` adds up to `bytes_sent()`;
//! - the read buffer never grows past the limit, and once it reached the
//!   limit nothing more is read until the user drained it completely;
//! - end of stream (a half-close, or a peer that is gone) is only reported
//!   once every byte the kernel took towards that side was read, so after
//!   a half-close everything the other side writes is delivered, and what
//!   a dead peer's completed writes put in the kernel is read out first;
//! - at the end the driver runs until quiet with the users reading: queues
//!   are empty and a side that is still reading has read everything sent
//!   to it (complete, in order);
//! - no panic.
#![allow(dead_code)]

pub mod names;

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use localsock_core::os::OsCode;
use localsock_core::{
    classify_connect_error, classify_io_error, AcceptedFrom, Action, Address, Config,
    ConnectVerdict, Connection, DeviceError, Direction, Event, IoVerdict, NameContext, OpenMode,
    OsError, Platform, SocketError, State, StreamError, Wait, WaitFor,
};

/// Which connection an op acts on.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client.
    A,
    /// The accepted peer (absent until a connect succeeds).
    B,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// The name a connect uses.
#[derive(Arbitrary, Debug, Clone)]
pub enum NameChoice {
    /// A valid relative name.
    Plain,
    /// A valid abstract name with a NUL in it.
    Abstract,
    /// `""`.
    Empty,
    /// Longer than any platform allows.
    TooLong,
    /// A NUL inside a path.
    Nul,
    /// Up to 24 arbitrary bytes, read as (lossy) UTF-8. Fixed-size, so a
    /// name cannot swallow the rest of the fuzz input.
    Other {
        /// How many of `bytes` to use.
        len: u8,
        /// The bytes.
        bytes: [u8; 24],
    },
}

/// The open mode of a connect.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Mode {
    /// `ReadOnly`.
    ReadOnly,
    /// `WriteOnly`.
    WriteOnly,
    /// `ReadWrite`.
    ReadWrite,
}

impl From<Mode> for OpenMode {
    fn from(m: Mode) -> OpenMode {
        match m {
            Mode::ReadOnly => OpenMode::ReadOnly,
            Mode::WriteOnly => OpenMode::WriteOnly,
            Mode::ReadWrite => OpenMode::ReadWrite,
        }
    }
}

/// An OS error, by name where the platform has it, or any number.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Code {
    /// `EAGAIN` (a full backlog on connect).
    Again,
    /// `ERROR_PIPE_BUSY`.
    PipeBusy,
    /// `ECONNREFUSED`.
    ConnRefused,
    /// `ENOENT` / `ERROR_FILE_NOT_FOUND`.
    NotFound,
    /// `EINTR`.
    Intr,
    /// `EINPROGRESS`.
    InProgress,
    /// `EACCES` / `ERROR_ACCESS_DENIED`.
    Access,
    /// `EMFILE` / `ERROR_TOO_MANY_OPEN_FILES`.
    MFile,
    /// `EPIPE` / `ERROR_BROKEN_PIPE`.
    Pipe,
    /// `ECONNRESET` / `ERROR_NO_DATA`.
    Reset,
    /// `ETIMEDOUT` / `ERROR_SEM_TIMEOUT`.
    TimedOut,
    /// `EMSGSIZE` / `ERROR_MORE_DATA`.
    MsgSize,
    /// Any number.
    Raw(i16),
}

impl Code {
    fn os(self, p: Platform) -> OsError {
        let w = p.is_windows();
        let code = match self {
            Code::Again | Code::PipeBusy if w => OsCode::PipeBusy,
            Code::Again | Code::PipeBusy => OsCode::Again,
            Code::ConnRefused if !w => OsCode::ConnRefused,
            Code::ConnRefused => OsCode::PipeNotConnected,
            Code::NotFound if w => OsCode::FileNotFound,
            Code::NotFound => OsCode::NoEnt,
            Code::Intr if !w => OsCode::Intr,
            Code::Intr => OsCode::IoPending,
            Code::InProgress if !w => OsCode::InProgress,
            Code::InProgress => OsCode::IoPending,
            Code::Access if w => OsCode::AccessDenied,
            Code::Access => OsCode::Acces,
            Code::MFile if w => OsCode::TooManyOpenFiles,
            Code::MFile => OsCode::MFile,
            Code::Pipe if w => OsCode::BrokenPipe,
            Code::Pipe => OsCode::Pipe,
            Code::Reset if w => OsCode::NoData,
            Code::Reset => OsCode::ConnReset,
            Code::TimedOut if w => OsCode::SemTimeout,
            Code::TimedOut => OsCode::TimedOut,
            Code::MsgSize if w => OsCode::MoreData,
            Code::MsgSize => OsCode::MsgSize,
            Code::Raw(n) => return OsError::new(p, i32::from(n)),
        };
        OsError::from_code(p, code).expect("every code used here exists on its platform")
    }
}

/// One user command or driver input.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// `connect_to_server` on A.
    Connect {
        /// The name.
        name: NameChoice,
        /// The open mode.
        mode: Mode,
    },
    /// `write` (owned) or `write_slice` of `len % 20000` bytes.
    Write {
        /// Where.
        side: Side,
        /// Size.
        len: u16,
        /// `write(Bytes)` rather than `write_slice`.
        owned: bool,
    },
    /// A large owned write (16..=143 KiB), the zero-copy path.
    WriteLarge {
        /// Where.
        side: Side,
        /// Size in KiB, modulo 128, plus 16.
        kib: u8,
    },
    /// `read` into a buffer of `len`.
    Read {
        /// Where.
        side: Side,
        /// Buffer size.
        len: u16,
    },
    /// `read_bytes(len)`.
    ReadBytes {
        /// Where.
        side: Side,
        /// Most bytes.
        len: u16,
    },
    /// `read_line(max)`.
    ReadLine {
        /// Where.
        side: Side,
        /// Most bytes (0 = no limit).
        max: u8,
    },
    /// `peek` into a buffer of `len`.
    Peek {
        /// Where.
        side: Side,
        /// Buffer size.
        len: u16,
    },
    /// `skip(len)`.
    Skip {
        /// Where.
        side: Side,
        /// Most bytes.
        len: u16,
    },
    /// `set_read_buffer_size(size)`.
    SetReadBufferSize {
        /// Where.
        side: Side,
        /// The limit (0 = unlimited).
        size: u16,
    },
    /// `disconnect_from_server`.
    Disconnect(Side),
    /// `abort`.
    Abort(Side),
    /// `close`.
    Close(Side),
    /// `report_wait_timeout`.
    WaitTimeout(Side),
    /// The OS finished A's connect (a new peer B is accepted).
    HandleConnected,
    /// A's connect failed.
    HandleConnectError(Code),
    /// One write call: up to `max + 1` bytes of the transmit chunks. It
    /// fails (`EPIPE`, or `ECONNRESET` once if the peer closed with unread
    /// data) when the peer's object is closed or this side shut down its
    /// writing.
    Transmit {
        /// Who writes.
        side: Side,
        /// Most bytes minus one.
        max: u16,
    },
    /// One read call: up to `max + 1` bytes from the kernel; once it is
    /// drained and the peer closed or shut down its writing, end of stream
    /// (after the hang-up probe of a Unix driver) or a pending `ECONNRESET`.
    Receive {
        /// Who reads.
        side: Side,
        /// Most bytes minus one.
        max: u16,
    },
    /// Raw bytes appear in the kernel towards `side` (a peer writing
    /// around its core): `bytes` repeated `repeat % 64 + 1` times.
    Inject {
        /// Who will receive them.
        side: Side,
        /// The bytes (fixed-size, so they cannot swallow the input).
        bytes: [u8; 16],
        /// Repetitions.
        repeat: u8,
    },
    /// The driver reports end of stream out of the blue, whatever the
    /// kernel holds (a half-close to the core unless it knows the peer is
    /// gone).
    Eof(Side),
    /// An I/O error on a read (`write == false`) or a write.
    IoError {
        /// Where.
        side: Side,
        /// On a write.
        write: bool,
        /// Which.
        code: Code,
    },
    /// Time passes; due deadlines fire.
    Advance {
        /// Milliseconds.
        ms: u16,
    },
    /// `handle_timeout` now, due or not.
    SpuriousTimeout(Side),
    /// A read straight into the user's buffer, if allowed.
    ReadDirect {
        /// Who reads.
        side: Side,
        /// Buffer size.
        len: u16,
    },
    /// A write straight from the user's buffer (64 KiB + `extra`), if allowed.
    WriteDirect {
        /// Who writes.
        side: Side,
        /// Extra bytes over 64 KiB.
        extra: u16,
    },
    /// The driver runs until quiet with unlimited reads and writes, and
    /// watches for hang-ups (the users do not read).
    Pump,
    /// `side` half-closes as the runtimes' `shutdown_write` does: it
    /// flushes its queue, then shuts down its write direction (Unix only;
    /// Windows pipes refuse, so there it does nothing). The other side
    /// reads end of stream once the kernel is drained, without a hang-up,
    /// and may keep writing to `side`; `side`'s own later sends fail with
    /// `EPIPE`.
    ShutdownWrite(Side),
    /// The process at `side` dies: its OS object closes without its core
    /// knowing. What it handed to the kernel stays in flight towards the
    /// other side; what was in flight towards it is lost (and, on Linux,
    /// makes the other side's next send or read fail with `ECONNRESET`).
    /// A vanished client is replaced by a fresh, unconnected one.
    Vanish(Side),
    /// The driver's poll reports a hang-up on `side` (`POLLHUP`), if the
    /// kernel has one to report: the peer's object is closed, or both
    /// directions are shut down. Data may still be in flight.
    Hangup(Side),
    /// One of Qt's `waitFor*` calls starts on `side` (`begin_wait`). The
    /// ops that follow are what the driver does during it; its outcome is
    /// checked after each op until it is over.
    Wait {
        /// Who waits.
        side: Side,
        /// For what.
        kind: WaitKind,
    },
    /// The deadline of `side`'s wait passes (`wait_timed_out`).
    WaitExpires(Side),
    /// `set_connect_timeout`: applies from the next connect.
    SetConnectTimeout {
        /// Where.
        side: Side,
        /// Milliseconds.
        ms: u16,
    },
    /// `set_drain_timeout`: applies to the next disconnect, and at once
    /// (counted from now) while Closing.
    SetDrainTimeout {
        /// Where.
        side: Side,
        /// Milliseconds, or none (wait as long as the peer is there).
        ms: Option<u16>,
    },
    /// `set_os_waits_for_backlog` on A: a full backlog is retried at once,
    /// and the retry may block until the connect deadline.
    OsWaitsForBacklog(bool),
}

/// Which `waitFor*` call.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// `waitForConnected`.
    Connected,
    /// `waitForReadyRead`.
    ReadyRead,
    /// `waitForBytesWritten`.
    BytesWritten,
    /// `waitForDisconnected`.
    Disconnected,
}

impl From<WaitKind> for WaitFor {
    fn from(k: WaitKind) -> WaitFor {
        match k {
            WaitKind::Connected => WaitFor::Connected,
            WaitKind::ReadyRead => WaitFor::ReadyRead,
            WaitKind::BytesWritten => WaitFor::BytesWritten,
            WaitKind::Disconnected => WaitFor::Disconnected,
        }
    }
}

/// Settings of a run.
#[derive(Arbitrary, Debug, Clone)]
pub struct Setup {
    /// Windows rules (pipes, Win32 codes) instead of Linux.
    pub windows: bool,
    /// The drain deadline, if any.
    pub drain_timeout_ms: Option<u16>,
    /// The connect deadline.
    pub connect_timeout_ms: u16,
}

/// A whole run: settings and operations.
#[derive(Arbitrary, Debug, Clone)]
pub struct Scenario {
    /// Settings.
    pub setup: Setup,
    /// Operations, in order.
    pub ops: Vec<Op>,
}

impl Scenario {
    /// Decodes a scenario from raw bytes (as the fuzzer and the corpus give them).
    ///
    /// Ops are decoded one after another until the bytes run out (rather
    /// than with `arbitrary`'s collection encoding, whose continuation bits
    /// would make random input stop after an op or two).
    pub fn from_bytes(data: &[u8]) -> Option<Scenario> {
        let mut u = Unstructured::new(data);
        let setup = Setup::arbitrary(&mut u).ok()?;
        let mut ops = Vec::new();
        while !u.is_empty() && ops.len() < MAX_OPS {
            match Op::arbitrary(&mut u) {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        Some(Scenario { setup, ops })
    }
}

/// What a run did, so tests can check that it exercised something.
#[derive(Debug, Default, Clone, Copy)]
pub struct Report {
    /// Ops applied.
    pub ops: usize,
    /// Successful connects (a peer was accepted).
    pub connections: usize,
    /// Bytes users read (all connections, both directions).
    pub bytes_read: usize,
    /// Whether the end-of-run completeness check ran with both sides
    /// connected when it started.
    pub checked_complete: bool,
    /// Events seen.
    pub events: usize,
    /// Write directions shut down (`ShutdownWrite` that took effect).
    pub shutdowns: usize,
    /// Ends of stream the kernel reported (each checked for completeness).
    pub ends_of_stream: usize,
    /// Ends of stream that were half-closes (the side stayed connected).
    pub half_closes: usize,
    /// Sends that failed because the peer was gone or shut down.
    pub send_failures: usize,
    /// Bytes read from the kernel after the core learnt its peer was gone.
    pub bytes_after_gone: usize,
    /// Waits that ended with an outcome (not a timeout).
    pub waits_over: usize,
}

/// What a read, flush or refusal comes to, without the error's details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Device(DeviceError),
    Socket(SocketError),
}

fn outcome(r: Option<Result<(), StreamError>>) -> Option<Result<(), Outcome>> {
    r.map(|r| {
        r.map_err(|e| match e {
            StreamError::Device(d) => Outcome::Device(d),
            StreamError::Socket(s) => Outcome::Socket(s.kind()),
        })
    })
}

/// The model of one side: what its events told so far, and what the core
/// must do next (its state, flags and event queue, predicted).
#[derive(Debug)]
struct SideModel {
    // ----- as the events tell it
    /// The state the `StateChanged` events led to.
    seen: State,
    /// `Disconnected` was emitted and no connect followed.
    dead: bool,
    /// `ReadChannelFinished` was emitted during this connection.
    rcf_seen: bool,
    /// Every event since the last connect (for tests).
    log: Vec<Event>,
    // ----- predicted
    state: State,
    mode: Option<OpenMode>,
    /// The mode of the connect under way.
    requested: OpenMode,
    /// No more data will be read on this connection (end of stream seen).
    read_finished: bool,
    /// The peer is gone and reading goes on to end of stream: whether
    /// writes were pending when it went.
    gone: Option<bool>,
    /// `ReadChannelFinished` was queued during this connection.
    rcf: bool,
    /// Queued bytes were dropped because the connection failed.
    lost: bool,
    /// The read buffer reached the limit: nothing is read until it is empty.
    paused: bool,
    /// The read-buffer limit.
    limit: usize,
    /// What ended (or is ending) the connection.
    fatal: Option<SocketError>,
    /// Qt's `error()`.
    error: Option<SocketError>,
    connect_deadline: Option<Duration>,
    drain_deadline: Option<Duration>,
    /// This object's configuration (the setters change its own copy).
    connect_timeout: Duration,
    drain_timeout: Option<Duration>,
    /// `bytes_sent()` and `bytes_received()` (over the object's life).
    sent: u64,
    received: u64,
    /// The events the core must have queued since the last op.
    want: Vec<Event>,
    // ----- bytes
    /// What the read buffer must hold.
    rx: BytesMut,
    /// What the write queue must hold: the pattern stream from here to `seq`
    /// (everything a user writes is the next stretch of its pattern).
    tx_start: usize,
    /// Next pattern byte this side's user writes.
    seq: usize,
    /// Bytes put into the kernel towards this side during this connection.
    into_kernel: usize,
    /// Bytes this side's user consumed (read, skipped, direct).
    consumed: usize,
}

impl SideModel {
    /// A fresh, unconnected socket.
    fn new(config: &Config) -> SideModel {
        SideModel {
            seen: State::Unconnected,
            dead: false,
            rcf_seen: false,
            log: Vec::new(),
            state: State::Unconnected,
            mode: None,
            requested: OpenMode::ReadWrite,
            read_finished: false,
            gone: None,
            rcf: false,
            lost: false,
            paused: false,
            limit: 0,
            fatal: None,
            error: None,
            connect_deadline: None,
            drain_deadline: None,
            connect_timeout: config.connect_timeout,
            drain_timeout: config.drain_timeout,
            sent: 0,
            received: 0,
            want: Vec::new(),
            rx: BytesMut::new(),
            tx_start: 0,
            seq: 0,
            into_kernel: 0,
            consumed: 0,
        }
    }

    /// An accepted socket: connected, read-write, nothing queued.
    fn accepted(config: &Config) -> SideModel {
        let mut m = SideModel::new(config);
        m.seen = State::Connected;
        m.state = State::Connected;
        m.mode = Some(OpenMode::ReadWrite);
        m
    }

    fn tx_len(&self) -> usize {
        self.seq - self.tx_start
    }

    fn clear_tx(&mut self) {
        self.tx_start = self.seq;
    }

    fn live(&self) -> bool {
        matches!(self.state, State::Connected | State::Closing)
    }

    fn can_read(&self) -> bool {
        self.mode.is_some_and(OpenMode::can_read)
    }

    fn wants_write(&self) -> bool {
        self.live() && self.tx_len() > 0 && self.gone.is_none()
    }

    /// Whether the driver watches for the hang-up (`wants_hangup_watch()`).
    fn watches_hangup(&self) -> bool {
        self.state == State::Connected && self.read_finished && self.gone.is_none()
    }

    /// Whether the driver may read now (`read_capacity() > 0`).
    fn may_read(&self) -> bool {
        self.state == State::Connected
            && !self.read_finished
            && !self.paused
            && (self.limit == 0
                || self.mode == Some(OpenMode::WriteOnly)
                || self.rx.len() < self.limit)
    }

    // ----- the shadow event queue (the core's merging rules)

    fn push(&mut self, e: Event) {
        if e == Event::Error(SocketError::SocketTimeout) && self.want.last() == Some(&e) {
            return;
        }
        self.want.push(e);
    }

    fn push_bytes_written(&mut self, n: usize) {
        for e in self.want.iter_mut().rev() {
            match e {
                Event::BytesWritten(m) => {
                    *m = m.saturating_add(n);
                    return;
                }
                Event::ReadyRead => {}
                _ => break,
            }
        }
        self.want.push(Event::BytesWritten(n));
    }

    fn push_ready_read(&mut self) {
        for e in self.want.iter().rev() {
            match e {
                Event::ReadyRead => return,
                Event::BytesWritten(_) => {}
                _ => break,
            }
        }
        self.want.push(Event::ReadyRead);
    }

    fn set_state(&mut self, s: State) {
        assert!(
            self.state.can_move_to(s),
            "the model moves {:?} -> {s:?}",
            self.state
        );
        self.state = s;
        self.push(Event::StateChanged(s));
    }

    fn push_read_channel_finished(&mut self) {
        if !self.rcf {
            self.rcf = true;
            self.push(Event::ReadChannelFinished);
        }
    }

    // ----- transitions (rules 1 to 6)

    /// A new connection starts: everything of the old one is dropped.
    fn start_connection(&mut self) {
        self.error = None;
        self.fatal = None;
        self.rx.clear();
        self.clear_tx();
        self.read_finished = false;
        self.rcf = false;
        self.paused = false;
        self.gone = None;
        self.lost = false;
        self.mode = None;
        self.drain_deadline = None;
        self.connect_deadline = None;
        self.dead = false;
        self.rcf_seen = false;
        self.log.clear();
    }

    fn connect_failed(&mut self, kind: SocketError) {
        self.error = Some(kind);
        self.fatal = Some(kind);
        self.push(Event::Error(kind));
        self.connect_deadline = None;
        self.mode = None;
        self.set_state(State::Unconnected);
    }

    fn cancel_connect(&mut self, read_channel_finished: bool) {
        self.connect_deadline = None;
        self.mode = None;
        self.set_state(State::Unconnected);
        if read_channel_finished {
            self.push(Event::ReadChannelFinished);
        }
    }

    /// Connected or Closing → Unconnected, with Qt's closing signals.
    fn finish_close(&mut self) {
        self.drain_deadline = None;
        self.read_finished = true;
        self.paused = false;
        self.gone = None;
        self.set_state(State::Unconnected);
        self.push_read_channel_finished();
        self.push(Event::Disconnected);
    }

    /// Error, Closing (if `closing_step` and Connected), Unconnected,
    /// ReadChannelFinished (once), Disconnected; queued bytes are lost.
    fn end_with_fatal(&mut self, closing_step: bool) {
        let kind = *self.fatal.get_or_insert(SocketError::PeerClosed);
        self.error = Some(kind);
        self.push(Event::Error(kind));
        self.lost |= self.tx_len() > 0;
        self.clear_tx();
        if closing_step && self.state == State::Connected {
            self.set_state(State::Closing);
        }
        self.finish_close();
    }

    /// The peer is gone: nothing more can be sent (rule 2).
    fn note_gone(&mut self, kind: SocketError) {
        let had_pending = self.tx_len() > 0;
        self.lost |= had_pending;
        self.clear_tx();
        self.fatal = Some(kind);
        self.gone = Some(had_pending);
    }

    /// A gone peer ends the connection now unless reading goes on.
    fn settle_gone(&mut self) {
        let Some(had_pending) = self.gone else {
            return;
        };
        if self.read_finished {
            self.end_with_fatal(had_pending);
        } else if self.state == State::Closing || !self.can_read() {
            self.end_with_fatal(true);
        }
    }

    /// End of stream (rules 1 and 5). Returns whether it was a half-close.
    fn eof(&mut self, windows: bool) -> bool {
        if self.read_finished || !self.live() {
            return false;
        }
        if self.gone.is_none() && windows {
            self.note_gone(SocketError::PeerClosed);
        }
        if self.gone.is_some() {
            self.end_with_fatal(true);
            false
        } else {
            self.read_finished = true;
            self.paused = false;
            self.push_read_channel_finished();
            true
        }
    }

    /// The peer hung up (rule 2).
    fn hangup(&mut self) {
        if !self.live() || self.gone.is_some() {
            return;
        }
        self.note_gone(SocketError::PeerClosed);
        self.settle_gone();
    }

    /// An I/O error (rules 3 and 4).
    fn io_error(&mut self, direction: Direction, err: OsError) {
        if !self.live() {
            return;
        }
        match classify_io_error(direction, err) {
            IoVerdict::Retry => {}
            IoVerdict::Fatal(SocketError::PeerClosed) => {
                if self.gone.is_none() {
                    self.note_gone(SocketError::PeerClosed);
                }
                if direction == Direction::Read && !self.read_finished {
                    self.end_with_fatal(true);
                } else {
                    self.settle_gone();
                }
            }
            IoVerdict::Fatal(kind) => {
                let had_pending = self.tx_len() > 0;
                self.fatal = Some(kind);
                self.end_with_fatal(had_pending);
            }
        }
    }

    fn disconnect(&mut self, now: Duration) {
        match self.state {
            State::Unconnected | State::Closing => {}
            State::Connecting => self.cancel_connect(false),
            State::Connected => {
                if self.gone.is_some() {
                    self.end_with_fatal(true);
                    return;
                }
                self.set_state(State::Closing);
                if self.tx_len() == 0 {
                    self.finish_close();
                } else {
                    self.drain_deadline = self.drain_timeout.map(|d| now.saturating_add(d));
                }
            }
        }
    }

    fn close(&mut self, now: Duration) {
        if self.mode.is_some() {
            self.push(Event::AboutToClose);
        }
        self.mode = None;
        self.rx.clear();
        match self.state {
            State::Connecting => self.cancel_connect(false),
            _ => self.disconnect(now),
        }
    }

    /// Rule 6: AboutToClose comes last.
    fn abort(&mut self) {
        self.clear_tx();
        self.lost = false;
        let was_open = self.mode.is_some();
        match self.state {
            State::Connected | State::Closing => self.finish_close(),
            State::Connecting => self.cancel_connect(true),
            State::Unconnected => {}
        }
        if was_open {
            self.push(Event::AboutToClose);
        }
        self.mode = None;
        self.rx.clear();
    }

    /// A deadline may be due (the connect retry timer fires no event).
    fn timeout(&mut self, now: Duration) {
        match self.state {
            State::Connecting if self.connect_deadline.is_some_and(|d| now >= d) => {
                self.connect_failed(SocketError::SocketTimeout);
            }
            State::Closing if self.drain_deadline.is_some_and(|d| now >= d) => {
                self.fatal = Some(SocketError::SocketTimeout);
                self.end_with_fatal(false);
            }
            _ => {}
        }
    }

    /// The OS took `n` queued bytes (`handle_sent`).
    fn sent_queued(&mut self, n: usize) {
        if !self.live() || n == 0 {
            return;
        }
        assert!(n <= self.tx_len());
        self.tx_start += n;
        self.sent += n as u64;
        self.push_bytes_written(n);
        if self.state == State::Closing && self.tx_len() == 0 {
            self.finish_close();
        }
    }

    /// The driver read `data` into the buffer (`handle_received`).
    fn received_buffered(&mut self, data: &[u8]) {
        self.received += data.len() as u64;
        if self.can_read() {
            self.rx.extend_from_slice(data);
            if self.limit > 0 && self.rx.len() >= self.limit {
                self.paused = true;
            }
            self.push_ready_read();
        }
    }

    /// The user consumed buffered bytes: an empty buffer resumes reading.
    fn consumed_buffered(&mut self, n: usize) {
        self.rx.advance(n);
        self.consumed += n;
        if self.rx.is_empty() {
            self.paused = false;
        }
    }

    fn set_read_buffer_size(&mut self, size: usize) {
        self.limit = size;
        if size == 0 || self.rx.len() < size {
            self.paused = false;
        }
    }

    /// What `write` must say.
    fn write_verdict(&self) -> Result<(), DeviceError> {
        match self.mode {
            None => Err(DeviceError::NotOpen),
            Some(OpenMode::ReadOnly) => Err(DeviceError::ReadOnly),
            Some(_) if self.state == State::Unconnected || self.gone.is_some() => {
                Err(DeviceError::NotConnected)
            }
            Some(_) => Ok(()),
        }
    }

    fn read_verdict(&self) -> Result<(), DeviceError> {
        match self.mode {
            None => Err(DeviceError::NotOpen),
            Some(OpenMode::WriteOnly) => Err(DeviceError::WriteOnly),
            Some(_) => Ok(()),
        }
    }

    /// `read_outcome_when_empty()`.
    fn read_outcome(&self) -> Option<Result<(), Outcome>> {
        if self.state == State::Connecting {
            // The device opens when the connect succeeds.
            return None;
        }
        if let Err(e) = self.read_verdict() {
            return Some(Err(Outcome::Device(e)));
        }
        if !self.rx.is_empty() {
            return None;
        }
        match self.state {
            State::Connected if !self.read_finished => None,
            _ => match self.fatal {
                Some(k) if k != SocketError::PeerClosed => Some(Err(Outcome::Socket(k))),
                _ => Some(Ok(())),
            },
        }
    }

    /// `begin_wait(kind)`: the model's baseline.
    fn begin_wait(&mut self, kind: WaitKind) -> ModelWait {
        let mark = match kind {
            WaitKind::ReadyRead => {
                if self.limit == 0 || self.rx.len() < self.limit {
                    self.paused = false;
                }
                self.received
            }
            WaitKind::BytesWritten => self.sent,
            WaitKind::Connected | WaitKind::Disconnected => 0,
        };
        let refused = match kind {
            WaitKind::Connected => false,
            WaitKind::ReadyRead | WaitKind::Disconnected => self.state == State::Unconnected,
            WaitKind::BytesWritten => self.state == State::Unconnected || self.tx_len() == 0,
        };
        ModelWait {
            kind,
            mark,
            refused,
        }
    }

    /// Nothing the OS or the clock can do changes this connection.
    fn idle(&self) -> bool {
        let deadline = match self.state {
            State::Closing => self.drain_deadline,
            _ => None,
        };
        self.state != State::Connecting
            && !self.may_read()
            && !self.wants_write()
            && !self.watches_hangup()
            && deadline.is_none()
    }

    /// `wait_outcome()`, by error kind.
    fn wait_outcome(&self, w: &ModelWait) -> Option<Result<(), SocketError>> {
        if w.refused {
            return Some(Err(SocketError::Operation));
        }
        let ended = Some(Err(self.fatal.unwrap_or(SocketError::PeerClosed)));
        let outcome = match w.kind {
            WaitKind::Connected => match self.state {
                State::Connecting => None,
                State::Connected => Some(Ok(())),
                _ => Some(Err(self.error.unwrap_or(SocketError::Operation))),
            },
            WaitKind::ReadyRead => {
                if self.received > w.mark {
                    Some(Ok(()))
                } else if !matches!(self.state, State::Connected | State::Connecting) {
                    ended
                } else if self.read_finished && self.state == State::Connected {
                    // The peer half-closed: no more data will come.
                    Some(Err(SocketError::PeerClosed))
                } else if self.state == State::Connected && !self.may_read() {
                    // The buffer is full.
                    Some(Err(SocketError::Operation))
                } else {
                    None
                }
            }
            WaitKind::BytesWritten => {
                if self.sent > w.mark {
                    Some(Ok(()))
                } else if self.state == State::Unconnected {
                    ended
                } else {
                    None
                }
            }
            WaitKind::Disconnected => (self.state == State::Unconnected).then_some(Ok(())),
        };
        if outcome.is_none() && self.idle() {
            return Some(Err(SocketError::Operation));
        }
        outcome
    }

    /// `flush_outcome()`.
    fn flush_outcome(&self) -> Option<Result<(), Outcome>> {
        if self.wants_write() || self.state == State::Connecting {
            return None;
        }
        if self.lost {
            let k = self.fatal.unwrap_or(SocketError::PeerClosed);
            return Some(Err(Outcome::Socket(k)));
        }
        Some(Ok(()))
    }
}

/// The model's view of a wait in progress.
#[derive(Debug, Clone, Copy)]
struct ModelWait {
    kind: WaitKind,
    mark: u64,
    refused: bool,
}

/// The system under test plus its model.
#[derive(Debug)]
pub struct World {
    platform: Platform,
    config: Config,
    /// What the server side's accepted connections share, as a server
    /// keeps it: reused while the address stays the same.
    accepted_from: Option<AcceptedFrom>,
    now: Duration,
    conns: [Option<Connection>; 2],
    // ----- the fake kernel
    /// Bytes in the kernel towards each side.
    pipes: [BytesMut; 2],
    /// Whether each side holds its OS object.
    open: [bool; 2],
    /// Whether each side shut down its writing (a half-close).
    shut_write: [bool; 2],
    /// A pending `ECONNRESET` per side (Linux's `sk_err`): its peer closed
    /// with unread data. The next send or read (at the end of the data)
    /// reports it, once.
    reset: [bool; 2],
    /// A's connect attempt under way (an `Action::Connect` was performed).
    connect_pending: Option<Address>,
    models: [SideModel; 2],
    /// The side whose user ran `close` or `abort` in the current op.
    closer: Option<usize>,
    /// The wait each side's user is in, if any.
    waits: [Option<(Wait, ModelWait)>; 2],
    report: Report,
}

/// Most ops decoded from one input.
pub const MAX_OPS: usize = 2000;

const CYCLE: usize = 251;

/// The pattern stream from `seed` on: byte `i` is `i % 251` (so a `\n`
/// comes every 251 bytes).
fn pattern(seed: usize, n: usize) -> Vec<u8> {
    let table: Vec<u8> = (0..CYCLE).map(|b| b as u8).collect();
    let mut out = Vec::with_capacity(n);
    let mut at = seed % CYCLE;
    while out.len() < n {
        let take = (CYCLE - at).min(n - out.len());
        out.extend_from_slice(&table[at..at + take]);
        at = 0;
    }
    out
}

/// Whether `data` is the pattern stream from `seed` on.
fn is_pattern(seed: usize, data: &[u8]) -> bool {
    data == pattern(seed, data.len()).as_slice()
}

impl World {
    /// A world with a fresh, unconnected client.
    pub fn new(setup: &Setup) -> World {
        let platform = if setup.windows {
            Platform::Windows
        } else {
            Platform::Linux
        };
        let temp = if setup.windows { "" } else { "/tmp" };
        let mut config = Config::new(NameContext::new(platform, temp));
        config.connect_timeout = Duration::from_millis(u64::from(setup.connect_timeout_ms));
        config.drain_timeout = setup
            .drain_timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)));
        World {
            platform,
            conns: [Some(Connection::new(config.clone())), None],
            accepted_from: None,
            now: Duration::ZERO,
            pipes: [BytesMut::new(), BytesMut::new()],
            open: [false, false],
            shut_write: [false, false],
            reset: [false, false],
            connect_pending: None,
            models: [SideModel::new(&config), SideModel::accepted(&config)],
            closer: None,
            waits: [None, None],
            report: Report::default(),
            config,
        }
    }

    /// Breaks the model on purpose: tests use this to show the checks fire.
    pub fn corrupt_for_test(&mut self) {
        self.models[0].tx_start = self.models[0].tx_start.wrapping_sub(1);
    }

    /// Runs a whole scenario, panicking on the first broken invariant.
    pub fn run(scenario: &Scenario) -> Report {
        let mut w = World::new(&scenario.setup);
        for op in &scenario.ops {
            w.apply(op);
        }
        w.finish()
    }

    /// What the run did so far.
    pub fn report(&self) -> Report {
        self.report
    }

    /// The connection of `side`, if there is one.
    pub fn connection(&self, side: Side) -> Option<&Connection> {
        self.conns[side.index()].as_ref()
    }

    /// The events `side` emitted since its last connect (or accept).
    pub fn events(&self, side: Side) -> &[Event] {
        &self.models[side.index()].log
    }

    fn conn(&mut self, i: usize) -> Option<&mut Connection> {
        self.conns[i].as_mut()
    }

    fn windows(&self) -> bool {
        self.platform.is_windows()
    }

    /// Applies one op and checks every invariant.
    pub fn apply(&mut self, op: &Op) {
        self.report.ops += 1;
        self.closer = None;
        let now = self.now;
        match op {
            Op::Connect { name, mode } => self.connect(name, *mode),
            Op::Write { side, len, owned } => {
                let i = side.index();
                let n = usize::from(*len) % 20_000;
                self.user_write(i, n, *owned);
            }
            Op::WriteLarge { side, kib } => {
                let n = (usize::from(*kib) % 128 + 16) * 1024;
                self.user_write(side.index(), n, true);
            }
            Op::Read { side, len } => {
                let i = side.index();
                let mut buf = vec![0u8; usize::from(*len)];
                if let Some(c) = self.conn(i) {
                    let r = c.read(&mut buf);
                    let r = r.map(|n| buf[..n].to_vec());
                    self.check_read(i, r, usize::from(*len));
                }
            }
            Op::ReadBytes { side, len } => {
                let i = side.index();
                if let Some(c) = self.conn(i) {
                    let r = c.read_bytes(usize::from(*len)).map(|b| b.to_vec());
                    self.check_read(i, r, usize::from(*len));
                }
            }
            Op::ReadLine { side, max } => {
                let i = side.index();
                if let Some(c) = self.conn(i) {
                    let r = c.read_line(usize::from(*max)).map(|b| b.to_vec());
                    let m = &self.models[i];
                    if let Ok(got) = &r {
                        let limit = if *max == 0 {
                            m.rx.len()
                        } else {
                            usize::from(*max).min(m.rx.len())
                        };
                        let want =
                            m.rx.iter()
                                .take(limit)
                                .position(|&b| b == b'\n')
                                .map_or(limit, |p| p + 1);
                        assert_eq!(got.len(), want, "read_line length");
                    }
                    self.check_read(i, r, usize::MAX);
                }
            }
            Op::Peek { side, len } => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    let mut buf = vec![0u8; usize::from(*len)];
                    let m = &self.models[i];
                    match c.peek(&mut buf) {
                        Ok(n) => {
                            assert_eq!(m.read_verdict(), Ok(()));
                            assert_eq!(n, m.rx.len().min(buf.len()));
                            assert_eq!(&m.rx[..n], &buf[..n], "peek content");
                        }
                        Err(e) => assert_eq!(Err(e), m.read_verdict()),
                    }
                }
            }
            Op::Skip { side, len } => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    let m = &mut self.models[i];
                    match c.skip(usize::from(*len)) {
                        Ok(n) => {
                            assert_eq!(m.read_verdict(), Ok(()));
                            assert_eq!(n, m.rx.len().min(usize::from(*len)));
                            m.consumed_buffered(n);
                            self.report.bytes_read += n;
                        }
                        Err(e) => assert_eq!(Err(e), m.read_verdict()),
                    }
                }
            }
            Op::SetReadBufferSize { side, size } => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    c.set_read_buffer_size(usize::from(*size));
                    self.models[i].set_read_buffer_size(usize::from(*size));
                }
            }
            Op::Disconnect(side) => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    self.models[i].disconnect(now);
                    c.disconnect_from_server(now);
                }
            }
            Op::Abort(side) => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    self.models[i].abort();
                    c.abort();
                    self.closer = Some(i);
                }
            }
            Op::Close(side) => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    self.models[i].close(now);
                    c.close(now);
                    self.closer = Some(i);
                }
            }
            Op::WaitTimeout(side) => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    let m = &mut self.models[i];
                    if m.state != State::Unconnected {
                        m.error = Some(SocketError::SocketTimeout);
                        m.push(Event::Error(SocketError::SocketTimeout));
                    }
                    c.report_wait_timeout();
                }
            }
            Op::HandleConnected => {
                let c = self.conns[0].as_mut().unwrap();
                let m = &mut self.models[0];
                match self.connect_pending.take() {
                    Some(address) => {
                        assert_eq!(m.state, State::Connecting, "a connect under way");
                        m.connect_deadline = None;
                        m.mode = Some(m.requested);
                        m.set_state(State::Connected);
                        m.push(Event::Connected);
                        c.handle_connected();
                        if c.state() == State::Connected {
                            self.accept_peer(&address);
                        }
                    }
                    None if m.state != State::Connecting => {
                        // A stray success is ignored.
                        c.handle_connected();
                    }
                    None => {}
                }
            }
            Op::HandleConnectError(code) => {
                let err = code.os(self.platform);
                let c = self.conns[0].as_mut().unwrap();
                let m = &mut self.models[0];
                if self.connect_pending.take().is_some() || m.state != State::Connecting {
                    if m.state == State::Connecting {
                        match classify_connect_error(err) {
                            ConnectVerdict::Interrupted => {}
                            ConnectVerdict::InProgress => {
                                m.connect_deadline
                                    .get_or_insert(now.saturating_add(m.connect_timeout));
                            }
                            ConnectVerdict::Retry => {
                                let d = *m
                                    .connect_deadline
                                    .get_or_insert(now.saturating_add(m.connect_timeout));
                                if now >= d {
                                    m.connect_failed(SocketError::SocketTimeout);
                                }
                            }
                            ConnectVerdict::Fail(kind) => m.connect_failed(kind),
                        }
                    }
                    c.handle_connect_error(err, now);
                }
            }
            Op::Transmit { side, max } => {
                self.transmit(side.index(), usize::from(*max) + 1);
            }
            Op::Receive { side, max } => {
                self.receive(side.index(), usize::from(*max) + 1);
            }
            Op::Inject {
                side,
                bytes,
                repeat,
            } => {
                let i = side.index();
                if self.conns[i].is_some() && self.open[i] {
                    let times = usize::from(*repeat) % 64 + 1;
                    for _ in 0..times {
                        self.pipes[i].extend_from_slice(bytes);
                    }
                    self.models[i].into_kernel += times * bytes.len();
                }
            }
            Op::Eof(side) => {
                let i = side.index();
                let windows = self.windows();
                if self.open[i] {
                    if let Some(c) = self.conns[i].as_mut() {
                        self.models[i].eof(windows);
                        c.handle_received(0);
                    }
                }
            }
            Op::IoError { side, write, code } => {
                let i = side.index();
                let err = code.os(self.platform);
                let dir = if *write {
                    Direction::Write
                } else {
                    Direction::Read
                };
                if let Some(c) = self.conns[i].as_mut() {
                    self.models[i].io_error(dir, err);
                    c.handle_io_error(dir, err);
                }
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(*ms));
                let now = self.now;
                for i in 0..2 {
                    if let Some(c) = self.conns[i].as_mut() {
                        self.models[i].timeout(now);
                        if c.poll_timeout().is_some_and(|t| t <= now) {
                            c.handle_timeout(now);
                        }
                    }
                }
                self.settle();
                for c in self.conns.iter().flatten() {
                    if let Some(t) = c.poll_timeout() {
                        assert!(
                            t > now,
                            "stale deadline {t:?} at {now:?}: the driver would spin"
                        );
                    }
                }
            }
            Op::SpuriousTimeout(side) => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    self.models[i].timeout(now);
                    c.handle_timeout(now);
                }
            }
            Op::ReadDirect { side, len } => self.read_direct(side.index(), usize::from(*len)),
            Op::WriteDirect { side, extra } => {
                self.write_direct(side.index(), 64 * 1024 + usize::from(*extra));
            }
            Op::Pump => {
                self.pump(|_| false);
            }
            Op::ShutdownWrite(side) => self.shutdown_write(side.index()),
            Op::Vanish(side) => self.vanish(side.index()),
            Op::Wait { side, kind } => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    let mw = self.models[i].begin_wait(*kind);
                    let w = c.begin_wait((*kind).into());
                    assert_eq!(w.kind(), WaitFor::from(*kind));
                    self.waits[i] = Some((w, mw));
                }
            }
            Op::WaitExpires(side) => {
                let i = side.index();
                if let (Some(c), Some((w, mw))) = (self.conns[i].as_mut(), self.waits[i].take()) {
                    let m = &mut self.models[i];
                    if mw.kind != WaitKind::Connected && m.state != State::Unconnected {
                        m.error = Some(SocketError::SocketTimeout);
                        m.push(Event::Error(SocketError::SocketTimeout));
                    }
                    let e = c.wait_timed_out(&w);
                    assert_eq!(e.kind(), SocketError::SocketTimeout);
                }
            }
            Op::SetConnectTimeout { side, ms } => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    let d = Duration::from_millis(u64::from(*ms));
                    c.set_connect_timeout(d);
                    self.models[i].connect_timeout = d;
                    assert_eq!(c.config().connect_timeout, d);
                }
            }
            Op::SetDrainTimeout { side, ms } => {
                let i = side.index();
                if let Some(c) = self.conns[i].as_mut() {
                    let d = ms.map(|ms| Duration::from_millis(u64::from(ms)));
                    c.set_drain_timeout(d, now);
                    let m = &mut self.models[i];
                    m.drain_timeout = d;
                    if m.state == State::Closing {
                        m.drain_deadline = d.map(|d| now.saturating_add(d));
                    }
                    assert_eq!(c.config().drain_timeout, d);
                }
            }
            Op::OsWaitsForBacklog(on) => {
                if let Some(c) = self.conns[0].as_mut() {
                    c.set_os_waits_for_backlog(*on);
                }
            }
            Op::Hangup(side) => {
                let i = side.index();
                if self.open[i] && self.hup(i) {
                    if let Some(c) = self.conns[i].as_mut() {
                        self.models[i].hangup();
                        c.handle_hangup();
                    }
                }
            }
        }
        self.settle();
        self.after_op();
    }

    fn connect(&mut self, name: &NameChoice, mode: Mode) {
        let c = self.conns[0].as_mut().unwrap();
        let m = &mut self.models[0];
        let name = match name {
            NameChoice::Plain => "srv".to_string(),
            NameChoice::Abstract => {
                c.set_abstract_namespace(true);
                "abs\0x".to_string()
            }
            NameChoice::Empty => String::new(),
            NameChoice::TooLong => "n".repeat(300),
            NameChoice::Nul => "a\0b".to_string(),
            NameChoice::Other { len, bytes } => {
                let n = usize::from(*len) % (bytes.len() + 1);
                String::from_utf8_lossy(&bytes[..n]).into_owned()
            }
        };
        match m.state {
            State::Connecting | State::Connected => {
                m.error = Some(SocketError::Operation);
                m.push(Event::Error(SocketError::Operation));
                c.connect_to_server(&name, mode.into());
            }
            State::Unconnected | State::Closing => {
                m.start_connection();
                m.set_state(State::Connecting);
                c.connect_to_server(&name, mode.into());
                assert_eq!(c.bytes_to_write(), 0, "a connect drops old writes");
                assert_eq!(c.bytes_available(), 0, "a connect drops old input");
                if c.state() == State::Unconnected {
                    // The name did not resolve.
                    m.connect_failed(SocketError::ServerNotFound);
                } else {
                    m.requested = mode.into();
                    // The timeout starts when the OS first says wait.
                    m.connect_deadline = None;
                }
            }
        }
    }

    fn user_write(&mut self, i: usize, n: usize, owned: bool) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        let m = &mut self.models[i];
        let data = pattern(m.seq, n);
        let r = if owned {
            let b = Bytes::from(data.clone());
            let ptr = b.as_ptr();
            let r = c.write(b);
            if r.is_ok() && n >= localsock_core::buffer::COALESCE_MAX {
                let last = c.transmit_chunks().last().map(<[u8]>::as_ptr);
                assert_eq!(last, Some(ptr), "large writes are queued without a copy");
            }
            r
        } else {
            c.write_slice(&data)
        };
        assert_eq!(
            r.map(|k| assert_eq!(k, n)),
            m.write_verdict(),
            "side {i}: write"
        );
        match r {
            Ok(_) => m.seq += n,
            Err(DeviceError::NotConnected) => {
                // The refusal of the runtimes' writes: the error that ended
                // the connection, if any.
                let want = m
                    .fatal
                    .map_or(Outcome::Device(DeviceError::NotConnected), |k| {
                        Outcome::Socket(k)
                    });
                assert_eq!(
                    outcome(Some(Err(c.write_refusal()))),
                    Some(Err(want)),
                    "side {i}: write refusal"
                );
            }
            Err(_) => {}
        }
    }

    fn check_read(&mut self, i: usize, r: Result<Vec<u8>, DeviceError>, max: usize) {
        let m = &mut self.models[i];
        match r {
            Ok(got) => {
                assert_eq!(m.read_verdict(), Ok(()), "side {i}: read");
                assert!(got.len() <= max);
                if max != usize::MAX {
                    assert_eq!(got.len(), m.rx.len().min(max), "reads take what is there");
                }
                assert!(got.len() <= m.rx.len(), "read more than was buffered");
                assert!(
                    m.rx[..got.len()] == got[..],
                    "bytes read differ from bytes received"
                );
                m.consumed_buffered(got.len());
                self.report.bytes_read += got.len();
            }
            Err(e) => assert_eq!(Err(e), m.read_verdict(), "side {i}: read"),
        }
    }

    fn accept_peer(&mut self, address: &Address) {
        let from = match self.accepted_from.take() {
            Some(f) if f.address() == address => f,
            _ => AcceptedFrom::new(self.config.clone(), address),
        };
        let b = Connection::accepted_from(&from);
        self.accepted_from = Some(from);
        assert_eq!(b.state(), State::Connected);
        assert_eq!(b.full_server_name(), address.as_str());
        self.conns[1] = Some(b);
        self.waits[1] = None;
        self.pipes = [BytesMut::new(), BytesMut::new()];
        self.open = [true, true];
        self.shut_write = [false, false];
        self.reset = [false, false];
        self.models[1] = SideModel::accepted(&self.config);
        self.models[0].into_kernel = 0;
        self.models[0].consumed = 0;
        assert!(self.models[0].rx.is_empty());
        self.report.connections += 1;
    }

    // ----- the fake kernel

    /// Whether side `i`'s poll reports `POLLHUP`: its peer's object is
    /// closed, or both directions are shut down.
    fn hup(&self, i: usize) -> bool {
        !self.open[1 - i] || (self.shut_write[i] && self.shut_write[1 - i])
    }

    /// Whether the kernel reports end of stream to side `i` once its pipe
    /// is drained.
    fn peer_finished(&self, i: usize) -> bool {
        !self.open[1 - i] || self.shut_write[1 - i]
    }

    /// Side `i`'s OS object closes. Unread bytes towards it are lost; on
    /// Linux the peer's next send or read then fails with `ECONNRESET`.
    fn kernel_close(&mut self, i: usize) {
        if !self.open[i] {
            return;
        }
        self.open[i] = false;
        if !self.pipes[i].is_empty() && !self.windows() {
            self.reset[1 - i] = true;
        }
        self.pipes[i].clear();
    }

    /// The error a send of side `i` gets when it cannot go through (Linux
    /// checks the own shutdown first, then a pending reset).
    fn send_error(&mut self, i: usize) -> OsError {
        let code = if self.windows() {
            OsCode::NoData
        } else if self.shut_write[i] {
            OsCode::Pipe
        } else if std::mem::take(&mut self.reset[i]) {
            OsCode::ConnReset
        } else {
            OsCode::Pipe
        };
        OsError::from_code(self.platform, code).unwrap()
    }

    /// One write call of side `i`.
    fn transmit(&mut self, i: usize, max: usize) -> bool {
        let peer = 1 - i;
        if !self.open[i] || self.conns[i].is_none() {
            return false;
        }
        if !self.conns[i].as_ref().unwrap().wants_write() {
            return false;
        }
        if !self.open[peer] || self.shut_write[i] {
            let e = self.send_error(i);
            self.models[i].io_error(Direction::Write, e);
            self.conns[i]
                .as_mut()
                .unwrap()
                .handle_io_error(Direction::Write, e);
            self.report.send_failures += 1;
            return true;
        }
        let c = self.conns[i].as_mut().unwrap();
        let mut taken = Vec::new();
        for chunk in c.transmit_chunks() {
            let n = chunk.len().min(max - taken.len());
            taken.extend_from_slice(&chunk[..n]);
            if taken.len() == max {
                break;
            }
        }
        let m = &mut self.models[i];
        assert!(
            taken.len() <= m.tx_len(),
            "transmit offers more than was written"
        );
        assert!(
            is_pattern(m.tx_start, &taken),
            "transmitted bytes differ from written bytes"
        );
        m.sent_queued(taken.len());
        self.pipes[peer].extend_from_slice(&taken);
        self.models[peer].into_kernel += taken.len();
        c.handle_sent(taken.len());
        !taken.is_empty()
    }

    /// The kernel has nothing more for side `i`: the driver reads end of
    /// stream (probing for the hang-up first, as a Unix driver does), or
    /// the pending reset. Everything the kernel took towards `i` must have
    /// reached its buffer or its user by now.
    fn end_of_stream(&mut self, i: usize, direct: bool) {
        let windows = self.windows();
        let m = &self.models[i];
        if m.can_read() {
            assert_eq!(
                m.consumed + m.rx.len(),
                m.into_kernel,
                "side {i}: end of stream before every byte sent to it was read"
            );
        }
        self.report.ends_of_stream += 1;
        let reset = std::mem::take(&mut self.reset[i]);
        let hup = self.hup(i);
        let c = self.conns[i].as_mut().unwrap();
        let m = &mut self.models[i];
        if reset {
            let e = OsError::from_code(self.platform, OsCode::ConnReset).unwrap();
            m.io_error(Direction::Read, e);
            c.handle_io_error(Direction::Read, e);
            return;
        }
        if hup && !windows {
            m.hangup();
            c.handle_hangup();
        }
        if m.eof(windows) {
            self.report.half_closes += 1;
        }
        if direct {
            c.handle_received_direct(0);
        } else {
            c.handle_received(0);
        }
    }

    /// One read call of side `i`.
    fn receive(&mut self, i: usize, max: usize) -> bool {
        if !self.open[i] {
            return false;
        }
        let Some(c) = self.conns[i].as_mut() else {
            return false;
        };
        let cap = c.read_capacity();
        if cap == 0 {
            return false;
        }
        if self.pipes[i].is_empty() {
            if self.peer_finished(i) {
                self.end_of_stream(i, false);
                return true;
            }
            return false;
        }
        let n = cap.min(max).min(self.pipes[i].len());
        let data = self.pipes[i].split_to(n);
        let before = c.bytes_available();
        {
            let mut buf = c.recv_buf();
            assert!(
                buf.remaining_mut() >= n,
                "recv_buf smaller than read_capacity"
            );
            buf.put_slice(&data);
        }
        c.handle_received(n);
        let limit = c.read_buffer_size();
        let after = c.bytes_available();
        if limit > 0 {
            assert!(
                after <= limit.max(before),
                "buffered {after} past the limit {limit}"
            );
        }
        let m = &mut self.models[i];
        if m.gone.is_some() {
            self.report.bytes_after_gone += n;
        }
        m.received_buffered(&data);
        if !m.can_read() {
            assert_eq!(after, 0, "a write-only or closed device keeps nothing");
        }
        true
    }

    fn read_direct(&mut self, i: usize, len: usize) {
        if !self.open[i] {
            return;
        }
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        let m = &mut self.models[i];
        let allowed = len > 0 && m.rx.is_empty() && m.may_read() && m.can_read();
        assert_eq!(c.can_read_direct(len), allowed, "side {i}: can_read_direct");
        if !allowed {
            return;
        }
        if self.pipes[i].is_empty() {
            if self.peer_finished(i) {
                self.end_of_stream(i, true);
            }
            return;
        }
        let n = len.min(self.pipes[i].len());
        self.pipes[i].advance(n);
        c.handle_received_direct(n);
        if m.gone.is_some() {
            self.report.bytes_after_gone += n;
        }
        m.received += n as u64;
        m.consumed += n;
        self.report.bytes_read += n;
    }

    fn write_direct(&mut self, i: usize, len: usize) {
        let peer = 1 - i;
        if !self.open[i] {
            return;
        }
        let Some(c) = self.conns[i].as_ref() else {
            return;
        };
        let m = &self.models[i];
        let allowed = m.tx_len() == 0
            && m.state == State::Connected
            && m.gone.is_none()
            && m.mode.is_some_and(OpenMode::can_write);
        assert_eq!(
            c.can_write_direct(len),
            allowed,
            "side {i}: can_write_direct"
        );
        if !allowed {
            return;
        }
        if !self.open[peer] || self.shut_write[i] {
            // The send fails; the user's bytes were never queued.
            let e = self.send_error(i);
            self.models[i].io_error(Direction::Write, e);
            self.conns[i]
                .as_mut()
                .unwrap()
                .handle_io_error(Direction::Write, e);
            self.report.send_failures += 1;
            return;
        }
        let m = &mut self.models[i];
        let data = pattern(m.seq, len);
        m.seq += len;
        m.tx_start = m.seq;
        m.sent += len as u64;
        m.push_bytes_written(len);
        self.pipes[peer].extend_from_slice(&data);
        self.models[peer].into_kernel += len;
        self.conns[i].as_mut().unwrap().handle_sent_direct(len, len);
    }

    /// A driver watching a half-closed side for the hang-up.
    fn watch(&mut self, i: usize) -> bool {
        if !self.open[i] || !self.hup(i) {
            return false;
        }
        let Some(c) = self.conns[i].as_mut() else {
            return false;
        };
        if !c.wants_hangup_watch() {
            return false;
        }
        self.models[i].hangup();
        c.handle_hangup();
        true
    }

    /// The driver runs both sides until nothing more happens; `users`
    /// runs after each round (the users' reads).
    fn pump(&mut self, mut users: impl FnMut(&mut World) -> bool) -> bool {
        let mut any = false;
        for _ in 0..100_000 {
            let mut progress = false;
            for i in 0..2 {
                progress |= self.watch(i);
                progress |= self.transmit(i, usize::MAX);
                progress |= self.receive(i, usize::MAX);
            }
            self.settle();
            progress |= users(self);
            any |= progress;
            if !progress {
                return any;
            }
        }
        panic!("the driver never settled");
    }

    /// `side` flushes, then shuts down its writing (the runtimes'
    /// `shutdown_write`; Windows pipes refuse).
    fn shutdown_write(&mut self, i: usize) {
        if self.windows() || !self.open[i] || self.conns[i].is_none() || self.shut_write[i] {
            return;
        }
        if self.models[i].state != State::Connected {
            return;
        }
        for _ in 0..4 {
            if !self.transmit(i, usize::MAX) {
                break;
            }
        }
        let m = &self.models[i];
        assert!(!m.wants_write(), "side {i}: a flush leaves nothing queued");
        if m.state == State::Connected && !m.lost {
            self.shut_write[i] = true;
            self.report.shutdowns += 1;
        }
    }

    /// The process at side `i` dies.
    fn vanish(&mut self, i: usize) {
        if self.conns[i].is_none() {
            return;
        }
        self.kernel_close(i);
        self.waits[i] = None;
        if i == 1 {
            self.conns[1] = None;
            self.models[1] = SideModel::accepted(&self.config);
        } else {
            self.conns[0] = Some(Connection::new(self.config.clone()));
            self.models[0] = SideModel::new(&self.config);
            self.connect_pending = None;
        }
    }

    /// Performs the actions of both sides.
    fn settle(&mut self) {
        if let Some(c) = self.conns[0].as_mut() {
            let mut close = false;
            while let Some(a) = c.poll_action() {
                match a {
                    Action::Connect { address, .. } => {
                        assert_eq!(
                            c.state(),
                            State::Connecting,
                            "connect only while connecting"
                        );
                        assert!(self.connect_pending.is_none(), "two connects at once");
                        self.connect_pending = Some(address);
                    }
                    Action::Close => {
                        self.connect_pending = None;
                        close = true;
                    }
                }
            }
            if close {
                self.kernel_close(0);
            }
        }
        if let Some(c) = self.conns[1].as_mut() {
            let mut close = false;
            while let Some(a) = c.poll_action() {
                match a {
                    Action::Connect { .. } => panic!("an accepted socket never connects"),
                    Action::Close => close = true,
                }
            }
            if close {
                self.kernel_close(1);
            }
        }
    }

    /// Checks the events and getters of both sides against the model.
    fn after_op(&mut self) {
        for i in 0..2 {
            let Some(c) = self.conns[i].as_mut() else {
                continue;
            };
            let m = &mut self.models[i];
            // A connect may block only while a full backlog is retried, and
            // never past the connect deadline.
            if let Some(d) = c.connect_wait_deadline() {
                assert_eq!(c.state(), State::Connecting, "side {i}");
                assert!(m.connect_deadline.map_or(true, |md| md == d), "side {i}");
            }
            let mut got = Vec::new();
            while let Some(e) = c.poll_event() {
                self.report.events += 1;
                if m.dead {
                    let ok = e == Event::AboutToClose && self.closer == Some(i);
                    assert!(ok, "side {i}: {e:?} after Disconnected");
                }
                match e {
                    Event::StateChanged(s) => {
                        assert!(
                            m.seen.can_move_to(s),
                            "side {i}: illegal edge {:?} -> {s:?}",
                            m.seen
                        );
                        m.seen = s;
                    }
                    Event::Connected => {
                        assert_eq!(
                            got.last(),
                            Some(&Event::StateChanged(State::Connected)),
                            "Connected follows StateChanged(Connected)"
                        );
                    }
                    Event::Disconnected => {
                        assert!(!m.dead, "side {i}: Disconnected twice");
                        m.dead = true;
                    }
                    Event::ReadChannelFinished => {
                        assert!(!m.rcf_seen, "side {i}: ReadChannelFinished twice");
                        m.rcf_seen = true;
                    }
                    Event::BytesWritten(n) => assert!(n > 0, "BytesWritten(0)"),
                    _ => {}
                }
                got.push(e);
            }
            assert_eq!(got, m.want, "side {i}: events (got, predicted)");
            m.want.clear();
            m.log.extend_from_slice(&got);
            let state = c.state();
            assert_eq!(m.seen, state, "side {i}: events and state() disagree");
            assert_eq!(m.state, state, "side {i}: state");
            assert_eq!(c.open_mode(), m.mode, "side {i}: open mode");
            assert_eq!(
                c.bytes_to_write(),
                m.tx_len(),
                "side {i}: write queue length"
            );
            assert!(
                c.buffered() == &m.rx[..],
                "side {i}: read buffer differs from the bytes received"
            );
            assert_eq!(c.read_buffer_size(), m.limit);
            assert_eq!(
                c.is_half_closed(),
                m.live() && m.read_finished && m.gone.is_none(),
                "side {i}: is_half_closed"
            );
            assert_eq!(
                c.wants_hangup_watch(),
                m.watches_hangup(),
                "side {i}: wants_hangup_watch"
            );
            assert_eq!(c.wants_write(), m.wants_write(), "side {i}: wants_write");
            assert_eq!(
                c.read_capacity() > 0,
                m.may_read(),
                "side {i}: read_capacity {} (paused {}, limit {}, buffered {})",
                c.read_capacity(),
                m.paused,
                m.limit,
                m.rx.len()
            );
            if m.limit > 0 && m.can_read() {
                assert!(
                    c.read_capacity() <= m.limit.saturating_sub(c.bytes_available()),
                    "read capacity past the limit"
                );
            }
            assert_eq!(
                c.error(),
                m.error.unwrap_or(SocketError::Unknown),
                "side {i}: error()"
            );
            assert_eq!(
                c.fatal_error().map(|e| e.kind()),
                m.fatal,
                "side {i}: fatal_error()"
            );
            assert_eq!(c.bytes_sent(), m.sent, "side {i}: bytes_sent()");
            assert_eq!(c.bytes_received(), m.received, "side {i}: bytes_received()");
            assert_eq!(
                outcome(c.read_outcome_when_empty()),
                m.read_outcome(),
                "side {i}: read_outcome_when_empty()"
            );
            assert_eq!(
                outcome(c.flush_outcome()),
                m.flush_outcome(),
                "side {i}: flush_outcome()"
            );
            if let Some((w, mw)) = &self.waits[i] {
                let got = c.wait_outcome(w).map(|r| r.map_err(|e| e.kind()));
                assert_eq!(
                    got,
                    m.wait_outcome(mw),
                    "side {i}: wait_outcome({:?})",
                    mw.kind
                );
                if got.is_some() {
                    self.waits[i] = None;
                    self.report.waits_over += 1;
                }
            }
            match state {
                State::Connecting => match m.connect_deadline {
                    Some(deadline) => assert!(
                        c.poll_timeout().is_some_and(|t| t <= deadline),
                        "side {i}: poll_timeout {:?} past the connect deadline {deadline:?}",
                        c.poll_timeout()
                    ),
                    // The OS has not said wait yet: the connect is the
                    // driver's to perform, and no timer runs.
                    None => assert_eq!(c.poll_timeout(), None, "side {i}: no connect deadline yet"),
                },
                State::Closing => assert_eq!(c.poll_timeout(), m.drain_deadline),
                _ => assert_eq!(c.poll_timeout(), None, "side {i}: no deadline"),
            }
        }
    }

    /// Ends a run: the driver runs until quiet while the users read
    /// everything; every queue empties, and a side still reading has read
    /// all sent to it.
    pub fn finish(&mut self) -> Report {
        let connected =
            |w: &World, i: usize| w.conns[i].is_some() && w.models[i].state == State::Connected;
        let both = connected(self, 0) && connected(self, 1);
        for i in 0..2 {
            if let Some(c) = self.conns[i].as_mut() {
                c.set_read_buffer_size(0);
                self.models[i].set_read_buffer_size(0);
            }
        }
        self.after_op();
        self.pump(|w| {
            let mut progress = false;
            for i in 0..2 {
                let Some(c) = w.conns[i].as_mut() else {
                    continue;
                };
                if w.models[i].can_read() {
                    let got = c.read_all().unwrap().to_vec();
                    progress |= !got.is_empty();
                    w.check_read(i, Ok(got), usize::MAX);
                }
            }
            w.after_op();
            progress
        });
        self.after_op();
        for i in 0..2 {
            let Some(c) = self.conns[i].as_ref() else {
                continue;
            };
            assert_eq!(c.bytes_to_write(), 0, "side {i}: writes stuck");
            let m = &self.models[i];
            if m.state == State::Connected && !m.read_finished && m.can_read() {
                assert!(
                    self.pipes[i].is_empty(),
                    "side {i}: bytes stuck in the kernel"
                );
                assert_eq!(
                    m.consumed, m.into_kernel,
                    "side {i}: read {} of {} bytes sent to it",
                    m.consumed, m.into_kernel
                );
            }
        }
        self.report.checked_complete = both;
        self.report
    }
}
