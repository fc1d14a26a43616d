#!/usr/bin/env bash
# Interop: the real notary 0.7 CLI with NOTARY_AUTH against the built-in token service
# (/auth/token) beside Notary's API, over HTTPS. The server is token_service_server (a fixed
# table of users in place of the accounts store, which is not merged yet): alice may
# read-write example.com/vouch/interop, the service account acme/ci may read it.
#
#   notary_cli_vs_token_service.sh <path to token_service_server>
#
# It ends only the server it started, and removes its temporary directory.
set -euo pipefail
TEST_SERVER=${1:?usage: $0 <token_service_server binary>}
for tool in notary openssl base64; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
VOUCH_SERVER=$TEST_SERVER
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

step "start the token service test server"
vouch_make_tls
: >"$WORK/server.out"
"$TEST_SERVER" "$WORK/server.pem" "$WORK/server.key" \
  >"$WORK/server.out" 2>>"$WORK/server.log" </dev/null &
SERVER_PID=$!
for _ in $(seq 1 600); do
  grep -q "^listening on" "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the test server exited at start"
  sleep 0.1
done
listen=$(sed -n 's/^listening on //p' "$WORK/server.out")
[ -n "$listen" ] || fail "the test server did not report its address"
URL="https://$listen"

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
N=(notary -d "$WORK/trust" -s "$URL" --tlscacert "$WORK/ca.pem")
GUN=example.com/vouch/interop
auth() { printf '%s' "$1" | base64 -w0; }

step "alice (read-write) initializes and publishes with NOTARY_AUTH"
export NOTARY_AUTH; NOTARY_AUTH=$(auth alice:alice-pw)
out=$("${N[@]}" init "$GUN" -p </dev/null 2>&1) || fail "init: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
printf 'payload\n' >"$WORK/one.txt"
"${N[@]}" add "$GUN" v1 "$WORK/one.txt" >/dev/null
out=$("${N[@]}" publish "$GUN" </dev/null 2>&1) || fail "publish: $out"
expect_in "Successfully published changes for repository $GUN" "$out"

step "the service account acme/ci (read) lists, and may not publish"
NOTARY_AUTH=$(auth acme/ci:vouch_ci_token)
NCI=(notary -d "$WORK/trust-ci" -s "$URL" --tlscacert "$WORK/ca.pem")
out=$("${NCI[@]}" list "$GUN" </dev/null 2>&1) || fail "list as acme/ci: $out"
expect_in "v1" "$out"
"${N[@]}" add "$GUN" v2 "$WORK/one.txt" >/dev/null
if out=$("${N[@]}" publish "$GUN" </dev/null 2>&1); then fail "acme/ci published: $out"; fi
grep -q "token issued to acme/ci" "$WORK/server.log" || fail "acme/ci got no token"
[ "$(grep -c "\[server\] published $GUN" "$WORK/server.log")" = 2 ] \
  || fail "the server stored a publish other than alice's two"

step "a wrong password is refused"
NOTARY_AUTH=$(auth alice:wrong)
NX=(notary -d "$WORK/trust-x" -s "$URL" --tlscacert "$WORK/ca.pem")
if out=$("${NX[@]}" list "$GUN" </dev/null 2>&1); then fail "list with a wrong password: $out"; fi
grep -q "token refused to alice" "$WORK/server.log" || fail "the server did not log the refusal"
grep -q "alice-pw\|wrong" "$WORK/server.log" && fail "a password reached the server log"
echo "PASS"
