#!/usr/bin/env bash
# Integration: the README's walkthroughs, run as written, prove that they work.
#
#   readme_walkthrough_test.sh <path to vouch-server> <path to vouch> <path to README.md>
#
# The code blocks after each `<!-- readme-walkthrough: NAME -->` marker in README.md are taken
# literally ("Using vouch", "Admission control"'s inline-teams alternative, "Signing from CI";
# "Accounts", and Admission control's steps 1-3 with teams from the signed roster continuing
# the Accounts shell, against a second server with accounts and a bootstrap administrator,
# whose password the test puts where `make run` does, .vouch-run/admin-password) and run against
# a real vouch-server over HTTPS, without a terminal (setsid, stdin from /dev/null) and with
# passphrases from the environment, as the README's CI section describes. The owner, Alice
# and the CI pipeline each have a trust directory of their own. What the test changes in the
# README's text, and nothing else:
#   - https://localhost:4443 (what `make run` serves) becomes the test server's address;
#   - $REPO (the clone) is a directory made here holding build-release/cli/vouch (a link to
#     the binary under test) and .vouch-run/ca.pem, as `make` leaves them;
#   - a command whose comment says "exit N" must exit with N (the rest run under set -e);
#   - the pipeline runs in a fresh shell with the variables a CI system would set, in a
#     directory holding ci/config.json (the README's JSON with this server, its CA and the
#     root certificate ID that the admin's block printed), and `vouch` on PATH.
# Steps 4 and 5 of "Admission control" (the webhook, the cluster) are not run here.
# Afterwards: nothing was written into the clone, Alice's trust directory holds her key only,
# no snapshot key was made anywhere, the policy's root key pin (the ID `vouch key list` shows)
# admits a second repository the owner makes with the same root key while a root certificate
# ID pins one repository only, and the README's exit code table is `vouch --help`'s.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary> <README.md>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary> <README.md>}
README=${3:?usage: $0 <vouch-server binary> <vouch binary> <README.md>}
for tool in openssl curl jq setsid sha256sum awk sed; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source=../interop/lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib_vouch_server.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# Test passphrases (throwaway keys). No snapshot passphrase: no snapshot key may be needed.
export VOUCH_ROOT_PASSPHRASE=readme-root-pass
export VOUCH_TARGETS_PASSPHRASE=readme-targets-pass
export VOUCH_DELEGATION_PASSPHRASE=readme-delegation-pass
unset VOUCH_SNAPSHOT_PASSPHRASE NOTARY_ROOT_PASSPHRASE NOTARY_TARGETS_PASSPHRASE \
  NOTARY_SNAPSHOT_PASSPHRASE NOTARY_DELEGATION_PASSPHRASE DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE \
  DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE VOUCH_NEW_PASSPHRASE VOUCH_KEY_FORMAT NOTARY_AUTH
export TMPDIR="$WORK/tmp"   # the walkthrough's `mktemp -d` lands here and is removed with $WORK
mkdir -p "$TMPDIR"

