//! Reliability and security proofs on every runtime: access
//! control, hostile files and names, resource exhaustion, hostile peers,
//! peer credentials. See `localsock_tests::reliability` and SECURITY.md.
//!
//! `<runtime>::<proof>`, one trial each. A proof that cannot run here
//! (another platform's, one that needs root, one Wine cannot show) is
//! reported as ignored, with its reason; libtest's `#[ignore]` is fixed at
//! compile time, hence this `harness = false` runner on libtest-mimic.

mod common;

use std::process::ExitCode;

use libtest_mimic::Trial;
use localsock_tests::reliability::{self, PeerExe, Reliability};
use localsock_tests::rt_blocking::Blocking;
use localsock_tests::rt_smol::Smol;
use localsock_tests::rt_tokio::{TokioCurrentThread, TokioMultiThread};

/// The `lsk-peer` binary of this package.
const PEER: PeerExe = PeerExe::new(env!("CARGO_BIN_EXE_lsk-peer"));

fn main() -> ExitCode {
    let mut trials = Vec::new();
    trials.extend(suite::<Blocking>());
    trials.extend(suite::<Smol>());
    trials.extend(suite::<TokioCurrentThread>());
    trials.extend(suite::<TokioMultiThread>());
    common::run(trials)
}

/// Every proof on runtime `R`, named `<R::NAME>::<proof>`.
fn suite<R: Reliability>() -> impl Iterator<Item = Trial> {
    reliability::all::<R>().into_iter().map(|proof| {
        common::trial(format!("{}::{}", R::NAME, proof.name), move || {
            (proof.run)(&PEER)
        })
    })
}
