//! Which operating system's rules apply: error numbering, address sizes,
//! abstract-namespace support and pipe naming.
//!
//! The core never asks the OS; the driver tells it through [`Platform`]
//! (usually [`Platform::CURRENT`]), and tests can pick any platform on any
//! host so every table is checked everywhere.

/// An operating-system family whose rules the core knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Linux and Android: 108-byte `sun_path`, abstract namespace, Linux errno.
    Linux,
    /// macOS and iOS: 104-byte `sun_path`, BSD errno.
    Apple,
    /// FreeBSD: 104-byte `sun_path`, BSD errno.
    FreeBsd,
    /// Windows: named pipes under `\\.\pipe\`, Win32 error codes.
    Windows,
}

impl Platform {
    /// The platform this crate was compiled for. Targets the core has no
    /// table for (bare metal, other Unix) use the Linux rules.
    pub const CURRENT: Platform = current();

    /// Whether names can live in the Linux abstract socket namespace.
    pub const fn supports_abstract_namespace(self) -> bool {
        matches!(self, Platform::Linux)
    }

    /// Size of `sockaddr_un::sun_path` (0 on Windows, which has no such limit).
    pub const fn sun_path_len(self) -> usize {
        match self {
            Platform::Linux => 108,
            Platform::Apple | Platform::FreeBsd => 104,
            Platform::Windows => 0,
        }
    }

    /// Whether this platform uses named pipes rather than Unix sockets.
    pub const fn is_windows(self) -> bool {
        matches!(self, Platform::Windows)
    }
}

#[cfg(windows)]
const fn current() -> Platform {
    Platform::Windows
}
#[cfg(any(target_os = "macos", target_os = "ios"))]
const fn current() -> Platform {
    Platform::Apple
}
#[cfg(target_os = "freebsd")]
const fn current() -> Platform {
    Platform::FreeBsd
}
#[cfg(not(any(windows, target_os = "macos", target_os = "ios", target_os = "freebsd")))]
const fn current() -> Platform {
    Platform::Linux
}
