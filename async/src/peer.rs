//! [`PeerInfo`]: who is at the other end of an accepted connection, as
//! web frameworks hand it to request handlers.

use localsock_core::PeerCredentials;

use crate::{LocalSocket, Runtime};

/// Who connected, as axum's `ConnectInfo` and tonic's request extensions
/// carry it: a local server authorises by the peer's user (or process),
/// not by an address, so the credentials travel with every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PeerInfo {
    /// The server's full name (socket path or pipe name) the client
    /// connected to.
    pub full_server_name: String,
    /// The peer's credentials when the OS reports them: uid, gid and pid
    /// on Linux, uid and gid on the BSDs and macOS, the process id only on
    /// Windows. `None` for the server's own address (axum's `local_addr`)
    /// or when the OS would not tell.
    pub credentials: Option<PeerCredentials>,
}

impl PeerInfo {
    /// The peer of `socket`, read once, when the connection is accepted.
    pub(crate) fn of<R: Runtime>(socket: &LocalSocket<R>) -> Self {
        PeerInfo {
            full_server_name: socket.full_server_name().to_owned(),
            credentials: socket.peer_credentials().ok(),
        }
    }
}
