//! Driving the `lsk-peer` helper process from a proof.
//!
//! The peer is started as `lsk-peer <runtime> <role> <args…>` and reports on
//! stdout, one `key value…` line per fact (`connected`, `connect-error
//! SocketAccess`, `peer 1234 0 0`, …); the proof asserts on those lines.
//! Every wait is bounded ([`CHILD_WAIT`]) so a hung peer fails the proof
//! instead of hanging it, and a peer still running when its
//! [`PeerProcess`] is dropped is killed.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The longest a proof waits for one line from, or the exit of, a peer.
pub const CHILD_WAIT: Duration = Duration::from_secs(180);

/// Where the `lsk-peer` binary is (`env!("CARGO_BIN_EXE_lsk-peer")` of the
/// integration test that instantiates the suite).
#[derive(Debug, Clone, Copy)]
pub struct PeerExe {
    path: &'static str,
}

impl PeerExe {
    /// The binary at `path`.
    pub const fn new(path: &'static str) -> Self {
        PeerExe { path }
    }

    /// Starts `lsk-peer <runtime> <role> <args…>` as this user.
    pub fn spawn(&self, runtime: &str, role: &str, args: &[&str]) -> PeerProcess {
        self.start(self.path.as_ref(), runtime, role, args, None)
    }

    /// Starts the peer as `nobody` (uid and gid [`NOBODY`](super::NOBODY),
    /// no supplementary groups: `setgroups`, `setgid`, `setuid` in the
    /// child before `exec`). If other users cannot reach the binary where
    /// the build put it, it is copied into `dir` (mode 0755) first.
    #[cfg(unix)]
    pub fn spawn_as_nobody(
        &self,
        dir: &super::TestDir,
        runtime: &str,
        role: &str,
        args: &[&str],
    ) -> PeerProcess {
        use std::os::unix::fs::PermissionsExt;
        let exe = std::path::Path::new(self.path);
        if world_executable(exe) {
            return self.start(exe, runtime, role, args, Some(super::NOBODY));
        }
        let copy = dir.path().join("lsk-peer");
        if !copy.exists() {
            std::fs::copy(self.path, &copy).expect("copy lsk-peer");
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
                .expect("chmod lsk-peer");
        }
        self.start(&copy, runtime, role, args, Some(super::NOBODY))
    }

    fn start(
        &self,
        exe: &std::path::Path,
        runtime: &str,
        role: &str,
        args: &[&str],
        user: Option<u32>,
    ) -> PeerProcess {
        let mut cmd = Command::new(exe);
        cmd.arg(runtime)
            .arg(role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        if let Some(id) = user {
            use std::os::unix::process::CommandExt;
            // std drops supplementary groups, then setgid, then setuid.
            cmd.uid(id).gid(id);
        }
        #[cfg(not(unix))]
        let _ = user;
        let desc = format!("lsk-peer {runtime} {role} {}", args.join(" "));
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Ok(c) => break c,
                // A just-copied binary is "busy" while another thread's
                // fork still holds the copy's write descriptor.
                Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("spawn {desc}: {e}"),
            }
        };
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(Line::Out(line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Line::OutEnd);
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx2.send(Line::Err(line)).is_err() {
                    return;
                }
            }
        });
        PeerProcess {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            transcript: Vec::new(),
            out_ended: false,
            desc,
        }
    }
}

/// `ETXTBSY` (26 on Linux, macOS and the BSDs).
#[cfg(unix)]
const ETXTBSY: i32 = 26;
#[cfg(not(unix))]
const ETXTBSY: i32 = -1;

/// Whether every user can execute `exe` where it is (execute bit for
/// others on the file and search permission on every ancestor).
#[cfg(unix)]
fn world_executable(exe: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Ok(exe) = exe.canonicalize() else {
        return false;
    };
    exe.ancestors()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

enum Line {
    Out(String),
    Err(String),
    OutEnd,
}

/// A running `lsk-peer`.
#[derive(Debug)]
pub struct PeerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    transcript: Vec<String>,
    out_ended: bool,
    desc: String,
}

impl PeerProcess {
    /// The peer's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Everything the peer printed so far (stderr lines prefixed).
    pub fn transcript(&self) -> String {
        self.transcript.join("\n")
    }

    /// Waits for the next stdout line whose first word is one of `keys`;
    /// returns that key and the remaining words. Fails the proof if the
    /// peer ends or stays silent for [`CHILD_WAIT`] first.
    pub fn expect_one_of(&mut self, keys: &[&str]) -> (String, Vec<String>) {
        let deadline = Instant::now() + CHILD_WAIT;
        loop {
            if self.out_ended {
                self.fail(&format!("ended before printing one of {keys:?}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Line::Out(l)) => {
                    self.transcript.push(l.clone());
                    let mut words = l.split_whitespace().map(str::to_string);
                    let Some(first) = words.next() else { continue };
                    if keys.contains(&first.as_str()) {
                        return (first, words.collect());
                    }
                }
                Ok(Line::Err(l)) => self.transcript.push(format!("stderr: {l}")),
                Ok(Line::OutEnd) | Err(RecvTimeoutError::Disconnected) => self.out_ended = true,
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("printed none of {keys:?} in {CHILD_WAIT:?}"))
                }
            }
        }
    }

    /// Waits for a line starting with `key`; returns the words after it.
    pub fn expect(&mut self, key: &str) -> Vec<String> {
        self.expect_one_of(&[key]).1
    }

    /// Sends one line to the peer's stdin.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the peer");
        stdin.flush().expect("flush to the peer");
    }

    /// Kills the peer (SIGKILL on Unix, TerminateProcess on Windows) and
    /// reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().expect("reap the peer")
    }

    /// Closes the peer's stdin and waits for it to exit (bounded); returns
    /// how it exited.
    pub fn wait(&mut self) -> ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + CHILD_WAIT;
        loop {
            // Keep the transcript for failure messages.
            while let Ok(line) = self.lines.try_recv() {
                match line {
                    Line::Out(l) => self.transcript.push(l),
                    Line::Err(l) => self.transcript.push(format!("stderr: {l}")),
                    Line::OutEnd => self.out_ended = true,
                }
            }
            if let Some(status) = self.child.try_wait().expect("poll the peer") {
                // Collect what is still in the pipes.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    match line {
                        Line::Out(l) => self.transcript.push(l),
                        Line::Err(l) => self.transcript.push(format!("stderr: {l}")),
                        Line::OutEnd => self.out_ended = true,
                    }
                }
                return status;
            }
            if Instant::now() >= deadline {
                self.fail("did not exit");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the peer to exit and fails the proof unless it exited
    /// with status 0 (a peer killed by a signal, SIGPIPE included, fails).
    pub fn wait_success(&mut self) {
        let status = self.wait();
        if !status.success() {
            self.fail(&format!("exited with {status:?}"));
        }
    }

    /// Fails the proof: kills the peer and panics with `what` and the
    /// peer's transcript.
    pub fn fail(&mut self, what: &str) -> ! {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("it exited with {status:?}"),
            _ => "it was still running; killed".to_string(),
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            match line {
                Line::Out(l) => self.transcript.push(l),
                Line::Err(l) => self.transcript.push(format!("stderr: {l}")),
                Line::OutEnd => {}
            }
        }
        panic!(
            "{}: {what} ({status})\n--- peer transcript ---\n{}",
            self.desc,
            self.transcript()
        );
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
