//! `lsk-peer`: the other process in the reliability proofs
//! (`localsock_tests::reliability`).
//!
//! ```text
//! lsk-peer <runtime> <role> <args…>
//! ```
//!
//! `runtime` is a runtime's `Runtime::NAME` (`blocking`, …); the role runs on
//! that runtime's socket and server. Every fact is reported as one stdout
//! line, `key value…`, for the proof to assert on; errors are printed as
//! their `Debug` names (`SocketAccess`). Roles:
//!
//! - `client NAME LEN SEED`: connect; print `connected` (or `connect-error
//!   KIND` and stop), `self PID UID GID`, `peer PID UID GID` (the server as
//!   seen through the socket; `-` where unknown); send `payload(LEN, SEED)`,
//!   read LEN bytes back, print `received CHECKSUM`; disconnect; `done`.
//! - `serve NAME`: listen, print `listening`, echo one client until it
//!   closes, print `served BYTES` (silent connections: `probe`).
//! - `vanish NAME`: connect, print `connected`, exit at once without
//!   closing anything (the OS closes the socket with the process).
//! - `connect-close-loop NAME N`: N times connect and close at once (some
//!   after a stray byte, some by abort, some by drop); print `done OK`.
//! - `send-until-killed NAME`: connect, print `connected`, then send the
//!   reliability `Pattern` stream forever in 64 KiB writes, printing `sent
//!   TOTAL` after each (the proof kills us mid-transfer).
//! - `write-after-close NAME`: with SIGPIPE at its default action (death),
//!   connect, print `connected`, wait for a `go` line on stdin (the server
//!   has closed its end by then), then write into the dead connection and
//!   print what happened; exiting normally proves no SIGPIPE was raised.
//! - `slow-reader NAME LIMIT TOTAL`: with a read-buffer limit of LIMIT,
//!   connect, print `connected`, pause, then read TOTAL bytes of the
//!   `Pattern` stream through Qt's `waitForReadyRead`/`readAll`; print `read
//!   BYTES INTACT MAX_BUFFERED PEAK_RSS_KIB`.
//! - `emfile SPARE`: the out-of-descriptors scenario, all in this process
//!   (see `run_emfile`).
//! - `inherited-sockets`: print `inherited-sockets N FDS…`, the socket
//!   descriptors this process inherited.
//! - `many-clients NAME FIRST COUNT THREADS`: open connections FIRST ..
//!   FIRST+COUNT from THREADS threads and hold them all; print `open OK`;
//!   wait for a `go` line; then send every request, read every reply, print
//!   `done OK BAD`.

use std::io::BufRead;
use std::time::Duration;

use localsock_tests::harness::{checksum, payload};
use localsock_tests::reliability::Pattern;
use localsock_tests::rt_blocking::Blocking;
use localsock_tests::rt_smol::Smol;
use localsock_tests::rt_tokio::{TokioCurrentThread, TokioMultiThread};
use localsock_tests::{OpenMode, Runtime, TestServer, TestSocket, LONG};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((runtime, rest)) = args.split_first() else {
        usage();
    };
    // One line per runtime that exists.
    if runtime == Blocking::NAME {
        run::<Blocking>(rest);
    } else if runtime == Smol::NAME {
        run::<Smol>(rest);
    } else if runtime == TokioCurrentThread::NAME {
        run::<TokioCurrentThread>(rest);
    } else if runtime == TokioMultiThread::NAME {
        run::<TokioMultiThread>(rest);
    } else {
        eprintln!("lsk-peer: unknown runtime {runtime:?}");
        std::process::exit(2);
    }
}

