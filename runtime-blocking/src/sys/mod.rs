//! The platform layer: thin, policy-free wrappers over the OS objects.
#[cfg(unix)]
pub mod unix;
#[cfg(windows)]
pub mod windows;
