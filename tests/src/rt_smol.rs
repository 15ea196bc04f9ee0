//! The smol runtime under the conformance suite (filled in with the runtime).
