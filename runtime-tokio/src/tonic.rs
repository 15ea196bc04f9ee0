//! tonic: serve and call gRPC on a Qt-style name.
//!
//! Accepted sockets are tonic's
//! [`Connected`](::tonic::transport::server::Connected), so a server's
//! stream of connections goes straight to `serve_with_incoming`:
//!
//! ```ignore
//! tonic::transport::Server::builder()
//!     .add_service(service)
//!     .serve_with_incoming(server.incoming())
//!     .await?;
//! ```
//!
//! Each request carries the client's [`PeerInfo`] (credentials read when
//! it connected): `request.extensions().get::<PeerInfo>()`. After an
//! accept failure (out of descriptors, `EMFILE`) the stream pauses, 50 ms
//! doubling up to 1 s while failures last, so tonic's accept loop, which
//! retries at once, does not spin.
//!
//! A client connects through the [`hyper`](crate::hyper) feature's
//! connector, in one line:
//!
//! ```ignore
//! let channel = Endpoint::from(uri(&name, "/")?).connect_with_connector(LocalConnector::new()).await?;
//! ```
//!
//! Both ends, with a unary and a streaming call on a service written with
//! tonic's codegen-free API, are in the repository's
//! `examples/grpc_tonic.rs` (`cargo run --features tonic --example
//! grpc_tonic`). Here, a health check (`grpc.health.v1.Health/Check`, an
//! empty request) shows the two one-liners at work without generated code:
//!
//! ```
//! use localsock_tokio::hyper::{uri, LocalConnector};
//! use localsock_tokio::LocalServer;
//! use tonic::transport::{Endpoint, Server};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let name = format!("tonic-doc-{}", std::process::id());
//! let mut server = LocalServer::new();
//! server.listen(&name)?;
//! let serving = tokio::spawn(async move {
//!     let routes = tonic::service::Routes::default();
//!     Server::builder().add_routes(routes).serve_with_incoming(server.incoming()).await
//! });
//!
//! let channel = Endpoint::from(uri(&name, "/")?).connect_with_connector(LocalConnector::new()).await?;
//! let mut grpc = tonic::client::Grpc::new(channel);
//! grpc.ready().await?;
//! let path = tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
//! // No service is registered: the server answers Unimplemented, over the local socket.
//! let codec = tonic_prost::ProstCodec::<(), ()>::default();
//! let status = grpc.unary(tonic::Request::new(()), path, codec).await.unwrap_err();
//! assert_eq!(status.code(), tonic::Code::Unimplemented);
//! serving.abort();
//! # Ok(())
//! # }
//! ```

pub use localsock_async::PeerInfo;
