//! The workloads, once for blocking libraries and once for async ones.
//!
//! - A: 64-byte ping-pong, one client, one server.
//! - B: bulk transfer in writes of a given size; the reader counts and
//!   discards, reading into a 64 KiB buffer.
//! - C: many concurrent connections × ping-pongs, server and clients in two
//!   processes (`c_server`, `c_clients`); see `mod.rs`.
//! - D: sequential connect + close against one accepting thread or task.
//! - E: a flood into a reader that takes 16 KiB per readyRead, with a read
//!   buffer limit (peak RSS must stay flat).
//! - F: many client threads, one connection and a series of ping-pongs
//!   each, against a server with a thread per connection (blocking only).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::libs::{read_full, read_full_async, AsyncLib, AsyncStream, Exec, SyncLib};
use super::sys;

/// The ping-pong message.
pub const PING: usize = 64;
/// The reader's buffer in B.
pub const READ_BUF: usize = 64 * 1024;
/// What E's reader takes per readyRead.
pub const FLOOD_PIECE: usize = 16 * 1024;
/// E's read-buffer limit.
pub const FLOOD_LIMIT: usize = 64 * 1024;
/// Stack of each per-connection thread in C (same for every blocking row).
const THREAD_STACK: usize = 128 * 1024;
/// Client threads in C's blocking rows (each owns a share of connections).
const C_CLIENT_THREADS: usize = 100;

/// A's result.
#[derive(Debug, Clone, Copy, Default)]
pub struct PingPong {
    /// Median round trip, µs.
    pub median_us: f64,
    /// 99th percentile round trip, µs.
    pub p99_us: f64,
    /// Round trips per second over the whole run.
    pub per_s: f64,
}

/// D's result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Connects {
    /// Connects (that the client saw succeed) per second.
    pub per_s: f64,
    /// Connects that failed, or that succeeded but never reached the server.
    pub failures: usize,
}

/// F's result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Threaded {
    /// Wall time from the start signal until the last client thread ended, s.
    pub secs: f64,
    /// Round trips completed per second over that time.
    pub per_s: f64,
    /// Clients that could not connect or lost their connection.
    pub failures: usize,
}

/// E's result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flood {
    /// GiB/s through the slow reader.
    pub gib_s: f64,
    /// Peak RSS of the process, MiB.
    pub peak_mib: f64,
    /// Peak RSS minus RSS before the flood, MiB.
    pub growth_mib: f64,
}

