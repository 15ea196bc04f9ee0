//! Child process of the interop matrix: `lsk-interop client <runtime> <name> <bytes>`.

use localsock_tests::interop::child_client;
use localsock_tests::rt_blocking::Blocking;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, runtime, name, len] = &args[..] else {
        eprintln!("usage: lsk-interop client <runtime> <name> <bytes>");
        std::process::exit(2);
    };
    let len: usize = len.parse().unwrap_or(0);
    let result = match (role.as_str(), runtime.as_str()) {
        ("client", "blocking") => child_client::<Blocking>(name, len),
        _ => Err(format!("unknown role/runtime: {role} {runtime}")),
    };
    if let Err(e) = result {
        println!("error {e}");
        std::process::exit(1);
    }
}
