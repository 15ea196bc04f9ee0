//! localsock-smol against raw `async_io::Async<UnixStream>`, same process,
//! same executor layout (both ends on one thread), reporting ratios.
//!
//! ```text
//! cargo run --release -p localsock-smol --example compare_raw [-- quick]
//! ```
//!
//! A: 64-byte ping-pong (median round trip). B: bulk in 64 KiB and 4 KiB
//! writes, the reader counts and discards. Each figure is the median of
//! three runs; compare ratios, not absolute numbers.

#[cfg(unix)]
mod bench {
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::time::{Duration, Instant};

    use async_io::Async;
    use futures_lite::future;
    use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use localsock_smol::{LocalServer, LocalSocket};

    fn name(tag: &str) -> String {
        format!("lsk-bench-{tag}-{}", std::process::id())
    }

    async fn raw_pair() -> (Async<UnixStream>, Async<UnixStream>) {
        let path = std::env::temp_dir().join(name("raw"));
        let _ = std::fs::remove_file(&path);
        let listener = Async::new(UnixListener::bind(&path).unwrap()).unwrap();
        let client = Async::<UnixStream>::connect(&path).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let _ = std::fs::remove_file(&path);
        (client, server)
    }

    async fn ours_pair() -> (LocalSocket, LocalSocket, LocalServer) {
        let mut server = LocalServer::new();
        server.listen(&name("ours")).unwrap();
        let client = LocalSocket::connect(server.server_name()).await.unwrap();
        let peer = server.accept().await.unwrap();
        (client, peer, server)
    }

    /// Median round trip of `n` 64-byte ping-pongs (after 1,000 warm-up).
    async fn ping_pong<C, S>(client: &mut C, server: &mut S, n: usize) -> Duration
    where
        C: AsyncRead + AsyncWrite + Unpin,
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let total = n + 1000;
        let serve = async {
            let mut buf = [0u8; 64];
            for _ in 0..total {
                server.read_exact(&mut buf).await.unwrap();
                server.write_all(&buf).await.unwrap();
                server.flush().await.unwrap();
            }
        };
        let ask = async {
            let mut times = Vec::with_capacity(n);
            let msg = [7u8; 64];
            let mut buf = [0u8; 64];
            for i in 0..total {
                let t = Instant::now();
                client.write_all(&msg).await.unwrap();
                client.flush().await.unwrap();
                client.read_exact(&mut buf).await.unwrap();
                if i >= 1000 {
                    times.push(t.elapsed());
                }
            }
            times.sort();
            times[times.len() / 2]
        };
        future::zip(serve, ask).await.1
    }

    /// GiB/s moving `total` bytes in writes of `chunk`.
    async fn bulk<C, S>(writer: &mut C, reader: &mut S, total: usize, chunk: usize) -> f64
    where
        C: AsyncWrite + Unpin,
        S: AsyncRead + Unpin,
    {
        let data = vec![1u8; chunk];
        let t = Instant::now();
        let write = async {
            let mut sent = 0;
            while sent < total {
                writer.write_all(&data).await.unwrap();
                sent += chunk;
            }
            writer.flush().await.unwrap();
        };
        let read = async {
            let mut buf = vec![0u8; 64 << 10];
            let mut got = 0;
            while got < total {
                got += reader.read(&mut buf).await.unwrap();
            }
        };
        future::zip(write, read).await;
        total as f64 / t.elapsed().as_secs_f64() / (1u64 << 30) as f64
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    pub fn main() {
        let quick = std::env::args().any(|a| a == "quick");
        // `pingpong-raw` / `pingpong-ours`: one side of A only (for
        // profiling and syscall counts).
        if let Some(which) =
            std::env::args().find_map(|a| a.strip_prefix("pingpong-").map(str::to_string))
        {
            smol::block_on(async {
                let t = if which == "raw" {
                    let (mut c, mut s) = raw_pair().await;
                    ping_pong(&mut c, &mut s, 20_000).await
                } else {
                    let (mut c, mut s, _server) = ours_pair().await;
                    ping_pong(&mut c, &mut s, 20_000).await
                };
                println!("{which}: median {:.2} us", t.as_secs_f64() * 1e6);
            });
            return;
        }
        // `bulk-raw` / `bulk-ours`: one side of B (64 KiB) only.
        if let Some(which) =
            std::env::args().find_map(|a| a.strip_prefix("bulk-").map(str::to_string))
        {
            smol::block_on(async {
                let gibs = if which == "raw" {
                    let (mut c, mut s) = raw_pair().await;
                    bulk(&mut c, &mut s, 256 << 20, 64 << 10).await
                } else {
                    let (mut c, mut s, _server) = ours_pair().await;
                    bulk(&mut c, &mut s, 256 << 20, 64 << 10).await
                };
                println!("{which}: {gibs:.2} GiB/s");
            });
            return;
        }
        let (rounds, bulk_total) = if quick {
            (20_000, 256usize << 20)
        } else {
            (100_000, 1usize << 30)
        };
        smol::block_on(async {
            let (mut rc, mut rs) = raw_pair().await;
            let (mut oc, mut os, _server) = ours_pair().await;
            let (mut ra, mut oa) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                ra.push(ping_pong(&mut rc, &mut rs, rounds).await.as_secs_f64() * 1e6);
                oa.push(ping_pong(&mut oc, &mut os, rounds).await.as_secs_f64() * 1e6);
            }
            let (ra, oa) = (median(ra), median(oa));
            println!(
                "A 64 B ping-pong   raw {ra:7.2} us   localsock {oa:7.2} us   ratio {:.3} (target <= 1.10)",
                oa / ra
            );
            for chunk in [64usize << 10, 4 << 10] {
                let (mut rb, mut ob) = (Vec::new(), Vec::new());
                for _ in 0..3 {
                    rb.push(bulk(&mut rc, &mut rs, bulk_total, chunk).await);
                    ob.push(bulk(&mut oc, &mut os, bulk_total, chunk).await);
                }
                let (rb, ob) = (median(rb), median(ob));
                println!(
                    "B bulk {:>2} KiB     raw {rb:7.2} GiB/s localsock {ob:7.2} GiB/s ratio {:.3} (target >= 0.95)",
                    chunk >> 10,
                    ob / rb
                );
            }
        });
    }
}

fn main() {
    #[cfg(unix)]
    bench::main();
    #[cfg(not(unix))]
    println!("compare_raw measures against async_io::Async<UnixStream>: Unix only");
}
