//! Everything a `QLocalServer` decides: name and options → what to create,
//! Qt's listen error rules, when a leftover socket file may be reclaimed, and
//! the pending-connections queue.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;

use crate::connection::{AcceptedFrom, Config, MAX_QUEUED_EVENTS};
use crate::error::{ErrorSource, ListenError, ServerError};
use crate::event::ServerEvent;
use crate::name::{resolve_server_name, Address, NameContext};
use crate::os::OsError;

/// Qt's default `maxPendingConnections`.
pub const DEFAULT_MAX_PENDING: usize = 30;
/// Qt's default `listenBacklogSize`.
pub const DEFAULT_BACKLOG: u32 = 50;
/// Pipe instances a Windows server keeps armed by default: as in Qt (6.3+),
/// as many as the listen backlog, so a burst of clients that connect before
/// the server accepts is held the way a Unix backlog holds it.
pub const DEFAULT_PIPE_INSTANCES: usize = DEFAULT_BACKLOG as usize;

/// Qt's `QLocalServer::SocketOption` access bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access {
    /// `UserAccessOption`: the owner may connect.
    pub user: bool,
    /// `GroupAccessOption`: the owner's group may connect.
    pub group: bool,
    /// `OtherAccessOption`: everyone else may connect.
    pub other: bool,
}

impl Access {
    /// No option: the OS default (umask on Unix, default DACL on Windows).
    pub const DEFAULT: Access = Access {
        user: false,
        group: false,
        other: false,
    };
    /// `UserAccessOption`.
    pub const USER: Access = Access {
        user: true,
        group: false,
        other: false,
    };
    /// `GroupAccessOption`.
    pub const GROUP: Access = Access {
        user: false,
        group: true,
        other: false,
    };
    /// `OtherAccessOption`.
    pub const OTHER: Access = Access {
        user: false,
        group: false,
        other: true,
    };
    /// `WorldAccessOption` (= user | group | other).
    pub const WORLD: Access = Access {
        user: true,
        group: true,
        other: true,
    };

    /// Whether any bit is set.
    pub fn is_restricted(self) -> bool {
        self.user || self.group || self.other
    }

    /// The Unix mode bits Qt applies: `S_IRWXU`, `S_IRWXG`, `S_IRWXO` ORed
    /// together; `None` when no bit is set (the umask decides).
    pub fn unix_mode(self) -> Option<u32> {
        if !self.is_restricted() {
            return None;
        }
        Some(
            (if self.user { 0o700 } else { 0 })
                | (if self.group { 0o070 } else { 0 })
                | (if self.other { 0o007 } else { 0 }),
        )
    }

    /// The SDDL security descriptor a Windows server applies, built from the
    /// process token's user and primary-group SIDs (as strings). Like Qt:
    /// one full-access entry per bit (user, primary group, Everyone); owner
    /// and group set to the user and primary group; `None` when no bit is
    /// set (the default descriptor applies).
    ///
    /// ```
    /// use localsock_core::Access;
    /// assert_eq!(Access::USER.windows_sddl("S-1-5-21-1", "S-1-5-21-2").unwrap(),
    ///            "O:S-1-5-21-1G:S-1-5-21-2D:P(A;;FA;;;S-1-5-21-1)");
    /// ```
    pub fn windows_sddl(self, user_sid: &str, group_sid: &str) -> Option<String> {
        if !self.is_restricted() {
            return None;
        }
        let mut s = format!("O:{user_sid}G:{group_sid}D:P");
        if self.user {
            s.push_str(&format!("(A;;FA;;;{user_sid})"));
        }
        if self.group {
            s.push_str(&format!("(A;;FA;;;{group_sid})"));
        }
        if self.other {
            s.push_str("(A;;FA;;;WD)");
        }
        Some(s)
    }

    /// Parses the CLI's spelling: `user`, `group`, `other`, `world`, or
    /// several joined by `,` or `|`.
    pub fn parse(s: &str) -> Option<Access> {
        let mut a = Access::DEFAULT;
        for part in s.split([',', '|']) {
            match part.trim() {
                "user" => a.user = true,
                "group" => a.group = true,
                "other" => a.other = true,
                "world" => a = Access::WORLD,
                _ => return None,
            }
        }
        Some(a)
    }
}

