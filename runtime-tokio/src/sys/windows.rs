//! Windows: named pipes through `tokio::net::windows::named_pipe`
//! ([`NamedPipeServer`] / [`NamedPipeClient`]), with the same method set as
//! `sys::unix`.
//!
//! # Creation and registration
//! Pipe handles are created here with `CreateNamedPipeW` / `CreateFileW`,
//! with the flags tokio's `ServerOptions` / `ClientOptions` would use, and
//! handed to tokio (`from_raw_handle`) by the first poll inside a runtime.
//! tokio's own `create` / `open` register the handle with the current
//! runtime at once (and panic outside one), and a handle's association with
//! a completion port is permanent; creating the handle first keeps the
//! crate's promise that `listen`, `connect_to_server` and
//! `next_pending_connection` work outside a runtime and that a pipe belongs
//! to the runtime that first polls it, as on Unix.
//!
//! # Server instances
//! A [`Listener`] keeps `ListenPlan::pipe_instances` instances (default 50,
//! Qt's backlog) open for clients: the first with
//! `FILE_FLAG_FIRST_PIPE_INSTANCE`, all with `PIPE_REJECT_REMOTE_CLIENTS`
//! and the security descriptor of the server's access options. A client can
//! connect to a freshly created instance before `ConnectNamedPipe` runs, so
//! a burst of clients before the first accept is held without a runtime.
//! Polled in a runtime, each instance waits in `NamedPipeServer::connect`;
//! a connected one is replaced by a fresh instance *before* it is handed
//! off. A client that connected and left before the accept
//! (`ERROR_NO_DATA`, "dead on arrival") is handed off like any other and
//! reads end of stream at once, as an accepted Unix socket whose client has
//! gone does; an instance whose connect fails is dropped and replaced. So
//! neither wedges the server.
//!
//! # Connecting
//! `CreateFileW` never blocks. All instances busy is `ERROR_PIPE_BUSY`
//! (231), returned as it is: the core's retry policy schedules the next
//! attempt (`poll_timeout`, slept on with `tokio::time`) until the connect
//! timeout. No `WaitNamedPipe`, so no runtime thread ever blocks. Client
//! handles always open for reading and writing: the core enforces the open
//! mode, and a write-only socket must still read to notice the peer closing.
//!
//! # I/O and closing
//! tokio (through mio) keeps one read in flight into its own buffer and
//! copies each write into its own buffer before `WriteFile`. Reads go into
//! the core's buffer with `try_read_buf`; writes hand tokio at most
//! [`MAX_WRITE_CHUNK`](sys::MAX_WRITE_CHUNK) bytes at a time, so a large
//! queue stays in the core (Qt's `bytesToWrite`) instead of vanishing into
//! tokio at once. A write tokio has taken is finished even if the pipe is
//! dropped meanwhile, so a graceful disconnect delivers everything.
//!
//! A dropped pipe's handle is closed by the runtime's driver, once it has
//! collected the completion of the cancelled read (mio keeps the handle
//! alive while the kernel owns one of its buffers): the peer sees the end
//! of the stream at the driver's next turn, not at the drop. A
//! current-thread runtime that nobody drives delays that.
//!
//! Wine 8 (tests only): with a current-thread runtime driven from one
//! thread after another, a read's completion was occasionally collected
//! before Wine had written its status, and mio reported the read as failed
//! with `ERROR_IO_INCOMPLETE` (996). Windows writes the status before it
//! queues the completion; the conformance harness drives its current-thread
//! runtime from one thread (see `tests/src/rt_tokio.rs`).

