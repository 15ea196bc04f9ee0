//! localsock on async-io: Qt's `QLocalSocket` / `QLocalServer` as
//! futures-io streams, for smol and any other executor.
//!
//! Every decision (states, Qt's signal order, buffering, connect retries,
//! the ClosingState drain, error categories and texts) is made by
//! [`localsock_core`]; this crate moves bytes between it and the OS, waits
//! with async-io's reactor (`Async<UnixStream>`) and keeps the core's
//! deadlines with `async_io::Timer`. Because async-io runs its own reactor,
//! the types work under smol, `futures::executor`, or any executor.
//!
//! ```
//! use futures_lite::future;
//! use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
//! use localsock_smol::{LocalServer, LocalSocket};
//!
//! # fn main() -> std::io::Result<()> {
//! smol::block_on(async {
//!     let name = format!("localsock-smol-doc-{}", std::process::id());
//!     let mut server = LocalServer::new();
//!     server.listen(&name)?;
//!
//!     let client = async {
//!         let mut socket = LocalSocket::connect(&name).await?;
//!         socket.write_all(b"ping").await?;
//!         let mut reply = [0; 4];
//!         // A read sends pending writes first: no explicit flush needed.
//!         socket.read_exact(&mut reply).await?;
//!         Ok::<_, std::io::Error>(reply)
//!     };
//!     let serve = async {
//!         let mut peer = server.accept().await?;
//!         let mut request = [0; 4];
//!         peer.read_exact(&mut request).await?;
//!         peer.write_all(b"pong").await?;
//!         // `peer.flush()` would be Qt's non-blocking flush (a `bool`).
//!         AsyncWriteExt::flush(&mut peer).await?;
//!         Ok::<_, std::io::Error>(peer)
//!     };
//!     let (reply, _peer) = future::try_zip(client, serve).await?;
//!     assert_eq!(&reply, b"pong");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Three ways to drive a socket
//! - **Streams**: [`LocalSocket`] implements futures-io's `AsyncRead`,
//!   `AsyncBufRead` and `AsyncWrite`; [`LocalSocket::into_split`] gives two
//!   halves for two tasks. `AsyncWriteExt::close` is Qt's graceful
//!   disconnect.
//! - **Qt's waits**, as async functions with Qt's semantics and timeouts
//!   ([`Timeout`]): `wait_for_connected`, `wait_for_ready_read`,
//!   `wait_for_bytes_written`, `wait_for_disconnected`, and on the server
//!   `wait_for_new_connection`.
//! - **Qt's signals**: [`LocalSocket::next_event`] (or
//!   [`LocalSocket::events`]) drives I/O until the next [`Event`].
//!
//! # Cancel safety
//! Every async method documents it. All state lives in the core, so the
//! reads, `next_event`, `accept` and the waits are cancel-safe: a future
//! dropped before it completes loses no byte, no signal and no connection.
//!
//! # Platforms
//! Unix (Linux, macOS, BSD) today. Windows named pipes need their own
//! backend (async-io cannot register pipe handles) and come next; on
//! Windows this crate currently provides only [`Timeout`] and the core's
//! re-exported types.

mod sys;

#[cfg(unix)]
mod driver;
#[cfg(unix)]
mod server;
#[cfg(unix)]
mod socket;
#[cfg(unix)]
mod split;

pub use localsock_blocking::{name_context, Timeout};
pub use localsock_core::{
    Access, Address, Config, DeviceError, Event, ListenError, LocalSocketError, NameContext,
    OpenMode, PeerCredentials, Platform, ServerError, ServerOptions, SocketError, State,
};

#[cfg(unix)]
pub use server::{Incoming, LocalServer};
#[cfg(unix)]
pub use socket::{Events, LocalSocket};
#[cfg(unix)]
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
