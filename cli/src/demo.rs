//! `localsock demo`: on each runtime, a server and a client in one process
//! connect, exchange messages, move a bulk transfer with a checksum, drain
//! a write queue through Qt's ClosingState, and print Qt's signals as they
//! happen. Ends with one line per runtime saying what passed.

use std::fmt::Write as _;
use std::time::Duration;

use localsock::{Event, SocketError, State};

use crate::{exit, outln, Runtime};

/// The bulk transfer.
const BULK: usize = 16 << 20;
/// What is queued before `disconnect_from_server` (the ClosingState drain).
const DRAIN: usize = 4 << 20;
/// Messages exchanged (each a line, answered by a line).
const MESSAGES: usize = 3;
/// No step may take longer than this (the demo never hangs).
const STEP: Duration = Duration::from_secs(20);

/// Runs the demo on `runtimes`; returns the exit status.
pub fn run(runtimes: &[Runtime]) -> u8 {
    outln!(
        "localsock demo: a server and a client in one process, on {} runtime{}\n",
        runtimes.len(),
        if runtimes.len() == 1 { "" } else { "s" }
    );
    let mut summary = Vec::new();
    for &rt in runtimes {
        outln!("== {rt} runtime");
        let report = match rt {
            Runtime::Blocking => blocking::run(&demo_name(rt)),
            Runtime::Smol => smol_rt::run(&demo_name(rt)),
            Runtime::Tokio => tokio_rt::run(&demo_name(rt)),
        };
        outln!("");
        summary.push((rt, report));
    }
    let mut failed = false;
    outln!("== summary");
    for (rt, report) in &summary {
        failed |= !report.passed();
        outln!("{rt:>8}: {}", report.line());
    }
    if failed {
        exit::OTHER
    } else {
        exit::OK
    }
}

fn demo_name(rt: Runtime) -> String {
    format!("localsock-demo-{}-{rt}", std::process::id())
}

/// What passed and what failed on one runtime.
#[derive(Debug, Default)]
pub(crate) struct Report {
    steps: Vec<(String, Result<(), String>)>,
}

impl Report {
    pub(crate) fn step(&mut self, name: impl Into<String>, result: Result<(), String>) -> bool {
        let ok = result.is_ok();
        if let Err(e) = &result {
            outln!("  !! failed: {e}");
        }
        self.steps.push((name.into(), result));
        ok
    }

    fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|(_, r)| r.is_ok())
    }

    fn line(&self) -> String {
        let mut s = String::new();
        for (name, result) in &self.steps {
            let mark = if result.is_ok() { "ok" } else { "FAILED" };
            let _ = write!(s, "{name} {mark}; ");
        }
        s.push_str(if self.passed() {
            "all passed"
        } else {
            "FAILED"
        });
        s
    }
}

/// Deterministic pseudo-random bytes (xorshift), so both sides can check.
pub(crate) fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// FNV-1a, 64-bit: a running checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checksum(u64);

impl Default for Checksum {
    fn default() -> Self {
        Checksum(0xcbf2_9ce4_8422_2325)
    }
}

impl Checksum {
    pub(crate) fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    pub(crate) fn of(data: &[u8]) -> Checksum {
        let mut c = Checksum::default();
        c.update(data);
        c
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Unconnected => "UnconnectedState",
        State::Connecting => "ConnectingState",
        State::Connected => "ConnectedState",
        State::Closing => "ClosingState",
    }
}

fn error_name(e: SocketError) -> &'static str {
    match e {
        SocketError::ConnectionRefused => "ConnectionRefusedError",
        SocketError::PeerClosed => "PeerClosedError",
        SocketError::ServerNotFound => "ServerNotFoundError",
        SocketError::SocketAccess => "SocketAccessError",
        SocketError::SocketResource => "SocketResourceError",
        SocketError::SocketTimeout => "SocketTimeoutError",
        SocketError::DatagramTooLarge => "DatagramTooLargeError",
        SocketError::Connection => "ConnectionError",
        SocketError::UnsupportedSocketOperation => "UnsupportedSocketOperationError",
        SocketError::Operation => "OperationError",
        SocketError::Unknown => "UnknownSocketError",
    }
}

