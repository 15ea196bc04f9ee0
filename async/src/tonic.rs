//! tonic: accepted sockets are tonic's `Connected`, so
//! `serve_with_incoming(server.incoming())` serves gRPC on a Qt-style
//! name, and each request carries the client's [`PeerInfo`].

use tonic::transport::server::Connected;

use crate::{LocalSocket, PeerInfo, Runtime};

/// `request.extensions().get::<PeerInfo>()` in a handler: who called.
impl<R: Runtime> Connected for LocalSocket<R> {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        PeerInfo::of(self)
    }
}
