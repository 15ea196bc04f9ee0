//! Unix platform layer: `AF_UNIX` stream sockets, listeners and `poll(2)`.
//!
//! Policy-free: every function performs the system calls and returns the raw
//! OS error in an [`io::Error`]; what an errno means (Qt error, retry) is
//! decided by the caller. Everything is created close-on-exec and
//! non-blocking, and no write can raise `SIGPIPE`. Only std and rustix types
//! appear in the API so the smol and tokio adapters can reuse it.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use localsock_core::ListenStage;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketType};

/// Where a socket lives: a filesystem path or (Linux) an abstract name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketAddress<'a> {
    /// A socket file.
    Path(&'a Path),
    /// Linux abstract namespace: the bytes after the leading NUL, no
    /// terminator; NULs inside are significant. Elsewhere every use fails
    /// with `EAFNOSUPPORT`.
    Abstract(&'a [u8]),
}

impl SocketAddress<'_> {
    fn to_rustix(self) -> io::Result<SocketAddrUnix> {
        match self {
            SocketAddress::Path(p) => SocketAddrUnix::new(p).map_err(os),
            SocketAddress::Abstract(name) => abstract_addr(name),
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddrUnix> {
    SocketAddrUnix::new_abstract_name(name).map_err(os)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddrUnix> {
    Err(os(Errno::AFNOSUPPORT))
}

/// A socket's own or peer address, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedAddress {
    /// A filesystem path (trailing NULs removed).
    Path(PathBuf),
    /// An abstract name without its leading NUL (trailing NULs kept).
    Abstract(Vec<u8>),
    /// An unbound socket.
    Unnamed,
}

fn os(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn is_errno(e: &io::Error, errno: Errno) -> bool {
    e.raw_os_error() == Some(errno.raw_os_error())
}

// ---------------------------------------------------------------------------
// Socket creation (flags differ per platform)

/// A fresh `AF_UNIX` stream socket, close-on-exec and non-blocking.
#[cfg(not(target_vendor = "apple"))]
fn new_stream_socket() -> io::Result<OwnedFd> {
    use rustix::net::SocketFlags;
    rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
    .map_err(os)
}

/// macOS has no `SOCK_CLOEXEC`/`SOCK_NONBLOCK`: set them afterwards, plus
/// `SO_NOSIGPIPE` because writes there go through plain `writev`.
#[cfg(target_vendor = "apple")]
fn new_stream_socket() -> io::Result<OwnedFd> {
    let fd = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).map_err(os)?;
    apple_setup(&fd)?;
    Ok(fd)
}

#[cfg(target_vendor = "apple")]
fn apple_setup(fd: &OwnedFd) -> io::Result<()> {
    rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).map_err(os)?;
    rustix::io::ioctl_fionbio(fd, true).map_err(os)?;
    rustix::net::sockopt::set_socket_nosigpipe(fd, true).map_err(os)
}

#[cfg(not(target_vendor = "apple"))]
fn accept_raw(l: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    use rustix::net::SocketFlags;
    rustix::net::accept_with(l, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK)
}

#[cfg(target_vendor = "apple")]
fn accept_raw(l: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let fd = rustix::net::accept(l)?;
    match apple_setup(&fd) {
        Ok(()) => Ok(fd),
        Err(e) => Err(Errno::from_raw_os_error(e.raw_os_error().unwrap_or(0))),
    }
}

// ---------------------------------------------------------------------------
// Client side

/// Result of a non-blocking connect.
#[derive(Debug)]
pub enum Connecting {
    /// The connection is established.
    Connected(UnixStream),
    /// `EINPROGRESS`: wait until writable, then call [`finish_connect`].
    InProgress(UnixStream),
}

/// Connects a new non-blocking, close-on-exec stream socket to `addr`.
///
/// Errors are the raw `connect(2)` errno: `EAGAIN` (full backlog on Linux),
/// `ECONNREFUSED` (stale socket), `ENOENT`, `EACCES`, ...; the caller decides
/// whether to retry.
pub fn connect(addr: &SocketAddress<'_>) -> io::Result<Connecting> {
    let sa = addr.to_rustix()?;
    let fd = new_stream_socket()?;
    match rustix::net::connect(&fd, &sa) {
        Ok(()) => Ok(Connecting::Connected(fd.into())),
        // EINTR: the connection continues asynchronously (POSIX).
        Err(Errno::INPROGRESS | Errno::INTR) => Ok(Connecting::InProgress(fd.into())),
        Err(e) => Err(os(e)),
    }
}

/// Whether [`connect_waiting`] can wait inside the kernel for room in a
/// full backlog. Linux can: there a blocking `connect` sleeps until the
/// server accepts, bounded by `SO_SNDTIMEO`. macOS and the BSDs refuse a
/// full backlog at once, so there is nothing to wait for.
pub const CONNECT_WAITS_FOR_BACKLOG: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Connects like [`connect`], but while the server's backlog is full waits
/// inside the kernel for room, for at most `wait` (at least 1 ms, since the
/// kernel reads zero as forever). The server's `accept` ends the wait, so
/// the client gets in at once, as a blocking `std` connect does. Errors:
/// `EAGAIN` when `wait` passed with the backlog still full; `EINTR` when a
/// signal ended the wait (nothing is connected: connect again); the rest
/// as for [`connect`]. The stream is returned in blocking mode (see
/// [`use_blocking_waits`]) with no send timeout.
///
/// Where [`CONNECT_WAITS_FOR_BACKLOG`] is false this is [`connect`].
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn connect_waiting(addr: &SocketAddress<'_>, wait: Duration) -> io::Result<Connecting> {
    use rustix::net::sockopt::{set_socket_timeout, Timeout};
    use rustix::net::SocketFlags;
    let sa = addr.to_rustix()?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(os)?;
    let wait = wait.max(Duration::from_millis(1));
    set_socket_timeout(&fd, Timeout::Send, Some(wait)).map_err(os)?;
    rustix::net::connect(&fd, &sa).map_err(os)?;
    set_socket_timeout(&fd, Timeout::Send, None).map_err(os)?;
    Ok(Connecting::Connected(fd.into()))
}

/// Where the kernel cannot wait for backlog room: [`connect`].
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn connect_waiting(addr: &SocketAddress<'_>, _wait: Duration) -> io::Result<Connecting> {
    connect(addr)
}

/// Completes an [`Connecting::InProgress`] connect once the socket polled
/// writable: reports `SO_ERROR`, or `ENOTCONN` if it is not connected yet.
pub fn finish_connect(s: &UnixStream) -> io::Result<()> {
    rustix::net::sockopt::socket_error(s)
        .map_err(os)?
        .map_err(os)?;
    rustix::net::getpeername(s).map_err(os)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// I/O

/// Writes `bufs` with one `sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT)`: a closed
/// peer yields `EPIPE`, never `SIGPIPE`, and it never blocks, whatever the
/// descriptor's mode. `EINTR` is retried.
#[cfg(not(target_vendor = "apple"))]
pub fn send_vectored(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    use rustix::net::{SendAncillaryBuffer, SendFlags};
    loop {
        let mut control = SendAncillaryBuffer::default();
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        match rustix::net::sendmsg(fd, bufs, &mut control, flags) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(os),
        }
    }
}

/// Writes `bufs` with one `writev`; our sockets carry `SO_NOSIGPIPE`, so a
/// closed peer yields `EPIPE`, never `SIGPIPE`. `EINTR` is retried.
#[cfg(target_vendor = "apple")]
pub fn send_vectored(fd: BorrowedFd<'_>, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    loop {
        match rustix::io::writev(fd, bufs) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(os),
        }
    }
}