use std::ffi::c_void;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::os::windows::io::{AsRawHandle, FromRawHandle, IntoRawHandle, OwnedHandle, RawHandle};
use std::pin::Pin;
use std::ptr;
use std::sync::{Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use localsock_core::{
    Address, Connection, ListenError, ListenPlan, ListenStage, OsError, PeerCredentials,
};
use localsock_os::windows as sys;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::windows::named_pipe::{NamedPipeClient, NamedPipeServer};
use windows_sys::Win32::Foundation::{GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, OPEN_EXISTING,
    PIPE_ACCESS_DUPLEX, SECURITY_IDENTIFICATION, SECURITY_SQOS_PRESENT,
};
use windows_sys::Win32::System::Pipes::{
    CreateNamedPipeW, GetNamedPipeClientProcessId, GetNamedPipeServerProcessId, PIPE_READMODE_BYTE,
    PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};

/// At most this many slices go into one vectored write.
const MAX_SLICES: usize = 64;

/// How many times one poll of a listener refills instances that failed.
const REFILL_PASSES: usize = 4;

/// Outcome of starting a connect.
pub(crate) enum Connect {
    /// Connected at once: opening a pipe either succeeds or fails.
    Done(Stream),
    /// Never on Windows (kept so the driver has one shape on every platform).
    #[allow(dead_code)]
    InProgress(Stream),
}

fn no_reactor() -> io::Error {
    io::Error::other("localsock-tokio: polled outside a tokio runtime")
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// `name` as a NUL-terminated UTF-16 string; a NUL inside is an error.
fn wide(name: &str) -> io::Result<Vec<u16>> {
    if name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pipe name contains a NUL character",
        ));
    }
    Ok(sys::full_pipe_name_to_wide(name))
}

/// Takes ownership of a handle a Win32 call just returned.
fn owned(h: *mut c_void) -> io::Result<OwnedHandle> {
    if h == INVALID_HANDLE_VALUE || h.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `h` is a valid handle fresh from CreateNamedPipeW/CreateFileW,
    // owned by nobody else.
    Ok(unsafe { OwnedHandle::from_raw_handle(h) })
}

fn register_client(h: OwnedHandle) -> io::Result<NamedPipeClient> {
    // SAFETY: `h` is an open client pipe handle (CreateFileW with
    // FILE_FLAG_OVERLAPPED) that we own; ownership passes to tokio, which
    // closes it (also when registration fails).
    unsafe { NamedPipeClient::from_raw_handle(h.into_raw_handle()) }
}

fn register_server(h: OwnedHandle) -> io::Result<NamedPipeServer> {
    // SAFETY: `h` is an open pipe server instance (CreateNamedPipeW with
    // FILE_FLAG_OVERLAPPED) that we own; ownership passes to tokio, which
    // closes it (also when registration fails).
    unsafe { NamedPipeServer::from_raw_handle(h.into_raw_handle()) }
}

/// The slices of `chunks` that one write hands tokio: at most
/// [`MAX_SLICES`] slices and [`sys::MAX_WRITE_CHUNK`] bytes.
fn capped<'a>(
    chunks: impl Iterator<Item = &'a [u8]>,
    out: &mut [IoSlice<'a>; MAX_SLICES],
) -> usize {
    let (mut n, mut total) = (0, 0);
    for c in chunks {
        if n == MAX_SLICES || total == sys::MAX_WRITE_CHUNK {
            break;
        }
        if c.is_empty() {
            continue;
        }
        let take = c.len().min(sys::MAX_WRITE_CHUNK - total);
        out[n] = IoSlice::new(&c[..take]);
        n += 1;
        total += take;
    }
    n
}

/// The two ends' identical non-blocking writes, for [`write_slices`].
trait TryWrite {
    fn try_write(&self, buf: &[u8]) -> io::Result<usize>;
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
}

macro_rules! try_write_impl {
    ($t:ty) => {
        impl TryWrite for $t {
            fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
                <$t>::try_write(self, buf)
            }
            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                <$t>::try_write_vectored(self, bufs)
            }
        }
    };
}
try_write_impl!(NamedPipeClient);
try_write_impl!(NamedPipeServer);

/// One write of `slices` (tokio copies them into one buffer for one
/// `WriteFile`); `Ok(0)` if there is nothing to write.
fn write_slices(p: &impl TryWrite, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    match slices {
        [] => Ok(0),
        [one] => p.try_write(one),
        many => p.try_write_vectored(many),
    }
}

/// A connected pipe end: a client, or an accepted server instance.
#[derive(Debug)]
pub(crate) struct Stream {
    io: StreamIo,
}