fn summarize(mut rtts: Vec<u64>, total: Duration) -> PingPong {
    if rtts.is_empty() {
        return PingPong::default();
    }
    rtts.sort_unstable();
    let pick = |q: f64| rtts[((rtts.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    PingPong {
        median_us: pick(0.5),
        p99_us: pick(0.99),
        per_s: rtts.len() as f64 / total.as_secs_f64(),
    }
}

fn gib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1u64 << 30) as f64 / d.as_secs_f64().max(1e-9)
}

fn join<T>(h: std::thread::JoinHandle<io::Result<T>>) -> io::Result<T> {
    h.join()
        .unwrap_or_else(|_| Err(io::Error::other("a benchmark thread panicked")))
}

// ----- blocking --------------------------------------------------------------

/// Writes `total` bytes in writes of `data` (the last one shorter), then
/// flushes.
fn send_total(c: &mut impl Write, data: &[u8], total: u64) -> io::Result<()> {
    let mut sent = 0u64;
    while sent < total {
        let k = (total - sent).min(data.len() as u64) as usize;
        c.write_all(&data[..k])?;
        sent += k as u64;
    }
    c.flush()
}

/// Echoes 64-byte messages until the peer goes.
fn echo_sync<S: io::Read + Write>(s: &mut S) -> io::Result<()> {
    let mut buf = [0u8; PING];
    while read_full(s, &mut buf)? {
        s.write_all(&buf)?;
        s.flush()?;
    }
    Ok(())
}

/// A: ping-pong.
pub fn a_sync<L: SyncLib>(path: &str, warmup: usize, n: usize) -> io::Result<PingPong> {
    let mut l = L::listen(path)?;
    let server = std::thread::spawn(move || {
        let mut s = L::accept(&mut l)?;
        echo_sync(&mut s)
    });
    let mut c = L::connect(path)?;
    let msg = [7u8; PING];
    let mut back = [0u8; PING];
    let mut rtts = Vec::with_capacity(n);
    let mut start = Instant::now();
    for i in 0..warmup + n {
        if i == warmup {
            start = Instant::now();
        }
        let t = Instant::now();
        c.write_all(&msg)?;
        c.flush()?;
        if !read_full(&mut c, &mut back)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if i >= warmup {
            rtts.push(t.elapsed().as_nanos() as u64);
        }
    }
    let total = start.elapsed();
    drop(c);
    join(server)?;
    Ok(summarize(rtts, total))
}

/// B: `total` bytes in writes of `chunk`; GiB/s until the reader has all.
pub fn b_sync<L: SyncLib>(path: &str, total: u64, chunk: usize) -> io::Result<f64> {
    let mut l = L::listen(path)?;
    let server = std::thread::spawn(move || {
        let mut s = L::accept(&mut l)?;
        let mut buf = vec![0u8; READ_BUF];
        let mut got = 0u64;
        while got < total {
            match s.read(&mut buf)? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => got += n as u64,
            }
        }
        Ok(Instant::now())
    });
    let mut c = L::connect(path)?;
    let data = vec![0x5au8; chunk];
    let start = Instant::now();
    send_total(&mut c, &data, total)?;
    let end = join(server)?;
    drop(c);
    Ok(gib_s(total, end - start))
}

/// D: `n` sequential connects, each closed at once.
pub fn d_sync<L: SyncLib>(path: &str, n: usize) -> io::Result<Connects> {
    let mut l = L::listen(path)?;
    let accepted = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (accepted, stop) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                if let Ok(s) = L::accept(&mut l) {
                    drop(s);
                    accepted.fetch_add(1, Ordering::AcqRel);
                }
            }
            Ok(())
        })
    };
    let (mut ok, mut failed) = (0usize, 0usize);
    let start = Instant::now();
    for _ in 0..n {
        match L::connect(path) {
            Ok(s) => {
                ok += 1;
                drop(s);
            }
            Err(_) => failed += 1,
        }
    }
    let elapsed = start.elapsed();
    wait_for_count(&accepted, ok);
    let reached = accepted.load(Ordering::Acquire);
    stop.store(true, Ordering::Release);
    // Wake the accept loop with one last raw connect.
    drop(std::os::unix::net::UnixStream::connect(path));
    join(server)?;
    Ok(Connects {
        per_s: ok as f64 / elapsed.as_secs_f64(),
        failures: failed + ok.saturating_sub(reached),
    })
}

/// Waits until `count` reaches `want`, or it stops moving for a second.
fn wait_for_count(count: &AtomicUsize, want: usize) {
    let mut last = count.load(Ordering::Acquire);
    let mut since = Instant::now();
    while last < want && since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(1));
        let now = count.load(Ordering::Acquire);
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
}

/// E: a flood of `total` bytes into a reader taking 16 KiB at a time.
pub fn e_sync<L: SyncLib>(path: &str, total: u64, limit: Option<usize>) -> io::Result<Flood> {
    let base = sys::rss_mib();
    let mut l = L::listen(path)?;
    let server = std::thread::spawn(move || {
        let mut s = L::accept(&mut l)?;
        if let Some(limit) = limit {
            L::set_read_limit(&mut s, limit);
        }
        let mut buf = vec![0u8; FLOOD_PIECE];
        let mut got = 0u64;
        while got < total {
            match L::read_piece(&mut s, &mut buf)? {
                0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                n => got += n as u64,
            }
        }
        Ok(Instant::now())
    });
    let mut c = L::connect(path)?;
    let data = vec![0xa5u8; READ_BUF];
    let start = Instant::now();
    send_total(&mut c, &data, total)?;
    let end = join(server)?;
    drop(c);
    let peak = sys::peak_rss_mib();
    Ok(Flood {
        gib_s: gib_s(total, end - start),
        peak_mib: peak,
        growth_mib: (peak - base).max(0.0),
    })
}

