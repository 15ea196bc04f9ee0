//! Child process of the interop matrix: `lsk-interop client <runtime> <name> <bytes>`.

use localsock_tests::interop::child_client;
use localsock_tests::rt_blocking::Blocking;
use localsock_tests::rt_smol::Smol;
use localsock_tests::rt_tokio::{TokioCurrentThread, TokioMultiThread};
use localsock_tests::Runtime;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, runtime, name, len] = &args[..] else {
        eprintln!("usage: lsk-interop client <runtime> <name> <bytes>");
        std::process::exit(2);
    };
    let len: usize = len.parse().unwrap_or(0);
    let result = match (role.as_str(), runtime.as_str()) {
        ("client", Blocking::NAME) => child_client::<Blocking>(name, len),
        ("client", Smol::NAME) => child_client::<Smol>(name, len),
        ("client", TokioCurrentThread::NAME) => child_client::<TokioCurrentThread>(name, len),
        ("client", TokioMultiThread::NAME) => child_client::<TokioMultiThread>(name, len),
        _ => Err(format!("unknown role/runtime: {role} {runtime}")),
    };
    if let Err(e) = result {
        println!("error {e}");
        std::process::exit(1);
    }
}
