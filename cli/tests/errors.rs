//! The `localsock` command's names and error messages, on real processes:
//! `TMPDIR` resolves the same for client and server (issue 15, item 8), and
//! failures name the path, the OS reason and Qt's text (item 7).

#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_localsock");

fn unique(tag: &str) -> String {
    format!("lse-{}-{tag}", std::process::id())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(tag));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp dir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `localsock ARGS…` with `TMPDIR` set and `input` on stdin.
fn run_env(args: &[&str], tmpdir: Option<&str>, input: &[u8]) -> Output {
    let mut cmd = Command::new(EXE);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = tmpdir {
        cmd.env("TMPDIR", t);
    }
    let mut child = cmd.spawn().expect("start localsock");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for localsock")
}

#[test]
fn tmpdir_with_missing_dotdot_resolves_alike_for_listen_and_connect() {
    let dir = TempDir::new("tmpdir");
    // `missing` does not exist: without lexical cleaning on the client the
    // kernel would fail to resolve `DIR/missing/../NAME`.
    let tmpdir = format!("{}/missing/..", dir.path());
    let name = "srv";
    let mut server = Command::new(EXE)
        .args(["listen", name, "--once", "--runtime", "blocking"])
        .env("TMPDIR", &tmpdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start localsock listen");
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("listen printed nothing").expect("read");
    let want = format!("{}/{name}", dir.path());
    assert!(first.ends_with(&want), "listening line: {first}");
    assert!(
        std::path::Path::new(&want).exists(),
        "socket file at the cleaned path"
    );
    let out = run_env(
        &["connect", name],
        Some(&tmpdir),
        b"through the cleaned name\n",
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let out = server
        .wait_with_output()
        .expect("listen exits after --once");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "through the cleaned name\n");
}