/// Prints Qt's signals as they are taken from a socket, folding runs of
/// `readyRead()` and `bytesWritten(n)` into one line each.
#[derive(Debug)]
pub(crate) struct Signals {
    who: &'static str,
    run: Option<(Event, usize, usize)>,
    /// Every signal seen, in order (runs unfolded), for the final checks.
    pub(crate) seen: Vec<Event>,
}

impl Signals {
    pub(crate) fn new(who: &'static str) -> Self {
        Signals {
            who,
            run: None,
            seen: Vec::new(),
        }
    }

    pub(crate) fn show(&mut self, events: impl IntoIterator<Item = Event>) {
        for ev in events {
            self.seen.push(ev);
            match (ev, &mut self.run) {
                (Event::ReadyRead, Some((Event::ReadyRead, n, _))) => *n += 1,
                (Event::BytesWritten(b), Some((Event::BytesWritten(_), n, total))) => {
                    *n += 1;
                    *total += b;
                }
                (Event::ReadyRead, _) => {
                    self.end_run();
                    self.run = Some((ev, 1, 0));
                }
                (Event::BytesWritten(b), _) => {
                    self.end_run();
                    self.run = Some((ev, 1, b));
                }
                _ => {
                    self.end_run();
                    outln!("  {:<6} {}", self.who, signal(ev));
                }
            }
        }
    }

    pub(crate) fn end_run(&mut self) {
        match self.run.take() {
            Some((ev, 1, _)) => outln!("  {:<6} {}", self.who, signal(ev)),
            Some((Event::BytesWritten(_), n, total)) => {
                outln!("  {:<6} bytesWritten(…) ×{n}, {total} bytes", self.who)
            }
            Some((ev, n, _)) => outln!("  {:<6} {} ×{n}", self.who, signal(ev)),
            None => {}
        }
    }

    pub(crate) fn note(&mut self, text: impl std::fmt::Display) {
        self.end_run();
        outln!("  {:<6} -- {text}", self.who);
    }

    /// Qt's promises about the signal sequence of one connection.
    pub(crate) fn check_order(&self) -> Result<(), String> {
        let connected = self.seen.iter().filter(|e| **e == Event::Connected).count();
        let disconnected = self
            .seen
            .iter()
            .filter(|e| **e == Event::Disconnected)
            .count();
        if connected > 1 {
            return Err(format!("{}: connected() {connected} times", self.who));
        }
        if disconnected != 1 {
            return Err(format!("{}: disconnected() {disconnected} times", self.who));
        }
        if self.seen.last() != Some(&Event::Disconnected) {
            return Err(format!(
                "{}: disconnected() is not the last signal",
                self.who
            ));
        }
        Ok(())
    }
}

fn signal(ev: Event) -> String {
    match ev {
        Event::StateChanged(s) => format!("stateChanged({})", state_name(s)),
        Event::Connected => "connected()".into(),
        Event::ReadyRead => "readyRead()".into(),
        Event::BytesWritten(n) => format!("bytesWritten({n})"),
        Event::Error(e) => format!("errorOccurred({})", error_name(e)),
        Event::ReadChannelFinished => "readChannelFinished()".into(),
        Event::AboutToClose => "aboutToClose()".into(),
        Event::Disconnected => "disconnected()".into(),
    }
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "unknown".into(), |p| p.to_string())
}

fn mib(n: usize) -> String {
    format!("{} MiB", n >> 20)
}

/// What the server side received.
struct Received {
    lines: Vec<String>,
    bulk: (usize, Checksum),
    drain: (usize, Checksum),
}

