//! Running out of descriptors in a test, without taking other tests with
//! it: the test runs again as a child process (this test binary, one test
//! by name), which lowers its own limit and fills its descriptor table.
//! Unix only: Windows has no descriptor limit to lower.

use std::fs::File;
use std::process::Command;

/// Set in the child's environment.
const CHILD: &str = "LOCALSOCK_DESCRIPTOR_LIMIT_CHILD";

/// True in the child: run the body. In the parent this runs the child
/// (`test`, the calling test's name), asserts that it passed, and returns
/// false.
pub fn in_child(test: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return true;
    }
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{stderr}"
    );
    false
}

/// Lowers this process's soft descriptor limit to `limit`.
pub fn lower_limit(limit: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let old = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: old.maximum,
        },
    )
    .expect("lower RLIMIT_NOFILE");
}

/// Opens `/dev/null` until the process is out of descriptors.
pub fn exhaust(held: &mut Vec<File>) {
    while let Ok(f) = File::open("/dev/null") {
        held.push(f);
        assert!(held.len() < 100_000, "the descriptor limit was not lowered");
    }
}
