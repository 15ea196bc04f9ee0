//! One test per row of every error table: the per-platform OS code tables,
//! the connect / live-I/O / listen classifications, Qt's texts, Qt's numeric
//! values and the `io::ErrorKind` mapping. The expected values are written
//! out here from the platforms' headers and docs/semantics.md §2, not copied from
//! the code.

use std::io::ErrorKind as K;

use localsock_core::os::{OsCode, APPLE, FREEBSD, LINUX, WINDOWS};
use localsock_core::{
    classify_connect_error, classify_io_error, classify_listen_error, ConnectVerdict, DeviceError,
    Direction, ErrorSource, IoVerdict, ListenError, LocalSocketError, OsError, Platform,
    ServerError, SocketError, State,
};

use Platform::{Apple, FreeBsd, Linux, Windows};

// ----- OS code tables ------------------------------------------------------------

macro_rules! os_rows {
    ($($name:ident: $platform:ident $raw:literal => $code:ident;)*) => {$(
        #[test]
        fn $name() {
            let e = OsError::new($platform, $raw);
            assert_eq!(e.code(), Some(OsCode::$code));
            assert_eq!(e.raw(), $raw);
            assert_eq!(e.platform(), $platform);
            assert_eq!(OsError::raw_for($platform, OsCode::$code), Some($raw));
            assert_eq!(OsError::from_code($platform, OsCode::$code), Some(e));
        }
    )*};
}

mod linux_errno {
    use super::*;
    os_rows! {
        eperm: Linux 1 => Perm;
        enoent: Linux 2 => NoEnt;
        eintr: Linux 4 => Intr;
        eagain: Linux 11 => Again;
        enomem: Linux 12 => NoMem;
        eacces: Linux 13 => Acces;
        eexist: Linux 17 => Exist;
        enotdir: Linux 20 => NotDir;
        einval: Linux 22 => Inval;
        enfile: Linux 23 => NFile;
        emfile: Linux 24 => MFile;
        erofs: Linux 30 => RoFs;
        epipe: Linux 32 => Pipe;
        enametoolong: Linux 36 => NameTooLong;
        eloop: Linux 40 => Loop;
        emsgsize: Linux 90 => MsgSize;
        eprototype: Linux 91 => ProtoType;
        eaddrinuse: Linux 98 => AddrInUse;
        econnaborted: Linux 103 => ConnAborted;
        econnreset: Linux 104 => ConnReset;
        enobufs: Linux 105 => NoBufs;
        enotconn: Linux 107 => NotConn;
        etimedout: Linux 110 => TimedOut;
        econnrefused: Linux 111 => ConnRefused;
        einprogress: Linux 115 => InProgress;
    }
}

mod apple_errno {
    use super::*;
    os_rows! {
        eperm: Apple 1 => Perm;
        enoent: Apple 2 => NoEnt;
        eintr: Apple 4 => Intr;
        eagain: Apple 35 => Again;
        enomem: Apple 12 => NoMem;
        eacces: Apple 13 => Acces;
        eexist: Apple 17 => Exist;
        enotdir: Apple 20 => NotDir;
        einval: Apple 22 => Inval;
        enfile: Apple 23 => NFile;
        emfile: Apple 24 => MFile;
        erofs: Apple 30 => RoFs;
        epipe: Apple 32 => Pipe;
        enametoolong: Apple 63 => NameTooLong;
        eloop: Apple 62 => Loop;
        emsgsize: Apple 40 => MsgSize;
        eprototype: Apple 41 => ProtoType;
        eaddrinuse: Apple 48 => AddrInUse;
        econnaborted: Apple 53 => ConnAborted;
        econnreset: Apple 54 => ConnReset;
        enobufs: Apple 55 => NoBufs;
        enotconn: Apple 57 => NotConn;
        etimedout: Apple 60 => TimedOut;
        econnrefused: Apple 61 => ConnRefused;
        einprogress: Apple 36 => InProgress;
    }
}

