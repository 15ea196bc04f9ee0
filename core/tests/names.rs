//! One test per name rule of docs/semantics.md §1.

use localsock_core::name::{clean_path, MAX_PIPE_NAME};
use localsock_core::{
    resolve_remove_server_name, resolve_server_name, resolve_socket_name, Address, NameContext,
    NameError, Platform,
};

fn linux_tmp(dir: &str) -> NameContext {
    NameContext::new(Platform::Linux, dir)
}

fn win() -> NameContext {
    NameContext::new(Platform::Windows, r"C:\Temp")
}

fn path(s: &str) -> Address {
    Address::Path(s.into())
}

#[test]
fn relative_client_name_lives_in_the_temp_dir() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(
        resolve_socket_name("app", false, &ctx),
        Ok(path("/tmp/app"))
    );
}

#[test]
fn relative_name_may_contain_slashes() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(
        resolve_socket_name("sub/x", false, &ctx),
        Ok(path("/tmp/sub/x"))
    );
}

#[test]
fn client_cleans_the_temp_dir_like_the_server() {
    // Semantics difference 1: Qt's client does not clean; ours does, so a
    // TMPDIR with `missing/..` resolves to the same path on both sides.
    for (dir, want) in [
        ("/var//tmp/./d/", "/var/tmp/d/app"),
        ("/tmp/x/missing/..", "/tmp/x/app"),
        ("/tmp/x/missing/../", "/tmp/x/app"),
    ] {
        let ctx = linux_tmp(dir);
        assert_eq!(
            resolve_socket_name("app", false, &ctx),
            Ok(path(want)),
            "{dir}"
        );
        assert_eq!(
            resolve_socket_name("app", false, &ctx),
            resolve_server_name("app", false, &ctx),
            "{dir}"
        );
    }
}

#[test]
fn server_cleans_the_temp_dir() {
    let ctx = linux_tmp("/var//tmp/./x/../d/");
    assert_eq!(
        resolve_server_name("app", false, &ctx),
        Ok(path("/var/tmp/d/app"))
    );
}

#[test]
fn root_temp_dir_gives_a_single_slash() {
    let ctx = linux_tmp("/");
    assert_eq!(resolve_socket_name("app", false, &ctx), Ok(path("/app")));
    assert_eq!(resolve_server_name("app", false, &ctx), Ok(path("/app")));
}

#[test]
fn client_and_server_agree_on_an_empty_temp_dir() {
    let ctx = linux_tmp("");
    assert_eq!(
        resolve_socket_name("app", false, &ctx),
        resolve_server_name("app", false, &ctx)
    );
}

#[test]
fn absolute_paths_are_used_as_given() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(
        resolve_socket_name("/run/a//b", false, &ctx),
        Ok(path("/run/a//b"))
    );
    assert_eq!(
        resolve_server_name("/run/../x", false, &ctx),
        Ok(path("/run/../x"))
    );
}

#[test]
fn abstract_names_are_bare_even_with_a_slash() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(
        resolve_socket_name("app", true, &ctx),
        Ok(Address::Abstract("app".into()))
    );
    assert_eq!(
        resolve_server_name("/tmp/x", true, &ctx),
        Ok(Address::Abstract("/tmp/x".into()))
    );
}

#[test]
fn abstract_trailing_nul_is_significant() {
    let ctx = linux_tmp("/tmp");
    let a = resolve_socket_name("x\0", true, &ctx).unwrap();
    let b = resolve_socket_name("x", true, &ctx).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.as_str(), "x\0");
}

#[test]
fn abstract_parent_components_are_just_bytes() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(
        resolve_socket_name("../x", true, &ctx),
        Ok(Address::Abstract("../x".into()))
    );
}

#[test]
fn abstract_option_is_ignored_where_unsupported() {
    for p in [Platform::Apple, Platform::FreeBsd] {
        let ctx = NameContext::new(p, "/tmp");
        assert_eq!(resolve_socket_name("x", true, &ctx), Ok(path("/tmp/x")));
        assert_eq!(resolve_server_name("x", true, &ctx), Ok(path("/tmp/x")));
    }
}

#[test]
fn empty_name_is_an_error_everywhere() {
    for p in [Platform::Linux, Platform::Apple, Platform::Windows] {
        let ctx = NameContext::new(p, "/tmp");
        assert_eq!(resolve_socket_name("", false, &ctx), Err(NameError::Empty));
        assert_eq!(resolve_server_name("", true, &ctx), Err(NameError::Empty));
    }
}

