#!/usr/bin/env bash
# `make bench`: runs the benchmarks built under bench/ (Release). Each prints its own table;
# those that can start the real Notary daemons compare side by side. Nothing here asserts a
# timing. The full side-by-side suite against notary-server is issue 7.
set -euo pipefail
build_dir=${1:-build-release}
root=$(cd "$(dirname "$0")/.." && pwd)
for b in bench_canonical_json bench_tuf bench_validate bench_store bench_http bench_signer; do
  exe="$root/$build_dir/bench/$b"
  [ -x "$exe" ] || continue
  echo "=== $b"
  "$exe"
  echo
done
