//! Replays every file of the checked-in fuzz corpora through the same
//! interpreters the fuzz targets use, on stable Rust.

mod ops;

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn ops_corpus_replays_cleanly() {
    let files = corpus("ops");
    assert!(
        files.len() >= 20,
        "the ops corpus has {} files",
        files.len()
    );
    let mut decoded = 0;
    let mut connected = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if let Some(s) = ops::Scenario::from_bytes(&data) {
            decoded += 1;
            let r = std::panic::catch_unwind(|| ops::World::run(&s)).unwrap_or_else(|e| {
                eprintln!("{}: {:#?}", f.display(), s);
                std::panic::resume_unwind(e)
            });
            connected += usize::from(r.connections > 0);
        }
    }
    assert!(decoded * 2 >= files.len(), "most corpus files decode");
    assert!(connected > 0, "some corpus files reach a connection");
}

/// Decodes one input (a corpus file or a fuzzer's artifact) and prints its
/// scenario: `OPS_INPUT=path cargo test -p localsock-core --test
/// corpus_replay -- --ignored --nocapture decode_one`.
#[test]
#[ignore = "a tool: set OPS_INPUT"]
fn decode_one() {
    let path = std::env::var("OPS_INPUT").expect("OPS_INPUT");
    let data = std::fs::read(&path).unwrap();
    let s = ops::Scenario::from_bytes(&data).expect("decodes");
    println!("{s:#?}");
    let r = ops::World::run(&s);
    println!("{r:#?}");
}

#[test]
fn names_corpus_replays_cleanly() {
    let files = corpus("names");
    assert!(!files.is_empty());
    for f in &files {
        ops::names::check(&std::fs::read(f).unwrap());
    }
}