/// C, server process: serves every client (a thread each) until stdin closes.
pub fn c_server_sync<L: SyncLib>(path: &str) -> io::Result<()> {
    let mut l = L::listen(path)?;
    ready();
    loop {
        let mut s = L::accept(&mut l)?;
        std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || echo_sync(&mut s))?;
    }
}

/// C, client process: `conns` connections held open at once, `rounds`
/// ping-pongs on each; returns (seconds, failed connections).
pub fn c_clients_sync<L: SyncLib>(path: &str, conns: usize, rounds: usize) -> (f64, usize) {
    let threads = C_CLIENT_THREADS.min(conns).max(1);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let share = conns / threads + usize::from(t < conns % threads);
            let path = path.to_string();
            std::thread::Builder::new()
                .stack_size(THREAD_STACK)
                .spawn(move || c_client_thread::<L>(&path, share, rounds))
        })
        .collect();
    let mut failures = 0;
    for h in handles {
        failures += match h {
            Ok(h) => h.join().unwrap_or(usize::MAX / 2),
            Err(_) => conns / threads,
        };
    }
    (start.elapsed().as_secs_f64(), failures.min(conns))
}

fn c_client_thread<L: SyncLib>(path: &str, share: usize, rounds: usize) -> usize {
    let mut conns = Vec::with_capacity(share);
    let mut failures = 0;
    for _ in 0..share {
        match L::connect(path) {
            Ok(s) => conns.push(Some(s)),
            Err(_) => failures += 1,
        }
    }
    let msg = [3u8; PING];
    let mut back = [0u8; PING];
    for _ in 0..rounds {
        for slot in conns.iter_mut() {
            if let Some(s) = slot {
                if s.write_all(&msg).and_then(|()| s.flush()).is_err() {
                    *slot = None;
                    failures += 1;
                }
            }
        }
        for slot in conns.iter_mut() {
            if let Some(s) = slot {
                if !matches!(read_full(s, &mut back), Ok(true)) {
                    *slot = None;
                    failures += 1;
                }
            }
        }
    }
    failures
}