#[test]
fn linux_length_limit_counts_two_extra_bytes() {
    let ctx = linux_tmp("/tmp");
    let ok = format!("/{}", "a".repeat(105));
    assert!(resolve_socket_name(&ok, false, &ctx).is_ok());
    let long = format!("/{}", "a".repeat(106));
    assert_eq!(
        resolve_socket_name(&long, false, &ctx),
        Err(NameError::TooLong {
            needed: 109,
            max: 108
        })
    );
}

#[test]
fn bsd_length_limit_counts_one_extra_byte() {
    for p in [Platform::Apple, Platform::FreeBsd] {
        let ctx = NameContext::new(p, "/tmp");
        assert!(resolve_server_name(&format!("/{}", "a".repeat(102)), false, &ctx).is_ok());
        assert_eq!(
            resolve_server_name(&format!("/{}", "a".repeat(103)), false, &ctx),
            Err(NameError::TooLong {
                needed: 105,
                max: 104
            })
        );
    }
}

#[test]
fn length_limit_counts_utf8_bytes() {
    let ctx = linux_tmp("/tmp");
    // "é" is 2 bytes: 5 + 2 * 51 = 107 > 106.
    assert!(resolve_socket_name(&"é".repeat(50), false, &ctx).is_ok());
    assert!(matches!(
        resolve_socket_name(&"é".repeat(51), false, &ctx),
        Err(NameError::TooLong { .. })
    ));
}

#[test]
fn interior_nul_in_a_path_is_rejected() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(
        resolve_socket_name("a\0", false, &ctx),
        Err(NameError::InteriorNul)
    );
    assert_eq!(
        resolve_server_name("/x\0y", false, &ctx),
        Err(NameError::InteriorNul)
    );
}

#[test]
fn nul_in_the_temp_dir_is_rejected_too() {
    let ctx = linux_tmp("/tm\0p");
    assert_eq!(
        resolve_socket_name("a", false, &ctx),
        Err(NameError::InteriorNul)
    );
    assert_eq!(
        resolve_server_name("a", false, &ctx),
        Err(NameError::InteriorNul)
    );
    assert_eq!(
        resolve_remove_server_name("a", &ctx),
        Err(NameError::InteriorNul)
    );
    // Absolute and abstract names do not use the temp dir.
    assert!(resolve_socket_name("/x", false, &ctx).is_ok());
    assert!(resolve_socket_name("x", true, &ctx).is_ok());
}

#[test]
fn parent_component_in_a_relative_name_is_rejected() {
    let ctx = linux_tmp("/tmp");
    for name in ["..", "../x", "a/..", "a/../b"] {
        assert_eq!(
            resolve_socket_name(name, false, &ctx),
            Err(NameError::ParentComponent),
            "{name}"
        );
    }
    assert!(resolve_socket_name("..a", false, &ctx).is_ok());
    assert!(resolve_socket_name("a..", false, &ctx).is_ok());
}

#[test]
fn windows_names_get_the_pipe_prefix() {
    assert_eq!(
        resolve_socket_name("app", false, &win()),
        Ok(Address::Pipe(r"\\.\pipe\app".into()))
    );
}

#[test]
fn windows_prefixed_names_pass_through() {
    assert_eq!(
        resolve_server_name(r"\\.\pipe\app", false, &win()),
        Ok(Address::Pipe(r"\\.\pipe\app".into()))
    );
}

/// Qt's prefix check is case-sensitive: a mis-cased prefix is not passed
/// through, it is prefixed again, and then its `.` component is refused.
#[test]
fn windows_prefix_check_is_case_sensitive() {
    assert_eq!(
        resolve_socket_name(r"\\.\PIPE\app", false, &win()),
        Err(NameError::ParentComponent)
    );
}

#[test]
fn windows_ignores_the_abstract_option_and_the_temp_dir() {
    assert_eq!(
        resolve_socket_name("app", true, &win()),
        Ok(Address::Pipe(r"\\.\pipe\app".into()))
    );
}