/// Reads into possibly uninitialised memory without blocking, whatever the
/// descriptor's mode; returns the bytes the kernel wrote (empty = end of
/// stream). `EINTR` is retried. `recv` rather than `read`: the socket call
/// skips the file layer's per-read work (`fsnotify`, range checks, the
/// position lock), a measurable share of a small message's cost.
pub fn recv_uninit<'b>(
    fd: BorrowedFd<'_>,
    buf: &'b mut [MaybeUninit<u8>],
) -> io::Result<&'b mut [u8]> {
    let n = loop {
        match rustix::net::recv(fd, &mut *buf, rustix::net::RecvFlags::DONTWAIT) {
            Ok(((filled, _), _)) => break filled.len(),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os(e)),
        }
    };
    let filled = &mut buf[..n];
    // SAFETY: `recv` wrote the first `n` bytes of `buf` (rustix returned
    // exactly those as initialised), and `MaybeUninit<u8>` has the layout
    // of `u8`.
    Ok(unsafe { &mut *(std::ptr::from_mut(filled) as *mut [u8]) })
}

/// Half-closes: the peer reads EOF, we can still read.
pub fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    rustix::net::shutdown(fd, rustix::net::Shutdown::Write).map_err(os)
}

// ---------------------------------------------------------------------------
// poll

/// What `poll(2)` reported; all false means the timeout expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Readiness {
    /// `POLLIN`: data or EOF can be read, or a connection accepted.
    pub readable: bool,
    /// `POLLOUT`: a write would not block (a connect has finished).
    pub writable: bool,
    /// `POLLHUP` (or Linux `POLLRDHUP`): the peer has closed.
    pub hangup: bool,
    /// `POLLERR` / `POLLNVAL`.
    pub error: bool,
}

/// Longest single wait: some platforms reject more than `c_int::MAX` ms.
const MAX_POLL_CHUNK: Duration = Duration::from_millis(i32::MAX as u64);

/// Waits until `fd` is readable/writable or `timeout` passes (`None` =
/// forever, `Some(ZERO)` = just check). Hang-up and error are always
/// reported. `EINTR` is retried with the remaining time.
pub fn poll(
    fd: BorrowedFd<'_>,
    want_read: bool,
    want_write: bool,
    timeout: Option<Duration>,
) -> io::Result<Readiness> {
    let mut flags = PollFlags::empty();
    if want_read {
        flags |= PollFlags::IN;
    }
    if want_write {
        flags |= PollFlags::OUT;
    }
    // None when the deadline overflows `Instant`: as good as forever.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let chunk = match (timeout, deadline) {
            (None, _) | (Some(_), None) => None,
            (Some(_), Some(d)) => Some(d.saturating_duration_since(Instant::now())),
        };
        let (wait, is_last) = match chunk {
            Some(c) if c <= MAX_POLL_CHUNK => (c, true),
            _ => (MAX_POLL_CHUNK, false),
        };
        let ts = Timespec::try_from(wait).map_err(|_| os(Errno::INVAL))?;
        let mut fds = [PollFd::new(&fd, flags)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) if is_last => return Ok(Readiness::default()),
            Ok(0) => {}
            Ok(_) => return Ok(readiness(fds[0].revents())),
            Err(Errno::INTR) => {}
            Err(e) => return Err(os(e)),
        }
    }
}

/// Whether the peer of `fd` is gone for good: the socket polls `POLLHUP`
/// (both directions shut). A peer that only shut down its writing (a
/// half-close) polls `POLLIN | POLLRDHUP` without `POLLHUP`. Does not wait.
/// The core decides what a hang-up means; this only reports it.
pub fn hung_up(fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(poll(fd, false, false, Some(Duration::ZERO))?.hangup)
}

