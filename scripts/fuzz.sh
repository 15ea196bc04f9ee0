#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for SECS seconds each (default 60).
# Installs what it needs when it is missing: the nightly toolchain (rustup,
# minimal profile; libFuzzer needs -Zsanitizer) and cargo-fuzz from
# crates.io. A finding fails the script and leaves the crashing input in
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
log="$(mktemp)"
for target in $(cargo +nightly fuzz list); do
  echo "== fuzz $target for ${secs}s"
  status=0
  # New inputs go to a scratch corpus; the checked-in one only seeds.
  scratch="$(mktemp -d)"
  cargo +nightly fuzz run "$target" "$scratch" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=$?
  rm -rf "$scratch"
  # Only the summary: libFuzzer's progress lines are long and many.
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|==[0-9]+== ERROR)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    echo "fuzz.sh: target $target failed (status $status)"
    exit "$status"
  fi
done
rm -f "$log"
