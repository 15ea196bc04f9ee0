//! [`Connection`]: everything a `QLocalSocket` decides, with no I/O.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::buffer::{ReadBuffer, WriteQueue, READ_CHUNK};
use crate::error::{
    classify_connect_error, classify_io_error, render, ConnectVerdict, DeviceError, Direction,
    ErrorSource, IoVerdict, LocalSocketError, SocketError, StreamError,
};
use crate::event::{Action, Event, OpenMode, State};
use crate::event_queue::EventQueue;
use crate::name::{resolve_for_connect, Address, NameContext};
use crate::os::OsError;

/// Qt's default connect timeout (`QT_CONNECT_TIMEOUT`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

const FIRST_READ: usize = 4 * 1024;
/// Undelivered events kept at most; see `push_event`.
pub const MAX_QUEUED_EVENTS: usize = 1024;
/// Queued bytes at which the driver writes without waiting for a flush.
pub const TRANSMIT_THRESHOLD: usize = 64 * 1024;
const RETRY_FIRST: Duration = Duration::from_millis(1);
const RETRY_MAX: Duration = Duration::from_millis(100);

/// The wait before retry number `retries` (from 0): doubling from
/// [`RETRY_FIRST`] up to [`RETRY_MAX`].
fn retry_backoff(retries: u8) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << retries.min(16))
        .min(RETRY_MAX)
}

/// Settings of a [`Connection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where names are resolved.
    pub name_context: NameContext,
    /// How long a connect may keep retrying a full backlog or busy pipe
    /// before it fails with `SocketTimeout` (Qt: 30 s).
    pub connect_timeout: Duration,
    /// How long `disconnect_from_server` may wait for pending writes to
    /// drain before giving up with `SocketTimeout`. `None` (Qt's behaviour)
    /// waits as long as the peer keeps the connection open.
    pub drain_timeout: Option<Duration>,
}

impl Config {
    /// Qt's defaults for the given name context.
    pub fn new(name_context: NameContext) -> Self {
        Config {
            name_context,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            drain_timeout: None,
        }
    }
}

/// Qt's `QLocalSocket::SocketOptions`: how the next connect resolves its
/// name. The server's counterpart is [`ServerOptions`](crate::ServerOptions),
/// whose `abstract_namespace` field means the same.
///
/// ```
/// use localsock_core::SocketOptions;
/// assert_eq!(SocketOptions::default(), SocketOptions::NONE); // Qt's NoOptions
/// assert!(SocketOptions::ABSTRACT_NAMESPACE.abstract_namespace);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SocketOptions {
    /// `AbstractNamespaceOption` (Linux; other platforms ignore it, as Qt
    /// does): the name is an abstract address, not a path.
    pub abstract_namespace: bool,
}

impl SocketOptions {
    /// `NoOptions`.
    pub const NONE: SocketOptions = SocketOptions {
        abstract_namespace: false,
    };
    /// `AbstractNamespaceOption`.
    pub const ABSTRACT_NAMESPACE: SocketOptions = SocketOptions {
        abstract_namespace: true,
    };
}

/// What every connection one server accepts has in common: the socket
/// configuration and the server's names.
///
/// Build one per listening server and pass it to
/// [`Connection::accepted_from`]: each accepted connection then holds a
/// reference count instead of its own copies of the configuration and two
/// strings, which matters at tens of thousands of connections. Cloning it
/// is a reference count too.
///
/// ```
/// use localsock_core::{AcceptedFrom, Address, Config, Connection, NameContext, Platform};
///
/// let config = Config::new(NameContext::new(Platform::Linux, "/tmp"));
/// let from = AcceptedFrom::new(config, &Address::Path("/tmp/app.sock".into()));
/// let a = Connection::accepted_from(&from);
/// let b = Connection::accepted_from(&from);
/// assert_eq!(a.server_name(), "app.sock");
/// assert_eq!(b.full_server_name(), "/tmp/app.sock");
/// ```
#[derive(Debug, Clone)]
pub struct AcceptedFrom {
    config: Arc<Config>,
    address: Address,
    names: Names,
}

impl AcceptedFrom {
    /// The template for connections accepted on `address` with `config`.
    /// Their names follow Qt: the last path component and the full path
    /// (the bare name for abstract and pipe names).
    pub fn new(config: impl Into<Arc<Config>>, address: &Address) -> Self {
        AcceptedFrom {
            config: config.into(),
            address: address.clone(),
            names: Names::new(address.accepted_server_name(), Some(address.clone())),
        }
    }

    /// The server's address the connections are accepted on.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The configuration the connections get.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn shared_config(&self) -> &Arc<Config> {
        &self.config
    }
}

/// A connection's configuration: a driver's process-wide defaults by
/// reference (creating and dropping a socket then touches no reference
/// count: in a connect-and-close loop that atomic showed), or a shared or
/// own copy. A setter turns either into an own copy.
#[derive(Debug, Clone)]
enum ConfigHandle {
    Static(&'static Config),
    Shared(Arc<Config>),
}

impl ConfigHandle {
    fn make_mut(&mut self) -> &mut Config {
        match self {
            ConfigHandle::Shared(c) => Arc::make_mut(c),
            ConfigHandle::Static(c) => {
                *self = ConfigHandle::Shared(Arc::new(Config::clone(c)));
                self.make_mut()
            }
        }
    }
}

impl core::ops::Deref for ConfigHandle {
    type Target = Config;

    #[inline]
    fn deref(&self) -> &Config {
        match self {
            ConfigHandle::Static(c) => c,
            ConfigHandle::Shared(c) => c,
        }
    }
}

/// The names of the server a connection belongs to; present from
/// `connect_to_server` (once the name resolved) or accept until the
/// connection ends, or from `set_server_name` (no address yet) until a
/// connect, `close` or `abort`. Accepted connections share their server's
/// strings (reference counts), and a client's names cost one allocation:
/// its address, shared with the connect actions it queues.
#[derive(Debug, Clone)]
struct Names {
    /// What `server_name` reports: the name given to `connect_to_server`,
    /// or for accepted connections the last component of the address.
    /// Mostly a suffix of the address's text: the whole of it (an absolute
    /// path, an abstract name), the relative name after the temp dir or
    /// pipe prefix, or an accepted connection's last path component. So a
    /// connection's names cost one allocation, or one reference count.
    server_name: ServerName,
    /// The resolved address: `full_server_name`, and where a client's
    /// connect goes (again, on each retry). `None` for a name preset by
    /// `set_server_name`, which only `open` resolves (Qt's
    /// `fullServerName` is empty until the connect).
    address: Option<Address>,
}

/// Where a connection's server name is kept.
#[derive(Debug, Clone)]
enum ServerName {
    /// The address's text from this byte on (0: all of it).
    Suffix(usize),
    /// A name of its own: one preset by `set_server_name`, with no address.
    Own(Arc<str>),
}

impl Names {
    fn new(server_name: &str, address: Option<Address>) -> Names {
        Names {
            server_name: match &address {
                Some(a) if a.as_str().ends_with(server_name) => {
                    ServerName::Suffix(a.as_str().len() - server_name.len())
                }
                _ => ServerName::Own(Arc::from(server_name)),
            },
            address,
        }
    }

    /// The names of a client's connect: `resolve_socket_name` always puts
    /// the name, unchanged, at the end of the address's text, so its place
    /// is known without comparing the text.
    #[inline]
    fn resolved(server_name: &str, address: Address) -> Names {
        debug_assert!(address.as_str().ends_with(server_name));
        Names {
            server_name: ServerName::Suffix(address.as_str().len() - server_name.len()),
            address: Some(address),
        }
    }

