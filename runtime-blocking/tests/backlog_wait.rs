//! A connect beyond a full backlog waits inside the kernel (Linux): the
//! waiting thread sits in `connect(2)` until the server accepts, rather
//! than sleeping between retries (docs/semantics.md item 5).
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use localsock_blocking::{LocalSocket, State, Timeout};
use rustix::net::{bind, listen, socket, AddressFamily, SocketAddrUnix, SocketType};

/// `connect`'s system call number, as `/proc/…/syscall` shows it.
#[cfg(target_arch = "x86_64")]
const SYS_CONNECT: &str = "42";
#[cfg(target_arch = "aarch64")]
const SYS_CONNECT: &str = "203";
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const SYS_CONNECT: &str = "";

/// The system call a thread of this process is blocked in, if any.
fn blocked_in(tid: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")).ok()?;
    s.split_whitespace().next().map(str::to_owned)
}

#[test]
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    ignore = "needs this architecture's number for connect(2)"
)]
fn a_connect_to_a_full_backlog_waits_in_the_kernel_until_accepted() {
    let dir = std::env::temp_dir().join(format!("lsk-backlog-wait-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("s").to_str().unwrap().to_owned();
    // A listener with backlog 0 holds one unaccepted connection; the
    // filler takes it.
    let listener = socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
    bind(&listener, &SocketAddrUnix::new(path.as_str()).unwrap()).unwrap();
    listen(&listener, 0).unwrap();
    let filler = std::os::unix::net::UnixStream::connect(&path).unwrap();

    let (tx, rx) = mpsc::channel();
    let client = {
        let path = path.clone();
        std::thread::spawn(move || {
            let tid = std::fs::read_link("/proc/thread-self").unwrap();
            let tid = tid.file_name().unwrap().to_str().unwrap().to_owned();
            let mut s = LocalSocket::new();
            s.connect_to_server(&path);
            // The first attempt never waits: the backlog is full.
            let connecting = s.state();
            tx.send((tid, connecting)).unwrap();
            let r = s.wait_for_connected(Timeout::FOREVER);
            (s, r)
        })
    };
    let (tid, connecting) = rx.recv().unwrap();
    assert_eq!(connecting, State::Connecting);
    // Seen in connect(2) on ten reads in a row, 20 ms apart: a retry that
    // sleeps between attempts spends microseconds per attempt there.
    let mut in_connect = 0;
    for _ in 0..1500 {
        if blocked_in(&tid).as_deref() == Some(SYS_CONNECT) {
            in_connect += 1;
            if in_connect == 10 {
                break;
            }
        } else {
            in_connect = 0;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(in_connect, 10, "the client never waited inside connect(2)");

    // Accepting the filler makes room: the waiting connect completes, and
    // it is a working connection.
    let first = rustix::net::accept(&listener).unwrap();
    drop(first);
    drop(filler);
    let (mut s, r) = client.join().unwrap();
    r.unwrap();
    assert_eq!(s.state(), State::Connected);
    let mut theirs = std::os::unix::net::UnixStream::from(rustix::net::accept(&listener).unwrap());
    s.write_all(b"ping").unwrap();
    s.flush().unwrap();
    let mut buf = [0; 4];
    theirs.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    drop(s);
    drop(listener);
    std::fs::remove_dir_all(&dir).unwrap();
}
