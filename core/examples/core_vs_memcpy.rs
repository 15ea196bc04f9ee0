//! Microbenchmark: bytes pushed through an in-memory pair of `Connection`s
//! in 64 KiB chunks (written by one side with the zero-copy `write(Bytes)`,
//! moved by a fake driver with one copy into the reader's `recv_buf`, taken
//! by the reader with `read_bytes`), against a plain memcpy loop over the
//! same chunks, in the same run.
//!
//! ```text
//! cargo run --release -p localsock-core --example core_vs_memcpy [MiB per round]
//! ```
//!
//! Not a test: it asserts nothing about speed; it prints GiB/s for both and
//! their ratio (the goal is core ≥ 0.5× memcpy).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes};
use localsock_core::{Action, Config, Connection, NameContext, OpenMode, Platform};

const CHUNK: usize = 64 * 1024;
const DISTINCT_CHUNKS: usize = 16;
const ROUNDS: usize = 5;

fn chunks() -> Vec<Bytes> {
    (0..DISTINCT_CHUNKS)
        .map(|i| Bytes::from((0..CHUNK).map(|j| (i * 31 + j) as u8).collect::<Vec<u8>>()))
        .collect()
}

fn pair() -> (Connection, Connection) {
    let config = Config::new(NameContext::new(Platform::Linux, "/tmp"));
    let mut writer = Connection::new(config.clone());
    writer.connect_to_server("bench", OpenMode::ReadWrite);
    let address = match writer.poll_action() {
        Some(Action::Connect { address, .. }) => address,
        other => panic!("expected a connect, got {other:?}"),
    };
    writer.handle_connected();
    while writer.poll_event().is_some() {}
    let reader = Connection::accepted(config, &address);
    (writer, reader)
}

/// Pushes `total` bytes through the pair; returns the bytes the reader got.
fn run_core(chunks: &[Bytes], total: usize) -> usize {
    let (mut writer, mut reader) = pair();
    let mut received = 0;
    let mut sent = 0;
    let mut i = 0;
    while sent < total {
        writer.write(chunks[i % chunks.len()].clone()).unwrap();
        i += 1;
        sent += CHUNK;
        while writer.wants_write() {
            // The "kernel": one copy from the writer's queue into the
            // reader's buffer, as much as the reader may take.
            let n = {
                let chunk = writer.transmit_chunks().next().unwrap();
                let n = chunk.len().min(reader.read_capacity());
                reader.recv_buf().put_slice(&chunk[..n]);
                n
            };
            reader.handle_received(n);
            writer.handle_sent(n);
            let got = reader.read_bytes(usize::MAX).unwrap();
            received += got.len();
            black_box(got);
        }
        while writer.poll_event().is_some() {}
        while reader.poll_event().is_some() {}
    }
    received
}

/// Copies `total` bytes of the same chunks into one destination buffer.
fn run_memcpy(chunks: &[Bytes], total: usize) -> usize {
    let mut dst = vec![0u8; CHUNK];
    let mut copied = 0;
    let mut i = 0;
    while copied < total {
        let src = &chunks[i % chunks.len()];
        i += 1;
        dst.copy_from_slice(black_box(src));
        black_box(&mut dst);
        copied += CHUNK;
    }
    copied
}

fn gib_per_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / (1u64 << 30) as f64
}

fn best_of(mut f: impl FnMut() -> usize) -> (usize, Duration) {
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        bytes = f();
        best = best.min(start.elapsed());
    }
    (bytes, best)
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let total = mib * 1024 * 1024;
    let chunks = chunks();
    // Warm up both paths (page faults, allocator).
    run_core(&chunks, 64 * CHUNK);
    run_memcpy(&chunks, 64 * CHUNK);

    let (core_bytes, core_t) = best_of(|| run_core(&chunks, total));
    let (copy_bytes, copy_t) = best_of(|| run_memcpy(&chunks, total));
    assert_eq!(core_bytes, total, "the reader got every byte");
    assert_eq!(copy_bytes, total);
    let core = gib_per_s(core_bytes, core_t);
    let copy = gib_per_s(copy_bytes, copy_t);
    println!("{mib} MiB in 64 KiB chunks, best of {ROUNDS} rounds");
    println!("core pair : {core:8.2} GiB/s  ({:?})", core_t);
    println!("memcpy    : {copy:8.2} GiB/s  ({:?})", copy_t);
    println!("ratio     : {:8.2}x memcpy", core / copy);
}
