#!/bin/sh
# Cargo runner for x86_64-pc-windows-gnu: runs a test binary under Wine.
# The timeout turns a hang into a failure (exit 124): a binary killed by
# `wineserver -k` would otherwise exit 0 and cargo would count it as passed.
# LOCALSOCK_WINE_TIMEOUT (seconds, default 300) bounds one binary.
export WINEPREFIX="${WINEPREFIX:-/tmp/localsock-wine}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES='mscoree,mshtml='
exec timeout -k 5 "${LOCALSOCK_WINE_TIMEOUT:-300}" /usr/lib/wine/wine64 "$@"
