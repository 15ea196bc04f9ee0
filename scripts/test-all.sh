#!/usr/bin/env bash
# The whole test suite, as the README's second command runs it:
#   1. every crate's tests on this machine (Linux: Unix domain sockets),
#   2. the core built for a bare-metal target (proof that it makes no syscall),
#   3. the same suites as Windows binaries under Wine (named pipes).
# Needs root for step 3's packages (apt) on a fresh machine; set
# LOCALSOCK_SKIP_WINE=1 to run steps 1-2 only.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Linux: cargo test --workspace"
cargo test --workspace --all-targets
cargo test --workspace --doc

echo "== core on bare metal (no_std, no syscalls)"
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
cargo build -p localsock-core --no-default-features --target thumbv7em-none-eabihf

if [ "${LOCALSOCK_SKIP_WINE:-0}" != "1" ]; then
  echo "== Windows under Wine"
  bash scripts/test-windows.sh
fi
