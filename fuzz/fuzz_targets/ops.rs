//! Arbitrary user and driver operations on a client and its accepted peer,
//! checked against the model shared with `core/tests/model.rs` and
//! `core/tests/corpus_replay.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/ops/mod.rs"]
mod ops;

fuzz_target!(|data: &[u8]| {
    if let Some(scenario) = ops::Scenario::from_bytes(data) {
        ops::World::run(&scenario);
    }
});
