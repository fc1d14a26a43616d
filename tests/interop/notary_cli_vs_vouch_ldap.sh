#!/usr/bin/env bash
# Interop: directory accounts (issue 14 item 6). vouch-server with auth.type "accounts" and
# auth.ldap against a real slapd this script starts (tests/support/slapd.sh; StartTLS with a
# test CA), and the real notary 0.7 CLI:
#   - team acme/ops is synced from the directory group cn=ops (SIGHUP runs a sync now); the
#     directory user alice, a member, gets a token with NOTARY_AUTH and publishes acme/app
#     (read-write granted to the team);
#   - a wrong password: 401 with the challenge; an empty password: 401 and no LDAP bind at
#     all; an LDAP filter injection as the user name: 401;
#   - alice removed from the group: after the next sync (POST /api/v1/ldap/sync, system admins
#     only; alice's own Basic there goes to the directory too) her new tokens lack push;
#   - the directory down: a directory user gets 503 (not 401), the local admin still logs in.
#
#   notary_cli_vs_vouch_ldap.sh <path to vouch-server>
#
# It ends only the server and the slapd it started and removes their directories.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
for tool in notary openssl curl jq python3 base64; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
HERE=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$HERE/lib_vouch_server.sh"
# shellcheck source=../support/slapd.sh
. "$HERE/../support/slapd.sh"
trap '_vouch_cleanup; slapd_test_stop' EXIT

step "slapd with people and groups (StartTLS and LDAPS, a test CA)"
slapd_test_start || fail "slapd did not start"
PEOPLE=ou=people,$SLAPD_BASE
OPS=cn=ops,ou=groups,$SLAPD_BASE

step "vouch-server with accounts and auth.ldap (team acme/ops <- $OPS)"
vouch_make_tls
cat >"$WORK/accounts.json" <<JSON
{"auth": {"type": "accounts",
          "ldap": {"url": "$SLAPD_URL", "start_tls": true, "ca_file": "$SLAPD_CA",
                   "bind_dn": "$SLAPD_READER_DN", "bind_password_file": "$SLAPD_READER_PASSWORD_FILE",
                   "user_base": "$PEOPLE", "user_filter": "(uid={username})",
                   "group_base": "ou=groups,$SLAPD_BASE", "member_attribute": "member",
                   "team_map": [{"group": "$OPS", "team": "acme/ops"}],
                   "sync_interval_s": 3600, "timeout_ms": 5000}},
 "accounts": {"password_memory_kib": 1024, "password_iterations": 1}}
JSON
export VOUCH_BOOTSTRAP_ADMIN=admin:interop-admin-password
VOUCH_AUTH_ARGS="--config $WORK/accounts.json"
vouch_start "127.0.0.1:$(free_port)"
unset VOUCH_BOOTSTRAP_ADMIN