# block <name>: the README's code block after `<!-- readme-walkthrough: <name> -->`.
block() {
  local text
  text=$(awk -v marker="<!-- readme-walkthrough: $1 -->" '
    $0 == marker { state = 1; next }
    state == 1 && /^```/ { state = 2; next }
    state == 2 && /^```/ { exit }
    state == 2 { print }' "$README")
  [ -n "$text" ] || fail "README.md has no block marked readme-walkthrough: $1"
  printf '%s\n' "$text"
}
# The test's changes to a block (see the header).
adapt() {
  sed -E -e 's#https://localhost:4443#$URL#g' \
    -e 's/^(vouch .*[^ ]) +#.*exit ([0-9]+)([^0-9].*)?$/__rc=0; \1 || __rc=$?; __expect_exit \2 "$__rc" "\1"/'
}

step "TLS certificates, vouch-server (RocksDB, embedded key store)"
vouch_make_tls
vouch_start

step "the clone as make leaves it: build-release/cli/vouch and .vouch-run/ca.pem"
REPO="$WORK/clone"
mkdir -p "$REPO/build-release/cli" "$REPO/.vouch-run"
ln -s "$(realpath "$VOUCH")" "$REPO/build-release/cli/vouch"
cp "$WORK/ca.pem" "$REPO/.vouch-run/ca.pem"
(cd "$REPO" && find . | sort) >"$WORK/clone-before.txt"

step "Using vouch, Admission control with inline teams, Signing from CI (the admin's part), as one shell"
{
  echo 'set -euo pipefail'
  echo 'shopt -s expand_aliases'
  echo "URL='$URL'"
  echo '__expect_exit() { [ "$2" = "$1" ] || { echo "README: expected exit $1, got $2: $3" >&2; exit 1; }; }'
  block using | adapt
  echo "printf '%s\n' \"\$PWD\" >'$WORK/scratch-dir'"
  block admission-inline-1 | adapt
  block admission-inline-2 | adapt
  block admission-inline-3 | adapt
  # The admin's block ends by printing the root certificate ID for the pipeline's config.
  echo "exec 3>&1 >'$WORK/ci-admin.out'"
  block ci-admin | adapt
  echo 'exec 1>&3 3>&-'
} >"$WORK/walkthrough.sh"
run 0 bash -c "cd '$REPO' && setsid -w bash '$WORK/walkthrough.sh' </dev/null"
expect_in "v1 is signed" "$out"
expect_in "DECISION   allow (signed)" "$out"
expect_in "DECISION   deny (not_signed)" "$out"
SCRATCH=$(cat "$WORK/scratch-dir")
case "$SCRATCH" in "$TMPDIR"/*) ;; *) fail "the walkthrough did not move to a scratch directory: $SCRATCH" ;; esac

step "nothing was written into the clone; the keys stayed in the scratch and trust directories"
(cd "$REPO" && find . | sort) >"$WORK/clone-after.txt"
diff -u "$WORK/clone-before.txt" "$WORK/clone-after.txt" || fail "the walkthrough wrote into the clone"
[ -f "$SCRATCH/alice-key.pem" ] && [ -f "$SCRATCH/ci-key.pem" ] || fail "no keys in the scratch directory"

step "separate trust directories: Alice holds her delegation key only; no snapshot key anywhere"
json 0 setsid -w "$VOUCH" -d "$SCRATCH/alice" key list --output json
check '[.[].role] == ["targets/releases"]' "$out" "Alice's trust directory: $out"
json 0 setsid -w "$VOUCH" -d "$SCRATCH/owner" key list --output json
check '([.[].role] | sort) == ["root", "targets"]' "$out" "the owner's trust directory: $out"
json 0 setsid -w "$VOUCH" key list --output json   # ~/.notary: Using vouch and the CI admin
check 'all(.[]; .role != "snapshot")' "$out" "the default trust directory: $out"
json 0 setsid -w "$VOUCH" -d "$SCRATCH/alice" -s "$URL" --tlscacert "$WORK/ca.pem" \
  lookup example.com/web v1 --output json
check '.role == "targets/releases"' "$out"

step "the policy's root_keys pin the owner's root key: a second repository under the prefix is admitted"
# The owner's next repository reuses the root key (as notary init does): a new root
# certificate, a new certificate ID, the same canonical ID as the README's policy pins.
owner() { setsid -w "$VOUCH" -d "$SCRATCH/owner" -s "$URL" --tlscacert "$WORK/ca.pem" "$@" </dev/null; }
run 0 owner init example.com/api -p
run 0 owner delegation add example.com/api targets/releases "$SCRATCH/alice.pem" --all-paths -p
run 0 setsid -w "$VOUCH" -d "$SCRATCH/alice" -s "$URL" --tlscacert "$WORK/ca.pem" \
  sign example.com/api:v1 --manifest "$SCRATCH/manifest.json" </dev/null
cert_id() { jq -r '.signed.roles.root.keyids[0]' "$SCRATCH/owner/tuf/$1/metadata/root.json"; }
WEB_CERT_ID=$(cert_id example.com/web)
[ "$WEB_CERT_ID" != "$(cert_id example.com/api)" ] || fail "one root certificate for two repositories"
if grep -qF "root_keys: [$WEB_CERT_ID]" "$SCRATCH/policy.yaml"; then fail "the README pins a certificate ID"; fi
verify_image() { (cd "$SCRATCH" && setsid -w "$VOUCH" verify-image "$@" </dev/null); }
run 0 verify_image example.com/api:v1 --policy policy.yaml
expect_in "DECISION   allow (signed)" "$out"
step "a root certificate ID pins its one repository; a wrong pin's error names root_keys"
sed -E "s/root_keys: \[[0-9a-f]{64}\]/root_keys: [$WEB_CERT_ID]/" "$SCRATCH/policy.yaml" >"$SCRATCH/cert-pin.yaml"
grep -qF "root_keys: [$WEB_CERT_ID]" "$SCRATCH/cert-pin.yaml" || fail "no root_keys line to replace"
run 0 verify_image example.com/web:v1 --policy cert-pin.yaml
expect_in "DECISION   allow (signed)" "$out"
run 2 verify_image example.com/api:v1 --policy cert-pin.yaml
expect_in 'root_keys of the trust section for "example.com"' "$out"
expect_not_in "config entry" "$out"

step "Signing from CI: the pipeline in a fresh shell, with its own trust directory"
ROOT_CERT_ID=$(tail -1 "$WORK/ci-admin.out")
[[ "$ROOT_CERT_ID" =~ ^[0-9a-f]{64}$ ]] || fail "the admin's block printed no root ID: $(cat "$WORK/ci-admin.out")"
PIPE="$WORK/pipeline"
mkdir -p "$PIPE/ci" "$WORK/runner"
cp "$WORK/ca.pem" "$PIPE/ci/ca.pem"
block ci-config | sed -e "s#https://notary.example.com:4443#$URL#" \
  -e "s#<root certificate ID>#$ROOT_CERT_ID#" >"$PIPE/ci/config.json"
jq -e . "$PIPE/ci/config.json" >/dev/null || fail "the README's config.json is not JSON"
block ci-pipeline | adapt >"$WORK/pipeline.sh"
printf '{"schemaVersion": 2, "build": 42}' >"$PIPE/manifest.json"
DIGEST="sha256:$(sha256sum "$PIPE/manifest.json" | cut -d' ' -f1)"
SIZE=$(wc -c <"$PIPE/manifest.json" | tr -d ' ')
run 0 env -u VOUCH_ROOT_PASSPHRASE -u VOUCH_TARGETS_PASSPHRASE -u VOUCH_DELEGATION_PASSPHRASE \
  PATH="$REPO/build-release/cli:$PATH" CI_KEY_PASSPHRASE="$VOUCH_DELEGATION_PASSPHRASE" \
  CI_KEY_FILE="$SCRATCH/ci-key.pem" RUNNER_TEMP="$WORK/runner" TAG=1.0.42 DIGEST="$DIGEST" \
  SIZE="$SIZE" bash -c "cd '$PIPE' && setsid -w bash '$WORK/pipeline.sh' </dev/null"
expect_in "Successfully signed registry.example.com/team/app:1.0.42" "$out"
json 0 setsid -w "$VOUCH" -d "$WORK/reader" -s "$URL" --tlscacert "$WORK/ca.pem" \
  lookup registry.example.com/team/app 1.0.42 --output json
check ".digest == \"${DIGEST#sha256:}\" and .role != \"targets\"" "$out"   # a delegation signed it

step "the README's exit code table is the one vouch --help prints"
run 0 "$VOUCH" --help
help_rows=$(sed -n 's/^  \([0-4]\)  \(.*\)$/\1|\2/p' <<<"$out")
[ "$(wc -l <<<"$help_rows")" = 5 ] || fail "vouch --help lists no exit codes: $out"
while IFS='|' read -r code meaning; do
  grep -qF -- "| $code | $meaning" "$README" || fail "README's exit code $code does not read \"$meaning\""
done <<<"$help_rows"

step "no passphrase was ever printed"
for secret in "$VOUCH_ROOT_PASSPHRASE" "$VOUCH_TARGETS_PASSPHRASE" "$VOUCH_DELEGATION_PASSPHRASE"; do
  if grep -qF -- "$secret" "$LOG"; then fail "a passphrase appeared in vouch's output"; fi
done

step "Accounts: a server with accounts as make run starts it; the walkthrough as one shell"
vouch_stop
ADMIN_PASSWORD="readme-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$ADMIN_PASSWORD" >"$REPO/.vouch-run/admin-password"
chmod 600 "$REPO/.vouch-run/admin-password"
cat >"$WORK/accounts.json" <<'JSON'
{"auth": {"type": "accounts"},
 "accounts": {"password_memory_kib": 1024, "password_iterations": 1}}
JSON
VOUCH_DB_PATH="$WORK/accounts-db" VOUCH_AUTH_ARGS="--config $WORK/accounts.json" \
  VOUCH_BOOTSTRAP_ADMIN="admin:$ADMIN_PASSWORD" vouch_start "127.0.0.1:$(free_port)"
{
  echo 'set -euo pipefail'
  echo 'shopt -s expand_aliases'
  echo "URL='$URL'"
  echo '__expect_exit() { [ "$2" = "$1" ] || { echo "README: expected exit $1, got $2: $3" >&2; exit 1; }; }'
  block accounts | adapt
  echo "printf '%s\n' \"\$PWD\" >'$WORK/accounts-dir'"
  block admission-roster-1 | adapt
  block admission-roster-2 | adapt
  block admission-roster-3 | adapt
} >"$WORK/accounts.sh"
run 0 bash -c "cd '$REPO' && setsid -w bash '$WORK/accounts.sh' </dev/null"
expect_in "Login Succeeded" "$out"
expect_in "Successfully signed example.com/acme/app:v2" "$out"
expect_in "Registered ecdsa key" "$out"   # Alice's key generate, logged in
grep -qE '^ops +[0-9a-f]{64} +alice \(acme/ops\)' <<<"$out" ||
  fail "the admin's inspect does not name alice (acme/ops) for the signer ops"
# Admission control steps 1-3, teams from the signed roster (continued in the same shell):
# v1 is admitted as signed by a member of acme/ops, v2 (the pipeline's key, no member's)
# denied, with the reason naming the team.
expect_in "Successfully published changes for repository example.com/_roster/acme" "$out"
expect_in "DECISION   allow (signed)" "$out"
expect_in "signed by alice (acme/ops) in targets/ops" "$out"
expect_in "DECISION   deny (requirements_not_met)" "$out"
expect_in 'requires a signature from team acme/ops, and no member of it signed tag v2 of example.com/acme/app' "$out"
expect_in "which belong to no member of the policy" "$out"
ACCOUNTS_DIR=$(cat "$WORK/accounts-dir")
json 0 setsid -w "$VOUCH" -d "$ACCOUNTS_DIR/alice" -s "$URL" --tlscacert "$WORK/ca.pem" \
  lookup example.com/acme/app v2 --output json </dev/null
check '.role == "targets/ci"' "$out"   # the pipeline's delegation signed it
[ ! -e "$ACCOUNTS_DIR/ci-trust/credentials.json" ] || fail "the pipeline's logout left its login"
for secret in "$ADMIN_PASSWORD" "$(cat "$ACCOUNTS_DIR/ci-token")"; do
  if grep -qF -- "$secret" "$LOG"; then fail "a password or token appeared in vouch's output"; fi
done

step "stop vouch-server"
vouch_stop
echo "PASS"