mod freebsd_errno {
    use super::*;
    os_rows! {
        eperm: FreeBsd 1 => Perm;
        enoent: FreeBsd 2 => NoEnt;
        eintr: FreeBsd 4 => Intr;
        eagain: FreeBsd 35 => Again;
        enomem: FreeBsd 12 => NoMem;
        eacces: FreeBsd 13 => Acces;
        eexist: FreeBsd 17 => Exist;
        enotdir: FreeBsd 20 => NotDir;
        einval: FreeBsd 22 => Inval;
        enfile: FreeBsd 23 => NFile;
        emfile: FreeBsd 24 => MFile;
        erofs: FreeBsd 30 => RoFs;
        epipe: FreeBsd 32 => Pipe;
        enametoolong: FreeBsd 63 => NameTooLong;
        eloop: FreeBsd 62 => Loop;
        emsgsize: FreeBsd 40 => MsgSize;
        eprototype: FreeBsd 41 => ProtoType;
        eaddrinuse: FreeBsd 48 => AddrInUse;
        econnaborted: FreeBsd 53 => ConnAborted;
        econnreset: FreeBsd 54 => ConnReset;
        enobufs: FreeBsd 55 => NoBufs;
        enotconn: FreeBsd 57 => NotConn;
        etimedout: FreeBsd 60 => TimedOut;
        econnrefused: FreeBsd 61 => ConnRefused;
        einprogress: FreeBsd 36 => InProgress;
    }
}

mod win32_codes {
    use super::*;
    os_rows! {
        file_not_found: Windows 2 => FileNotFound;
        path_not_found: Windows 3 => PathNotFound;
        too_many_open_files: Windows 4 => TooManyOpenFiles;
        access_denied: Windows 5 => AccessDenied;
        not_enough_memory: Windows 8 => NotEnoughMemory;
        invalid_parameter: Windows 87 => InvalidParameter;
        broken_pipe: Windows 109 => BrokenPipe;
        sem_timeout: Windows 121 => SemTimeout;
        invalid_name: Windows 123 => InvalidName;
        bad_pathname: Windows 161 => BadPathname;
        already_exists: Windows 183 => AlreadyExists;
        pipe_busy: Windows 231 => PipeBusy;
        no_data: Windows 232 => NoData;
        pipe_not_connected: Windows 233 => PipeNotConnected;
        more_data: Windows 234 => MoreData;
        pipe_connected: Windows 535 => PipeConnected;
        operation_aborted: Windows 995 => OperationAborted;
        io_pending: Windows 997 => IoPending;
        no_system_resources: Windows 1450 => NoSystemResources;
    }
}

#[test]
fn every_table_has_unique_numbers_and_codes() {
    for (name, table) in [
        ("linux", LINUX),
        ("apple", APPLE),
        ("freebsd", FREEBSD),
        ("windows", WINDOWS),
    ] {
        for (i, (raw, code)) in table.iter().enumerate() {
            for (raw2, code2) in &table[i + 1..] {
                assert_ne!(raw, raw2, "{name}: number {raw} twice");
                assert_ne!(code, code2, "{name}: {code:?} twice");
            }
        }
    }
}

#[test]
fn table_sizes_match_the_rows_tested_here() {
    assert_eq!(LINUX.len(), 25);
    assert_eq!(APPLE.len(), 25);
    assert_eq!(FREEBSD.len(), 25);
    assert_eq!(WINDOWS.len(), 19);
}

#[test]
fn unknown_numbers_have_no_code() {
    assert_eq!(OsError::new(Linux, 9999).code(), None);
    assert_eq!(OsError::new(Linux, -1).code(), None);
    assert_eq!(OsError::new(Windows, 11).code(), None);
    assert_eq!(OsError::raw_for(Windows, OsCode::Again), None);
    assert_eq!(OsError::from_code(Linux, OsCode::PipeBusy), None);
}

#[test]
fn native_uses_the_current_platform() {
    assert_eq!(OsError::native(11).platform(), Platform::CURRENT);
}

// ----- connect classification ------------------------------------------------------

macro_rules! connect_rows {
    ($($name:ident: $platform:ident $raw:literal => $verdict:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(classify_connect_error(OsError::new($platform, $raw)), $verdict);
        }
    )*};
}

