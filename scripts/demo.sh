#!/usr/bin/env bash
# `make demo`: the core libraries end to end without a server: create and sign a repository
# with passphrase-encrypted keys, verify it as a client would, and verify the repositories
# the real Notary wrote (tests/data/notary).
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
