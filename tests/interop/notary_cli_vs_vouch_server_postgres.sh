#!/usr/bin/env bash
# Interop: the real notary CLI against vouch-server on PostgreSQL (issue 16; server/README.md
# "vouch-server on PostgreSQL"), with a real PostgreSQL server this script starts
# (tests/support/postgres.sh) and stops.
#
#   notary_cli_vs_vouch_server_postgres.sh <path to vouch-server>
#
# `vouch-server migrate` creates the schema (and finds nothing to do the second time); the
# notary CLI initialises, publishes and lists through a server on PostgreSQL; the files are in
# the database's tables; the config file's storage.postgres section is read; a second server
# process on the same database (after the first stopped) serves them to a new client and takes
# a further publish; a wrong password or an unreachable database stop the server at start with
# a clear message. PostgreSQL missing is a failure, not a skip.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
for tool in notary openssl curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"
# shellcheck source-path=SCRIPTDIR source=../support/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/postgres.sh"
# The EXIT trap: the server first (it holds connections), then the database server.
_pg_cleanup() {
  _vouch_cleanup
  pg_test_stop
}
trap _pg_cleanup EXIT

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
GUN=example.com/vouch/postgres
nt() { local dir=$1; shift; notary -d "$WORK/$dir" -s "$URL" --tlscacert "$WORK/ca.pem" "$@"; }
listed() { awk 'NF == 4 && length($2) == 64 {print $1}' <<<"$1" | sort | tr '\n' ' '; }

step "a real PostgreSQL server"
pg_test_start fast || fail "PostgreSQL did not start (see above)"
export VOUCH_PG_DSN=$PG_DSN VOUCH_PG_PASSWORD_FILE=$PG_PASSWORD_FILE

step "vouch-server migrate: creates the schema, then has nothing to do"
run 0 "$VOUCH_SERVER" migrate --storage postgres --pg-dsn "$PG_DSN" --pg-password-file "$PG_PASSWORD_FILE"
# The latest version: the number of migrations recorded (metadata 1, accounts 2, ...).
LATEST=$(pg_test_sql "SELECT max(version) FROM schema_migrations")
expect_in "schema version 0 -> $LATEST" "$out"
run 0 "$VOUCH_SERVER" migrate --storage postgres --pg-dsn "$PG_DSN" --pg-password-file "$PG_PASSWORD_FILE"
expect_in "schema version $LATEST -> $LATEST (up to date)" "$out"

step "the same from a config file: storage.postgres"
cat >"$WORK/pg.json" <<EOF
{"storage": {"backend": "postgres",
             "postgres": {"dsn": "$PG_DSN", "password_file": "$PG_PASSWORD_FILE",
                          "pool_size": 2, "statement_timeout_ms": 5000}}}
EOF
run 0 "$VOUCH_SERVER" migrate -c "$WORK/pg.json"
expect_in "(up to date)" "$out"
jq '.storage.postgres.pool_size = 0' "$WORK/pg.json" >"$WORK/bad.json"
run 1 "$VOUCH_SERVER" migrate -c "$WORK/bad.json"
expect_in 'storage.postgres.pool_size: expected an integer >= 1' "$out"
jq 'del(.storage.postgres.dsn)' "$WORK/pg.json" >"$WORK/bad.json"
run 1 "$VOUCH_SERVER" migrate -c "$WORK/bad.json"
expect_in "needs storage.postgres.dsn" "$out"

step "start-up errors: wrong password, password in the dsn, nobody listening"
printf 'wrong\n' >"$WORK/wrong-password"
run 1 "$VOUCH_SERVER" --storage postgres --pg-dsn "$PG_DSN" --pg-password-file "$WORK/wrong-password" \
  --key-dir "$WORK/keys" --insecure-no-auth
expect_in "password authentication failed" "$out"
expect_not_in "wrong" "$(grep -v 'password authentication failed' <<<"$out" || true)"
run 1 "$VOUCH_SERVER" migrate --storage postgres --pg-dsn "$PG_DSN password=secret"
expect_in "the dsn holds a password" "$out"
expect_not_in "secret" "$out"
DEAD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
run 1 "$VOUCH_SERVER" --storage postgres --pg-dsn "host=127.0.0.1 port=$DEAD_PORT user=x dbname=x" \
  --key-dir "$WORK/keys" --insecure-no-auth
expect_in "cannot connect" "$out"

step "vouch-server on PostgreSQL; the notary CLI initialises, publishes and lists"
vouch_make_tls
vouch_start 127.0.0.1:0
printf 'payload\n' >"$WORK/payload.txt"
run 0 nt owner init "$GUN" -p
run 0 nt owner add "$GUN" t1 "$WORK/payload.txt"
run 0 nt owner publish "$GUN"
run 0 nt owner list "$GUN"
[ "$(listed "$out")" = "t1 " ] || fail "owner list: $out"

step "the metadata is in PostgreSQL's tables"
ROLES=$(pg_test_sql "SELECT string_agg(convert_from(role, 'UTF8'), ' ' ORDER BY role) FROM meta_roles WHERE gun = convert_to('$GUN', 'UTF8')")
[ "$ROLES" = "root snapshot targets timestamp" ] || fail "meta_roles: $ROLES"
# One change per stored timestamp version (the server signs them), ids in version order.
TS=$(served "$GUN" timestamp | jq -r .signed.version)
FEED=$(pg_test_sql "SELECT string_agg(version::text, ' ' ORDER BY id) FROM meta_changes WHERE gun = convert_to('$GUN', 'UTF8')")
[ "$FEED" = "$(seq -s ' ' 1 "$TS")" ] || fail "meta_changes versions: $FEED (timestamp $TS)"
FILES=$(pg_test_sql "SELECT count(*) FROM meta_files WHERE gun = convert_to('$GUN', 'UTF8')")
[ "$FILES" -ge 7 ] || fail "meta_files: $FILES rows"
vouch_stop

step "a second server process on the same database serves it, and takes a publish"
vouch_start 127.0.0.1:0
run 0 nt reader list "$GUN"
[ "$(listed "$out")" = "t1 " ] || fail "reader list: $out"
run 0 nt owner add "$GUN" t2 "$WORK/payload.txt"
run 0 nt owner publish "$GUN"
run 0 nt reader list "$GUN"
[ "$(listed "$out")" = "t1 t2 " ] || fail "reader list after the second publish: $out"
run 0 curl -sf --cacert "$WORK/ca.pem" "$URL/_notary_server/health"
vouch_stop
echo "PASS"
