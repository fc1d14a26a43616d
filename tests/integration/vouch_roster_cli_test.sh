#!/usr/bin/env bash
# Integration: signed team rosters (issue 15) walked as separate people against the real
# vouch-server with accounts, each with a trust directory of their own and no terminal:
#   - the admin makes organization acme with team acme/ops (alice, bob) and the service account
#     acme/ci; alice and bob register signing keys (key generate while logged in);
#   - `admin roster diff` shows the whole roster as new; `admin roster publish acme -y`
#     initializes <host>/_roster/acme (root and targets keys in the admin's trust directory,
#     snapshot and timestamp on the server) and publishes it; bob (no admin) reads it with
#     `admin roster show` (table and JSON) and `verify` says it is up to date;
#   - bob leaves acme/ops: `verify` fails naming him, `publish` makes version 2 without him;
#   - mallory, an org member but no org admin, cannot publish acme's roster nor start one for
#     org beta (the server refuses the push), and a roster whose keys conflict is refused by
#     the server with the entry named.
#
#   - a policy takes acme/ops from the roster (teams_from, pinned to the admin's root key):
#     `vouch verify-image` and the vouch-verifier daemon (/v1/verify) admit alice's and bob's
#     tags by team; a roster pinned to another root is refused (deny, naming the roster); after
#     bob leaves and roster v2 is published, his new signature no longer admits, alice's does.
#
#   vouch_roster_cli_test.sh <path to vouch-server> <path to vouch> <path to vouch-verifier>
#
# It ends only the server and verifier it started and removes its temporary directory
# (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary> <vouch-verifier binary>}
VERIFIER=${3:?usage: $0 <vouch-server binary> <vouch binary> <vouch-verifier binary>}
for tool in openssl curl jq setsid; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source=../interop/lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib_vouch_server.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
VERIFIER_PID=
# The verifier this script starts is stopped by its PID on every exit path, before the lib's
# cleanup stops the server and removes $WORK.
trap '[ -z "$VERIFIER_PID" ] || kill -TERM "$VERIFIER_PID" 2>/dev/null || true; _vouch_cleanup' EXIT
unset NOTARY_AUTH VOUCH_KEY_FORMAT

ADMIN_PASSWORD=admin-Pa55-word-for-the-test
export VOUCH_ROOT_PASSPHRASE=keys-root-pass
export VOUCH_TARGETS_PASSPHRASE=keys-targets-pass
export VOUCH_SNAPSHOT_PASSPHRASE=keys-snapshot-pass
export VOUCH_DELEGATION_PASSPHRASE=keys-delegation-pass

step "vouch-server with accounts and its first administrator"
vouch_make_tls
cat >"$WORK/accounts.json" <<'JSON'
{"auth": {"type": "accounts"},
 "accounts": {"password_memory_kib": 1024, "password_iterations": 1}}
