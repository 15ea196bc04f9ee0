//! Planning, running (in process or in child processes) and collecting.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::libs::{
    AsyncIoRaw, IpcSync, IpcTokio, LocalsockBlocking, LocalsockSmol, LocalsockTokio, SmolExec,
    StdRaw, TokioExec, TokioRaw,
};
use super::work::{self, Connects, Flood, PingPong, Threaded, FLOOD_LIMIT};
use super::{report, sys, Config};
use crate::{exit, Runtime};

/// Thread layout / executor flavour: rows are compared within one layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// Plain threads, one per side.
    Threads,
    /// Plain threads, all pinned to CPU 0.
    Pinned,
    /// One smol executor thread.
    Smol,
    /// tokio's current-thread runtime.
    TokioCt,
    /// tokio's multi-thread runtime (a worker per CPU).
    TokioMt,
}

impl Layout {
    pub const ALL: [Layout; 5] = [
        Layout::Threads,
        Layout::Pinned,
        Layout::Smol,
        Layout::TokioCt,
        Layout::TokioMt,
    ];

    pub fn runtime(self) -> Runtime {
        match self {
            Layout::Threads | Layout::Pinned => Runtime::Blocking,
            Layout::Smol => Runtime::Smol,
            Layout::TokioCt | Layout::TokioMt => Runtime::Tokio,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Layout::Threads => "threads",
            Layout::Pinned => "pinned",
            Layout::Smol => "smol",
            Layout::TokioCt => "tokio-ct",
            Layout::TokioMt => "tokio-mt",
        }
    }

    fn from_id(s: &str) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.id() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Layout::Threads => "threads, one per side",
            Layout::Pinned => "threads pinned to CPU 0",
            Layout::Smol => "smol, 1 executor thread",
            Layout::TokioCt => "tokio current_thread",
            Layout::TokioMt => "tokio multi_thread",
        }
    }

    /// The rows of this layout for workload `w`, baseline first (none:
    /// the workload does not run on this layout).
    pub fn libs(self, w: Workload) -> Vec<Lib> {
        if w == Workload::F {
            // Thread per connection: blocking only, std against localsock.
            return match self {
                Layout::Threads => vec![Lib::Raw, Lib::Localsock],
                _ => Vec::new(),
            };
        }
        let mut v = vec![Lib::Raw, Lib::Localsock];
        if self != Layout::Smol {
            v.push(Lib::Interprocess);
        }
        if w == Workload::E && self == Layout::Threads {
            v.push(Lib::LocalsockNoLimit);
        }
        v
    }
}

/// The library of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lib {
    /// The raw socket type of the layout (the baseline).
    Raw,
    /// localsock on the layout's runtime.
    Localsock,
    /// The `interprocess` crate.
    Interprocess,
    /// localsock-blocking without a read-buffer limit (E's contrast row).
    LocalsockNoLimit,
}

impl Lib {
    fn id(self) -> &'static str {
        match self {
            Lib::Raw => "raw",
            Lib::Localsock => "localsock",
            Lib::Interprocess => "interprocess",
            Lib::LocalsockNoLimit => "localsock-nolimit",
        }
    }

    fn from_id(s: &str) -> Option<Lib> {
        [
            Lib::Raw,
            Lib::Localsock,
            Lib::Interprocess,
            Lib::LocalsockNoLimit,
        ]
        .into_iter()
        .find(|l| l.id() == s)
    }

    pub fn label(self, layout: Layout) -> String {
        let rt = layout.runtime();
        match (self, layout) {
            (Lib::Raw, Layout::Threads | Layout::Pinned) => "std UnixStream".into(),
            (Lib::Raw, Layout::Smol) => "async-io Async<UnixStream>".into(),
            (Lib::Raw, _) => "tokio UnixStream".into(),
            (Lib::Localsock, _) => format!("**localsock-{rt}**"),
            (Lib::LocalsockNoLimit, _) => format!("localsock-{rt}, no read limit"),
            (Lib::Interprocess, Layout::Threads | Layout::Pinned) => "interprocess (sync)".into(),
            (Lib::Interprocess, _) => "interprocess (tokio)".into(),
        }
    }

    /// A row the targets apply to.
    pub fn is_localsock(self) -> bool {
        self == Lib::Localsock
    }
}

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    A,
    B64,
    B4,
    C,
    D,
    E,
    F,
}

