#!/usr/bin/env bash
# Cross-build the workspace for x86_64-pc-windows-gnu and run its tests under
# Wine. Arguments go to `cargo test` (default: --workspace; fuzz/ is outside
# the workspace already), e.g.
#
#   scripts/test-windows.sh -p localsock-blocking --lib
#   scripts/test-windows.sh -p localsock-blocking --lib -- --nocapture
#
# Environment: WINEPREFIX (default /tmp/localsock-wine), LOCALSOCK_WINE_TIMEOUT
# (seconds per test binary, default 300). Exits with cargo's status.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export WINEPREFIX="${WINEPREFIX:-/tmp/localsock-wine}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES='mscoree,mshtml='

bash "$here/wine-setup.sh"

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$here/wine-runner.sh"

# Start Wine's server and its daemons now, with stdio on /dev/null: started by
# the first test binary, they would inherit cargo's stdout and keep a pipe on
# it open after cargo exits (`scripts/test-windows.sh | tee log` would hang).
/usr/lib/wine/wineserver -p60 </dev/null >/dev/null 2>&1 || true
timeout -k 5 60 /usr/lib/wine/wine64 cmd.exe /c exit </dev/null >/dev/null 2>&1 || true

if [ "$#" -eq 0 ]; then
    set -- --workspace
fi

status=0
cargo test --target x86_64-pc-windows-gnu "$@" || status=$?

# No `wineserver -k` here: it would kill the test binaries of another run
# sharing the prefix (they then exit 0 and count as passed). The server was
# started with -p60 and exits on its own a minute after its last client.
exit "$status"
