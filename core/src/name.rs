//! Qt's server-name rules as pure functions: a name, the options and the
//! platform in, the OS address out.
//!
//! ```
//! use localsock_core::{resolve_socket_name, NameContext, Platform, Address};
//! let ctx = NameContext::new(Platform::Linux, "/tmp");
//! assert_eq!(resolve_socket_name("myapp", false, &ctx).unwrap(), Address::Path("/tmp/myapp".into()));
//! assert_eq!(resolve_socket_name("/run/x", false, &ctx).unwrap(), Address::Path("/run/x".into()));
//! let win = NameContext::new(Platform::Windows, "");
//! assert_eq!(resolve_socket_name("myapp", false, &win).unwrap().as_str(), r"\\.\pipe\myapp");
//! ```

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::platform::Platform;

/// Where names are resolved: the platform and its temporary directory
/// (Qt uses `$TMPDIR`, or `/tmp` when it is unset; the driver reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameContext {
    /// The platform whose rules apply.
    pub platform: Platform,
    /// The directory relative Unix names live in (unused on Windows).
    pub temp_dir: String,
}

impl NameContext {
    /// A context for `platform` with `temp_dir` as the temporary directory.
    pub fn new(platform: Platform, temp_dir: impl Into<String>) -> Self {
        NameContext {
            platform,
            temp_dir: temp_dir.into(),
        }
    }
}

/// The resolved address of a server: what Qt calls the full server name.
///
/// The text is shared (`Arc<str>`): a connection, the connect actions it
/// queues and the connections a server accepts hold one copy between
/// them, so cloning an address never allocates; with the `std` feature a
/// thread's reconnects to one name share it too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A socket file in the filesystem.
    Path(Arc<str>),
    /// A name in the Linux abstract namespace (no leading NUL; NULs inside
    /// are significant).
    Abstract(Arc<str>),
    /// A Windows named pipe path, `\\.\pipe\…`.
    Pipe(Arc<str>),
}

impl Address {
    /// Equality that is a pointer comparison for clones (`==` compares
    /// the text: `Arc` skips that only for sized types).
    pub(crate) fn same_as(&self, other: &Address) -> bool {
        core::mem::discriminant(self) == core::mem::discriminant(other)
            && (Arc::ptr_eq(self.text(), other.text()) || self == other)
    }

    fn text(&self) -> &Arc<str> {
        match self {
            Address::Path(s) | Address::Abstract(s) | Address::Pipe(s) => s,
        }
    }

    /// The full server name, as `full_server_name()` reports it.
    pub fn as_str(&self) -> &str {
        match self {
            Address::Path(s) | Address::Abstract(s) | Address::Pipe(s) => s,
        }
    }

    /// The server name Qt reports on an accepted socket: the last path
    /// component for a socket file, the whole name otherwise.
    pub fn accepted_server_name(&self) -> &str {
        match self {
            Address::Path(p) => match p.rsplit_once('/') {
                Some((_, last)) if !last.is_empty() => last,
                _ => p,
            },
            Address::Abstract(s) | Address::Pipe(s) => s,
        }
    }
}

/// Why a name cannot be used. Sockets report it as `ServerNotFound`
/// ("Invalid name"), servers as `HostNotFound` ("Name error").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameError {
    /// The name is empty.
    Empty,
    /// The resolved address does not fit the platform's limit.
    TooLong {
        /// Bytes the address needs, counting what the platform adds.
        needed: usize,
        /// Bytes the platform allows.
        max: usize,
    },
    /// A NUL byte inside a filesystem path or pipe name.
    InteriorNul,
    /// A `..` component would leave the temporary directory (Unix), or a
    /// `.`/`..` component the pipe namespace (Windows).
    ParentComponent,
}

impl NameError {
    /// A short explanation, printed after Qt's text.
    pub fn detail(self) -> &'static str {
        match self {
            NameError::Empty => "empty name",
            NameError::TooLong { .. } => "name too long",
            NameError::InteriorNul => "NUL byte in name",
            NameError::ParentComponent => "'..' or '.' would leave the name's directory",
        }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::TooLong { needed, max } => {
                write!(f, "name too long ({needed} bytes, at most {max})")
            }
            other => f.write_str(other.detail()),
        }
    }
}

impl core::error::Error for NameError {}

/// The longest pipe name Windows accepts, in UTF-16 units including `\\.\pipe\`.
pub const MAX_PIPE_NAME: usize = 256;
const PIPE_PREFIX: &str = r"\\.\pipe\";