impl Workload {
    pub const ALL: [Workload; 7] = [
        Workload::A,
        Workload::B64,
        Workload::B4,
        Workload::C,
        Workload::D,
        Workload::E,
        Workload::F,
    ];

    fn id(self) -> &'static str {
        match self {
            Workload::A => "a",
            Workload::B64 => "b64",
            Workload::B4 => "b4",
            Workload::C => "c",
            Workload::D => "d",
            Workload::E => "e",
            Workload::F => "f",
        }
    }
}

/// How much each workload does.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub quick: bool,
    pub a_warmup: usize,
    pub a_n: usize,
    pub b_bytes: u64,
    pub c_conns: usize,
    pub c_rounds: usize,
    pub d_n: usize,
    pub e_bytes: u64,
    /// F: client threads (one connection each) and round trips per client.
    pub f_clients: usize,
    pub f_rounds: usize,
    /// F's client count before the descriptor limit scaled it down.
    pub f_clients_wanted: usize,
    /// Repetitions of every workload but C, interleaved: each round runs
    /// every row once, so a localsock row is measured right next to its
    /// baseline. The median is reported, and each ratio is the median of
    /// the per-round ratios.
    pub reps: usize,
    /// Repetitions of C (the longest workload).
    pub c_reps: usize,
    /// Repetitions of D and F, `--quick` too: these report the spread of
    /// their rounds and the ratio of the medians, which need rounds.
    pub spread_reps: usize,
}

impl Counts {
    pub fn new(quick: bool) -> Counts {
        if quick {
            Counts {
                quick,
                a_warmup: 100,
                a_n: 2_000,
                b_bytes: 32 << 20,
                c_conns: 200,
                c_rounds: 10,
                d_n: 300,
                e_bytes: 16 << 20,
                f_clients: 100,
                f_rounds: 10,
                f_clients_wanted: 100,
                reps: 1,
                c_reps: 1,
                spread_reps: 5,
            }
        } else {
            Counts {
                quick,
                a_warmup: 1_000,
                a_n: 50_000,
                b_bytes: 512 << 20,
                c_conns: 10_000,
                c_rounds: 100,
                d_n: 10_000,
                e_bytes: 256 << 20,
                f_clients: 1_000,
                f_rounds: 100,
                f_clients_wanted: 1_000,
                reps: 5,
                c_reps: 3,
                spread_reps: 5,
            }
        }
    }

    pub fn reps(&self, w: Workload) -> usize {
        match w {
            Workload::C => self.c_reps,
            Workload::D | Workload::F => self.spread_reps,
            _ => self.reps,
        }
    }
}

/// C's result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scale {
    /// Wall time of the clients, s.
    pub secs: f64,
    /// Peak RSS of the server process, MiB.
    pub server_mib: f64,
    /// Peak RSS of the client process, MiB.
    pub client_mib: f64,
    /// Connections that failed.
    pub failures: usize,
}

/// One measurement.
#[derive(Debug, Clone, Copy)]
pub enum Sample {
    A(PingPong),
    B(f64),
    C(Scale),
    D(Connects),
    E(Flood),
    F(Threaded),
}

impl Sample {
    /// The number the median is taken over (bigger is better).
    pub fn primary(&self) -> f64 {
        match self {
            Sample::A(p) => p.per_s,
            Sample::B(g) => *g,
            Sample::C(s) => 1.0 / s.secs.max(1e-9),
            Sample::D(d) => d.per_s,
            Sample::E(f) => f.gib_s,
            Sample::F(t) => t.per_s,
        }
    }
}

/// What happened to one row.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ok(Sample),
    Failed(String),
    Skipped(String),
}

/// All outcomes, by workload, layout and library.
pub type Results = BTreeMap<(Workload, Layout, Lib), Vec<Outcome>>;

