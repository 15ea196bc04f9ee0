//! The `localsock` command, run as a binary against real servers: Unix
//! domain sockets on Unix, named pipes on Windows (under Wine here). The
//! stale-socket, permission and benchmark tests are Unix-only.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const EXE: &str = env!("CARGO_BIN_EXE_localsock");
/// Generous: the tests run in parallel with everything else on 2 CPUs.
const PATIENCE: Duration = Duration::from_secs(60);

fn localsock() -> Command {
    Command::new(EXE)
}

/// A name no other test (or test run) uses.
fn unique(tag: &str) -> String {
    format!("lsc-{}-{tag}", std::process::id())
}

#[cfg(unix)]
fn path_of(name: &str) -> String {
    format!("{}/{name}", localsock::blocking::name_context().temp_dir)
}

/// A `localsock listen` child, killed when dropped.
struct Listener {
    name: String,
    child: Child,
    stderr: Option<mpsc::Receiver<String>>,
    /// Everything it prints on stdout, read as it comes (a full pipe would
    /// block the server).
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Listener {
    /// Starts `localsock listen NAME ARGS…` and waits for its "listening on"
    /// line on stderr.
    fn start(name: &str, args: &[&str]) -> Listener {
        let mut cmd = localsock();
        cmd.arg("listen").arg(name).args(args);
        Listener::spawn(cmd, name, true)
    }

    /// Starts `cmd` (a `localsock listen NAME …`, perhaps under another
    /// program that execs it); with `read_stdout` false its stdout is a
    /// pipe nobody reads, closed at once.
    fn spawn(mut cmd: Command, name: &str, read_stdout: bool) -> Listener {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start localsock listen");
        let stderr: ChildStderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut stdout = child.stdout.take().expect("piped stdout");
        let stdout = read_stdout.then(|| {
            std::thread::spawn(move || {
                let mut out = String::new();
                let _ = stdout.read_to_string(&mut out);
                out
            })
        });
        let first = rx.recv_timeout(PATIENCE).expect("listen printed nothing");
        assert!(
            first.starts_with("localsock: listening on "),
            "unexpected first line: {first}"
        );
        assert!(first.ends_with(name), "full server name missing: {first}");
        Listener {
            name: name.to_string(),
            child,
            stderr: Some(rx),
            stdout,
        }
    }

    /// Waits for the process to end by itself; returns its status and stdout.
    fn finish(mut self) -> (i32, String) {
        let status = wait_timeout(&mut self.child).expect("listen did not exit");
        let out = match self.stdout.take() {
            Some(h) => h.join().expect("stdout reader"),
            None => String::new(),
        };
        self.stderr = None;
        (status, out)
    }

    /// Reads stderr lines until one contains `what`; returns them all.
    #[cfg(unix)]
    fn stderr_until(&self, what: &str) -> Vec<String> {
        let rx = self.stderr.as_ref().expect("stderr");
        let mut lines = Vec::new();
        loop {
            let line = rx
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("no line with {what:?} on stderr: {lines:?}"));
            let found = line.contains(what);
            lines.push(line);
            if found {
                return lines;
            }
        }
    }

    /// The stderr lines printed so far (and until it closes, once exited).
    #[cfg(target_os = "linux")]
    fn stderr_now(&self) -> Vec<String> {
        let rx = self.stderr.as_ref().expect("stderr");
        std::iter::from_fn(|| rx.recv_timeout(Duration::from_millis(100)).ok()).collect()
    }

    /// Sends a signal (`INT`, `TERM`) with kill(1).
    #[cfg(unix)]
    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -s {name} {pid}");
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A killed server leaves its socket file behind.
        #[cfg(unix)]
        let _ = std::fs::remove_file(path_of(&self.name));
        #[cfg(not(unix))]
        let _ = &self.name;
    }
}

