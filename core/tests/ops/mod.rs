//! Operation sequences against a model: one [`Op`] type, decoded with
//! `arbitrary`, shared by the property test (`tests/model.rs`), the corpus
//! replay (`tests/corpus_replay.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/ops.rs`, which includes this file by path).
//!
//! [`World`] holds a client `Connection` (side A), the accepted connection
//! of its current peer (side B), and a fake kernel between them. Each op is
//! one user command or one driver input; after every op the world checks:
//! - bytes come out of the reader exactly as they went into the kernel, and
//!   out of the writer's queue exactly as the user wrote them (a byte model
//!   of both buffers); at the end, with both sides still connected,
//!   everything written was read (complete, in order);
//! - the read buffer never grows past the limit (`read_capacity` respects it);
//! - states move only along `State::can_move_to` edges (seen through
//!   `StateChanged` events) and match `state()`;
//! - nothing is emitted after `Disconnected` until the next connect (except
//!   `AboutToClose` from the user's own `close`/`abort`), and `Disconnected`
//!   comes once per connection;
//! - no panic.
#![allow(dead_code)]

pub mod names;

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use localsock_core::os::OsCode;
use localsock_core::{
    AcceptedFrom, Action, Address, Config, Connection, DeviceError, Direction, Event, NameContext,
    OpenMode, OsError, Platform, State,
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
    /// One write call: up to `max + 1` bytes of the transmit chunks.
    Transmit {
        /// Who writes.
        side: Side,
        /// Most bytes minus one.
        max: u16,
    },
    /// One read call: up to `max + 1` bytes from the kernel, or EOF.
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
    /// The driver reports end of stream (a hang-up) out of the blue.
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
    /// The driver runs until quiet with unlimited reads and writes (the
    /// users do not read).
    Pump,
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
    /// Whether the end-of-run completeness check ran.
    pub checked_complete: bool,
    /// Events seen.
    pub events: usize,
}

/// The model of one side.
#[derive(Debug)]
struct SideModel {
    /// The state as the events tell it.
    state: State,
    /// `Disconnected` was emitted and no connect followed.
    dead: bool,
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
    fn new(state: State) -> SideModel {
        SideModel {
            state,
            dead: false,
            rx: BytesMut::new(),
            tx_start: 0,
            seq: 0,
            into_kernel: 0,
            consumed: 0,
        }
    }

    fn tx_len(&self) -> usize {
        self.seq - self.tx_start
    }

