//! axum 0.8: serve HTTP on a Qt-style name.
//!
//! A listening [`LocalServer`](crate::LocalServer) is an
//! [`axum::serve::Listener`], so
//! `axum::serve(server, app)` serves on a Unix socket or a Windows named
//! pipe. Local servers authorise by user, not by address: with
//! `into_make_service_with_connect_info::<PeerInfo>()` every handler can
//! take `ConnectInfo<PeerInfo>`, the client's credentials (uid, gid and pid
//! on Linux; the process id on Windows), read once when it connected.
//!
//! `Listener::accept` cannot fail: when accepting does (out of
//! descriptors, `EMFILE`), it is retried after a pause, 50 ms doubling up
//! to 1 s while failures last; connections already made are served
//! meanwhile.
//!
//! ```
//! use axum::extract::ConnectInfo;
//! use axum::routing::get;
//! use localsock_tokio::axum::PeerInfo;
//! use localsock_tokio::{LocalServer, LocalSocket};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! async fn whoami(ConnectInfo(peer): ConnectInfo<PeerInfo>) -> String {
//!     let pid = peer.credentials.and_then(|c| c.pid);
//!     format!("pid {pid:?}")
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let name = format!("axum-doc-{}", std::process::id());
//! let mut server = LocalServer::new();
//! server.listen(&name)?;
//! let app = axum::Router::new().route("/whoami", get(whoami));
//! let make_service = app.into_make_service_with_connect_info::<PeerInfo>();
//! let serving = tokio::spawn(async move { axum::serve(server, make_service).await });
//!
//! // Any HTTP client will do; this one is written by hand.
//! let mut socket = LocalSocket::connect(&name).await?;
//! socket.write_all(b"GET /whoami HTTP/1.1\r\nhost: local\r\nconnection: close\r\n\r\n").await?;
//! let mut response = String::new();
//! socket.read_to_string(&mut response).await?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"));
//! # #[cfg(any(target_os = "linux", windows))]
//! assert!(response.ends_with(&format!("pid Some({})", std::process::id())));
//! serving.abort();
//! # Ok(())
//! # }
//! ```

pub use localsock_async::PeerInfo;
