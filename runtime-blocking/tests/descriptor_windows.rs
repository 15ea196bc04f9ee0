//! Adopting pipe handles (Windows, run under Wine here): an overlapped
//! handle exchanges data, a synchronous one is refused (on Windows it
//! would deadlock full duplex), and `listen_descriptor` is unsupported.
#![cfg(windows)]

use std::io::{Read, Write};
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::time::Duration;

use localsock_blocking::{LocalServer, LocalSocket, OpenMode, ServerError, SocketError, State};
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
    let (server_end, client_end) = pipe("ok", true, true);
    let raw = client_end.as_raw_handle();
    let mut a = LocalSocket::new();
    let mut b = LocalSocket::new();
    a.set_socket_descriptor(client_end, State::Connected, OpenMode::ReadWrite)
        .unwrap();
    b.set_socket_descriptor(server_end, State::Connecting, OpenMode::ReadWrite)
        .unwrap();
    assert_eq!(a.as_raw_handle(), raw);
    b.wait_for_connected(LONG).unwrap();
    assert_eq!(b.state(), State::Connected);

    a.write_all(b"ping").unwrap();
    a.flush().unwrap();
    let mut buf = [0; 4];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    b.write_all(b"pong").unwrap();
    b.flush().unwrap();
    a.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
}

#[test]
fn a_pipe_handle_without_overlapped_io_is_refused() {
    let (server_end, client_end) = pipe("sync", true, false);
    let mut a = LocalSocket::new();
    let e = a
        .set_socket_descriptor(client_end, State::Connected, OpenMode::ReadWrite)
        .unwrap_err();
    assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
    assert!(e.to_string().contains("overlapped"), "{e}");
    assert!(a.socket_descriptor().is_none());
    drop(server_end);

    let (server_end, _client_end) = pipe("sync-server", false, true);
    let e = LocalSocket::new()
        .set_socket_descriptor(server_end, State::Connected, OpenMode::ReadWrite)
        .unwrap_err();
    assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
}

#[test]
fn a_file_handle_is_not_a_pipe() {
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let e = LocalSocket::new()
        .set_socket_descriptor(file, State::Connected, OpenMode::ReadWrite)
        .unwrap_err();
    assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
    assert!(e.to_string().contains("not a pipe"), "{e}");
}

#[test]
fn listen_on_a_handle_is_unsupported() {
    let (server_end, _client_end) = pipe("listen", true, true);
    let mut server = LocalServer::new();
    let e = server.listen_descriptor(server_end).unwrap_err();
    assert_eq!(e.kind(), ServerError::UnsupportedSocketOperation);
    assert!(!server.is_listening());
}
