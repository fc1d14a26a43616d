#!/usr/bin/env bash
# Interop: the real notary 0.7 CLI with NOTARY_AUTH, and at its username/password prompt (on a
# pseudo-terminal: tests/support/pty_run.py), against vouch-server's own token service
# (auth.type "accounts", issue 14): a user with read-write through a team's organization
# default inits, publishes and lists a repository of the organization; a service account
# with read on it lists with its API token and may not publish; on a repository of a
# namespace without a grant the user is refused; a wrong password is refused; the audit log
# names the user; no password or token reaches the server log.
#
#   notary_cli_vs_vouch_accounts.sh <path to vouch-server>
#
# It ends only the server it started and removes its temporary directory
# (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
for tool in notary openssl curl jq python3 base64; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

step "TLS certificates; vouch-server with accounts and its first administrator"
vouch_make_tls
cat >"$WORK/accounts.json" <<'JSON'
{"auth": {"type": "accounts"},
 "accounts": {"password_memory_kib": 1024, "password_iterations": 1}}
JSON
export VOUCH_BOOTSTRAP_ADMIN=admin:interop-admin-password
VOUCH_AUTH_ARGS="--config $WORK/accounts.json"
vouch_start "127.0.0.1:$(free_port)"
unset VOUCH_BOOTSTRAP_ADMIN
# The bootstrap password does not stay in the server's environment.
if tr '\0' '\n' <"/proc/$SERVER_PID/environ" | grep -q 'interop-admin-password'; then
  fail "VOUCH_BOOTSTRAP_ADMIN is still readable in /proc/$SERVER_PID/environ"
fi

ADMIN=admin:interop-admin-password

step "alice and mallory; organization acme, team devs (alice) with read-write on acme/*"
api "$ADMIN" POST /users '{"name":"alice","password":"alice-password"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" POST /users '{"name":"mallory","password":"mallory-password"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" POST /orgs '{"name":"acme"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" POST /orgs/acme/teams '{"name":"devs"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" PUT /orgs/acme/teams/devs/members/alice; [ "$code" = 200 ] || fail "$code $out"
api "$ADMIN" PUT /grants '{"target":"acme/*","grantee_kind":"team","grantee":"acme/devs","permission":"read-write"}'
[ "$code" = 200 ] || fail "$code $out"

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
N=(notary -d "$WORK/trust" -s "$URL" --tlscacert "$WORK/ca.pem")
GUN=acme/app

step "as alice (NOTARY_AUTH): init + publish + list"
export NOTARY_AUTH
NOTARY_AUTH=$(printf 'alice:alice-password' | base64 -w0)
run 0 "${N[@]}" init "$GUN" -p
expect_in "Successfully published changes for repository $GUN" "$out"
printf 'interop payload\n' >"$WORK/one.txt"
run 0 "${N[@]}" add "$GUN" v1 "$WORK/one.txt"
run 0 "${N[@]}" publish "$GUN"
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 "${N[@]}" list "$GUN"
expect_in "v1" "$out"

step "service account acme/ci (read on acme/app) lists with its API token and may not publish"
api "$ADMIN" POST /service-accounts '{"owner":"acme","name":"ci"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" PUT /grants '{"target":"acme/app","grantee_kind":"service_account","grantee":"acme/ci","permission":"read"}'
[ "$code" = 200 ] || fail "$code $out"
api "$ADMIN" POST /tokens '{"owner":"acme/ci","label":"interop"}'; [ "$code" = 201 ] || fail "$code $out"
CI_TOKEN=$(jq -r .token <<<"$out")
NOTARY_AUTH=$(printf 'acme/ci:%s' "$CI_TOKEN" | base64 -w0)
run 0 notary -d "$WORK/trust-ci" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN"
expect_in "v1" "$out"
# With alice's trust directory (the repository's keys) the publish is signed, and refused.
run 0 "${N[@]}" add "$GUN" v2 "$WORK/one.txt"
rc=0; out=$("${N[@]}" publish "$GUN" 2>&1) || rc=$?
printf '%s\n' "$out" >>"$LOG"
[ "$rc" != 0 ] || fail "acme/ci published: $out"
expect_not_in "Successfully published" "$out"
grep -q "token issued to acme/ci" "$WORK/server.log" || fail "acme/ci got no token"
NOTARY_AUTH=$(printf 'alice:alice-password' | base64 -w0)

step "as alice at notary's username/password prompt (a pseudo-terminal, NOTARY_AUTH unset)"
# A trust directory without a cached copy, so notary must fetch and therefore log in.
PTY_RUN=(python3 "$(dirname "${BASH_SOURCE[0]}")/../support/pty_run.py")
run 0 env -u NOTARY_AUTH "${PTY_RUN[@]}" "Enter username: " alice \
  "Enter password: " noecho:alice-password -- \
  notary -d "$WORK/trust-prompt" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN"
expect_in "v1" "$out"
expect_in "Enter username: alice" "$out"  # the name is echoed, the password is not
expect_not_in "alice-password" "$out"

step "as alice: refused on a repository of a namespace she has no grant in"
rc=0; out=$("${N[@]}" init mallory/secret -p 2>&1) || rc=$?
printf '%s\n' "$out" >>"$LOG"
[ "$rc" != 0 ] || fail "init of mallory/secret succeeded for alice: $out"
expect_not_in "Successfully published" "$out"

step "as mallory: refused on acme/app (no grant), allowed in her own namespace"
NOTARY_AUTH=$(printf 'mallory:mallory-password' | base64 -w0)
rc=0; out=$(notary -d "$WORK/trust-m" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "mallory listed acme/app: $out"
run 0 notary -d "$WORK/trust-m" -s "$URL" --tlscacert "$WORK/ca.pem" init mallory/own -p
expect_in "Successfully published changes for repository mallory/own" "$out"

step "wrong password: refused (a trust directory without a cached copy)"
NOTARY_AUTH=$(printf 'alice:not-her-password' | base64 -w0)
rc=0; out=$(notary -d "$WORK/trust-w" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "a wrong password listed $GUN: $out"
grep -q "token refused to alice" "$WORK/server.log" || fail "the server did not log the refusal"

step "the audit log names alice for her publishes and the chain verifies"
api "$ADMIN" GET '/audit?limit=1000'; [ "$code" = 200 ] || fail "$code $out"
check '[.records[] | select(.action == "publish" and .target == "acme/app") | .actor] | . == ["alice", "alice"]' \
  "$out" "alice's two publishes (init, v1) and no other"
check '[.records[] | select(.action == "login_failed" and .target == "alice")] | length >= 1' "$out" "the failed login"
api "$ADMIN" GET /audit/verify; [ "$code" = 200 ] || fail "$code $out"
check '.ok == true' "$out"

step "no password or API token in the server log"
for secret in alice-password mallory-password not-her-password interop-admin-password "${CI_TOKEN#vouch_*_}"; do
  grep -qF -- "$secret" "$WORK/server.log" && fail "a secret reached the server log"
done
echo "PASS"
