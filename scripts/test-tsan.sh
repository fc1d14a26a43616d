#!/usr/bin/env bash
# Runs the tests of the concurrent components under ThreadSanitizer (make test-tsan): the HTTP
# server, vouch-server (storage, repository, token auth, the process over HTTPS), vouch-signer,
# vouch-verifier, and the integration tests that start those processes, all built with
# -DVOUCH_TSAN=ON in BUILD_DIR. Each doctest executable runs from its own build directory (as
# ctest runs it); a data race reported in it, or in a process it starts, fails it.
#
#   scripts/test-tsan.sh [BUILD_DIR]     (default build-tsan)
#
# Reports from inside the uninstrumented Debian libraries (gRPC, RocksDB, OpenSSL) are
# suppressed by tests/tsan.supp; nothing of ours is.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build-tsan}
case $build in /*) ;; *) build="$root/$build" ;; esac

export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions=$root/tests/tsan.supp ${TSAN_OPTIONS:-}"

tests=(
  unit/common/common_test
  unit/net/net_http_server_test unit/net/net_signals_test
  unit/server/server_repository_test unit/server/server_repository_root_cache_test
  unit/server/server_repository_cache_race_test unit/server/server_repository_signer_stall_test
  unit/server/server_api_work_queue_test unit/server/server_gun_locks_test
  unit/server/server_meta_store_conformance_test unit/server/server_rocksdb_store_test
  unit/server/server_token_auth_test unit/server/server_audit_log_test
  unit/server/server_account_store_conformance_test unit/server/server_accounts_service_test
  unit/server/server_token_service_test unit/server/server_api_token_service_test
  unit/signer/signer_key_store_test
  unit/verifier/verifier_service_test unit/verifier/verifier_trust_cache_test
  integration/server_http_test integration/server_remote_signer_test
  integration/signer_grpc_test integration/signer_process_test
  integration/verifier_process_test
)
passed=0 failed=0 failures=()
for t in "${tests[@]}"; do
  exe="$build/tests/$t"
  if [ ! -x "$exe" ]; then
    echo "test-tsan: $exe is not built" >&2
    failed=$((failed + 1)); failures+=("$t (not built)")
    continue
  fi
  log="$build/tests/$t.tsan.log"
  start=$(date +%s)
  if (cd "$(dirname "$exe")" && "$exe" --no-intro >"$log" 2>&1); then
    passed=$((passed + 1))
    echo "test-tsan: ok     $t ($(( $(date +%s) - start )) s)"
  else
    failed=$((failed + 1)); failures+=("$t")
    echo "test-tsan: FAILED $t ($(( $(date +%s) - start )) s), log $log"
    grep -m1 -A30 "WARNING: ThreadSanitizer" "$log" || tail -30 "$log"
  fi
done
for f in "${failures[@]}"; do echo "test-tsan: failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
