//! Every server runtime × every client runtime: bulk both ways with a
//! checksum, ping-pong, and the client in another process.

use localsock_tests::interop_pair;

interop_pair!(
    blocking_server_blocking_client,
    localsock_tests::rt_blocking::Blocking,
    localsock_tests::rt_blocking::Blocking
);
