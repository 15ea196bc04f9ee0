//! localsock on plain threads.
pub mod sys;