fn wait_timeout(child: &mut Child) -> Option<i32> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.code().unwrap_or(-1));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `localsock ARGS…` with `input` on stdin.
fn run(args: &[&str], input: &[u8]) -> Output {
    let mut child = localsock()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start localsock");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    common::wait_bounded(child, &args.join(" "))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn listen_once_and_connect_round_trip_blocking() {
    let name = unique("once-blocking");
    let server = Listener::start(&name, &["--once", "--runtime", "blocking"]);
    let out = run(
        &["connect", &name, "-q", "0", "--runtime", "blocking"],
        b"hello\nworld\n",
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let (status, printed) = server.finish();
    assert_eq!(status, 0);
    assert_eq!(printed, "hello\nworld\n");
}

#[test]
fn listen_once_and_connect_round_trip_smol() {
    round_trip_200k(&["smol"]);
}

#[test]
fn listen_once_and_connect_round_trip_tokio() {
    round_trip_200k(&["tokio"]);
}

fn round_trip_200k(runtimes: &[&str]) {
    for &rt in runtimes {
        let name = unique(&format!("once-{rt}"));
        let server = Listener::start(&name, &["--once", "--runtime", rt]);
        let data: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        // -q 0: disconnect once everything is sent (as -N would, but
        // Windows pipes cannot half-close).
        let out = run(&["connect", &name, "-q", "0", "--runtime", rt], &data);
        assert_eq!(out.status.code(), Some(0), "{rt}: {}", text(&out.stderr));
        let (status, printed) = server.finish();
        assert_eq!(status, 0, "{rt}");
        assert_eq!(
            printed.as_bytes(),
            &data[..],
            "{rt}: bytes lost or reordered"
        );
    }
}

#[test]
fn echo_comes_back_on_stdout() {
    for rt in ["smol", "blocking", "tokio"] {
        let name = unique(&format!("echo-{rt}"));
        let _server = Listener::start(&name, &["--echo", "--runtime", rt]);
        let mut client = localsock()
            .args(["connect", &name, "-q", "0", "--runtime", rt])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start connect");
        let mut stdin = client.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(client.stdout.take().expect("stdout"));
        for msg in ["ping\n", "second line\n"] {
            stdin.write_all(msg.as_bytes()).expect("write");
            stdin.flush().expect("flush");
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read echo");
            assert_eq!(line, msg, "{rt}");
        }
        drop(stdin);
        assert_eq!(wait_timeout(&mut client), Some(0), "{rt}");
    }
}

#[test]
fn linger_prints_what_arrives_after_end_of_input() {
    let name = unique("linger");
    let _server = Listener::start(&name, &["--echo", "--runtime", "blocking"]);
    // The echo may come after stdin has ended: -q keeps reading for it.
    let out = run(&["connect", &name, "-q", "2"], b"late\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "late\n");
}

#[test]
fn probe_alive_and_missing() {
    let name = unique("probe");
    {
        let _server = Listener::start(&name, &[]);
        let out = run(&["probe", &name], b"");
        assert_eq!(out.status.code(), Some(0), "alive: {}", text(&out.stdout));
        assert!(text(&out.stdout).starts_with("alive"));
    }
    let out = run(&["probe", &unique("probe-nobody")], b"");
    assert_eq!(out.status.code(), Some(3), "missing: {}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("missing"));
}

#[cfg(unix)]
#[test]
fn probe_stale_then_missing() {
    let name = unique("stale");
    {
        // A server killed without a chance to clean up leaves its file.
        let _server = Listener::start(&name, &[]);
    }
    // Whatever it left, make a stale socket for certain: bind and drop a
    // std listener (which never removes its file).
    let path = path_of(&name);
    let _ = std::fs::remove_file(&path);
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    let out = run(&["probe", &name], b"");
    assert_eq!(out.status.code(), Some(4), "stale: {}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("stale"));

    std::fs::remove_file(&path).expect("remove");
    let out = run(&["probe", &name], b"");
    assert_eq!(out.status.code(), Some(3), "missing: {}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("missing"));
}

#[cfg(unix)]
#[test]
fn probe_access_denied() {
    use std::os::unix::process::CommandExt;
    let name = unique("denied");
    let root = rustix::process::geteuid().is_root();
    // Only the owner may connect.
    let _server = Listener::start(&name, &["--access", "user"]);
    let mut probe = localsock();
    probe.args(["probe", &name]).stdin(Stdio::null());
    if root {
        // Root bypasses file permissions (CAP_DAC_OVERRIDE), so a socket
        // root owns cannot deny root: probe as `nobody` instead.
        probe.uid(65534).gid(65534);
    } else {
        // A non-root owner would be let in by `--access user`: take the
        // socket's permissions away entirely.
        let path = path_of(&name);
        let _ = std::process::Command::new("chmod")
            .args(["000", &path])
            .status();
    }
    let out = match probe.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("skipped: cannot run the probe as another user here ({e})");
            return;
        }
        Err(e) => panic!("start probe: {e}"),
    };
    if root && out.status.code() == Some(0) {
        eprintln!("skipped: this system lets `nobody` connect to a 0700 socket");
        return;
    }
    assert_eq!(
        out.status.code(),
        Some(5),
        "stdout {} stderr {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("denied"));
}

#[test]
fn connect_failures_print_qt_text_and_exit_by_kind() {
    let name = unique("nobody-home");
    let out = run(&["connect", &name, "--runtime", "blocking"], b"");
    assert_eq!(out.status.code(), Some(3));
    // The path, the OS reason and Qt's text (details: tests/errors.rs).
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("localsock: "), "{stderr}");
    assert!(stderr.contains(&name), "{stderr}");
    assert!(
        stderr.contains("(Qt: QLocalSocket::connectToServer: Invalid name)"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn connect_to_a_stale_socket_is_refused() {
    let path = path_of(&unique("refused"));
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    for rt in ["smol", "tokio", "blocking"] {
        let out = run(&["connect", &path, "--runtime", rt], b"");
        assert_eq!(out.status.code(), Some(4), "{rt}");
        assert!(
            text(&out.stderr).contains("QLocalSocket::connectToServer: Connection refused"),
            "{rt}: {}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    // An empty name: Qt's "Invalid name", status 1 (not "missing").
    let out = run(&["connect", ""], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Invalid name"));
    let out = run(&["probe", ""], b"");
    assert_eq!(out.status.code(), Some(1));
    // Longer than sun_path.
    let long = "x".repeat(300);
    let out = run(&["listen", &long], b"");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("(Qt: QLocalServer::listen: Name error)"));
    let out = run(&["connect", &long], b"");
    assert_eq!(out.status.code(), Some(1));
    // A NUL inside a path.
    let out = run(&["probe", "a\u{1}b/\u{7f}"], b"");
    assert!(matches!(out.status.code(), Some(1 | 3)));
    // Bad flags are clap's usage errors.
    for args in [
        &["connect", "x", "-q", "-1"][..],
        &["connect", "x", "-q", "soon"],
        &["connect", "x", "--read-buffer", "lots"],
        &["listen", "x", "--access", "everyone"],
        &["bench", "--runtime", "qt"],
        &["frobnicate"],
    ] {
        let out = run(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!text(&out.stderr).contains("panicked"), "{args:?}");
    }
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = run(&["probe", "--help"], b"");
    let help = text(&out.stdout);
    for line in ["0  success", "3  missing", "4  stale", "5  access denied"] {
        assert!(help.contains(line), "{help}");
    }
    let out = run(&["listen", "--help"], b"");
    let help = text(&out.stdout);
    for line in ["130  SIGINT", "143  SIGTERM", "2    bad command line"] {
        assert!(help.contains(line), "{help}");
    }
}

// Unix only: on Windows `localsock demo` passes on every runtime when run
// from a shell under Wine, but started from this (Windows) test process it
// dies in Wine with a page fault writing to 0xC0000128 and winedbg hangs.
#[cfg(unix)]
#[test]
fn demo_passes_on_every_runtime() {
    let out = run(&["demo"], b"");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for rt in ["blocking", "smol", "tokio"] {
        assert!(
            stdout.contains(&format!("{rt:>8}: connect ok")) && stdout.contains("all passed"),
            "{stdout}"
        );
    }
    assert!(stdout.contains("stateChanged(ClosingState)"));
}

#[cfg(unix)]
#[test]
fn bench_quick_runs() {
    let out = run(&["bench", "--quick", "--runtime", "blocking"], b"");
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    for section in [
        "### A",
        "### B",
        "### C",
        "### D",
        "### E",
        "### F",
        "### Targets",
    ] {
        assert!(stdout.contains(section), "{stdout}");
    }
    assert!(stdout.contains("**localsock-blocking**"));
}

// ---------------------------------------------------------------------------
// Behaving like nc and socat, losing nothing (items 1-6 of the command's
// contract: see the README's command section).

/// Whether an external tool the test needs is installed. CI installs them
/// (`.ci/run`), so a missing tool fails the test, unless
/// `LOCALSOCK_NO_EXTERNAL_TOOLS=1` asks to skip such tests.
#[cfg(unix)]
fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var_os("LOCALSOCK_NO_EXTERNAL_TOOLS").is_some_and(|v| v == "1") {
        eprintln!("skipped: `{name}` is not installed (LOCALSOCK_NO_EXTERNAL_TOOLS=1)");
        return false;
    }
    panic!(
        "`{name}` is not installed; .ci/run installs it (apt-get install socat \
         netcat-openbsd); set LOCALSOCK_NO_EXTERNAL_TOOLS=1 to skip these tests"
    );
}

/// Runs `cmd` with `input` on stdin, writing and reading at once (an echo
/// of a large input would otherwise fill the pipes and deadlock).
#[cfg(unix)]
fn pipe_through(mut cmd: Command, input: std::sync::Arc<Vec<u8>>) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        // The command may exit before taking everything (that is for the
        // test to judge from its output).
        let _ = stdin.write_all(&input);
    });
    let what = format!("{cmd:?}");
    let out = common::wait_bounded(child, &what);
    writer.join().expect("stdin writer");
    out
}

/// Some bytes that are not all alike.
#[cfg(unix)]
fn pattern(len: usize) -> std::sync::Arc<Vec<u8>> {
    let mut x: u32 = 0x9e37_79b9;
    std::sync::Arc::new(
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect(),
    )
}

/// Waits until a socket file appears at `path` (a server started by a
/// tool other than ours, which announces nothing).
#[cfg(unix)]
fn wait_for_file(path: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never appeared"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process killed (and reaped) when dropped, its socket file removed.
#[cfg(unix)]
struct Tool {
    child: Child,
    path: String,
}

#[cfg(unix)]
impl Tool {
    fn socat(path: &str, args: &[&str]) -> Tool {
        let _ = std::fs::remove_file(path);
        let child = Command::new("socat")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat");
        wait_for_file(path);
        Tool {
            child,
            path: path.to_string(),
        }
    }
}

#[cfg(unix)]
impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn connect_cmd(target: &str, args: &[&str]) -> Command {
    let mut cmd = localsock();
    cmd.arg("connect").arg(target).args(args);
    cmd
}

/// Item 1: as with `nc -U`, the reply that comes after end of input is
/// printed (the server closes after replying).
#[cfg(unix)]
#[test]
fn connect_prints_the_reply_after_end_of_input_like_nc() {
    if !tool("socat") {
        return;
    }
    for rt in ["smol", "tokio", "blocking"] {
        let path = path_of(&unique(&format!("reply-{rt}")));
        let listen = format!("UNIX-LISTEN:{path}");
        let _server = Tool::socat(&path, &[&listen, "SYSTEM:read x; echo got-$x"]);
        let out = run(&["connect", &path, "--runtime", rt], b"status\n");
        assert_eq!(out.status.code(), Some(0), "{rt}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "got-status\n", "{rt}");
    }
}

/// Item 1: a server that goes away with input unsent is reported ("Broken
/// pipe", as socat says) with status 1, never a quiet 0.
#[cfg(unix)]
#[test]
fn connect_says_broken_pipe_when_the_server_leaves_input_unsent() {
    if !tool("socat") {
        return;
    }
    let input = pattern(8 << 20);
    for rt in ["smol", "tokio", "blocking"] {
        let path = path_of(&unique(&format!("epipe-{rt}")));
        let listen = format!("UNIX-LISTEN:{path},fork");
        let _server = Tool::socat(&path, &[&listen, "SYSTEM:head -c 1000 >/dev/null"]);
        for half_close in [false, true] {
            let mut cmd = connect_cmd(&path, &["--runtime", rt]);
            if half_close {
                cmd.arg("-N");
            }
            let out = pipe_through(cmd, input.clone());
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{rt} -N={half_close}: {err}");
            assert!(
                err.contains("Broken pipe") && err.contains("bytes of input not sent"),
                "{rt}: {err}"
            );
        }
    }
}

/// Item 1: `-q SECS` ends the command after end of input although the
/// server never closes.
#[test]
fn connect_q_quits_after_end_of_input() {
    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("quit-{rt}"));
        let _server = Listener::start(&name, &["--runtime", rt]);
        let out = run(&["connect", &name, "-q", "0.2", "--runtime", rt], b"x\n");
        assert_eq!(out.status.code(), Some(0), "{rt}: {}", text(&out.stderr));
    }
}

/// Item 2: 50 MiB through `connect -N` and `listen --echo` come back
/// byte-identical on every pair of runtimes (3 runs each here; the 20-run
/// acceptance is run by hand with a release build).
#[cfg(unix)]
#[test]
fn echo_round_trip_50mib_every_runtime_pair() {
    let input = pattern(50 << 20);
    let runs: usize = std::env::var("LOCALSOCK_ECHO_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for server_rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("echo50-{server_rt}"));
        let _server = Listener::start(&name, &["--echo", "--runtime", server_rt]);
        for client_rt in ["smol", "tokio", "blocking"] {
            for i in 0..runs {
                let out = pipe_through(
                    connect_cmd(&name, &["-N", "--runtime", client_rt]),
                    input.clone(),
                );
                let pair = format!("{server_rt} server, {client_rt} client, run {i}");
                assert_eq!(out.status.code(), Some(0), "{pair}: {}", text(&out.stderr));
                assert_eq!(out.stdout.len(), input.len(), "{pair}: length");
                assert!(out.stdout == *input, "{pair}: bytes differ");
            }
        }
    }
}

/// Item 2: `listen --echo` gives every byte back to clients that
/// half-close: `nc -U -N`, socat, and a raw socket that writes and reads
/// at once, then shuts down its write side.
#[cfg(unix)]
#[test]
fn echo_serves_half_closing_nc_socat_and_raw_clients() {
    if !tool("socat") || !tool("nc") {
        return;
    }
    let input = pattern(5 << 20);
    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("echo-hc-{rt}"));
        let _server = Listener::start(&name, &["--echo", "--runtime", rt]);
        let path = path_of(&name);

        let mut nc = Command::new("nc");
        nc.args(["-U", "-N", &path]);
        let out = pipe_through(nc, input.clone());
        assert_eq!(out.status.code(), Some(0), "{rt} nc: {}", text(&out.stderr));
        assert!(
            out.stdout == *input,
            "{rt}: nc -U -N got {} bytes",
            out.stdout.len()
        );

        let mut socat = Command::new("socat");
        socat.args(["-t", "60", "-", &format!("UNIX-CONNECT:{path}")]);
        let out = pipe_through(socat, input.clone());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{rt} socat: {}",
            text(&out.stderr)
        );
        assert!(
            out.stdout == *input,
            "{rt}: socat got {} bytes",
            out.stdout.len()
        );

        let stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
        let mut writer = stream.try_clone().expect("clone");
        let data = input.clone();
        let w = std::thread::spawn(move || {
            writer.write_all(&data).expect("write");
            writer
                .shutdown(std::net::Shutdown::Write)
                .expect("shutdown(SHUT_WR)");
        });
        let mut echoed = Vec::new();
        (&stream).read_to_end(&mut echoed).expect("read the echo");
        w.join().expect("writer");
        assert!(
            echoed == *input,
            "{rt}: raw client got {} bytes",
            echoed.len()
        );
    }
}

/// The peak resident set of process `pid`, in bytes (Linux).
#[cfg(target_os = "linux")]
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Item 3: a client that sends 400 MB and never reads its echo is held
/// back by the kernel; the server's peak RSS stays under 64 MiB.
#[cfg(target_os = "linux")]
#[test]
fn echo_memory_stays_bounded_with_a_client_that_never_reads() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("echo-rss-{rt}"));
        let server = Listener::start(&name, &["--echo", "--runtime", rt]);
        let stream = std::os::unix::net::UnixStream::connect(path_of(&name)).expect("connect");
        let mut writer = stream.try_clone().expect("clone");
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let w = std::thread::spawn(move || {
            let chunk = vec![b'm'; 1 << 16];
            while counter.load(Ordering::Relaxed) < 400_000_000 {
                if writer.write_all(&chunk).is_err() {
                    return;
                }
                counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        });
        // Let the writer run into the back-pressure (or, were the server
        // unbounded, push hundreds of MB into it).
        let mut last = u64::MAX;
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            let now = sent.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        let peak = peak_rss(server.child.id());
        let total = sent.load(Ordering::Relaxed);
        stream.shutdown(std::net::Shutdown::Both).expect("shutdown");
        w.join().expect("writer");
        assert!(
            peak < 64 << 20,
            "{rt}: peak RSS {peak} bytes after the client sent {total}"
        );
        assert!(total < 400_000_000, "{rt}: the client was never held back");
    }
}

