//! `localsock listen --activated`: systemd socket activation end to end.
//! The test binds the socket and starts the command the way systemd does
//! (the listener as descriptor 3, `LISTEN_PID` = the child's own pid,
//! `LISTEN_FDS`, `LISTEN_FDNAMES`), on every runtime; and, where the
//! machine has it, under `systemd-socket-activate` itself.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use localsock::blocking::LocalSocket;

const EXE: &str = env!("CARGO_BIN_EXE_localsock");
const PATIENCE: Duration = Duration::from_secs(60);

fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("lsc-act-{}-{tag}", std::process::id()))
}

/// Waits for the "listening on" line; returns it.
fn listening_line(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end even when nobody listens any more: a closed
        // pipe would fail the server's next message.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx.recv_timeout(PATIENCE).expect("listen printed nothing")
}

/// One echo round trip through the server at `path`, which then exits
/// (`--once`) with status 0 and leaves the file it did not create.
fn serve_one_client(mut child: Child, path: &Path) {
    let line = listening_line(&mut child);
    assert_eq!(line, format!("localsock: listening on {}", path.display()));
    let mut client = LocalSocket::connect(path.to_str().unwrap()).expect("connect");
    client.write_all(b"activated\n").unwrap();
    client.flush().unwrap();
    let mut back = [0; 10];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"activated\n");
    drop(client);
    let status = wait(&mut child).expect("listen --once did not exit");
    assert_eq!(status, 0);
    assert!(
        path.exists(),
        "the activated socket's file is not ours to remove"
    );
    std::fs::remove_file(path).unwrap();
}

fn wait(child: &mut Child) -> Option<i32> {
    for _ in 0..(PATIENCE.as_millis() / 50) {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn an_activated_child_serves_a_client_on_every_runtime() {
    for runtime in ["blocking", "smol", "tokio"] {
        let path = temp_path(runtime);
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        // Inherited by the shell only (std makes every descriptor
        // close-on-exec); the shell puts it at 3, as systemd does, and
        // `exec` keeps its pid, which `$$` gave to LISTEN_PID.
        rustix::io::fcntl_setfd(&listener, rustix::io::FdFlags::empty()).unwrap();
        let script = format!(
            "LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=ctl exec \"$0\" listen --activated ctl \
             --once --echo --runtime {runtime} 3<&{}",
            listener.as_raw_fd(),
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(EXE)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(listener);
        serve_one_client(child, &path);
    }
}

#[test]
fn under_systemd_socket_activate() {
    let Ok(tool) = which("systemd-socket-activate") else {
        eprintln!("skipped: systemd-socket-activate is not installed on this machine");
        return;
    };
    let path = temp_path("sd");
    let _ = std::fs::remove_file(&path);
    let child = Command::new(tool)
        .arg("-l")
        .arg(&path)
        .arg("--fdname=ctl")
        .args([EXE, "listen", "--activated", "ctl", "--once", "--echo"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    serve_one_client_skipping_tool_lines(child, &path);
}

/// As `serve_one_client`, after the tool's own lines on stderr.
fn serve_one_client_skipping_tool_lines(mut child: Child, path: &Path) {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end even when nobody listens any more: a closed
        // pipe would fail the server's next message.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The tool binds, then waits for the first client before it starts
    // the command: connect first (the kernel's backlog holds it).
    let tool_line = rx.recv_timeout(PATIENCE).expect("the tool printed nothing");
    assert!(tool_line.starts_with("Listening on"), "{tool_line}");
    let mut client = LocalSocket::connect(path.to_str().unwrap()).expect("connect");
    let want = format!("localsock: listening on {}", path.display());
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no {want:?} on stderr: {seen:?}"));
        if line == want {
            break;
        }
        seen.push(line);
    }
    client.write_all(b"activated\n").unwrap();
    client.flush().unwrap();
    let mut back = [0; 10];
    client.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"activated\n");
    drop(client);
    assert_eq!(wait(&mut child), Some(0));
    let _ = std::fs::remove_file(path);
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .ok_or(())
}

#[test]
fn without_activation_listen_activated_fails_clearly() {
    for (pid, fds) in [(None, None), (Some("1"), Some("1"))] {
        let mut cmd = Command::new(EXE);
        cmd.args(["listen", "--activated"])
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_FDNAMES");
        if let (Some(p), Some(n)) = (pid, fds) {
            cmd.env("LISTEN_PID", p).env("LISTEN_FDS", n);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert_ne!(out.status.code(), Some(0));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not socket-activated"), "{err}");
    }
}

#[test]
fn a_passed_descriptor_that_is_not_open_is_a_clear_error() {
    // Descriptor 3 is not open in the child (nothing is inherited).
    let out = Command::new("sh")
        .arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" listen --activated 3<&-")
        .arg(EXE)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not open"), "{err}");
}
