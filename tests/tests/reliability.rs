//! Reliability and security proofs (issue 8) on every runtime: access
//! control, hostile files and names, resource exhaustion, hostile peers,
//! peer credentials. See `localsock_tests::reliability` and SECURITY.md.

localsock_tests::reliability_suite!(blocking, localsock_tests::rt_blocking::Blocking);
localsock_tests::reliability_suite!(smol, localsock_tests::rt_smol::Smol);
localsock_tests::reliability_suite!(
    tokio_current_thread,
    localsock_tests::rt_tokio::TokioCurrentThread
);
localsock_tests::reliability_suite!(
    tokio_multi_thread,
    localsock_tests::rt_tokio::TokioMultiThread
);