#[derive(Debug)]
enum StreamIo {
    /// Open, not registered with a reactor yet.
    Raw {
        handle: OwnedHandle,
        server: bool,
    },
    /// Registered with the reactor of the runtime that first polled it.
    Client(NamedPipeClient),
    Server(NamedPipeServer),
    /// Registration failed; the handle is closed.
    Gone,
}

/// Runs `$e` with `$p` bound to the registered pipe (client or server end),
/// or evaluates `$other`.
macro_rules! with_pipe {
    ($io:expr, $p:ident => $e:expr, _ => $other:expr) => {
        match $io {
            StreamIo::Client($p) => $e,
            StreamIo::Server($p) => $e,
            _ => $other,
        }
    };
}

impl Stream {
    /// Opens the pipe (`CreateFileW`, read and write, overlapped, the
    /// server may identify but not impersonate us). All instances busy is
    /// the raw `ERROR_PIPE_BUSY`, for the core to retry.
    pub(crate) fn connect(address: &Address) -> io::Result<Connect> {
        let name = wide(address.as_str())?;
        // SAFETY: `name` is NUL-terminated and outlives the call; null
        // security attributes (default, not inheritable) and template.
        let h = unsafe {
            CreateFileW(
                name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                0,
                ptr::null(),
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                ptr::null_mut(),
            )
        };
        Ok(Connect::Done(Stream {
            io: StreamIo::Raw {
                handle: owned(h)?,
                server: false,
            },
        }))
    }

    fn raw_server(handle: OwnedHandle) -> Self {
        Stream {
            io: StreamIo::Raw {
                handle,
                server: true,
            },
        }
    }

    fn server(pipe: NamedPipeServer) -> Self {
        Stream {
            io: StreamIo::Server(pipe),
        }
    }

