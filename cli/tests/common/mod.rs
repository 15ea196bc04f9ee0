//! What every CLI test file shares.

use std::io::Read;
use std::process::{Child, Output};
use std::thread;
use std::time::{Duration, Instant};

/// How long one `localsock` command may run before the test calls it hung.
/// Far above any honest run, even on a loaded machine: it only turns a
/// hang (a client and a server each waiting for the other) into a failure
/// that names the command, instead of a test that never ends.
const HUNG_AFTER: Duration = Duration::from_secs(120);

/// `child.wait_with_output()`, except that a child still running after
/// [`HUNG_AFTER`] is killed and the test fails. stdin must already be
/// closed or taken.
pub fn wait_bounded(mut child: Child, what: &str) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            let mut all = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut all);
            }
            all
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll localsock") {
            break status;
        }
        if start.elapsed() > HUNG_AFTER {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            panic!(
                "`localsock {what}` still ran after {HUNG_AFTER:?} and was killed; stderr: {}",
                String::from_utf8_lossy(&err)
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}
