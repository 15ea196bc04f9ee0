//! Peers that misbehave: flood, never read, die mid-transfer, hang up at
//! once, vanish before being accepted.

use super::*;
use crate::harness::*;
use crate::*;

/// The largest peak resident set the flooded reader may reach.
#[cfg(target_os = "linux")]
const RSS_BOUND_KIB: u64 = 64 * 1024;

/// A peer floods 256 MiB at a reader whose read buffer is limited to
/// 64 KiB and which stalls, then reads slowly: the reader (a separate
/// process on the runtime under test) never buffers more than the limit,
/// its peak resident set stays under 64 MiB (a quarter of what went
/// through), and every byte arrives intact and in order. The limit is real
/// back-pressure: the writer blocks in the kernel, nothing piles up.
///
/// Linux only: the peak resident set comes from `/proc/self/status`.
#[cfg(target_os = "linux")]
pub fn flood_with_read_limit_keeps_memory_bounded<R: Reliability>(exe: &PeerExe) {
    const LIMIT: usize = 64 * 1024;
    const TOTAL: u64 = 256 << 20;
    let _heavy = heavy();
    let name = unique_name("flood");
    let mut server = R::server();
    server.listen(&name).unwrap();
    let mut peer = exe.spawn(
        R::NAME,
        "slow-reader",
        &[&name, &LIMIT.to_string(), &TOTAL.to_string()],
    );
    let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
    assert_eq!(key, "connected", "{rest:?}");
    let mut s = server.accept_one();
    let mut p = Pattern::new();
    while p.total() < TOTAL {
        let n = (TOTAL - p.total()).min(1 << 20) as usize;
        let chunk = p.next_chunk(n).to_vec();
        s.io_write_all(&chunk).expect("flood");
    }
    let report = peer.expect("read");
    peer.wait_success();
    let total: u64 = report[0].parse().unwrap();
    let intact: bool = report[1].parse().unwrap();
    let max_buffered: usize = report[2].parse().unwrap();
    let peak_kib: u64 = report[3].parse().unwrap();
    assert_eq!(total, TOTAL);
    assert!(intact, "the flood arrived corrupted or reordered");
    assert!(
        max_buffered <= LIMIT,
        "{max_buffered} bytes buffered with a {LIMIT}-byte limit"
    );
    assert!(
        peak_kib <= RSS_BOUND_KIB,
        "peak RSS {peak_kib} KiB after a {} MiB flood (bound {RSS_BOUND_KIB} KiB)",
        TOTAL >> 20
    );
    println!(
        "flood: {} MiB through a {LIMIT}-byte limit, reader peak RSS {peak_kib} KiB",
        TOTAL >> 20
    );
}

/// A peer that never reads: everything we write queues (`bytes_to_write`
/// grows by exactly what we write once the kernel's buffers are full), and
/// `abort` drops the queue at once (`bytes_to_write` 0, Unconnected). The
/// peer then reads exactly what the kernel had taken (on Unix; at most
/// that on Windows), and then the end of the stream.
pub fn peer_that_never_reads_queue_grows_and_abort_frees<R: Reliability>(_exe: &PeerExe) {
    let (_server, mut c, mut peer) = pair::<R>("noread");
    let chunk = vec![7u8; 1 << 20];
    let mut written = 0usize;
    let mut last = 0;
    for _ in 0..48 {
        assert_eq!(c.write(&chunk).unwrap(), chunk.len());
        written += chunk.len();
        c.flush();
        let queued = c.bytes_to_write();
        assert!(queued <= written);
        assert!(queued >= last, "the queue only grows: {queued} < {last}");
        last = queued;
    }
    assert!(
        last >= written - (16 << 20),
        "only {last} of {written} bytes queued: something took the rest"
    );
    assert_eq!(c.state(), State::Connected);
    c.abort();
    assert_eq!(c.bytes_to_write(), 0);
    assert_eq!(c.state(), State::Unconnected);
    let got = peer.io_read_to_end().unwrap_or_default();
    if cfg!(unix) {
        // What the kernel took was in the peer's receive queue: all of it
        // arrives, and nothing of the dropped queue.
        assert_eq!(got.len(), written - last, "what left the queue arrives");
    } else {
        assert!(got.len() <= written - last, "more arrived than was sent");
    }
    assert!(got.iter().all(|&b| b == 7));
}

/// Dropping a socket with 32 MiB queued for a peer that never reads
/// returns (it aborts, as Qt's destructor does; it never waits for the
/// drain), and the peer sees the end of the stream.
pub fn drop_with_queued_writes_does_not_block<R: Reliability>(_exe: &PeerExe) {
    let (_server, mut c, mut peer) = pair::<R>("dropq");
    for _ in 0..32 {
        c.write(&vec![9u8; 1 << 20]).unwrap();
    }
    c.flush();
    assert!(c.bytes_to_write() > 0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(c);
        let _ = tx.send(());
    });
    rx.recv_timeout(LONG.unwrap())
        .expect("dropping a socket with queued writes blocked");
    let got = peer.io_read_to_end().unwrap_or_default();
    assert!(got.len() < 32 << 20);
    assert!(got.iter().all(|&b| b == 9));
}

