#!/usr/bin/env bash
# Interop: accounts on PostgreSQL (issue 16 item 4). vouch-server with storage.backend
# "postgres" and auth.type "accounts", on a real PostgreSQL server this script starts
# (tests/support/postgres.sh) and stops: the first administrator is bootstrapped, `vouch admin`
# creates a user, an organization, a team and a grant, and the real notary 0.7 CLI publishes
# and lists as that user. The accounts are rows of the database (accounts_* tables), not a
# local RocksDB; a second server process on the same database (after the first stopped) knows
# them. PostgreSQL missing is a failure, not a skip.
#
#   notary_cli_vs_vouch_accounts_postgres.sh <path to vouch-server> <path to vouch>
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary>}
for tool in notary openssl curl jq python3 base64 setsid; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"
# shellcheck source-path=SCRIPTDIR source=../support/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/postgres.sh"
_pg_cleanup() {
  _vouch_cleanup
  pg_test_stop
}
trap _pg_cleanup EXIT
unset NOTARY_AUTH

ADMIN_PASSWORD=admin-Pa55-word-on-postgres
ALICE_PASSWORD=alice-Pa55-word-on-postgres

step "a real PostgreSQL server; vouch-server on it with accounts and its first administrator"
pg_test_start fast || fail "PostgreSQL did not start (see above)"
export VOUCH_PG_DSN=$PG_DSN VOUCH_PG_PASSWORD_FILE=$PG_PASSWORD_FILE
vouch_make_tls
# The audit log and the token key stay local files (server/README.md): under $WORK/local.
cat >"$WORK/accounts.json" <<JSON
{"auth": {"type": "accounts"},
 "storage": {"db_path": "$WORK/local"},
 "accounts": {"password_memory_kib": 1024, "password_iterations": 1}}
JSON
export VOUCH_BOOTSTRAP_ADMIN="admin:$ADMIN_PASSWORD"
VOUCH_AUTH_ARGS="--config $WORK/accounts.json"
PORT_FIXED=$(free_port)
vouch_start "127.0.0.1:$PORT_FIXED"
unset VOUCH_BOOTSTRAP_ADMIN
[ "$(pg_test_sql "SELECT count(*) FROM accounts_users")" = 1 ] || fail "the admin is not a row of accounts_users"
[ ! -e "$WORK/local/accounts" ] || fail "a local accounts database was created: $(ls "$WORK/local")"

as() { local who=$1; shift; setsid -w "$VOUCH" -d "$WORK/$who" -s "$URL" --tlscacert "$WORK/ca.pem" "$@" </dev/null; }
as_stdin() {
  local who=$1 input=$2; shift 2
  printf '%s' "$input" | setsid -w "$VOUCH" -d "$WORK/$who" -s "$URL" --tlscacert "$WORK/ca.pem" "$@"
}

step "vouch admin: user alice, organization acme, team acme/devs with alice, a grant on acme/app"
run 0 as_stdin admin "$ADMIN_PASSWORD" login "$URL" --username admin --password-stdin
expect_in "Login Succeeded" "$out"
run 0 as_stdin admin "$ALICE_PASSWORD" admin user create alice --password-stdin
expect_in "Created user alice" "$out"
run 0 as admin admin org create acme
run 0 as admin admin member add acme alice
run 0 as admin admin team create acme/devs
run 0 as admin admin team add-member acme/devs alice
run 0 as admin admin grant set acme/app --team acme/devs --permission read-write
expect_in "Granted read-write on acme/app to team acme/devs" "$out"
json 0 as admin admin team members acme/devs --output json
check '.members == ["alice"]' "$out"
[ "$(pg_test_sql "SELECT count(*) FROM accounts_users")" = 2 ] || fail "alice is not a row of accounts_users"
[ "$(pg_test_sql "SELECT count(*) FROM accounts_teams")" = 1 ] || fail "no row in accounts_teams"
[ "$(pg_test_sql "SELECT count(*) FROM accounts_grants")" -ge 1 ] || fail "no row in accounts_grants"

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
N=(notary -d "$WORK/trust" -s "$URL" --tlscacert "$WORK/ca.pem")
GUN=acme/app

step "the notary CLI as alice (NOTARY_AUTH): init + publish + list"
export NOTARY_AUTH
NOTARY_AUTH=$(printf 'alice:%s' "$ALICE_PASSWORD" | base64 -w0)
run 0 "${N[@]}" init "$GUN" -p
expect_in "Successfully published changes for repository $GUN" "$out"
printf 'payload on postgres\n' >"$WORK/one.txt"
run 0 "${N[@]}" add "$GUN" v1 "$WORK/one.txt"
run 0 "${N[@]}" publish "$GUN"
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 "${N[@]}" list "$GUN"
expect_in "v1" "$out"
[ "$(pg_test_sql "SELECT count(*) FROM meta_files WHERE convert_from(gun, 'UTF8') = '$GUN'")" -ge 4 ] \
  || fail "the metadata of $GUN is not in meta_files"

step "refused without a grant: alice on another namespace"
rc=0; out=$("${N[@]}" init other/secret -p 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "init of other/secret succeeded for alice: $out"

step "a second server process on the same database knows alice and her grant"
vouch_stop
VOUCH_AUTH_ARGS="--config $WORK/accounts.json"
vouch_start "127.0.0.1:$PORT_FIXED"
run 0 notary -d "$WORK/trust-2" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN"
expect_in "v1" "$out"
NOTARY_AUTH=$(printf 'alice:not-her-password' | base64 -w0)
rc=0; out=$(notary -d "$WORK/trust-3" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "a wrong password listed $GUN: $out"
echo "PASS"
