//! The tokio runtime under the conformance suite (filled in with the runtime).
