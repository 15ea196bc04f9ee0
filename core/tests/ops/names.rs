//! The name fuzzer's interpreter: arbitrary names, options, platforms and
//! temporary directories through every resolver and `plan_listen`. Nothing
//! may panic, and every result must respect the platform's limits.

use arbitrary::{Arbitrary, Unstructured};
use localsock_core::name::{clean_path, MAX_PIPE_NAME};
use localsock_core::{
    plan_listen, resolve_remove_server_name, resolve_server_name, resolve_socket_name, Access,
    Address, NameContext, NameError, Platform, ServerError, ServerOptions,
};

/// One name case.
#[derive(Arbitrary, Debug)]
pub struct NameCase {
    /// The name as the user gives it.
    pub name: String,
    /// Qt's `AbstractNamespaceOption`.
    pub abstract_ns: bool,
    /// Which platform's rules (index modulo 4).
    pub platform: u8,
    /// The temporary directory.
    pub temp_dir: String,
    /// Access bits: user, group, other.
    pub access: (bool, bool, bool),
}

const PIPE_PREFIX: &str = r"\\.\pipe\";

/// Decodes one case from raw bytes and checks it; undecodable input is fine.
pub fn check(data: &[u8]) {
    if let Ok(case) = NameCase::arbitrary_take_rest(Unstructured::new(data)) {
        check_case(&case);
    }
}

fn platform(i: u8) -> Platform {
    match i % 4 {
        0 => Platform::Linux,
        1 => Platform::Apple,
        2 => Platform::FreeBsd,
        _ => Platform::Windows,
    }
}

/// Checks one case.
pub fn check_case(case: &NameCase) {
    let p = platform(case.platform);
    let ctx = NameContext::new(p, case.temp_dir.clone());
    let client = resolve_socket_name(&case.name, case.abstract_ns, &ctx);
    let server = resolve_server_name(&case.name, case.abstract_ns, &ctx);
    for r in [&client, &server] {
        match r {
            Ok(a) => check_address(a, case, p),
            Err(NameError::Empty) => assert!(
                case.name.is_empty() || (p.is_windows() && case.name == PIPE_PREFIX),
                "Empty for {:?}",
                case.name
            ),
            Err(NameError::TooLong { needed, max }) => assert!(needed > max),
            Err(NameError::InteriorNul) => {
                assert!(case.name.contains('\0') || case.temp_dir.contains('\0'))
            }
            Err(NameError::ParentComponent) => {
                if p.is_windows() {
                    // The pipe part may not have `.`/`..` components (Win32
                    // would normalise them out of the pipe namespace).
                    let part = case.name.strip_prefix(PIPE_PREFIX).unwrap_or(&case.name);
                    assert!(
                        part.split(['\\', '/']).any(|c| c == ".." || c == "."),
                        "{case:?}"
                    )
                } else {
                    assert!(case.name.split('/').any(|c| c == ".."), "{case:?}")
                }
            }
        }
    }
    // Client and server resolve through one function (semantics
    // difference 1): the same name gives the same address or error.
    assert_eq!(client, server, "{case:?}");

    let remove = resolve_remove_server_name(&case.name, &ctx);
    if p.is_windows() {
        assert_eq!(remove, Ok(None));
    } else if let Ok(Some(path)) = &remove {
        assert!(!path.contains('\0'));
    }

    let cleaned = clean_path(&case.temp_dir);
    assert_eq!(clean_path(&cleaned), cleaned, "clean_path is idempotent");
    assert!(!cleaned.contains("//"));

    let options = ServerOptions {
        access: Access {
            user: case.access.0,
            group: case.access.1,
            other: case.access.2,
        },
        abstract_namespace: case.abstract_ns,
        ..ServerOptions::default()
    };
    match plan_listen(&case.name, &options, &ctx) {
        Ok(plan) => {
            check_address(&plan.address, case, p);
            match &plan.address {
                Address::Path(_) => assert_eq!(plan.unix_mode, plan.access.unix_mode()),
                _ => assert_eq!(plan.unix_mode, None),
            }
            if case.abstract_ns && p.supports_abstract_namespace() {
                assert_eq!(plan.access, Access::DEFAULT);
            }
            if !case.abstract_ns {
                assert_eq!(plan.access, options.access);
            }
        }
        Err(e) => {
            assert_eq!(e.kind(), ServerError::HostNotFound);
            assert!(e
                .to_string()
                .starts_with("QLocalServer::listen: Name error"));
        }
    }
}

fn check_address(a: &Address, case: &NameCase, p: Platform) {
    let accepted = a.accepted_server_name();
    assert!(a.as_str().ends_with(accepted), "{a:?}");
    match a {
        Address::Path(path) => {
            assert!(!p.is_windows());
            assert!(!path.contains('\0'));
            let overhead = if p.supports_abstract_namespace() {
                2
            } else {
                1
            };
            assert!(
                path.len() + overhead <= p.sun_path_len(),
                "{path:?} too long"
            );
            if case.name.starts_with('/') {
                assert_eq!(&**path, case.name.as_str());
            } else {
                assert!(path.ends_with(&format!("/{}", case.name)), "{path:?}");
            }
        }
        Address::Abstract(name) => {
            assert!(p.supports_abstract_namespace() && case.abstract_ns);
            assert_eq!(&**name, case.name.as_str());
            assert!(name.len() + 2 <= p.sun_path_len());
        }
        Address::Pipe(pipe) => {
            assert!(p.is_windows());
            assert!(pipe.starts_with(PIPE_PREFIX) && pipe.len() > PIPE_PREFIX.len());
            assert!(pipe.encode_utf16().count() <= MAX_PIPE_NAME);
            assert!(!pipe.contains('\0'));
            assert!(!pipe[PIPE_PREFIX.len()..]
                .split(['\\', '/'])
                .any(|c| c == ".." || c == "."));
        }
    }
}
