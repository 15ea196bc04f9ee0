//! What the runtimes share besides system calls: Qt's wait timeouts and
//! where names resolve on this machine.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use localsock_core::{Config, NameContext, Platform};

/// How long a `wait_for_*` call may block: Qt's milliseconds, where -1
/// means forever and 0 means "don't wait".
///
/// ```
/// use localsock_os::Timeout;
/// use std::time::Duration;
/// let _: Timeout = Duration::from_secs(3).into();
/// let _ = Timeout::FOREVER; // Qt's -1
/// let _ = Timeout::NONE;    // Qt's 0
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout(Option<Duration>);

impl Timeout {
    /// Wait as long as it takes (Qt's -1).
    pub const FOREVER: Timeout = Timeout(None);
    /// Do not wait: make what progress is possible now (Qt's 0).
    pub const NONE: Timeout = Timeout(Some(Duration::ZERO));

    /// Qt's spelling: milliseconds, negative = forever.
    pub fn from_millis(ms: i64) -> Timeout {
        if ms < 0 {
            Timeout::FOREVER
        } else {
            Timeout(Some(Duration::from_millis(ms as u64)))
        }
    }

    /// The duration, or `None` for forever.
    pub fn duration(self) -> Option<Duration> {
        self.0
    }

    /// When a wait starting now must give up, or `None` for never (also
    /// when the deadline is beyond `Instant`'s range).
    pub fn deadline(self) -> Option<Instant> {
        self.0.and_then(|d| Instant::now().checked_add(d))
    }
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Self {
        Timeout(Some(d))
    }
}

impl From<Option<Duration>> for Timeout {
    fn from(d: Option<Duration>) -> Self {
        Timeout(d)
    }
}

/// Where names resolve on this machine, as Qt does it: `$TMPDIR` (made
/// absolute, trailing `/` removed) or `/tmp` on Unix; pipes on Windows.
///
/// Read once per process, at the first call (Qt reads `TMPDIR` at every
/// connect and listen; docs/semantics.md, difference 34): every socket and
/// server of a process then agrees on where names live, and a socket does
/// not pay for an environment lookup.
pub fn name_context() -> NameContext {
    process_name_context().clone()
}

fn process_name_context() -> &'static NameContext {
    static CONTEXT: OnceLock<NameContext> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        #[cfg(windows)]
        {
            NameContext::new(Platform::CURRENT, String::new())
        }
        #[cfg(not(windows))]
        {
            let dir = std::env::var_os("TMPDIR")
                .map(std::path::PathBuf::from)
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| {
                    if p.is_absolute() {
                        p
                    } else {
                        std::env::current_dir().unwrap_or_default().join(p)
                    }
                })
                .and_then(|p| p.to_str().map(|s| s.trim_end_matches('/').to_string()))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/tmp".to_string());
            NameContext::new(Platform::CURRENT, dir)
        }
    })
}

/// Qt's defaults with [`name_context`], one shared value for every socket
/// that keeps them (a setter copies it for that socket alone): a process
/// that opens many sockets allocates nothing for their configuration.
///
/// ```
/// let a = localsock_os::default_config();
/// let b = localsock_os::default_config();
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// assert_eq!(a.name_context, localsock_os::name_context());
/// ```
pub fn default_config() -> Arc<Config> {
    shared_default_config().clone()
}

/// [`default_config`] by reference, for
/// [`Connection::with_static_config`](localsock_core::Connection::with_static_config):
/// a socket made from it touches no reference count when it is created
/// or dropped.
///
/// ```
/// let a = localsock_os::default_config();
/// assert!(std::ptr::eq(localsock_os::default_config_ref(), &*a));
/// ```
pub fn default_config_ref() -> &'static Config {
    shared_default_config()
}

fn shared_default_config() -> &'static Arc<Config> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG.get_or_init(|| Arc::new(Config::new(name_context())))
}

/// When the core's clock started: one origin for every connection of the
/// process (the core only compares times), so creating a connection reads
/// no clock.
pub fn clock_origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// The core's `now`: the time since [`clock_origin`].
pub fn core_now() -> Duration {
    clock_origin().elapsed()
}

/// Qt's static `QLocalServer::removeServer`: removes the socket file that
/// `name` resolves to, whatever is there. True if nothing is left (pipes
/// leave nothing behind). Dangerous: it removes a live server's socket too;
/// a listen already reclaims stale sockets safely.
pub fn remove_server(name: &str) -> bool {
    match localsock_core::resolve_remove_server_name(name, &name_context()) {
        Ok(Some(path)) => remove_socket_path(&path),
        Ok(None) => true,
        Err(_) => false,
    }
}

#[cfg(unix)]
fn remove_socket_path(path: &str) -> bool {
    crate::unix::remove_socket_file(std::path::Path::new(path)).is_ok()
}

#[cfg(not(unix))]
fn remove_socket_path(_path: &str) -> bool {
    true
}