    fn server_name(&self) -> &str {
        match (&self.server_name, &self.address) {
            (ServerName::Own(name), _) => name,
            (ServerName::Suffix(at), Some(address)) => address.as_str().get(*at..).unwrap_or(""),
            (ServerName::Suffix(_), None) => "",
        }
    }
}

/// The state machine of one `QLocalSocket`, client or accepted, with no I/O.
///
/// # Method kinds
/// - **Getters** (`state`, `error`, `bytes_available`, …) never change anything.
/// - **Commands** are what the user asks: [`connect_to_server`](Self::connect_to_server),
///   [`write`](Self::write), [`read`](Self::read), [`disconnect_from_server`](Self::disconnect_from_server),
///   [`abort`](Self::abort), [`close`](Self::close), [`set_read_buffer_size`](Self::set_read_buffer_size).
/// - **Inputs** (`handle_*`) are what the OS did: a connect finished or failed, bytes arrived,
///   bytes left, an I/O error, a deadline passed.
/// - **Outputs** (`poll_*`, [`read_capacity`](Self::read_capacity), [`recv_buf`](Self::recv_buf),
///   [`transmit_chunks`](Self::transmit_chunks)) say what the driver must do next.
///
/// # The driver's loop
/// After every command or input, drain the outputs in this order:
/// 1. [`poll_action`](Self::poll_action) until `None`: perform each (`Connect`, `Close`);
///    report a connect's outcome with [`handle_connected`](Self::handle_connected) or
///    [`handle_connect_error`](Self::handle_connect_error), or that it is still under way
///    with [`handle_connect_in_progress`](Self::handle_connect_in_progress) (then wait for
///    writability, and report the outcome the same way). A driver that can wait inside the
///    OS for room in a full backlog says so with
///    [`set_os_waits_for_backlog`](Self::set_os_waits_for_backlog); while
///    [`connect_wait_deadline`](Self::connect_wait_deadline) is `Some`, its connect may block
///    until then.
/// 2. If [`wants_read`](Self::wants_read), wait for readability; when readable,
///    read into [`recv_buf`](Self::recv_buf) and report with [`handle_received`](Self::handle_received).
///    At end of stream (a read of 0 bytes) a Unix driver first asks the OS whether the
///    peer is gone for good (`POLLHUP`) and if so reports [`handle_hangup`](Self::handle_hangup),
///    then `handle_received(0)`.
/// 3. If [`wants_write`](Self::wants_write), write [`transmit_chunks`](Self::transmit_chunks)
///    (vectored) and report with [`handle_sent`](Self::handle_sent); errors of either
///    direction go to [`handle_io_error`](Self::handle_io_error). After a failing send,
///    read without waiting while `wants_read`: a dead peer's last bytes are already here.
/// 4. While [`wants_hangup_watch`](Self::wants_hangup_watch) (a half-closed peer), watch
///    the socket for the hang-up and report it with `handle_hangup`.
/// 5. Wait no later than [`poll_timeout`](Self::poll_timeout); then call
///    [`handle_timeout`](Self::handle_timeout).
/// 6. [`poll_event`](Self::poll_event) until `None`: deliver Qt's signals to the user.
///
/// Fast paths skip the buffers without changing the rules: a large write may go
/// straight from the user's buffer when [`can_write_direct`](Self::can_write_direct)
/// (report with [`handle_sent_direct`](Self::handle_sent_direct)), and a read may go
/// straight into the user's buffer when [`can_read_direct`](Self::can_read_direct)
/// (report with [`handle_received_direct`](Self::handle_received_direct)).
///
/// The user's side asks the core, never the state: Qt's waits are
/// [`begin_wait`](Self::begin_wait), [`wait_outcome`](Self::wait_outcome) and
/// [`wait_timed_out`](Self::wait_timed_out); what a read of an empty buffer, a flush
/// or a refused write comes to is [`read_outcome_when_empty`](Self::read_outcome_when_empty),
/// [`flush_outcome`](Self::flush_outcome) and [`write_refusal`](Self::write_refusal);
/// a bounded write queues at most [`write_room`](Self::write_room).
///
/// Time is a [`Duration`] since any origin the driver picks; the core never
/// reads a clock. Only the calls that set or check a deadline take it (a
/// connect, a disconnect, a connect error, a timeout, `open`, the drain
/// timeout); the data path needs none, so a driver reads no clock per read
/// or write.
#[derive(Debug)]
pub struct Connection {
    /// Shared: accepted connections hold their server's.
    config: ConfigHandle,
    state: State,
    mode: Option<OpenMode>,
    requested_mode: OpenMode,
    abstract_namespace: bool,
    /// Also holds the name [`set_server_name`](Connection::set_server_name)
    /// presets for [`open`](Connection::open) (without an address), so a
    /// connect replaces it and `close`/`abort` clear it, as in Qt; and so
    /// it costs no field of its own in every connection.
    names: Option<Names>,
    read: ReadBuffer,
    read_limit: usize,
    /// The buffer reached the read limit: nothing more is read from the OS
    /// until the application has drained it (Qt's rule), except inside a
    /// `ReadyRead` wait.
    read_paused: bool,
    read_hint: usize,
    /// No more data will arrive on this connection (EOF, error or local close).
    read_finished: bool,
    /// `ReadChannelFinished` was queued (it is queued once per connection).
    read_channel_finished: bool,
    /// The peer is gone (a hang-up or a failing send) while data it sent
    /// may still be in the kernel: reading goes on until end of stream,
    /// then the connection ends with `fatal`. Holds whether writes were
    /// pending when the peer went (Qt then shows Closing).
    peer_gone: Option<bool>,
    /// Bytes read from the OS over the connection's life (wait baselines).
    received_total: u64,
    /// Bytes the OS took over the connection's life (wait baselines).
    sent_total: u64,
    /// Queued bytes were discarded because the connection failed (not by
    /// `abort`): a flush reports the failure.
    writes_lost: bool,
    write: WriteQueue,
    /// The last direct write was partial (the socket filled up): the rest,
    /// which a `write_all` brings back next, may go direct too instead of
    /// being copied into the queue, since nothing could coalesce with it.
    direct_tail: bool,
    events: EventQueue,
    /// Set by [`release`](Connection::release): the owner is gone, so no
    /// event is queued any more (nobody could take it).
    released: bool,
    /// The driver's queue, at most a close and then a connect: a close
    /// cancels a connect queued before it (that could only open what the
    /// close shuts), so nothing else can be pending. Two flags, not a
    /// queue: every connection queues a close, and an allocation for it
    /// shows in connect-and-close loops.
    close_pending: bool,
    /// A connect to `names.address` is pending (see `close_pending`).
    connect_pending: bool,
    /// Qt's `error()`: the last error reported, fatal or not (a wait's
    /// timeout, an `Operation` refusal).
    /// Boxed, like `fatal`: errors are rare and every connection carries
    /// the field.
    error: Option<Box<LocalSocketError>>,
    /// What ended (or is ending) the connection, kept apart from `error`
    /// so that a later wait's timeout never hides it: reads, writes and
    /// flushes on a failed connection report this one.
    fatal: Option<Box<LocalSocketError>>,
    /// The current state's deadline: the connect's while Connecting, the
    /// drain's while Closing. One field, since a connection is never in
    /// both states; every state change clears it (`set_state`).
    deadline: Option<Duration>,
    /// While Connecting: when to try a full backlog or busy pipe again.
    retry_at: Option<Duration>,
    /// Retries of this connect so far: the backoff doubles with each.
    retries: u8,
    /// The driver waits inside the OS for room in a full backlog (see
    /// [`set_os_waits_for_backlog`](Connection::set_os_waits_for_backlog)).
    os_waits_for_backlog: bool,
}

impl Connection {
    /// A new, unconnected socket. Sockets may share one configuration
    /// (`Arc<Config>`); a setter then copies it for this socket alone.
    #[inline]
    pub fn new(config: impl Into<Arc<Config>>) -> Self {
        Self::with_config(ConfigHandle::Shared(config.into()))
    }

    /// A new, unconnected socket with a configuration that lives as long
    /// as the process (a driver's defaults): like [`new`](Self::new) with
    /// a shared one, but creating and dropping the socket touches no
    /// reference count. A setter copies it for this socket alone.
    ///
    /// ```
    /// use std::sync::OnceLock;
    /// use localsock_core::{Config, Connection, NameContext, Platform};
    /// static DEFAULTS: OnceLock<Config> = OnceLock::new();
    /// let defaults = DEFAULTS.get_or_init(|| Config::new(NameContext::new(Platform::Linux, "/tmp")));
    /// let mut c = Connection::with_static_config(defaults);
    /// c.set_connect_timeout(std::time::Duration::from_secs(1));
    /// assert_eq!(c.config().connect_timeout, std::time::Duration::from_secs(1));
    /// assert_eq!(defaults.connect_timeout, Config::new(NameContext::new(Platform::Linux, "/tmp")).connect_timeout);
    /// ```
    #[inline]
    pub fn with_static_config(config: &'static Config) -> Self {
        Self::with_config(ConfigHandle::Static(config))
    }