/// Item 1: the default mode against `listen --echo`, which never closes:
/// the whole 50 MiB echo is read, then the server is stopped, and connect
/// ends with status 0.
#[cfg(unix)]
#[test]
fn connect_default_reads_the_whole_echo_until_the_server_stops() {
    let input = pattern(50 << 20);
    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("echo-default-{rt}"));
        let server = Listener::start(&name, &["--echo", "--runtime", rt]);
        let mut client = connect_cmd(&name, &["--runtime", rt])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start connect");
        let mut stdin = client.stdin.take().expect("stdin");
        let data = input.clone();
        let w = std::thread::spawn(move || stdin.write_all(&data).expect("write stdin"));
        let mut stdout = client.stdout.take().expect("stdout");
        let mut echoed = vec![0; input.len()];
        stdout.read_exact(&mut echoed).expect("read the echo");
        w.join().expect("writer");
        assert!(echoed == *input, "{rt}: the echo differs");
        server.signal("TERM");
        let (status, _) = server.finish();
        assert_eq!(status, 143, "{rt}: listen's status on SIGTERM");
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).expect("read the end");
        assert!(rest.is_empty(), "{rt}: {} bytes more", rest.len());
        let mut err = String::new();
        let _ = client
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err);
        assert_eq!(wait_timeout(&mut client), Some(0), "{rt}: {err}");
    }
}

