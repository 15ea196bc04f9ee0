//! The two buffers of a connection: unread input and unsent output.
//!
//! Input lives in one `BytesMut` that the driver reads into directly, so a
//! byte is copied once from the kernel and, with [`ReadBuffer::split_to`],
//! handed to the user without a second copy. Output is a queue of `Bytes`:
//! owned data is queued as is, small pieces are coalesced into one growing
//! tail so that many small writes leave in few system calls.

use alloc::collections::VecDeque;
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// How much the driver is offered per read when the buffer is unlimited.
pub const READ_CHUNK: usize = 64 * 1024;

/// Writes shorter than this are copied into the coalescing tail rather than
/// queued as their own chunk; longer owned writes are queued without a copy.
pub const COALESCE_MAX: usize = 16 * 1024;

/// Unread input.
#[derive(Debug, Default)]
pub struct ReadBuffer {
    buf: BytesMut,
    /// Length before the driver's read, to count what it added.
    mark: usize,
}

impl ReadBuffer {
    /// Bytes buffered.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is buffered.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The spare capacity to read into, at most `cap` bytes.
    pub fn spare(&mut self, cap: usize) -> bytes::buf::Limit<&mut BytesMut> {
        if self.buf.capacity() - self.buf.len() < cap {
            self.buf.reserve(cap);
        }
        self.mark = self.buf.len();
        (&mut self.buf).limit(cap)
    }

    /// Bytes the driver added since the last [`spare`](Self::spare).
    pub fn take_added(&mut self) -> usize {
        let added = self.buf.len().saturating_sub(self.mark);
        self.mark = self.buf.len();
        added
    }

    /// Copies up to `out.len()` bytes out and consumes them.
    pub fn read(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.buf.len());
        self.buf.copy_to_slice(&mut out[..n]);
        self.mark = self.buf.len();
        n
    }

    /// Copies up to `out.len()` bytes out without consuming them.
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        n
    }

    /// Takes up to `n` bytes without copying.
    pub fn split_to(&mut self, n: usize) -> Bytes {
        let n = n.min(self.buf.len());
        let out = self.buf.split_to(n).freeze();
        self.mark = self.buf.len();
        out
    }

    /// Drops up to `n` bytes.
    pub fn skip(&mut self, n: usize) -> usize {
        let n = n.min(self.buf.len());
        self.buf.advance(n);
        self.mark = self.buf.len();
        n
    }

    /// The buffered bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.mark = 0;
    }
}

/// Unsent output, in order.
#[derive(Debug, Default)]
pub struct WriteQueue {
    /// Full chunks, oldest first; all non-empty. `None` until the first
    /// one: most connections write only small pieces or nothing, and
    /// dropping an empty deque is a call, while dropping `None` is a check.
    chunks: Option<VecDeque<Bytes>>,
    /// Small writes coalesced after the chunks.
    tail: BytesMut,
    len: usize,
}

impl WriteQueue {
    /// Bytes queued.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues owned data: small pieces are coalesced, large ones queued
    /// without a copy.
    pub fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        if data.len() < COALESCE_MAX {
            self.tail.extend_from_slice(&data);
        } else {
            self.seal_tail();
            self.chunks
                .get_or_insert_with(VecDeque::new)
                .push_back(data);
        }
    }

    /// Queues borrowed data (one copy, into the tail).
    pub fn push_slice(&mut self, data: &[u8]) {
        self.len += data.len();
        self.tail.extend_from_slice(data);
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let sealed = self.tail.split().freeze();
            self.chunks
                .get_or_insert_with(VecDeque::new)
                .push_back(sealed);
        }
    }

    /// The queued bytes as slices, oldest first, for a vectored write.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.chunks
            .iter()
            .flatten()
            .map(|b| &b[..])
            .chain(core::iter::once(&self.tail[..]).filter(|s| !s.is_empty()))
    }

    /// Consumes `n` bytes that the OS took. Returns how many were consumed
    /// (less than `n` only if `n` exceeds what was queued).
    pub fn consume(&mut self, mut n: usize) -> usize {
        let want = n.min(self.len);
        n = want;
        while n > 0 {
            match self.chunks.as_mut().and_then(VecDeque::front_mut) {
                Some(front) => {
                    if front.len() <= n {
                        n -= front.len();
                        self.chunks.as_mut().and_then(VecDeque::pop_front);
                    } else {
                        front.advance(n);
                        n = 0;
                    }
                }
                None => {
                    if n >= self.tail.len() {
                        // Keeps the tail's start, so the next small write
                        // fits without a `reserve` that moves it back.
                        self.tail.clear();
                    } else {
                        self.tail.advance(n);
                    }
                    n = 0;
                }
            }
        }
        self.len -= want;
        want
    }

    /// Drops everything queued.
    #[inline]
    pub fn clear(&mut self) {
        // Usually empty (every connect clears it): skip the deque's call.
        if self.len != 0 {
            if let Some(chunks) = &mut self.chunks {
                chunks.clear();
            }
            self.tail.clear();
            self.len = 0;
        }
    }
}