fn pair<R: Runtime>(tag: &str) -> (R::Server, R::Socket, <R::Server as TestServer>::Socket) {
    let name = unique_name(tag);
    let mut server = R::server();
    server.listen(&name).unwrap();
    let mut c = R::socket();
    c.connect_to_server(&name, OpenMode::ReadWrite);
    assert!(c.wait_for_connected(LONG), "{}", c.error_string());
    let s = server.accept_one();
    (server, c, s)
}

/// A peer process killed (SIGKILL / TerminateProcess) in the middle of a
/// transfer: we see PeerClosed and Unconnected, everything it sent before
/// dying is still buffered and readable and is an intact prefix of its
/// stream, and writing afterwards is an error, not a crash.
pub fn peer_killed_mid_transfer_data_intact<R: Reliability>(exe: &PeerExe) {
    let name = unique_name("kill");
    let mut server = R::server();
    server.listen(&name).unwrap();
    let mut peer = exe.spawn(R::NAME, "send-until-killed", &[&name]);
    let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
    assert_eq!(key, "connected", "{rest:?}");
    let mut s = server.accept_one();
    // Read 2 MiB, then stop reading and wait until the peer has completed a
    // write past what we have read: those bytes are in flight, in the kernel.
    // How far ahead it can get is the kernel's buffer, which on Windows is
    // the pipe's 64 KiB: a fixed 64 KiB margin was reachable there only when
    // our last read happened to end on one of the peer's 64 KiB writes.
    // Strictly ahead is always reachable: the peer's next write fits.
    let mut p = Pattern::new();
    while p.total() < 2 << 20 {
        if s.bytes_available() == 0 {
            assert!(s.wait_for_ready_read(LONG), "{}", s.error_string());
        }
        let data = s.read_all().unwrap();
        assert!(p.check(&data), "corrupted before the kill");
    }
    let sent = loop {
        let sent: u64 = peer.expect("sent")[0].parse().unwrap();
        if sent > p.total() {
            break sent;
        }
    };
    let status = peer.kill();
    assert!(!status.success(), "the peer was killed, not finished");
    // What was in flight is delivered; then the end.
    assert!(s.wait_for_disconnected(LONG), "{}", s.error_string());
    assert_eq!(s.state(), State::Unconnected);
    assert_eq!(s.error(), SocketError::PeerClosed, "{}", s.error_string());
    let rest = s.read_all().unwrap_or_default();
    assert!(!rest.is_empty(), "the data in flight stays readable");
    assert!(p.check(&rest), "the data in flight arrived corrupted");
    assert!(
        p.total() >= sent,
        "the peer had written {sent} bytes before it died; {} arrived",
        p.total()
    );
    assert!(s.read_all().unwrap_or_default().is_empty());
    // Writing to the dead connection: an error, the process lives on.
    assert!(s.write(b"anyone?").is_err());
    assert!(s.io_write_all(b"anyone?").is_err());
    assert!(!s.wait_for_bytes_written(Some(Duration::ZERO)));
}

/// Writing into a connection whose peer has closed returns an error
/// instead of raising SIGPIPE: the writer (an `lsk-peer` with SIGPIPE at
/// its default action, as in a C or Qt host, where it would die of it)
/// writes through Qt's `write`/`flush`/`waitForBytesWritten` and through
/// the I/O traits after the server closed, and exits normally, having seen
/// PeerClosed.
///
/// Unix only: SIGPIPE is a Unix signal.
#[cfg(unix)]
pub fn write_after_peer_closed_is_error_not_sigpipe<R: Reliability>(exe: &PeerExe) {
    let name = unique_name("sigpipe");
    let mut server = R::server();
    server.listen(&name).unwrap();
    let mut peer = exe.spawn(R::NAME, "write-after-close", &[&name]);
    let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
    assert_eq!(key, "connected", "{rest:?}");
    let mut s = server.accept_one();
    s.abort();
    drop(s);
    peer.send_line("go");
    let w = peer.expect("qt-write");
    assert_eq!(w[0], "queued=true", "{w:?}");
    assert_eq!(w[3], "state=Unconnected", "{w:?}");
    assert_eq!(w[4], "error=PeerClosed", "{w:?}");
    peer.expect("connected-2");
    drop(server.accept_one());
    peer.send_line("go");
    assert_eq!(peer.expect("io-write"), vec!["error=true"]);
    peer.expect("alive");
    let status = peer.wait();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), None, "the writer died of a signal");
    }
    assert!(status.success(), "{status:?}\n{}", peer.transcript());
}