mod connect_table {
    use super::*;
    use ConnectVerdict::{Fail, InProgress, Interrupted, Retry};
    use SocketError::*;
    connect_rows! {
        linux_eagain_backlog_full_retries: Linux 11 => Retry;
        linux_einprogress_waits: Linux 115 => InProgress;
        linux_eintr_retries_at_once: Linux 4 => Interrupted;
        linux_einval_is_refused: Linux 22 => Fail(ConnectionRefused);
        linux_econnrefused_is_refused: Linux 111 => Fail(ConnectionRefused);
        linux_enoent_is_server_not_found: Linux 2 => Fail(ServerNotFound);
        linux_eacces_is_access: Linux 13 => Fail(SocketAccess);
        linux_eperm_is_access: Linux 1 => Fail(SocketAccess);
        linux_etimedout_is_timeout: Linux 110 => Fail(SocketTimeout);
        linux_emfile_is_resource: Linux 24 => Fail(SocketResource);
        linux_enfile_is_resource: Linux 23 => Fail(SocketResource);
        linux_enobufs_is_resource: Linux 105 => Fail(SocketResource);
        linux_enomem_is_resource: Linux 12 => Fail(SocketResource);
        linux_enotdir_is_unknown: Linux 20 => Fail(Unknown);
        linux_enametoolong_is_unknown: Linux 36 => Fail(Unknown);
        linux_eloop_is_unknown: Linux 40 => Fail(Unknown);
        linux_eprototype_is_unknown: Linux 91 => Fail(Unknown);
        linux_unmapped_number_is_unknown: Linux 9999 => Fail(Unknown);
        apple_eagain_retries: Apple 35 => Retry;
        apple_econnrefused_is_refused: Apple 61 => Fail(ConnectionRefused);
        apple_einprogress_waits: Apple 36 => InProgress;
        apple_linux_eagain_number_is_not_eagain: Apple 11 => Fail(Unknown);
        freebsd_etimedout_is_timeout: FreeBsd 60 => Fail(SocketTimeout);
        windows_pipe_busy_retries: Windows 231 => Retry;
        windows_file_not_found_is_server_not_found: Windows 2 => Fail(ServerNotFound);
        windows_path_not_found_is_server_not_found: Windows 3 => Fail(ServerNotFound);
        windows_invalid_name_is_server_not_found: Windows 123 => Fail(ServerNotFound);
        windows_bad_pathname_is_server_not_found: Windows 161 => Fail(ServerNotFound);
        windows_access_denied_is_access: Windows 5 => Fail(SocketAccess);
        windows_pipe_not_connected_is_connection: Windows 233 => Fail(Connection);
        windows_broken_pipe_is_connection: Windows 109 => Fail(Connection);
        windows_no_data_is_connection: Windows 232 => Fail(Connection);
        windows_sem_timeout_is_connection: Windows 121 => Fail(Connection);
        windows_too_many_open_files_is_resource: Windows 4 => Fail(SocketResource);
        windows_not_enough_memory_is_resource: Windows 8 => Fail(SocketResource);
        windows_no_system_resources_is_resource: Windows 1450 => Fail(SocketResource);
        windows_invalid_parameter_is_unknown: Windows 87 => Fail(Unknown);
    }
}

// ----- live I/O classification ---------------------------------------------------

macro_rules! io_rows {
    ($($name:ident: $dir:ident $platform:ident $raw:literal => $verdict:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(
                classify_io_error(Direction::$dir, OsError::new($platform, $raw)),
                $verdict
            );
        }
    )*};
}