/// Item 4: out of descriptors, `listen` keeps listening without spinning:
/// the refusal is logged once, CPU time stays small, and clients are
/// served again once descriptors are free.
#[cfg(target_os = "linux")]
#[test]
fn listen_survives_emfile_without_spinning() {
    if !tool("prlimit") {
        return;
    }
    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("emfile-{rt}"));
        let mut cmd = Command::new("prlimit");
        cmd.args([
            "--nofile=32",
            EXE,
            "listen",
            &name,
            "--echo",
            "--runtime",
            rt,
        ]);
        let server = Listener::spawn(cmd, &name, true);
        let path = path_of(&name);
        // More clients than descriptors: the server runs out.
        let clients: Vec<_> = (0..60)
            .map(|_| std::os::unix::net::UnixStream::connect(&path).expect("connect"))
            .collect();
        let before = server.stderr_until("cannot accept a client");
        let cpu = |pid: u32| -> u64 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .expect("comm")
                .1
                .split_whitespace()
                .collect();
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
        };
        let pid = server.child.id();
        let ticks_before = cpu(pid);
        std::thread::sleep(Duration::from_millis(1500));
        let ticks = cpu(pid) - ticks_before;
        // A busy loop would take ~150 ticks (100 Hz) in 1.5 s.
        assert!(
            ticks <= 40,
            "{rt}: {ticks} ticks of CPU while out of descriptors"
        );
        let during = server.stderr_now();
        let refusals = before
            .iter()
            .chain(&during)
            .filter(|l| l.contains("cannot accept a client"))
            .count();
        assert_eq!(refusals, 1, "{rt}: {before:?} {during:?}");
        drop(clients);
        let mut late = std::os::unix::net::UnixStream::connect(&path).unwrap_or_else(|e| {
            panic!(
                "{rt}: connect after the clients left: {e}; server stderr: {:?}",
                server.stderr_now()
            )
        });
        late.set_read_timeout(Some(PATIENCE)).expect("timeout");
        late.write_all(b"after\n").expect("write");
        late.shutdown(std::net::Shutdown::Write)
            .expect("half-close");
        let mut echo = String::new();
        late.read_to_string(&mut echo).expect("read the echo");
        assert_eq!(echo, "after\n", "{rt}");
    }
}

