#!/usr/bin/env bash
# Integration: the README's two commands to run vouch on PostgreSQL, literally -
# `scripts/dev-postgres.sh start` (what `make dev-postgres` runs) and
# `scripts/run-replicas.sh <build>` (what `make run-replicas` runs) - with their directories
# and ports moved into a temporary directory (VOUCH_PG_DIR, VOUCH_PG_PORT, VOUCH_REPLICAS_DIR,
# VOUCH_SERVER_PORTS, VOUCH_SIGNER_PORTS on free loopback ports). Checked: two vouch-server and
# two vouch-signer processes come up on that PostgreSQL; the real notary CLI publishes through
# the first server and a fresh client lists the target through the second (each server signs
# with its own signer: the keys are shared); the administrator's password works at both (the
# accounts are in the database); SIGTERM stops the four processes and run-replicas exits;
# `scripts/dev-postgres.sh stop` stops the database. Only what this test started is stopped.
#
#   run_replicas_test.sh <build directory holding server/vouch-server, signer/vouch-signer>
set -euo pipefail
BUILD=${1:?usage: $0 <build directory>}
BUILD=$(cd "$BUILD" && pwd)
for tool in notary openssl curl python3 base64; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-run-replicas.XXXXXX")
chmod 755 "$WORK"  # as root, PostgreSQL runs as the user postgres, which must reach $WORK/pg
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; fi
  "$ROOT/scripts/dev-postgres.sh" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$WORK/replicas.out" >&2 2>/dev/null || true; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export HOME=$WORK/home
mkdir -p "$HOME"
export VOUCH_PG_DIR=$WORK/pg VOUCH_PG_PORT=$(free_port)
export VOUCH_REPLICAS_DIR=$WORK/replicas
S1=$(free_port) S2=$(free_port)
export VOUCH_SERVER_PORTS="$S1 $S2" VOUCH_SIGNER_PORTS="$(free_port) $(free_port)"

echo "--- scripts/dev-postgres.sh start"
out=$("$ROOT/scripts/dev-postgres.sh" start) || fail "dev-postgres.sh start: $out"
grep -q "VOUCH_PG_DSN=" <<<"$out" || fail "dev-postgres.sh does not print the DSN: $out"
[ -f "$VOUCH_PG_DIR/env" ] || fail "no $VOUCH_PG_DIR/env"

echo "--- scripts/run-replicas.sh"
"$ROOT/scripts/run-replicas.sh" "$BUILD" >"$WORK/replicas.out" 2>&1 </dev/null &
PID=$!
for _ in $(seq 1 1200); do
  grep -q "^replicas ready" "$WORK/replicas.out" && break
  kill -0 "$PID" 2>/dev/null || fail "run-replicas.sh exited"
  sleep 0.1
done
grep -q "^replicas ready" "$WORK/replicas.out" || fail "the replicas did not start"
PASSWORD=$(cat "$VOUCH_REPLICAS_DIR/admin-password")
if grep -qF "$PASSWORD" "$WORK/replicas.out"; then fail "the admin password was printed"; fi
CA=$VOUCH_REPLICAS_DIR/ca.pem

echo "--- the administrator's password works at both servers"
for port in "$S1" "$S2"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -u "admin:$PASSWORD" "https://localhost:$port/api/v1/me")
  [ "$code" = 200 ] || fail "admin at port $port: $code"
done

echo "--- notary publishes through the first server, a fresh client lists through the second"
export NOTARY_ROOT_PASSPHRASE=replicas-root NOTARY_TARGETS_PASSPHRASE=replicas-targets
export NOTARY_SNAPSHOT_PASSPHRASE=replicas-snapshot
NOTARY_AUTH=$(printf 'admin:%s' "$PASSWORD" | base64 -w0)
export NOTARY_AUTH
GUN=example.com/replicas/app
n1=(notary -d "$WORK/trust-1" -s "https://localhost:$S1" --tlscacert "$CA")
n2=(notary -d "$WORK/trust-2" -s "https://localhost:$S2" --tlscacert "$CA")
out=$("${n1[@]}" init "$GUN" -p 2>&1) || fail "init: $out"
printf 'replicated payload\n' >"$WORK/payload"
out=$("${n1[@]}" add "$GUN" v1 "$WORK/payload" 2>&1) || fail "add: $out"
out=$("${n1[@]}" publish "$GUN" 2>&1) || fail "publish: $out"
grep -q "Successfully published" <<<"$out" || fail "publish: $out"
out=$("${n2[@]}" list "$GUN" 2>&1) || fail "list through the second server: $out"
grep -q "^v1 " <<<"$out" || fail "the second server does not list v1: $out"

echo "--- SIGTERM stops the replicas"
kill -TERM "$PID"
wait "$PID" || fail "run-replicas.sh did not exit cleanly"
PID=
for port in "$S1" "$S2"; do
  if curl -s -o /dev/null --cacert "$CA" "https://localhost:$port/healthz"; then
    fail "a server still answers on $port"
  fi
done

echo "--- scripts/dev-postgres.sh stop"
out=$("$ROOT/scripts/dev-postgres.sh" stop) || fail "dev-postgres.sh stop: $out"
grep -q "^stopped" <<<"$out" || fail "dev-postgres.sh stop: $out"
echo "PASS"