mod io_table {
    use super::*;
    use IoVerdict::{Fatal, Retry};
    use SocketError::*;
    io_rows! {
        read_eagain_retries: Read Linux 11 => Retry;
        write_eagain_retries: Write Linux 11 => Retry;
        read_eintr_retries: Read Linux 4 => Retry;
        write_eintr_retries: Write Linux 4 => Retry;
        windows_io_pending_retries: Read Windows 997 => Retry;
        windows_more_data_on_read_retries: Read Windows 234 => Retry;
        read_econnreset_is_peer_closed: Read Linux 104 => Fatal(PeerClosed);
        write_econnreset_is_peer_closed: Write Linux 104 => Fatal(PeerClosed);
        write_epipe_is_peer_closed: Write Linux 32 => Fatal(PeerClosed);
        write_enotconn_is_peer_closed: Write Linux 107 => Fatal(PeerClosed);
        apple_write_epipe_is_peer_closed: Write Apple 32 => Fatal(PeerClosed);
        apple_read_econnreset_is_peer_closed: Read Apple 54 => Fatal(PeerClosed);
        windows_read_broken_pipe_is_peer_closed: Read Windows 109 => Fatal(PeerClosed);
        windows_write_no_data_is_peer_closed: Write Windows 232 => Fatal(PeerClosed);
        windows_pipe_not_connected_is_peer_closed: Write Windows 233 => Fatal(PeerClosed);
        read_etimedout_is_timeout: Read Linux 110 => Fatal(SocketTimeout);
        windows_sem_timeout_is_timeout: Read Windows 121 => Fatal(SocketTimeout);
        write_emsgsize_is_datagram_too_large: Write Linux 90 => Fatal(DatagramTooLarge);
        read_emsgsize_is_connection: Read Linux 90 => Fatal(Connection);
        write_enobufs_is_resource: Write Linux 105 => Fatal(SocketResource);
        read_enomem_is_resource: Read Linux 12 => Fatal(SocketResource);
        windows_no_system_resources_is_resource: Write Windows 1450 => Fatal(SocketResource);
        read_eacces_is_access: Read Linux 13 => Fatal(SocketAccess);
        read_eio_is_connection: Read Linux 5 => Fatal(Connection);
        read_ebadf_is_connection: Read Linux 9 => Fatal(Connection);
        read_econnaborted_is_connection: Read Linux 103 => Fatal(Connection);
        windows_operation_aborted_is_connection: Read Windows 995 => Fatal(Connection);
        windows_write_more_data_is_connection: Write Windows 234 => Fatal(Connection);
    }
}

// ----- listen classification -----------------------------------------------------

macro_rules! listen_rows {
    ($($name:ident: $platform:ident $raw:literal => $kind:ident;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(
                classify_listen_error(OsError::new($platform, $raw)),
                ServerError::$kind
            );
        }
    )*};
}

mod listen_table {
    use super::*;
    listen_rows! {
        eacces_is_access: Linux 13 => SocketAccess;
        eperm_is_access: Linux 1 => SocketAccess;
        eloop_is_host_not_found: Linux 40 => HostNotFound;
        enoent_is_host_not_found: Linux 2 => HostNotFound;
        enametoolong_is_host_not_found: Linux 36 => HostNotFound;
        erofs_is_host_not_found: Linux 30 => HostNotFound;
        enotdir_is_host_not_found: Linux 20 => HostNotFound;
        eaddrinuse_is_address_in_use: Linux 98 => AddressInUse;
        eexist_is_address_in_use: Linux 17 => AddressInUse;
        emfile_is_resource: Linux 24 => SocketResource;
        enfile_is_resource: Linux 23 => SocketResource;
        enobufs_is_resource: Linux 105 => SocketResource;
        enomem_is_resource: Linux 12 => SocketResource;
        einval_is_unknown: Linux 22 => Unknown;
        unmapped_is_unknown: Linux 9999 => Unknown;
        apple_eaddrinuse_is_address_in_use: Apple 48 => AddressInUse;
        apple_enametoolong_is_host_not_found: Apple 63 => HostNotFound;
        windows_access_denied_is_access: Windows 5 => SocketAccess;
        windows_path_not_found_is_host_not_found: Windows 3 => HostNotFound;
        windows_invalid_name_is_host_not_found: Windows 123 => HostNotFound;
        windows_bad_pathname_is_host_not_found: Windows 161 => HostNotFound;
        windows_already_exists_is_address_in_use: Windows 183 => AddressInUse;
        windows_pipe_busy_is_address_in_use: Windows 231 => AddressInUse;
        windows_too_many_open_files_is_resource: Windows 4 => SocketResource;
        windows_not_enough_memory_is_resource: Windows 8 => SocketResource;
        windows_invalid_parameter_is_unknown: Windows 87 => Unknown;
    }
}

