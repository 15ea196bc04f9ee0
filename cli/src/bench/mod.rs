//! The benchmark harness behind `localsock bench` and
//! `cargo bench -p localsock-cli`.
//!
//! Every workload runs for every localsock runtime next to its raw baseline
//! in the same run, with the same thread layout or executor flavour, and is
//! reported as a ratio to that baseline (on a small VM only ratios measured
//! side by side mean anything):
//!
//! | layout | baseline | localsock | also |
//! |---|---|---|---|
//! | threads, one per side | std `UnixStream` | `localsock-blocking` | `interprocess` (sync) |
//! | the same, pinned to CPU 0 | std `UnixStream` | `localsock-blocking` | `interprocess` (sync) |
//! | smol, one executor thread | `async_io::Async<UnixStream>` | `localsock-smol` | |
//! | tokio current_thread | `tokio::net::UnixStream` | `localsock-tokio` | `interprocess` (tokio) |
//! | tokio multi_thread | `tokio::net::UnixStream` | `localsock-tokio` | `interprocess` (tokio) |
//!
//! Workloads C (many connections; server and clients in two processes, so
//! each holds one descriptor per connection and reports its own peak RSS)
//! and E (the flood; peak RSS) run each row in child processes of the
//! `localsock` binary (`localsock bench-row …`, hidden). D (sequential
//! connects) and F (a thread per client, blocking only) show the spread of
//! their rounds and the ratio of the medians next to the per-round ratio.

use std::path::PathBuf;

use crate::{exit, Runtime};

#[cfg(unix)]
mod libs;
#[cfg(unix)]
mod report;
#[cfg(unix)]
mod run;
#[cfg(unix)]
mod sys;
#[cfg(unix)]
mod work;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Only these runtimes' rows (with their baselines); empty: all.
    pub runtimes: Vec<Runtime>,
    /// Small counts, for CI and smoke tests.
    pub quick: bool,
    /// The `localsock` binary, which runs workloads C and E in child
    /// processes (`bench-row`).
    pub exe: PathBuf,
    /// Only these workloads (`a`, `b64`, `b4`, `c`, `d`, `e`, `f`); empty: all.
    pub workloads: Vec<String>,
    /// Only these rows (`raw`, `localsock`, `interprocess`,
    /// `localsock-nolimit`); empty: all. For profiling one row.
    pub libs: Vec<String>,
    /// Only these layouts (`threads`, `pinned`, `smol`, `tokio-ct`,
    /// `tokio-mt`); empty: all of the chosen runtimes. For profiling one
    /// layout.
    pub layouts: Vec<String>,
    /// Rounds of every workload (C too) instead of the defaults (5, and 3
    /// for C; with `quick`, 1, and 5 for D and F): more rounds to tell a
    /// small gap from the machine's noise.
    pub rounds: Option<usize>,
}

/// Runs the benchmark; prints the table (markdown) on stdout and progress on
/// stderr. Returns the exit status: non-zero when a localsock or baseline
/// row failed to run (a missed target is reported, not an error).
pub fn run(config: &Config) -> u8 {
    #[cfg(unix)]
    {
        run::run(config)
    }
    #[cfg(not(unix))]
    {
        let _ = config;
        eprintln!("localsock bench: the baselines are Unix domain sockets; run it on Unix");
        exit::OTHER
    }
}

/// `localsock bench [--runtime R] [--quick]` (and the hidden
/// `--workloads a,b64,…`, `--libs raw,localsock,…`, `--layouts tokio-ct,…`
/// and `--rounds N` for profiling).
pub fn run_cli(
    runtime: Option<Runtime>,
    quick: bool,
    workloads: Vec<String>,
    libs: Vec<String>,
    layouts: Vec<String>,
    rounds: Option<usize>,
) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("localsock bench: cannot find my own binary: {e}");
            return exit::OTHER;
        }
    };
    run(&Config {
        runtimes: runtime.into_iter().collect(),
        quick,
        exe,
        workloads,
        libs,
        layouts,
        rounds,
    })
}

/// `localsock bench-row …` (hidden): one row of workload C or E in this
/// process.
pub fn run_row_cli(args: &[String]) -> u8 {
    #[cfg(unix)]
    {
        run::child(args)
    }
    #[cfg(not(unix))]
    {
        let _ = args;
        exit::OTHER
    }
}
