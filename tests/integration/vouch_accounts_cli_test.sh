#!/usr/bin/env bash
# Integration: `vouch login`, `vouch admin ...` and `vouch logout` against the real vouch-server
# with accounts (auth.type "accounts", a bootstrap administrator), walked as separate people,
# each with a trust directory of their own and no terminal (setsid, stdin not a tty):
#   - the admin logs in (--password-stdin), creates alice, organization acme, team acme/ops
#     with alice, a service account acme/ci and a token for it limited to one repository,
#     and grants read-write on example.com/acme/app to the team and the service account;
#   - alice logs in (NOTARY_AUTH, once) and publishes without NOTARY_AUTH afterwards;
#   - the CI job logs in with its API token from the environment, signs with `vouch sign` on
#     the granted repository, and is refused (exit 4) on another one; after its logout the
#     refresh token is revoked at the server.
# Stored logins hold no password and are mode 0600; no secret appears in any output.
#
#   vouch_accounts_cli_test.sh <path to vouch-server> <path to vouch>
#
# It ends only the server it started and removes its temporary directory
# (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary>}
for tool in openssl curl jq python3 base64 setsid sha256sum stat; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source=../interop/lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib_vouch_server.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
unset NOTARY_AUTH VOUCH_KEY_FORMAT

ADMIN_PASSWORD=admin-Pa55-word-for-the-test
ALICE_PASSWORD=alice-Pa55-word-for-the-test
export VOUCH_ROOT_PASSPHRASE=accounts-root-pass
export VOUCH_TARGETS_PASSPHRASE=accounts-targets-pass
export VOUCH_DELEGATION_PASSPHRASE=accounts-delegation-pass

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

# as <person> <vouch args...>: vouch in the person's trust directory, without a terminal.
as() {
  local who=$1; shift
  setsid -w "$VOUCH" -d "$WORK/$who" -s "$URL" --tlscacert "$WORK/ca.pem" "$@" </dev/null
}
# as_stdin <person> <input> <vouch args...>: the same, with <input> on stdin.
as_stdin() {
  local who=$1 input=$2; shift 2
  printf '%s' "$input" | setsid -w "$VOUCH" -d "$WORK/$who" -s "$URL" --tlscacert "$WORK/ca.pem" "$@"
}
# stored_ok <person> <secret>: the person's stored login exists, is 0600, holds no <secret>.
stored_ok() {
  local file="$WORK/$1/credentials.json"
  [ -f "$file" ] || fail "no credentials.json for $1"
  [ "$(stat -c %a "$file")" = 600 ] || fail "credentials.json of $1 is mode $(stat -c %a "$file")"
  if grep -qF -- "$2" "$file"; then fail "credentials.json of $1 holds the password"; fi
  jq -e --arg u "https://127.0.0.1:$PORT" '.servers[$u].refresh_token | startswith("vouch_")' \
    "$file" >/dev/null || fail "credentials.json of $1: $(jq -c 'del(.servers[].refresh_token)' "$file")"
}

step "not logged in: admin commands say how to log in; no terminal: login says what to use"
run 4 as admin admin whoami
expect_in "vouch login" "$out"
run 4 as admin login
expect_in "--password-stdin" "$out"
run 4 as_stdin admin "wrong-password" login --username admin --password-stdin
expect_in "refused" "$out"
[ ! -e "$WORK/admin/credentials.json" ] || fail "a refused login stored something"

step "the admin logs in; the login is stored, without the password"
run 0 as_stdin admin "$ADMIN_PASSWORD" login "$URL" --username admin --password-stdin
expect_in "Login Succeeded" "$out"
stored_ok admin "$ADMIN_PASSWORD"
json 0 as admin admin whoami --output json
check '.name == "admin" and .admin == true' "$out"

step "the admin: alice, organization acme, team acme/ops with alice, service account acme/ci"
run 0 as_stdin admin "$ALICE_PASSWORD" admin user create alice --password-stdin
expect_in "Created user alice" "$out"