#[test]
fn windows_bare_prefix_is_empty() {
    assert_eq!(
        resolve_socket_name(r"\\.\pipe\", false, &win()),
        Err(NameError::Empty)
    );
}

#[test]
fn windows_nul_is_rejected() {
    assert_eq!(
        resolve_socket_name("a\0b", false, &win()),
        Err(NameError::InteriorNul)
    );
}

#[test]
fn windows_limit_is_256_utf16_units_with_the_prefix() {
    let prefix = r"\\.\pipe\".len();
    assert!(resolve_socket_name(&"p".repeat(MAX_PIPE_NAME - prefix), false, &win()).is_ok());
    assert_eq!(
        resolve_socket_name(&"p".repeat(MAX_PIPE_NAME - prefix + 1), false, &win()),
        Err(NameError::TooLong {
            needed: MAX_PIPE_NAME + 1,
            max: MAX_PIPE_NAME
        })
    );
    // A character outside the BMP takes two units.
    let astral = "😀".repeat((MAX_PIPE_NAME - prefix) / 2 + 1);
    assert!(matches!(
        resolve_socket_name(&astral, false, &win()),
        Err(NameError::TooLong { .. })
    ));
}

#[test]
fn accepted_server_name_is_the_last_path_component() {
    assert_eq!(path("/tmp/qtv_a").accepted_server_name(), "qtv_a");
    assert_eq!(path("/tmp/sub/x").accepted_server_name(), "x");
}

#[test]
fn accepted_server_name_falls_back_to_the_full_name() {
    assert_eq!(path("/tmp/dir/").accepted_server_name(), "/tmp/dir/");
    assert_eq!(path("plain").accepted_server_name(), "plain");
    assert_eq!(
        Address::Abstract("a/b".into()).accepted_server_name(),
        "a/b"
    );
    assert_eq!(
        Address::Pipe(r"\\.\pipe\x".into()).accepted_server_name(),
        r"\\.\pipe\x"
    );
}

#[test]
fn remove_server_name_cleans_the_temp_dir_and_ignores_abstract() {
    let ctx = linux_tmp("/tmp/./a/");
    assert_eq!(
        resolve_remove_server_name("srv", &ctx),
        Ok(Some("/tmp/a/srv".into()))
    );
    assert_eq!(
        resolve_remove_server_name("/abs/srv", &ctx),
        Ok(Some("/abs/srv".into()))
    );
}

#[test]
fn remove_server_name_is_nothing_on_windows() {
    assert_eq!(resolve_remove_server_name("srv", &win()), Ok(None));
}

#[test]
fn remove_server_name_rejects_invalid_names() {
    let ctx = linux_tmp("/tmp");
    assert_eq!(resolve_remove_server_name("", &ctx), Err(NameError::Empty));
    assert_eq!(
        resolve_remove_server_name("../etc/passwd", &ctx),
        Err(NameError::ParentComponent)
    );
}

#[test]
fn clean_path_matches_qdir_clean_path() {
    for (input, want) in [
        ("/tmp", "/tmp"),
        ("/tmp/", "/tmp"),
        ("//tmp//a", "/tmp/a"),
        ("/tmp/./a", "/tmp/a"),
        ("/tmp/a/..", "/tmp"),
        ("/..", "/"),
        ("/", "/"),
        ("a/../..", ".."),
        ("a/..", "."),
        (".", "."),
        ("", ""),
        ("a/./b/", "a/b"),
    ] {
        assert_eq!(clean_path(input), want, "clean_path({input:?})");
    }
}

#[test]
fn name_error_texts() {
    assert_eq!(NameError::Empty.to_string(), "empty name");
    assert_eq!(
        NameError::TooLong {
            needed: 110,
            max: 108
        }
        .to_string(),
        "name too long (110 bytes, at most 108)"
    );
    assert_eq!(NameError::InteriorNul.to_string(), "NUL byte in name");
    assert_eq!(
        NameError::ParentComponent.to_string(),
        "'..' or '.' would leave the name's directory"
    );
}

#[test]
fn platform_facts() {
    assert_eq!(Platform::Linux.sun_path_len(), 108);
    assert_eq!(Platform::Apple.sun_path_len(), 104);
    assert_eq!(Platform::FreeBsd.sun_path_len(), 104);
    assert!(Platform::Linux.supports_abstract_namespace());
    assert!(!Platform::Apple.supports_abstract_namespace());
    assert!(!Platform::Windows.supports_abstract_namespace());
    assert!(Platform::Windows.is_windows());
}

/// Win32 normalises `\\.\` paths, so a dot component in a pipe name would
/// escape the pipe namespace (`..\C:\file` opens a file). Refused, with
/// either separator, with or without the `\\.\pipe\` prefix.
#[test]
fn pipe_names_cannot_escape_the_pipe_namespace() {
    let win = NameContext::new(Platform::Windows, "");
    for name in [
        r"..\C:\Windows\file.txt",
        "../C:/file",
        r"a\..\..\C:\x",
        r"\\.\pipe\..\C:\x",
        r".\x",
        "a/./b",
    ] {
        assert_eq!(
            resolve_socket_name(name, false, &win),
            Err(NameError::ParentComponent),
            "{name:?}"
        );
        assert!(resolve_server_name(name, false, &win).is_err(), "{name:?}");
    }
    // Ordinary names with dots and separators inside components stay fine.
    for name in ["my.app", "a..b", r"org\app", "org/app.v2"] {
        assert!(resolve_socket_name(name, false, &win).is_ok(), "{name:?}");
    }
}

mod suffix {
    use super::*;
    use localsock_core::{Config, Connection, OpenMode};
    use proptest::prelude::*;

    fn contexts() -> [(NameContext, bool); 6] {
        [
            (linux_tmp("/tmp"), false),
            (linux_tmp("/tmp/x/../y/"), false),
            (linux_tmp("/tmp"), true),
            (NameContext::new(Platform::FreeBsd, "/var/tmp"), false),
            (NameContext::new(Platform::Apple, "/"), true),
            (win(), false),
        ]
    }

    proptest! {
        /// A connection's server name is kept as the tail of its address's
        /// text, without comparing them: every resolved address must end
        /// with the name exactly as given.
        #[test]
        fn the_name_is_the_tail_of_its_address(
            name in r"(\\\\\.\\pipe\\)?[a-z./\\\x00é]{0,12}",
            which in 0usize..6,
        ) {
            let (ctx, abstract_ns) = contexts()[which].clone();
            if let Ok(address) = resolve_socket_name(&name, abstract_ns, &ctx) {
                prop_assert!(address.as_str().ends_with(&name), "{address:?} {name:?}");
                let mut c = Connection::new(Config::new(ctx));
                c.set_abstract_namespace(abstract_ns);
                c.connect_to_server(&name, OpenMode::ReadWrite);
                prop_assert_eq!(c.server_name(), name.as_str());
                prop_assert_eq!(c.full_server_name(), address.as_str());
            }
        }
    }

    /// The address a connect queues (what the driver connects to).
    fn queued_address(c: &mut Connection) -> Option<Address> {
        let mut address = None;
        while let Some(action) = c.poll_action() {
            if let localsock_core::Action::Connect { address: a, .. } = action {
                address = Some(a);
            }
        }
        address
    }

    /// A thread that connects to the same name again reuses the address
    /// it resolved before (one allocation per name, not per connect); a
    /// different context resolves afresh.
    #[test]
    fn a_reconnect_to_the_same_name_shares_its_address() {
        let connect = |ctx: &NameContext, name: &str| {
            let mut c = Connection::new(Config::new(ctx.clone()));
            c.connect_to_server(name, OpenMode::ReadWrite);
            queued_address(&mut c).expect("a connect action")
        };
        let a = connect(&linux_tmp("/tmp"), "app");
        let b = connect(&linux_tmp("/tmp"), "app");
        assert_eq!(a, path("/tmp/app"));
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        let c = connect(&linux_tmp("/run"), "app");
        assert_eq!(c, path("/run/app"));
    }

    proptest! {
        /// Whatever a thread connected to before, a connect goes to the
        /// address its own name, option and context resolve to.
        #[test]
        fn reconnects_resolve_like_a_first_connect(
            steps in proptest::collection::vec((0usize..4, 0usize..6), 1..12),
        ) {
            let names = ["app", "/tmp/app", "x/app", "app\0"];
            for (n, which) in steps {
                let name = names[n];
                let (ctx, abstract_ns) = contexts()[which].clone();
                let mut c = Connection::new(Config::new(ctx.clone()));
                c.set_abstract_namespace(abstract_ns);
                c.connect_to_server(name, OpenMode::ReadWrite);
                let queued = queued_address(&mut c);
                match resolve_socket_name(name, abstract_ns, &ctx) {
                    Ok(want) => {
                        prop_assert_eq!(queued.as_ref(), Some(&want));
                        prop_assert_eq!(c.full_server_name(), want.as_str());
                        prop_assert_eq!(c.server_name(), name);
                    }
                    Err(_) => prop_assert_eq!(queued, None),
                }
            }
        }
    }
}
