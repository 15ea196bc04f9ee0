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
