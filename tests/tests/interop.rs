//! Every server runtime × every client runtime: bulk both ways with a
//! checksum, ping-pong, half-close, and the client in another process.
//!
//! `<server>_server_<client>_client::<check>`, one trial each. A check that
//! cannot run here (half-close on Windows) is reported as ignored, with its
//! reason; libtest's `#[ignore]` is fixed at compile time, hence this
//! `harness = false` runner on libtest-mimic.

mod common;

use std::process::ExitCode;

use libtest_mimic::Trial;
use localsock_tests::interop;
use localsock_tests::rt_blocking::Blocking;
use localsock_tests::rt_smol::Smol;
use localsock_tests::rt_tokio::{TokioCurrentThread as TokioCt, TokioMultiThread as TokioMt};
use localsock_tests::Runtime;

fn main() -> ExitCode {
    let mut trials = Vec::new();
    pair::<Blocking, Blocking>("blocking_server_blocking_client", &mut trials);
    pair::<Blocking, Smol>("blocking_server_smol_client", &mut trials);
    pair::<Blocking, TokioCt>("blocking_server_tokio_ct_client", &mut trials);
    pair::<Blocking, TokioMt>("blocking_server_tokio_mt_client", &mut trials);
    pair::<Smol, Blocking>("smol_server_blocking_client", &mut trials);
    pair::<Smol, Smol>("smol_server_smol_client", &mut trials);
    pair::<Smol, TokioCt>("smol_server_tokio_ct_client", &mut trials);
    pair::<Smol, TokioMt>("smol_server_tokio_mt_client", &mut trials);
    pair::<TokioCt, Blocking>("tokio_ct_server_blocking_client", &mut trials);
    pair::<TokioCt, Smol>("tokio_ct_server_smol_client", &mut trials);
    pair::<TokioCt, TokioCt>("tokio_ct_server_tokio_ct_client", &mut trials);
    pair::<TokioCt, TokioMt>("tokio_ct_server_tokio_mt_client", &mut trials);
    pair::<TokioMt, Blocking>("tokio_mt_server_blocking_client", &mut trials);
    pair::<TokioMt, Smol>("tokio_mt_server_smol_client", &mut trials);
    pair::<TokioMt, TokioCt>("tokio_mt_server_tokio_ct_client", &mut trials);
    pair::<TokioMt, TokioMt>("tokio_mt_server_tokio_mt_client", &mut trials);
    common::run(trials)
}

/// The interop checks for one (server, client) pair, named
/// `<module>::<check>`.
fn pair<S: Runtime, C: Runtime>(module: &str, trials: &mut Vec<Trial>) {
    for check in interop::checks::<S, C>() {
        trials.push(common::trial(
            format!("{module}::{}", check.name),
            move || (check.run)(env!("CARGO_BIN_EXE_lsk-interop")),
        ));
    }
}
