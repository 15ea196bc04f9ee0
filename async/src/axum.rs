//! axum 0.8: a [`LocalServer`] is an `axum::serve::Listener`, so
//! `axum::serve(server, app)` serves HTTP on a Qt-style name, and
//! [`PeerInfo`] is axum's `ConnectInfo` for it.

use std::future::poll_fn;
use std::io;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};

use crate::backoff::AcceptBackoff;
use crate::{LocalServer, LocalSocket, PeerInfo, Runtime};

/// `accept` cannot fail in axum's contract: an accept failure (out of
/// descriptors, say) is retried after a pause of 50 ms, doubling up to 1 s
/// while failures last. A server that is not listening never yields a
/// connection (it retries once a second): call `listen` before serving.
impl<R: Runtime> Listener for LocalServer<R> {
    type Io = LocalSocket<R>;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (LocalSocket<R>, PeerInfo) {
        let mut backoff = AcceptBackoff::<R>::new();
        let socket = poll_fn(|cx| self.poll_accept_retrying(&mut backoff, cx)).await;
        let peer = PeerInfo::of(&socket);
        (socket, peer)
    }

    /// The server's full name; no credentials.
    fn local_addr(&self) -> io::Result<PeerInfo> {
        Ok(PeerInfo {
            full_server_name: self.full_server_name().to_owned(),
            credentials: None,
        })
    }
}

/// `Router::into_make_service_with_connect_info::<PeerInfo>()` hands each
/// request the credentials of the client that sent it.
impl<R: Runtime> Connected<IncomingStream<'_, LocalServer<R>>> for PeerInfo {
    fn connect_info(stream: IncomingStream<'_, LocalServer<R>>) -> Self {
        stream.remote_addr().clone()
    }
}