    fn clear_tx(&mut self) {
        self.tx_start = self.seq;
    }
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
    /// Bytes in the kernel towards each side.
    pipes: [BytesMut; 2],
    /// Whether each side holds its OS object.
    open: [bool; 2],
    /// A's connect attempt under way (an `Action::Connect` was performed).
    connect_pending: Option<Address>,
    models: [SideModel; 2],
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
            config,
            accepted_from: None,
            now: Duration::ZERO,
            pipes: [BytesMut::new(), BytesMut::new()],
            open: [false, false],
            connect_pending: None,
            models: [
                SideModel::new(State::Unconnected),
                SideModel::new(State::Connected),
            ],
            report: Report::default(),
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
        w.finish();
        w.report
    }

    fn conn(&mut self, i: usize) -> Option<&mut Connection> {
        self.conns[i].as_mut()
    }

    /// Applies one op and checks every invariant.
    pub fn apply(&mut self, op: &Op) {
        self.report.ops += 1;
        let mut connect_reset = false;
        let mut closer: Option<usize> = None;
        let now = self.now;
        match op {
            Op::Connect { name, mode } => {
                let c = self.conns[0].as_mut().unwrap();
                let before = c.state();
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
                c.connect_to_server(&name, (*mode).into(), now);
                if matches!(before, State::Unconnected | State::Closing) {
                    connect_reset = true;
                    self.models[0].dead = false;
                    self.models[0].rx.clear();
                    self.models[0].clear_tx();
                    assert_eq!(c.bytes_to_write(), 0, "a connect drops old writes");
                    assert_eq!(c.bytes_available(), 0, "a connect drops old input");
                } else {
                    assert_eq!(c.state(), before, "connect while busy changes nothing");
                }
            }
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
                if let Some(c) = self.conn(i) {
                    let mut buf = vec![0u8; usize::from(*len)];
                    let mode = c.open_mode();
                    match c.peek(&mut buf) {
                        Ok(n) => {
                            let m = &self.models[i];
                            assert_eq!(n, m.rx.len().min(buf.len()));
                            assert_eq!(&m.rx[..n], &buf[..n], "peek content");
                        }
                        Err(e) => assert_eq!(Some(e), expected_read_error(mode)),
                    }
                }
            }
            Op::Skip { side, len } => {
                let i = side.index();
                if let Some(c) = self.conn(i) {
                    let mode = c.open_mode();
                    match c.skip(usize::from(*len)) {
                        Ok(n) => {
                            let m = &mut self.models[i];
                            assert_eq!(n, m.rx.len().min(usize::from(*len)));
                            m.rx.advance(n);
                            m.consumed += n;
                            self.report.bytes_read += n;
                        }
                        Err(e) => assert_eq!(Some(e), expected_read_error(mode)),
                    }
                }
            }
            Op::SetReadBufferSize { side, size } => {
                if let Some(c) = self.conn(side.index()) {
                    c.set_read_buffer_size(usize::from(*size));
                    assert_eq!(c.read_buffer_size(), usize::from(*size));
                }
            }
            Op::Disconnect(side) => {
                if let Some(c) = self.conn(side.index()) {
                    c.disconnect_from_server(now);
                }
            }
            Op::Abort(side) => {
                let i = side.index();
                if let Some(c) = self.conn(i) {
                    c.abort();
                    assert_eq!(c.bytes_to_write(), 0, "abort drops pending writes");
                    assert!(!c.is_open());
                    self.models[i].clear_tx();
                    self.models[i].rx.clear();
                    closer = Some(i);
                }
            }
            Op::Close(side) => {
                let i = side.index();
                if let Some(c) = self.conn(i) {
                    c.close(now);
                    assert!(!c.is_open());
                    self.models[i].rx.clear();
                    closer = Some(i);
                }
            }
            Op::WaitTimeout(side) => {
                if let Some(c) = self.conn(side.index()) {
                    c.report_wait_timeout();
                }
            }
            Op::HandleConnected => {
                let c = self.conns[0].as_mut().unwrap();
                match self.connect_pending.take() {
                    Some(address) => {
                        c.handle_connected(now);
                        if c.state() == State::Connected {
                            self.accept_peer(&address);
                        }
                    }
                    None if c.state() != State::Connecting => {
                        let before = c.state();
                        c.handle_connected(now);
                        assert_eq!(c.state(), before, "a stray success is ignored");
                    }
                    None => {}
                }
            }
            Op::HandleConnectError(code) => {
                let err = code.os(self.platform);
                let c = self.conns[0].as_mut().unwrap();
                if self.connect_pending.take().is_some() || c.state() != State::Connecting {
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
                if self.open[i] {
                    if let Some(c) = self.conn(i) {
                        c.handle_received(0, now);
                    }
                }
            }
            Op::IoError { side, write, code } => {
                let err = code.os(self.platform);
                let dir = if *write {
                    Direction::Write
                } else {
                    Direction::Read
                };
                if let Some(c) = self.conn(side.index()) {
                    c.handle_io_error(dir, err, now);
                }
            }
            Op::Advance { ms } => {
                self.now += Duration::from_millis(u64::from(*ms));
                let now = self.now;
                for c in self.conns.iter_mut().flatten() {
                    if c.poll_timeout().is_some_and(|t| t <= now) {
                        c.handle_timeout(now);
                    }
                }
                self.settle();
                let now = self.now;
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
                if let Some(c) = self.conn(side.index()) {
                    c.handle_timeout(now);
                }
            }
            Op::ReadDirect { side, len } => self.read_direct(side.index(), usize::from(*len)),
            Op::WriteDirect { side, extra } => {
                self.write_direct(side.index(), 64 * 1024 + usize::from(*extra));
            }
            Op::Pump => {
                for _ in 0..10_000 {
                    let mut progress = false;
                    for i in 0..2 {
                        progress |= self.transmit(i, usize::MAX);
                        progress |= self.receive(i, usize::MAX);
                    }
                    if !progress {
                        break;
                    }
                }
            }
        }
        self.settle();
        self.after_op(connect_reset, closer);
    }

    fn user_write(&mut self, i: usize, n: usize, owned: bool) {
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        let m = &mut self.models[i];
        let data = pattern(m.seq, n);
        let mode = c.open_mode();
        let state = c.state();
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
        match r {
            Ok(k) => {
                assert_eq!(k, n);
                assert!(mode.is_some_and(OpenMode::can_write));
                m.seq += n;
            }
            Err(e) => {
                let want = match mode {
                    None => DeviceError::NotOpen,
                    Some(OpenMode::ReadOnly) => DeviceError::ReadOnly,
                    Some(_) => DeviceError::NotConnected,
                };
                assert_eq!(e, want);
                if e == DeviceError::NotConnected {
                    assert_eq!(state, State::Unconnected);
                }
            }
        }
    }

    fn check_read(&mut self, i: usize, r: Result<Vec<u8>, DeviceError>, max: usize) {
        let mode = self.conns[i].as_ref().unwrap().open_mode();
        let m = &mut self.models[i];
        match r {
            Ok(got) => {
                assert!(got.len() <= max);
                if max != usize::MAX {
                    assert_eq!(got.len(), m.rx.len().min(max), "reads take what is there");
                }
                assert!(got.len() <= m.rx.len(), "read more than was buffered");
                assert!(
                    m.rx[..got.len()] == got[..],
                    "bytes read differ from bytes received"
                );
                m.rx.advance(got.len());
                m.consumed += got.len();
                self.report.bytes_read += got.len();
            }
            Err(e) => assert_eq!(Some(e), expected_read_error(mode)),
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
        self.pipes = [BytesMut::new(), BytesMut::new()];
        self.open = [true, true];
        self.models[1] = SideModel::new(State::Connected);
        self.models[0].into_kernel = 0;
        self.models[0].consumed = 0;
        self.models[0].rx.clear();
        self.report.connections += 1;
    }

    /// One write call of side `i`.
    fn transmit(&mut self, i: usize, max: usize) -> bool {
        let peer = 1 - i;
        let now = self.now;
        if !self.open[i] {
            return false;
        }
        let Some(c) = self.conns[i].as_mut() else {
            return false;
        };
        if !c.wants_write() {
            return false;
        }
        if !self.open[peer] {
            let e = OsError::from_code(
                self.platform,
                if self.platform.is_windows() {
                    OsCode::NoData
                } else {
                    OsCode::Pipe
                },
            )
            .unwrap();
            c.handle_io_error(Direction::Write, e, now);
            return true;
        }
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
        m.tx_start += taken.len();
        self.pipes[peer].extend_from_slice(&taken);
        self.models[peer].into_kernel += taken.len();
        c.handle_sent(taken.len(), now);
        !taken.is_empty()
    }

    /// One read call of side `i`.
    fn receive(&mut self, i: usize, max: usize) -> bool {
        let peer = 1 - i;
        let now = self.now;
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
            if !self.open[peer] {
                c.handle_received(0, now);
                return true;
            }
            return false;
        }
        let n = cap.min(max).min(self.pipes[i].len());
        let data = self.pipes[i].split_to(n);
        let readable = c.open_mode().is_some_and(OpenMode::can_read);
        let before = c.bytes_available();
        {
            let mut buf = c.recv_buf();
            assert!(
                buf.remaining_mut() >= n,
                "recv_buf smaller than read_capacity"
            );
            buf.put_slice(&data);
        }
        c.handle_received(n, now);
        let limit = c.read_buffer_size();
        let after = c.bytes_available();
        if limit > 0 {
            assert!(
                after <= limit.max(before),
                "buffered {after} past the limit {limit}"
            );
        }
        if readable {
            self.models[i].rx.extend_from_slice(&data);
        } else {
            assert_eq!(after, 0, "a write-only or closed device keeps nothing");
        }
        true
    }

    fn read_direct(&mut self, i: usize, len: usize) {
        let peer = 1 - i;
        let now = self.now;
        if !self.open[i] {
            return;
        }
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        if !c.can_read_direct(len) {
            return;
        }
        assert!(c.bytes_available() == 0 && self.models[i].rx.is_empty());
        if self.pipes[i].is_empty() {
            if !self.open[peer] {
                c.handle_received_direct(0, now);
            }
            return;
        }
        let n = len.min(self.pipes[i].len());
        self.pipes[i].advance(n);
        c.handle_received_direct(n, now);
        self.models[i].consumed += n;
        self.report.bytes_read += n;
    }

    fn write_direct(&mut self, i: usize, len: usize) {
        let peer = 1 - i;
        let now = self.now;
        if !self.open[i] {
            return;
        }
        let Some(c) = self.conns[i].as_mut() else {
            return;
        };
        if !c.can_write_direct(len) {
            return;
        }
        assert_eq!(c.bytes_to_write(), 0);
        assert!(c.open_mode().is_some_and(OpenMode::can_write));
        if !self.open[peer] {
            return;
        }
        let m = &mut self.models[i];
        assert_eq!(m.tx_len(), 0);
        let data = pattern(m.seq, len);
        m.seq += len;
        m.tx_start = m.seq;
        self.pipes[peer].extend_from_slice(&data);
        self.models[peer].into_kernel += len;
        c.handle_sent_direct(len, len, now);
    }

    /// Performs actions and checks events of both sides.
    fn settle(&mut self) {
        if let Some(c) = self.conns[0].as_mut() {
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
                        self.open[0] = false;
                    }
                }
            }
        }
        if let Some(c) = self.conns[1].as_mut() {
            while let Some(a) = c.poll_action() {
                match a {
                    Action::Connect { .. } => panic!("an accepted socket never connects"),
                    Action::Close => self.open[1] = false,
                }
            }
        }
    }

    fn after_op(&mut self, connect_reset: bool, closer: Option<usize>) {
        for i in 0..2 {
            let Some(c) = self.conns[i].as_mut() else {
                continue;
            };
            let m = &mut self.models[i];
            let mut prev: Option<Event> = None;
            while let Some(e) = c.poll_event() {
                self.report.events += 1;
                if m.dead {
                    let ok = e == Event::AboutToClose && closer == Some(i);
                    assert!(ok, "side {i}: {e:?} after Disconnected");
                }
                match e {
                    Event::StateChanged(s) => {
                        assert!(
                            m.state.can_move_to(s),
                            "side {i}: illegal edge {:?} -> {s:?}",
                            m.state
                        );
                        m.state = s;
                    }
                    Event::Connected => {
                        assert_eq!(
                            prev,
                            Some(Event::StateChanged(State::Connected)),
                            "Connected follows StateChanged(Connected)"
                        );
                    }
                    Event::Disconnected => {
                        assert!(!m.dead, "side {i}: Disconnected twice");
                        m.dead = true;
                    }
                    Event::BytesWritten(n) => assert!(n > 0, "BytesWritten(0)"),
                    _ => {}
                }
                prev = Some(e);
            }
            assert_eq!(m.state, c.state(), "side {i}: events and state() disagree");
            let state = c.state();
            if state == State::Unconnected || (connect_reset && i == 0) {
                m.clear_tx();
            }
            assert_eq!(
                c.bytes_to_write(),
                m.tx_len(),
                "side {i}: write queue length"
            );
            assert!(
                c.buffered() == &m.rx[..],
                "side {i}: read buffer differs from the bytes received"
            );
            match state {
                State::Connected => assert!(c.is_open(), "connected but not open"),
                State::Connecting => assert!(!c.is_open(), "open while connecting"),
                _ => {}
            }
            if state != State::Connected {
                assert_eq!(c.read_capacity(), 0, "reading while {state:?}");
            }
            let limit = c.read_buffer_size();
            if limit > 0 && c.open_mode().is_some_and(OpenMode::can_read) {
                assert!(
                    c.read_capacity() <= limit.saturating_sub(c.bytes_available()),
                    "read capacity past the limit"
                );
            }
            if state == State::Unconnected {
                assert!(!c.wants_write());
                assert_eq!(c.poll_timeout(), None, "no deadline while unconnected");
            }
        }
    }

    /// With both sides still connected, everything written must arrive.
    fn finish(&mut self) {
        let both = self.conns[0].as_ref().map(Connection::state) == Some(State::Connected)
            && self.conns[1].as_ref().map(Connection::state) == Some(State::Connected);
        if !both {
            return;
        }
        for i in 0..2 {
            if let Some(c) = self.conns[i].as_mut() {
                c.set_read_buffer_size(0);
            }
        }
        for _ in 0..100_000 {
            let mut progress = false;
            for i in 0..2 {
                progress |= self.transmit(i, usize::MAX);
                progress |= self.receive(i, usize::MAX);
                let c = self.conns[i].as_mut().unwrap();
                if c.open_mode().is_some_and(OpenMode::can_read) {
                    let got = c.read_all().unwrap().to_vec();
                    progress |= !got.is_empty();
                    self.check_read(i, Ok(got), usize::MAX);
                }
            }
            self.settle();
            self.after_op(false, None);
            if !progress {
                break;
            }
        }
        for i in 0..2 {
            let c = self.conns[i].as_ref().unwrap();
            if c.state() != State::Connected {
                return;
            }
            if !c.open_mode().is_some_and(OpenMode::can_read) {
                continue;
            }
            assert_eq!(c.bytes_to_write(), 0, "side {i}: writes stuck");
            assert!(
                self.pipes[i].is_empty(),
                "side {i}: bytes stuck in the kernel"
            );
            let m = &self.models[i];
            assert_eq!(
                m.consumed, m.into_kernel,
                "side {i}: read {} of {} bytes sent to it",
                m.consumed, m.into_kernel
            );
        }
        self.report.checked_complete = true;
    }
}

fn expected_read_error(mode: Option<OpenMode>) -> Option<DeviceError> {
    match mode {
        None => Some(DeviceError::NotOpen),
        Some(OpenMode::WriteOnly) => Some(DeviceError::WriteOnly),
        Some(_) => None,
    }
}
