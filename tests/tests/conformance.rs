//! Every scenario on every runtime.

localsock_tests::conformance_suite!(blocking, localsock_tests::rt_blocking::Blocking);
