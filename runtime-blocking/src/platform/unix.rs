//! Unix: `AF_UNIX` streams waited on with `poll(2)`. Every I/O call is
//! non-blocking (`MSG_DONTWAIT`); a connected stream is nevertheless put in
//! blocking mode so that a plain `Read::read` can wait inside one `recv`,
//! as `std` does, instead of `poll` plus `recv`.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use localsock_core::{Address, Connection, ListenError, ListenPlan, PeerCredentials};

use super::Connect;
use localsock_os::unix as sys;

/// A connected (or connecting) stream.
#[derive(Debug)]
pub(crate) struct Stream {
    inner: UnixStream,
    /// Whether the descriptor is in blocking mode, so that a thread can wait
    /// inside `recv` or `send` (every other call passes `MSG_DONTWAIT`).
    mode: Mode,
}

/// The descriptor's mode (see [`sys::use_blocking_waits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Non-blocking; switched to blocking the first time a thread would
    /// wait (a connection that never waits never pays the system call).
    NonBlocking,
    /// Blocking: waits happen inside `recv` / `send`.
    Blocking,
    /// Non-blocking for good (the switch failed, or the platform's writes
    /// cannot pass `MSG_DONTWAIT`): waits use `poll`.
    PollOnly,
}

impl Stream {
    /// Reads can go straight into the caller's buffer.
    pub(crate) const DIRECT_READS: bool = true;
    /// Writes can go straight from the caller's buffer.
    pub(crate) const DIRECT_WRITES: bool = true;

    /// Whether a connect can wait inside the OS for room in a full
    /// backlog (`backlog_wait` below).
    pub(crate) const CONNECT_WAITS_FOR_BACKLOG: bool = sys::CONNECT_WAITS_FOR_BACKLOG;

    /// Connects without blocking; with `backlog_wait`, waits inside the
    /// kernel for up to that long while the server's backlog is full.
    pub(crate) fn connect(
        address: &Address,
        backlog_wait: Option<Duration>,
    ) -> io::Result<Connect> {
        let address = sys::socket_address(address);
        // `connect_waiting` hands back a blocking descriptor.
        let (connecting, mode) = match backlog_wait {
            Some(wait) if Self::CONNECT_WAITS_FOR_BACKLOG => {
                (sys::connect_waiting(&address, wait)?, Mode::Blocking)
            }
            _ => (sys::connect(&address)?, Mode::NonBlocking),
        };
        Ok(match connecting {
            sys::Connecting::Connected(inner) => Connect::Done(Stream { inner, mode }),
            sys::Connecting::InProgress(inner) => Connect::InProgress(Stream { inner, mode }),
        })
    }

    /// An adopted socket (made non-blocking and close-on-exec by
    /// `localsock_os::descriptor::prepare`).
    pub(crate) fn adopt(fd: std::os::fd::OwnedFd) -> Stream {
        Stream {
            inner: fd.into(),
            mode: Mode::NonBlocking,
        }
    }

    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }

    pub(crate) fn finish_connect(&mut self) -> io::Result<()> {
        sys::finish_connect(&self.inner)
    }

    /// Puts the descriptor in blocking mode unless it is already, or cannot
    /// be; true if it is. If the switch fails the stream stays
    /// non-blocking, which is correct too, only slower per wait.
    fn blocking(&mut self) -> bool {
        if self.mode == Mode::NonBlocking {
            self.mode = match sys::use_blocking_waits(self.inner.as_fd()) {
                Ok(true) => Mode::Blocking,
                _ => Mode::PollOnly,
            };
        }
        self.mode == Mode::Blocking
    }

    /// Reads into the core's buffer. `Ok(0)` is end of stream.
    pub(crate) fn recv_into(&mut self, conn: &mut Connection) -> io::Result<usize> {
        sys::recv_into(self.inner.as_fd(), &mut conn.recv_buf())
    }

    /// Reads straight into the user's buffer. `Ok(0)` is end of stream.
    /// With `wait`, blocks inside `recv` until data (or the end) arrives
    /// when the descriptor allows it; otherwise never blocks.
    pub(crate) fn recv_direct(&mut self, out: &mut [u8], wait: bool) -> io::Result<usize> {
        if wait && self.mode == Mode::Blocking {
            return sys::recv_wait(self.inner.as_fd(), out);
        }
        match sys::recv_nowait(self.inner.as_fd(), out) {
            Err(e) if wait && e.kind() == io::ErrorKind::WouldBlock && self.blocking() => {
                sys::recv_wait(self.inner.as_fd(), out)
            }
            r => r,
        }
    }

    /// Sends the core's pending chunks with one system call.
    pub(crate) fn send(&mut self, conn: &Connection) -> io::Result<usize> {
        sys::send_chunks(self.inner.as_fd(), conn.transmit_chunks())
    }

    /// Sends straight from the user's buffer, without waiting.
    pub(crate) fn send_direct(&mut self, data: &[u8]) -> io::Result<usize> {
        sys::send(self.inner.as_fd(), data)
    }

    /// Lets [`send_direct_patient`](Self::send_direct_patient) wait inside
    /// `send` for up to `patience`; false if this stream cannot (it is not
    /// in blocking mode, or the option failed).
    pub(crate) fn start_patient_sends(&mut self, patience: Duration) -> bool {
        self.blocking() && sys::set_send_timeout(self.inner.as_fd(), patience).is_ok()
    }

    /// Sends straight from the user's buffer, waiting inside `send` for room
    /// for up to the patience given to `start_patient_sends` (one system
    /// call, as a blocking std stream makes); `WouldBlock` if nothing could
    /// be sent in that time.
    pub(crate) fn send_direct_patient(&mut self, data: &[u8]) -> io::Result<usize> {
        sys::send_wait(self.inner.as_fd(), data)
    }

    /// Waits for readability and/or writability; `true` if something is
    /// ready (hang-up and errors count: the next I/O call reports them).
    pub(crate) fn wait(
        &mut self,
        read: bool,
        write: bool,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        let r = sys::poll(self.inner.as_fd(), read, write, timeout)?;
        Ok(r.readable || r.writable || r.hangup || r.error)
    }

    /// Waits (no timeout) until writable when `write`, or readable when
    /// `read`; returns whether it is readable (hang-up and errors count:
    /// the next I/O call reports them).
    pub(crate) fn wait_ready(&mut self, read: bool, write: bool) -> io::Result<bool> {
        let r = sys::poll(self.inner.as_fd(), read, write, None)?;
        Ok(r.readable || r.hangup || r.error)
    }

    /// Whether the peer is gone for good (`POLLHUP`), as opposed to having
    /// only shut down its writing. Does not wait.
    pub(crate) fn hung_up(&self) -> bool {
        sys::hung_up(self.inner.as_fd()).unwrap_or(false)
    }

    pub(crate) fn peer_credentials(&self) -> io::Result<PeerCredentials> {
        sys::peer_credentials(self.inner.as_fd())
    }

    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        sys::shutdown_write(self.inner.as_fd())
    }
}