/// Runs `$sync` with `$S` bound to the blocking library of the row, or
/// `$asyn` with `$A` bound to the async library and `$ex` to a fresh
/// executor of the layout. Evaluates to `Result<T, String>` (`Err`: the row
/// cannot run here).
macro_rules! dispatch {
    ($layout:expr, $lib:expr, |$S:ident| $sync:expr, |$A:ident, $ex:ident| $asyn:expr) => {{
        let layout: Layout = $layout;
        let lib: Lib = $lib;
        match (layout, lib) {
            (Layout::Threads | Layout::Pinned, Lib::Raw) => {
                type $S = StdRaw;
                Ok($sync)
            }
            (Layout::Threads | Layout::Pinned, Lib::Localsock | Lib::LocalsockNoLimit) => {
                type $S = LocalsockBlocking;
                Ok($sync)
            }
            (Layout::Threads | Layout::Pinned, Lib::Interprocess) => {
                type $S = IpcSync;
                Ok($sync)
            }
            (Layout::Smol, Lib::Raw) => {
                type $A = AsyncIoRaw;
                let $ex = SmolExec::default();
                Ok($asyn)
            }
            (Layout::Smol, Lib::Localsock | Lib::LocalsockNoLimit) => {
                type $A = LocalsockSmol;
                let $ex = SmolExec::default();
                Ok($asyn)
            }
            (Layout::Smol, Lib::Interprocess) => {
                Err(String::from("interprocess has no smol support"))
            }
            (Layout::TokioCt | Layout::TokioMt, lib) => {
                let made = if layout == Layout::TokioCt {
                    TokioExec::current_thread()
                } else {
                    TokioExec::multi_thread()
                };
                match (made, lib) {
                    (Err(e), _) => Err(format!("cannot start tokio: {e}")),
                    (Ok($ex), Lib::Raw) => {
                        type $A = TokioRaw;
                        Ok($asyn)
                    }
                    (Ok($ex), Lib::Interprocess) => {
                        type $A = IpcTokio;
                        Ok($asyn)
                    }
                    (Ok($ex), Lib::Localsock | Lib::LocalsockNoLimit) => {
                        type $A = LocalsockTokio;
                        Ok($asyn)
                    }
                }
            }
        }
    }};
}

fn outcome(r: Result<io::Result<Sample>, String>) -> Outcome {
    match r {
        Ok(Ok(s)) => Outcome::Ok(s),
        Ok(Err(e)) => Outcome::Failed(e.to_string()),
        Err(why) => Outcome::Skipped(why),
    }
}

/// Runs `f` on a thread pinned to CPU 0 for the pinned layout; as is
/// otherwise.
fn in_layout<T: Send>(layout: Layout, f: impl FnOnce() -> T + Send) -> T {
    if layout != Layout::Pinned {
        return f();
    }
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            if let Err(e) = sys::pin_to_cpu0() {
                eprintln!("bench: cannot pin to CPU 0: {e}");
            }
            f()
        });
        match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// One in-process measurement (A, B, D, F).
fn measure_here(w: Workload, layout: Layout, lib: Lib, c: &Counts) -> Outcome {
    let path = sys::socket_path(w.id());
    let p = path.as_str();
    let r = in_layout(layout, || match w {
        Workload::A => dispatch!(
            layout,
            lib,
            |S| work::a_sync::<S>(p, c.a_warmup, c.a_n).map(Sample::A),
            |A, ex| work::a_async::<A, _>(&ex, p, c.a_warmup, c.a_n).map(Sample::A)
        ),
        Workload::B64 | Workload::B4 => {
            let chunk = if w == Workload::B64 {
                64 << 10
            } else {
                4 << 10
            };
            dispatch!(
                layout,
                lib,
                |S| work::b_sync::<S>(p, c.b_bytes, chunk).map(Sample::B),
                |A, ex| work::b_async::<A, _>(&ex, p, c.b_bytes, chunk).map(Sample::B)
            )
        }
        Workload::D => dispatch!(
            layout,
            lib,
            |S| work::d_sync::<S>(p, c.d_n).map(Sample::D),
            |A, ex| work::d_async::<A, _>(&ex, p, c.d_n).map(Sample::D)
        ),
        Workload::F => match (layout, lib) {
            (Layout::Threads, Lib::Raw) => {
                Ok(work::f_sync::<StdRaw>(p, c.f_clients, c.f_rounds).map(Sample::F))
            }
            (Layout::Threads, Lib::Localsock) => {
                Ok(work::f_sync::<LocalsockBlocking>(p, c.f_clients, c.f_rounds).map(Sample::F))
            }
            _ => Err("thread per connection: blocking threads only".to_string()),
        },
        Workload::C | Workload::E => Err("runs in a child process".to_string()),
    });
    let _ = std::fs::remove_file(&path);
    outcome(r)
}

