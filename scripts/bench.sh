#!/usr/bin/env bash
# `make bench-micro`: runs the single-component benchmarks built under bench/ (Release), then
# the client workload (bench/bench_client.sh). Each prints its own table. Nothing here asserts
# a timing. `make bench` runs the side-by-side suite (bench/suite.py) instead.
#
#   scripts/bench.sh [BUILD_DIR] [--quick]      (BENCH_QUICK=1 make bench: the same as --quick)
#
# --quick runs bench_client (the vouch CLI vs the notary CLI) in its short mode.
set -euo pipefail
build_dir=build-release
quick=${BENCH_QUICK:-0}
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    *) build_dir=$arg ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
for b in bench_canonical_json bench_tuf bench_validate bench_store bench_http bench_signer; do
  exe="$root/$build_dir/bench/$b"
  [ -x "$exe" ] || continue
  echo "=== $b"
  "$exe"
  echo
done
# The client benchmark is a script driving the built `vouch` and `vouch-server` and the notary
# CLI; it says so and skips when notary is not installed.
if [ -x "$root/$build_dir/cli/vouch" ] && [ -x "$root/$build_dir/server/vouch-server" ]; then
  echo "=== bench_client"
  if [ "$quick" = 1 ]; then
    "$root/bench/bench_client.sh" --quick "$build_dir"
  else
    "$root/bench/bench_client.sh" "$build_dir"
  fi
  echo
fi
