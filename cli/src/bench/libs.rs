//! The implementations under test, behind two small traits: one for
//! blocking streams (`std::io`), one for async streams on any executor.
//! The workloads are written once against these traits, so every row of a
//! group runs exactly the same code around its library's calls.

use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use localsock::ServerOptions;

pub use crate::exec::{Exec, SmolExec, TokioExec};

/// The listen backlog every server gets (the kernel caps it at
/// `net.core.somaxconn`; std and interprocess ask for the maximum too).
pub const BACKLOG: u32 = 4096;

fn localsock_server_options() -> ServerOptions {
    ServerOptions {
        listen_backlog: BACKLOG,
        ..ServerOptions::default()
    }
}

// ----- blocking ------------------------------------------------------------

/// A library with blocking streams.
pub trait SyncLib: 'static {
    /// The connected stream.
    type Stream: Read + Write + Send + 'static;
    /// The listening server.
    type Listener: Send + 'static;
    /// Listens on the socket file `path`.
    fn listen(path: &str) -> io::Result<Self::Listener>;
    /// Waits for the next client.
    fn accept(l: &mut Self::Listener) -> io::Result<Self::Stream>;
    /// Connects to `path`, waiting while the backlog is full.
    fn connect(path: &str) -> io::Result<Self::Stream>;
    /// Sets a read-buffer limit (workload E); raw sockets have none to set.
    fn set_read_limit(_s: &mut Self::Stream, _limit: usize) {}
    /// Consumes up to `buf.len()` bytes the way the library's users do
    /// (workload E): a plain read into `buf`, or Qt's readyRead-then-take
    /// (`read_bytes`, zero-copy; the bytes are counted, not copied).
    fn read_piece(s: &mut Self::Stream, buf: &mut [u8]) -> io::Result<usize> {
        s.read(buf)
    }
}

/// Raw `std::os::unix::net::UnixStream`.
#[derive(Debug)]
pub struct StdRaw;

impl SyncLib for StdRaw {
    type Stream = UnixStream;
    type Listener = UnixListener;
    fn listen(path: &str) -> io::Result<UnixListener> {
        UnixListener::bind(path)
    }
    fn accept(l: &mut UnixListener) -> io::Result<UnixStream> {
        l.accept().map(|(s, _)| s)
    }
    fn connect(path: &str) -> io::Result<UnixStream> {
        UnixStream::connect(path)
    }
}

/// `localsock-blocking`.
#[derive(Debug)]
pub struct LocalsockBlocking;

/// The blocking server, removing its socket file when dropped.
#[derive(Debug)]
pub struct BlockingServer(localsock::blocking::LocalServer);

impl SyncLib for LocalsockBlocking {
    type Stream = localsock::blocking::LocalSocket;
    type Listener = BlockingServer;
    fn listen(path: &str) -> io::Result<BlockingServer> {
        let mut s = localsock::blocking::LocalServer::new();
        s.listen_with(path, localsock_server_options())?;
        Ok(BlockingServer(s))
    }
    fn accept(l: &mut BlockingServer) -> io::Result<Self::Stream> {
        l.0.accept().map_err(io::Error::from)
    }
    fn connect(path: &str) -> io::Result<Self::Stream> {
        localsock::blocking::LocalSocket::connect(path).map_err(io::Error::from)
    }
    fn set_read_limit(s: &mut Self::Stream, limit: usize) {
        s.set_read_buffer_size(limit);
    }
    fn read_piece(s: &mut Self::Stream, buf: &mut [u8]) -> io::Result<usize> {
        use localsock::blocking::Timeout;
        use localsock::State;
        while s.bytes_available() == 0 {
            if s.wait_for_ready_read(Timeout::FOREVER).is_err()
                && s.bytes_available() == 0
                && s.state() != State::Connected
            {
                return Ok(0);
            }
        }
        // Qt's way: take the bytes (no copy) and count them; copying them
        // out would only measure memcpy.
        let data = s.read_bytes(buf.len()).map_err(io::Error::from)?;
        Ok(data.len())
    }
}

/// The `interprocess` crate's blocking local sockets.
#[derive(Debug)]
pub struct IpcSync;

fn ipc_name(path: &str) -> io::Result<interprocess::local_socket::Name<'_>> {
    use interprocess::local_socket::{GenericFilePath, ToFsName};
    path.to_fs_name::<GenericFilePath>()
}