/// Item 5: SIGINT and SIGTERM remove the socket file, then `listen` exits
/// 130 or 143; `probe` then finds the name missing, not stale.
#[cfg(unix)]
#[test]
fn listen_removes_its_socket_on_sigint_and_sigterm() {
    for rt in ["smol", "tokio", "blocking"] {
        for (signal, status) in [("INT", 130), ("TERM", 143)] {
            for once in [false, true] {
                let name = unique(&format!("sig-{rt}-{signal}-{once}"));
                let mut args = vec!["--runtime", rt];
                if once {
                    args.push("--once");
                }
                let server = Listener::start(&name, &args);
                // With --once, a client is being served when the signal comes.
                let _client = once.then(|| {
                    let c =
                        std::os::unix::net::UnixStream::connect(path_of(&name)).expect("connect");
                    server.stderr_until("connected");
                    c
                });
                server.signal(signal);
                let (code, _) = server.finish();
                assert_eq!(code, status, "{rt} SIG{signal} once={once}");
                assert!(
                    std::fs::symlink_metadata(path_of(&name)).is_err(),
                    "{rt} SIG{signal}: the socket file is still there"
                );
                let out = run(&["probe", &name], b"");
                assert_eq!(out.status.code(), Some(3), "{rt}: {}", text(&out.stdout));
            }
        }
    }
}

