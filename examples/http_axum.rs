//! HTTP over a local socket, both ends: an axum app serves on a Qt-style
//! name (a Unix socket, or a named pipe on Windows) and hyper's client
//! calls it by that name; the app sees who called (axum's `ConnectInfo`
//! with the client's credentials), and 1 MiB goes each way with checksums.
//!
//! ```sh
//! cargo run --features axum,hyper --example http_axum
//! ```

use std::process::ExitCode;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use localsock::tokio::axum::PeerInfo;
use localsock::tokio::hyper::{uri, LocalConnector};
use localsock::tokio::LocalServer;
use localsock::PeerCredentials;

#[path = "support/data.rs"]
mod data;
use data::{fnv1a, pattern};

/// Who is calling: local servers authorise by user, not by address.
async fn whoami(ConnectInfo(peer): ConnectInfo<PeerInfo>) -> String {
    let c = peer.credentials.unwrap_or_default();
    format!(
        "you are pid {:?}, uid {:?}, on {}",
        c.pid, c.uid, peer.full_server_name
    )
}

/// The checksum of what came in (a header), and 1 MiB derived from it.
async fn exchange(body: Bytes) -> ([(&'static str, String); 1], Vec<u8>) {
    let sum = fnv1a(&body);
    (
        [("x-received-fnv1a", sum.to_string())],
        pattern(sum, 1 << 20),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error + Send + Sync>> {
    let name = format!("localsock-http-axum-{}", std::process::id());
    let mut server = LocalServer::new();
    server.listen(&name)?;
    println!("serving HTTP on {}", server.full_server_name());
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route("/exchange", post(exchange));
    let make_service = app.into_make_service_with_connect_info::<PeerInfo>();
    let serving = tokio::spawn(async move { axum::serve(server, make_service).await });

    // The client: the server name travels hex-encoded in the URI.
    let client =
        Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(LocalConnector::new());
    let response = client.get(uri(&name, "/whoami")?).await?;
    let server_credentials = response.extensions().get::<PeerCredentials>().copied();
    let text = response.into_body().collect().await?.to_bytes();
    println!("GET /whoami: {}", String::from_utf8_lossy(&text));
    println!("the server is {server_credentials:?}");

    let sent = pattern(1, 1 << 20);
    let request = axum::http::Request::post(uri(&name, "/exchange")?)
        .body(Full::new(Bytes::from(sent.clone())))?;
    let response = client.request(request).await?;
    let received_sum = response
        .headers()
        .get("x-received-fnv1a")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let reply = response.into_body().collect().await?.to_bytes();
    let ok_up = received_sum == Some(fnv1a(&sent));
    let ok_down = reply == pattern(fnv1a(&sent), 1 << 20);
    println!(
        "POST /exchange: sent {} bytes (checksum {}), received {} bytes (checksum {})",
        sent.len(),
        if ok_up { "matches" } else { "MISMATCH" },
        reply.len(),
        if ok_down { "matches" } else { "MISMATCH" },
    );
    serving.abort();
    Ok(if ok_up && ok_down {
        println!("http_axum: ok");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
