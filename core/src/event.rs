//! Qt's states, open modes and signals.

use crate::error::{ServerError, SocketError};
use crate::name::Address;

/// `QLocalSocket::LocalSocketState`, with Qt's numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum State {
    /// No connection; the initial and the final state.
    Unconnected = 0,
    /// A connect is under way (a full backlog or busy pipe is being retried).
    Connecting = 2,
    /// Connected.
    Connected = 3,
    /// `disconnect_from_server` was called; pending writes are draining.
    Closing = 6,
}

impl State {
    /// Whether Qt's state graph has an edge from `self` to `to`.
    pub fn can_move_to(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (Unconnected, Connecting)
                | (Connecting, Connected)
                | (Connecting, Unconnected)
                | (Connected, Closing)
                | (Connected, Unconnected)
                | (Closing, Unconnected)
                | (Closing, Connecting)
        )
    }
}

/// `QIODevice::OpenMode` as far as a local socket uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenMode {
    /// Reads only; writes are refused.
    ReadOnly,
    /// Writes only; incoming bytes are read and discarded so the end of the
    /// connection is still noticed (as in Qt).
    WriteOnly,
    /// Both directions (the default).
    ReadWrite,
}

impl OpenMode {
    /// Whether reading is allowed.
    pub fn can_read(self) -> bool {
        !matches!(self, OpenMode::WriteOnly)
    }

    /// Whether writing is allowed.
    pub fn can_write(self) -> bool {
        !matches!(self, OpenMode::ReadOnly)
    }
}

/// Qt's signals, queued in the order Qt emits them. Drain them with
/// [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// `stateChanged(state)`.
    StateChanged(State),
    /// `connected()`.
    Connected,
    /// `readyRead()`: new data was buffered.
    ReadyRead,
    /// `bytesWritten(n)`: the OS took `n` more bytes.
    BytesWritten(usize),
    /// `errorOccurred(error)`.
    Error(SocketError),
    /// `readChannelFinished()`: no more data will arrive.
    ReadChannelFinished,
    /// `aboutToClose()`: emitted by `close`/`abort` while data is still readable.
    AboutToClose,
    /// `disconnected()`: once per connection.
    Disconnected,
}

/// `QLocalServer`'s signals, queued in the order Qt emits them. Drain them
/// with [`Server::poll_event`](crate::Server::poll_event).
///
/// Qt's `QLocalServer` has one signal, `newConnection()`. Accept failures
/// are an addition, named after `QTcpServer::acceptError`: Qt's local
/// server closes on them, ours keeps listening (docs/semantics.md,
/// difference 10), so code written in the signal style needs to see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerEvent {
    /// `newConnection()`: one accepted connection was queued; take it with
    /// `next_pending_connection`. One per connection, in accept order.
    NewConnection,
    /// Accepting failed (out of descriptors, say) while nothing was
    /// queued; the server keeps listening. Consecutive identical failures
    /// are merged into one.
    AcceptError(ServerError),
}

/// What the driver must do with the OS next. Drain with
/// [`Connection::poll_action`](crate::Connection::poll_action).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// Start a connect to `address` (a new non-blocking socket, or
    /// `CreateFile` on a pipe) and report the outcome with
    /// `handle_connected` or `handle_connect_error` (or
    /// `handle_connect_in_progress` while it is under way).
    Connect {
        /// Where to connect.
        address: Address,
        /// The access the user asked for (a pipe opens only what it needs).
        mode: OpenMode,
    },
    /// Release the OS object (close the socket or pipe handle), if one is
    /// held. Idempotent from the driver's point of view.
    Close,
}