/// Item 6: a closed stdout is no panic: `probe` and `demo` end quietly,
/// `listen` says so once on stderr and stops (status 1, socket removed).
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_quietly() {
    let name = unique("closed-stdout");
    let _server = Listener::start(&name, &[]);
    for command in [
        format!("(sleep .3; \"$0\" probe {name}) | true; echo \"${{PIPESTATUS[0]}}\""),
        "\"$0\" demo | head -1 >/dev/null; echo \"${PIPESTATUS[0]}\"".to_string(),
    ] {
        let out = Command::new("bash")
            .args(["-c", &command, EXE])
            .stdin(Stdio::null())
            .output()
            .expect("bash");
        let err = text(&out.stderr);
        assert_eq!(text(&out.stdout).trim(), "0", "{command}: {err}");
        assert!(err.is_empty(), "{command}: {err}");
    }

    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("closed-stdout-{rt}"));
        let mut cmd = localsock();
        cmd.args(["listen", &name, "--runtime", rt]);
        let server = Listener::spawn(cmd, &name, false);
        let out = run(
            &["connect", &name, "-N", "--runtime", rt],
            b"nobody reads this\n",
        );
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{}",
            text(&out.stderr)
        );
        let lines = server.stderr_until("stdout is closed");
        let (code, _) = server.finish();
        assert_eq!(code, 1, "{rt}: {lines:?}");
        assert!(
            std::fs::symlink_metadata(path_of(&name)).is_err(),
            "{rt}: socket file left"
        );
    }
}

/// Item 2: an echo write that fails is reported, not ignored: a client
/// that sends 1 MiB and leaves without reading makes `listen --echo
/// --once` say how much of the echo was lost and exit 1.
#[cfg(unix)]
#[test]
fn echo_reports_an_echo_the_client_never_took() {
    for rt in ["smol", "tokio", "blocking"] {
        let name = unique(&format!("echo-lost-{rt}"));
        let server = Listener::start(&name, &["--echo", "--once", "--runtime", rt]);
        let mut client = std::os::unix::net::UnixStream::connect(path_of(&name)).expect("connect");
        client.write_all(&pattern(1 << 20)).expect("write");
        drop(client);
        let lines = server.stderr_until("disconnected");
        assert!(
            lines.iter().any(|l| l.contains("left before taking")),
            "{rt}: {lines:?}"
        );
        let (status, _) = server.finish();
        assert_eq!(status, 1, "{rt}: {lines:?}");
    }
}