/// Parses a child's `result k=v …` line.
fn parse_result(line: &str) -> Result<BTreeMap<String, f64>, String> {
    let Some(rest) = line.trim().strip_prefix("result") else {
        return Err(line.trim().trim_start_matches("error: ").to_string());
    };
    Ok(rest
        .split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}

fn field(m: &BTreeMap<String, f64>, k: &str) -> f64 {
    m.get(k).copied().unwrap_or(0.0)
}

fn row_command(exe: &Path, kind: &str, layout: Layout, lib: Lib, path: &str) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(["bench-row", kind, layout.id(), lib.id(), path])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// C: server and clients in two child processes.
fn measure_c(exe: &Path, layout: Layout, lib: Lib, c: &Counts) -> Outcome {
    let path = sys::socket_path("c");
    let r = measure_c_in(exe, layout, lib, c, &path);
    let _ = std::fs::remove_file(&path);
    r
}

fn measure_c_in(exe: &Path, layout: Layout, lib: Lib, c: &Counts, path: &str) -> Outcome {
    let mut server = match row_command(exe, "c-server", layout, lib, path)
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(format!("cannot start the server process: {e}")),
    };
    let Some(stdout) = server.stdout.take() else {
        let _ = server.kill();
        return Outcome::Failed("no stdout from the server process".into());
    };
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    let _ = out.read_line(&mut line);
    if line.trim() != "ready" {
        let _ = server.kill();
        let _ = server.wait();
        return match line.trim().strip_prefix("skip: ") {
            Some(why) => Outcome::Skipped(why.to_string()),
            None => Outcome::Failed(format!("server: {}", line.trim())),
        };
    }
    let clients = row_command(exe, "c-clients", layout, lib, path)
        .args([c.c_conns.to_string(), c.c_rounds.to_string()])
        .output();
    // Closing the server's stdin makes it report its peak RSS and exit.
    drop(server.stdin.take());
    line.clear();
    let _ = out.read_line(&mut line);
    let _ = server.wait();
    let server_result = parse_result(&line);
    let clients = match clients {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => return Outcome::Failed(format!("cannot start the client process: {e}")),
    };
    let client_result = match parse_result(clients.lines().last().unwrap_or("")) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(format!("clients: {e}")),
    };
    let server_mib = match server_result {
        Ok(m) => field(&m, "peak_mib"),
        Err(e) => return Outcome::Failed(format!("server: {e}")),
    };
    Outcome::Ok(Sample::C(Scale {
        secs: field(&client_result, "secs"),
        server_mib,
        client_mib: field(&client_result, "peak_mib"),
        failures: field(&client_result, "failures") as usize,
    }))
}

/// E: one child process.
fn measure_e(exe: &Path, layout: Layout, lib: Lib, c: &Counts) -> Outcome {
    let path = sys::socket_path("e");
    let out = row_command(exe, "e", layout, lib, &path)
        .arg(c.e_bytes.to_string())
        .output();
    let _ = std::fs::remove_file(&path);
    let out = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
        Err(e) => return Outcome::Failed(format!("cannot start the row process: {e}")),
    };
    let last = out.lines().last().unwrap_or("").trim();
    if let Some(why) = last.strip_prefix("skip: ") {
        return Outcome::Skipped(why.to_string());
    }
    match parse_result(last) {
        Ok(m) => Outcome::Ok(Sample::E(Flood {
            gib_s: field(&m, "gib_s"),
            peak_mib: field(&m, "peak_mib"),
            growth_mib: field(&m, "growth_mib"),
        })),
        Err(e) => Outcome::Failed(e),
    }
}

