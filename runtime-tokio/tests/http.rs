//! axum serving and hyper calling over local sockets (Unix sockets; named
//! pipes under Wine): 1 MiB each way with checksums, the client's
//! credentials in axum's `ConnectInfo`, the server's in the response.
#![cfg(all(feature = "axum", feature = "hyper"))]

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use localsock_tokio::axum::PeerInfo;
use localsock_tokio::hyper::{server_name, uri, LocalConnector};
use localsock_tokio::{LocalServer, PeerCredentials};

#[path = "../../examples/support/data.rs"]
mod data;
use data::{fnv1a, pattern};

/// Answers the checksum of what it received in a header, and 1 MiB of its
/// own whose checksum is in another header.
async fn exchange(body: Bytes) -> (HeaderMap, Vec<u8>) {
    let reply = pattern(fnv1a(&body), 1 << 20);
    let mut headers = HeaderMap::new();
    headers.insert("x-received-fnv1a", fnv1a(&body).into());
    headers.insert("x-received-len", body.len().into());
    headers.insert("x-reply-fnv1a", fnv1a(&reply).into());
    (headers, reply)
}

async fn whoami(ConnectInfo(peer): ConnectInfo<PeerInfo>) -> String {
    let c = peer.credentials.unwrap_or_default();
    format!("{:?} {:?} {}", c.pid, c.uid, peer.full_server_name)
}

fn serve(tag: &str) -> (String, tokio::task::JoinHandle<()>) {
    let name = format!("localsock-http-{tag}-{}", std::process::id());
    let mut server = LocalServer::new();
    server.listen(&name).expect("listen");
    let app = Router::new()
        .route("/exchange", post(exchange))
        .route("/whoami", get(whoami));
    let serving = tokio::spawn(async move {
        let served = axum::serve(
            server,
            app.into_make_service_with_connect_info::<PeerInfo>(),
        )
        .await;
        panic!("serving ended: {served:?}");
    });
    (name, serving)
}

fn header(headers: &HeaderMap, name: &str) -> u64 {
    headers[name]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn one_mebibyte_each_way_with_checksums() {
    let (name, serving) = serve("exchange");
    let client =
        Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(LocalConnector::new());
    for round in 0..2u64 {
        // Two rounds: the second may reuse the pooled connection.
        let sent = pattern(round + 1, 1 << 20);
        let request = axum::http::Request::post(uri(&name, "/exchange").expect("uri"))
            .body(Full::new(Bytes::from(sent.clone())))
            .expect("request");
        let response = client.request(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let reply = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(header(&headers, "x-received-len"), 1 << 20);
        assert_eq!(header(&headers, "x-received-fnv1a"), fnv1a(&sent));
        assert_eq!(reply.len(), 1 << 20);
        assert_eq!(header(&headers, "x-reply-fnv1a"), fnv1a(&reply));
        assert_eq!(reply, pattern(fnv1a(&sent), 1 << 20));
    }
    serving.abort();
}

#[tokio::test]
async fn connect_info_carries_the_client_credentials() {
    let (name, serving) = serve("whoami");
    let client =
        Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(LocalConnector::new());
    let response = client
        .get(uri(&name, "/whoami").expect("uri"))
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    // The server's credentials, as the client's connector saw them.
    let server = *response
        .extensions()
        .get::<PeerCredentials>()
        .expect("server credentials");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = std::str::from_utf8(&body).expect("UTF-8");
    let mut full_name = localsock_tokio::LocalSocket::new();
    full_name.connect_to_server(&name);
    let expected_name = full_name.full_server_name().to_owned();
    drop(full_name);
    // Client and server are this process.
    #[cfg(any(target_os = "linux", windows))]
    let pid = Some(std::process::id());
    #[cfg(not(any(target_os = "linux", windows)))]
    let pid = None;
    #[cfg(unix)]
    let uid = Some(rustix::process::geteuid().as_raw());
    #[cfg(windows)]
    let uid: Option<u32> = None;
    assert_eq!(body, format!("{pid:?} {uid:?} {expected_name}"));
    assert_eq!(server.pid, pid);
    assert_eq!(server.uid, uid);
    serving.abort();
}

#[tokio::test]
async fn the_connector_refuses_uris_that_name_no_local_server() {
    let client =
        Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(LocalConnector::new());
    for bad in [
        "http://example.com/",
        "localsock://not-hex/",
        "localsock://6d7/",
    ] {
        let result = client.get(bad.parse().expect("a URI")).await;
        assert!(result.is_err(), "{bad}: {result:?}");
    }
    // A well-formed URI for a server that is not there.
    let missing = format!("localsock-http-missing-{}", std::process::id());
    let result = client.get(uri(&missing, "/").expect("uri")).await;
    assert!(result.is_err(), "connected to nothing: {result:?}");
}

#[test]
fn uris_carry_any_server_name() {
    for name in ["app", "/tmp/a b/c", r"\\.\pipe\x y", "dé/jà\\vu", "UPPER"] {
        let u = uri(name, "/p?q=1").expect("uri");
        assert_eq!(u.scheme_str(), Some("localsock"));
        assert_eq!(u.path_and_query().map(|p| p.as_str()), Some("/p?q=1"));
        assert_eq!(server_name(&u).as_deref(), Some(name), "{u}");
    }
    assert!(uri("", "/").is_err(), "an empty name");
    // Hex digits in either case; anything else is not a name.
    let upper: axum::http::Uri = "localsock://4170500a/".parse().expect("a URI");
    assert_eq!(server_name(&upper).as_deref(), Some("ApP\n"));
    let not_utf8: axum::http::Uri = "localsock://ff/".parse().expect("a URI");
    assert_eq!(server_name(&not_utf8), None);
}