fn usage() -> ! {
    eprintln!("usage: lsk-peer <runtime> <role> <args…>");
    std::process::exit(2);
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

fn run<R: Runtime>(args: &[String]) {
    let Some((role, a)) = args.split_first() else {
        usage();
    };
    match role.as_str() {
        "client" => client::<R>(&a[0], arg(a, 1), arg(a, 2)),
        "serve" => serve::<R>(&a[0]),
        "vanish" => vanish::<R>(&a[0]),
        "connect-close-loop" => connect_close_loop::<R>(&a[0], arg(a, 1)),
        "send-until-killed" => send_until_killed::<R>(&a[0]),
        "write-after-close" => write_after_close::<R>(&a[0]),
        "slow-reader" => slow_reader::<R>(&a[0], arg(a, 1), arg(a, 2)),
        "emfile" => run_emfile::<R>(arg(a, 0)),
        "inherited-sockets" => inherited_sockets(),
        "many-clients" => many_clients::<R>(&a[0], arg(a, 1), arg(a, 2), arg(a, 3)),
        _ => usage(),
    }
}

fn connect<R: Runtime>(name: &str) -> Option<R::Socket> {
    let mut s = R::socket();
    s.connect_to_server(name, OpenMode::ReadWrite);
    if s.wait_for_connected(LONG) {
        println!("connected");
        Some(s)
    } else {
        println!("connect-error {:?}", s.error());
        None
    }
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

#[cfg(unix)]
fn own_ids() -> (String, String) {
    (
        rustix::process::getuid().as_raw().to_string(),
        rustix::process::getgid().as_raw().to_string(),
    )
}

#[cfg(not(unix))]
fn own_ids() -> (String, String) {
    ("-".to_string(), "-".to_string())
}

fn client<R: Runtime>(name: &str, len: usize, seed: u64) {
    let Some(mut s) = connect::<R>(name) else {
        return;
    };
    let (uid, gid) = own_ids();
    println!("self {} {uid} {gid}", std::process::id());
    match s.peer_credentials() {
        Ok(c) => println!("peer {} {} {}", opt(c.pid), opt(c.uid), opt(c.gid)),
        Err(e) => println!("peer-error {e}"),
    }
    if len > 0 {
        s.io_write_all(&payload(len, seed))
            .expect("send the request");
        let mut back = vec![0u8; len];
        s.io_read_exact(&mut back).expect("read the reply");
        println!("received {}", checksum(&back));
    }
    s.disconnect_from_server();
    if s.state() != localsock_tests::State::Unconnected {
        s.wait_for_disconnected(LONG);
    }
    println!("done");
}

fn serve<R: Runtime>(name: &str) {
    let mut server = R::server();
    if let Err(e) = server.listen(name) {
        println!("listen-error {:?}", e.kind());
        return;
    }
    println!("listening");
    // Connections that end without a byte (the liveness probes of other
    // processes' `listen` on this name) are skipped.
    loop {
        let mut s = server.accept_one();
        let n = localsock_tests::reliability::echo_until_closed(&mut s);
        if n > 0 {
            println!("served {n}");
            return;
        }
        println!("probe");
    }
}

fn vanish<R: Runtime>(name: &str) {
    if let Some(s) = connect::<R>(name) {
        // No destructor runs: the process ends with the socket open and
        // the OS closes it, as when a client crashes.
        std::mem::forget(s);
        std::process::exit(0);
    }
}

fn connect_close_loop<R: Runtime>(name: &str, n: usize) {
    let mut ok = 0;
    for i in 0..n {
        let mut s = R::socket();
        s.connect_to_server(name, OpenMode::ReadWrite);
        if !s.wait_for_connected(LONG) {
            println!("connect-error {i} {:?}", s.error());
            continue;
        }
        ok += 1;
        if i % 3 == 0 {
            let _ = s.write(b"x");
            s.flush();
        }
        match i % 4 {
            0 => s.abort(),
            1 => s.close(),
            2 => s.disconnect_from_server(),
            _ => {}
        }
        drop(s);
    }
    println!("done {ok}");
}

fn send_until_killed<R: Runtime>(name: &str) {
    let Some(mut s) = connect::<R>(name) else {
        return;
    };
    let mut p = Pattern::new();
    loop {
        let chunk = p.next_chunk(64 * 1024).to_vec();
        if let Err(e) = s.io_write_all(&chunk) {
            println!("write-error {e}");
            return;
        }
        println!("sent {}", p.total());
    }
}

#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: `signal` with SIG_DFL installs no handler code; it only
    // changes the disposition of SIGPIPE for this process, before any other
    // thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

fn write_after_close<R: Runtime>(name: &str) {
    // Rust ignores SIGPIPE by default; a C or Qt host does not. With the
    // default action a single write that raises SIGPIPE kills us.
    default_sigpipe();
    let Some(mut s) = connect::<R>(name) else {
        return;
    };
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).expect("stdin");
    // Qt's write queues; at 64 KiB it goes to the OS: EPIPE, not SIGPIPE.
    let queued = s.write(&vec![1u8; 1 << 20]);
    let flushed = s.flush();
    let waited = s.wait_for_bytes_written(Some(Duration::from_secs(5)));
    println!(
        "qt-write queued={} flushed={flushed} waited={waited} state={:?} error={:?}",
        queued.is_ok(),
        s.state(),
        s.error()
    );
    // And through the I/O traits, on a fresh connection that is also dead.
    let mut t = R::socket();
    t.connect_to_server(name, OpenMode::ReadWrite);
    if t.wait_for_connected(LONG) {
        println!("connected-2");
        line.clear();
        std::io::stdin().lock().read_line(&mut line).expect("stdin");
        let r = (0..64).try_for_each(|_| t.io_write_all(&[2u8; 64 * 1024]));
        println!("io-write error={}", r.is_err());
    }
    println!("alive");
}

#[cfg(target_os = "linux")]
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

#[cfg(not(target_os = "linux"))]
fn peak_rss_kib() -> u64 {
    0
}

fn slow_reader<R: Runtime>(name: &str, limit: usize, total: u64) {
    let mut s = R::socket();
    s.set_read_buffer_size(limit);
    s.connect_to_server(name, OpenMode::ReadWrite);
    if !s.wait_for_connected(LONG) {
        println!("connect-error {:?}", s.error());
        return;
    }
    println!("connected");
    // Stall first: the flood fills the kernel's buffers and our buffer
    // while nobody reads; nothing may grow beyond the limit meanwhile.
    std::thread::sleep(Duration::from_millis(500));
    let mut p = Pattern::new();
    let mut intact = true;
    let mut max_buffered = 0;
    let mut reads = 0u64;
    while p.total() < total {
        max_buffered = max_buffered.max(s.bytes_available());
        if s.bytes_available() == 0 && !s.wait_for_ready_read(LONG) {
            println!("ended-early {} {:?}", p.total(), s.error());
            break;
        }
        max_buffered = max_buffered.max(s.bytes_available());
        let data = s.read_all().expect("read_all");
        intact &= p.check(&data);
        reads += 1;
        if reads % 512 == 0 {
            // Slow: let the buffer fill up to the limit now and then.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    println!(
        "read {} {intact} {max_buffered} {}",
        p.total(),
        peak_rss_kib()
    );
}

/// How many more descriptors this process could open now.
#[cfg(unix)]
fn free_descriptors() -> usize {
    let mut probe = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        probe.push(f);
    }
    probe.len()
}

#[cfg(unix)]
fn highest_open_fd() -> u64 {
    std::fs::read_dir("/dev/fd")
        .expect("list /dev/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap_or(2)
}

/// Out of descriptors, in this process only: a server listens, the soft
/// `RLIMIT_NOFILE` is lowered to just above what is open, clients connect
/// until one fails (`connect-error KIND`; SPARE must be below the listen
/// backlog so it is descriptors that run out), the server tries to accept with
/// no descriptor left (`accept-exhausted PENDING LISTENING ERROR`), then
/// every client is dropped, the server drains what was queued, and a new
/// client gets a round trip (`recovered INTACT`).
#[cfg(unix)]
fn run_emfile<R: Runtime>(spare: u64) {
    let name = localsock_tests::harness::unique_name("emfile");
    let mut server = R::server();
    server.listen(&name).expect("listen");
    // Warm up the runtime (threads, reactors) before the limit applies.
    {
        let mut c = R::socket();
        c.connect_to_server(&name, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG));
        let mut p = server.accept_one();
        // A wait that must block: the runtime's reactor and timer exist from
        // here on (the async driver registers a socket, and async-io starts
        // its reactor, only when something has to wait).
        assert!(!p.wait_for_ready_read(Some(Duration::from_millis(10))));
        c.io_write_all(b"warm").unwrap();
        let mut b = [0u8; 4];
        p.io_read_exact(&mut b).unwrap();
    }
    // RLIMIT_NOFILE bounds descriptor numbers: lower it just above the
    // highest one open, fill every free number below it, then free SPARE.
    // Sockets made up front: a runtime may need descriptors of its own per
    // socket (the tokio current-thread adapter makes a runtime for each).
    let mut pool: Vec<R::Socket> = (0..64).map(|_| R::socket()).collect();
    let limit = highest_open_fd() + 1 + spare;
    localsock_tests::descriptor_limit::lower_limit(limit);
    let mut filler = Vec::new();
    localsock_tests::descriptor_limit::exhaust(&mut filler);
    filler.truncate(filler.len().saturating_sub(spare as usize));
    println!("limit {limit}");
    let mut clients = Vec::new();
    let mut failed = None;
    while let Some(mut c) = pool.pop() {
        c.connect_to_server(&name, OpenMode::ReadWrite);
        if c.wait_for_connected(LONG) {
            clients.push(c);
        } else {
            failed = Some(c);
            break;
        }
    }
    println!("connected-before-exhaustion {}", clients.len());
    let Some(failed) = failed else {
        println!("never-exhausted");
        return;
    };
    println!("connect-error {:?}", failed.error());
    println!("connect-error-string {}", failed.error_string());
    // No descriptor left for accept(2).
    let got = server.wait_for_new_connection(Some(Duration::from_millis(200)));
    let pending = got && server.next_pending_connection().is_some();
    println!(
        "accept-exhausted {pending} {} {:?}",
        server.is_listening(),
        server.server_error()
    );
    // Descriptors free up: the queued (now closed) clients are accepted
    // and dropped, then a new client is served.
    drop(failed);
    drop(clients);
    println!("free-after-drop {}", free_descriptors());
    let mut drained = 0;
    while server.wait_for_new_connection(Some(Duration::from_millis(200))) {
        while let Some(p) = server.next_pending_connection() {
            drained += 1;
            drop(p);
        }
    }
    println!("drained {drained}");
    let mut c = pool.pop().expect("a socket left in the pool");
    c.connect_to_server(&name, OpenMode::ReadWrite);
    if !c.wait_for_connected(LONG) {
        println!("reconnect-error {:?}", c.error());
        return;
    }
    let mut p = server.accept_one();
    let msg = payload(4096, 9);
    c.io_write_all(&msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    p.io_read_exact(&mut got).unwrap();
    p.io_write_all(&got).unwrap();
    let mut back = vec![0u8; msg.len()];
    c.io_read_exact(&mut back).unwrap();
    println!("recovered {}", back == msg);
}

#[cfg(not(unix))]
fn run_emfile<R: Runtime>(_spare: u64) {
    let _no_descriptor_limit_here = std::marker::PhantomData::<R>;
    println!("unsupported");
}

/// Prints `inherited-sockets N PATHS…`: the sockets this process was
/// started with (descriptors of type socket; stdio are pipes here).
#[cfg(unix)]
fn inherited_sockets() {
    use std::os::unix::fs::FileTypeExt;
    let fds: Vec<String> = std::fs::read_dir("/dev/fd")
        .expect("list /dev/fd")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let sockets: Vec<String> = fds
        .iter()
        .filter(|fd| {
            std::fs::metadata(format!("/dev/fd/{fd}")).is_ok_and(|m| m.file_type().is_socket())
        })
        .cloned()
        .collect();
    println!("inherited-sockets {} {}", sockets.len(), sockets.join(" "));
}

#[cfg(not(unix))]
fn inherited_sockets() {
    println!("inherited-sockets 0");
}

/// The request of client `i` in `many-clients`: a 16-byte header (index,
/// length, checksum, little-endian) and `payload(len, i)`.
fn request(i: u32) -> Vec<u8> {
    let len = 1 + (i as usize * 7919) % 3000;
    let body = payload(len, u64::from(i));
    let mut v = Vec::with_capacity(16 + len);
    v.extend_from_slice(&i.to_le_bytes());
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(&checksum(&body).to_le_bytes());
    v.extend_from_slice(&body);
    v
}

fn many_clients<R: Runtime>(name: &str, first: u32, count: u32, threads: u32) {
    #[cfg(unix)]
    localsock_tests::reliability::raise_descriptor_limit();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let go = std::sync::Arc::new(std::sync::Barrier::new(threads as usize + 1));
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let name = name.to_string();
            let (barrier, go, opened) = (barrier.clone(), go.clone(), opened.clone());
            std::thread::spawn(move || {
                let mut socks = Vec::new();
                for i in (first + t..first + count).step_by(threads as usize) {
                    let mut s = R::socket();
                    s.connect_to_server(&name, OpenMode::ReadWrite);
                    if s.wait_for_connected(LONG) {
                        socks.push((i, s));
                    } else {
                        println!("connect-error {i} {:?}", s.error());
                    }
                }
                opened.fetch_add(socks.len() as u32, std::sync::atomic::Ordering::SeqCst);
                // Every connection of every thread is open here, and stays
                // open until the proof says go (when every peer process
                // has all of its connections open).
                barrier.wait();
                go.wait();
                let mut bad = 0u32;
                for (i, s) in &mut socks {
                    if s.io_write_all(&request(*i)).is_err() {
                        bad += 1;
                    }
                }
                let mut ok = 0u32;
                for (i, s) in &mut socks {
                    let want = request(*i);
                    let mut got = vec![0u8; want.len()];
                    match s.io_read_exact(&mut got) {
                        Ok(()) if got == want => ok += 1,
                        _ => bad += 1,
                    }
                }
                (ok, bad)
            })
        })
        .collect();
    barrier.wait();
    println!("open {}", opened.load(std::sync::atomic::Ordering::SeqCst));
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).expect("stdin");
    go.wait();
    let (mut ok, mut bad) = (0, 0);
    for h in handles {
        let (k, b) = h.join().expect("client thread");
        ok += k;
        bad += b;
    }
    println!("done {ok} {bad}");
}