    #[inline]
    fn with_config(config: ConfigHandle) -> Self {
        Connection {
            config,
            state: State::Unconnected,
            mode: None,
            requested_mode: OpenMode::ReadWrite,
            abstract_namespace: false,
            names: None,
            read: ReadBuffer::default(),
            read_limit: 0,
            read_paused: false,
            read_hint: FIRST_READ,
            read_finished: false,
            read_channel_finished: false,
            peer_gone: None,
            received_total: 0,
            sent_total: 0,
            writes_lost: false,
            write: WriteQueue::default(),
            direct_tail: false,
            events: EventQueue::default(),
            released: false,
            close_pending: false,
            connect_pending: false,
            error: None,
            fatal: None,
            deadline: None,
            retry_at: None,
            retries: 0,
            os_waits_for_backlog: false,
        }
    }

    /// The server side of an accepted connection to `address`: connected,
    /// open read-write, no events queued. Its names follow Qt: the last path
    /// component and the full path (the bare name for abstract and pipe names).
    ///
    /// A server accepting many connections should build one
    /// [`AcceptedFrom`] and use [`accepted_from`](Self::accepted_from).
    pub fn accepted(config: Config, address: &Address) -> Self {
        Self::accepted_from(&AcceptedFrom::new(config, address))
    }

    /// The server side of an accepted connection, sharing `from`'s
    /// configuration and names: as [`accepted`](Self::accepted), without
    /// copying them.
    #[inline]
    pub fn accepted_from(from: &AcceptedFrom) -> Self {
        let mut c = Connection::with_config(ConfigHandle::Shared(from.config.clone()));
        c.state = State::Connected;
        c.mode = Some(OpenMode::ReadWrite);
        c.requested_mode = OpenMode::ReadWrite;
        c.abstract_namespace = matches!(from.address, Address::Abstract(_));
        c.names = Some(from.names.clone());
        c
    }

    /// A socket adopted from a descriptor made elsewhere (Qt's
    /// `setSocketDescriptor`), in the state
    /// [`plan_adopt`](crate::descriptor::plan_adopt) decided: open in
    /// `mode` and Connected with no signal (as in Qt), or Connecting, with
    /// a connect under way for the driver to finish (report it with
    /// [`handle_connected`](Self::handle_connected)) within the connect
    /// timeout. The names are those of `address`, read as for an accepted
    /// socket; empty without one.
    pub fn adopted(
        config: Config,
        address: Option<&Address>,
        state: State,
        mode: OpenMode,
        now: Duration,
    ) -> Self {
        let mut c = Connection::new(config);
        c.requested_mode = mode;
        c.abstract_namespace = matches!(address, Some(Address::Abstract(_)));
        c.names = address.map(|a| Names::new(a.accepted_server_name(), Some(a.clone())));
        if state == State::Connecting {
            c.state = State::Connecting;
            c.deadline = Some(now.saturating_add(c.config.connect_timeout));
        } else {
            c.state = State::Connected;
            c.mode = Some(mode);
        }
        c
    }

    // ----- getters -------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current state.
    #[inline]
    pub fn state(&self) -> State {
        self.state
    }

    /// The open mode, or `None` when the device is not open.
    pub fn open_mode(&self) -> Option<OpenMode> {
        self.mode
    }

    /// Whether the device is open (data may still be readable after the
    /// connection ended).
    pub fn is_open(&self) -> bool {
        self.mode.is_some()
    }

    /// Whether there is a connection (Connecting, Connected or Closing).
    /// Unlike Qt, this is false once the socket is Unconnected.
    pub fn is_valid(&self) -> bool {
        self.state != State::Unconnected
    }

    /// The name passed to `connect_to_server` (or set by
    /// [`set_server_name`](Self::set_server_name) for the next
    /// [`open`](Self::open)); empty once the connection is over.
    pub fn server_name(&self) -> &str {
        self.names.as_ref().map_or("", |n| n.server_name())
    }

    /// The resolved path or pipe name; empty once Unconnected.
    pub fn full_server_name(&self) -> &str {
        self.names
            .as_ref()
            .and_then(|n| n.address.as_ref())
            .map_or("", Address::as_str)
    }

    /// Whether the next connect uses the Linux abstract namespace.
    pub fn abstract_namespace(&self) -> bool {
        self.abstract_namespace
    }

    /// Qt's `socketOptions`: those of the next connect; on an accepted
    /// socket, whether its address is abstract (as in Qt).
    pub fn socket_options(&self) -> SocketOptions {
        SocketOptions {
            abstract_namespace: self.abstract_namespace,
        }
    }

    /// The last error; `SocketError::Unknown` if none happened (as in Qt).
    pub fn error(&self) -> SocketError {
        self.error
            .as_ref()
            .map_or(SocketError::Unknown, |e| e.kind())
    }

    /// The last error with its context, if any: Qt's `error()` with its
    /// details. This includes reports that did not end the connection (a
    /// wait's timeout, an `Operation` refusal); see
    /// [`fatal_error`](Self::fatal_error) for what ended it.
    pub fn last_error(&self) -> Option<&LocalSocketError> {
        self.error.as_deref()
    }

    /// The error that ended (or is ending) the connection, if it failed.
    /// Sticky until the next connect, like rustls' fatal error: a wait's
    /// timeout never replaces it.
    pub fn fatal_error(&self) -> Option<&LocalSocketError> {
        self.fatal.as_deref()
    }

    /// Qt's text for the last error ("Unknown error" if none happened),
    /// exactly as Qt words it; the error value's `Display` adds our detail.
    pub fn error_string(&self) -> String {
        render(self.error.as_deref())
    }

    /// Bytes buffered and readable now.
    #[inline]
    pub fn bytes_available(&self) -> usize {
        self.read.len()
    }

    /// Bytes queued and not yet taken by the OS.
    #[inline]
    pub fn bytes_to_write(&self) -> usize {
        self.write.len()
    }

    /// Bytes the OS took over the connection's life.
    pub fn bytes_sent(&self) -> u64 {
        self.sent_total
    }

    /// Bytes read from the OS over the connection's life.
    pub fn bytes_received(&self) -> u64 {
        self.received_total
    }

    /// Whether a whole line (ending in `\n`) is buffered.
    pub fn can_read_line(&self) -> bool {
        self.mode.is_some_and(OpenMode::can_read) && self.read.as_slice().contains(&b'\n')
    }

    /// Qt's `atEnd()`: not open, or nothing buffered.
    pub fn at_end(&self) -> bool {
        self.mode.is_none() || self.read.is_empty()
    }

    /// True when nothing is buffered and nothing more can arrive: a read
    /// returning 0 now means end of stream, not "try later".
    pub fn read_exhausted(&self) -> bool {
        self.read.is_empty() && (self.state != State::Connected || self.read_finished)
    }

    /// Whether the peer ended its stream while this side may still write
    /// (a half-close): reads are at their end, writes keep working.
    pub fn is_half_closed(&self) -> bool {
        self.read_finished && self.peer_gone.is_none() && self.state != State::Unconnected
    }

    /// The read-buffer limit (0 = unlimited, the default).
    pub fn read_buffer_size(&self) -> usize {
        self.read_limit
    }

    /// The buffered bytes, without consuming them.
    pub fn buffered(&self) -> &[u8] {
        self.read.as_slice()
    }

    /// What a read finds when nothing is buffered: `None` while more may
    /// arrive (the caller waits), `Some(Ok(()))` at end of stream (the
    /// peer closed, half-closed, or this side disconnected), or the reason
    /// no read is possible: the device is not open (never connected,
    /// closed, aborted), write-only, or the error that ended the connection.
    /// A wait's timeout is never reported here.
    pub fn read_outcome_when_empty(&self) -> Option<Result<(), StreamError>> {
        if self.state == State::Connecting {
            // The device opens when the connect succeeds: wait for it.
            return None;
        }
        match self.mode {
            None => return Some(Err(DeviceError::NotOpen.into())),
            Some(OpenMode::WriteOnly) => return Some(Err(DeviceError::WriteOnly.into())),
            Some(_) => {}
        }
        if !self.read.is_empty() {
            return None;
        }
        match self.state {
            State::Connecting => None,
            State::Connected if !self.read_finished => None,
            _ => match self.fatal.as_deref() {
                Some(e) if e.kind() != SocketError::PeerClosed => Some(Err(e.clone().into())),
                _ => Some(Ok(())),
            },
        }
    }

