#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECS seconds each (default 60).
# Installs cargo-fuzz from crates.io when it is missing; uses the nightly
# toolchain (libFuzzer needs -Zsanitizer). A finding fails the script and
# leaves the crashing input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
for target in $(cargo +nightly fuzz list); do
  echo "== fuzz $target for ${secs}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==|SUMMARY|Done)' || true
  # grep hides libFuzzer's chatter; the exit status is cargo's.
  test "${PIPESTATUS[0]}" -eq 0
done
