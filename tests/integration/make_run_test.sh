#!/usr/bin/env bash
# Integration: `make run` (scripts/run.sh) starts an authenticated server by default.
#
#   make_run_test.sh <build directory holding server/vouch-server>
#
# scripts/run.sh runs with its data directory and address moved into a temporary directory
# (VOUCH_DATA_DIR, VOUCH_ADDR on a free loopback port). Checked: the first run makes a random
# admin password (mode 0600) and prints how to log in; the server runs with accounts (the admin
# API answers the admin, refuses a wrong password and anonymous callers, an anonymous publish
# is refused); a second run keeps the same password; VOUCH_INSECURE_NO_AUTH=1 serves without
# authentication and says so. Only the servers started here are stopped (by their PIDs).
set -euo pipefail
BUILD=${1:?usage: $0 <build directory>}
BUILD=$(cd "$BUILD" && pwd)
for tool in openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-make-run.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$WORK/run.out" >&2 || true; exit 1; }
export VOUCH_DATA_DIR="$WORK/data"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export VOUCH_ADDR="127.0.0.1:$PORT"
URL="https://127.0.0.1:$PORT"

# start: runs scripts/run.sh in the background, waits for "listening on".
start() {
  : >"$WORK/run.out"
  "$ROOT/scripts/run.sh" "$BUILD" >"$WORK/run.out" 2>&1 </dev/null &
  PID=$!
  for _ in $(seq 1 600); do
    grep -q "^listening on" "$WORK/run.out" && return 0
    kill -0 "$PID" 2>/dev/null || fail "run.sh exited"
    sleep 0.1
  done
  fail "the server did not start"
}
stop() { kill -TERM "$PID"; wait "$PID" || fail "the server did not stop cleanly"; PID=; }
status() { curl -s -o /dev/null -w '%{http_code}' --cacert "$VOUCH_DATA_DIR/ca.pem" "$@"; }

echo "--- first run: authenticated, with a random admin password"
start
[ -f "$VOUCH_DATA_DIR/admin-password" ] || fail "no admin-password file"
[ "$(stat -c %a "$VOUCH_DATA_DIR/admin-password")" = 600 ] || fail "admin-password is not mode 0600"
PASSWORD=$(cat "$VOUCH_DATA_DIR/admin-password")
[ "${#PASSWORD}" -ge 16 ] || fail "admin password too short"
grep -q "NOTARY_AUTH" "$WORK/run.out" || fail "run.sh does not say how to set NOTARY_AUTH"
grep -q "login --username admin" "$WORK/run.out" || fail "run.sh does not say how to log in"
if grep -qF "$PASSWORD" "$WORK/run.out"; then fail "the password was printed"; fi
[ "$(status -u "admin:$PASSWORD" "$URL/api/v1/me")" = 200 ] || fail "admin cannot reach /api/v1/me"
[ "$(status -u "admin:wrong-password" "$URL/api/v1/me")" = 401 ] || fail "a wrong password passed"
[ "$(status "$URL/api/v1/me")" = 401 ] || fail "an anonymous caller passed"
[ "$(status -X POST -H 'Content-Type: multipart/form-data; boundary=b' --data-binary $'--b--\r\n' \
  "$URL/v2/example.com/hello/_trust/tuf/")" = 401 ] || fail "an anonymous publish was not refused"
stop

echo "--- second run: the same password"
start
[ "$(cat "$VOUCH_DATA_DIR/admin-password")" = "$PASSWORD" ] || fail "the password changed"
[ "$(status -u "admin:$PASSWORD" "$URL/api/v1/me")" = 200 ] || fail "admin cannot log in again"
stop

echo "--- VOUCH_INSECURE_NO_AUTH=1: no authentication, said so"
VOUCH_INSECURE_NO_AUTH=1 start
grep -q "WITHOUT authentication" "$WORK/run.out" || fail "no warning"
[ "$(status "$URL/v2/example.com/hello/_trust/tuf/timestamp.key")" = 200 ] || fail "not open"
stop
echo PASS