    /// Registers the pipe with the current runtime if it is not yet.
    fn registered(&mut self) -> io::Result<&mut StreamIo> {
        if matches!(self.io, StreamIo::Raw { .. }) {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(no_reactor());
            }
            if let StreamIo::Raw { handle, server } =
                std::mem::replace(&mut self.io, StreamIo::Gone)
            {
                self.io = if server {
                    StreamIo::Server(register_server(handle)?)
                } else {
                    StreamIo::Client(register_client(handle)?)
                };
            }
        }
        match &mut self.io {
            StreamIo::Gone => Err(io::ErrorKind::NotConnected.into()),
            io => Ok(io),
        }
    }

    /// Opening a pipe completes at once; nothing is ever in progress.
    pub(crate) fn poll_connected(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Reads once into the core's buffer (at most `read_capacity()` bytes);
    /// `Ok(0)` is end of stream. The caller checks `read_capacity() > 0`.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
    ) -> Poll<io::Result<usize>> {
        let io = self.registered()?;
        with_pipe!(io, p => loop {
            ready!(p.poll_read_ready(cx))?;
            match p.try_read_buf(&mut conn.recv_buf()) {
                Err(e) if would_block(&e) => continue,
                r => return Poll::Ready(r),
            }
        }, _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())))
    }

    /// Reads once straight into the user's buffer. Nothing spills into
    /// `_conn` (the spill of the Unix version exists for tokio's readiness
    /// on epoll); returns 0.
    pub(crate) fn poll_recv_direct(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        _conn: &mut Connection,
    ) -> Poll<io::Result<usize>> {
        let io = self.registered()?;
        with_pipe!(io, p => Pin::new(p).poll_read(cx, buf).map_ok(|()| 0),
            _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())))
    }

    /// Hands tokio the first slices of `chunks` (up to the cap), waiting
    /// for writability.
    fn poll_write_chunks<'a>(
        &mut self,
        cx: &mut Context<'_>,
        chunks: impl Iterator<Item = &'a [u8]>,
    ) -> Poll<io::Result<usize>> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = capped(chunks, &mut slices);
        let slices = &slices[..n];
        let io = self.registered()?;
        with_pipe!(io, p => loop {
            ready!(p.poll_write_ready(cx))?;
            match write_slices(p, slices) {
                Err(e) if would_block(&e) => continue,
                r => return Poll::Ready(r),
            }
        }, _ => Poll::Ready(Err(io::ErrorKind::NotConnected.into())))
    }

    /// Sends the core's queued chunks (up to a cap), waiting for writability.
    pub(crate) fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        conn: &Connection,
    ) -> Poll<io::Result<usize>> {
        self.poll_write_chunks(cx, conn.transmit_chunks())
    }

    /// Sends the user's slices directly (up to a cap), waiting for
    /// writability.
    pub(crate) fn poll_send_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_chunks(cx, bufs.iter().map(|b| &**b))
    }

    /// Sends the core's queued chunks now, without a waker. tokio accepts a
    /// write only once its reactor has seen the pipe writable, so
    /// `optimistic` cannot apply: a pipe not yet registered, or whose
    /// writability the reactor has not reported yet, takes nothing
    /// (`WouldBlock`) and the next poll sends.
    pub(crate) fn try_send(&self, conn: &Connection, _optimistic: bool) -> io::Result<usize> {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = capped(conn.transmit_chunks(), &mut slices);
        with_pipe!(&self.io, p => write_slices(p, &slices[..n]), _ => match self.io {
            StreamIo::Raw { .. } => Err(io::ErrorKind::WouldBlock.into()),
            _ => Err(io::ErrorKind::NotConnected.into()),
        })
    }

    /// Pipes have no half-close: the core takes a pipe's end of stream
    /// for the peer gone, so there is nothing to probe.
    pub(crate) fn hung_up(&self) -> bool {
        false
    }

    /// Never asked for on Windows (the core watches for a hang-up only
    /// after a half-close, which pipes cannot do); reports one at once.
    pub(crate) fn poll_hangup(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Reads once into the core's buffer now, without a waker: what the
    /// runtime has already read from the pipe, else `WouldBlock` (also
    /// for a pipe not registered yet).
    pub(crate) fn try_recv(&self, conn: &mut Connection) -> io::Result<usize> {
        with_pipe!(&self.io, p => p.try_read_buf(&mut conn.recv_buf()), _ => match self.io {
            StreamIo::Raw { .. } => Err(io::ErrorKind::WouldBlock.into()),
            _ => Err(io::ErrorKind::NotConnected.into()),
        })
    }

    /// For a drop: hands the pipe what it takes now, never waiting. A
    /// registered pipe writes through tokio (mio finishes a write it has
    /// taken even after the pipe is dropped, and frees its buffer only
    /// then); one no runtime has polled writes with one overlapped
    /// `WriteFile` of its own (see [`write_unregistered`]).
    pub(crate) fn send_without_waiting(&self, conn: &Connection) -> io::Result<usize> {
        match &self.io {
            StreamIo::Raw { handle, .. } => {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                let n = capped(conn.transmit_chunks(), &mut slices);
                sys::write_unregistered(
                    std::os::windows::io::AsHandle::as_handle(handle),
                    &slices[..n],
                )
            }
            _ => self.try_send(conn, true),
        }
    }

    fn raw_handle(&self) -> io::Result<(RawHandle, bool)> {
        match &self.io {
            StreamIo::Raw { handle, server } => Ok((handle.as_raw_handle(), *server)),
            StreamIo::Client(p) => Ok((p.as_raw_handle(), false)),
            StreamIo::Server(p) => Ok((p.as_raw_handle(), true)),
            StreamIo::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// The process at the other end (`GetNamedPipeClientProcessId` on an
    /// accepted pipe, `GetNamedPipeServerProcessId` on a client); pipes
    /// carry no uid or gid.
    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        let (h, server) = self.raw_handle()?;
        let mut pid = 0u32;
        // SAFETY: `h` is a valid pipe handle borrowed from `self` for the
        // call; `pid` is a valid out-pointer.
        let ok = unsafe {
            if server {
                GetNamedPipeClientProcessId(h, &mut pid)
            } else {
                GetNamedPipeServerProcessId(h, &mut pid)
            }
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PeerCredentials {
            pid: Some(pid),
            uid: None,
            gid: None,
        })
    }

    /// Pipes have no half-close.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "named pipes cannot be half-closed",
        ))
    }
}

/// A registered instance waiting for a client: `connect`, then the
/// writability that a connect reports, so the accepted pipe's first write
/// is not refused for want of a reactor turn. Resolves to the instance.
type Arming = Pin<Box<dyn Future<Output = (NamedPipeServer, io::Result<()>)> + Send>>;

