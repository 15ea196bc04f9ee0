//! Adopting pipe handles on tokio (Windows, run under Wine here): both
//! ends of an overlapped pipe exchange data through the async driver; a
//! synchronous handle is refused.
#![cfg(windows)]

use std::os::windows::io::{FromRawHandle, OwnedHandle};
use std::time::Duration;

use localsock_tokio::{LocalSocket, OpenMode, SocketError, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_OVERLAPPED, OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
};
use windows_sys::Win32::System::Pipes::{
    CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_TYPE_BYTE, PIPE_WAIT,
};

const LONG: Duration = Duration::from_secs(30);

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(Some(0)).collect()
}

/// A connected pipe: (server end, client end), each overlapped or not.
fn pipe(tag: &str, server_overlapped: bool, client_overlapped: bool) -> (OwnedHandle, OwnedHandle) {
    let name = wide(&format!(r"\\.\pipe\lsk-fd-{tag}-{}", std::process::id()));
    let server_flags = if server_overlapped {
        FILE_FLAG_OVERLAPPED
    } else {
        0
    };
    // SAFETY: `name` is NUL-terminated and outlives the call; null security
    // attributes are allowed.
    let s = unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            PIPE_ACCESS_DUPLEX | server_flags,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
            1,
            65536,
            65536,
            0,
            std::ptr::null(),
        )
    };
    assert_ne!(
        s,
        INVALID_HANDLE_VALUE,
        "{}",
        std::io::Error::last_os_error()
    );
    let client_flags = if client_overlapped {
        FILE_FLAG_OVERLAPPED
    } else {
        0
    };
    // SAFETY: as above; the pipe instance exists, so the open succeeds at once.
    let c = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            0,
            std::ptr::null(),
            OPEN_EXISTING,
            client_flags,
            std::ptr::null_mut(),
        )
    };
    assert_ne!(
        c,
        INVALID_HANDLE_VALUE,
        "{}",
        std::io::Error::last_os_error()
    );
    // SAFETY: both handles are fresh and owned by nothing else.
    unsafe {
        (
            OwnedHandle::from_raw_handle(s),
            OwnedHandle::from_raw_handle(c),
        )
    }
}

#[test]
fn adopted_overlapped_pipe_ends_exchange_data() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (server_end, client_end) = pipe("tokio", true, true);
        let mut a = LocalSocket::new();
        let mut b = LocalSocket::new();
        a.set_socket_descriptor(client_end, State::Connected, OpenMode::ReadWrite)
            .unwrap();
        b.set_socket_descriptor(server_end, State::Connecting, OpenMode::ReadWrite)
            .unwrap();
        b.wait_for_connected(LONG).await.unwrap();
        a.write_all(b"ping").await.unwrap();
        a.flush().await.unwrap();
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").await.unwrap();
        b.flush().await.unwrap();
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
    });
}

#[test]
fn a_synchronous_pipe_handle_is_refused() {
    let (_server_end, client_end) = pipe("tokio-sync", true, false);
    let e = LocalSocket::new()
        .set_socket_descriptor(client_end, State::Connected, OpenMode::ReadWrite)
        .unwrap_err();
    assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
}