# token <user:password> <scope>: GET /auth/token; $code, $out (body), $hdrs (headers).
token() {
  local cred=$1 scope=$2
  out=$(curl -sS --cacert "$WORK/ca.pem" -u "$cred" -D "$WORK/headers" -w '\n%{http_code}' \
    "$URL/auth/token?service=vouch-server&scope=$scope")
  code=${out##*$'\n'}; out=${out%$'\n'*}
  hdrs=$(cat "$WORK/headers")
}
# The actions the last token grants on repository $1.
granted() {
  jq -r .token <<<"$out" | cut -d. -f2 | python3 -c '
import base64, json, sys
p = sys.stdin.read().strip(); p += "=" * (-len(p) % 4)
claims = json.loads(base64.urlsafe_b64decode(p))
print(",".join(sorted(a for e in claims.get("access", []) if e["name"] == sys.argv[1] for a in e["actions"])))' "$1"
}
# sync_until <jq filter on the team's members>: SIGHUP (a sync now), then wait until the
# admin API shows the team as the filter wants (bounded, not a timing check).
sync_until() {
  kill -HUP "$SERVER_PID"
  local _
  for _ in $(seq 1 300); do
    api "$ADMIN" GET /orgs/acme/teams/ops/members
    [ "$code" = 200 ] && [ "$(jq -e "$1" <<<"$out" 2>/dev/null)" = true ] && return 0
    sleep 0.1
  done
  fail "team acme/ops never matched $1: $code $out"
}
ADMIN=admin:interop-admin-password

step "organization acme, team ops with read-write on acme/*; a sync fills the team"
api "$ADMIN" POST /orgs '{"name":"acme"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" POST /orgs/acme/teams '{"name":"ops"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" PUT /grants '{"target":"acme/*","grantee_kind":"team","grantee":"acme/ops","permission":"read-write"}'
[ "$code" = 200 ] || fail "$code $out"
sync_until '.members | index("alice") != null and index("bob") != null'

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
N=(notary -d "$WORK/trust" -s "$URL" --tlscacert "$WORK/ca.pem")
GUN=acme/app

step "alice (directory user, NOTARY_AUTH): init + publish + list"
export NOTARY_AUTH
NOTARY_AUTH=$(printf 'alice:alice-password' | base64 -w0)
run 0 "${N[@]}" init "$GUN" -p
expect_in "Successfully published changes for repository $GUN" "$out"
printf 'ldap interop payload\n' >"$WORK/one.txt"
run 0 "${N[@]}" add "$GUN" v1 "$WORK/one.txt"
run 0 "${N[@]}" publish "$GUN"
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 "${N[@]}" list "$GUN"
expect_in "v1" "$out"
api "$ADMIN" GET /users/alice; [ "$code" = 200 ] || fail "no user record for alice: $code $out"

step "wrong password: 401 with the challenge"
token alice:not-her-password "repository:$GUN:pull"
[ "$code" = 401 ] || fail "wrong password: $code $out"
expect_in "WWW-Authenticate: Basic" "$hdrs"

step "empty password: 401 without any bind at the directory"
before=$(slapd_test_binds)
token alice: "repository:$GUN:pull"
[ "$code" = 401 ] || fail "empty password: $code $out"
[ "$(slapd_test_binds)" = "$before" ] || fail "an empty password reached the directory"

step "LDAP filter injection as the user name: 401"
token '*)(uid=*:alice-password' "repository:$GUN:pull"
[ "$code" = 401 ] || fail "injection: $code $out"
token '*:alice-password' "repository:$GUN:pull"
[ "$code" = 401 ] || fail "wildcard: $code $out"

step "alice leaves the group: after a sync her new tokens lack push"
token alice:alice-password "repository:$GUN:pull,push"
[ "$code" = 200 ] || fail "$code $out"
[ "$(granted "$GUN")" = "pull,push" ] || fail "before: $(granted "$GUN")"
printf 'dn: %s\nchangetype: modify\ndelete: member\nmember: uid=alice,%s\n' "$OPS" "$PEOPLE" | slapd_test_modify \
  || fail "ldapmodify"
api alice:alice-password POST /ldap/sync; [ "$code" = 403 ] || fail "alice ran a sync: $code $out"
api "$ADMIN" POST /ldap/sync; [ "$code" = 200 ] || fail "POST /ldap/sync: $code $out"
check '.groups_synced == 1 and .removed == 1 and .added == 0' "$out" "the admin API's sync"
api "$ADMIN" GET /orgs/acme/teams/ops/members
check '.members | index("alice") == null and index("bob") != null' "$out" "alice out of acme/ops"
token alice:alice-password "repository:$GUN:pull,push"
[ "$code" = 200 ] || fail "$code $out"
[ -z "$(granted "$GUN")" ] || fail "alice still has $(granted "$GUN") on $GUN"

step "directory down: 503 for a directory user, the local admin still logs in"
slapd_test_down
token bob:bob-password "repository:$GUN:pull"
[ "$code" = 503 ] || fail "directory down: $code $out (want 503)"
token "$ADMIN" "repository:$GUN:pull"
[ "$code" = 200 ] || fail "local admin with the directory down: $code $out"
[ "$(granted "$GUN")" = "pull" ] || fail "admin: $(granted "$GUN")"

step "the audit log has the directory user's publishes and the failed logins"
api "$ADMIN" GET '/audit?limit=1000'; [ "$code" = 200 ] || fail "$code $out"
check '[.records[] | select(.action == "publish" and .target == "acme/app" and .actor == "alice")] | length >= 2' "$out" "alice's publishes"
check '[.records[] | select(.action == "login_failed" and .target == "alice")] | length >= 2' "$out" "the failed logins"
check '[.records[] | select(.action == "team_member_add" and .actor == "directory" and .target == "acme/ops")] | length == 2' "$out" "the sync's additions"
check '[.records[] | select(.action == "team_member_remove" and .actor == "directory")] | length == 1' "$out" "the sync's removal"
vouch_stop

step "start-up refuses plain ldap:// without TLS, a misspelt auth.ldap key, and ldap without accounts"
# refused <config JSON> <expected message part>: vouch-server exits 1 at start saying why.
refused() {
  printf '%s\n' "$1" >"$WORK/bad.json"
  rc=0
  out=$("$VOUCH_SERVER" --config "$WORK/bad.json" --db-path "$WORK/db" \
    --http-addr "127.0.0.1:$(free_port)" --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
    </dev/null 2>&1) || rc=$?
  [ "$rc" = 1 ] || fail "started (rc $rc) with $1: $out"
  expect_in "$2" "$out"
}
refused "{\"auth\": {\"type\": \"accounts\", \"ldap\": {\"url\": \"$SLAPD_URL\", \"user_base\": \"$PEOPLE\"}}}" \
  "ldap:// without TLS would send passwords in clear"
refused "{\"auth\": {\"type\": \"accounts\", \"ldap\": {\"url\": \"$SLAPD_LDAPS_URL\", \"user_base\": \"$PEOPLE\", \"bind_pasword_file\": \"x\"}}}" \
  "bind_pasword_file"
refused "{\"auth\": {\"type\": \"token\", \"ldap\": {\"url\": \"$SLAPD_LDAPS_URL\", \"user_base\": \"$PEOPLE\"}}}" \
  "auth.ldap needs auth.type \"accounts\""
echo "PASS"