/// Checks what the server received against what the client sent.
fn conclude(report: &mut Report, received: Result<Received, String>, client: &Signals) {
    match received {
        Ok(r) => {
            let want: Vec<String> = (1..=MESSAGES).map(|i| format!("ping {i}")).collect();
            report.step(
                format!("{MESSAGES} messages"),
                if r.lines == want {
                    Ok(())
                } else {
                    Err(format!("server got {:?}", r.lines))
                },
            );
            report.step(
                format!("bulk {} (checksum)", mib(BULK)),
                check_transfer(r.bulk, &payload(BULK, 1)),
            );
            report.step(
                format!("ClosingState drain {}", mib(DRAIN)),
                check_transfer(r.drain, &payload(DRAIN, 2)),
            );
        }
        Err(e) => {
            report.step("server", Err(e));
        }
    }
    report.step("signals in Qt's order", client.check_order());
}

mod blocking {
    use std::io::{Read, Write};
    use std::time::Instant;

    use localsock::blocking::{LocalServer, LocalSocket};

    use super::*;

    fn read_line(s: &mut LocalSocket) -> Result<String, String> {
        while !s.can_read_line() {
            if let Err(e) = s.wait_for_ready_read(STEP) {
                return Err(format!("no line: {e}"));
            }
        }
        let line = s.read_line_bytes(0).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }

