//! Unix: `fstat`, `SO_TYPE`, `SO_ACCEPTCONN` and the two names of a socket.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use localsock_core::descriptor::DescriptorKind;
use rustix::fs::FileType;
use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketType};

use super::Inspected;

/// The owned descriptor a socket or server adopts: an `OwnedFd` (a
/// `UnixStream` or `UnixListener` converts into one).
pub type OwnedDescriptor = OwnedFd;
/// A borrowed descriptor.
pub type BorrowedDescriptor<'a> = BorrowedFd<'a>;

/// Borrows an owned descriptor: `as_fd` here, `as_handle` on Windows, so
/// code that adopts one is written once for both.
pub fn borrow(fd: &OwnedFd) -> BorrowedFd<'_> {
    fd.as_fd()
}

fn os(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// What `fd` is, with its names. An error only when the descriptor cannot
/// be inspected at all (`EBADF`: not open).
pub fn inspect(fd: BorrowedFd<'_>) -> io::Result<Inspected> {
    let stat = rustix::fs::fstat(fd).map_err(os)?;
    let mut found = Inspected {
        kind: DescriptorKind::NotSocket,
        peer: Vec::new(),
        local: Vec::new(),
        server_end: false,
    };
    if FileType::from_raw_mode(stat.st_mode) != FileType::Socket {
        return Ok(found);
    }
    let local = rustix::net::getsockname(fd).map_err(os)?;
    let stream = rustix::net::sockopt::socket_type(fd).map_err(os)? == SocketType::STREAM;
    if local.address_family() != AddressFamily::UNIX || !stream {
        found.kind = DescriptorKind::OtherSocket;
        return Ok(found);
    }
    found.local = sun_path(Some(local));
    let peer = rustix::net::getpeername(fd);
    let connected = peer.is_ok();
    found.peer = sun_path(peer.ok().flatten());
    found.kind = DescriptorKind::LocalStream {
        listening: listening(fd, connected)?,
        connected,
    };
    Ok(found)
}

#[cfg(not(target_vendor = "apple"))]
fn listening(fd: BorrowedFd<'_>, _connected: bool) -> io::Result<bool> {
    rustix::net::sockopt::socket_acceptconn(fd).map_err(os)
}

/// Apple platforms have no `SO_ACCEPTCONN`: a stream socket without a peer
/// is taken to be listening (`accept` then reports `EINVAL` if it is not).
#[cfg(target_vendor = "apple")]
fn listening(_fd: BorrowedFd<'_>, connected: bool) -> io::Result<bool> {
    Ok(!connected)
}

/// The raw `sun_path` bytes of an address (a leading NUL for an abstract
/// name), empty when unnamed.
fn sun_path(addr: Option<SocketAddrAny>) -> Vec<u8> {
    // Size of `sun_family` (plus `sun_len` on BSDs): no longer is unnamed.
    const SUN_PATH_OFFSET: usize = 2;
    let named = addr.filter(|a| a.addr_len() as usize > SUN_PATH_OFFSET);
    let Some(unix) = named.and_then(|a| SocketAddrUnix::try_from(a).ok()) else {
        return Vec::new();
    };
    if let Some(bytes) = unix.path_bytes() {
        return bytes.to_vec();
    }
    abstract_bytes(&unix)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_bytes(a: &SocketAddrUnix) -> Vec<u8> {
    a.abstract_name().map_or_else(Vec::new, |n| {
        let mut v = Vec::with_capacity(n.len() + 1);
        v.push(0);
        v.extend_from_slice(n);
        v
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_bytes(_a: &SocketAddrUnix) -> Vec<u8> {
    Vec::new()
}

/// Makes an adopted descriptor fit for localsock: close-on-exec (it must
/// not leak into children), non-blocking (every wait is the runtime's),
/// and on Apple platforms `SO_NOSIGPIPE`, as for the sockets localsock
/// creates itself.
pub fn prepare(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).map_err(os)?;
    rustix::io::ioctl_fionbio(fd, true).map_err(os)?;
    #[cfg(target_vendor = "apple")]
    rustix::net::sockopt::set_socket_nosigpipe(fd, true).map_err(os)?;
    Ok(())
}

/// What `as_fd` borrows on a socket or server that holds no descriptor
/// (`AsFd` must return an open one; Qt's `socketDescriptor()` is -1
/// then, which `as_raw_fd` and `socket_descriptor` report): one
/// process-wide, close-on-exec descriptor of `/dev/null`, opened on first
/// use. Should that fail (no `/dev`, no descriptors left), standard input
/// stands in, which the Rust runtime keeps open.
pub fn no_descriptor() -> BorrowedFd<'static> {
    static NULL: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = NULL.get() {
        return fd.as_fd();
    }
    match File::open("/dev/null") {
        Ok(f) => NULL.get_or_init(|| f.into()).as_fd(),
        // SAFETY: the Rust runtime opens descriptors 0-2 at start-up when
        // they are closed and never closes them; borrowing 0 for the
        // process's lifetime is what `std::io::stdin().as_fd()` does.
        Err(_) => unsafe { BorrowedFd::borrow_raw(0) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, BorrowedFd};

    #[test]
    fn a_closed_descriptor_is_an_error_not_a_guess() {
        // A number above the kernel's descriptor limit (`fs.nr_open`) is
        // never open: a descriptor closed here could be reused at once by
        // another test of this binary running on another thread.
        let never_open = i32::MAX - 1;
        // SAFETY: `inspect` only asks `fstat`, which reports `EBADF` for a
        // descriptor that is not open; nothing is read, written or closed.
        let closed = unsafe { BorrowedFd::borrow_raw(never_open) };
        let e = inspect(closed).unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(rustix::io::Errno::BADF.raw_os_error())
        );
    }

    #[test]
    fn kinds_and_names_of_real_descriptors() {
        let path = std::env::temp_dir().join(format!("lsk-os-inspect-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let found = inspect(l.as_fd()).unwrap();
        assert_eq!(
            found.kind,
            DescriptorKind::LocalStream {
                listening: true,
                connected: false
            }
        );
        assert_eq!(found.local, path.as_os_str().as_encoded_bytes());
        let c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let found = inspect(c.as_fd()).unwrap();
        assert_eq!(
            found.peer,
            path.as_os_str().as_encoded_bytes(),
            "the server's name"
        );
        let f = std::fs::File::open("/dev/null").unwrap();
        assert_eq!(inspect(f.as_fd()).unwrap().kind, DescriptorKind::NotSocket);
        let d = std::os::unix::net::UnixDatagram::unbound().unwrap();
        assert_eq!(
            inspect(d.as_fd()).unwrap().kind,
            DescriptorKind::OtherSocket
        );
        prepare(c.as_fd()).unwrap();
        let fl = rustix::io::fcntl_getfd(c.as_fd()).unwrap();
        assert!(fl.contains(rustix::io::FdFlags::CLOEXEC));
        assert!(no_descriptor().as_raw_fd() >= 0);
        std::fs::remove_file(&path).unwrap();
    }
}
