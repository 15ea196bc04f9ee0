//! hyper 1: call an HTTP (or gRPC) server by its Qt-style name.
//!
//! [`LocalConnector`] is a `tower::Service<Uri>` in the style of
//! `hyperlocal`: the server name travels hex-encoded in the URI's
//! authority (`localsock://6d79617070/path` is `myapp`), so one client
//! reaches any number of local servers, and URIs stay valid whatever
//! characters a name holds (`/`, `\`, spaces). [`uri`] builds such URIs.
//! The connector plugs into hyper-util's client, and into tonic's
//! `Endpoint::connect_with_connector` (see the `tonic` module).
//!
//! ```
//! use http_body_util::{BodyExt, Empty};
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use localsock_tokio::hyper::{uri, LocalConnector};
//! use localsock_tokio::{LocalServer, PeerCredentials};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let name = format!("hyper-doc-{}", std::process::id());
//! let mut server = LocalServer::new();
//! server.listen(&name)?;
//! // A one-response HTTP server by hand (axum serves for real: see the
//! // `axum` module).
//! tokio::spawn(async move {
//!     let mut peer = server.accept().await?;
//!     let mut head = Vec::new();
//!     while !head.ends_with(b"\r\n\r\n") {
//!         head.push(peer.read_u8().await?);
//!     }
//!     peer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await?;
//!     peer.flush().await
//! });
//!
//! let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(LocalConnector::new());
//! let response = client.get(uri(&name, "/")?).await?;
//! // The server's process (here, this one), as the OS reports it.
//! let server_pid = response.extensions().get::<PeerCredentials>().and_then(|c| c.pid);
//! # #[cfg(any(target_os = "linux", windows))]
//! assert_eq!(server_pid, Some(std::process::id()));
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(body, "hello");
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::hyper::rt::{Read, ReadBufCursor, Write};
use ::hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;

use crate::LocalSocket;

/// The scheme of the URIs [`LocalConnector`] takes; their authority is
/// the server name, hex-encoded.
pub const SCHEME: &str = "localsock";

/// `localsock://HEX(server_name)path_and_query`: a URI that
/// [`LocalConnector`] connects to `server_name` (a Qt-style name: a
/// relative name, a path, or on Windows a `\\.\pipe\` name).
///
/// Fails on an empty name or a malformed `path_and_query`.
///
/// ```
/// let uri = localsock_tokio::hyper::uri("myapp", "/status?verbose=1").unwrap();
/// assert_eq!(uri.to_string(), "localsock://6d79617070/status?verbose=1");
/// assert_eq!(localsock_tokio::hyper::server_name(&uri).as_deref(), Some("myapp"));
/// ```
pub fn uri(server_name: &str, path_and_query: &str) -> Result<Uri, ::hyper::http::Error> {
    let mut authority = String::with_capacity(server_name.len() * 2);
    for byte in server_name.bytes() {
        let _ = write!(authority, "{byte:02x}");
    }
    Uri::builder()
        .scheme(SCHEME)
        .authority(authority)
        .path_and_query(path_and_query)
        .build()
}

/// The server name in a URI made by [`uri`]; `None` for another scheme
/// or an authority that is not a hex-encoded UTF-8 name.
pub fn server_name(uri: &Uri) -> Option<String> {
    if uri.scheme_str() != Some(SCHEME) {
        return None;
    }
    let hex = uri.authority()?.as_str().as_bytes();
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes = hex
        .chunks_exact(2)
        .map(|pair| Some((hex_value(pair[0])? << 4) | hex_value(pair[1])?))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
}

/// Connects hyper-util's client (or tonic's `Endpoint`) to local servers:
/// a `tower::Service<Uri>` that takes the server name from a
/// `localsock://` URI (see [`uri`]) and connects with
/// [`LocalSocket::connect`] (Qt's 30 s connect timeout; a full backlog or
/// busy pipe is retried meanwhile).
///
/// Each response carries the server's [`PeerCredentials`](crate::PeerCredentials)
/// in its extensions, so a client can check whom it talked to.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalConnector {
    _private: (),
}

impl LocalConnector {
    /// A connector for any `localsock://` URI.
    pub fn new() -> Self {
        LocalConnector { _private: () }
    }
}

impl tower_service::Service<Uri> for LocalConnector {
    type Response = HyperSocket;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<HyperSocket>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(async move {
            let name = server_name(&uri).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{uri}: not a {SCHEME}:// URI with a hex-encoded server name"),
                )
            })?;
            let socket = LocalSocket::connect(&name).await?;
            Ok(HyperSocket(TokioIo::new(socket)))
        })
    }
}

/// A connected [`LocalSocket`] as hyper's I/O: what [`LocalConnector`]
/// hands the client.
#[derive(Debug)]
pub struct HyperSocket(TokioIo<LocalSocket>);

impl HyperSocket {
    /// The socket (its state, credentials, Qt's error text).
    pub fn get_ref(&self) -> &LocalSocket {
        self.0.inner()
    }

    /// The socket, taken out of hyper's I/O.
    pub fn into_inner(self) -> LocalSocket {
        self.0.into_inner()
    }
}

impl Connection for HyperSocket {
    /// The server's credentials, when the OS tells them, go into every
    /// response's extensions.
    fn connected(&self) -> Connected {
        match self.get_ref().peer_credentials() {
            Ok(credentials) => Connected::new().extra(credentials),
            Err(_) => Connected::new(),
        }
    }
}

impl Read for HyperSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Write for HyperSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
}