/// Resolves a client name (`QLocalSocket::connectToServer`). `abstract_ns`
/// is Qt's `AbstractNamespaceOption`; it is ignored where the platform has no
/// abstract namespace, as in Qt.
///
/// Client and server resolve through the same function: the temporary
/// directory is cleaned lexically ([`clean_path`], Qt's `QDir::cleanPath`;
/// symlinks are not resolved) on both sides, so `TMPDIR=/tmp/x/missing/..`
/// gives `/tmp/x/NAME` for both. Qt's client does not clean it (a
/// deliberate difference, see docs/semantics.md, difference 1).
pub fn resolve_socket_name(
    name: &str,
    abstract_ns: bool,
    ctx: &NameContext,
) -> Result<Address, NameError> {
    resolve(name, abstract_ns, ctx)
}

/// [`resolve_socket_name`] for a connect: with the `std` feature, a thread
/// that connects to the same name again gets the address it resolved last
/// time (resolution is a pure function of the name, the option and the
/// context), so a reconnect shares that address instead of allocating a
/// new one. Any input that differs resolves afresh.
pub(crate) fn resolve_for_connect(
    name: &str,
    abstract_ns: bool,
    ctx: &NameContext,
) -> Result<Address, NameError> {
    #[cfg(feature = "std")]
    {
        last_resolved::resolve(name, abstract_ns, ctx)
    }
    #[cfg(not(feature = "std"))]
    {
        resolve(name, abstract_ns, ctx)
    }
}

/// The one-entry, per-thread memory behind [`resolve_for_connect`].
#[cfg(feature = "std")]
mod last_resolved {
    use core::cell::RefCell;

    use super::{Address, NameContext, NameError, Platform, String};

    /// The inputs of the last successful resolution, and its address. The
    /// strings are reused in place, so a miss allocates only when a longer
    /// name or directory comes along.
    struct Last {
        name: String,
        abstract_ns: bool,
        platform: Platform,
        temp_dir: String,
        address: Address,
    }

    std::thread_local! {
        static LAST: RefCell<Option<Last>> = const { RefCell::new(None) };
    }

    pub(super) fn resolve(
        name: &str,
        abstract_ns: bool,
        ctx: &NameContext,
    ) -> Result<Address, NameError> {
        // `try_with`/`try_borrow`: during thread teardown, or should this
        // ever be re-entered, resolution simply goes without the memory.
        let hit = LAST
            .try_with(|last| {
                let last = last.try_borrow().ok()?;
                let last = last.as_ref()?;
                let same = last.name == name
                    && last.abstract_ns == abstract_ns
                    && last.platform == ctx.platform
                    && last.temp_dir == ctx.temp_dir;
                same.then(|| last.address.clone())
            })
            .ok()
            .flatten();
        if let Some(address) = hit {
            return Ok(address);
        }
        let address = super::resolve(name, abstract_ns, ctx)?;
        let _ = LAST.try_with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else {
                return;
            };
            match last.as_mut() {
                Some(l) => {
                    l.name.clear();
                    l.name.push_str(name);
                    l.abstract_ns = abstract_ns;
                    l.platform = ctx.platform;
                    l.temp_dir.clear();
                    l.temp_dir.push_str(&ctx.temp_dir);
                    l.address = address.clone();
                }
                None => {
                    *last = Some(Last {
                        name: name.into(),
                        abstract_ns,
                        platform: ctx.platform,
                        temp_dir: ctx.temp_dir.clone(),
                        address: address.clone(),
                    })
                }
            }
        });
        Ok(address)
    }
}

/// Resolves a server name (`QLocalServer::listen`): the same address as
/// [`resolve_socket_name`] gives for the same name and context.
pub fn resolve_server_name(
    name: &str,
    abstract_ns: bool,
    ctx: &NameContext,
) -> Result<Address, NameError> {
    resolve(name, abstract_ns, ctx)
}

/// Resolves a name for Qt's static `removeServer`: a filesystem path on
/// Unix (the abstract namespace is ignored, as in Qt); `None` on Windows,
/// where there is nothing to remove.
pub fn resolve_remove_server_name(
    name: &str,
    ctx: &NameContext,
) -> Result<Option<String>, NameError> {
    if ctx.platform.is_windows() {
        return Ok(None);
    }
    match resolve(name, false, ctx)? {
        Address::Path(p) => Ok(Some(String::from(&*p))),
        _ => Ok(None),
    }
}

