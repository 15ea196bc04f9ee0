//! localsock on tokio (work in progress in this commit series).
