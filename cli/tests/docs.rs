//! What the `localsock` command prints about itself, on real processes:
//! shell completions and the man page from the clap definition, and the
//! `bench --quick` report (issue 15, items 9 and 10).

use std::process::{Command, Output, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_localsock");

fn run(args: &[&str]) -> Output {
    Command::new(EXE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run localsock")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(unix)]
#[test]
fn bench_quick_says_targets_are_only_checked_in_full_runs() {
    let out = run(&["bench", "--quick", "--runtime", "blocking"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("### Targets"), "{stdout}");
    assert!(
        stdout.contains("Targets are only checked in full runs"),
        "{stdout}"
    );
    assert!(!stdout.contains("Missed"), "{stdout}");
    assert!(!stdout.contains("None checked"), "{stdout}");
}

#[test]
fn bash_completions_name_every_subcommand() {
    let out = run(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(script.contains("_localsock()"), "{script}");
    for sub in [
        "listen",
        "connect",
        "probe",
        "demo",
        "bench",
        "completions",
        "man",
    ] {
        assert!(script.contains(sub), "{sub} missing");
    }
    // Options of a subcommand are completed too.
    assert!(script.contains("--echo"), "{script}");
}

#[test]
fn completions_refuse_an_unknown_shell() {
    let out = run(&["completions", "cmd.exe"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_prints_a_roff_page() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    // clap_mangen defines the apostrophe string (`.ie`/`.el`) first; the
    // first line after that is the roff title header.
    let header = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap_or_default();
    assert!(header.starts_with(".TH localsock 1"), "{page}");
    assert!(page.contains("connect"), "{page}");
    assert!(page.contains("probe"), "{page}");
}
