//! Every scenario on every runtime.

localsock_tests::conformance_suite!(blocking, localsock_tests::rt_blocking::Blocking);
localsock_tests::conformance_suite!(smol, localsock_tests::rt_smol::Smol);
localsock_tests::conformance_suite!(
    tokio_current_thread,
    localsock_tests::rt_tokio::TokioCurrentThread
);
localsock_tests::conformance_suite!(
    tokio_multi_thread,
    localsock_tests::rt_tokio::TokioMultiThread
);
