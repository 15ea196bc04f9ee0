//! The `localsock` command, run as a binary against real servers: Unix
//! domain sockets on Unix, named pipes on Windows (under Wine here). The
//! stale-socket, permission and benchmark tests are Unix-only.

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
        let mut child = localsock()
            .arg("listen")
            .arg(name)
            .args(args)
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
        let stdout = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
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
            stdout: Some(stdout),
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
    child.wait_with_output().expect("wait for localsock")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn listen_once_and_connect_round_trip_blocking() {
    let name = unique("once-blocking");
    let server = Listener::start(&name, &["--once", "--runtime", "blocking"]);
    let out = run(
        &["connect", &name, "--runtime", "blocking"],
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
        let out = run(&["connect", &name, "--runtime", rt], &data);
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
            .args(["connect", &name, "--runtime", rt])
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