/// The hidden `bench-row KIND LAYOUT LIB PATH [N…]` subcommand.
pub fn child(args: &[String]) -> u8 {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let (Some(layout), Some(lib)) = (Layout::from_id(arg(1)), Lib::from_id(arg(2))) else {
        eprintln!("localsock bench-row: bad arguments {args:?}");
        return exit::USAGE;
    };
    let path = arg(3).to_string();
    if path.is_empty() {
        eprintln!("localsock bench-row: no socket path");
        return exit::USAGE;
    }
    sys::raise_nofile_limit();
    if layout == Layout::Pinned {
        if let Err(e) = sys::pin_to_cpu0() {
            eprintln!("bench: cannot pin to CPU 0: {e}");
        }
    }
    let p = path.as_str();
    let printed = match arg(0) {
        "c-server" => {
            // The parent closes stdin when the clients are done.
            std::thread::spawn(|| {
                let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
                say(&format!("result peak_mib={:.2}", sys::peak_rss_mib()));
                std::process::exit(0);
            });
            let r = dispatch!(layout, lib, |S| work::c_server_sync::<S>(p), |A, ex| {
                work::c_server_async::<A, _>(&ex, p)
            });
            match r {
                Ok(Ok(())) => Ok(String::from("error: the server stopped")),
                Ok(Err(e)) => Ok(format!("error: server: {e}")),
                Err(why) => Err(why),
            }
        }
        "c-clients" => {
            let (conns, rounds) = (num(4) as usize, num(5) as usize);
            dispatch!(
                layout,
                lib,
                |S| work::c_clients_sync::<S>(p, conns, rounds),
                |A, ex| work::c_clients_async::<A, _>(&ex, p, conns, rounds)
            )
            .map(|(secs, failures)| {
                format!(
                    "result secs={secs:.4} failures={failures} peak_mib={:.2}",
                    sys::peak_rss_mib()
                )
            })
        }
        "e" => {
            let bytes = num(4);
            let limit = (lib != Lib::LocalsockNoLimit).then_some(FLOOD_LIMIT);
            dispatch!(
                layout,
                lib,
                |S| work::e_sync::<S>(p, bytes, limit),
                |A, ex| work::e_async::<A, _>(&ex, p, bytes, limit)
            )
            .map(|r| match r {
                Ok(f) => format!(
                    "result gib_s={:.4} peak_mib={:.2} growth_mib={:.2}",
                    f.gib_s, f.peak_mib, f.growth_mib
                ),
                Err(e) => format!("error: {e}"),
            })
        }
        other => {
            eprintln!("localsock bench-row: unknown row kind {other:?}");
            return exit::USAGE;
        }
    };
    match printed {
        Ok(line) => {
            say(&line);
            if line.starts_with("error") {
                exit::OTHER
            } else {
                exit::OK
            }
        }
        Err(why) => {
            say(&format!("skip: {why}"));
            exit::OK
        }
    }
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Progress on stderr: a bar on a terminal, one line per row otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress {
            bar,
            total,
            done: 0,
        }
    }

    fn start(&mut self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_string()),
            None => eprintln!("bench: [{}/{}] {what}", self.done + 1, self.total),
        }
    }

    fn warn(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finish_one(&mut self) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Kills the benchmark if one row hangs (a bug, not a slow machine).
fn start_watchdog(limit: Duration) -> Arc<Mutex<(String, Instant)>> {
    let current = Arc::new(Mutex::new((String::new(), Instant::now())));
    let watched = current.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(1));
        let (what, since) = match watched.lock() {
            Ok(g) => g.clone(),
            Err(_) => return,
        };
        if since.elapsed() > limit {
            eprintln!(
                "bench: {what} ran longer than {} s; giving up",
                limit.as_secs()
            );
            std::process::exit(i32::from(exit::OTHER));
        }
    });
    current
}

