//! Descriptors made elsewhere: Qt's `setSocketDescriptor`,
//! `socketDescriptor()` and `listen(qintptr)` (docs/semantics.md
//! differences 28-31). Unix adopts sockets; Windows adopts pipe handles,
//! which must be overlapped (a synchronous one would deadlock full
//! duplex), and has no listening handle to serve on.

use crate::harness::*;
use crate::*;

scenarios!(
    /// An adopted socketpair end, Connecting: the first wait reports Qt's
    /// signals, `socketDescriptor()` is the adopted one, and data flows
    /// both ways.
    #[only(unix, "a socketpair is an AF_UNIX object; Windows adopts pipe handles")]
    pub fn an_adopted_socketpair_end_exchanges_data<R: Runtime>() {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;

        let (mine, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let raw = mine.as_raw_fd();
        let mut socket = R::socket();
        assert_eq!(socket.raw_descriptor(), -1);
        socket
            .set_socket_descriptor(mine.into(), State::Connecting, OpenMode::ReadWrite)
            .unwrap();
        assert!(socket.wait_for_connected(LONG));
        assert_eq!(
            socket.take_events(),
            [Event::StateChanged(State::Connected), Event::Connected]
        );
        assert_eq!(socket.raw_descriptor(), raw);
        socket.io_write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        theirs.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        theirs.write_all(b"pong").unwrap();
        socket.io_read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    },

    /// `listen_descriptor` serves on a bound listening socket, names the
    /// server by its path, and leaves the file on close (not ours); a
    /// connected socket is not a listener.
    #[only(unix, "a Windows pipe server has no single handle to serve on")]
    pub fn a_server_serves_on_a_listening_descriptor<R: Runtime>() {
        use std::os::unix::net::{UnixListener, UnixStream};

        let path = std::env::temp_dir().join(unique_name("fd"));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let mut server = R::server();
        server.listen_descriptor(listener.into()).unwrap();
        assert_eq!(server.full_server_name(), path.to_str().unwrap());
        let mut client = R::socket();
        client.connect_to_server(path.to_str().unwrap(), OpenMode::ReadWrite);
        assert!(client.wait_for_connected(LONG));
        let mut peer = server.accept_one();
        client.io_write_all(b"hi").unwrap();
        let mut buf = [0; 2];
        peer.io_read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        server.close();
        assert!(path.exists(), "not ours to remove");
        std::fs::remove_file(&path).unwrap();

        let (a, _b) = UnixStream::pair().unwrap();
        let e = R::server().listen_descriptor(a.into()).unwrap_err();
        assert_eq!(e.kind(), ServerError::UnsupportedSocketOperation);
    },

    /// Both ends of an overlapped pipe, adopted Connected and Connecting,
    /// exchange data.
    #[only(windows, "pipe handles are Windows objects; Unix adopts sockets")]
    pub fn adopted_overlapped_pipe_ends_exchange_data<R: Runtime>() {
        use std::os::windows::io::AsRawHandle;

        let (server_end, client_end) = pipe::pipe(&unique_name("fd-ok"), true, true);
        let raw = client_end.as_raw_handle();
        let mut a = R::socket();
        let mut b = R::socket();
        a.set_socket_descriptor(client_end, State::Connected, OpenMode::ReadWrite)
            .unwrap();
        b.set_socket_descriptor(server_end, State::Connecting, OpenMode::ReadWrite)
            .unwrap();
        assert_eq!(a.raw_descriptor(), raw);
        assert!(b.wait_for_connected(LONG));
        assert_eq!(b.state(), State::Connected);

        a.io_write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        b.io_read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        b.io_write_all(b"pong").unwrap();
        a.io_read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    },

    /// A pipe handle opened without `FILE_FLAG_OVERLAPPED`, either end, is
    /// refused, and the socket keeps no descriptor.
    #[only(windows, "pipe handles are Windows objects; Unix adopts sockets")]
    pub fn a_pipe_handle_without_overlapped_io_is_refused<R: Runtime>() {
        let (server_end, client_end) = pipe::pipe(&unique_name("fd-sync"), true, false);
        let mut a = R::socket();
        let e = a
            .set_socket_descriptor(client_end, State::Connected, OpenMode::ReadWrite)
            .unwrap_err();
        assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
        assert!(e.to_string().contains("overlapped"), "{e}");
        assert!(a.socket_descriptor().is_none());
        drop(server_end);

        let (server_end, _client_end) = pipe::pipe(&unique_name("fd-sync-server"), false, true);
        let e = R::socket()
            .set_socket_descriptor(server_end, State::Connected, OpenMode::ReadWrite)
            .unwrap_err();
        assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
    },

    /// A file handle is not a pipe.
    #[only(windows, "pipe handles are Windows objects; Unix adopts sockets")]
    pub fn a_file_handle_is_not_a_pipe<R: Runtime>() {
        let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
        let e = R::socket()
            .set_socket_descriptor(file.into(), State::Connected, OpenMode::ReadWrite)
            .unwrap_err();
        assert_eq!(e.kind(), SocketError::UnsupportedSocketOperation, "{e}");
        assert!(e.to_string().contains("not a pipe"), "{e}");
    },

    /// `listen_descriptor` on a pipe handle is unsupported: a pipe server
    /// has no single handle.
    #[only(windows, "on Unix a listening socket is served (above)")]
    pub fn listen_on_a_handle_is_unsupported<R: Runtime>() {
        let (server_end, _client_end) = pipe::pipe(&unique_name("fd-listen"), true, true);
        let mut server = R::server();
        let e = server.listen_descriptor(server_end).unwrap_err();
        assert_eq!(e.kind(), ServerError::UnsupportedSocketOperation);
        assert!(!server.is_listening());
    }
);

#[cfg(windows)]
mod pipe {
    use std::os::windows::io::{FromRawHandle, OwnedHandle};

    use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, FILE_FLAG_OVERLAPPED, OPEN_EXISTING, PIPE_ACCESS_DUPLEX,
    };
    use windows_sys::Win32::System::Pipes::{
        CreateNamedPipeW, PIPE_READMODE_BYTE, PIPE_TYPE_BYTE, PIPE_WAIT,
    };

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(Some(0)).collect()
    }

    /// A connected pipe `\\.\pipe\<name>`: (server end, client end), each
    /// overlapped or not.
    pub(super) fn pipe(
        name: &str,
        server_overlapped: bool,
        client_overlapped: bool,
    ) -> (OwnedHandle, OwnedHandle) {
        let name = wide(&format!(r"\\.\pipe\{name}"));
        let server_flags = if server_overlapped {
            FILE_FLAG_OVERLAPPED
        } else {
            0
        };
        // SAFETY: `name` is NUL-terminated and outlives the call; null
        // security attributes are allowed.
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
        // SAFETY: as above; the pipe instance exists, so the open succeeds
        // at once.
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
}