/// F: `clients` client threads, each connecting once and making `rounds`
/// 64-byte round trips, against one accepting thread that starts an echo
/// thread per connection. The client threads are created first and wait at
/// a gate; the clock runs from opening the gate until the last one ends, so
/// it counts the connects, the server's thread starts and the round trips,
/// not the creation of the client threads.
pub fn f_sync<L: SyncLib>(path: &str, clients: usize, rounds: usize) -> io::Result<Threaded> {
    let mut l = L::listen(path)?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut echoes = Vec::new();
            while !stop.load(Ordering::Acquire) {
                match L::accept(&mut l) {
                    Ok(mut s) => {
                        // Without a thread the socket is dropped: its client
                        // sees the connection end and counts a failure.
                        if let Ok(h) = std::thread::Builder::new()
                            .stack_size(THREAD_STACK)
                            .spawn(move || echo_sync(&mut s))
                        {
                            echoes.push(h);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            for h in echoes {
                let _ = h.join();
            }
            Ok(())
        })
    };
    let gate = Arc::new(RwLock::new(()));
    let closed = gate.write().unwrap_or_else(|e| e.into_inner());
    let mut handles = Vec::with_capacity(clients);
    let mut failures = 0;
    for _ in 0..clients {
        let (path, gate) = (path.to_string(), gate.clone());
        let spawned = std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn(move || {
                drop(gate.read());
                f_client::<L>(&path, rounds)
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(_) => failures += 1,
        }
    }
    let start = Instant::now();
    drop(closed);
    let mut done = 0;
    for h in handles {
        let (n, failed) = h.join().unwrap_or((0, true));
        done += n;
        failures += usize::from(failed);
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    // Wake the accept loop with one last raw connect.
    drop(std::os::unix::net::UnixStream::connect(path));
    join(server)?;
    Ok(Threaded {
        secs,
        per_s: done as f64 / secs.max(1e-9),
        failures,
    })
}

/// One client of F: connects, makes `rounds` round trips, drops the
/// connection. Returns the round trips made and whether it failed.
fn f_client<L: SyncLib>(path: &str, rounds: usize) -> (usize, bool) {
    let Ok(mut s) = L::connect(path) else {
        return (0, true);
    };
    let msg = [9u8; PING];
    let mut back = [0u8; PING];
    for i in 0..rounds {
        let ok = s
            .write_all(&msg)
            .and_then(|()| s.flush())
            .and_then(|()| read_full(&mut s, &mut back));
        if !matches!(ok, Ok(true)) {
            return (i, true);
        }
    }
    (rounds, false)
}

/// Tells the parent the server listens.
fn ready() {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

// ----- async -----------------------------------------------------------------

/// [`send_total`] for the async libraries.
async fn send_total_async<S: AsyncStream>(c: &mut S, data: &[u8], total: u64) -> io::Result<()> {
    let mut sent = 0u64;
    while sent < total {
        let k = (total - sent).min(data.len() as u64) as usize;
        c.write_all(&data[..k]).await?;
        sent += k as u64;
    }
    c.flush().await
}

async fn echo_async<S: AsyncStream>(mut s: S) -> io::Result<()> {
    let mut buf = [0u8; PING];
    while read_full_async(&mut s, &mut buf).await? {
        s.write_all(&buf).await?;
        s.flush().await?;
    }
    Ok(())
}

/// A: ping-pong.
pub fn a_async<L: AsyncLib, E: Exec>(
    ex: &E,
    path: &str,
    warmup: usize,
    n: usize,
) -> io::Result<PingPong> {
    ex.block_on(async {
        let mut l = L::listen(path)?;
        let server = ex.spawn(async move {
            let s = L::accept(&mut l).await?;
            echo_async(s).await
        });
        let mut c = L::connect(path).await?;
        let msg = [7u8; PING];
        let mut back = [0u8; PING];
        let mut rtts = Vec::with_capacity(n);
        let mut start = Instant::now();
        for i in 0..warmup + n {
            if i == warmup {
                start = Instant::now();
            }
            let t = Instant::now();
            c.write_all(&msg).await?;
            c.flush().await?;
            if !read_full_async(&mut c, &mut back).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            if i >= warmup {
                rtts.push(t.elapsed().as_nanos() as u64);
            }
        }
        let total = start.elapsed();
        drop(c);
        server.await?;
        Ok(summarize(rtts, total))
    })
}

/// B: bulk.
pub fn b_async<L: AsyncLib, E: Exec>(
    ex: &E,
    path: &str,
    total: u64,
    chunk: usize,
) -> io::Result<f64> {
    ex.block_on(async {
        let mut l = L::listen(path)?;
        let server = ex.spawn(async move {
            let mut s = L::accept(&mut l).await?;
            let mut buf = vec![0u8; READ_BUF];
            let mut got = 0u64;
            while got < total {
                match s.read(&mut buf).await? {
                    0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    n => got += n as u64,
                }
            }
            Ok(Instant::now())
        });
        let mut c = L::connect(path).await?;
        let data = vec![0x5au8; chunk];
        let start = Instant::now();
        send_total_async(&mut c, &data, total).await?;
        let end = server.await?;
        drop(c);
        Ok(gib_s(total, end - start))
    })
}

/// D: sequential connects.
pub fn d_async<L: AsyncLib, E: Exec>(ex: &E, path: &str, n: usize) -> io::Result<Connects> {
    ex.block_on(async {
        let mut l = L::listen(path)?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let server = {
            let accepted = accepted.clone();
            ex.spawn(async move {
                loop {
                    if let Ok(s) = L::accept(&mut l).await {
                        drop(s);
                        accepted.fetch_add(1, Ordering::AcqRel);
                    }
                }
            })
        };
        let (mut ok, mut failed) = (0usize, 0usize);
        let start = Instant::now();
        for _ in 0..n {
            match L::connect(path).await {
                Ok(s) => {
                    ok += 1;
                    drop(s);
                }
                Err(_) => failed += 1,
            }
        }
        let elapsed = start.elapsed();
        // Let the server catch up (it shares the executor).
        let mut last = accepted.load(Ordering::Acquire);
        let mut since = Instant::now();
        while last < ok && since.elapsed() < Duration::from_secs(1) {
            ex.sleep(Duration::from_millis(1)).await;
            let now = accepted.load(Ordering::Acquire);
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
        drop(server);
        Ok(Connects {
            per_s: ok as f64 / elapsed.as_secs_f64(),
            failures: failed + ok.saturating_sub(last),
        })
    })
}

/// E: flood.
pub fn e_async<L: AsyncLib, E: Exec>(
    ex: &E,
    path: &str,
    total: u64,
    limit: Option<usize>,
) -> io::Result<Flood> {
    let base = sys::rss_mib();
    let gib = ex.block_on(async {
        let mut l = L::listen(path)?;
        let server = ex.spawn(async move {
            let mut s = L::accept(&mut l).await?;
            if let Some(limit) = limit {
                s.set_read_limit(limit);
            }
            let mut buf = vec![0u8; FLOOD_PIECE];
            let mut got = 0u64;
            while got < total {
                match s.read_piece(&mut buf).await? {
                    0 => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                    n => got += n as u64,
                }
            }
            Ok(Instant::now())
        });
        let mut c = L::connect(path).await?;
        let data = vec![0xa5u8; READ_BUF];
        let start = Instant::now();
        send_total_async(&mut c, &data, total).await?;
        let end = server.await?;
        drop(c);
        io::Result::Ok(gib_s(total, end - start))
    })?;
    let peak = sys::peak_rss_mib();
    Ok(Flood {
        gib_s: gib,
        peak_mib: peak,
        growth_mib: (peak - base).max(0.0),
    })
}

/// C, server process: a task per client, until stdin closes.
pub fn c_server_async<L: AsyncLib, E: Exec>(ex: &E, path: &str) -> io::Result<()> {
    ex.block_on(async {
        let mut l = L::listen(path)?;
        ready();
        loop {
            let s = L::accept(&mut l).await?;
            // The process ends when the parent closes stdin.
            ex.detach(async move {
                let _ = echo_async(s).await;
            });
        }
    })
}

/// C, client process: a task per connection; returns (seconds, failures).
pub fn c_clients_async<L: AsyncLib, E: Exec>(
    ex: &E,
    path: &str,
    conns: usize,
    rounds: usize,
) -> (f64, usize) {
    ex.block_on(async {
        let path: Arc<str> = path.into();
        let start = Instant::now();
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                let path = path.clone();
                ex.spawn(async move {
                    let Ok(mut s) = L::connect(&path).await else {
                        return 1usize;
                    };
                    let msg = [3u8; PING];
                    let mut back = [0u8; PING];
                    for _ in 0..rounds {
                        let ok = async {
                            s.write_all(&msg).await?;
                            s.flush().await?;
                            read_full_async(&mut s, &mut back).await
                        }
                        .await;
                        if !matches!(ok, Ok(true)) {
                            return 1;
                        }
                    }
                    0
                })
            })
            .collect();
        let mut failures = 0;
        for t in tasks {
            failures += t.await;
        }
        (start.elapsed().as_secs_f64(), failures)
    })
}