fn arm(pipe: NamedPipeServer) -> Arming {
    Box::pin(async move {
        let r = match pipe.connect().await {
            Ok(()) => pipe.writable().await,
            Err(e) => Err(e),
        };
        (pipe, r)
    })
}

/// One server instance of a listener.
enum Slot {
    /// Created, not registered: clients can connect to it already.
    Raw(OwnedHandle),
    /// Registered, waiting for a client. (The mutex only makes the
    /// listener `Sync`; it is reached through `get_mut`, never locked.)
    Arming(Mutex<Arming>),
    /// A client connected; not handed off yet.
    Connected(NamedPipeServer),
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Raw(h) => f.debug_tuple("Raw").field(h).finish(),
            Slot::Arming(_) => f.write_str("Arming"),
            Slot::Connected(p) => f.debug_tuple("Connected").field(p).finish(),
        }
    }
}

/// The server instances of one pipe name.
pub(crate) struct Listener {
    /// The full pipe name, NUL-terminated UTF-16.
    name: Vec<u16>,
    security: Option<sys::LocalSecurityDescriptor>,
    /// Instances to keep open.
    target: usize,
    slots: Vec<Slot>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field(
                "name",
                &String::from_utf16_lossy(&self.name[..self.name.len().saturating_sub(1)]),
            )
            .field("target", &self.target)
            .field("slots", &self.slots)
            .finish()
    }
}

impl Listener {
    /// Creates the plan's instances: the first with
    /// `FILE_FLAG_FIRST_PIPE_INSTANCE` (another server on the name makes it
    /// `AddressInUse`; Wine 8 does not enforce the flag), all with the
    /// access options' security descriptor.
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener, ListenError> {
        let os_err =
            |e: io::Error| ListenError::from_os_at(ListenStage::Permissions, OsError::from_io(&e));
        let security = if plan.access.is_restricted() {
            let (user, group) = sys::current_user_and_group_sids().map_err(os_err)?;
            plan.access
                .windows_sddl(&user, &group)
                .map(|sddl| sys::LocalSecurityDescriptor::from_sddl(&sddl))
                .transpose()
                .map_err(os_err)?
        } else {
            None
        };
        let mut listener = Listener {
            name: wide(plan.address.as_str()).map_err(os_err)?,
            security,
            target: plan.pipe_instances.max(1),
            slots: Vec::new(),
        };
        match listener.create(true) {
            Ok(h) => listener.slots.push(Slot::Raw(h)),
            Err(e) => {
                return Err(ListenError::from_os_at(
                    ListenStage::FirstPipeInstance,
                    OsError::from_io(&e),
                ))
            }
        }
        while listener.slots.len() < listener.target {
            let h = listener.create(false).map_err(|e| {
                ListenError::from_os_at(ListenStage::PipeInstance, OsError::from_io(&e))
            })?;
            listener.slots.push(Slot::Raw(h));
        }
        Ok(listener)
    }