// ----- texts, numbers and io kinds ---------------------------------------------------

macro_rules! socket_error_rows {
    ($($name:ident: $variant:ident = $value:literal, $text:literal, $kind:ident;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(SocketError::$variant as i32, $value, "Qt's numeric value");
            assert_eq!(SocketError::$variant.text(Linux), $text);
            assert_eq!(SocketError::$variant.text(Apple), $text);
            assert_eq!(SocketError::$variant.io_kind(), K::$kind);
            let e = LocalSocketError::new(SocketError::$variant, ErrorSource::Socket)
                .with_platform(Linux);
            assert_eq!(e.to_string(), concat!("QLocalSocket: ", $text));
            assert_eq!(std::io::Error::from(e).kind(), K::$kind);
        }
    )*};
}

mod socket_error {
    use super::*;
    socket_error_rows! {
        connection_refused: ConnectionRefused = 0, "Connection refused", ConnectionRefused;
        peer_closed: PeerClosed = 1, "Remote closed", ConnectionReset;
        server_not_found: ServerNotFound = 2, "Invalid name", NotFound;
        socket_access: SocketAccess = 3, "Socket access error", PermissionDenied;
        socket_resource: SocketResource = 4, "Socket resource error", OutOfMemory;
        socket_timeout: SocketTimeout = 5, "Socket operation timed out", TimedOut;
        datagram_too_large: DatagramTooLarge = 6, "Datagram too large", InvalidInput;
        connection: Connection = 7, "Connection error", ConnectionAborted;
        unsupported: UnsupportedSocketOperation = 10, "The socket operation is not supported", Unsupported;
        operation: Operation = 19, "Operation not permitted when socket is in this state", NotConnected;
        unknown: Unknown = -1, "Unknown error", Other;
    }

    #[test]
    fn windows_says_access_denied() {
        assert_eq!(SocketError::SocketAccess.text(Windows), "Access denied");
        let e = LocalSocketError::from_os(
            SocketError::SocketAccess,
            ErrorSource::ConnectToServer,
            OsError::new(Windows, 5),
        );
        assert_eq!(
            e.to_string(),
            "QLocalSocket::connectToServer: Access denied"
        );
    }
}

macro_rules! server_error_rows {
    ($($name:ident: $variant:ident = $value:literal, $text:literal, $kind:ident;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(ServerError::$variant as i32, $value);
            assert_eq!(ServerError::$variant.text(), $text);
            assert_eq!(ServerError::$variant.io_kind(), K::$kind);
            let e = ListenError::new(ServerError::$variant, ErrorSource::Listen);
            assert_eq!(e.to_string(), concat!("QLocalServer::listen: ", $text));
            assert_eq!(std::io::Error::from(e).kind(), K::$kind);
        }
    )*};
}

mod server_error {
    use super::*;
    server_error_rows! {
        host_not_found: HostNotFound = 2, "Name error", NotFound;
        socket_access: SocketAccess = 3, "Permission denied", PermissionDenied;
        socket_resource: SocketResource = 4, "Out of resources", OutOfMemory;
        address_in_use: AddressInUse = 8, "Address in use", AddrInUse;
        unsupported: UnsupportedSocketOperation = 10, "The socket operation is not supported", Unsupported;
        unknown: Unknown = -1, "Unknown error", Other;
    }
}

macro_rules! device_error_rows {
    ($($name:ident: $variant:ident, $text:literal, $kind:ident;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(DeviceError::$variant.text(), $text);
            assert_eq!(DeviceError::$variant.to_string(), $text);
            assert_eq!(DeviceError::$variant.io_kind(), K::$kind);
            assert_eq!(std::io::Error::from(DeviceError::$variant).kind(), K::$kind);
        }
    )*};
}