/// How a server listens: Qt's socket options plus the listen backlog,
/// the pending-connection limit and our stale-socket rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Who may connect (Qt's access options).
    pub access: Access,
    /// Qt's `AbstractNamespaceOption` (Linux only; on Linux it drops the
    /// access bits, as in Qt; elsewhere it becomes world access, as in Qt).
    pub abstract_namespace: bool,
    /// The OS listen backlog (Qt's `listenBacklogSize`).
    pub listen_backlog: u32,
    /// Connections accepted from the OS but not yet taken by the user; while
    /// this many are queued the server stops accepting (exact, unlike Qt).
    pub max_pending_connections: usize,
    /// Reclaim a leftover socket file: only a socket, only after a connect
    /// probe was refused. Off: a leftover file gives `AddressInUse`, as in Qt.
    pub reclaim_stale_socket: bool,
    /// Windows: pipe instances kept armed so a burst of clients is served.
    pub pipe_instances: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            access: Access::DEFAULT,
            abstract_namespace: false,
            listen_backlog: DEFAULT_BACKLOG,
            max_pending_connections: DEFAULT_MAX_PENDING,
            reclaim_stale_socket: true,
            pipe_instances: DEFAULT_PIPE_INSTANCES,
        }
    }
}

/// What the adapter must create to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenPlan {
    /// The address to bind.
    pub address: Address,
    /// Unix mode bits to apply race-free (bind in a private directory, set
    /// the mode, then move into place), or `None`.
    pub unix_mode: Option<u32>,
    /// The access bits for a Windows security descriptor
    /// ([`Access::windows_sddl`]).
    pub access: Access,
    /// The OS listen backlog.
    pub backlog: u32,
    /// Whether a leftover socket file may be reclaimed (see [`reclaim_decision`]).
    pub reclaim_stale_socket: bool,
    /// Windows: pipe instances to keep armed.
    pub pipe_instances: usize,
}

/// Turns a name and options into a [`ListenPlan`], with Qt's platform
/// mapping of the abstract-namespace option.
pub fn plan_listen(
    name: &str,
    options: &ServerOptions,
    ctx: &NameContext,
) -> Result<ListenPlan, ListenError> {
    let platform = ctx.platform;
    // Qt: on Linux the option means only the abstract namespace (access
    // bits dropped); on other Unix it becomes WorldAccess; on Windows it has
    // no effect at all (docs/semantics.md §8).
    let (abstract_ns, access) = if !options.abstract_namespace || platform.is_windows() {
        (false, options.access)
    } else if platform.supports_abstract_namespace() {
        (true, Access::DEFAULT)
    } else {
        (false, Access::WORLD)
    };
    let address = resolve_server_name(name, abstract_ns, ctx).map_err(|e| {
        ListenError::new(ServerError::HostNotFound, ErrorSource::Listen).with_detail(e.detail())
    })?;
    let unix_mode = match address {
        Address::Path(_) => access.unix_mode(),
        _ => None,
    };
    Ok(ListenPlan {
        address,
        unix_mode,
        access,
        backlog: options.listen_backlog,
        reclaim_stale_socket: options.reclaim_stale_socket,
        pipe_instances: options.pipe_instances.max(1),
    })
}

/// What is at a server's path when the bind finds the address in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingPath {
    /// Nothing (it vanished meanwhile).
    Missing,
    /// A socket file.
    Socket,
    /// Anything else: a regular file, a directory, a symlink, …
    Other,
}

/// What a connect probe to an existing socket file said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Refused: nobody listens; the file is stale.
    Refused,
    /// Accepted (or backlog full): a live server owns the name.
    Live,
    /// The probe could not tell (e.g. access denied).
    Inconclusive,
}

/// Whether to remove a socket file found at the address, and try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReclaimDecision {
    /// Remove the stale socket file and bind again (once).
    Reclaim,
    /// Retry the bind without removing anything (the path vanished).
    Retry,
    /// Give up with `AddressInUse`; leave the file alone.
    AddressInUse,
}

