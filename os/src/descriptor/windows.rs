//! Windows: whether a handle is a connected, overlapped byte pipe.
//!
//! The overlapped check matters on Windows, not under Wine: on a handle
//! opened without `FILE_FLAG_OVERLAPPED` the system serialises reads and
//! writes, so the read localsock keeps in flight would block every write.
//! `NtQueryInformationFile(FileModeInformation)` reports the handle's
//! `FILE_SYNCHRONOUS_IO_*` flags, set exactly when it was opened without
//! that flag.

use std::fs::File;
use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, OwnedHandle};
use std::ptr;
use std::sync::OnceLock;

use localsock_core::descriptor::DescriptorKind;
use windows_sys::Wdk::Storage::FileSystem::{
    FileModeInformation, NtQueryInformationFile, FILE_MODE_INFORMATION, FILE_SYNCHRONOUS_IO_ALERT,
    FILE_SYNCHRONOUS_IO_NONALERT,
};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_BROKEN_PIPE, NO_ERROR, STATUS_SUCCESS,
};
use windows_sys::Win32::Storage::FileSystem::{GetFileType, FILE_TYPE_PIPE, FILE_TYPE_UNKNOWN};
use windows_sys::Win32::System::Pipes::{GetNamedPipeInfo, PIPE_SERVER_END, PIPE_TYPE_MESSAGE};
use windows_sys::Win32::System::Threading::GetCurrentProcess;
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::Inspected;

/// The owned handle a socket adopts: a pipe's `OwnedHandle`.
pub type OwnedDescriptor = OwnedHandle;
/// A borrowed handle.
pub type BorrowedDescriptor<'a> = BorrowedHandle<'a>;

/// Borrows an owned handle: `as_handle` here, `as_fd` on Unix, so code
/// that adopts one is written once for both.
pub fn borrow(handle: &OwnedHandle) -> BorrowedHandle<'_> {
    handle.as_handle()
}

/// What `handle` is. An error only when it cannot be inspected at all (an
/// invalid handle).
pub fn inspect(handle: BorrowedHandle<'_>) -> io::Result<Inspected> {
    let h = handle.as_raw_handle();
    let mut found = Inspected {
        kind: DescriptorKind::NotSocket,
        peer: Vec::new(),
        local: Vec::new(),
        server_end: false,
    };
    // SAFETY: `h` is a handle borrowed for the call.
    let ty = unsafe { GetFileType(h) };
    if ty == FILE_TYPE_UNKNOWN {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(NO_ERROR as i32) {
            return Err(e);
        }
    }
    if ty != FILE_TYPE_PIPE {
        return Ok(found);
    }
    let mut flags = 0u32;
    // SAFETY: `h` is borrowed for the call; the one out-pointer is a live
    // local, the others are null (not wanted).
    let ok = unsafe {
        GetNamedPipeInfo(
            h,
            &mut flags,
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if ok == 0 || flags & PIPE_TYPE_MESSAGE != 0 {
        // Not a named pipe we can query, or a message pipe: not a stream.
        found.kind = DescriptorKind::OtherSocket;
        return Ok(found);
    }
    found.server_end = flags & PIPE_SERVER_END != 0;
    if synchronous(h)? {
        found.kind = DescriptorKind::SynchronousPipe;
        return Ok(found);
    }
    found.kind = DescriptorKind::LocalStream {
        listening: false,
        connected: connected(handle),
    };
    Ok(found)
}

/// Whether the handle was opened for synchronous I/O.
fn synchronous(h: windows_sys::Win32::Foundation::HANDLE) -> io::Result<bool> {
    let mut status = IO_STATUS_BLOCK::default();
    let mut info = FILE_MODE_INFORMATION::default();
    // SAFETY: `h` is borrowed for the call; `status` and `info` are live
    // locals of the sizes passed.
    let rc = unsafe {
        NtQueryInformationFile(
            h,
            &mut status,
            (&mut info as *mut FILE_MODE_INFORMATION).cast(),
            std::mem::size_of::<FILE_MODE_INFORMATION>() as u32,
            FileModeInformation,
        )
    };
    if rc != STATUS_SUCCESS {
        return Err(io::Error::other(format!(
            "NtQueryInformationFile(FileModeInformation) failed: NTSTATUS {rc:#x}"
        )));
    }
    Ok(info.Mode & (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT) != 0)
}

/// Whether the pipe has (or had: a broken pipe reads its end of stream) a
/// peer. A server instance still waiting for a client has none.
fn connected(h: BorrowedHandle<'_>) -> bool {
    match crate::windows::peek_pipe(h) {
        Ok(()) => true,
        // A write-only handle may not peek: it cannot tell, so it counts
        // as connected (the first I/O says otherwise).
        Err(code) => code == ERROR_BROKEN_PIPE || code == ERROR_ACCESS_DENIED,
    }
}

/// Makes an adopted handle fit for localsock. Nothing to do on Windows:
/// handles are not inherited unless made inheritable, and overlapped I/O
/// never blocks.
pub fn prepare(_handle: BorrowedHandle<'_>) -> io::Result<()> {
    Ok(())
}

/// What `as_handle` borrows on a socket that holds no pipe: one
/// process-wide handle of the `NUL` device, opened on first use; should
/// that fail, the current process's pseudo-handle, which is always valid.
pub fn no_descriptor() -> BorrowedHandle<'static> {
    static NUL: OnceLock<OwnedHandle> = OnceLock::new();
    if let Some(h) = NUL.get() {
        return h.as_handle();
    }
    match File::open("NUL") {
        Ok(f) => NUL.get_or_init(|| f.into()).as_handle(),
        // SAFETY: the pseudo-handle of the current process (-1) is valid
        // for the process's lifetime and needs no closing.
        Err(_) => unsafe { BorrowedHandle::borrow_raw(GetCurrentProcess()) },
    }
}
