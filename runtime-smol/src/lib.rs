//! localsock on async-io (work in progress in this commit series).