impl SyncLib for IpcSync {
    type Stream = interprocess::local_socket::Stream;
    type Listener = interprocess::local_socket::Listener;
    fn listen(path: &str) -> io::Result<Self::Listener> {
        interprocess::local_socket::ListenerOptions::new()
            .name(ipc_name(path)?)
            .create_sync()
    }
    fn accept(l: &mut Self::Listener) -> io::Result<Self::Stream> {
        use interprocess::local_socket::traits::Listener as _;
        l.accept()
    }
    fn connect(path: &str) -> io::Result<Self::Stream> {
        use interprocess::local_socket::traits::Stream as _;
        interprocess::local_socket::Stream::connect(ipc_name(path)?)
    }
}

/// `read_exact` that reports a clean end of stream as `Ok(false)`.
pub fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if got == 0 && is_reset(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A peer that went away mid-stream (the other side dropped its socket).
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
    )
}

// ----- async ---------------------------------------------------------------

/// An async stream, whatever its I/O traits.
pub trait AsyncStream: Send + Unpin + 'static {
    /// One read.
    fn read<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
    /// Writes all of `buf`.
    fn write_all<'a>(
        &'a mut self,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
    /// Flushes what the library buffers.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> + Send + '_;
    /// Sets a read-buffer limit (workload E); raw sockets have none.
    fn set_read_limit(&mut self, _limit: usize) {}
    /// Reads the way the library's users do (workload E).
    fn read_piece<'a>(
        &'a mut self,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        self.read(buf)
    }
}

/// A library with async streams.
pub trait AsyncLib: 'static {
    /// The connected stream.
    type Stream: AsyncStream;
    /// The listening server.
    type Listener: Send + 'static;
    /// Listens on the socket file `path` (inside the executor).
    fn listen(path: &str) -> io::Result<Self::Listener>;
    /// Waits for the next client.
    fn accept(l: &mut Self::Listener)
        -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;
    /// Connects to `path`, retrying while the backlog is full.
    fn connect(path: &str) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;
}

