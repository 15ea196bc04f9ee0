//! `cargo bench -p localsock-cli`: the same harness as `localsock bench`.
//!
//! Arguments after `--`: `--quick` and `--runtime smol|tokio|blocking`.
//! Workloads C and E run in child processes of the `localsock` binary that
//! cargo builds alongside this bench.

use std::path::PathBuf;

use clap::ValueEnum;
use localsock_cli::bench::{run, Config};
use localsock_cli::Runtime;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo test --all-targets` runs bench targets without `--bench`:
    // there is nothing to test here, and the benchmark takes minutes.
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("localsock bench harness: run it with `cargo bench -p localsock-cli`");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let runtimes = args
        .windows(2)
        .filter(|w| w[0] == "--runtime")
        .filter_map(|w| Runtime::from_str(&w[1], true).ok())
        .collect();
    let status = run(&Config {
        runtimes,
        quick,
        exe: PathBuf::from(env!("CARGO_BIN_EXE_localsock")),
        workloads: Vec::new(),
        libs: Vec::new(),
        layouts: Vec::new(),
        rounds: None,
    });
    std::process::exit(i32::from(status));
}