mod device_error {
    use super::*;
    device_error_rows! {
        not_open: NotOpen, "device not open", NotConnected;
        write_only: WriteOnly, "WriteOnly device", Unsupported;
        read_only: ReadOnly, "ReadOnly device", Unsupported;
        not_connected: NotConnected, "Socket is not connected", NotConnected;
    }
}

macro_rules! prefix_rows {
    ($($name:ident: $source:ident => $prefix:literal;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(ErrorSource::$source.prefix(), $prefix);
            let e = LocalSocketError::new(SocketError::Connection, ErrorSource::$source);
            assert_eq!(e.to_string(), concat!($prefix, ": Connection error"));
            assert_eq!(e.source(), ErrorSource::$source);
        }
    )*};
}

mod prefixes {
    use super::*;
    prefix_rows! {
        connect_to_server: ConnectToServer => "QLocalSocket::connectToServer";
        wait_for_connected: WaitForConnected => "QLocalSocket::waitForConnected";
        socket: Socket => "QLocalSocket";
        listen: Listen => "QLocalServer::listen";
        wait_for_new_connection: WaitForNewConnection => "QLocalServer::waitForNewConnection";
        accept: Accept => "QLocalServer::nextPendingConnection";
    }
}

#[test]
fn unknown_error_text_carries_the_os_number() {
    let e = LocalSocketError::from_os(
        SocketError::Unknown,
        ErrorSource::ConnectToServer,
        OsError::new(Linux, 20),
    );
    assert_eq!(
        e.to_string(),
        "QLocalSocket::connectToServer: Unknown error 20"
    );
    assert_eq!(e.os_error(), Some(OsError::new(Linux, 20)));
    let l = ListenError::from_os(ErrorSource::Listen, OsError::new(Linux, 22));
    assert_eq!(l.kind(), ServerError::Unknown);
    assert_eq!(l.to_string(), "QLocalServer::listen: Unknown error 22");
}

#[test]
fn known_error_text_has_no_number() {
    let e = LocalSocketError::from_os(
        SocketError::ConnectionRefused,
        ErrorSource::ConnectToServer,
        OsError::new(Linux, 111),
    );
    assert_eq!(
        e.to_string(),
        "QLocalSocket::connectToServer: Connection refused"
    );
}

#[test]
fn detail_is_printed_in_parentheses() {
    let e = LocalSocketError::new(SocketError::ServerNotFound, ErrorSource::ConnectToServer)
        .with_detail("name too long");
    assert_eq!(
        e.to_string(),
        "QLocalSocket::connectToServer: Invalid name (name too long)"
    );
    let l = ListenError::new(ServerError::HostNotFound, ErrorSource::Listen).with_detail("x");
    assert_eq!(l.to_string(), "QLocalServer::listen: Name error (x)");
}

#[test]
fn listen_error_from_os_uses_the_listen_table() {
    let l = ListenError::from_os(ErrorSource::Listen, OsError::new(Linux, 98));
    assert_eq!(l.kind(), ServerError::AddressInUse);
    assert_eq!(l.os_error(), Some(OsError::new(Linux, 98)));
    assert_eq!(l.to_string(), "QLocalServer::listen: Address in use");
}

#[test]
fn state_values_are_qts() {
    assert_eq!(State::Unconnected as i32, 0);
    assert_eq!(State::Connecting as i32, 2);
    assert_eq!(State::Connected as i32, 3);
    assert_eq!(State::Closing as i32, 6);
}

#[test]
fn state_graph_has_exactly_qts_edges() {
    use State::*;
    let all = [Unconnected, Connecting, Connected, Closing];
    let edges = [
        (Unconnected, Connecting),
        (Connecting, Connected),
        (Connecting, Unconnected),
        (Connected, Closing),
        (Connected, Unconnected),
        (Closing, Unconnected),
        (Closing, Connecting),
    ];
    for from in all {
        for to in all {
            assert_eq!(
                from.can_move_to(to),
                edges.contains(&(from, to)),
                "{from:?} -> {to:?}"
            );
        }
    }
}
