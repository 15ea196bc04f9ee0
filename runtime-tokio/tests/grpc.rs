//! tonic over local sockets (Unix sockets; named pipes under Wine): a
//! unary and a server-streaming call of a hand-written service, served
//! with `serve_with_incoming(server.incoming())` and called through
//! `Endpoint::connect_with_connector(LocalConnector)`; the server sees the
//! client's credentials.
#![cfg(feature = "tonic")]

#[path = "../../examples/support/checksum.rs"]
#[allow(dead_code)]
mod checksum;

use checksum::{fnv1a, pattern, ChecksumClient, ChecksumServer, GenerateRequest};
use localsock_tokio::hyper::{uri, LocalConnector};
use localsock_tokio::tonic::PeerInfo;
use localsock_tokio::LocalServer;
use tonic::transport::{Channel, Endpoint, Server};

/// Serves `ChecksumServer` on a fresh name; returns a connected channel
/// and the serving task (aborted by the caller).
async fn serve(tag: &str) -> (Channel, tokio::task::JoinHandle<()>) {
    let name = format!("localsock-grpc-{tag}-{}", std::process::id());
    let mut server = LocalServer::new();
    server.listen(&name).expect("listen");
    let serving = tokio::spawn(async move {
        let served = Server::builder()
            .add_service(ChecksumServer)
            .serve_with_incoming(server.incoming())
            .await;
        panic!("serving ended: {served:?}");
    });
    let channel = Endpoint::from(uri(&name, "/").expect("uri"))
        .connect_with_connector(LocalConnector::new())
        .await
        .expect("connect");
    (channel, serving)
}

#[tokio::test]
async fn unary_call_sums_one_mebibyte_and_sees_the_caller() {
    let (channel, serving) = serve("unary").await;
    let mut client = ChecksumClient::new(channel);
    let data = pattern(7, 1 << 20);
    let digest = client.sum(data.clone()).await.expect("Sum");
    assert_eq!(digest.len, 1 << 20);
    assert_eq!(digest.fnv1a, fnv1a(&data));
    // The caller is this process.
    #[cfg(any(target_os = "linux", windows))]
    assert_eq!(digest.peer_pid, Some(std::process::id()));
    #[cfg(unix)]
    assert_eq!(digest.peer_uid, Some(rustix::process::geteuid().as_raw()));
    #[cfg(windows)]
    assert_eq!(digest.peer_uid, None, "pipes carry no uid");
    // A second call on the same connection.
    let digest = client.sum(b"abc".to_vec()).await.expect("Sum");
    assert_eq!(digest.fnv1a, fnv1a(b"abc"));
    serving.abort();
}

#[tokio::test]
async fn server_streaming_call_delivers_every_chunk_in_order() {
    let (channel, serving) = serve("stream").await;
    let mut client = ChecksumClient::new(channel);
    let request = GenerateRequest {
        len: 1 << 20,
        chunk: 10_000,
        seed: 42,
    };
    let mut stream = client.generate(request).await.expect("Generate");
    let mut got = Vec::new();
    let mut messages = 0;
    while let Some(data) = stream.message().await.expect("a message") {
        assert!(data.bytes.len() <= 10_000);
        got.extend_from_slice(&data.bytes);
        messages += 1;
    }
    assert_eq!(messages, (1 << 20) / 10_000 + 1);
    assert_eq!(got.len(), 1 << 20);
    assert_eq!(fnv1a(&got), fnv1a(&pattern(42, 1 << 20)));

    // The service's own errors come back as gRPC statuses.
    let status = client
        .generate(GenerateRequest {
            len: 1,
            chunk: 0,
            seed: 0,
        })
        .await
        .expect_err("chunk 0 is refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    serving.abort();
}

#[tokio::test]
async fn a_missing_server_is_a_connect_error() {
    let name = format!("localsock-grpc-missing-{}", std::process::id());
    let result = Endpoint::from(uri(&name, "/").expect("uri"))
        .connect_with_connector(LocalConnector::new())
        .await;
    assert!(result.is_err(), "connected to nothing: {result:?}");
}

#[test]
fn peer_info_is_the_connect_info() {
    // `PeerInfo` is what tonic puts in each request's extensions.
    fn connect_info<T: tonic::transport::server::Connected<ConnectInfo = PeerInfo>>() {}
    connect_info::<localsock_tokio::LocalSocket>();
}