fn readiness(r: PollFlags) -> Readiness {
    Readiness {
        readable: r.contains(PollFlags::IN),
        writable: r.contains(PollFlags::OUT),
        hangup: r.contains(PollFlags::HUP) || rdhup(r),
        error: r.intersects(PollFlags::ERR | PollFlags::NVAL),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn rdhup(r: PollFlags) -> bool {
    r.contains(PollFlags::RDHUP)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn rdhup(_r: PollFlags) -> bool {
    false
}

// ---------------------------------------------------------------------------
// Listener

/// How [`listen`] creates the listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// Permission bits of the socket file (e.g. `0o700`), applied before the
    /// file becomes visible; `None` leaves them to the umask. Ignored for
    /// abstract addresses.
    pub mode: Option<u32>,
    /// `listen(2)` backlog.
    pub backlog: i32,
    /// Replace a leftover socket file at the path, but only if it is a
    /// socket and a probe connect is refused (nobody listens).
    pub reclaim_stale: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            mode: None,
            backlog: 50,
            reclaim_stale: false,
        }
    }
}

/// A failed [`listen`]: which step, and the raw OS error. The core
/// classifies the pair ([`localsock_core::ListenError::from_os_at`]).
#[derive(Debug)]
pub struct BindError {
    /// The failing step.
    pub stage: ListenStage,
    /// The OS error of that step.
    pub error: io::Error,
}

impl BindError {
    fn new(stage: ListenStage, error: io::Error) -> Self {
        Self { stage, error }
    }

    fn in_use() -> Self {
        Self::new(ListenStage::Bind, os(Errno::ADDRINUSE))
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.stage, self.error)
    }
}

impl std::error::Error for BindError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> Self {
        e.error
    }
}

/// What [`listen`] made: the listening socket and the identity of the
/// socket file it created.
#[derive(Debug)]
pub struct BoundListener {
    /// The listening socket.
    pub listener: UnixListener,
    /// The socket file at the requested path; `None` for an abstract name.
    pub file: Option<SocketFileId>,
}

/// Which file a socket path named when a listener created it: its device
/// and inode numbers. `link` and `rename` keep them, so they follow the
/// file to its final path; a file created at that path later has others,
/// at least while the listener is open (its socket holds on to its own
/// inode, so the number cannot be reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketFileId {
    dev: u64,
    ino: u64,
}

impl SocketFileId {
    /// `lstat`s `path`: the identity of whatever is there now (not
    /// following a symlink), `None` if nothing is.
    pub fn of(path: &Path) -> io::Result<Option<SocketFileId>> {
        match fs::symlink_metadata(path) {
            Ok(m) => Ok(Some(SocketFileId {
                dev: m.dev(),
                ino: m.ino(),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Creates a close-on-exec, non-blocking listening socket at `addr`.
///
/// With a path and a `mode`, the socket is bound inside a fresh private
/// directory next to the target, chmod'ed, then hard-linked into place, so
/// nobody can connect before the mode applies and nothing at the target is
/// ever replaced (unlike Qt's `rename`). Consequently `getsockname` on such
/// a listener reports the (deleted) temporary path; use the requested path.
/// The temporary socket path is the target's directory plus 10 bytes, so a
/// short name in a long directory can fail with `ENAMETOOLONG` at `Bind`.
///
/// A name that is taken gives `EADDRINUSE` at [`ListenStage::Bind`]; see
/// [`ListenOptions::reclaim_stale`].
///
/// The identity of the socket file is recorded right after `bind`, so that
/// closing removes this file only ([`remove_if_same`]), never one another
/// server created after ours was deleted.
pub fn listen(addr: &SocketAddress<'_>, opts: &ListenOptions) -> Result<BoundListener, BindError> {
    match (*addr, opts.mode) {
        (SocketAddress::Path(path), Some(mode)) => listen_private(path, mode, opts),
        _ => listen_plain(*addr, opts),
    }
}

fn listen_plain(addr: SocketAddress<'_>, opts: &ListenOptions) -> Result<BoundListener, BindError> {
    use ListenStage::*;
    let sa = addr.to_rustix().map_err(|e| BindError::new(Bind, e))?;
    let fd = new_stream_socket().map_err(|e| BindError::new(Socket, e))?;
    match rustix::net::bind(&fd, &sa) {
        Ok(()) => {}
        Err(Errno::ADDRINUSE) => match addr {
            SocketAddress::Path(path) if opts.reclaim_stale => {
                reclaim_stale(path)?;
                rustix::net::bind(&fd, &sa).map_err(|e| BindError::new(Bind, os(e)))?;
            }
            _ => return Err(BindError::in_use()),
        },
        Err(e) => return Err(BindError::new(Bind, os(e))),
    }
    let file = match addr {
        SocketAddress::Path(path) => SocketFileId::of(path).map_err(|e| BindError::new(Bind, e))?,
        SocketAddress::Abstract(_) => None,
    };
    if let Err(e) = rustix::net::listen(&fd, opts.backlog) {
        if let (SocketAddress::Path(path), Some(id)) = (addr, file) {
            let _ = remove_if_same(path, id);
        }
        return Err(BindError::new(Listen, os(e)));
    }
    Ok(BoundListener {
        listener: fd.into(),
        file,
    })
}

fn listen_private(
    path: &Path,
    mode: u32,
    opts: &ListenOptions,
) -> Result<BoundListener, BindError> {
    use ListenStage::*;
    let fd = new_stream_socket().map_err(|e| BindError::new(Socket, e))?;
    let dir = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => Path::new("/"),
    };
    let tmp = PrivateDir::create(dir).map_err(|e| BindError::new(Bind, e))?;
    let sock = tmp.path.join("s");
    let sa = SocketAddrUnix::new(&sock).map_err(|e| BindError::new(Bind, os(e)))?;
    rustix::net::bind(&fd, &sa).map_err(|e| BindError::new(Bind, os(e)))?;
    // Only we can reach into the private directory, so this is our file;
    // `place` keeps its inode.
    let file = SocketFileId::of(&sock).map_err(|e| BindError::new(Bind, e))?;
    rustix::net::listen(&fd, opts.backlog).map_err(|e| BindError::new(Listen, os(e)))?;
    fs::set_permissions(&sock, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| BindError::new(Permissions, e))?;
    match place(&sock, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if !opts.reclaim_stale {
                return Err(BindError::in_use());
            }
            reclaim_stale(path)?;
            match place(&sock, path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(BindError::in_use())
                }
                Err(e) => return Err(BindError::new(Rename, e)),
            }
        }
        Err(e) => return Err(BindError::new(Rename, e)),
    }
    drop(tmp);
    Ok(BoundListener {
        listener: fd.into(),
        file,
    })
}

/// Moves `src` to `dst` without ever replacing `dst` (`EEXIST` if taken):
/// `link` + `unlink`, or an exclusive rename where hard links are refused.
fn place(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => {
            let _ = fs::remove_file(src);
            Ok(())
        }
        Err(e) if is_errno(&e, Errno::PERM) || is_errno(&e, Errno::OPNOTSUPP) => {
            rename_noreplace(src, dst).map_err(|e2| {
                if is_errno(&e2, Errno::INVAL) || is_errno(&e2, Errno::NOSYS) {
                    e
                } else {
                    e2
                }
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn rename_noreplace(src: &Path, dst: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, src, CWD, dst, RenameFlags::NOREPLACE).map_err(os)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn rename_noreplace(_src: &Path, _dst: &Path) -> io::Result<()> {
    Err(os(Errno::NOSYS))
}

/// Removes the socket at `path` if the core's stale-socket rule allows it
/// (only a socket, only after a refused probe); any other case is an error
/// and leaves the file alone. `Ok` means "retry the bind".
fn reclaim_stale(path: &Path) -> Result<(), BindError> {
    use localsock_core::{reclaim_decision, ExistingPath, ProbeOutcome, ReclaimDecision};
    use ListenStage::*;
    let existing = match is_socket_file(path) {
        Ok(None) => ExistingPath::Missing,
        Ok(Some(true)) => ExistingPath::Socket,
        Ok(Some(false)) => ExistingPath::Other,
        Err(e) => return Err(BindError::new(Bind, e)),
    };
    let probe = if existing == ExistingPath::Socket {
        match connect(&SocketAddress::Path(path)) {
            Ok(_) => ProbeOutcome::Live,
            Err(e) if is_errno(&e, Errno::CONNREFUSED) => ProbeOutcome::Refused,
            Err(e) if is_errno(&e, Errno::AGAIN) => ProbeOutcome::Live,
            Err(e) if is_errno(&e, Errno::NOENT) => return Ok(()),
            Err(e) => return Err(BindError::new(Probe, e)),
        }
    } else {
        ProbeOutcome::Inconclusive
    };
    match reclaim_decision(true, existing, probe) {
        ReclaimDecision::Retry => Ok(()),
        ReclaimDecision::AddressInUse => Err(BindError::in_use()),
        ReclaimDecision::Reclaim => match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BindError::new(Bind, e)),
        },
    }
}

/// A mode-0700 directory with a random name; removed (with its socket
/// file, if still there) on drop.
#[derive(Debug)]
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn create(parent: &Path) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut last = os(Errno::EXIST);
        for _ in 0..64 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            h.write_u32(std::process::id());
            let mut r = h.finish();
            let mut name = [b'.'; 7];
            for b in &mut name[1..] {
                *b = ALPHABET[(r % ALPHABET.len() as u64) as usize];
                r /= ALPHABET.len() as u64;
            }
            let path = parent.join(OsStr::from_bytes(&name));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    let dir = Self { path };
                    // A strict umask may have removed our own bits.
                    fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o700))?;
                    return Ok(dir);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.path.join("s"));
        let _ = fs::remove_dir(&self.path);
    }
}