/// A peer process connecting and hanging up at once, 2,000 times (some
/// after a stray byte; by abort, close, disconnect or drop), while a real
/// client holds a session of 300 echo round trips: the real client is
/// served intact throughout, every junk connection is accepted and
/// retired, and the server still takes new clients afterwards.
pub fn connect_close_loop_does_not_disturb_server<R: Reliability>(exe: &PeerExe) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    const JUNK: usize = 2000;
    let name = unique_name("churn");
    let mut server = R::server();
    server.listen(&name).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let acceptor = {
        let (stop, accepted) = (stop.clone(), accepted.clone());
        spawn(move || {
            let (tx, rx) = mpsc::channel::<<R::Server as TestServer>::Socket>();
            let rx = Arc::new(Mutex::new(rx));
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    spawn(move || loop {
                        let next = rx.lock().unwrap().recv();
                        let Ok(mut s) = next else { break };
                        echo_until_closed(&mut s);
                    })
                })
                .collect();
            while !stop.load(Ordering::Acquire) {
                if server.wait_for_new_connection(Some(Duration::from_millis(50))) {
                    while let Some(s) = server.next_pending_connection() {
                        accepted.fetch_add(1, Ordering::Relaxed);
                        tx.send(s).unwrap();
                    }
                }
            }
            drop(tx);
            for w in workers {
                w.join().unwrap();
            }
            server
        })
    };
    let mut junk = exe.spawn(R::NAME, "connect-close-loop", &[&name, &JUNK.to_string()]);
    let mut c = R::socket();
    c.connect_to_server(&name, OpenMode::ReadWrite);
    assert!(c.wait_for_connected(LONG), "{}", c.error_string());
    for i in 0..300 {
        let msg = payload(100 + i, i as u64);
        c.io_write_all(&msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        c.io_read_exact(&mut back).unwrap();
        assert_eq!(back, msg, "round trip {i}");
    }
    assert_eq!(
        junk.expect("done"),
        vec![JUNK.to_string()],
        "every junk connect got through"
    );
    junk.wait_success();
    c.disconnect_from_server();
    drop(c);
    // A new client after the storm.
    let mut d = R::socket();
    d.connect_to_server(&name, OpenMode::ReadWrite);
    assert!(d.wait_for_connected(LONG), "{}", d.error_string());
    d.io_write_all(b"still there?").unwrap();
    let mut back = [0u8; 12];
    d.io_read_exact(&mut back).unwrap();
    assert_eq!(&back, b"still there?");
    drop(d);
    stop.store(true, Ordering::Release);
    let server = acceptor.join().unwrap();
    assert!(server.is_listening());
    let accepted = accepted.load(Ordering::Relaxed);
    if cfg!(windows) {
        // A pipe client gone before its instance is handed out may be
        // recycled by the server without ever being accepted.
        assert!(accepted <= JUNK + 2, "{accepted}");
    } else {
        assert_eq!(accepted, JUNK + 2, "every junk connection was accepted");
    }
}

/// Clients whose processes connect and exit before the server accepts
/// them (the OS closes their end) do not wedge the server: it accepts each
/// dead connection, sees it end, and then serves a real client. (On
/// Windows the pipe instance of a vanished client must be recycled, a bug
/// other libraries had.)
pub fn client_vanishes_before_accept<R: Reliability>(exe: &PeerExe) {
    const VANISHED: usize = 8;
    let name = unique_name("vanish");
    let mut server = R::server();
    server.listen(&name).unwrap();
    for _ in 0..VANISHED {
        let mut peer = exe.spawn(R::NAME, "vanish", &[&name]);
        let (key, rest) = peer.expect_one_of(&["connected", "connect-error"]);
        assert_eq!(key, "connected", "{rest:?}");
        peer.wait_success();
    }
    let name2 = name.clone();
    let real = spawn(move || {
        let mut c = R::socket();
        c.connect_to_server(&name2, OpenMode::ReadWrite);
        assert!(c.wait_for_connected(LONG), "{}", c.error_string());
        let msg = payload(30_000, 77);
        c.io_write_all(&msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        c.io_read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    });
    let mut echoed = Vec::new();
    for _ in 0..=VANISHED {
        let mut s = server.accept_one();
        echoed.push(echo_until_closed(&mut s));
        assert_eq!(s.state(), State::Unconnected);
    }
    real.join().expect("the real client was served");
    assert_eq!(
        echoed[..VANISHED],
        [0; VANISHED],
        "the vanished sent nothing"
    );
    assert_eq!(echoed[VANISHED], 30_000);
    assert!(server.is_listening());
}