    /// What a flush comes to: `None` while queued bytes remain (or a
    /// connect is under way), `Some(Ok(()))` once everything queued was
    /// taken by the OS, or the connection's error if queued bytes were
    /// lost because it failed (until the next connect).
    pub fn flush_outcome(&self) -> Option<Result<(), StreamError>> {
        if self.wants_write() || self.state == State::Connecting {
            return None;
        }
        if self.writes_lost {
            let err = self.fatal.as_deref().cloned().unwrap_or_else(|| {
                LocalSocketError::new(SocketError::PeerClosed, ErrorSource::Socket)
            });
            return Some(Err(err.into()));
        }
        Some(Ok(()))
    }

    /// The error a write reports once writing is impossible: the device
    /// is not open or read-only, or the error that ended the connection.
    pub fn write_refusal(&self) -> StreamError {
        match self.check_writable() {
            Err(DeviceError::NotConnected) | Ok(()) => match self.fatal.as_deref() {
                Some(e) => e.clone().into(),
                None => DeviceError::NotConnected.into(),
            },
            Err(e) => e.into(),
        }
    }

    /// How many more bytes the runtimes' bounded write (`Write::write`,
    /// `AsyncWrite::poll_write`) may queue before it must wait for the OS:
    /// the queue is kept under [`TRANSMIT_THRESHOLD`].
    pub fn write_room(&self) -> usize {
        TRANSMIT_THRESHOLD.saturating_sub(self.write.len())
    }

    // ----- waits -------------------------------------------------------------

    /// Starts one of Qt's `waitFor*` calls: the baseline that
    /// [`wait_outcome`](Self::wait_outcome) compares against. A
    /// `ReadyRead` wait reads whenever the buffer has room, even when the
    /// read limit paused reading (Qt's exception to its refill rule).
    pub fn begin_wait(&mut self, kind: WaitFor) -> Wait {
        let mark = match kind {
            WaitFor::ReadyRead => {
                if self.read_limit == 0 || self.read.len() < self.read_limit {
                    self.read_paused = false;
                }
                self.received_total
            }
            WaitFor::BytesWritten => self.sent_total,
            WaitFor::Connected | WaitFor::Disconnected => 0,
        };
        let nothing_to_do = match kind {
            WaitFor::Connected => false,
            WaitFor::ReadyRead | WaitFor::Disconnected => self.state == State::Unconnected,
            WaitFor::BytesWritten => self.state == State::Unconnected || self.write.is_empty(),
        };
        Wait {
            kind,
            mark,
            refused: nothing_to_do,
        }
    }

    /// Whether `wait` is over: `None` to keep waiting (the driver waits for
    /// what [`wants_read`](Self::wants_read), [`wants_write`](Self::wants_write),
    /// [`wants_hangup_watch`](Self::wants_hangup_watch) and
    /// [`poll_timeout`](Self::poll_timeout) say), `Some(Ok(()))` when its
    /// condition holds, or `Some(Err(_))` when it can no longer hold (Qt's
    /// `false`): the connection ended, the peer half-closed (no more data),
    /// the read buffer is full, or nothing at all is left to wait for.
    pub fn wait_outcome(&self, wait: &Wait) -> Option<Result<(), LocalSocketError>> {
        let source = match wait.kind {
            WaitFor::Connected => ErrorSource::WaitForConnected,
            _ => ErrorSource::Socket,
        };
        let refuse = |kind: SocketError, detail: &'static str| {
            Some(Err(LocalSocketError::new(kind, source).with_detail(detail)))
        };
        if wait.refused {
            return refuse(SocketError::Operation, "nothing to wait for");
        }
        let ended = || {
            Some(Err(self.fatal.as_deref().cloned().unwrap_or_else(|| {
                LocalSocketError::new(SocketError::PeerClosed, source)
                    .with_detail("the connection ended")
            })))
        };
        let outcome = match wait.kind {
            WaitFor::Connected => match self.state {
                State::Connecting => None,
                State::Connected => Some(Ok(())),
                _ => Some(Err(self.error.as_deref().cloned().unwrap_or_else(|| {
                    LocalSocketError::new(SocketError::Operation, source)
                        .with_detail("not connecting")
                }))),
            },
            WaitFor::ReadyRead => {
                if self.received_total > wait.mark {
                    Some(Ok(()))
                } else if !matches!(self.state, State::Connected | State::Connecting) {
                    ended()
                } else if self.read_finished && self.state == State::Connected {
                    refuse(SocketError::PeerClosed, "the peer ended its stream")
                } else if self.state == State::Connected && self.read_capacity() == 0 {
                    refuse(SocketError::Operation, "the read buffer is full")
                } else {
                    None
                }
            }
            WaitFor::BytesWritten => {
                if self.sent_total > wait.mark {
                    Some(Ok(()))
                } else if self.state == State::Unconnected {
                    ended()
                } else {
                    None
                }
            }
            WaitFor::Disconnected => {
                if self.state == State::Unconnected {
                    Some(Ok(()))
                } else {
                    None
                }
            }
        };
        if outcome.is_none() && self.is_idle() {
            return refuse(
                SocketError::Operation,
                "nothing can happen without a command",
            );
        }
        outcome
    }

    /// The wait's deadline passed: Qt records `SocketTimeout` (and emits
    /// it) for every wait except `waitForConnected`, and the connection
    /// carries on. Returns the wait's error.
    pub fn wait_timed_out(&mut self, wait: &Wait) -> LocalSocketError {
        let source = match wait.kind {
            WaitFor::Connected => ErrorSource::WaitForConnected,
            _ => ErrorSource::Socket,
        };
        let err = LocalSocketError::new(SocketError::SocketTimeout, source);
        if wait.kind != WaitFor::Connected && self.state != State::Unconnected {
            self.error = Some(Box::new(err.clone()));
            self.push_event(Event::Error(SocketError::SocketTimeout));
        }
        err
    }

    /// Nothing the OS or the clock can do changes this connection: no
    /// connect under way, nothing to read (or no room), nothing to write,
    /// no hang-up to watch for, no deadline.
    fn is_idle(&self) -> bool {
        self.state != State::Connecting
            && self.read_capacity() == 0
            && !self.wants_write()
            && !self.wants_hangup_watch()
            && self.poll_timeout().is_none()
    }

    /// Declares that the driver can wait inside the OS for room in a full
    /// backlog: a connect that blocks until the server accepts or a
    /// timeout passes (Linux: a blocking `connect` bounded by
    /// `SO_SNDTIMEO`, which the server's `accept` wakes; Windows:
    /// `WaitNamedPipe` for a busy pipe's instance). A full backlog is
    /// then retried at once, and the retry may block until
    /// [`connect_wait_deadline`](Self::connect_wait_deadline); a client
    /// gets in as soon as there is room. Off by default (an async driver
    /// must not block): the retry then backs off from 1 ms, doubling up to
    /// 100 ms.
    pub fn set_os_waits_for_backlog(&mut self, on: bool) {
        self.os_waits_for_backlog = on;
    }

    /// While a full backlog is being retried by a driver that waits inside
    /// the OS ([`set_os_waits_for_backlog`](Self::set_os_waits_for_backlog)):
    /// the connect deadline, until which the next `Action::Connect` may
    /// block (or until the end of the user's wait, if sooner). `None`
    /// otherwise: connect without blocking (the first attempt always, so
    /// that `connect_to_server` returns at once).
    #[inline]
    pub fn connect_wait_deadline(&self) -> Option<Duration> {
        if self.os_waits_for_backlog && self.state == State::Connecting && self.retries > 0 {
            self.deadline
        } else {
            None
        }
    }

    // ----- commands --------------------------------------------------------

    /// Sets Qt's `AbstractNamespaceOption` for the next connect. Ignored
    /// (returns false) unless Unconnected, as in Qt.
    pub fn set_abstract_namespace(&mut self, on: bool) -> bool {
        if self.state != State::Unconnected {
            return false;
        }
        self.abstract_namespace = on;
        true
    }

    /// Qt's `setSocketOptions`: the options of the next connect. Ignored
    /// (returns false) unless Unconnected, as in Qt.
    pub fn set_socket_options(&mut self, options: SocketOptions) -> bool {
        self.set_abstract_namespace(options.abstract_namespace)
    }