/// The stale-socket rule: reclaim only a socket, only after a refused probe,
/// only when the options allow it. A live server's socket is never removed.
///
/// ```
/// use localsock_core::{reclaim_decision, ExistingPath, ProbeOutcome, ReclaimDecision};
/// assert_eq!(reclaim_decision(true, ExistingPath::Socket, ProbeOutcome::Refused), ReclaimDecision::Reclaim);
/// assert_eq!(reclaim_decision(true, ExistingPath::Socket, ProbeOutcome::Live), ReclaimDecision::AddressInUse);
/// assert_eq!(reclaim_decision(true, ExistingPath::Other, ProbeOutcome::Refused), ReclaimDecision::AddressInUse);
/// assert_eq!(reclaim_decision(false, ExistingPath::Socket, ProbeOutcome::Refused), ReclaimDecision::AddressInUse);
/// ```
pub fn reclaim_decision(
    reclaim_allowed: bool,
    existing: ExistingPath,
    probe: ProbeOutcome,
) -> ReclaimDecision {
    match (reclaim_allowed, existing, probe) {
        (_, ExistingPath::Missing, _) => ReclaimDecision::Retry,
        (true, ExistingPath::Socket, ProbeOutcome::Refused) => ReclaimDecision::Reclaim,
        _ => ReclaimDecision::AddressInUse,
    }
}

/// `QLocalServer`'s bookkeeping: names, error, listening flag and the
/// pending-connections queue of accepted connections of type `T`.
#[derive(Debug)]
pub struct Server<T> {
    server_name: String,
    full_server_name: String,
    address: Option<Address>,
    /// What the connections accepted on `address` share; see
    /// [`Server::accepted_from`].
    accepted_from: Option<AcceptedFrom>,
    listening: bool,
    /// The listener was adopted from a descriptor: its socket file (if
    /// any) is not ours to remove.
    adopted: bool,
    max_pending: usize,
    pending: VecDeque<T>,
    error: Option<ListenError>,
    events: EventQueue,
}

/// The server's undelivered [`ServerEvent`]s, run-length encoded: a
/// server whose owner takes connections without draining the events (with
/// `accept` or `incoming`) keeps one entry, however many connections it
/// accepts, and no `NewConnection` is ever dropped.
#[derive(Debug, Default)]
struct EventQueue {
    runs: VecDeque<(ServerEvent, u64)>,
}

impl EventQueue {
    /// Queues `event`: a `NewConnection` after a `NewConnection` adds to
    /// its run; an `AcceptError` equal to the last event is merged into
    /// it. At [`MAX_QUEUED_EVENTS`] runs a new `AcceptError` is dropped
    /// (the error stays in `last_error`), so the queue stays bounded.
    fn push(&mut self, event: ServerEvent) {
        let full = self.runs.len() >= MAX_QUEUED_EVENTS;
        match self.runs.back_mut() {
            Some((last, n)) if *last == event => {
                if event == ServerEvent::NewConnection {
                    *n = n.saturating_add(1);
                }
            }
            _ if full && event != ServerEvent::NewConnection => {}
            _ => self.runs.push_back((event, 1)),
        }
    }

    fn pop(&mut self) -> Option<ServerEvent> {
        let (event, n) = self.runs.front_mut()?;
        let event = *event;
        *n -= 1;
        if *n == 0 {
            self.runs.pop_front();
        }
        Some(event)
    }

    fn len(&self) -> u64 {
        self.runs.iter().map(|(_, n)| *n).sum()
    }

    fn clear(&mut self) {
        self.runs.clear();
    }
}

impl<T> Default for Server<T> {
    fn default() -> Self {
        Server {
            server_name: String::new(),
            full_server_name: String::new(),
            address: None,
            accepted_from: None,
            listening: false,
            adopted: false,
            max_pending: DEFAULT_MAX_PENDING,
            pending: VecDeque::new(),
            error: None,
            events: EventQueue::default(),
        }
    }
}

