//! How the suites say what ran: every check is registered where it is
//! written, and one that cannot run here says why.
//!
//! - A conformance scenario is written inside its file's `scenarios!`
//!   block, which both defines it and registers it: there is no second
//!   list to keep in step.
//! - A check that does not apply here returns [`Skip`] with the reason:
//!   declared with `#[only(<cfg predicate>, "<why>")]` when the platform
//!   decides, or returned from its body when only the run can tell (not
//!   root, a kernel that refuses an option, Wine). The `harness = false`
//!   suites (`tests/tests/{conformance,interop,reliability}.rs`, on
//!   libtest-mimic) report it as *ignored*, with that reason, never as
//!   passed.

/// Why a check did not run, or did not run in full, here. The suites
/// report it as ignored, with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

impl Skip {
    /// A skip for `reason` (what is missing here, and what did not run).
    pub fn because(reason: impl Into<String>) -> Skip {
        Skip(reason.into())
    }

    /// The skip of a check declared `#[only(predicate, reason)]` on a
    /// platform where `predicate` is false.
    pub fn platform(predicate: &str, reason: &str) -> Skip {
        Skip(format!("only on {predicate}: {reason}"))
    }
}

/// Skips with `reason` unless `condition` holds: `require(..)?` at the top
/// of a check that returns `Result<(), Skip>`.
pub fn require(condition: bool, reason: impl Into<String>) -> Result<(), Skip> {
    if condition {
        Ok(())
    } else {
        Err(Skip::because(reason))
    }
}

/// What a check returns: `()` when it always runs in full, `Result<(),
/// Skip>` when the run itself can find that it cannot.
pub trait Ran {
    /// `Ok` if the check ran in full.
    fn ran(self) -> Result<(), Skip>;
}

impl Ran for () {
    fn ran(self) -> Result<(), Skip> {
        Ok(())
    }
}

impl Ran for Result<(), Skip> {
    fn ran(self) -> Result<(), Skip> {
        self
    }
}

/// One registered check, instantiated for one runtime: its name (the last
/// part of the test name) and its entry point.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// The function's name.
    pub name: &'static str,
    /// Runs it here; `Err` = ignored, with the reason.
    pub run: fn() -> Result<(), Skip>,
}

/// Defines the conformance scenarios of one file and registers them: each
/// entry is a generic function over a [`Runtime`](crate::Runtime), with its
/// doc comment and, when it applies to some platforms only,
/// `#[only(<cfg predicate>, "<why>")]` (the function is compiled there
/// only, and elsewhere reported as ignored with that reason). Entries are
/// separated by commas. A body may return `Result<(), Skip>` to skip when
/// only the run can tell.
///
/// ```text
/// scenarios!(
///     /// docs/semantics.md §9.1: defaults of a fresh server.
///     pub fn server_basic<R: Runtime>() {
///         assert!(!R::server().is_listening());
///     },
///     /// A leftover socket file from a crash is reclaimed by listen.
///     #[only(unix, "pipes vanish with their server; no file stays")]
///     pub fn stale_socket_reclaimed<R: Runtime>() {
///         // ...
///     }
/// );
/// ```
///
/// Besides the functions, it defines `registered::<R>()`, the file's
/// scenarios in the order written, which `scenarios::all` gathers (a file
/// whose list nobody gathers fails the build: `registered` is then dead
/// code).
macro_rules! scenarios {
    ($(
        $(#[doc = $doc:literal])*
        $(#[only($predicate:meta, $reason:literal)])?
        $vis:vis fn $name:ident<$R:ident: Runtime>() $(-> $ret:ty)? $body:block
    ),* $(,)?) => {
        $(
            $(#[doc = $doc])*
            $(#[cfg($predicate)])?
            $vis fn $name<$R: $crate::Runtime>() $(-> $ret)? $body
        )*

        /// The scenarios of this file for runtime `R`, in the order written.
        pub(crate) fn registered<R: $crate::Runtime>() -> Vec<$crate::registry::Check> {
            vec![$(
                $crate::registry::Check {
                    name: stringify!($name),
                    run: scenario_entry!(R, $name $(, $predicate, $reason)?),
                }
            ),*]
        }
    };
}

/// The entry point of one scenario for runtime `R` (see `scenarios!`).
macro_rules! scenario_entry {
    ($R:ident, $name:ident) => {{
        fn entry<$R: $crate::Runtime>() -> Result<(), $crate::registry::Skip> {
            $crate::registry::Ran::ran($name::<$R>())
        }
        entry::<$R> as fn() -> Result<(), $crate::registry::Skip>
    }};
    ($R:ident, $name:ident, $predicate:meta, $reason:literal) => {{
        #[cfg($predicate)]
        fn entry<$R: $crate::Runtime>() -> Result<(), $crate::registry::Skip> {
            $crate::registry::Ran::ran($name::<$R>())
        }
        #[cfg(not($predicate))]
        #[allow(clippy::extra_unused_type_parameters)]
        fn entry<$R: $crate::Runtime>() -> Result<(), $crate::registry::Skip> {
            Err($crate::registry::Skip::platform(
                stringify!($predicate),
                $reason,
            ))
        }
        entry::<$R> as fn() -> Result<(), $crate::registry::Skip>
    }};
}