step "admin user create without --password-stdin: no terminal -> a clear error; a terminal ->"
step "  the password asked twice without echo (a pseudo-terminal: tests/support/pty_run.py)"
run 1 as admin admin user create bob
expect_in "no terminal to ask for the password of new user bob on" "$out"
expect_in "--password-stdin" "$out"
BOB_PASSWORD=bob-Pa55-word-typed-twice
PTY_RUN=(python3 "$(dirname "${BASH_SOURCE[0]}")/../support/pty_run.py")
run 0 "${PTY_RUN[@]}" \
  "Enter password for new user bob: " noecho:short \
  "Enter password for new user bob: " "noecho:$BOB_PASSWORD" \
  "Repeat password for new user bob: " noecho:not-the-same-password \
  "Enter password for new user bob: " "noecho:$BOB_PASSWORD" \
  "Repeat password for new user bob: " "noecho:$BOB_PASSWORD" -- \
  "$VOUCH" -d "$WORK/admin" -s "$URL" --tlscacert "$WORK/ca.pem" admin user create bob
expect_in "Created user bob" "$out"
expect_in "Password is too short: at least 8 characters. Please retry." "$out"
expect_in "Passwords do not match. Please retry." "$out"
expect_not_in "$BOB_PASSWORD" "$out"
expect_not_in "not-the-same-password" "$out"
run 0 as_stdin bob "$BOB_PASSWORD" login "$URL" --username bob --password-stdin
expect_in "Login Succeeded" "$out"

run 0 as admin admin org create acme
run 0 as admin admin member add acme alice
run 0 as admin admin team create acme/ops --description "operations"
run 0 as admin admin team add-member acme/ops alice
json 0 as admin admin team members acme/ops --output json
check '.members == ["alice"]' "$out"
run 0 as admin admin service-account create acme/ci --description "the pipeline"
json 0 as admin admin service-account list --owner acme --output json
check '[.service_accounts[].name] == ["acme/ci"]' "$out"
run 1 as admin admin team create not-a-team
expect_in "<owner>/<name>" "$out"

step "the admin: a token for CI limited to example.com/acme/app, shown once"
json 0 as admin admin token create acme/ci --label ci --repository example.com/acme/app \
  --max-permission read-write --expires-in 30d --output json
check '.token | startswith("vouch_")' "$out"
CI_TOKEN=$(jq -r .token <<<"$out")
CI_TOKEN_ID=$(jq -r .id <<<"$out")
json 0 as admin admin token list --owner acme/ci --output json
check "[.tokens[].id] == [\"$CI_TOKEN_ID\"]" "$out"
expect_not_in "$CI_TOKEN" "$out"

step "the admin: grants on example.com/acme/app (team acme/ops, service account acme/ci)"
run 0 as admin admin grant set example.com/acme/app --team acme/ops --permission read-write
expect_in "Granted read-write on example.com/acme/app to team acme/ops" "$out"
run 0 as admin admin grant set example.com/acme/app --service-account acme/ci --permission read-write
json 0 as admin admin grant list example.com/acme/app --output json
check '[.grants[] | .grantee] | sort == ["acme/ci", "acme/ops"]' "$out"
run 1 as admin admin grant set example.com/acme/app --team acme/nobody --permission read
expect_in "acme/nobody" "$out"
json 0 as admin admin visibility show example.com/acme/app --output json
check '.namespace == "acme" and .visibility == "private"' "$out"

step "alice logs in once with NOTARY_AUTH, then publishes without it"
run 0 env NOTARY_AUTH="$(printf 'alice:%s' "$ALICE_PASSWORD" | base64 -w0)" \
  setsid -w "$VOUCH" -d "$WORK/alice" -s "$URL" --tlscacert "$WORK/ca.pem" login </dev/null
