#!/usr/bin/env bash
# No raw OS error numbers in the runtimes or the command: an error is
# classified once, by the core (`OsError::from_io`), or by name
# (`io::ErrorKind`, `rustix::io::Errno::from_io_error(&e) == Some(Errno::X)`),
# never by comparing `raw_os_error()` or a bare number (`== Some(107)`,
# `Some(32) =>`, `== 232`, `libc::EPIPE`, `ERROR_PIPE_BUSY as i32`).
#
# Usage: scripts/check-raw-errno.sh [path...]   (default: async/src runtime-*/src cli/src)
# Prints every offending line and exits 1 if there is one. Comment lines are
# skipped; a line that is a false positive can carry `errno-check: ok`.
set -euo pipefail
cd "$(dirname "$0")/.."

patterns=(
  # the raw code compared, or dispatched on
  'raw_os_error\(\)[^;{]*(==|!=)'
  '(==|!=)[^;{]*raw_os_error\(\)'
  '(match|matches!)[ (][^{]*raw_os_error\(\)'
  # Some(<number>) compared or as a match arm (what raw_os_error() returns)
  'Some\(\s*-?[1-9][0-9]*\s*(as\s+[iu](8|16|32|64|size)\s*)?\)\s*(=>|\||if\b|==|!=)'
  '(==|!=)\s*Some\(\s*-?[1-9]'
  # a raw code made from a number
  'from_raw_os_error\(\s*-?[0-9]'
  # raw platform constants: libc errno, Windows ERROR_*/WSAE* compared
  '\blibc::E[A-Z0-9]+\b'
  '(==|!=|Some\()\s*([A-Za-z0-9_]+::)*(ERROR_|WSAE)[A-Z0-9_]+'
  '\b(ERROR_|WSAE)[A-Z0-9_]+\b(\s+as\s+[iu](32|size))?\s*\)?\s*(==|!=|=>|\|[^|])'
  '\b(WSA)?GetLastError\(\)[^;{]*(==|!=)'
  # a code-named value compared with a number
  '\b[A-Za-z0-9_]*(errno|err_code|error_code|os_code|raw_code|last_error|os_error)[A-Za-z0-9_]*(\(\))?\s*(==|!=)\s*(Some\()?-?[0-9]'
  # a number of two digits or more compared, or as a match arm (== 107, 232 =>)
  '(==|!=)\s*-?[1-9][0-9]+\b'
  '\b[1-9][0-9]+\s*(==|!=)'
  '^\s*-?[1-9][0-9]+\s*(\|\s*-?[0-9]+\s*)*(=>|if\b)'
)
re=$(IFS='|'; echo "${patterns[*]}")

if [ "$#" -eq 0 ]; then
  set -- async/src runtime-*/src cli/src
fi
hits=$(grep -rnHE --include='*.rs' "$re" "$@" \
  | grep -vE '^[^:]+:[0-9]+:\s*//' \
  | grep -v 'errno-check: ok' || true)
if [ -n "$hits" ]; then
  echo "raw OS error numbers compared (classify with OsError::from_io, io::ErrorKind or rustix::io::Errno by name):"
  echo "$hits"
  exit 1
fi
echo "no raw OS error comparisons in: $*"
