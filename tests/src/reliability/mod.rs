//! Reliability and security proofs: faults, hostile peers, bad
//! input and load, on real sockets and real processes.
//!
//! Every proof is a function generic over [`Reliability`] (a [`Runtime`]
//! plus the one knob the conformance vocabulary lacks), listed once in
//! [`all`] and run on every runtime by `tests/tests/reliability.rs`, so no
//! runtime can skip one. An entry limited to some platforms says so in the
//! list, with the reason it is reported as ignored elsewhere; a proof that
//! finds at run time that it cannot run (not root, Wine) returns [`Skip`],
//! also reported as ignored with its reason.
//!
//! The other side of most proofs is a separate process, the `lsk-peer`
//! binary of this package (`src/bin/lsk-peer.rs`), started with the same
//! runtime: it can be killed, run as another user, or given its own
//! descriptor limit. See [`child`].

pub mod child;
mod exhaustion;
mod files;
mod hostile;
mod identity;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::registry::Skip;
use crate::Runtime;

pub use child::{PeerExe, PeerProcess, CHILD_WAIT};
pub use exhaustion::*;
pub use files::*;
pub use hostile::*;
pub use identity::*;

/// The list of [`all`]: one [`Proof`] per entry.
macro_rules! proofs {
    ($R:ident; $($name:ident $(: only($predicate:meta, $reason:literal))?),* $(,)?) => {
        vec![$(
            Proof {
                name: stringify!($name),
                run: proof_entry!($R, $name $(, $predicate, $reason)?),
            }
        ),*]
    };
}

/// The entry point of one proof for runtime `R` (see [`all`]).
macro_rules! proof_entry {
    ($R:ident, $name:ident) => {{
        fn entry<R: Reliability>(exe: &PeerExe) -> Result<(), Skip> {
            crate::registry::Ran::ran($name::<R>(exe))
        }
        entry::<$R> as fn(&PeerExe) -> Result<(), Skip>
    }};
    ($R:ident, $name:ident, $predicate:meta, $reason:literal) => {{
        #[cfg($predicate)]
        fn entry<R: Reliability>(exe: &PeerExe) -> Result<(), Skip> {
            crate::registry::Ran::ran($name::<R>(exe))
        }
        #[cfg(not($predicate))]
        #[allow(clippy::extra_unused_type_parameters)]
        fn entry<R: Reliability>(_: &PeerExe) -> Result<(), Skip> {
            Err(Skip::platform(stringify!($predicate), $reason))
        }
        entry::<$R> as fn(&PeerExe) -> Result<(), Skip>
    }};
}

/// One reliability proof instantiated for one runtime: its name (the last
/// part of the test name) and its entry point.
#[derive(Debug, Clone, Copy)]
pub struct Proof {
    /// The function's name.
    pub name: &'static str,
    /// Runs it here against the `lsk-peer` binary; `Err` = ignored, with
    /// the reason.
    pub run: fn(&PeerExe) -> Result<(), Skip>,
}

