//! The process reads `TMPDIR` once (docs/semantics.md, difference 34).
//! Its own test binary: it changes the environment of its process.

#[cfg(unix)]
#[test]
fn tmpdir_is_read_once_per_process() {
    let first = localsock_os::name_context();
    let config = localsock_os::default_config();
    // One test in this binary: no other thread reads the environment.
    std::env::set_var("TMPDIR", "/somewhere/else");
    assert_eq!(localsock_os::name_context(), first);
    assert_eq!(localsock_os::default_config().name_context, first);
    assert!(std::sync::Arc::ptr_eq(
        &config,
        &localsock_os::default_config()
    ));
    assert_ne!(first.temp_dir, "/somewhere/else");
}