    /// Qt's `setServerName`: the name the next [`open`](Self::open)
    /// connects to. Ignored (returns false, the name unchanged) unless
    /// Unconnected, as in Qt (which also prints a warning).
    pub fn set_server_name(&mut self, name: &str) -> bool {
        if self.state != State::Unconnected {
            return false;
        }
        self.names = Some(Names::new(name, None));
        true
    }

    /// Qt's `open(mode)`: [`connect_to_server`](Self::connect_to_server)
    /// to the name set by [`set_server_name`](Self::set_server_name); no
    /// name (or an empty one) fails with `ServerNotFound`, as in Qt.
    /// While Connecting or Connected it is refused: `Operation` is
    /// recorded and emitted, as by a second `connect_to_server`, and
    /// returned. Otherwise `Ok`: the connect has started; perform the
    /// actions, then ask [`open_outcome`](Self::open_outcome).
    pub fn open(&mut self, mode: OpenMode) -> Result<(), LocalSocketError> {
        let name = match &self.names {
            Some(n) if n.address.is_none() => n.server_name().to_string(),
            _ => String::new(),
        };
        self.connect_to_server(&name, mode);
        match self.state {
            State::Connecting | State::Unconnected => Ok(()),
            State::Connected | State::Closing => {
                Err(self.error.as_deref().cloned().unwrap_or_else(|| {
                    LocalSocketError::new(SocketError::Operation, ErrorSource::ConnectToServer)
                }))
            }
        }
    }

    /// What an [`open`](Self::open) comes to once the driver performed the
    /// actions it queued, without waiting for more: `Ok` when Connected;
    /// `SocketTimeout` while the connect is still under way (a full
    /// backlog or busy pipe: the socket stays Connecting, nothing is
    /// recorded, as for a `waitForConnected` that timed out; wait with
    /// `wait_for_connected`); else the error that ended the connect.
    pub fn open_outcome(&self) -> Result<(), LocalSocketError> {
        match self.state {
            State::Connected => Ok(()),
            State::Connecting => Err(LocalSocketError::new(
                SocketError::SocketTimeout,
                ErrorSource::ConnectToServer,
            )
            .with_detail("the connect is still under way")),
            State::Unconnected | State::Closing => {
                Err(self.error.as_deref().cloned().unwrap_or_else(|| {
                    LocalSocketError::new(SocketError::Operation, ErrorSource::ConnectToServer)
                        .with_detail("not connecting")
                }))
            }
        }
    }

