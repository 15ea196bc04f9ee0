#!/usr/bin/env bash
# Prepare this machine (Debian 12, as root) to build localsock for
# x86_64-pc-windows-gnu and run its tests under Wine. Idempotent, and quick
# when everything is already in place.
#
#   scripts/wine-setup.sh           # install what is missing, start wineserver
#   WINEPREFIX=/some/dir scripts/wine-setup.sh
#
# What it does (each step is skipped when already done):
#   1. apt-get install wine64 gcc-mingw-w64-x86-64 (apt-get update only when
#      something is missing);
#   2. rustup target add x86_64-pc-windows-gnu;
#   3. creates the Wine prefix ($WINEPREFIX, default /tmp/localsock-wine) with
#      `wineboot --init`;
#   4. builds the ProcessPrng stub (scripts/processprng/) and installs it as
#      system32/bcryptprimitives.dll: Rust >= 1.78's std needs ProcessPrng,
#      which Wine has only from 8.13 (Debian 12 ships 8.0);
#   5. starts `wineserver -p60` with stdio on /dev/null, so that a pipe on
#      cargo's output never stays open because of Wine's daemons.
# See docs/windows-under-wine.md for the reasons behind each step.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export WINEPREFIX="${WINEPREFIX:-/tmp/localsock-wine}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES='mscoree,mshtml='
export WINEARCH=win64
WINE=/usr/lib/wine/wine64
WINESERVER=/usr/lib/wine/wineserver
TARGET=x86_64-pc-windows-gnu

say() { printf 'wine-setup: %s\n' "$*"; }

# 1. Debian packages.
packages=(wine64 gcc-mingw-w64-x86-64)
missing=()
for p in "${packages[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} (apt-get update + install)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Rust target.
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    say "rustup target add $TARGET"
    rustup target add "$TARGET" >/dev/null 2>&1 || rustup target add "$TARGET"
fi

# 3. Wine prefix.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    say "creating Wine prefix $WINEPREFIX (wineboot --init)"
    mkdir -p "$WINEPREFIX"
    "$WINE" wineboot --init </dev/null >/dev/null 2>&1
    # wineboot returns before the registry is flushed; wait for the server.
    "$WINESERVER" -w </dev/null >/dev/null 2>&1 || true
fi
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -d "$system32" ]; then
    say "error: $system32 missing after wineboot" >&2
    exit 1
fi

# 4. ProcessPrng stub (bcryptprimitives.dll).
src="$here/processprng"
build="$WINEPREFIX/localsock-build"
dll="$build/bcryptprimitives.dll"
mkdir -p "$build"
if [ ! -f "$dll" ] || [ "$src/processprng.c" -nt "$dll" ] || [ "$src/processprng.def" -nt "$dll" ]; then
    say "building ProcessPrng stub DLL"
    x86_64-w64-mingw32-gcc -O2 -shared -o "$dll.tmp" \
        "$src/processprng.c" "$src/processprng.def" -ladvapi32
    mv "$dll.tmp" "$dll"
fi
if ! cmp -s "$dll" "$system32/bcryptprimitives.dll"; then
    say "installing bcryptprimitives.dll into $system32"
    cp "$dll" "$system32/bcryptprimitives.dll"
fi

# 5. A lingering wineserver (-p60: exits 60 s after its last client; "-p 60"
#    would mean forever), detached from our stdio.
"$WINESERVER" -p60 </dev/null >/dev/null 2>&1 || true