/// The pause after each C row (see `run`).
const C_SETTLE: Duration = Duration::from_secs(1);

/// The whole benchmark.
pub fn run(config: &Config) -> u8 {
    let mut counts = Counts::new(config.quick);
    if let Some(n) = config.rounds {
        counts.reps = n;
        counts.c_reps = n;
        counts.spread_reps = n;
    }
    let fds = sys::raise_nofile_limit();
    // F holds two descriptors per client in this process.
    let f_fit = (fds.saturating_sub(64) / 2).max(1);
    if (counts.f_clients as u64) > f_fit {
        counts.f_clients = f_fit as usize;
    }
    let layouts: Vec<Layout> = Layout::ALL
        .into_iter()
        .filter(|l| config.runtimes.is_empty() || config.runtimes.contains(&l.runtime()))
        .filter(|l| config.layouts.is_empty() || config.layouts.iter().any(|s| s == l.id()))
        .collect();
    let mut jobs = Vec::new();
    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| config.workloads.is_empty() || config.workloads.iter().any(|s| s == w.id()))
        .collect();
    for &w in &workloads {
        for round in 0..counts.reps(w) {
            for &layout in &layouts {
                // Each round starts with another row, so that no row always
                // runs first, on a machine still busy with the previous
                // row's teardown (C's 20,000 sockets and threads), or
                // always second.
                let mut libs = layout.libs(w);
                let n = libs.len().max(1);
                libs.rotate_left(round % n);
                for lib in libs {
                    if !config.libs.is_empty() && !config.libs.iter().any(|s| s == lib.id()) {
                        continue;
                    }
                    jobs.push((w, layout, lib));
                }
            }
        }
    }
    let mut progress = Progress::new(jobs.len());
    if counts.f_clients < counts.f_clients_wanted && workloads.contains(&Workload::F) {
        progress.warn(&format!(
            "bench: the descriptor limit is {fds}; workload F runs {} clients instead of {}",
            counts.f_clients, counts.f_clients_wanted
        ));
    }
    if fds < 2 * counts.c_conns as u64 + 64 {
        progress.warn(&format!(
            "bench: the descriptor limit is {fds}; workload C needs about {} per process",
            counts.c_conns + 64
        ));
    }
    let watchdog = start_watchdog(Duration::from_secs(if config.quick { 120 } else { 900 }));
    let mut warned_compiler = false;
    let mut results = Results::new();
    for (w, layout, lib) in jobs {
        let what = format!(
            "{w:?} · {} · {}",
            layout.label(),
            lib.label(layout).replace('*', "")
        );
        progress.start(&what);
        if let Ok(mut g) = watchdog.lock() {
            *g = (what.clone(), Instant::now());
        }
        if !warned_compiler && sys::compiler_running() {
            warned_compiler = true;
            progress.warn("bench: a compiler is running: timings will be noisy");
        }
        let o = match w {
            Workload::C => {
                let o = measure_c(&config.exe, layout, lib, &counts);
                // Let the kernel finish tearing down 20,000 sockets and the
                // server's threads before the next row starts.
                std::thread::sleep(C_SETTLE);
                o
            }
            Workload::E => measure_e(&config.exe, layout, lib, &counts),
            _ => measure_here(w, layout, lib, &counts),
        };
        if let Outcome::Failed(e) = &o {
            progress.warn(&format!("bench: {what}: {e}"));
        }
        results.entry((w, layout, lib)).or_default().push(o);
        progress.finish_one();
    }
    if let Ok(mut g) = watchdog.lock() {
        *g = ("rendering".into(), Instant::now());
    }
    progress.finish();
    let text = report::render(&results, &layouts, &workloads, &counts);
    // A closed stdout (`| head`) is not a failed benchmark.
    let _ = crate::write_stdout(text.as_bytes());
    let failed = results.iter().any(|((_, _, lib), v)| {
        *lib != Lib::Interprocess && v.iter().all(|o| matches!(o, Outcome::Failed(_)))
    });
    if failed {
        exit::OTHER
    } else {
        exit::OK
    }
}