    fn read_n(s: &mut LocalSocket, n: usize) -> Result<(usize, Checksum), String> {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut got, mut sum) = (0, Checksum::default());
        while got < n {
            let want = (n - got).min(buf.len());
            match s.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(k) => {
                    sum.update(&buf[..k]);
                    got += k;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok((got, sum))
    }

    fn server_side(mut server: LocalServer) -> Result<Received, String> {
        let mut sig = Signals::new("server");
        let mut s = server
            .accept_timeout(STEP)
            .map_err(|e| format!("no client connected: {e}"))?;
        sig.note(format_args!(
            "accepted a client on {} (peer pid {})",
            s.full_server_name(),
            pid_text(s.peer_credentials().ok().and_then(|c| c.pid))
        ));
        let mut lines = Vec::new();
        for i in 1..=MESSAGES {
            let line = read_line(&mut s)?;
            sig.show(s.take_events());
            sig.note(format_args!("got {line:?}, answering \"pong {i}\""));
            lines.push(line);
            s.write_bytes(format!("pong {i}\n"))
                .map_err(|e| e.to_string())?;
            s.try_flush();
        }
        let bulk = read_n(&mut s, BULK)?;
        sig.show(s.take_events());
        sig.note(format_args!(
            "received {} bytes, checksum {}",
            bulk.0, bulk.1
        ));
        let drain = read_n(&mut s, DRAIN + 1)?;
        sig.show(s.take_events());
        sig.end_run();
        sig.note(format_args!(
            "received {} bytes, checksum {}, then the end of the stream",
            drain.0, drain.1
        ));
        Ok(Received { lines, bulk, drain })
    }

    pub(super) fn run(name: &str) -> Report {
        let mut report = Report::default();
        let mut server = LocalServer::new();
        if let Err(e) = server.listen(name) {
            report.step("listen", Err(e.to_string()));
            return report;
        }
        outln!("  server -- listening on {}", server.full_server_name());
        let server_thread = std::thread::spawn(move || server_side(server));

        let mut sig = Signals::new("client");
        let mut c = LocalSocket::new();
        c.connect_to_server(name);
        sig.show(c.take_events());
        let connected = c.wait_for_connected(STEP);
        sig.show(c.take_events());
        let ok = report.step("connect", connected.map_err(|e| e.to_string()));
        if ok {
            client_script(&mut c, &mut sig, &mut report);
        }
        c.abort();
        let received = match server_thread.join() {
            Ok(r) => r,
            Err(_) => Err("the server thread panicked".to_string()),
        };
        conclude(&mut report, received, &sig);
        report
    }

    fn client_script(c: &mut LocalSocket, sig: &mut Signals, report: &mut Report) {
        for i in 1..=MESSAGES {
            if c.write_bytes(format!("ping {i}\n")).is_err() {
                break;
            }
            // Not waited for in vain: `read_line` below reports a failure.
            let _ = c.wait_for_bytes_written(STEP);
            match read_line(c) {
                Ok(line) => {
                    sig.show(c.take_events());
                    sig.note(format_args!("got {line:?}"));
                }
                Err(e) => {
                    report.step("messages", Err(e));
                    return;
                }
            }
        }
        let bulk = payload(BULK, 1);
        let start = Instant::now();
        let sent = c.write_all(&bulk).and_then(|()| c.flush());
        sig.show(c.take_events());
        let secs = start.elapsed().as_secs_f64();
        sig.note(format_args!(
            "sent {} with checksum {} ({:.0} MiB/s)",
            mib(BULK),
            Checksum::of(&bulk),
            BULK as f64 / (1 << 20) as f64 / secs
        ));
        if let Err(e) = sent {
            report.step("bulk", Err(e.to_string()));
            return;
        }
        // The drain: queue it all, then ask for a graceful disconnect.
        let drain = payload(DRAIN, 2);
        if let Err(e) = c.write_bytes(drain) {
            report.step("drain", Err(e.to_string()));
            return;
        }
        c.disconnect_from_server();
        sig.show(c.take_events());
        sig.note(format_args!(
            "disconnect_from_server(): state {}, {} bytes still queued",
            state_name(c.state()),
            c.bytes_to_write()
        ));
        // The state says whether the drain finished (checked below).
        let _ = c.wait_for_disconnected(STEP);
        sig.show(c.take_events());
        sig.end_run();
        if c.state() != State::Unconnected {
            report.step(
                "drain",
                Err(format!("still {} after the drain", state_name(c.state()))),
            );
        }
    }
}

/// Compares what the server received with what was sent.
fn check_transfer(got: (usize, Checksum), sent: &[u8]) -> Result<(), String> {
    let want = (sent.len(), Checksum::of(sent));
    if got == want {
        outln!(
            "  check  -- {} bytes arrived, checksum {} matches",
            got.0,
            got.1
        );
        Ok(())
    } else {
        Err(format!(
            "received {} bytes with checksum {}, sent {} with {}",
            got.0, got.1, want.0, want.1
        ))
    }
}

/// The async arm, once per async runtime (same API names in both): the
/// server is a task, the client runs in the main future, on one thread.
macro_rules! async_arm {
    ($module:ident, $rt:ident, $exec:expr) => {
        mod $module {
            use localsock::$rt::{LocalServer, LocalSocket};

            use super::*;
            use crate::exec::Exec;

            async fn read_line(s: &mut LocalSocket) -> Result<String, String> {
                while !s.can_read_line() {
                    if s.wait_for_ready_read(STEP).await.is_err() {
                        return Err(format!("no line: {}", s.error_string()));
                    }
                }
                let line = s.read_line_bytes(0).map_err(|e| e.to_string())?;
                Ok(String::from_utf8_lossy(&line).trim_end().to_string())
            }

            /// Qt's way: wait for readyRead, take what is buffered.
            async fn read_n(s: &mut LocalSocket, n: usize) -> Result<(usize, Checksum), String> {
                let (mut got, mut sum) = (0, Checksum::default());
                while got < n {
                    if s.bytes_available() == 0
                        && s.wait_for_ready_read(STEP).await.is_err()
                        && s.bytes_available() == 0
                    {
                        break;
                    }
                    let data = s.read_bytes(n - got).map_err(|e| e.to_string())?;
                    sum.update(&data);
                    got += data.len();
                }
                Ok((got, sum))
            }

            async fn server_side(mut server: LocalServer) -> Result<Received, String> {
                let mut sig = Signals::new("server");
                if server.wait_for_new_connection(STEP).await.is_err() {
                    return Err("no client connected".into());
                }
                let mut s = server
                    .next_pending_connection()
                    .ok_or("no client connected")?;
                sig.note(format_args!(
                    "accepted a client on {} (peer pid {})",
                    s.full_server_name(),
                    pid_text(s.peer_credentials().ok().and_then(|c| c.pid))
                ));
                let mut lines = Vec::new();
                for i in 1..=MESSAGES {
                    let line = read_line(&mut s).await?;
                    sig.show(s.take_events());
                    sig.note(format_args!("got {line:?}, answering \"pong {i}\""));
                    lines.push(line);
                    s.write_bytes(format!("pong {i}\n"))
                        .map_err(|e| e.to_string())?;
                    s.try_flush();
                }
                let bulk = read_n(&mut s, BULK).await?;
                sig.show(s.take_events());
                sig.note(format_args!(
                    "received {} bytes, checksum {}",
                    bulk.0, bulk.1
                ));
                let drain = read_n(&mut s, DRAIN + 1).await?;
                sig.show(s.take_events());
                sig.end_run();
                sig.note(format_args!(
                    "received {} bytes, checksum {}, then the end of the stream",
                    drain.0, drain.1
                ));
                Ok(Received { lines, bulk, drain })
            }

            pub(super) fn run(name: &str) -> Report {
                let mut report = Report::default();
                let ex = match $exec {
                    Ok(ex) => ex,
                    Err(e) => {
                        report.step("runtime", Err(format!("cannot start: {e}")));
                        return report;
                    }
                };
                ex.block_on(async {
                    let mut server = LocalServer::new();
                    if let Err(e) = server.listen(name) {
                        report.step("listen", Err(e.to_string()));
                        return;
                    }
                    outln!("  server -- listening on {}", server.full_server_name());
                    let server_task = ex.spawn(server_side(server));

                    let mut sig = Signals::new("client");
                    let mut c = LocalSocket::new();
                    c.connect_to_server(name);
                    sig.show(c.take_events());
                    let connected = c.wait_for_connected(STEP).await.is_ok();
                    sig.show(c.take_events());
                    let ok = report.step(
                        "connect",
                        if connected {
                            Ok(())
                        } else {
                            Err(c.error_string())
                        },
                    );
                    if ok {
                        client_script(&mut c, &mut sig, &mut report).await;
                    }
                    c.abort();
                    let received = server_task.await;
                    conclude(&mut report, received, &sig);
                });
                report
            }

            async fn client_script(c: &mut LocalSocket, sig: &mut Signals, report: &mut Report) {
                for i in 1..=MESSAGES {
                    if c.write_bytes(format!("ping {i}\n")).is_err() {
                        break;
                    }
                    let _ = c.wait_for_bytes_written(STEP).await;
                    match read_line(c).await {
                        Ok(line) => {
                            sig.show(c.take_events());
                            sig.note(format_args!("got {line:?}"));
                        }
                        Err(e) => {
                            report.step("messages", Err(e));
                            return;
                        }
                    }
                }
                // Bulk, Qt's way: queue it all (no copy), wait for bytesWritten.
                let bulk = payload(BULK, 1);
                let sum = Checksum::of(&bulk);
                let start = std::time::Instant::now();
                if let Err(e) = c.write_bytes(bulk) {
                    report.step("bulk", Err(e.to_string()));
                    return;
                }
                while c.bytes_to_write() > 0 {
                    if c.wait_for_bytes_written(STEP).await.is_err() {
                        report.step("bulk", Err(c.error_string()));
                        return;
                    }
                    sig.show(c.take_events());
                }
                let secs = start.elapsed().as_secs_f64();
                sig.note(format_args!(
                    "sent {} with checksum {sum} ({:.0} MiB/s)",
                    mib(BULK),
                    BULK as f64 / (1 << 20) as f64 / secs
                ));
                // The drain: queue it all, then ask for a graceful disconnect.
                if let Err(e) = c.write_bytes(payload(DRAIN, 2)) {
                    report.step("drain", Err(e.to_string()));
                    return;
                }
                c.disconnect_from_server();
                sig.show(c.take_events());
                sig.note(format_args!(
                    "disconnect_from_server(): state {}, {} bytes still queued",
                    state_name(c.state()),
                    c.bytes_to_write()
                ));
                let _ = c.wait_for_disconnected(STEP).await;
                sig.show(c.take_events());
                sig.end_run();
                if c.state() != State::Unconnected {
                    report.step(
                        "drain",
                        Err(format!("still {} after the drain", state_name(c.state()))),
                    );
                }
            }
        }
    };
}

async_arm!(smol_rt, smol, crate::exec::SmolExec::new());
async_arm!(tokio_rt, tokio, crate::exec::TokioExec::current_thread());