    /// Sets how long a connect keeps retrying a full backlog or busy pipe;
    /// it applies from the next connect. Accepted connections get their
    /// own copy of the shared configuration.
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.config.make_mut().connect_timeout = timeout;
    }

    /// Sets how long a graceful disconnect may wait for pending writes to
    /// drain (`None`: as long as the peer is there). It applies to the next
    /// disconnect; while Closing it applies at once, counted from `now`.
    pub fn set_drain_timeout(&mut self, timeout: Option<Duration>, now: Duration) {
        self.config.make_mut().drain_timeout = timeout;
        if self.state == State::Closing {
            self.deadline = timeout.map(|d| now.saturating_add(d));
        }
    }

    /// Starts connecting to `name`.
    ///
    /// While Connecting or Connected this only reports `Operation` (Qt's
    /// behaviour). From Closing the old connection is dropped, as in Qt.
    /// A name that cannot be resolved fails at once with `ServerNotFound`.
    ///
    /// It takes no time: the connect timeout starts when the OS first
    /// says the connect cannot finish at once
    /// ([`handle_connect_error`](Self::handle_connect_error) with a full
    /// backlog or busy pipe, or
    /// [`handle_connect_in_progress`](Self::handle_connect_in_progress)),
    /// so a connect that completes at once (nearly every local one) never
    /// reads the clock.
    pub fn connect_to_server(&mut self, name: &str, mode: OpenMode) {
        match self.state {
            State::Connecting | State::Connected => {
                let err =
                    LocalSocketError::new(SocketError::Operation, ErrorSource::ConnectToServer);
                self.error = Some(Box::new(err));
                self.push_event(Event::Error(SocketError::Operation));
                return;
            }
            State::Closing => {
                self.write.clear();
                self.push_close();
            }
            State::Unconnected => {}
        }
        self.error = None;
        self.fatal = None;
        self.read.clear();
        self.write.clear();
        self.read_finished = false;
        self.read_channel_finished = false;
        self.read_paused = false;
        self.peer_gone = None;
        self.writes_lost = false;
        self.mode = None;
        self.names = None;
        self.set_state(State::Connecting);
        let resolved =
            resolve_for_connect(name, self.abstract_namespace, &self.config.name_context);
        match resolved {
            Err(e) => {
                let err = LocalSocketError::new(
                    SocketError::ServerNotFound,
                    ErrorSource::ConnectToServer,
                )
                .with_platform(self.config.name_context.platform)
                .with_detail(e.detail());
                self.fail_connect(err);
            }
            Ok(address) => {
                self.requested_mode = mode;
                self.retry_at = None;
                self.retries = 0;
                self.names = Some(Names::resolved(name, address));
                self.connect_pending = true;
            }
        }
    }

    /// Queues owned data without copying it (small pieces are coalesced).
    /// Returns the number of bytes queued, as Qt's `write` does.
    pub fn write(&mut self, data: impl Into<Bytes>) -> Result<usize, DeviceError> {
        self.check_writable()?;
        let data = data.into();
        let n = data.len();
        self.direct_tail = false;
        self.write.push(data);
        Ok(n)
    }

    /// Queues a copy of `data`.
    pub fn write_slice(&mut self, data: &[u8]) -> Result<usize, DeviceError> {
        self.check_writable()?;
        self.direct_tail = false;
        self.write.push_slice(data);
        Ok(data.len())
    }

    /// Copies up to `out.len()` buffered bytes into `out`. `Ok(0)` means
    /// nothing is buffered; [`read_outcome_when_empty`](Self::read_outcome_when_empty)
    /// tells whether more may come.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.check_readable()?;
        let n = self.read.read(out);
        self.note_consumed();
        Ok(n)
    }

    /// Takes up to `max` buffered bytes without copying them.
    pub fn read_bytes(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.check_readable()?;
        let b = self.read.split_to(max);
        self.note_consumed();
        Ok(b)
    }

    /// Takes everything buffered without copying it.
    pub fn read_all(&mut self) -> Result<Bytes, DeviceError> {
        self.read_bytes(usize::MAX)
    }

    /// Copies up to `out.len()` buffered bytes without consuming them.
    pub fn peek(&self, out: &mut [u8]) -> Result<usize, DeviceError> {
        self.check_readable()?;
        Ok(self.read.peek(out))
    }

    /// Qt's `readLine(max)`: the buffered bytes up to and including the first
    /// `\n`, or at most `max` bytes (0 = no limit), or everything buffered if
    /// there is no newline. Empty when nothing is buffered.
    pub fn read_line(&mut self, max: usize) -> Result<Bytes, DeviceError> {
        self.check_readable()?;
        let buf = self.read.as_slice();
        let limit = if max == 0 {
            buf.len()
        } else {
            max.min(buf.len())
        };
        let n = match buf[..limit].iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => limit,
        };
        let line = self.read.split_to(n);
        self.note_consumed();
        Ok(line)
    }

    /// Drops up to `n` buffered bytes; returns how many were dropped.
    pub fn skip(&mut self, n: usize) -> Result<usize, DeviceError> {
        self.check_readable()?;
        let n = self.read.skip(n);
        self.note_consumed();
        Ok(n)
    }

    /// Sets the read-buffer limit (0 = unlimited). Once the buffer holds
    /// this much, [`read_capacity`](Self::read_capacity) is 0 until the
    /// application has read the buffer empty (Qt's rule); the core never
    /// takes more than the limit. A larger limit resumes reading at once.
    pub fn set_read_buffer_size(&mut self, size: usize) {
        self.read_limit = size;
        if size == 0 || self.read.len() < size {
            self.read_paused = false;
        }
    }

    /// Starts a graceful disconnect: Closing while pending writes drain, then
    /// Unconnected. The device stays open so buffered data stays readable.
    /// Nothing is written inside this call: with writes pending the caller
    /// always sees Closing, and the drain happens in later waits (as in Qt).
    /// While Connecting the attempt is cancelled (Qt would leave a pending
    /// close behind).
    pub fn disconnect_from_server(&mut self, now: Duration) {
        match self.state {
            State::Unconnected | State::Closing => {}
            State::Connecting => self.cancel_connect(false),
            State::Connected => {
                if self.peer_gone.is_some() {
                    // The peer is already gone: end with its error.
                    self.end_with_fatal(true);
                    return;
                }
                self.set_state(State::Closing);
                if self.write.is_empty() {
                    self.finish_close();
                } else {
                    self.deadline = self.config.drain_timeout.map(|d| now.saturating_add(d));
                }
            }
        }
    }

    /// Qt's `close()`: `AboutToClose` while data is still readable, then the
    /// device closes (buffered input is dropped) and a graceful disconnect
    /// drains pending writes in the background.
    pub fn close(&mut self, now: Duration) {
        if self.mode.is_some() {
            self.push_event(Event::AboutToClose);
        }
        self.mode = None;
        self.read.clear();
        match self.state {
            State::Connecting => self.cancel_connect(false),
            _ => self.disconnect_from_server(now),
        }
        self.names = None;
    }

    /// Qt's `abort()`: pending writes are dropped and the connection ends
    /// now; `AboutToClose` comes last, as in Qt. Later graceful
    /// disconnects are unaffected.
    pub fn abort(&mut self) {
        self.write.clear();
        self.writes_lost = false;
        let was_open = self.mode.is_some();
        match self.state {
            State::Connected | State::Closing => self.finish_close(),
            State::Connecting => self.cancel_connect(true),
            State::Unconnected => {}
        }
        if was_open {
            self.push_event(Event::AboutToClose);
        }
        self.mode = None;
        self.read.clear();
        self.names = None;
    }

    /// Qt's destructor: [`abort`](Self::abort), for an owner that is being
    /// dropped. The state and the actions are those of `abort` (the driver
    /// still closes the stream), but no event is queued, now or later:
    /// nobody is left to take them, and a dropped socket should cost no
    /// allocation for signals it cannot deliver. A driver that drops the
    /// `Connection` together with its stream needs no `release`: closing
    /// the stream is the only effect anyone could observe (localsock's
    /// runtimes do just that).
    pub fn release(&mut self) {
        self.released = true;
        self.events.clear();
        self.abort();
    }

    /// Reports that a `wait_for_*` call of the user timed out: Qt emits
    /// `SocketTimeout` and the connection carries on. Prefer
    /// [`wait_timed_out`](Self::wait_timed_out), which knows the wait.
    pub fn report_wait_timeout(&mut self) {
        if self.state == State::Unconnected {
            return;
        }
        self.error = Some(Box::new(LocalSocketError::new(
            SocketError::SocketTimeout,
            ErrorSource::Socket,
        )));
        self.push_event(Event::Error(SocketError::SocketTimeout));
    }

    // ----- inputs ----------------------------------------------------------

    /// The connect started by `Action::Connect` succeeded.
    pub fn handle_connected(&mut self) {
        if self.state != State::Connecting {
            return;
        }
        self.retry_at = None;
        self.direct_tail = false;
        self.mode = Some(self.requested_mode);
        self.set_state(State::Connected);
        self.push_event(Event::Connected);
    }

    /// The connect started by `Action::Connect` failed with `err`. A full
    /// backlog or busy pipe is retried until the connect deadline.
    pub fn handle_connect_error(&mut self, err: OsError, now: Duration) {
        if self.state != State::Connecting {
            return;
        }
        match classify_connect_error(err) {
            ConnectVerdict::InProgress => self.handle_connect_in_progress(now),
            ConnectVerdict::Interrupted => self.push_connect(),
            ConnectVerdict::Retry => {
                let deadline = self.start_connect_timeout(now);
                if now >= deadline {
                    self.connect_timed_out();
                } else {
                    self.push_close();
                    // A driver that waits inside the OS retries at once
                    // (and its retry blocks until there is room).
                    let wait = if self.os_waits_for_backlog {
                        Duration::ZERO
                    } else {
                        retry_backoff(self.retries)
                    };
                    self.retry_at = Some(now.saturating_add(wait).min(deadline));
                    self.retries = self.retries.saturating_add(1);
                }
            }
            ConnectVerdict::Fail(kind) => self.fail_connect(LocalSocketError::from_os(
                kind,
                ErrorSource::ConnectToServer,
                err,
            )),
        }
    }

    /// The connect started by `Action::Connect` is under way and the OS
    /// reports its outcome later (a non-blocking connect that returned
    /// `EINPROGRESS`): the connect timeout runs from `now`, and
    /// [`poll_timeout`](Self::poll_timeout) gives its deadline.
    pub fn handle_connect_in_progress(&mut self, now: Duration) {
        if self.state == State::Connecting {
            self.start_connect_timeout(now);
        }
    }

    /// The connect deadline, starting the timeout at `now` on the first
    /// call of a connect.
    fn start_connect_timeout(&mut self, now: Duration) -> Duration {
        *self
            .deadline
            .get_or_insert_with(|| now.saturating_add(self.config.connect_timeout))
    }

    /// How many bytes the driver may read now; 0 means do not read (not
    /// connected, end of stream seen, or the read-buffer limit was reached
    /// and the application has not drained the buffer yet).
    #[inline]
    pub fn read_capacity(&self) -> usize {
        if self.state != State::Connected || self.read_finished || self.read_paused {
            return 0;
        }
        if self.read_limit == 0 || self.mode == Some(OpenMode::WriteOnly) {
            return self.read_hint;
        }
        self.read_limit
            .saturating_sub(self.read.len())
            .min(self.read_hint)
    }

    /// Whether the driver should wait for readability (the same as
    /// [`read_capacity`](Self::read_capacity) > 0).
    #[inline]
    pub fn wants_read(&self) -> bool {
        self.read_capacity() > 0
    }

    /// Where the driver reads to: the read buffer's spare capacity, limited
    /// to [`read_capacity`](Self::read_capacity). Fill it (`BufMut`), then
    /// call [`handle_received`](Self::handle_received).
    pub fn recv_buf(&mut self) -> bytes::buf::Limit<&mut BytesMut> {
        let cap = self.read_capacity();
        self.read.spare(cap)
    }

    /// The driver read `n` bytes into [`recv_buf`](Self::recv_buf); `n == 0`
    /// means end of stream (see [`handle_eof`](Self::handle_eof)). (The
    /// count is taken from the buffer itself, so a wrong `n > 0` cannot
    /// corrupt it.)
    pub fn handle_received(&mut self, n: usize) {
        if n == 0 {
            self.handle_eof();
            return;
        }
        let added = self.read.take_added();
        if added == 0 {
            return;
        }
        self.received_total += added as u64;
        if added >= self.read_hint {
            // At most 64 KiB: larger buffers come from mmap in common
            // allocators, and a fresh mapping per refill costs page faults.
            self.read_hint = (self.read_hint * 2).min(READ_CHUNK);
        }
        match self.mode {
            Some(m) if m.can_read() => {
                if self.read_limit > 0 && self.read.len() >= self.read_limit {
                    self.read_paused = true;
                }
                if !self.pending_data_event(|e| matches!(e, Event::ReadyRead)) {
                    self.push_event(Event::ReadyRead);
                }
            }
            // Write-only or closed: read and discard, so EOF is still seen.
            _ => self.read.clear(),
        }
    }

    /// End of stream from the peer. Idempotent; buffered data stays
    /// readable.
    ///
    /// If the peer is known to be gone ([`handle_hangup`](Self::handle_hangup)
    /// came first, a send failed, or the platform has no half-close, as
    /// Windows pipes) the connection ends with Qt's sequence. Otherwise it
    /// is a half-close: `ReadChannelFinished`, no error, still Connected,
    /// and writes keep working; the driver then watches for the hang-up
    /// ([`wants_hangup_watch`](Self::wants_hangup_watch)). A Unix driver
    /// that sees a hang-up together with the end of stream reports
    /// `handle_hangup` first, so a peer that closed completely gets Qt's
    /// order of signals.
    pub fn handle_eof(&mut self) {
        if self.read_finished || !matches!(self.state, State::Connected | State::Closing) {
            return;
        }
        if self.peer_gone.is_none() && self.config.name_context.platform.is_windows() {
            self.note_peer_gone(self.peer_closed_error());
        }
        match self.peer_gone {
            // Qt's sequence for a peer that closed: always through Closing.
            Some(_) => self.end_with_fatal(true),
            None => {
                self.read_finished = true;
                self.read_paused = false;
                self.push_read_channel_finished();
            }
        }
    }

    /// The peer is gone for good (on Unix: the socket polls `POLLHUP`; a
    /// pipe's broken-pipe error). Nothing more can be sent: queued output
    /// is dropped and counted as lost. If the read side is still open, the
    /// data the peer sent before it went is read out first; the connection
    /// ends at end of stream. After a half-close it ends now, without a
    /// second `ReadChannelFinished`.
    pub fn handle_hangup(&mut self) {
        if !matches!(self.state, State::Connected | State::Closing) || self.peer_gone.is_some() {
            return;
        }
        let err = self.peer_closed_error();
        self.note_peer_gone(err);
        self.settle_peer_gone();
    }

    /// Whether the driver should watch the socket for a hang-up while it
    /// has nothing else to wait for: the peer half-closed and may go away
    /// later (Unix `poll` reports `POLLHUP` with any interest).
    pub fn wants_hangup_watch(&self) -> bool {
        self.state == State::Connected && self.read_finished && self.peer_gone.is_none()
    }

    /// Whether there is queued data the driver should write now.
    #[inline]
    pub fn wants_write(&self) -> bool {
        !self.write.is_empty()
            && matches!(self.state, State::Connected | State::Closing)
            && self.peer_gone.is_none()
    }

    /// Whether enough is queued that the driver should write now, without
    /// waiting for a flush: writes are coalesced (like `BufWriter`, and like
    /// Qt, which writes from its event loop) until this many bytes are queued.
    #[inline]
    pub fn wants_transmit_now(&self) -> bool {
        self.wants_write() && self.write.len() >= TRANSMIT_THRESHOLD
    }

    /// Whether the driver may write `len` bytes of the user's buffer straight
    /// to the OS, skipping the queue: nothing is queued (so order is kept),
    /// the write is large enough that coalescing would not help (or is what
    /// follows a partial direct write, typically its rest), and the device
    /// is connected and writable. Report with
    /// [`handle_sent_direct`](Self::handle_sent_direct); queue the rest.
    #[inline]
    pub fn can_write_direct(&self, len: usize) -> bool {
        (len >= TRANSMIT_THRESHOLD || self.direct_tail)
            && self.write.is_empty()
            && self.state == State::Connected
            && self.peer_gone.is_none()
            && self.mode.is_some_and(OpenMode::can_write)
    }

    /// The OS took `n` of the `offered` bytes written directly from the
    /// user's buffer. Less than offered means the socket filled up: the
    /// next write may go direct whatever its size (see
    /// [`can_write_direct`](Self::can_write_direct)).
    #[inline]
    pub fn handle_sent_direct(&mut self, n: usize, offered: usize) {
        self.direct_tail = n < offered && self.state == State::Connected;
        if n > 0 && matches!(self.state, State::Connected | State::Closing) {
            self.sent_total += n as u64;
            self.push_bytes_written(n);
        }
    }

    /// Whether the driver may read straight into the user's buffer of `len`
    /// bytes, skipping the core's buffer: nothing is buffered (so order is
    /// kept), reading is allowed now, and the device is open for reading.
    /// Report with [`handle_received_direct`](Self::handle_received_direct).
    #[inline]
    pub fn can_read_direct(&self, len: usize) -> bool {
        len > 0
            && self.read.is_empty()
            && self.read_capacity() > 0
            && self.mode.is_some_and(OpenMode::can_read)
    }

    /// The driver read `n` bytes straight into the user's buffer; `n == 0`
    /// means end of stream. No `ReadyRead` is queued: the user already has
    /// the data.
    #[inline]
    pub fn handle_received_direct(&mut self, n: usize) {
        if n == 0 {
            self.handle_eof();
        } else {
            self.received_total += n as u64;
        }
    }

    /// The queued bytes, oldest first, for a vectored write. Report what the
    /// OS took with [`handle_sent`](Self::handle_sent).
    pub fn transmit_chunks(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.write.chunks()
    }

    /// The OS took `n` bytes of [`transmit_chunks`](Self::transmit_chunks).
    pub fn handle_sent(&mut self, n: usize) {
        if !matches!(self.state, State::Connected | State::Closing) {
            return;
        }
        let n = self.write.consume(n);
        if n == 0 {
            return;
        }
        self.sent_total += n as u64;
        self.push_bytes_written(n);
        if self.state == State::Closing && self.write.is_empty() {
            self.finish_close();
        }
    }

    /// An I/O error on the live connection. Would-block and interrupts are
    /// ignored. A send that fails because the peer is gone (EPIPE,
    /// ECONNRESET, a broken pipe) drops the queued output but not what the
    /// peer sent: reading goes on to end of stream first. Anything else
    /// ends the connection with Qt's category. Buffered input stays
    /// readable.
    pub fn handle_io_error(&mut self, direction: Direction, err: OsError) {
        if !matches!(self.state, State::Connected | State::Closing) {
            return;
        }
        match classify_io_error(direction, err) {
            IoVerdict::Retry => {}
            // Qt's read returns 0 on ECONNRESET: a reset seen by a read is an
            // end of stream, with its Closing step.
            IoVerdict::Fatal(SocketError::PeerClosed) if direction == Direction::Read => {
                if self.peer_gone.is_none() {
                    let e = LocalSocketError::from_os(
                        SocketError::PeerClosed,
                        ErrorSource::Socket,
                        err,
                    );
                    self.note_peer_gone(e);
                }
                if self.read_finished {
                    self.settle_peer_gone();
                } else {
                    self.end_with_fatal(true);
                }
            }
            IoVerdict::Fatal(SocketError::PeerClosed) => {
                if self.peer_gone.is_none() {
                    let e = LocalSocketError::from_os(
                        SocketError::PeerClosed,
                        ErrorSource::Socket,
                        err,
                    );
                    self.note_peer_gone(e);
                }
                self.settle_peer_gone();
            }
            IoVerdict::Fatal(kind) => {
                let had_pending = !self.write.is_empty();
                self.fatal = Some(Box::new(LocalSocketError::from_os(
                    kind,
                    ErrorSource::Socket,
                    err,
                )));
                self.end_with_fatal(had_pending);
            }
        }
    }

    /// The next deadline the driver must wake up for, if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.state {
            State::Connecting => match (self.retry_at, self.deadline) {
                (Some(r), Some(d)) => Some(r.min(d)),
                (r, d) => r.or(d),
            },
            State::Closing => self.deadline,
            _ => None,
        }
    }

    /// Time passed; act on any deadline that is due. Harmless when none is.
    pub fn handle_timeout(&mut self, now: Duration) {
        match self.state {
            State::Connecting => {
                if self.deadline.is_some_and(|d| now >= d) {
                    self.connect_timed_out();
                } else if self.retry_at.is_some_and(|r| now >= r) {
                    self.retry_at = None;
                    self.push_connect();
                }
            }
            State::Closing if self.deadline.is_some_and(|d| now >= d) => {
                self.fatal = Some(Box::new(
                    LocalSocketError::new(SocketError::SocketTimeout, ErrorSource::Socket)
                        .with_detail("pending data was not drained in time"),
                ));
                self.end_with_fatal(false);
            }
            _ => {}
        }
    }

    // ----- outputs ----------------------------------------------------------

    /// The next thing the driver must do with the OS.
    #[inline]
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.close_pending {
            self.close_pending = false;
            return Some(Action::Close);
        }
        if self.connect_pending {
            self.connect_pending = false;
            if let Some(address) = self.names.as_ref().and_then(|n| n.address.as_ref()) {
                return Some(Action::Connect {
                    address: address.clone(),
                    mode: self.requested_mode,
                });
            }
        }
        None
    }

    /// The next Qt signal to deliver.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Undelivered events.
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    // ----- internals ---------------------------------------------------------

    fn check_readable(&self) -> Result<(), DeviceError> {
        match self.mode {
            None => Err(DeviceError::NotOpen),
            Some(OpenMode::WriteOnly) => Err(DeviceError::WriteOnly),
            Some(_) => Ok(()),
        }
    }

    fn check_writable(&self) -> Result<(), DeviceError> {
        match self.mode {
            None => Err(DeviceError::NotOpen),
            Some(OpenMode::ReadOnly) => Err(DeviceError::ReadOnly),
            Some(_) if self.state == State::Unconnected || self.peer_gone.is_some() => {
                Err(DeviceError::NotConnected)
            }
            Some(_) => Ok(()),
        }
    }

    /// The application read from the buffer: once it is empty, a read
    /// limit that paused reading lets the driver read again.
    fn note_consumed(&mut self) {
        if self.read.is_empty() {
            self.read_paused = false;
        }
    }

    fn peer_closed_error(&self) -> LocalSocketError {
        LocalSocketError::new(SocketError::PeerClosed, ErrorSource::Socket)
            .with_platform(self.config.name_context.platform)
    }

    /// The peer is gone: remember why (sticky) and drop what can no longer
    /// be delivered.
    fn note_peer_gone(&mut self, err: LocalSocketError) {
        let had_pending = !self.write.is_empty();
        self.writes_lost |= had_pending;
        self.write.clear();
        self.fatal = Some(Box::new(err));
        self.peer_gone = Some(had_pending);
    }

    /// Ends the connection of a gone peer now if nothing more can be read
    /// from it (after a half-close, while Closing, or when the device
    /// cannot read); otherwise reading goes on until end of stream.
    fn settle_peer_gone(&mut self) {
        let Some(had_pending) = self.peer_gone else {
            return;
        };
        if self.read_finished {
            // After a half-close: no second ReadChannelFinished, and Closing
            // only if writes were pending.
            self.end_with_fatal(had_pending);
        } else if self.state == State::Closing || !self.mode.is_some_and(OpenMode::can_read) {
            // Qt reads nothing while Closing; a closed or write-only device
            // has no use for the peer's data.
            self.end_with_fatal(true);
        }
    }

    fn set_state(&mut self, state: State) {
        debug_assert!(
            self.state.can_move_to(state),
            "{:?} -> {:?}",
            self.state,
            state
        );
        self.state = state;
        self.deadline = None;
        self.push_event(Event::StateChanged(state));
    }

    /// Undelivered data signals merge: since the last state change at most
    /// one `ReadyRead` and one `BytesWritten` wait in the queue (their
    /// order relative to state changes is kept), so a driver whose user
    /// never takes events keeps a bounded queue.
    fn push_bytes_written(&mut self, n: usize) {
        for e in self.events.iter_mut().rev() {
            match e {
                Event::BytesWritten(m) => {
                    *m = m.saturating_add(n);
                    return;
                }
                Event::ReadyRead => {}
                _ => break,
            }
        }
        self.push_event(Event::BytesWritten(n));
    }

    /// Whether an undelivered data event matching `f` is queued since the
    /// last state change.
    fn pending_data_event(&self, f: impl Fn(&Event) -> bool) -> bool {
        for e in self.events.iter().rev() {
            if f(e) {
                return true;
            }
            if !matches!(e, Event::ReadyRead | Event::BytesWritten(_)) {
                break;
            }
        }
        false
    }

    fn push_read_channel_finished(&mut self) {
        if !self.read_channel_finished {
            self.read_channel_finished = true;
            self.push_event(Event::ReadChannelFinished);
        }
    }

    /// Queues an event, keeping the queue bounded for a user who never
    /// takes events. A timeout right after a timeout merges into it. At
    /// [`MAX_QUEUED_EVENTS`] only these may go: events that carry no
    /// transition (data signals, repeated timeouts), the incoming one if it
    /// is such, else the oldest such; failing that, the oldest event of a
    /// connection that has already ended (a connect/abort loop). The
    /// signals of the current connection's transitions are never dropped.
    #[inline]
    fn push_event(&mut self, e: Event) {
        // The usual case: room, and not a timeout that may merge.
        if self.events.len() < MAX_QUEUED_EVENTS
            && !self.released
            && e != Event::Error(SocketError::SocketTimeout)
        {
            self.events.push_back(e);
        } else {
            self.push_event_slow(e);
        }
    }

    /// [`push_event`](Self::push_event) when the queue is full, the
    /// connection released, or `e` a timeout (merged with one just before).
    #[inline(never)]
    fn push_event_slow(&mut self, e: Event) {
        if self.released {
            return;
        }
        let droppable = |e: &Event| {
            matches!(
                e,
                Event::ReadyRead
                    | Event::BytesWritten(_)
                    | Event::Error(SocketError::SocketTimeout)
            )
        };
        if e == Event::Error(SocketError::SocketTimeout) && self.events.back() == Some(&e) {
            return;
        }
        if self.events.len() >= MAX_QUEUED_EVENTS {
            if droppable(&e) {
                return;
            }
            let droppable_at = self.events.iter().position(droppable);
            if let Some(i) = droppable_at {
                self.events.remove(i);
            } else if self
                .events
                .iter()
                .skip(1)
                .any(|e| *e == Event::StateChanged(State::Connecting))
            {
                // The front belongs to an earlier connection.
                self.events.pop_front();
            }
        }
        self.events.push_back(e);
    }

    fn push_connect(&mut self) {
        self.connect_pending = true;
    }

    /// Queues closing the OS object; a connect queued before is moot.
    fn push_close(&mut self) {
        self.close_pending = true;
        self.connect_pending = false;
    }

    fn clear_connect(&mut self) {
        self.deadline = None;
        self.retry_at = None;
        self.connect_pending = false;
    }

    fn fail_connect(&mut self, err: LocalSocketError) {
        let kind = err.kind();
        self.error = Some(Box::new(err.clone()));
        self.fatal = Some(Box::new(err));
        self.push_event(Event::Error(kind));
        self.clear_connect();
        self.push_close();
        self.mode = None;
        self.set_state(State::Unconnected);
        self.names = None;
    }

    fn connect_timed_out(&mut self) {
        self.fail_connect(
            LocalSocketError::new(SocketError::SocketTimeout, ErrorSource::ConnectToServer)
                .with_detail("the server did not accept in time"),
        );
    }

    fn cancel_connect(&mut self, read_channel_finished: bool) {
        self.clear_connect();
        self.push_close();
        self.mode = None;
        self.set_state(State::Unconnected);
        if read_channel_finished {
            self.push_event(Event::ReadChannelFinished);
        }
        self.names = None;
    }

    /// Connected or Closing → Unconnected, with Qt's closing signals.
    fn finish_close(&mut self) {
        self.read_finished = true;
        self.read_paused = false;
        self.peer_gone = None;
        self.set_state(State::Unconnected);
        self.push_read_channel_finished();
        self.push_event(Event::Disconnected);
        self.push_close();
        self.names = None;
    }

    /// Ends the connection with `self.fatal`: Error, Closing when
    /// `closing_step` (Qt shows it when writes were pending, and for a peer
    /// that closed), Unconnected, ReadChannelFinished (once), Disconnected.
    fn end_with_fatal(&mut self, closing_step: bool) {
        let err = self
            .fatal
            .get_or_insert_with(|| {
                Box::new(LocalSocketError::new(
                    SocketError::PeerClosed,
                    ErrorSource::Socket,
                ))
            })
            .clone();
        let kind = err.kind();
        self.error = Some(err);
        self.push_event(Event::Error(kind));
        self.writes_lost |= !self.write.is_empty();
        self.write.clear();
        if closing_step && self.state == State::Connected {
            self.set_state(State::Closing);
        }
        self.finish_close();
    }
}

/// Which of Qt's `waitFor*` calls a [`Wait`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitFor {
    /// `waitForConnected`: until the connect has an outcome.
    Connected,
    /// `waitForReadyRead`: until new data is buffered.
    ReadyRead,
    /// `waitForBytesWritten`: until the OS took some pending data.
    BytesWritten,
    /// `waitForDisconnected`: until Unconnected.
    Disconnected,
}

/// A wait in progress: its kind and the baseline it started from. Made by
/// [`Connection::begin_wait`], judged by [`Connection::wait_outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    kind: WaitFor,
    mark: u64,
    /// The wait had nothing to wait for when it began (Qt returns false at
    /// once).
    refused: bool,
}

impl Wait {
    /// Which wait this is.
    pub fn kind(&self) -> WaitFor {
        self.kind
    }
}
