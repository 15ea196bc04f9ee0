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
            let r = ops::World::run(&s);
            connected += usize::from(r.connections > 0);
        }
    }
    assert!(decoded * 2 >= files.len(), "most corpus files decode");
    assert!(connected > 0, "some corpus files reach a connection");
}

#[test]
fn names_corpus_replays_cleanly() {
    let files = corpus("names");
    assert!(!files.is_empty());
    for f in &files {
        ops::names::check(&std::fs::read(f).unwrap());
    }
}