/// The one resolver behind [`resolve_socket_name`], [`resolve_server_name`]
/// and [`resolve_remove_server_name`]. Whatever it adds goes before the
/// name: the address's text always ends with the name as given, which a
/// connection relies on to keep both in one string.
fn resolve(name: &str, abstract_ns: bool, ctx: &NameContext) -> Result<Address, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if ctx.platform.is_windows() {
        return resolve_pipe(name);
    }
    let max = ctx.platform.sun_path_len();
    // Qt's check: +2 where the platform has an abstract namespace (room for
    // the leading NUL and a terminator), +1 elsewhere; it applies to
    // filesystem paths too.
    let overhead = if ctx.platform.supports_abstract_namespace() {
        2
    } else {
        1
    };
    if abstract_ns && ctx.platform.supports_abstract_namespace() {
        check_len(name.len(), overhead, max)?;
        return Ok(Address::Abstract(Arc::from(name)));
    }
    if name.contains('\0') {
        return Err(NameError::InteriorNul);
    }
    if name.starts_with('/') {
        check_len(name.len(), overhead, max)?;
        return Ok(Address::Path(Arc::from(name)));
    }
    if name.split('/').any(|c| c == "..") {
        return Err(NameError::ParentComponent);
    }
    // The temp dir comes from the driver; a NUL there is as invalid as
    // one in the name (no such path can be passed to the OS).
    if ctx.temp_dir.contains('\0') {
        return Err(NameError::InteriorNul);
    }
    let dir = clean_dir(&ctx.temp_dir);
    let dir = if dir == "/" { "" } else { &dir };
    check_len(dir.len() + 1 + name.len(), overhead, max)?;
    Ok(Address::Path(join(&[dir, "/", name])))
}

/// `parts` joined into one shared string with a single allocation: names
/// are short, so they are assembled on the stack first.
fn join(parts: &[&str]) -> Arc<str> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut buf = [0u8; 512];
    if let Some(out) = buf.get_mut(..len) {
        let mut at = 0;
        for p in parts {
            out[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len();
        }
        // Whole strs joined are UTF-8; the check only guards the claim.
        if let Ok(s) = core::str::from_utf8(out) {
            return Arc::from(s);
        }
    }
    Arc::from(parts.concat())
}

fn check_len(len: usize, overhead: usize, max: usize) -> Result<(), NameError> {
    if len + overhead > max {
        Err(NameError::TooLong {
            needed: len + overhead,
            max,
        })
    } else {
        Ok(())
    }
}

fn resolve_pipe(name: &str) -> Result<Address, NameError> {
    if name.contains('\0') {
        return Err(NameError::InteriorNul);
    }
    let prefix = if name.starts_with(PIPE_PREFIX) {
        ""
    } else {
        PIPE_PREFIX
    };
    let units = prefix.len() + name.encode_utf16().count();
    if units > MAX_PIPE_NAME {
        return Err(NameError::TooLong {
            needed: units,
            max: MAX_PIPE_NAME,
        });
    }
    // Win32 normalises `\\.\` paths: `.` and `..` components (with `\` or
    // `/` as separators) would lead out of the pipe namespace, e.g.
    // `..\C:\file` opens a file. Qt passes such names through; we refuse them.
    let pipe_part = &name[PIPE_PREFIX.len() - prefix.len()..];
    if pipe_part.is_empty() {
        return Err(NameError::Empty);
    }
    if pipe_part.split(['\\', '/']).any(|c| c == ".." || c == ".") {
        return Err(NameError::ParentComponent);
    }
    Ok(Address::Pipe(join(&[prefix, name])))
}

/// [`clean_path`] without an allocation when the directory is clean
/// already (the usual `/tmp`), since every relative name resolves it.
fn clean_dir(dir: &str) -> Cow<'_, str> {
    let clean = dir == "/"
        || (dir.starts_with('/') && dir[1..].split('/').all(|c| !matches!(c, "" | "." | "..")));
    if clean {
        Cow::Borrowed(dir)
    } else {
        Cow::Owned(clean_path(dir))
    }
}

/// `QDir::cleanPath` for the absolute paths a temporary directory has:
/// collapses repeated `/`, drops `.`, resolves `..`, removes a trailing `/`.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        // As QDir::cleanPath: empty stays empty (not "."), so an empty temp
        // dir resolves the same for clients and servers.
        return String::new();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(path.len());
    if absolute {
        out.push('/');
    }
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}
