#!/usr/bin/env bash
# `make run`: starts what vouch has so far. Until vouch-server lands (issue 4), this runs the
# end-to-end core demo: create, sign, store encrypted keys, verify, and verify Notary's data.
set -euo pipefail
build_dir=${1:-build-release}
root=$(cd "$(dirname "$0")/.." && pwd)
trust_dir=${VOUCH_DEMO_TRUST_DIR:-$root/.vouch-demo}
rm -rf "$trust_dir"
# Demo passphrases unless the caller provides their own (never use these for real keys).
export NOTARY_ROOT_PASSPHRASE=${NOTARY_ROOT_PASSPHRASE:-demo-root-passphrase}
export NOTARY_TARGETS_PASSPHRASE=${NOTARY_TARGETS_PASSPHRASE:-demo-targets-passphrase}
export NOTARY_SNAPSHOT_PASSPHRASE=${NOTARY_SNAPSHOT_PASSPHRASE:-demo-snapshot-passphrase}
export VOUCH_TIMESTAMP_PASSPHRASE=${VOUCH_TIMESTAMP_PASSPHRASE:-demo-timestamp-passphrase}
exec "$root/$build_dir/client/vouch-core-demo" -d "$trust_dir" \
  --notary-data "$root/tests/data/notary" "$root/README.md" "$root/Makefile" 2>&1
