//! Every scenario on every runtime: `<runtime>::<scenario>`, one trial
//! each. A scenario that cannot run here (`#[only(..)]` on another
//! platform, or a body that returns `Skip`) is reported as ignored, with
//! its reason; libtest's `#[ignore]` is fixed at compile time, hence this
//! `harness = false` runner on libtest-mimic.

mod common;

use std::process::ExitCode;

use libtest_mimic::Trial;
use localsock_tests::rt_blocking::Blocking;
use localsock_tests::rt_smol::Smol;
use localsock_tests::rt_tokio::{TokioCurrentThread, TokioMultiThread};
use localsock_tests::{scenarios, Runtime};

/// The scenarios there were when the registry replaced the hand-written
/// list; fewer means one was lost.
const AT_LEAST: usize = 63;

fn main() -> ExitCode {
    let mut trials = Vec::new();
    trials.extend(suite::<Blocking>());
    trials.extend(suite::<Smol>());
    trials.extend(suite::<TokioCurrentThread>());
    trials.extend(suite::<TokioMultiThread>());
    trials.push(common::trial(
        "registry::every_runtime_runs_every_scenario".into(),
        || {
            every_runtime_runs_every_scenario();
            Ok(())
        },
    ));
    common::run(trials)
}

/// Every scenario on runtime `R`, named `<R::NAME>::<scenario>`.
fn suite<R: Runtime>() -> impl Iterator<Item = Trial> {
    scenarios::all::<R>()
        .into_iter()
        .map(|check| common::trial(format!("{}::{}", R::NAME, check.name), check.run))
}

/// The registry gives every runtime the same scenarios, each once, and no
/// fewer than there were.
fn every_runtime_runs_every_scenario() {
    let names = |list: Vec<localsock_tests::registry::Check>| -> Vec<&'static str> {
        list.iter().map(|c| c.name).collect()
    };
    let blocking = names(scenarios::all::<Blocking>());
    let mut unique = blocking.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        blocking.len(),
        "a scenario is registered twice"
    );
    assert!(
        blocking.len() >= AT_LEAST,
        "{} scenarios registered, {AT_LEAST} expected at least",
        blocking.len()
    );
    assert_eq!(names(scenarios::all::<Smol>()), blocking);
    assert_eq!(names(scenarios::all::<TokioCurrentThread>()), blocking);
    assert_eq!(names(scenarios::all::<TokioMultiThread>()), blocking);
    println!(
        "registry: {} scenarios on each of 4 runtimes",
        blocking.len()
    );
}
