//! Windows: overlapped named-pipe handles waited on with
//! `WaitForMultipleObjects`, so a read and a write can be in flight at once
//! (a synchronous handle would serialise them and deadlock full duplex on
//! real Windows).

use std::io;
use std::os::windows::io::BorrowedHandle;
use std::time::Duration;

use bytes::BufMut;
use localsock_core::{Address, Connection, ListenError, ListenPlan, PeerCredentials};

use super::Connect;
use localsock_os::windows as sys;

/// A connected pipe (client or server side).
#[derive(Debug)]
pub(crate) struct Stream {
    pipe: sys::PipeStream,
    /// Bytes of the core's queue inside the overlapped write in flight:
    /// reported to the core only when the write completes, so a drain
    /// waits for them.
    in_flight: usize,
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

impl Stream {
    /// Overlapped reads complete into the stream's own buffer: no direct
    /// reads into the caller's.
    pub(crate) const DIRECT_READS: bool = false;
    /// An overlapped write must outlive the call: writes go through the
    /// queue (see `send_direct`).
    pub(crate) const DIRECT_WRITES: bool = false;

    /// A connect can wait for a busy pipe's instance to be free
    /// (`backlog_wait` below).
    pub(crate) const CONNECT_WAITS_FOR_BACKLOG: bool = true;

    /// Opens the pipe. Both directions are always requested: the core
    /// enforces the open mode, and a write-only socket must still read to
    /// notice that the peer closed. With `backlog_wait`, a busy pipe is
    /// waited for (`WaitNamedPipe`) for up to that long.
    pub(crate) fn connect(
        address: &Address,
        backlog_wait: Option<Duration>,
    ) -> io::Result<Connect> {
        let name = address.as_str();
        let pipe = match backlog_wait {
            Some(wait) => sys::PipeStream::connect_waiting(name, true, true, wait)?,
            None => sys::PipeStream::connect(name, true, true)?,
        };
        Ok(Connect::Done(Stream::from_pipe(pipe)))
    }

    pub(crate) fn from_pipe(pipe: sys::PipeStream) -> Self {
        Stream { pipe, in_flight: 0 }
    }

    /// An adopted pipe handle (checked by `localsock_os::descriptor::inspect`).
    pub(crate) fn adopt(
        handle: std::os::windows::io::OwnedHandle,
        server: bool,
    ) -> io::Result<Self> {
        Ok(Stream::from_pipe(sys::PipeStream::from_handle(
            handle, server,
        )?))
    }

    pub(crate) fn as_handle(&self) -> BorrowedHandle<'_> {
        std::os::windows::io::AsHandle::as_handle(&self.pipe)
    }

    pub(crate) fn finish_connect(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Hands the core what a completed read returned; arms a read otherwise.
    /// `Ok(0)` is end of stream.
    pub(crate) fn recv_into(&mut self, conn: &mut Connection) -> io::Result<usize> {
        let cap = conn.read_capacity();
        self.pipe.read_with(cap, |data| {
            let mut buf = conn.recv_buf();
            let n = buf.remaining_mut().min(data.len());
            buf.put_slice(&data[..n]);
            n
        })
    }

    /// Direct reads are not worth it with overlapped I/O (the kernel writes
    /// into our buffer anyway): always go through the core's buffer.
    pub(crate) fn recv_direct(&mut self, _out: &mut [u8], _wait: bool) -> io::Result<usize> {
        Err(would_block())
    }

    /// Reports a completed write, or starts the next one. Bytes count as
    /// sent when their write completes.
    pub(crate) fn send(&mut self, conn: &Connection) -> io::Result<usize> {
        if self.pipe.write_pending() {
            return match self.pipe.complete_write()? {
                None => Err(would_block()),
                Some(n) => {
                    self.in_flight = 0;
                    Ok(n)
                }
            };
        }
        let chunks: Vec<&[u8]> = conn.transmit_chunks().take(16).collect();
        if chunks.is_empty() {
            return Err(would_block());
        }
        self.in_flight = self.pipe.start_write(&chunks)?;
        // Collect at once if it already finished; else wait for the event.
        match self.pipe.complete_write()? {
            None => Err(would_block()),
            Some(n) => {
                self.in_flight = 0;
                Ok(n)
            }
        }
    }

    /// A direct write would have to stay alive until completion: use the
    /// queue instead.
    pub(crate) fn send_direct(&mut self, _data: &[u8]) -> io::Result<usize> {
        Err(would_block())
    }

    /// Direct writes never happen on pipes (`DIRECT_WRITES` is false).
    pub(crate) fn start_patient_sends(&mut self, _patience: Duration) -> bool {
        false
    }

    /// Never used (see `start_patient_sends`).
    pub(crate) fn send_direct_patient(&mut self, _data: &[u8]) -> io::Result<usize> {
        Err(would_block())
    }

    /// Waits on the events of the operations in flight; `true` if one fired.
    pub(crate) fn wait(
        &mut self,
        read: bool,
        write: bool,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let mut handles: Vec<BorrowedHandle<'_>> = Vec::with_capacity(2);
        if read {
            if self.pipe.has_carry() || !self.pipe.read_pending() {
                // Data is here, or no read is in flight to wait for: the
                // caller's next read hands it over or starts one. Waiting
                // on the write alone could wait forever — when the peer
                // too waits for its write to be read.
                return Ok(true);
            }
            handles.push(self.pipe.read_event());
        }
        if write && self.pipe.write_pending() {
            handles.push(self.pipe.write_event());
        }
        if handles.is_empty() {
            // Nothing in flight to wait for: let the caller make progress.
            return Ok(true);
        }
        Ok(sys::wait(&handles, timeout)?.is_some())
    }

    /// Direct writes never happen on pipes (`DIRECT_WRITES` is false), so
    /// nothing waits through this.
    pub(crate) fn wait_ready(&mut self, _read: bool, _write: bool) -> io::Result<bool> {
        Err(io::ErrorKind::Unsupported.into())
    }

    /// Pipes have no half-close: the core treats their end of stream as the
    /// peer gone, so there is nothing to probe.
    pub(crate) fn hung_up(&self) -> bool {
        false
    }

    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        self.pipe.peer_credentials()
    }

    /// Pipes have no half-close.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "named pipes cannot be half-closed",
        ))
    }
}

/// A set of armed pipe instances.
#[derive(Debug)]
pub(crate) struct Listener {
    inner: sys::PipeListener,
}

impl Listener {
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener, ListenError> {
        Ok(Listener {
            inner: sys::listen_plan(plan)?,
        })
    }

    /// Takes a connected instance without blocking (a fresh one is armed
    /// before it is handed off).
    pub(crate) fn accept(&mut self) -> io::Result<Option<Stream>> {
        Ok(self.inner.accept()?.map(Stream::from_pipe))
    }

    /// Waits until a client may have connected.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        Ok(sys::wait(&[self.inner.event()], timeout)?.is_some())
    }

    /// Takes a connected instance, waiting as long as it takes.
    pub(crate) fn accept_wait(&mut self) -> io::Result<Stream> {
        loop {
            if let Some(s) = self.accept()? {
                return Ok(s);
            }
            self.wait(None)?;
        }
    }

    /// Closes the listener; pipes leave no file behind.
    pub(crate) fn close(self, _socket_file: Option<&str>) {}
}