/// Accepts one pending connection (close-on-exec, non-blocking), or
/// `Ok(None)` if none is pending. `EINTR` and `ECONNABORTED` are retried.
pub fn accept(l: &UnixListener) -> io::Result<Option<UnixStream>> {
    accept_with(l, accept_raw)
}

/// As [`accept`], but the new stream is in blocking mode where
/// [`use_blocking_waits`] would have switched it (not on Apple platforms),
/// saving that system call. Returns the stream and whether it is in
/// blocking mode. The listener itself is never waited on here.
pub fn accept_for_blocking_waits(l: &UnixListener) -> io::Result<Option<(UnixStream, bool)>> {
    #[cfg(not(target_vendor = "apple"))]
    {
        let accept_blocking =
            |l: BorrowedFd<'_>| rustix::net::accept_with(l, rustix::net::SocketFlags::CLOEXEC);
        Ok(accept_with(l, accept_blocking)?.map(|s| (s, true)))
    }
    #[cfg(target_vendor = "apple")]
    {
        Ok(accept(l)?.map(|s| (s, false)))
    }
}

fn accept_with(
    l: &UnixListener,
    raw: impl Fn(BorrowedFd<'_>) -> Result<OwnedFd, Errno>,
) -> io::Result<Option<UnixStream>> {
    loop {
        match raw(l.as_fd()) {
            Ok(fd) => return Ok(Some(fd.into())),
            Err(Errno::AGAIN) => return Ok(None),
            #[allow(unreachable_patterns)] // EWOULDBLOCK == EAGAIN on most targets
            Err(Errno::WOULDBLOCK) => return Ok(None),
            Err(Errno::INTR | Errno::CONNABORTED) => continue,
            Err(e) => return Err(os(e)),
        }
    }
}

/// Deletes the file at `path`, whatever its type (Qt's `removeServer`); a
/// missing file is success.
pub fn remove_socket_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Removes the file at `path` only if it is still the one `id` names (the
/// socket file a listener created, see [`BoundListener::file`]): a server
/// closing must not take away the file of a newer server that bound the
/// same path after ours was deleted. `Ok(true)` if it was removed,
/// `Ok(false)` if nothing or another file is there.
///
/// Call it before closing the listener: while the socket is open its inode
/// cannot be freed, so no newer file can carry the same numbers. The check
/// and the `unlink` are two steps; a file swapped in between them by
/// someone else is removed (Unix has no conditional `unlink`).
pub fn remove_if_same(path: &Path, id: SocketFileId) -> io::Result<bool> {
    if SocketFileId::of(path)? != Some(id) {
        return Ok(false);
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// `lstat`s `path` without following symlinks: `Some(true)` for a socket,
/// `Some(false)` for anything else, `None` if nothing is there.
pub fn is_socket_file(path: &Path) -> io::Result<Option<bool>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m.file_type().is_socket())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------
// Addresses and credentials

/// `getsockname`.
pub fn local_address(fd: BorrowedFd<'_>) -> io::Result<OwnedAddress> {
    Ok(owned_address(Some(
        rustix::net::getsockname(fd).map_err(os)?,
    )))
}

/// `getpeername`.
pub fn peer_address(fd: BorrowedFd<'_>) -> io::Result<OwnedAddress> {
    Ok(owned_address(rustix::net::getpeername(fd).map_err(os)?))
}

/// Size of `sun_family` (plus `sun_len` on BSDs): an address no longer than
/// this is unnamed.
const SUN_PATH_OFFSET: usize = 2;

fn owned_address(addr: Option<SocketAddrAny>) -> OwnedAddress {
    // rustix turns an unnamed address into an empty abstract name, so
    // check the length first.
    let named = addr.filter(|a| a.addr_len() as usize > SUN_PATH_OFFSET);
    let Some(unix) = named.and_then(|a| SocketAddrUnix::try_from(a).ok()) else {
        return OwnedAddress::Unnamed;
    };
    if let Some(bytes) = unix.path_bytes() {
        let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        if end > 0 {
            return OwnedAddress::Path(PathBuf::from(OsStr::from_bytes(&bytes[..end])));
        }
    }
    abstract_name(&unix).map_or(OwnedAddress::Unnamed, OwnedAddress::Abstract)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_name(a: &SocketAddrUnix) -> Option<Vec<u8>> {
    a.abstract_name().map(<[u8]>::to_vec)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_name(_a: &SocketAddrUnix) -> Option<Vec<u8>> {
    None
}

/// Who is on the other end, as the kernel recorded it at connect time: the
/// core's [`PeerCredentials`], with the uid and gid always set on Unix.
pub use localsock_core::PeerCredentials;

/// `SO_PEERCRED`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    let c = rustix::net::sockopt::socket_peercred(fd).map_err(os)?;
    Ok(PeerCredentials {
        pid: u32::try_from(c.pid.as_raw_nonzero().get()).ok(),
        uid: Some(c.uid.as_raw()),
        gid: Some(c.gid.as_raw()),
    })
}

/// `getpeereid` (rustix lacks it); no pid.
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
pub fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    use std::os::fd::AsRawFd;
    extern "C" {
        // uid_t and gid_t are u32 on all of these targets.
        fn getpeereid(s: std::ffi::c_int, euid: *mut u32, egid: *mut u32) -> std::ffi::c_int;
    }
    let (mut uid, mut gid) = (0u32, 0u32);
    // SAFETY: `fd` is a valid open descriptor for the call's duration and the
    // two pointers are to live, writable u32 locals.
    let rc = unsafe { getpeereid(fd.as_raw_fd(), &mut uid, &mut gid) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(PeerCredentials {
        pid: None,
        uid: Some(uid),
        gid: Some(gid),
    })
}

/// Not available on this platform.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
pub fn peer_credentials(_fd: BorrowedFd<'_>) -> io::Result<PeerCredentials> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

// ---------------------------------------------------------------------------
// Glue shared by the runtimes: a core `ListenPlan` in, a core error out

/// The platform address of a core [`Address`](localsock_core::Address)
/// (a pipe name is treated as a path; it never occurs on Unix).
pub fn socket_address(address: &localsock_core::Address) -> SocketAddress<'_> {
    use localsock_core::Address;
    match address {
        Address::Abstract(name) => SocketAddress::Abstract(name.as_bytes()),
        Address::Path(p) | Address::Pipe(p) => SocketAddress::Path(Path::new(&**p)),
    }
}

/// Creates the listener a core [`ListenPlan`](localsock_core::ListenPlan)
/// describes (mode bits applied race-free, a stale socket reclaimed only
/// after a refused probe, the socket file's identity recorded for
/// [`remove_if_same`]) and maps a failure through the core's listen
/// table. Every runtime binds through this one function, so they cannot
/// drift apart.
pub fn listen_plan(
    plan: &localsock_core::ListenPlan,
) -> Result<BoundListener, localsock_core::ListenError> {
    use localsock_core::OsError;
    let opts = ListenOptions {
        mode: plan.unix_mode,
        backlog: plan.backlog.min(i32::MAX as u32) as i32,
        reclaim_stale: plan.reclaim_stale_socket,
    };
    listen(&socket_address(&plan.address), &opts)
        .map_err(|e| localsock_core::ListenError::from_os_at(e.stage, OsError::from_io(&e.error)))
}

// ---------------------------------------------------------------------------
// The runtimes' shared I/O paths

/// Most slices handed to one `sendmsg`.
pub const MAX_IOV: usize = 64;

/// Sends one buffer with `send(MSG_NOSIGNAL | MSG_DONTWAIT)`: cheaper than a one-slice
/// `sendmsg` (no `msghdr` or iovec to copy in). A closed peer yields
/// `EPIPE`, never `SIGPIPE`; `EINTR` is retried.
#[cfg(not(target_vendor = "apple"))]
pub fn send(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    use rustix::net::SendFlags;
    loop {
        match rustix::net::send(fd, data, SendFlags::NOSIGNAL | SendFlags::DONTWAIT) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(os),
        }
    }
}

/// Apple has no `MSG_NOSIGNAL`; our sockets carry `SO_NOSIGPIPE`.
#[cfg(target_vendor = "apple")]
pub fn send(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    send_vectored(fd, &[IoSlice::new(data)])
}

/// Sends up to [`MAX_IOV`] chunks in one system call: `send` for one,
/// `sendmsg` for more. Never raises `SIGPIPE`.
pub fn send_chunks<'a>(
    fd: BorrowedFd<'_>,
    chunks: impl Iterator<Item = &'a [u8]>,
) -> io::Result<usize> {
    let mut chunks = chunks.take(MAX_IOV);
    let Some(first) = chunks.next() else {
        return Ok(0);
    };
    let Some(second) = chunks.next() else {
        return send(fd, first);
    };
    let mut slices = [IoSlice::new(&[]); MAX_IOV];
    slices[0] = IoSlice::new(first);
    slices[1] = IoSlice::new(second);
    let mut n = 2;
    for chunk in chunks {
        slices[n] = IoSlice::new(chunk);
        n += 1;
    }
    send_vectored(fd, &slices[..n])
}

/// Sends `data`, waiting inside `send` for room if the descriptor is in
/// blocking mode (see [`use_blocking_waits`]), for at most the descriptor's
/// send timeout ([`set_send_timeout`]): then `WouldBlock` if nothing was
/// sent, or the count sent so far. Never raises `SIGPIPE`; `EINTR` is
/// retried.
#[cfg(not(target_vendor = "apple"))]
pub fn send_wait(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    use rustix::net::SendFlags;
    loop {
        match rustix::net::send(fd, data, SendFlags::NOSIGNAL) {
            Err(Errno::INTR) => continue,
            r => return r.map_err(os),
        }
    }
}

/// Apple: the stream stays non-blocking (see [`use_blocking_waits`]), so
/// this never waits.
#[cfg(target_vendor = "apple")]
pub fn send_wait(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    send(fd, data)
}

/// Bounds how long [`send_wait`] may wait for room (`SO_SNDTIMEO`). The
/// other sends of this module pass `MSG_DONTWAIT` and never wait.
pub fn set_send_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
    rustix::net::sockopt::set_socket_timeout(fd, rustix::net::sockopt::Timeout::Send, Some(timeout))
        .map_err(os)
}

/// Reads into `out` without blocking, whatever the descriptor's mode.
/// `EINTR` is retried.
pub fn recv_nowait(fd: BorrowedFd<'_>, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *out, rustix::net::RecvFlags::DONTWAIT) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os(e)),
        }
    }
}

