//! systemd socket activation: the listening descriptors systemd (or
//! `systemd-socket-activate`) passes in `LISTEN_FDS`, taken once per
//! process.
//!
//! The variables are read on the first call and the descriptors are then
//! owned by a process-wide table; each one is handed out once. They are
//! made close-on-exec at that moment, as `sd_listen_fds(3)` does.
//!
//! **The variables are not unset.** `sd_listen_fds(1)` unsets them so that
//! children do not take the descriptors too; but changing the environment
//! races with any thread that reads it (`std::env::remove_var` is `unsafe`
//! in edition 2024 for that reason). Nothing is lost by keeping them:
//! `LISTEN_PID` names this process, so a child, whose pid differs, is
//! never activated by them, and the descriptors, now close-on-exec, do not
//! reach it anyway. Within this process the table, not the environment,
//! says what is left: a descriptor taken twice is an error, never two
//! owners of one descriptor.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use localsock_core::descriptor::{listen_fds, ActivatedSocket, LISTEN_FDS_START};
use localsock_core::{ErrorSource, ListenError, ServerError};

/// The passed descriptors, each `None` once taken (or if it was not open).
#[derive(Debug)]
struct Table {
    fds: Vec<Option<OwnedFd>>,
    fdnames: localsock_core::descriptor::ListenFds,
}

static TABLE: Mutex<Option<Result<Table, ListenError>>> = Mutex::new(None);

fn env(name: &str) -> Option<String> {
    std::env::var_os(name).and_then(|v| v.into_string().ok())
}

fn read_environment() -> Result<Table, ListenError> {
    let fdnames = listen_fds(
        env("LISTEN_PID").as_deref(),
        env("LISTEN_FDS").as_deref(),
        env("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )?;
    let fds = fdnames.descriptors().map(adopt_raw).collect();
    Ok(Table { fds, fdnames })
}

/// Takes ownership of the passed descriptor `raw`, made close-on-exec;
/// `None` if it is not open.
fn adopt_raw(raw: i32) -> Option<OwnedFd> {
    debug_assert!(raw >= LISTEN_FDS_START);
    // SAFETY: the borrow only reaches `fcntl`, which reports `EBADF` for a
    // number that is not open; nothing is read, written or closed.
    let fd = unsafe { BorrowedFd::borrow_raw(raw) };
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).ok()?;
    // SAFETY: `raw` is open (fcntl succeeded) and was passed to this
    // process by the activation protocol (LISTEN_PID is our pid). It is
    // wrapped once per process: this runs only while the table is built,
    // under its lock, and the table is built once.
    Some(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Takes the activated descriptor `which` names (see
/// [`ActivatedSocket`]). Errors: not activated, no such descriptor
/// (`HostNotFound`), or this one was already taken in this process
/// (`AddressInUse`).
pub fn take_activated(which: &ActivatedSocket) -> Result<OwnedFd, ListenError> {
    let mut guard = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let table = guard.get_or_insert_with(read_environment);
    let table = table.as_mut().map_err(|e| e.clone())?;
    let i = table.fdnames.select(which)?;
    table.fds.get_mut(i).and_then(Option::take).ok_or_else(|| {
        ListenError::new(ServerError::AddressInUse, ErrorSource::Listen)
            .with_detail("that activated socket was already taken (or was not open)")
    })
}

/// The names of the passed descriptors in order (systemd's
/// `LISTEN_FDNAMES`; `"unknown"` for each when it is unset), or why there
/// are none. Reads the environment on first use, like
/// [`take_activated`].
pub fn activated_names() -> Result<Vec<String>, ListenError> {
    let mut guard = TABLE.lock().unwrap_or_else(|p| p.into_inner());
    let table = guard.get_or_insert_with(read_environment);
    let table = table.as_ref().map_err(|e| e.clone())?;
    let n = table.fdnames.count();
    Ok((0..n)
        .filter_map(|i| table.fdnames.name(i).map(str::to_string))
        .collect())
}