/// `read_exact` that reports a clean end of stream as `Ok(false)`.
pub async fn read_full_async<S: AsyncStream>(s: &mut S, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match s.read(&mut buf[got..]).await {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if got == 0 && is_reset(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// A raw non-blocking connect on a Unix socket fails with `EAGAIN` while the
/// server's backlog is full; raw rows retry like the localsock core does
/// (1 ms, doubling to 100 ms, for up to 30 s) so they do not lose clients.
async fn connect_retrying<T, C, CF, S, SF>(mut connect: C, mut sleep: S) -> io::Result<T>
where
    C: FnMut() -> CF,
    CF: Future<Output = io::Result<T>>,
    S: FnMut(Duration) -> SF,
    SF: Future<Output = ()>,
{
    let mut wait = Duration::from_millis(1);
    let mut waited = Duration::ZERO;
    loop {
        match connect().await {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && waited < Duration::from_secs(30) => {
                sleep(wait).await;
                waited += wait;
                wait = (wait * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

macro_rules! async_stream_via {
    ($ty:ty, $read:path, $write:path $(, $extra:item)*) => {
        impl AsyncStream for $ty {
            fn read<'a>(
                &'a mut self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
                <Self as $read>::read(self, buf)
            }
            fn write_all<'a>(
                &'a mut self,
                buf: &'a [u8],
            ) -> impl Future<Output = io::Result<()>> + Send + 'a {
                <Self as $write>::write_all(self, buf)
            }
            fn flush(&mut self) -> impl Future<Output = io::Result<()>> + Send + '_ {
                <Self as $write>::flush(self)
            }
            $($extra)*
        }
    };
}

/// Raw `async_io::Async<UnixStream>` (what smol's `UnixStream` wraps).
#[derive(Debug)]
pub struct AsyncIoRaw;

async_stream_via!(
    smol::Async<UnixStream>,
    futures_lite::AsyncReadExt,
    futures_lite::AsyncWriteExt
);

impl AsyncLib for AsyncIoRaw {
    type Stream = smol::Async<UnixStream>;
    type Listener = smol::Async<UnixListener>;
    fn listen(path: &str) -> io::Result<Self::Listener> {
        smol::Async::new(UnixListener::bind(path)?)
    }
    async fn accept(l: &mut Self::Listener) -> io::Result<Self::Stream> {
        l.accept().await.map(|(s, _)| s)
    }
    fn connect(path: &str) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_ {
        connect_retrying(
            move || smol::Async::<UnixStream>::connect(path),
            |d| async move {
                smol::Timer::after(d).await;
            },
        )
    }
}

/// Raw `tokio::net::UnixStream`.
#[derive(Debug)]
pub struct TokioRaw;

async_stream_via!(
    tokio::net::UnixStream,
    tokio::io::AsyncReadExt,
    tokio::io::AsyncWriteExt
);

impl AsyncLib for TokioRaw {
    type Stream = tokio::net::UnixStream;
    type Listener = tokio::net::UnixListener;
    fn listen(path: &str) -> io::Result<Self::Listener> {
        // Through std, for std's backlog (tokio's own bind asks for 1024).
        let l = UnixListener::bind(path)?;
        l.set_nonblocking(true)?;
        tokio::net::UnixListener::from_std(l)
    }
    async fn accept(l: &mut Self::Listener) -> io::Result<Self::Stream> {
        l.accept().await.map(|(s, _)| s)
    }
    fn connect(path: &str) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_ {
        connect_retrying(
            move || tokio::net::UnixStream::connect(path),
            tokio::time::sleep,
        )
    }
}

/// The `interprocess` crate's tokio local sockets.
#[derive(Debug)]
pub struct IpcTokio;

async_stream_via!(
    interprocess::local_socket::tokio::Stream,
    tokio::io::AsyncReadExt,
    tokio::io::AsyncWriteExt
);

impl AsyncLib for IpcTokio {
    type Stream = interprocess::local_socket::tokio::Stream;
    type Listener = interprocess::local_socket::tokio::Listener;
    fn listen(path: &str) -> io::Result<Self::Listener> {
        interprocess::local_socket::ListenerOptions::new()
            .name(ipc_name(path)?)
            .create_tokio()
    }
    fn accept(
        l: &mut Self::Listener,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_ {
        use interprocess::local_socket::traits::tokio::Listener as _;
        l.accept()
    }
    fn connect(path: &str) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_ {
        use interprocess::local_socket::traits::tokio::Stream as _;
        async move { interprocess::local_socket::tokio::Stream::connect(ipc_name(path)?).await }
    }
}

/// localsock on an async runtime: the same code for smol and tokio (the
/// two runtimes share their API names).
macro_rules! localsock_async {
    ($lib:ident, $rt:ident, $read:path, $write:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $lib;

        async_stream_via!(
            localsock::$rt::LocalSocket,
            $read,
            $write,
            fn set_read_limit(&mut self, limit: usize) {
                self.set_read_buffer_size(limit);
            },
            fn read_piece<'a>(
                &'a mut self,
                buf: &'a mut [u8],
            ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
                async move {
                    while self.bytes_available() == 0 {
                        if self
                            .wait_for_ready_read(localsock::$rt::Timeout::FOREVER)
                            .await
                            .is_err()
                            && self.bytes_available() == 0
                            && self.state() != localsock::State::Connected
                        {
                            return Ok(0);
                        }
                    }
                    // Take the bytes (no copy) and count them, as in Qt.
                    let data = self.read_bytes(buf.len()).map_err(io::Error::from)?;
                    Ok(data.len())
                }
            }
        );

        impl AsyncLib for $lib {
            type Stream = localsock::$rt::LocalSocket;
            type Listener = localsock::$rt::LocalServer;
            fn listen(path: &str) -> io::Result<Self::Listener> {
                let mut s = localsock::$rt::LocalServer::new();
                s.listen_with(path, localsock_server_options())?;
                Ok(s)
            }
            async fn accept(l: &mut Self::Listener) -> io::Result<Self::Stream> {
                l.accept().await.map_err(io::Error::from)
            }
            async fn connect(path: &str) -> io::Result<Self::Stream> {
                localsock::$rt::LocalSocket::connect(path)
                    .await
                    .map_err(io::Error::from)
            }
        }
    };
}

localsock_async!(
    LocalsockSmol,
    smol,
    futures_lite::AsyncReadExt,
    futures_lite::AsyncWriteExt,
    "`localsock-smol`."
);
localsock_async!(
    LocalsockTokio,
    tokio,
    tokio::io::AsyncReadExt,
    tokio::io::AsyncWriteExt,
    "`localsock-tokio`."
);