/// Reads into `out`, waiting inside `recv` if the descriptor is in
/// blocking mode (see [`use_blocking_waits`]). `EINTR` is retried.
pub fn recv_wait(fd: BorrowedFd<'_>, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match rustix::net::recv(fd, &mut *out, rustix::net::RecvFlags::empty()) {
            Ok((n, _)) => return Ok(n),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os(e)),
        }
    }
}

/// Puts a connected stream in blocking mode, so a thread that only waits
/// for data can wait inside one `recv` (as `std` does) instead of `poll`
/// plus `recv`. Every other call of this module passes `MSG_DONTWAIT` and
/// stays non-blocking. Returns whether the switch was made: on Apple
/// platforms, whose writes cannot pass `MSG_DONTWAIT`, it is not.
#[cfg(not(target_vendor = "apple"))]
pub fn use_blocking_waits(fd: BorrowedFd<'_>) -> io::Result<bool> {
    rustix::io::ioctl_fionbio(fd, false).map_err(os)?;
    Ok(true)
}

/// Apple: the stream stays non-blocking (see the other platforms' doc).
#[cfg(target_vendor = "apple")]
pub fn use_blocking_waits(_fd: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(false)
}

/// Reads straight into the spare capacity of `buf` (the core's read
/// buffer, `Connection::recv_buf`) and advances it: the only copy is the
/// kernel's. Returns the count; 0 is end of stream. `EINTR` is retried.
pub fn recv_into(fd: BorrowedFd<'_>, buf: &mut impl bytes::BufMut) -> io::Result<usize> {
    if buf.remaining_mut() == 0 {
        // No room is not end of stream.
        return Err(io::ErrorKind::WouldBlock.into());
    }
    let chunk = buf.chunk_mut();
    // SAFETY: `recv` only writes into the slice (it never reads it or
    // de-initialises it), so viewing the spare capacity as `MaybeUninit<u8>`
    // is sound.
    let spare = unsafe { chunk.as_uninit_slice_mut() };
    let n = loop {
        match rustix::net::recv(fd, &mut *spare, rustix::net::RecvFlags::DONTWAIT) {
            Ok(((filled, _), _)) => break filled.len(),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os(e)),
        }
    };
    // SAFETY: `recv` initialised exactly the first `n` bytes of the spare
    // capacity it was given, and `n` is at most its length.
    unsafe { buf.advance_mut(n) };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    static N: AtomicU64 = AtomicU64::new(0);

    /// A per-test directory, removed on drop.
    struct TestDir(PathBuf);

    impl TestDir {
        fn new() -> Self {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("lsk-sys-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir(&p).unwrap();
            Self(p)
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
        fn entries(&self) -> Vec<String> {
            let mut v: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn errno_of(e: &io::Error) -> Errno {
        Errno::from_raw_os_error(e.raw_os_error().expect("raw OS error"))
    }

    fn opts(mode: Option<u32>, reclaim_stale: bool) -> ListenOptions {
        ListenOptions {
            mode,
            backlog: 16,
            reclaim_stale,
        }
    }

    fn connected(addr: SocketAddress<'_>) -> UnixStream {
        match connect(&addr).unwrap() {
            Connecting::Connected(s) => s,
            Connecting::InProgress(s) => {
                poll(s.as_fd(), false, true, None).unwrap();
                finish_connect(&s).unwrap();
                s
            }
        }
    }

    fn stale_socket(path: &Path) {
        drop(
            listen(&SocketAddress::Path(path), &opts(None, false))
                .unwrap()
                .listener,
        );
        assert_eq!(is_socket_file(path).unwrap(), Some(true));
    }

    fn accept_one(l: &UnixListener) -> UnixStream {
        poll(l.as_fd(), true, false, None).unwrap();
        accept(l).unwrap().expect("pending connection")
    }

    fn mode_of(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn connect_missing_and_stale() {
        let d = TestDir::new();
        let p = d.path("s");
        let e = connect(&SocketAddress::Path(&p)).unwrap_err();
        assert_eq!(errno_of(&e), Errno::NOENT);
        stale_socket(&p);
        let e = connect(&SocketAddress::Path(&p)).unwrap_err();
        assert_eq!(errno_of(&e), Errno::CONNREFUSED);
    }

    #[test]
    fn listen_with_mode_is_exact_and_leaves_no_temp_dir() {
        for mode in [0o700, 0o777, 0o770] {
            let d = TestDir::new();
            let p = d.path("srv");
            let l = listen(&SocketAddress::Path(&p), &opts(Some(mode), false))
                .unwrap()
                .listener;
            assert_eq!(mode_of(&p), mode);
            assert_eq!(is_socket_file(&p).unwrap(), Some(true));
            assert_eq!(d.entries(), vec!["srv".to_string()]);
            let _c = connected(SocketAddress::Path(&p));
            let _s = accept_one(&l);
        }
    }

    #[test]
    fn stale_socket_reclaimed_with_and_without_mode() {
        for mode in [None, Some(0o700)] {
            let d = TestDir::new();
            let p = d.path("srv");
            stale_socket(&p);
            let l = listen(&SocketAddress::Path(&p), &opts(mode, true))
                .unwrap()
                .listener;
            let _c = connected(SocketAddress::Path(&p));
            let _s = accept_one(&l);
            assert_eq!(d.entries(), vec!["srv".to_string()]);
        }
    }

    #[test]
    fn stale_socket_not_reclaimed_when_disabled() {
        for mode in [None, Some(0o700)] {
            let d = TestDir::new();
            let p = d.path("srv");
            stale_socket(&p);
            let e = listen(&SocketAddress::Path(&p), &opts(mode, false)).unwrap_err();
            assert_eq!(e.stage, ListenStage::Bind);
            assert_eq!(errno_of(&e.error), Errno::ADDRINUSE);
            assert_eq!(is_socket_file(&p).unwrap(), Some(true));
            assert_eq!(d.entries(), vec!["srv".to_string()]);
        }
    }

    #[test]
    fn live_server_never_reclaimed() {
        for mode in [None, Some(0o700)] {
            let d = TestDir::new();
            let p = d.path("srv");
            let l = listen(&SocketAddress::Path(&p), &opts(None, false))
                .unwrap()
                .listener;
            let e = listen(&SocketAddress::Path(&p), &opts(mode, true)).unwrap_err();
            assert_eq!(e.stage, ListenStage::Bind);
            assert_eq!(errno_of(&e.error), Errno::ADDRINUSE);
            let _c = connected(SocketAddress::Path(&p));
            let _s = accept_one(&l);
            assert_eq!(d.entries(), vec!["srv".to_string()]);
        }
    }

    #[test]
    fn non_sockets_never_removed() {
        for mode in [None, Some(0o700)] {
            let d = TestDir::new();
            let file = d.path("file");
            fs::write(&file, b"keep").unwrap();
            let dir = d.path("dir");
            fs::create_dir(&dir).unwrap();
            let target = d.path("stale");
            stale_socket(&target);
            let link = d.path("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            for p in [&file, &dir, &link] {
                let e = listen(&SocketAddress::Path(p), &opts(mode, true)).unwrap_err();
                assert_eq!(e.stage, ListenStage::Bind, "{p:?}");
                assert_eq!(errno_of(&e.error), Errno::ADDRINUSE, "{p:?}");
            }
            assert_eq!(fs::read(&file).unwrap(), b"keep");
            assert!(fs::symlink_metadata(&dir).unwrap().is_dir());
            assert!(fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(is_socket_file(&target).unwrap(), Some(true));
            assert_eq!(d.entries(), ["dir", "file", "link", "stale"]);
        }
    }

    #[test]
    fn closing_removes_only_our_own_file() {
        for mode in [None, Some(0o700)] {
            let d = TestDir::new();
            let p = d.path("srv");
            let ours = listen(&SocketAddress::Path(&p), &opts(mode, false)).unwrap();
            let id = ours.file.expect("a path has a file");
            assert_eq!(
                SocketFileId::of(&p).unwrap(),
                Some(id),
                "link keeps the inode"
            );
            // A cleaner deletes our file; a newer server takes the path.
            fs::remove_file(&p).unwrap();
            assert!(!remove_if_same(&p, id).unwrap(), "nothing there");
            let newer = listen(&SocketAddress::Path(&p), &opts(mode, false)).unwrap();
            assert_ne!(newer.file, Some(id));
            assert!(!remove_if_same(&p, id).unwrap(), "not ours");
            drop(ours);
            let _c = connected(SocketAddress::Path(&p));
            let _s = accept_one(&newer.listener);
            assert!(remove_if_same(&p, newer.file.unwrap()).unwrap());
            assert_eq!(d.entries(), Vec::<String>::new());
        }
    }

    #[test]
    fn remove_and_probe_files() {
        let d = TestDir::new();
        let p = d.path("x");
        assert_eq!(is_socket_file(&p).unwrap(), None);
        remove_socket_file(&p).unwrap();
        fs::write(&p, b"").unwrap();
        assert_eq!(is_socket_file(&p).unwrap(), Some(false));
        remove_socket_file(&p).unwrap();
        assert_eq!(is_socket_file(&p).unwrap(), None);
    }

    #[test]
    fn accept_send_recv_addresses() {
        let d = TestDir::new();
        let p = d.path("srv");
        let l = listen(&SocketAddress::Path(&p), &opts(None, false))
            .unwrap()
            .listener;
        assert!(accept(&l).unwrap().is_none());
        assert_eq!(
            local_address(l.as_fd()).unwrap(),
            OwnedAddress::Path(p.clone())
        );
        let c = connected(SocketAddress::Path(&p));
        let s = accept_one(&l);
        assert_eq!(
            peer_address(c.as_fd()).unwrap(),
            OwnedAddress::Path(p.clone())
        );
        assert_eq!(peer_address(s.as_fd()).unwrap(), OwnedAddress::Unnamed);
        assert_eq!(
            local_address(s.as_fd()).unwrap(),
            OwnedAddress::Path(p.clone())
        );

        let idle = poll(s.as_fd(), true, false, Some(Duration::ZERO)).unwrap();
        assert!(!idle.readable && !idle.hangup && !idle.error);

        let n = send_vectored(c.as_fd(), &[IoSlice::new(b"hel"), IoSlice::new(b"lo")]).unwrap();
        assert_eq!(n, 5);
        let r = poll(s.as_fd(), true, true, None).unwrap();
        assert!(r.readable && r.writable);
        let mut buf = [MaybeUninit::<u8>::uninit(); 16];
        assert_eq!(recv_uninit(s.as_fd(), &mut buf).unwrap(), b"hello");

        // Half-close: the peer sees EOF.
        shutdown_write(c.as_fd()).unwrap();
        let r = poll(s.as_fd(), true, false, None).unwrap();
        assert!(r.readable);
        assert!(recv_uninit(s.as_fd(), &mut buf).unwrap().is_empty());
        // Nothing pending: EAGAIN.
        let e = recv_uninit(c.as_fd(), &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn write_to_closed_peer_is_epipe_not_sigpipe() {
        let d = TestDir::new();
        let p = d.path("srv");
        let l = listen(&SocketAddress::Path(&p), &opts(None, false))
            .unwrap()
            .listener;
        let c = connected(SocketAddress::Path(&p));
        drop(accept_one(&l));
        let mut seen = None;
        for _ in 0..1000 {
            match send_vectored(c.as_fd(), &[IoSlice::new(b"x")]) {
                Ok(_) => continue,
                Err(e) => {
                    seen = Some(errno_of(&e));
                    break;
                }
            }
        }
        assert_eq!(seen, Some(Errno::PIPE));
        let r = poll(c.as_fd(), true, false, Some(Duration::ZERO)).unwrap();
        assert!(r.hangup || r.readable);
    }

    #[test]
    fn peer_credentials_are_ours() {
        let d = TestDir::new();
        let p = d.path("srv");
        let l = listen(&SocketAddress::Path(&p), &opts(None, false))
            .unwrap()
            .listener;
        let c = connected(SocketAddress::Path(&p));
        let s = accept_one(&l);
        for fd in [c.as_fd(), s.as_fd()] {
            let cred = peer_credentials(fd).unwrap();
            assert_eq!(cred.uid, Some(rustix::process::geteuid().as_raw()));
            assert_eq!(cred.gid, Some(rustix::process::getegid().as_raw()));
            if let Some(pid) = cred.pid {
                assert_eq!(pid, std::process::id());
            }
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn full_backlog_gives_eagain() {
        let d = TestDir::new();
        let p = d.path("srv");
        let _l = listen(
            &SocketAddress::Path(&p),
            &ListenOptions {
                backlog: 1,
                ..opts(None, false)
            },
        )
        .unwrap();
        let mut held = Vec::new();
        let mut saw_eagain = false;
        for _ in 0..1000 {
            match connect(&SocketAddress::Path(&p)) {
                Ok(c) => held.push(c),
                Err(e) => {
                    assert_eq!(errno_of(&e), Errno::AGAIN);
                    saw_eagain = true;
                    break;
                }
            }
        }
        assert!(saw_eagain);
        assert!(!held.is_empty());
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn abstract_names() {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("lsk-sys-{}-{n}", std::process::id()).into_bytes();
        let mut name0 = name.clone();
        name0.push(0);
        let a = SocketAddress::Abstract(&name);
        let a0 = SocketAddress::Abstract(&name0);
        let bound = listen(&a, &opts(Some(0o700), true)).unwrap();
        assert_eq!(bound.file, None, "no file to remove");
        let l = bound.listener;
        let l0 = listen(&a0, &opts(None, false)).unwrap().listener;
        let e = listen(&a, &opts(None, true)).unwrap_err();
        assert_eq!(
            (e.stage, errno_of(&e.error)),
            (ListenStage::Bind, Errno::ADDRINUSE)
        );
        assert_eq!(
            local_address(l.as_fd()).unwrap(),
            OwnedAddress::Abstract(name.clone())
        );
        assert_eq!(
            local_address(l0.as_fd()).unwrap(),
            OwnedAddress::Abstract(name0.clone())
        );

        let c = connected(a);
        assert_eq!(
            peer_address(c.as_fd()).unwrap(),
            OwnedAddress::Abstract(name.clone())
        );
        let _s = accept_one(&l);
        assert!(accept(&l0).unwrap().is_none());
        let _c0 = connected(a0);
        let _s0 = accept_one(&l0);
        assert!(accept(&l).unwrap().is_none());
        drop((l, l0));
        let e = connect(&a).unwrap_err();
        assert_eq!(errno_of(&e), Errno::CONNREFUSED);
    }
}
