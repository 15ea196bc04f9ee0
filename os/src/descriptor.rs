//! Descriptors made elsewhere: inspecting one for the core's decision
//! ([`localsock_core::descriptor`]), preparing it for use, and a stand-in
//! for a socket that has none.
//!
//! ```
//! # #[cfg(unix)] {
//! use localsock_core::descriptor::DescriptorKind;
//! use localsock_os::descriptor::inspect;
//! use std::os::fd::AsFd;
//! let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
//! let found = inspect(a.as_fd()).unwrap();
//! assert_eq!(found.kind, DescriptorKind::LocalStream { listening: false, connected: true });
//! # }
//! ```

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

use localsock_core::descriptor::DescriptorKind;

/// What [`inspect`] found: the kind of descriptor and, for a Unix socket,
/// the raw `sun_path` bytes of its peer's and its own address (empty when
/// unnamed or unknown), for
/// [`describe_socket`](localsock_core::descriptor::describe_socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// What the descriptor is.
    pub kind: DescriptorKind,
    /// The peer's address bytes (`getpeername`).
    pub peer: Vec<u8>,
    /// The socket's own address bytes (`getsockname`).
    pub local: Vec<u8>,
    /// Windows: the handle is the server end of its pipe.
    pub server_end: bool,
}
