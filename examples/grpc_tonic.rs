//! gRPC over a local socket, both ends: a tonic server serves on a
//! Qt-style name (a Unix socket, or a named pipe on Windows) from the
//! server's stream of connections, and a tonic client connects by that
//! name through localsock's hyper connector. One unary call (1 MiB up,
//! a checksum and the caller's credentials back) and one server-streaming
//! call (1 MiB down in chunks).
//!
//! The service is written with tonic's codegen-free API in
//! `examples/support/checksum.rs` (no `protoc` needed).
//!
//! ```sh
//! cargo run --features tonic --example grpc_tonic
//! ```

#[path = "support/checksum.rs"]
#[allow(dead_code)]
mod checksum;

use std::process::ExitCode;

use checksum::{fnv1a, pattern, ChecksumClient, ChecksumServer, GenerateRequest};
use localsock::tokio::hyper::{uri, LocalConnector};
use localsock::tokio::tonic::PeerInfo;
use localsock::tokio::LocalServer;
use tonic::transport::{Endpoint, Server};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error + Send + Sync>> {
    let name = format!("localsock-grpc-tonic-{}", std::process::id());
    let mut server = LocalServer::new();
    server.listen(&name)?;
    println!("serving gRPC on {}", server.full_server_name());
    let serving = tokio::spawn(async move {
        Server::builder()
            .add_service(ChecksumServer)
            .serve_with_incoming(server.incoming())
            .await
    });

    // The client, in one line.
    let channel = Endpoint::from(uri(&name, "/")?)
        .connect_with_connector(LocalConnector::new())
        .await?;
    let mut client = ChecksumClient::new(channel);

    let data = pattern(7, 1 << 20);
    let digest = client.sum(data.clone()).await?;
    let ok_unary = digest.len == data.len() as u64 && digest.fnv1a == fnv1a(&data);
    println!(
        "Sum (unary): {} bytes, checksum {}; the server saw pid {:?}, uid {:?}",
        digest.len,
        if ok_unary { "matches" } else { "MISMATCH" },
        digest.peer_pid,
        digest.peer_uid,
    );

    let request = GenerateRequest {
        len: 1 << 20,
        chunk: 64 << 10,
        seed: 9,
    };
    let mut stream = client.generate(request).await?;
    let (mut got, mut messages) = (Vec::new(), 0);
    while let Some(chunk) = stream.message().await? {
        got.extend_from_slice(&chunk.bytes);
        messages += 1;
    }
    let ok_stream = got == pattern(9, 1 << 20);
    println!(
        "Generate (server streaming): {messages} messages, {} bytes, {}",
        got.len(),
        if ok_stream { "as expected" } else { "MISMATCH" },
    );
    serving.abort();
    Ok(if ok_unary && ok_stream {
        println!("grpc_tonic: ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