/// Every reliability proof for runtime `R`, in the order listed. A proof
/// limited to some platforms is listed with `only(<cfg predicate>, "<why>")`
/// (its function is compiled there only) and is reported as ignored, with
/// that reason, elsewhere.
pub fn all<R: Reliability>() -> Vec<Proof> {
    proofs!(R;
        // Access control and identity.
        access_user_and_group_refuse_other_user: only(
            unix,
            "it runs a peer as another Unix user; Wine does not enforce pipe DACLs"
        ),
        access_world_and_other_let_other_user_read_and_write: only(
            unix,
            "it runs a peer as another Unix user; Wine does not enforce pipe DACLs"
        ),
        access_options_let_owner_read_and_write,
        socket_mode_is_never_wider_than_requested: only(
            unix,
            "Windows pipes have no file or mode"
        ),
        peer_credentials_are_the_real_peer_process,
        peer_credentials_after_privilege_drop: only(
            unix,
            "it drops a peer's privileges to the Unix user nobody"
        ),
        descriptors_not_inherited_by_children: only(
            unix,
            "Windows handles are not inherited unless marked so"
        ),
        // Stale and hostile files, bad names.
        stale_socket_reclaimed_with_every_access_option: only(
            unix,
            "pipes vanish with their server; no stale file stays"
        ),
        live_socket_never_stolen_in_process: only(
            unix,
            "socket files; pipes: second_listen_on_live_pipe_name_refused"
        ),
        live_socket_never_stolen_across_processes: only(
            unix,
            "socket files; pipes: second_listen_on_live_pipe_name_refused"
        ),
        hostile_files_at_the_path_are_left_alone: only(
            unix,
            "pipe names are not paths in the file system"
        ),
        bad_names_give_clean_errors,
        second_listen_on_live_pipe_name_refused: only(
            windows,
            "a pipe flag (FILE_FLAG_FIRST_PIPE_INSTANCE); sockets: live_socket_never_stolen_*"
        ),
        // Resource exhaustion and load.
        out_of_descriptors_is_socket_resource_and_server_recovers: only(
            unix,
            "Windows has no descriptor limit to lower"
        ),
        full_backlog_times_out_then_retry_connects: only(
            target_os = "linux",
            "only Linux reports a full backlog as EAGAIN (retried); pipes: burst_of_clients_all_served"
        ),
        ten_thousand_concurrent_clients_checksummed: only(
            unix,
            "10,000 pipe instances are beyond what Wine handles in reasonable time; \
             pipes: burst_of_clients_all_served"
        ),
        burst_of_clients_all_served,
        // Hostile peers.
        flood_with_read_limit_keeps_memory_bounded: only(
            target_os = "linux",
            "the peak resident set comes from /proc/self/status"
        ),
        peer_that_never_reads_queue_grows_and_abort_frees,
        drop_with_queued_writes_does_not_block,
        peer_killed_mid_transfer_data_intact,
        write_after_peer_closed_is_error_not_sigpipe: only(
            unix,
            "SIGPIPE is a Unix signal"
        ),
        connect_close_loop_does_not_disturb_server,
        client_vanishes_before_accept,
    )
}

/// A runtime under the reliability proofs: the conformance vocabulary plus
/// the connect timeout (how long a connect retries a full backlog or a busy
/// pipe), which the full-backlog proof needs short.
pub trait Reliability: Runtime {
    /// A new unconnected socket whose connects give up after `timeout`.
    fn socket_with_connect_timeout(timeout: Duration) -> Self::Socket;
}

impl Reliability for crate::rt_blocking::Blocking {
    fn socket_with_connect_timeout(timeout: Duration) -> Self::Socket {
        let mut s = localsock_blocking::LocalSocket::new();
        s.set_connect_timeout(timeout);
        s
    }
}

impl Reliability for crate::rt_smol::Smol {
    fn socket_with_connect_timeout(timeout: Duration) -> Self::Socket {
        let mut s = localsock_smol::LocalSocket::new();
        s.set_connect_timeout(timeout);
        s
    }
}

impl Reliability for crate::rt_tokio::TokioCurrentThread {
    fn socket_with_connect_timeout(timeout: Duration) -> Self::Socket {
        let mut s = Self::socket();
        s.socket.set_connect_timeout(timeout);
        s
    }
}

impl Reliability for crate::rt_tokio::TokioMultiThread {
    fn socket_with_connect_timeout(timeout: Duration) -> Self::Socket {
        let mut s = Self::socket();
        s.socket.set_connect_timeout(timeout);
        s
    }
}

/// Serialises the proofs that need most of the machine (thousands of
/// descriptors, hundreds of MiB through a socket), across runtimes.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The user and group tests switch to (`nobody` / `nogroup`).
pub const NOBODY: u32 = 65534;

