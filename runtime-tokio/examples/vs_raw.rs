//! localsock-tokio against raw `tokio::net::UnixStream` on the same runtime
//! flavour, in one process invocation (only ratios are meaningful):
//! A = 64-byte ping-pong round trips, B = bulk transfer in 64 KiB and 4 KiB
//! writes.
//!
//! ```text
//! cargo run --release -p localsock-tokio --example vs_raw [current|multi] [rounds] [MiB]
//! ```

#[cfg(unix)]
mod unix {
    use std::time::{Duration, Instant};

    use localsock_tokio::{LocalServer, LocalSocket};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::{UnixListener, UnixStream};

    async fn ping_pong<C, S>(mut client: C, mut server: S, rounds: usize) -> Duration
    where
        C: AsyncRead + AsyncWrite + Unpin,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while server.read_exact(&mut buf).await.is_ok() {
                server.write_all(&buf).await.unwrap();
                server.flush().await.unwrap();
            }
        });
        let mut buf = [7u8; 64];
        for _ in 0..rounds / 100 {
            client.write_all(&buf).await.unwrap();
            client.flush().await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
        }
        let start = Instant::now();
        for _ in 0..rounds {
            client.write_all(&buf).await.unwrap();
            client.flush().await.unwrap();
            client.read_exact(&mut buf).await.unwrap();
        }
        let took = start.elapsed() / rounds as u32;
        drop(client);
        let _ = echo.await;
        took
    }

    async fn bulk<C, S>(mut writer: C, mut reader: S, total: usize, chunk: usize) -> f64
    where
        C: AsyncWrite + Unpin + Send + 'static,
        S: AsyncRead + Unpin,
    {
        let start = Instant::now();
        let w = tokio::spawn(async move {
            let data = vec![1u8; chunk];
            let mut sent = 0;
            while sent < total {
                writer.write_all(&data).await.unwrap();
                sent += chunk;
            }
            writer.shutdown().await.unwrap();
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        w.await.unwrap();
        assert!(got >= total);
        got as f64 / start.elapsed().as_secs_f64() / (1u64 << 30) as f64
    }

    async fn raw_pair(tag: &str) -> (UnixStream, UnixStream) {
        let path = std::env::temp_dir().join(format!("lsk-bench-raw-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).unwrap();
        let c = UnixStream::connect(&path).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let _ = std::fs::remove_file(&path);
        (c, s)
    }

    async fn ours_pair(tag: &str) -> (LocalSocket, LocalSocket, LocalServer) {
        let name = format!("lsk-bench-{tag}-{}", std::process::id());
        let mut server = LocalServer::new();
        server.listen(&name).unwrap();
        let c = LocalSocket::connect(&name).await.unwrap();
        let s = server.accept().await.unwrap();
        (c, s, server)
    }

    async fn run(rounds: usize, mib: usize) {
        let total = mib << 20;
        if let Ok(only) = std::env::var("LSK_ONLY") {
            // Profiling aid: one workload on one side, e.g. `LSK_ONLY=a-ours`.
            let t = Instant::now();
            match only.as_str() {
                "a-raw" => drop(ping_pong_raw(rounds).await),
                "a-ours" => drop(ping_pong_ours(rounds).await),
                "b-raw" => drop(bulk_raw(total, 64 * 1024).await),
                "b-ours" => drop(bulk_ours(total, 64 * 1024).await),
                other => panic!("unknown LSK_ONLY={other}"),
            }
            println!("{only}: {:?}", t.elapsed());
            return;
        }
        for round in 0..3 {
            let (c, s) = raw_pair("a").await;
            let raw_a = ping_pong(c, s, rounds).await;
            let (c, s, _srv) = ours_pair("a").await;
            let ours_a = ping_pong(c, s, rounds).await;
            println!(
                "[{round}] A ping-pong  raw {:>8.2?}  ours {:>8.2?}  ratio {:.3}",
                raw_a,
                ours_a,
                ours_a.as_secs_f64() / raw_a.as_secs_f64()
            );
            for chunk in [64 * 1024, 4 * 1024] {
                let (c, s) = raw_pair("b").await;
                let raw_b = bulk(c, s, total, chunk).await;
                let (c, s, _srv) = ours_pair("b").await;
                let ours_b = bulk(c, s, total, chunk).await;
                println!(
                    "[{round}] B {:>2} KiB     raw {raw_b:>6.2} GiB/s  ours {ours_b:>6.2} GiB/s  ratio {:.3}",
                    chunk / 1024,
                    ours_b / raw_b
                );
            }
        }
    }

    async fn ping_pong_raw(rounds: usize) -> Duration {
        let (c, s) = raw_pair("a").await;
        ping_pong(c, s, rounds).await
    }

    async fn ping_pong_ours(rounds: usize) -> Duration {
        let (c, s, _srv) = ours_pair("a").await;
        ping_pong(c, s, rounds).await
    }

    async fn bulk_raw(total: usize, chunk: usize) -> f64 {
        let (c, s) = raw_pair("b").await;
        bulk(c, s, total, chunk).await
    }

    async fn bulk_ours(total: usize, chunk: usize) -> f64 {
        let (c, s, _srv) = ours_pair("b").await;
        bulk(c, s, total, chunk).await
    }

    pub fn main() {
        let mut args = std::env::args().skip(1);
        let flavor = args.next().unwrap_or_else(|| "current".into());
        let rounds = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
        let mib = args.next().and_then(|a| a.parse().ok()).unwrap_or(2048);
        let rt = if flavor == "multi" {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        }
        .enable_all()
        .build()
        .unwrap();
        println!("tokio {flavor}: {rounds} round trips, {mib} MiB bulk");
        rt.block_on(run(rounds, mib));
    }
}

fn main() {
    #[cfg(unix)]
    unix::main();
    #[cfg(not(unix))]
    eprintln!("Unix only for now");
}
