//! The data both ends of the HTTP and gRPC examples and tests check: a
//! checksum and a pseudo-random pattern. Shared by `examples/http_axum.rs`,
//! `checksum.rs` (so `examples/grpc_tonic.rs`) and localsock-tokio's HTTP
//! and gRPC tests.

/// FNV-1a, 64 bits: a checksum both ends compute the same way.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `len` bytes of a xorshift sequence from `seed`: data that no layer can
/// compress or reorder unnoticed.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}