/// A listening socket.
#[derive(Debug)]
pub(crate) struct Listener {
    inner: UnixListener,
    /// The socket file `bind` created (`None` for an abstract name).
    file: Option<sys::SocketFileId>,
    /// The descriptor is in blocking mode (switched the first time a
    /// thread waits forever, so that it waits inside `accept`, as a std
    /// listener does); attempts that must not block `poll` first.
    blocking: bool,
}

impl Listener {
    pub(crate) fn bind(plan: &ListenPlan) -> Result<Listener, ListenError> {
        let bound = sys::listen_plan(plan)?;
        Ok(Listener {
            inner: bound.listener,
            file: bound.file,
            blocking: false,
        })
    }

    /// An adopted listening socket (prepared like [`Stream::adopt`]'s). No
    /// socket file is recorded: it was not created here, so it is never
    /// removed.
    pub(crate) fn adopt(fd: std::os::fd::OwnedFd) -> std::io::Result<Listener> {
        Ok(Listener {
            inner: fd.into(),
            file: None,
            blocking: false,
        })
    }

    pub(crate) fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }

    /// Accepts one pending connection without blocking. The stream is born
    /// in blocking mode where the platform allows, saving the switch.
    pub(crate) fn accept(&mut self) -> io::Result<Option<Stream>> {
        // A blocking descriptor's `accept` would wait: look first. Nothing
        // else accepts on it (the server is `&mut`, the descriptor
        // close-on-exec), so a pending connection stays pending.
        if self.blocking && !self.wait(Some(Duration::ZERO))? {
            return Ok(None);
        }
        self.take()
    }

    fn take(&mut self) -> io::Result<Option<Stream>> {
        Ok(
            sys::accept_for_blocking_waits(&self.inner)?.map(|(inner, blocking)| Stream {
                inner,
                mode: if blocking {
                    Mode::Blocking
                } else {
                    Mode::NonBlocking
                },
            }),
        )
    }

    /// Accepts one connection, waiting as long as it takes: inside
    /// `accept` (one system call per connection, as std's listener), once
    /// the descriptor is in blocking mode; with `poll` where it cannot be.
    pub(crate) fn accept_wait(&mut self) -> io::Result<Stream> {
        loop {
            if !self.blocking {
                if let Some(s) = self.take()? {
                    return Ok(s);
                }
                self.blocking = matches!(sys::use_blocking_waits(self.inner.as_fd()), Ok(true));
                if !self.blocking {
                    self.wait(None)?;
                    continue;
                }
            }
            if let Some(s) = self.take()? {
                return Ok(s);
            }
        }
    }

    /// Waits until a connection can be accepted; `true` if one can.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let r = sys::poll(self.inner.as_fd(), true, false, timeout)?;
        Ok(r.readable || r.error || r.hangup)
    }

    /// Closes the listener. The socket file at `socket_file` (the core's
    /// [`socket_file`](localsock_core::Server::socket_file)) is removed
    /// first, and only if it is still the file this listener created: never
    /// a newer server's, after ours was deleted behind our back.
    pub(crate) fn close(self, socket_file: Option<&str>) {
        if let (Some(path), Some(id)) = (socket_file, self.file) {
            let _ = sys::remove_if_same(Path::new(path), id);
        }
    }
}