stored_ok alice "$ALICE_PASSWORD"
run 0 as alice init example.com/acme/app -p
expect_in "Successfully published changes for repository example.com/acme/app" "$out"
run 0 as alice key generate -r targets/ci -o "$WORK/ci"   # the pipeline's delegation key
run 0 as alice delegation add example.com/acme/app targets/ci "$WORK/ci.pem" --all-paths -p
run 4 as alice init example.com/acme/other -p           # no grant there
json 0 as alice admin whoami --output json
check '.name == "alice" and .admin == false and .teams == ["acme/ops"]' "$out"
run 4 as alice admin user list                           # not a system admin

step "the admin makes example.com/acme/other, with the same CI delegation"
run 0 as admin init example.com/acme/other -p
run 0 as admin delegation add example.com/acme/other targets/ci "$WORK/ci.pem" --all-paths -p

step "CI: its own trust directory, the token from the environment, no terminal"
printf '{"schemaVersion": 2, "build": 7}' >"$WORK/manifest.json"
DIGEST="sha256:$(sha256sum "$WORK/manifest.json" | cut -d' ' -f1)"
SIZE=$(wc -c <"$WORK/manifest.json" | tr -d ' ')
run 0 as ci key import "$WORK/ci-key.pem"
export CI_TOKEN
run 0 bash -c 'printf "%s" "$CI_TOKEN" | setsid -w "$0" -d "$1/ci" -s "$2" --tlscacert "$1/ca.pem" \
  login --username acme/ci --password-stdin' "$VOUCH" "$WORK" "$URL"
stored_ok ci "$CI_TOKEN"
run 0 as ci sign example.com/acme/app:1.0.7 --digest "$DIGEST" --size "$SIZE"
expect_in "Successfully signed example.com/acme/app:1.0.7" "$out"
run 4 as ci sign example.com/acme/other:1.0.7 --digest "$DIGEST" --size "$SIZE"
json 0 as alice lookup example.com/acme/app 1.0.7 --output json
check ".role == \"targets/ci\" and .digest == \"${DIGEST#sha256:}\"" "$out"

step "a second login replaces the first, whose refresh token is revoked at the server"
run 0 as_stdin alice "$ALICE_PASSWORD" login --username alice --password-stdin
stored_ok alice "$ALICE_PASSWORD"

step "logout: the stored login is gone; a user's refresh token is revoked at the server"
json 0 as admin admin token list --owner alice --output json
check '[.tokens[] | select(.kind == "refresh")] | length == 1' "$out"
run 0 as alice logout
expect_in "Removing login credentials for https://127.0.0.1:$PORT" "$out"
expect_not_in "warning" "$out"
[ ! -e "$WORK/alice/credentials.json" ] || fail "logout left credentials.json"
json 0 as admin admin token list --owner alice --output json
check '[.tokens[] | select(.kind == "refresh")] | length == 0' "$out"
run 0 as alice logout
expect_in "Not logged in" "$out"
run 4 as alice admin whoami
# vouch-server's admin API refuses service accounts (a user account is required), so the CI
# job's logout removes its login here and says the server still holds the token.
run 0 as ci logout
expect_in "Removing login credentials" "$out"
expect_in "warning: the token was not revoked at the server" "$out"
[ ! -e "$WORK/ci/credentials.json" ] || fail "logout left credentials.json"

step "the audit log verifies; a revoked token is no login"
json 0 as admin admin audit verify --output json
check '.ok == true' "$out"
run 0 as admin admin token revoke "$CI_TOKEN_ID"
run 4 bash -c 'printf "%s" "$CI_TOKEN" | setsid -w "$0" -d "$1/ci" -s "$2" --tlscacert "$1/ca.pem" \
  login --username acme/ci --password-stdin' "$VOUCH" "$WORK" "$URL"

step "no password or token was ever printed"
for secret in "$ADMIN_PASSWORD" "$ALICE_PASSWORD"; do
  if grep -qF -- "$secret" "$LOG"; then fail "a password appeared in vouch's output"; fi
done
if grep -qF -- "$CI_TOKEN" "$WORK/server.log"; then fail "the server logged the CI token"; fi

step "stop vouch-server"
vouch_stop
echo "PASS"