    /// `CreateNamedPipeW` for one more instance: duplex, overlapped, byte
    /// mode, remote clients rejected, unlimited instances, the blocking
    /// runtime's buffer sizes and default timeout.
    fn create(&self, first: bool) -> io::Result<OwnedHandle> {
        let sa = self.security.as_ref().map(|sd| SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: sd.as_ptr(),
            bInheritHandle: 0,
        });
        let sa_ptr = sa
            .as_ref()
            .map_or(ptr::null(), |sa| sa as *const SECURITY_ATTRIBUTES);
        let open_mode = PIPE_ACCESS_DUPLEX
            | FILE_FLAG_OVERLAPPED
            | if first {
                FILE_FLAG_FIRST_PIPE_INSTANCE
            } else {
                0
            };
        // SAFETY: `name` is NUL-terminated; `sa_ptr` is null or points to
        // `sa`, whose descriptor (owned by `self`) outlives the call.
        let h = unsafe {
            CreateNamedPipeW(
                self.name.as_ptr(),
                open_mode,
                PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                PIPE_UNLIMITED_INSTANCES,
                sys::PIPE_BUFFER_SIZE,
                sys::PIPE_BUFFER_SIZE,
                sys::DEFAULT_PIPE_TIMEOUT_MS,
                sa_ptr,
            )
        };
        owned(h)
    }

    /// Opens instances until there are `target` (after failed
    /// replacements or recycled instances).
    fn top_up(&mut self, last_err: &mut Option<io::Error>) {
        while self.slots.len() < self.target {
            match self.create(false) {
                Ok(h) => self.slots.push(Slot::Raw(h)),
                Err(e) => {
                    *last_err = Some(e);
                    break;
                }
            }
        }
    }

    /// Takes one connected instance without waiting, or `Ok(None)`. A
    /// fresh instance takes its place before it is handed off. An error
    /// only when no instance is left and none can be created.
    ///
    /// Sees the connections the runtime has reported. Outside a runtime it
    /// also looks at instances never polled (so the synchronous calls work
    /// there, as on Unix); inside one those are left to
    /// [`poll_ready`](Self::poll_ready), which hands them over registered
    /// and writable, so that the accepted socket's first `flush` writes.
    /// `_optimistic` only matters on Unix (the reactor's readiness).
    pub(crate) fn try_accept(&mut self, _optimistic: bool) -> io::Result<Option<Stream>> {
        let mut last_err = None;
        self.top_up(&mut last_err);
        let outside_runtime = tokio::runtime::Handle::try_current().is_err();
        let found = self
            .slots
            .iter()
            .position(|s| matches!(s, Slot::Connected(_)))
            .or_else(|| {
                self.slots.iter().position(|s| {
                    outside_runtime && matches!(s, Slot::Raw(h) if sys::pipe_has_client(h))
                })
            });
        if let Some(i) = found {
            let slot = match self.create(false) {
                Ok(h) => std::mem::replace(&mut self.slots[i], Slot::Raw(h)),
                Err(_) => self.slots.remove(i),
            };
            match slot {
                Slot::Connected(p) => return Ok(Some(Stream::server(p))),
                Slot::Raw(h) => return Ok(Some(Stream::raw_server(h))),
                // Not selected above; put it back.
                arming @ Slot::Arming(_) => self.slots.push(arming),
            }
        }
        if self.slots.is_empty() {
            return Err(last_err.unwrap_or_else(|| io::Error::other("no pipe instance left")));
        }
        Ok(None)
    }

    /// Registers new instances and drives every instance's connect: ready
    /// when one is connected (then call `try_accept`). Instances whose
    /// connect failed are replaced.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Poll::Ready(Err(no_reactor()));
        }
        let mut last_err = None;
        let mut ready = false;
        let mut dropped = false;
        for _ in 0..REFILL_PASSES {
            self.top_up(&mut last_err);
            dropped = false;
            for slot in std::mem::take(&mut self.slots) {
                let mut arming = match slot {
                    Slot::Connected(p) => {
                        ready = true;
                        self.slots.push(Slot::Connected(p));
                        continue;
                    }
                    Slot::Arming(f) => f,
                    Slot::Raw(h) => match register_server(h) {
                        Ok(p) => Mutex::new(arm(p)),
                        Err(e) => {
                            last_err = Some(e);
                            dropped = true;
                            continue;
                        }
                    },
                };
                let f = arming.get_mut().unwrap_or_else(PoisonError::into_inner);
                match f.as_mut().poll(cx) {
                    Poll::Ready((p, Ok(()))) => {
                        ready = true;
                        self.slots.push(Slot::Connected(p));
                    }
                    // Dropped; a fresh instance replaces it.
                    Poll::Ready((_, Err(e))) => {
                        last_err = Some(e);
                        dropped = true;
                    }
                    Poll::Pending => self.slots.push(Slot::Arming(arming)),
                }
            }
            if !dropped {
                break;
            }
        }
        if ready {
            return Poll::Ready(Ok(()));
        }
        if self.slots.is_empty() {
            return Poll::Ready(Err(
                last_err.unwrap_or_else(|| io::Error::other("no pipe instance left"))
            ));
        }
        if dropped {
            // Still replacing failed instances: come back for the rest.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Closes the listener; pipes leave no file behind.
    pub(crate) fn close(self, _socket_file: Option<&str>) {}
}
