#!/usr/bin/env bash
# The whole test suite, as the README's second command runs it:
#   1. every crate's tests on this machine (Linux: Unix domain sockets), and
#      the HTTP and gRPC tests of localsock-tokio's optional features,
#   2. the core built for a bare-metal target (proof that it makes no syscall),
#   3. the same suites (HTTP and gRPC too) as Windows binaries under Wine
#      (named pipes).
# Needs root for step 3's packages (apt) on a fresh machine; set
# LOCALSOCK_SKIP_WINE=1 to run steps 1-2 only.
#
# Every step runs even when an earlier one fails; the last line sums the
# `test result:` lines of all cargo runs as `N passed, M failed`. The exit
# status is non-zero if any step or any test failed.
set -euo pipefail
cd "$(dirname "$0")/.."

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# Runs a step with its output shown and kept for the summary.
step() {
  "$@" 2>&1 | tee -a "$log" || status=1
}

echo "== Linux: cargo test --workspace"
step cargo test --workspace --all-targets
step cargo test --workspace --doc

echo "== Linux: HTTP and gRPC (localsock-tokio's axum, hyper and tonic features)"
step cargo test -p localsock-tokio --all-features --test http --test grpc --test accept_backoff
step cargo test -p localsock-tokio --all-features --doc

echo "== core on bare metal (no_std, no syscalls)"
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
step cargo build -p localsock-core --no-default-features --target thumbv7em-none-eabihf

if [ "${LOCALSOCK_SKIP_WINE:-0}" != "1" ]; then
  echo "== Windows under Wine"
  step bash scripts/test-windows.sh
  step bash scripts/test-windows.sh -p localsock-tokio --all-features --test http --test grpc
fi

# "test result: ok. 39 passed; 0 failed; ..." -> fields 4 and 6.
read -r passed failed < <(
  grep -aE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" |
    sed -E 's/.*test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/' |
    awk '{p += $1; f += $2} END {print p + 0, f + 0}'
)
if [ "$failed" -ne 0 ]; then
  status=1
fi
echo "$passed passed, $failed failed"
exit "$status"
