//! A small gRPC service, `localsock.example.Checksum`, written with tonic's
//! codegen-free API (`tonic::server::Grpc`, `tonic::client::Grpc`) and
//! hand-written prost messages, so building it needs no `protoc`. It is
//! what tonic-build would generate from:
//!
//! ```proto
//! syntax = "proto3";
//! package localsock.example;
//! message Data { bytes bytes = 1; }
//! message Digest { uint64 fnv1a = 1; uint64 len = 2; optional uint32 peer_pid = 3; optional uint32 peer_uid = 4; }
//! message GenerateRequest { uint64 len = 1; uint32 chunk = 2; uint64 seed = 3; }
//! service Checksum {
//!   rpc Sum(Data) returns (Digest);                     // unary
//!   rpc Generate(GenerateRequest) returns (stream Data); // server streaming
//! }
//! ```
//!
//! Shared by `examples/grpc_tonic.rs` and localsock-tokio's gRPC tests;
//! the includer has `PeerInfo` (localsock's tonic connect info) in scope
//! at its root.

use std::convert::Infallible;
use std::task::{Context, Poll};

use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::{http, BoxFuture, BoxStream, Service};
use tonic::server::{Grpc, NamedService, ServerStreamingService, UnaryService};
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use crate::PeerInfo;

#[path = "data.rs"]
mod data;
pub use data::{fnv1a, pattern};

/// Some bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Data {
    #[prost(bytes = "vec", tag = "1")]
    pub bytes: Vec<u8>,
}

/// What `Sum` saw: the bytes' FNV-1a hash and length, and who sent them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Digest {
    #[prost(uint64, tag = "1")]
    pub fnv1a: u64,
    #[prost(uint64, tag = "2")]
    pub len: u64,
    #[prost(uint32, optional, tag = "3")]
    pub peer_pid: Option<u32>,
    #[prost(uint32, optional, tag = "4")]
    pub peer_uid: Option<u32>,
}

/// `Generate`: `len` bytes of `pattern(seed, len)` in messages of `chunk`
/// bytes.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GenerateRequest {
    #[prost(uint64, tag = "1")]
    pub len: u64,
    #[prost(uint32, tag = "2")]
    pub chunk: u32,
    #[prost(uint64, tag = "3")]
    pub seed: u64,
}

/// The largest `Generate` the server agrees to (it holds it in memory).
pub const MAX_GENERATE: u64 = 64 << 20;

const SERVICE: &str = "localsock.example.Checksum";
const SUM: &str = "/localsock.example.Checksum/Sum";
const GENERATE: &str = "/localsock.example.Checksum/Generate";

/// The server side: add it with `Server::builder().add_service(ChecksumServer)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChecksumServer;

impl NamedService for ChecksumServer {
    const NAME: &'static str = SERVICE;
}

struct Sum;

impl UnaryService<Data> for Sum {
    type Response = Digest;
    type Future = BoxFuture<Response<Digest>, Status>;

    fn call(&mut self, request: Request<Data>) -> Self::Future {
        // localsock's connect info: the client's credentials.
        let credentials = request
            .extensions()
            .get::<PeerInfo>()
            .and_then(|peer| peer.credentials);
        let data = request.into_inner();
        Box::pin(async move {
            Ok(Response::new(Digest {
                fnv1a: fnv1a(&data.bytes),
                len: data.bytes.len() as u64,
                peer_pid: credentials.and_then(|c| c.pid),
                peer_uid: credentials.and_then(|c| c.uid),
            }))
        })
    }
}

struct Generate;

impl ServerStreamingService<GenerateRequest> for Generate {
    type Response = Data;
    type ResponseStream = BoxStream<Data>;
    type Future = BoxFuture<Response<BoxStream<Data>>, Status>;

    fn call(&mut self, request: Request<GenerateRequest>) -> Self::Future {
        let GenerateRequest { len, chunk, seed } = request.into_inner();
        Box::pin(async move {
            if len > MAX_GENERATE || chunk == 0 {
                return Err(Status::invalid_argument(format!(
                    "len must be at most {MAX_GENERATE}, chunk more than 0"
                )));
            }
            let bytes = pattern(seed, len as usize);
            let messages: Vec<Result<Data, Status>> = bytes
                .chunks(chunk as usize)
                .map(|c| Ok(Data { bytes: c.to_vec() }))
                .collect();
            let stream: BoxStream<Data> = Box::pin(tonic::codegen::tokio_stream::iter(messages));
            Ok(Response::new(stream))
        })
    }
}

impl Service<http::Request<tonic::body::Body>> for ChecksumServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        match request.uri().path() {
            SUM => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<Digest, Data>::default());
                Ok(grpc.unary(Sum, request).await)
            }),
            GENERATE => Box::pin(async move {
                let mut grpc = Grpc::new(ProstCodec::<Data, GenerateRequest>::default());
                Ok(grpc.server_streaming(Generate, request).await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// The client side, on a tonic `Channel`.
#[derive(Debug, Clone)]
pub struct ChecksumClient {
    grpc: tonic::client::Grpc<Channel>,
}

impl ChecksumClient {
    pub fn new(channel: Channel) -> Self {
        ChecksumClient {
            grpc: tonic::client::Grpc::new(channel),
        }
    }

    /// Unary: the digest of `bytes`, as the server computed it.
    pub async fn sum(&mut self, bytes: Vec<u8>) -> Result<Digest, Status> {
        self.ready().await?;
        let codec = ProstCodec::<Data, Digest>::default();
        let path = PathAndQuery::from_static(SUM);
        let response = self.grpc.unary(Request::new(Data { bytes }), path, codec);
        Ok(response.await?.into_inner())
    }

    /// Server streaming: the messages of a `Generate`.
    pub async fn generate(&mut self, request: GenerateRequest) -> Result<Streaming<Data>, Status> {
        self.ready().await?;
        let codec = ProstCodec::<GenerateRequest, Data>::default();
        let path = PathAndQuery::from_static(GENERATE);
        let response = self
            .grpc
            .server_streaming(Request::new(request), path, codec);
        Ok(response.await?.into_inner())
    }

    async fn ready(&mut self) -> Result<(), Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))
    }
}