JSON
export VOUCH_BOOTSTRAP_ADMIN="admin:$ADMIN_PASSWORD"
VOUCH_AUTH_ARGS="--config $WORK/accounts.json"
vouch_start "127.0.0.1:$(free_port)"
unset VOUCH_BOOTSTRAP_ADMIN
HOSTPORT=${URL#https://}
GUN="$HOSTPORT/_roster/acme"

as() {
  local who=$1; shift
  setsid -w "$VOUCH" -d "$WORK/$who" -s "$URL" --tlscacert "$WORK/ca.pem" "$@" </dev/null
}
login() {
  printf '%s' "$2" | setsid -w "$VOUCH" -d "$WORK/$1" -s "$URL" --tlscacert "$WORK/ca.pem" \
    login --username "$1" --password-stdin >/dev/null
}

step "the admin: organization acme, team acme/ops with alice and bob, org member mallory"
login admin "$ADMIN_PASSWORD"
for u in alice bob mallory; do
  printf '%s' "$u-Pa55-word-for-the-test" | setsid -w "$VOUCH" -d "$WORK/admin" -s "$URL" \
    --tlscacert "$WORK/ca.pem" admin user create "$u" --password-stdin >/dev/null
done
run 0 as admin admin org create acme
for u in alice bob mallory; do run 0 as admin admin member add acme "$u"; done
run 0 as admin admin team create acme/ops
run 0 as admin admin team add-member acme/ops alice
run 0 as admin admin team add-member acme/ops bob

step "alice and bob register their signing keys"
declare -A KEY
for u in alice bob; do
  login "$u" "$u-Pa55-word-for-the-test"
  run 0 as "$u" key generate -r targets/ops
  KEY[$u]=$(sed -n 's/.*with keyID: \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
  expect_in "Registered ecdsa key ${KEY[$u]}" "$out"
done

step "diff before the first roster: everything is new"
run 0 as admin admin roster diff acme
expect_in "+ member ops/alice (user)" "$out"
expect_in "+ key ops/bob ${KEY[bob]} (ecdsa)" "$out"

step "the admin publishes roster v1"
run 0 as admin admin roster publish acme -y
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 as admin admin roster publish acme -y
expect_in "is up to date; nothing to publish" "$out"

step "bob, no admin, reads and verifies it"
run 0 as bob admin roster show acme
expect_in "version 1" "$out"
grep -E "^ops +alice +user +${KEY[alice]} +ecdsa" <<<"$out" >/dev/null || fail "show: $out"
json 0 as bob admin roster show acme --output json
check ".org == \"acme\" and ([.teams[0].members[].name] | sort) == [\"alice\", \"bob\"]" "$out"
check ".teams[0].members[] | select(.name == \"bob\") | .keys[0].keyid == \"${KEY[bob]}\"" "$out"
run 0 as bob admin roster verify acme
expect_in "roster $GUN version 1 verifies" "$out"
expect_in "up to date" "$out"
# Anyone reads it, anonymously too, and a Notary client sees an ordinary target.
json 0 as carol admin roster show acme --output json
check '.org == "acme"' "$out"
run 0 as carol list "$GUN"
expect_in "roster.json" "$out"

step "the server says the roster is up to date (admin API and metric)"
roster_status() {  # the admin API's roster status of acme, as the admin, in $out
  out=$(curl -s --cacert "$WORK/ca.pem" -u "admin:$ADMIN_PASSWORD" \
    "$URL/api/v1/orgs/acme/roster?gun=$GUN")
  printf '%s\n' "$out" >>"$LOG"
}
roster_status
check '.out_of_date == false and .version == 1 and .changes == [] and .gun == "'"$GUN"'"' "$out"
metrics=$(curl -s --cacert "$WORK/ca.pem" "$URL/metrics")
grep -q '^vouch_server_roster_out_of_date{org="acme"} 0' <<<"$metrics" ||
  fail "no vouch_server_roster_out_of_date 0 for acme"

step "the admin makes $HOSTPORT/acme/app, delegated to alice and bob by name; both sign"
run 0 as admin init "$HOSTPORT/acme/app" -p
run 0 as admin delegation add "$HOSTPORT/acme/app" targets/ops --member alice --member bob \
  --all-paths -p
run 0 as admin admin grant set "$HOSTPORT/acme/app" --team acme/ops --permission read-write
run 0 as admin admin visibility set "$HOSTPORT/acme/app" public
printf '{"schemaVersion": 2}' >"$WORK/manifest-a.json"
printf '{"schemaVersion": 2, "b": 1}' >"$WORK/manifest-b.json"
run 0 as alice sign "$HOSTPORT/acme/app:v1" --manifest "$WORK/manifest-a.json"
run 0 as bob sign "$HOSTPORT/acme/app:v2" --manifest "$WORK/manifest-b.json"

step "a policy takes team acme/ops from the roster; verify-image admits by team"
ROOT_ID=$(as admin key list --output json | jq -r '[.[] | select(.role == "root")][0].key_id')
[ -n "$ROOT_ID" ] && [ "$ROOT_ID" != null ] || fail "no root key in the admin's trust directory"
write_policy() {  # write_policy <file> <roster root key ID>
  cat >"$1" <<YAML
version: 1
teams_from:
  roster: $GUN
  server: $URL
  tls_ca: |
$(sed 's/^/    /' "$WORK/ca.pem")
  root_keys: [$2]
trust:
  - prefix: $HOSTPORT/acme
    server: $URL
    tls_ca: |
$(sed 's/^/      /' "$WORK/ca.pem")
    root_keys: [$ROOT_ID]
rules:
  - name: app
    pattern: $HOSTPORT/acme/**
    require:
      any-of: [acme/ops]
YAML
}
write_policy "$WORK/policy.yaml" "$ROOT_ID"
verify_image() { setsid -w "$VOUCH" verify-image "$@" </dev/null; }
run 0 verify_image "$HOSTPORT/acme/app:v1" --policy "$WORK/policy.yaml"
expect_in "allow" "$out"
run 0 verify_image "$HOSTPORT/acme/app:v2" --policy "$WORK/policy.yaml"

step "the vouch-verifier daemon admits by team from the roster"
# max_age_ms 0: every request fetches, so the daemon sees roster v2 on the next request. With
# MEASURE_PROPAGATION=1 the daemon keeps its default cache times, and the test prints how long
# after roster v2 is published the daemon denies the removed member (not checked: a figure).
if [ -n "${MEASURE_PROPAGATION:-}" ]; then
  printf '{"policy": {"file": "%s"}}\n' "$WORK/policy.yaml" >"$WORK/verifier.json"
else
  printf '{"policy": {"file": "%s"}, "trust": {"max_age_ms": 0}}\n' "$WORK/policy.yaml" \
    >"$WORK/verifier.json"
fi
VPORT=$(free_port)
"$VERIFIER" --config "$WORK/verifier.json" --tls-cert "$WORK/server.pem" \
  --tls-key "$WORK/server.key" --listen "127.0.0.1:$VPORT" >"$WORK/verifier.log" 2>&1 &
VERIFIER_PID=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/verifier.log" && break
  kill -0 "$VERIFIER_PID" 2>/dev/null || fail "vouch-verifier exited: $(cat "$WORK/verifier.log")"
  sleep 0.1
done
grep -q "listening on" "$WORK/verifier.log" || fail "vouch-verifier did not start"
verify_api() {  # verify_api <image>: the /v1/verify answer in $out
  out=$(curl -s --cacert "$WORK/ca.pem" "https://127.0.0.1:$VPORT/v1/verify" \
    -H 'Content-Type: application/json' -d "{\"image\": \"$1\"}")
  printf '%s\n' "$out" >>"$LOG"
}
verify_api "$HOSTPORT/acme/app:v1"
check '.allowed == true and .code == "signed"' "$out"
verify_api "$HOSTPORT/acme/app:v2"
check '.allowed == true' "$out"

step "a roster pinned to another root (a forged roster) is refused: deny, fail closed"
write_policy "$WORK/forged.yaml" "$(printf 'f%.0s' {1..64})"
run 2 verify_image "$HOSTPORT/acme/app:v1" --policy "$WORK/forged.yaml"
expect_in "roster $GUN" "$out"

step "bob leaves acme/ops: the roster is out of date until v2"
run 0 as admin admin team remove-member acme/ops bob
run 2 as bob admin roster verify acme
expect_in "- member ops/bob (user)" "$out"
expect_in "roster out of date" "$out"
roster_status
check '.out_of_date == true and .version == 1 and (.changes | index("- member ops/bob (user)")) != null' "$out"
metrics=$(curl -s --cacert "$WORK/ca.pem" "$URL/metrics")
grep -q '^vouch_server_roster_out_of_date{org="acme"} 1' <<<"$metrics" ||
  fail "no vouch_server_roster_out_of_date 1 for acme"
run 0 as admin admin roster publish acme -y
PUBLISHED_V2=$(date +%s.%N)
expect_in "- member ops/bob (user)" "$out"
json 0 as bob admin roster show acme --output json
check "[.teams[0].members[].name] == [\"alice\"]" "$out"
run 0 as bob admin roster verify acme
expect_in "version 2 verifies" "$out"
roster_status
check '.out_of_date == false and .version == 2' "$out"

step "after roster v2, bob's new signature no longer admits; alice's still does"
printf '{"schemaVersion": 2, "b": 3}' >"$WORK/manifest-b3.json"
# bob may still push (a grant of his own) and his key is still in the delegation: only the
# roster says he is no longer in acme/ops.
run 0 as admin admin grant set "$HOSTPORT/acme/app" --user bob --permission read-write
run 0 as bob sign "$HOSTPORT/acme/app:v3" --manifest "$WORK/manifest-b3.json"
run 2 verify_image "$HOSTPORT/acme/app:v3" --policy "$WORK/policy.yaml"
expect_in "acme/ops" "$out"
verify_api "$HOSTPORT/acme/app:v3"
if [ -n "${MEASURE_PROPAGATION:-}" ]; then
  while jq -e '.allowed == true' <<<"$out" >/dev/null; do sleep 0.5; verify_api "$HOSTPORT/acme/app:v3"; done
  echo "MEASURED: the daemon denies bob $(echo "$(date +%s.%N) - $PUBLISHED_V2" | bc) s after roster v2"
fi
check '.allowed == false and .code == "requirements_not_met"' "$out"
expect_in "acme/ops" "$out"
# (targets/ops is now signed by bob alone, so every tag in it is his until a member of acme/ops
# signs the role again: Notary's delegations sign roles, not tags.)
printf '{"schemaVersion": 2, "a": 4}' >"$WORK/manifest-a4.json"
run 0 as alice sign "$HOSTPORT/acme/app:v4" --manifest "$WORK/manifest-a4.json"
run 0 verify_image "$HOSTPORT/acme/app:v4" --policy "$WORK/policy.yaml"
expect_in "allow" "$out"
verify_api "$HOSTPORT/acme/app:v4"
check '.allowed == true' "$out"
kill -TERM "$VERIFIER_PID"; wait "$VERIFIER_PID" || fail "vouch-verifier did not exit cleanly"
VERIFIER_PID=

step "mallory, no org admin, cannot publish a roster of acme, nor start one for beta"
login mallory "mallory-Pa55-word-for-the-test"
run 0 as admin admin org create beta
run 0 as admin admin member add beta mallory
rc=0; as mallory admin roster publish beta -y >"$WORK/mallory.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "mallory published beta's roster: $(cat "$WORK/mallory.out")"
# The server gives her no push on the roster repository (not even the snapshot key of a new one).
expect_in "requires authentication for $HOSTPORT/_roster/beta snapshot key" "$(cat "$WORK/mallory.out")"
run 2 as carol admin roster show beta
run 0 as admin admin team add-member acme/ops mallory
rc=0; as mallory admin roster publish acme --gun "$GUN" -y >"$WORK/mallory.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "mallory published acme's roster: $(cat "$WORK/mallory.out")"
# Her trust directory holds no roster key of acme; the server would refuse her push anyway.
expect_in 'no signing key for role "targets"' "$(cat "$WORK/mallory.out")"
json 0 as bob admin roster show acme --output json
check "[.teams[0].members[].name] == [\"alice\"]" "$out"

step "stop vouch-server"
vouch_stop
echo "PASS"
