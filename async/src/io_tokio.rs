//! tokio's `AsyncRead`, `AsyncBufRead` and `AsyncWrite` (feature `tokio`):
//! each method is one call into the driver.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use crate::driver::Directions;
use crate::{LocalSocket, OwnedReadHalf, OwnedWriteHalf, Runtime};

/// Reads through `read` into `buf`'s unfilled part. The part is
/// initialised first (zeroed once; a `ReadBuf` remembers what it
/// initialised, so a buffer reused across reads is zeroed only once).
fn read_into(
    buf: &mut ReadBuf<'_>,
    read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<()>> {
    let n = std::task::ready!(read(buf.initialize_unfilled()))?;
    buf.advance(n);
    Poll::Ready(Ok(()))
}

impl<R: Runtime> AsyncRead for LocalSocket<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        read_into(buf, |out| {
            this.driver
                .poll_read(cx, &mut this.timer, Directions::BOTH, out)
        })
    }
}

impl<R: Runtime> AsyncBufRead for LocalSocket<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        std::task::ready!(this
            .driver
            .poll_fill_buf(cx, &mut this.timer, Directions::BOTH))?;
        Poll::Ready(Ok(this.driver.conn.buffered()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let _ = self.get_mut().driver.conn.skip(amt);
    }
}

/// `shutdown` flushes, then half-closes (see [`LocalSocket`]).
impl<R: Runtime> AsyncWrite for LocalSocket<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.driver
            .poll_write(cx, &mut this.timer, Directions::BOTH, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.driver
            .poll_flush(cx, &mut this.timer, Directions::BOTH)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.driver
            .poll_shutdown(cx, &mut this.timer, Directions::BOTH)
    }
}

impl<R: Runtime> AsyncRead for OwnedReadHalf<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        read_into(buf, |out| this.poll_read_into(cx, out))
    }
}

impl<R: Runtime> AsyncBufRead for OwnedReadHalf<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().poll_fill(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().consume_buffered(amt);
    }
}

impl<R: Runtime> AsyncWrite for OwnedWriteHalf<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_from(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_shutdown(cx)
    }
}