impl<T> Server<T> {
    /// A server that is not listening.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a listen: returns what to create, or the error (also stored).
    /// Listening twice is an error, as in Qt.
    pub fn listen(
        &mut self,
        name: &str,
        options: &ServerOptions,
        ctx: &NameContext,
    ) -> Result<ListenPlan, ListenError> {
        if self.listening {
            return Err(
                ListenError::new(ServerError::AddressInUse, ErrorSource::Listen)
                    .with_detail("already listening"),
            );
        }
        self.max_pending = options.max_pending_connections;
        match plan_listen(name, options, ctx) {
            Ok(plan) => {
                self.server_name = name.to_string();
                self.full_server_name = plan.address.as_str().to_string();
                self.address = Some(plan.address.clone());
                self.accepted_from = None;
                self.adopted = false;
                Ok(plan)
            }
            Err(e) => {
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Starts a listen on a descriptor made elsewhere (Qt's
    /// `listen(qintptr)`), which
    /// [`plan_listen_descriptor`](crate::descriptor::plan_listen_descriptor)
    /// accepted and whose own
    /// address the OS reported as `address` (see
    /// [`address_from_sockaddr`](crate::descriptor::address_from_sockaddr)).
    /// The names follow Qt's parser: the last path component and the path
    /// (the bare name for an abstract address), empty when the address
    /// is unnamed or not text. The server's socket file, if any, is never
    /// removed: it was not created here. Call
    /// [`handle_listening`](Self::handle_listening) once the adapter holds
    /// the listener.
    pub fn listen_descriptor(&mut self, address: Option<Address>) -> Result<(), ListenError> {
        if self.listening {
            return Err(
                ListenError::new(ServerError::AddressInUse, ErrorSource::Listen)
                    .with_detail("already listening"),
            );
        }
        let address = address.unwrap_or(Address::Path("".into()));
        self.server_name = address.accepted_server_name().to_string();
        self.full_server_name = address.as_str().to_string();
        self.address = Some(address);
        self.accepted_from = None;
        self.adopted = true;
        Ok(())
    }

    /// The adapter created the listener: the server is listening and the
    /// previous error is cleared (Qt keeps it; we do not).
    pub fn handle_listening(&mut self) {
        self.listening = true;
        self.error = None;
    }

    /// The adapter failed to create the listener.
    pub fn handle_listen_error(&mut self, err: ListenError) {
        self.listening = false;
        self.server_name.clear();
        self.full_server_name.clear();
        self.address = None;
        self.accepted_from = None;
        self.error = Some(err);
    }

    /// The adapter failed to create the listener with OS error `os`.
    pub fn handle_listen_os_error(&mut self, os: OsError) -> ListenError {
        let err = ListenError::from_os(ErrorSource::Listen, os);
        self.handle_listen_error(err.clone());
        err
    }

    /// Accepting from the OS failed with `os` (out of descriptors, say):
    /// the error is recorded and the server keeps listening (Qt closes it;
    /// a daemon must survive `EMFILE`). Returns the error to report, or
    /// `Ok` when connections accepted before the failure are queued: those
    /// are served first, or they (and the descriptors they hold) would be
    /// stuck behind the error.
    pub fn handle_accept_error(&mut self, os: OsError) -> Result<(), ListenError> {
        let err = ListenError::from_os(ErrorSource::Accept, os);
        self.error = Some(err.clone());
        if self.pending.is_empty() {
            self.events.push(ServerEvent::AcceptError(err.kind()));
            Err(err)
        } else {
            Ok(())
        }
    }

    /// An accept or wait failed fatally: the server is closed, as in Qt.
    /// Returns the connections that were still queued.
    pub fn handle_fatal(&mut self, err: ListenError) -> VecDeque<T> {
        let pending = self.close();
        self.error = Some(err);
        pending
    }

    /// Whether the server is listening.
    pub fn is_listening(&self) -> bool {
        self.listening
    }

    /// The name passed to `listen`.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The resolved path or pipe name.
    pub fn full_server_name(&self) -> &str {
        &self.full_server_name
    }

    /// The address being listened on.
    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }

    /// What the next accepted connection shares with the others: this
    /// server's address and `config` (the adapter's settings for accepted
    /// sockets), built once and rebuilt only when `config` changes. Pass it
    /// to [`Connection::accepted_from`](crate::Connection::accepted_from).
    /// `None` when no address is set (not listening).
    ///
    /// The adapter keeps `config` in an `Arc` it replaces on change: the
    /// check per accepted connection is then a pointer comparison.
    pub fn accepted_from(&mut self, config: &Arc<Config>) -> Option<&AcceptedFrom> {
        let address = self.address.as_ref()?;
        let stale = self.accepted_from.as_ref().map_or(true, |f| {
            !f.address().same_as(address)
                || !(Arc::ptr_eq(f.shared_config(), config) || **f.shared_config() == **config)
        });
        if stale {
            self.accepted_from = Some(AcceptedFrom::new(config.clone(), address));
        }
        self.accepted_from.as_ref()
    }

    /// The last error (`UnknownSocketError` if none, as in Qt).
    pub fn server_error(&self) -> ServerError {
        self.error
            .as_ref()
            .map_or(ServerError::Unknown, |e| e.kind())
    }

    /// The last error with its context.
    pub fn last_error(&self) -> Option<&ListenError> {
        self.error.as_ref()
    }

    /// Qt's text for the last error ("" if none, as in Qt).
    pub fn error_string(&self) -> String {
        self.error.as_ref().map_or(String::new(), |e| e.qt_text())
    }

    /// The pending-connection limit.
    pub fn max_pending_connections(&self) -> usize {
        self.max_pending
    }

    /// Sets the pending-connection limit (takes effect at once).
    pub fn set_max_pending_connections(&mut self, max: usize) {
        self.max_pending = max;
    }

    /// Whether the adapter should accept from the OS now: listening and
    /// fewer than the limit queued. `explicit_wait` is a
    /// `wait_for_new_connection` call, which accepts one even at the limit
    /// when nothing is queued (so a limit of 0 still works, as in Qt).
    pub fn should_accept(&self, explicit_wait: bool) -> bool {
        self.listening
            && (self.pending.len() < self.max_pending || (explicit_wait && self.pending.is_empty()))
    }

    /// Queues an accepted connection and its `NewConnection` event (Qt's
    /// `addPendingConnection`, which emits `newConnection`).
    pub fn push_pending(&mut self, conn: T) {
        self.pending.push_back(conn);
        self.events.push(ServerEvent::NewConnection);
    }

    /// The next of Qt's server signals to deliver: one `NewConnection` per
    /// queued connection, in accept order (see [`ServerEvent`]).
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop()
    }

    /// Undelivered server events.
    pub fn queued_events(&self) -> u64 {
        self.events.len()
    }

    /// Qt's `nextPendingConnection`.
    pub fn next_pending_connection(&mut self) -> Option<T> {
        self.pending.pop_front()
    }

    /// Qt's `hasPendingConnections`.
    pub fn has_pending_connections(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Number of queued connections.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Qt's `close`: stops listening, clears names and error, and returns
    /// the queued connections for the adapter to drop (their clients see
    /// the connection closed). Ask [`Server::socket_file`] for the file to
    /// remove before calling this.
    ///
    /// As in Qt, this is a no-op unless listening: it then clears nothing
    /// (a failed `listen`'s error stays).
    pub fn close(&mut self) -> VecDeque<T> {
        if !self.listening {
            return VecDeque::new();
        }
        self.listening = false;
        self.server_name.clear();
        self.full_server_name.clear();
        self.address = None;
        self.accepted_from = None;
        self.error = None;
        // The connections they announced are dropped with the queue.
        self.events.clear();
        core::mem::take(&mut self.pending)
    }

    /// The socket file the adapter must remove when closing (a path
    /// address while listening); `None` for abstract names and pipes.
    pub fn socket_file(&self) -> Option<&str> {
        match (&self.address, self.listening, self.adopted) {
            (Some(Address::Path(p)), true, false) => Some(p),
            _ => None,
        }
    }
}

/// The part of Qt's `QLocalServer` API that every runtime's `LocalServer`
/// shares word for word: construction, options, `listen`, and the
/// accessors that read the core's [`Server`].
///
/// For runtime crates: expanded inside `impl LocalServer { … }` of a type
/// with the fields `core: Server`, `listener: Option<Listener>` (the
/// runtime's own listener, with `Listener::bind(&ListenPlan) ->
/// Result<Listener, ListenError>`), `options: ServerOptions` and
/// `config: Arc<Config>`, with `name_context()` in scope, and a dependency on
/// `localsock_os` (for `remove_server`). One definition
/// keeps the runtimes' Qt surface and its docs from drifting apart.
#[doc(hidden)]
#[macro_export]
macro_rules! qt_server_api {
    () => {
        /// A server that is not listening, with Qt's defaults.
        pub fn new() -> Self {
            LocalServer {
                core: Server::new(),
                listener: None,
                options: ServerOptions::default(),
                config: ::std::sync::Arc::new(Config::new(name_context())),
            }
        }

        /// The options the next `listen` uses (Qt's `setSocketOptions`,
        /// `setListenBacklogSize`, …).
        pub fn set_options(&mut self, options: ServerOptions) {
            self.options = options;
        }

        /// The options the next `listen` uses.
        pub fn options(&self) -> &ServerOptions {
            &self.options
        }

        /// The configuration of accepted sockets (name context, timeouts).
        pub fn set_socket_config(&mut self, config: Config) {
            self.config = ::std::sync::Arc::new(config);
        }

        /// Listens on `name` with the current options.
        ///
        /// Synchronous on every runtime: creating a listening socket (or
        /// arming pipe instances) never waits (a stale socket's liveness
        /// probe is one non-blocking connect).
        pub fn listen(&mut self, name: &str) -> Result<(), ListenError> {
            let options = self.options.clone();
            self.listen_with(name, options)
        }

        /// Listens on `name` with `options` (which become the current
        /// options).
        pub fn listen_with(
            &mut self,
            name: &str,
            options: ServerOptions,
        ) -> Result<(), ListenError> {
            self.options = options;
            let ctx = self.config.name_context.clone();
            let plan = self.core.listen(name, &self.options, &ctx)?;
            match Listener::bind(&plan) {
                Ok(l) => {
                    self.listener = Some(l);
                    self.core.handle_listening();
                    Ok(())
                }
                Err(e) => {
                    self.core.handle_listen_error(e.clone());
                    Err(e)
                }
            }
        }

        /// Whether the server is listening.
        pub fn is_listening(&self) -> bool {
            self.core.is_listening()
        }

        /// The name passed to `listen`.
        pub fn server_name(&self) -> &str {
            self.core.server_name()
        }

        /// The resolved path or pipe name.
        pub fn full_server_name(&self) -> &str {
            self.core.full_server_name()
        }

        /// The last error (`Unknown` if none). A wait that timed out is not
        /// recorded, as in Qt.
        pub fn server_error(&self) -> ServerError {
            self.core.server_error()
        }

        /// The last error with its context, if any.
        pub fn last_error(&self) -> Option<&ListenError> {
            self.core.last_error()
        }

        /// Qt's text for the last error ("" if none).
        pub fn error_string(&self) -> String {
            self.core.error_string()
        }

        /// The pending-connection limit (Qt default 30).
        pub fn max_pending_connections(&self) -> usize {
            self.core.max_pending_connections()
        }

        /// Sets the pending-connection limit: while this many accepted
        /// connections wait to be taken, no more are accepted from the OS
        /// (its backlog holds them).
        pub fn set_max_pending_connections(&mut self, max: usize) {
            self.options.max_pending_connections = max;
            self.core.set_max_pending_connections(max);
        }
        /// Qt's `close`: stops listening, drops queued connections (their
        /// clients see the connection closed) and removes the socket file.
        /// Unlike Qt, the file is removed only if it is still the one this
        /// server created: if ours was deleted and another server has since
        /// listened on the name, its file stays.
        pub fn close(&mut self) {
            self.close_listener();
            drop(self.core.close());
        }

        /// Qt's static `removeServer`: removes the socket file of `name`,
        /// whatever is there. True if nothing is left. Dangerous: it removes
        /// a live server's socket too; `listen` already reclaims stale
        /// sockets safely.
        pub fn remove_server(name: &str) -> bool {
            localsock_os::remove_server(name)
        }

        /// Stops on an error that ends the server (recorded by the core).
        fn fail(&mut self, err: ListenError) {
            self.close_listener();
            drop(self.core.handle_fatal(err));
        }

        /// Closes the listener and removes the socket file, if it is still
        /// the one this server created.
        fn close_listener(&mut self) {
            if let Some(listener) = self.listener.take() {
                listener.close(self.core.socket_file());
            }
        }
    };
}
