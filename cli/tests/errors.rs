//! The `localsock` command's names and error messages, on real processes:
//! `TMPDIR` resolves the same for client and server (issue 15, item 8), and
//! failures name the path, the OS reason and Qt's text (item 7).

#![cfg(unix)]

mod common;

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
    common::wait_bounded(child, &args.join(" "))
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
        &["connect", name, "-q", "0"],
        Some(&tmpdir),
        b"through the cleaned name\n",
    );
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let out = common::wait_bounded(server, "listen --once");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "through the cleaned name\n");
}

fn run(args: &[&str]) -> Output {
    run_env(args, None, b"")
}

#[test]
fn a_missing_server_names_the_path_and_the_os_reason() {
    let dir = TempDir::new("missing");
    let path = format!("{}/nobody", dir.path());
    let out = run(&["connect", &path]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        text(&out.stderr).trim(),
        format!(
            "localsock: {path}: No such file or directory \
             (Qt: QLocalSocket::connectToServer: Invalid name)"
        )
    );
}

#[test]
fn not_a_socket_gives_the_same_status_from_connect_and_probe() {
    let dir = TempDir::new("notsock");
    let file = format!("{}/file", dir.path());
    std::fs::write(&file, b"x").expect("write file");
    let sub = format!("{}/dir", dir.path());
    std::fs::create_dir(&sub).expect("mkdir");
    let fifo = format!("{}/fifo", dir.path());
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    for (path, what) in [
        (&file, "a regular file"),
        (&sub, "a directory"),
        (&fifo, "a FIFO"),
    ] {
        let want = format!("localsock: {path}: not a socket ({what} is there)");
        for rt in ["blocking", "smol", "tokio"] {
            let out = run(&["connect", path, "--runtime", rt]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "connect {rt} {path}: {stderr}");
            assert!(stderr.starts_with(&want), "connect {rt}: {stderr}");
            assert!(
                stderr.contains("(Qt: QLocalSocket::connectToServer: "),
                "{stderr}"
            );
        }
        let out = run(&["probe", path]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "probe {path}: {stderr}");
        assert!(stderr.starts_with(&want), "probe: {stderr}");
    }
}

#[test]
fn listen_explains_a_regular_file_and_a_missing_directory() {
    let dir = TempDir::new("listen");
    let file = format!("{}/file", dir.path());
    std::fs::write(&file, b"x").expect("write file");
    let out = run(&["listen", &file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "localsock: {file}: not a socket (a regular file is there"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("(Qt: QLocalServer::listen: Address in use)"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).expect("file kept"), b"x");

    let missing = format!("{}/no/such/dir/x", dir.path());
    let out = run(&["listen", &missing]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        format!("localsock: {missing}: No such file or directory (Qt: QLocalServer::listen: Name error)")
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_long_name_states_the_limit_and_the_room_access_needs() {
    let name = "n".repeat(120);
    let out = run(&["connect", &name]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("name too long"), "{stderr}");
    assert!(stderr.contains("at most 106 fit"), "{stderr}");
    assert!(stderr.contains("108"), "{stderr}");
    assert!(stderr.contains("Invalid name"), "{stderr}");

    let out = run(&["listen", &name, "--access", "user"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("at most 106 fit"), "{stderr}");
    assert!(stderr.contains("10 bytes"), "{stderr}");
    assert!(
        stderr.contains("(Qt: QLocalServer::listen: Name error)"),
        "{stderr}"
    );

    // A short name in a long directory: the private directory is what fails.
    // DIR/ab fits (DIR is 100 bytes, DIR/ab 103), the private directory's
    // socket (DIR plus 10 bytes and more) does not.
    let prefix = std::env::temp_dir()
        .join(unique(""))
        .to_str()
        .unwrap()
        .len();
    let dir = TempDir::new(&"d".repeat(100 - prefix));
    assert_eq!(dir.path().len(), 100);
    let out = run(&["listen", &format!("{}/ab", dir.path()), "--access", "user"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("10 bytes"),
        "{}",
        text(&out.stderr)
    );
}
