//! Arbitrary names, platforms, temp dirs and access options through the
//! name resolvers and `plan_listen`: no panic, limits respected.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/ops/mod.rs"]
mod ops;

fuzz_target!(|data: &[u8]| {
    ops::names::check(data);
});
