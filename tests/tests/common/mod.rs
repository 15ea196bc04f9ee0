//! The libtest-mimic side of the `harness = false` suites: a check becomes
//! a trial that libtest-mimic reports as passed, failed, or ignored with
//! the check's reason.

use std::process::ExitCode;

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use localsock_tests::Skip;

/// A trial named `name` that runs `check` on a new thread named after it,
/// as libtest does (the panic message names the test; no thread-local
/// state carries over from another test). `Err(Skip)` is reported as
/// ignored, with its reason.
pub fn trial(name: String, check: impl FnOnce() -> Result<(), Skip> + Send + 'static) -> Trial {
    Trial::ignorable_test(name.clone(), move || {
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(check)
            .map_err(|e| Failed::from(format!("cannot start the test's thread: {e}")))?;
        match thread.join() {
            Ok(Ok(())) => Ok(Completion::Completed),
            Ok(Err(Skip(reason))) => Ok(Completion::ignored_with(reason)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied());
                Err(match message {
                    Some(message) => format!("test panicked: {message}").into(),
                    None => "test panicked".into(),
                })
            }
        }
    })
}

/// Runs the trials, sorted by name as libtest sorts them, with the
/// command line libtest takes (filters, `--exact`, `--skip`, `--ignored`,
/// `--test-threads`, `--list`, ...) and, as libtest, `RUST_TEST_THREADS`
/// when `--test-threads` is not given.
pub fn run(mut trials: Vec<Trial>) -> ExitCode {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = std::env::var("RUST_TEST_THREADS")
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|&n| n > 0);
    }
    trials.sort_by(|a, b| a.name().cmp(b.name()));
    libtest_mimic::run(&args, trials).exit_code()
}