/// Whether this process may switch a child to [`NOBODY`] (it runs as root).
/// When not, the proof is skipped (reported as ignored, with the reason):
/// CI runs as root, so there it always runs.
#[cfg(unix)]
pub fn can_switch_users() -> Result<(), Skip> {
    crate::registry::require(
        rustix::process::geteuid().is_root(),
        "not root: cannot start a peer as another user (nobody)",
    )
}

/// A fresh directory for one proof, removed on drop. On Unix it lives in
/// `/tmp` with mode 0755, so a peer running as another user can reach the
/// sockets in it (the private directory `listen` binds in is created
/// inside it).
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// A new empty directory.
    pub fn new(tag: &str) -> Self {
        let name = crate::harness::unique_name(tag);
        let base = if cfg!(unix) {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let path = base.join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create the test directory");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod the test directory");
        }
        TestDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The absolute path of `name` inside it, as a server name.
    pub fn join(&self, name: &str) -> String {
        self.path
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_string()
    }

    /// The names of its entries, sorted (hidden ones included).
    pub fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.path)
            .expect("read the test directory")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A long pseudo-random byte stream with a prime period, generated once and
/// compared with `memcmp`: verifying hundreds of MiB costs little, and a
/// lost, duplicated or reordered byte shows up as a mismatch (a shift by a
/// multiple of the period aside).
#[derive(Debug, Clone)]
pub struct Pattern {
    block: std::sync::Arc<Vec<u8>>,
    pos: usize,
    total: u64,
}

/// The period of [`Pattern`] (a prime just under 1 MiB).
pub const PATTERN_PERIOD: usize = 1_048_573;

impl Default for Pattern {
    fn default() -> Self {
        Self::new()
    }
}

impl Pattern {
    /// The stream from its start.
    pub fn new() -> Self {
        use std::sync::{Arc, OnceLock};
        static BLOCK: OnceLock<Arc<Vec<u8>>> = OnceLock::new();
        let block = BLOCK
            .get_or_init(|| {
                let one = crate::harness::payload(PATTERN_PERIOD, 0x5eed);
                let mut two = one.clone();
                two.extend_from_slice(&one);
                Arc::new(two)
            })
            .clone();
        Pattern {
            block,
            pos: 0,
            total: 0,
        }
    }

    /// The next `n` bytes of the stream (at most one period at a time).
    pub fn next_chunk(&mut self, n: usize) -> &[u8] {
        let n = n.min(PATTERN_PERIOD);
        let start = self.pos;
        self.pos = (self.pos + n) % PATTERN_PERIOD;
        self.total += n as u64;
        &self.block[start..start + n]
    }

    /// Whether `data` is what comes next in the stream (and consumes it).
    pub fn check(&mut self, data: &[u8]) -> bool {
        data.chunks(PATTERN_PERIOD)
            .all(|c| c == self.next_chunk(c.len()))
    }

    /// Bytes produced or checked so far.
    pub fn total(&self) -> u64 {
        self.total
    }
}

/// Raises the soft descriptor limit to the hard one; returns the new soft
/// limit (`None` = unlimited).
#[cfg(unix)]
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: lim.maximum,
        maximum: lim.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => lim.maximum,
        Err(_) => lim.current,
    }
}

/// Qt-style serve loop for one accepted socket: echo everything until the
/// peer closes or goes quiet for [`LONG`](crate::LONG). Never panics (a
/// hostile peer may vanish at any point); returns the bytes echoed.
pub fn echo_until_closed<S: crate::TestSocket>(s: &mut S) -> usize {
    let mut echoed = 0;
    loop {
        if s.bytes_available() == 0 && !s.wait_for_ready_read(crate::LONG) {
            break;
        }
        let Ok(data) = s.read_all() else { break };
        if data.is_empty() {
            continue;
        }
        if s.io_write_all(&data).is_err() {
            break;
        }
        echoed += data.len();
    }
    echoed
}
