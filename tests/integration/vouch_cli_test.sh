#!/usr/bin/env bash
# Integration: the real `vouch` CLI against a real vouch-server over HTTPS with RocksDB storage,
# as people and CI pipelines use it.
#
#   vouch_cli_test.sh <path to vouch-server> <path to vouch>
#
# Every step checks what vouch printed and its exit code (0 ok, 1 usage or configuration, 2
# denied or refused by content, 3 transient, 4 keys or credentials; README "Exit codes"), and
# where vouch prints little, the metadata the server serves. vouch runs under `setsid`,
# without a controlling terminal, as in CI: a passphrase it cannot find in the environment
# must fail at once, never hang on a prompt. The script ends only the server it started and
# removes its temporary directory (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary>}
for tool in openssl curl jq setsid sha256sum; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source=../interop/lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib_vouch_server.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# Test passphrases (throwaway keys). Every output is kept in $LOG; none may show them.
export VOUCH_ROOT_PASSPHRASE=cli-test-root-pass
export VOUCH_TARGETS_PASSPHRASE=cli-test-targets-pass
export VOUCH_SNAPSHOT_PASSPHRASE=cli-test-snapshot-pass
export VOUCH_DELEGATION_PASSPHRASE=cli-test-delegation-pass
unset NOTARY_ROOT_PASSPHRASE NOTARY_TARGETS_PASSPHRASE NOTARY_SNAPSHOT_PASSPHRASE \
  NOTARY_DELEGATION_PASSPHRASE DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE \
  DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE VOUCH_NEW_PASSPHRASE VOUCH_KEY_FORMAT NOTARY_AUTH

# vouch <trust dir name> <args...>: the CLI against the test server, without a terminal.
vouch() {
  local dir=$1; shift
  setsid -w "$VOUCH" -d "$WORK/$dir" -s "$URL" --tlscacert "$WORK/ca.pem" "$@"
}
served() { curl -sf --cacert "$WORK/ca.pem" "$URL/v2/$1/_trust/tuf/$2.json"; }
version_of() { served "$1" "$2" | jq -r .signed.version; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

GUN=example.com/vouch/cli

step "TLS certificates, vouch-server (RocksDB, embedded key store)"
vouch_make_tls
vouch_start

step "usage errors exit 1"
run 1 vouch t1 --no-such-flag list "$GUN"
run 1 vouch t1 add "$GUN" only-a-name
expect_in "Must specify a GUN, target, and path to target data" "$out"

step "a server that does not answer: exit 3"
rc=0; out=$(setsid -w "$VOUCH" -d "$WORK/t-offline" -s https://127.0.0.1:1 list "$GUN" 2>&1) || rc=$?
[ "$rc" = 3 ] || fail "unreachable server: expected exit 3, got $rc: $out"
expect_in "* fatal:" "$out"

step "a repository the server does not have: exit 2 (no trust data)"
run 2 vouch t1 list "$GUN"

step "a passphrase that is not in the environment, and no terminal: exit 4 at once, naming the variable"
rc=0
out=$(env -u VOUCH_ROOT_PASSPHRASE setsid -w "$VOUCH" -d "$WORK/t-nopass" -s "$URL" \
  --tlscacert "$WORK/ca.pem" init "$GUN" 2>&1 </dev/null) || rc=$?
[ "$rc" = 4 ] || fail "missing passphrase: expected exit 4, got $rc: $out"
expect_in "VOUCH_ROOT_PASSPHRASE" "$out"

step "init -p"
run 0 vouch t1 init "$GUN" -p
expect_in "Auto-publishing changes to $GUN" "$out"
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 vouch t1 list "$GUN"
expect_in "No targets present in this repository." "$out"
run 1 vouch t1 init "$GUN"   # the server has it already
expect_in "already exists" "$out"

step "init --rootkey --rootcert: a root key and certificate made with openssl (PKCS#8 PBES2)"
GUN2=example.com/vouch/cli-own-root
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/own-root.key" 2>/dev/null
openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA1 -in "$WORK/own-root.key" \
  -passout "pass:$VOUCH_ROOT_PASSPHRASE" -out "$WORK/own-root-enc.key"
# (-subj separates fields with '/': the GUN's own slashes are escaped.)
openssl req -x509 -key "$WORK/own-root.key" -sha256 -days 30 -subj "/CN=${GUN2//\//\\/}" \
  -out "$WORK/own-root.crt" 2>/dev/null
chmod 600 "$WORK/own-root.key" "$WORK/own-root-enc.key"
run 0 vouch t6 init "$GUN2" --rootkey "$WORK/own-root-enc.key" --rootcert "$WORK/own-root.crt" -p
OWN_ROOT_ID=$(sed -n 's/^Root key found, using: \([0-9a-f]\{64\}\)$/\1/p' <<<"$out")
[ -n "$OWN_ROOT_ID" ] || fail "no root key ID in: $out"
expect_in "Successfully published changes for repository $GUN2" "$out"
json 0 vouch t6 key list --output json
check "[.[] | select(.role == \"root\") | .key_id] == [\"$OWN_ROOT_ID\"]" "$out"
# root.json lists exactly that certificate (its PEM, base64) as the root key.
served "$GUN2" root | jq -r '.signed.keys[.signed.roles.root.keyids[0]].keyval.public' |
  base64 -d | openssl x509 -noout -fingerprint -sha256 >"$WORK/listed.fp"
openssl x509 -in "$WORK/own-root.crt" -noout -fingerprint -sha256 >"$WORK/own.fp"
cmp -s "$WORK/listed.fp" "$WORK/own.fp" || fail "root.json does not list the --rootcert certificate"
# Global flags after the command, as notary (cobra) allows them.
run 0 setsid -w "$VOUCH" list "$GUN2" -d "$WORK/t6" -s "$URL" --tlscacert "$WORK/ca.pem"
expect_in "No targets present in this repository." "$out"

step "add, addhash, status, publish, list, lookup"
printf 'first payload\n' >"$WORK/one.txt"
printf 'second payload, longer\n' >"$WORK/two.txt"
printf '{"team": "cli", "build": 7}' >"$WORK/custom.json"
ONE_SHA=$(sha256 "$WORK/one.txt"); TWO_SHA=$(sha256 "$WORK/two.txt")
run 0 vouch t1 add "$GUN" v1 "$WORK/one.txt" --custom "$WORK/custom.json"
expect_in "Addition of target \"v1\" to repository \"$GUN\" staged for next publish." "$out"
run 0 vouch t1 addhash "$GUN" v2 "$(size "$WORK/two.txt")" --sha256 "$TWO_SHA"
expect_in "Addition of target \"v2\" by sha256 hash to repository \"$GUN\" staged for next publish." "$out"
run 1 vouch t1 addhash "$GUN" v3 10 --sha256 abcd
expect_in "invalid sha256 hex contents provided" "$out"
run 0 vouch t1 status "$GUN"
expect_in "Unpublished changes for $GUN:" "$out"
expect_in "#    ACTION    SCOPE      TYPE      PATH" "$out"
json 0 vouch t1 status "$GUN" --output json
check 'length == 2 and .[0].path == "v1" and .[1].path == "v2" and .[0].action == "create"' "$out"
run 0 vouch t1 publish "$GUN"
expect_in "Pushing changes to $GUN" "$out"
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 vouch t1 list "$GUN"
expect_in "NAME    DIGEST" "$out"
expect_in "v1      $ONE_SHA    14              targets" "$out"
json 0 vouch t1 list "$GUN" --output json
check "length == 2 and .[0].name == \"v1\" and .[0].digest == \"$ONE_SHA\" and .[0].size == 14
       and .[0].custom == {\"build\": 7, \"team\": \"cli\"} and .[1].digest == \"$TWO_SHA\"
       and (.[1].hashes | keys) == [\"sha256\"] and .[0].role == \"targets\"" "$out"
run 0 vouch t1 lookup "$GUN" v2
[ "$out" = "v2 sha256:$TWO_SHA 23" ] || fail "lookup: $out"
json 0 vouch t1 lookup "$GUN" v1 --output json
check ".name == \"v1\" and .size == 14 and (.signers | length) == 1" "$out"
run 2 vouch t1 lookup "$GUN" no-such-target

step "status and reset"
run 0 vouch t1 remove "$GUN" v1
expect_in "Removal of v1 from $GUN staged for next publish." "$out"
run 0 vouch t1 add "$GUN" v3 "$WORK/two.txt"
json 0 vouch t1 status "$GUN" --output json
check 'length == 2 and .[0].action == "delete" and .[1].path == "v3"' "$out"
run 1 vouch t1 reset "$GUN"
expect_in "Must specify changes to reset with -n or the --all flag" "$out"
run 0 vouch t1 reset "$GUN" -n 0
expect_in "Successfully reset specified changes for repository $GUN" "$out"
json 0 vouch t1 status "$GUN" --output json
check 'length == 1 and .[0].path == "v3"' "$out"
run 0 vouch t1 reset "$GUN" --all
run 0 vouch t1 status "$GUN"
expect_in "No unpublished changes for $GUN" "$out"

step "a broken change file: a WARN line from the library, and -D debug output"
mkdir -p "$WORK/t1/tuf/$GUN/changelist"
printf 'not json' >"$WORK/t1/tuf/$GUN/changelist/00000000000000000001_broken.change"
run 0 vouch t1 -D publish "$GUN"
expect_in "WARN [client] changelist:" "$out"
expect_in "DEBUG [" "$out"
run 0 vouch t1 reset "$GUN" --all

step "verify: content that matches passes through (exit 0); other content is refused (exit 2)"
rc=0; setsid -w "$VOUCH" -d "$WORK/t1" -s "$URL" --tlscacert "$WORK/ca.pem" verify "$GUN" v1 \
  <"$WORK/one.txt" >"$WORK/verified.txt" 2>>"$LOG" || rc=$?
[ "$rc" = 0 ] || fail "verify of matching content exited $rc"
cmp -s "$WORK/one.txt" "$WORK/verified.txt" || fail "verify did not pass the content through"
run 0 vouch t1 verify "$GUN" v1 -i "$WORK/one.txt" -o "$WORK/verified2.txt"
cmp -s "$WORK/one.txt" "$WORK/verified2.txt" || fail "verify -o"
run 0 vouch t1 verify "$GUN" v1 -q -i "$WORK/one.txt"
[ -z "$out" ] || fail "verify -q printed: $out"
rc=0; out=$(setsid -w "$VOUCH" -d "$WORK/t1" -s "$URL" --tlscacert "$WORK/ca.pem" verify "$GUN" v1 \
  <"$WORK/two.txt" 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "verify of other content: expected exit 2, got $rc: $out"
expect_in "data not present in the trusted collection" "$out"
expect_not_in "second payload" "$out"
printf 'first payloaD\n' >"$WORK/one-bad.txt"   # same length, one byte differs
run 2 vouch t1 verify "$GUN" v1 -i "$WORK/one-bad.txt"
run 2 vouch t1 verify "$GUN" no-such-target -i "$WORK/one.txt"

step "a second trust directory trusts the repository on first use and sees the same targets"
json 0 vouch t2 list "$GUN" --output json
check "[.[].name] == [\"v1\", \"v2\"] and .[0].digest == \"$ONE_SHA\"" "$out"
[ -f "$WORK/t2/tuf/$GUN/metadata/root.json" ] || fail "t2 did not cache the root"

step "delegations: a CI key (key generate -o) into targets/releases and targets/ci"
run 0 vouch t1 key generate -r targets/ci -o "$WORK/ci"
CI_ID=$(sed -n 's/^Generated new ecdsa targets\/ci key with keyID: \([0-9a-f]\{64\}\)$/\1/p' <<<"$out")
[ -n "$CI_ID" ] || fail "no key ID in: $out"
[ -f "$WORK/ci.pem" ] && [ -f "$WORK/ci-key.pem" ] || fail "key generate -o wrote no files"
grep -q "BEGIN PUBLIC KEY" "$WORK/ci.pem" || fail "ci.pem is not a public key"
grep -q "PRIVATE KEY" "$WORK/ci-key.pem" || fail "ci-key.pem is not a private key"
run 0 vouch t1 key list
expect_not_in "$CI_ID" "$out"   # -o keeps it out of the trust directory
run 0 vouch t1 delegation add "$GUN" targets/releases "$WORK/ci.pem" --all-paths
expect_in "Addition of delegation role targets/releases with keys [$CI_ID], with paths [\"\" <all paths>], to repository \"$GUN\" staged for next publish." "$out"
run 0 vouch t1 delegation add "$GUN" targets/ci "$WORK/ci.pem" --paths "" -p
expect_in "Successfully published changes for repository $GUN" "$out"
run 0 vouch t1 delegation list "$GUN"
expect_in "ROLE                PATHS             KEY IDS" "$out"
expect_in "targets/ci          \"\" <all paths>    $CI_ID    1" "$out"
json 0 vouch t2 delegation list "$GUN" --output json
check "[.[].role] == [\"targets/ci\", \"targets/releases\"] and .[0].paths == [\"\"]
       and .[1].key_ids == [\"$CI_ID\"] and .[0].threshold == 1" "$out"

step "delegation add/remove/purge with an X.509 certificate and paths"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
  -subj "/CN=bob" -keyout "$WORK/bob.key" -out "$WORK/bob.crt" 2>/dev/null
run 0 vouch t1 delegation add "$GUN" targets/bob "$WORK/bob.crt" --paths bob/,shared/ -p
BOB_ID=$(sed -n 's/.*with keys \[\([0-9a-f]\{64\}\)\].*/\1/p' <<<"$out")
[ -n "$BOB_ID" ] || fail "no key ID in: $out"
json 0 vouch t1 delegation list "$GUN" --output json
check "(.[] | select(.role == \"targets/bob\") | .paths) == [\"bob/\", \"shared/\"]" "$out"
run 0 vouch t1 delegation remove "$GUN" targets/bob --paths shared/ -p
expect_in "Removal of delegation role targets/bob with paths [shared/], to repository \"$GUN\" staged for next publish." "$out"
json 0 vouch t1 delegation list "$GUN" --output json
check "(.[] | select(.role == \"targets/bob\") | .paths) == [\"bob/\"]" "$out"
run 0 vouch t1 delegation purge "$GUN" --key "$BOB_ID" -p
expect_in "Removal of the following keys from all delegations in $GUN staged for next publish:" "$out"
json 0 vouch t1 delegation list "$GUN" --output json
check "(.[] | select(.role == \"targets/bob\") | .key_ids) == []" "$out"
run 0 vouch t1 delegation remove "$GUN" targets/bob -y -p
expect_in "Forced removal (including all keys and paths) of delegation role targets/bob" "$out"
json 0 vouch t1 delegation list "$GUN" --output json
check '[.[].role] == ["targets/ci", "targets/releases"]' "$out"

step "key rotate snapshot -r: the server signs snapshots, so delegates can publish alone"
OLD_ROOT=$(version_of "$GUN" root)
run 0 vouch t1 key rotate "$GUN" snapshot -r
expect_in "Successfully rotated snapshot key for repository $GUN" "$out"
[ "$(version_of "$GUN" root)" = $((OLD_ROOT + 1)) ] || fail "root not re-published"

step "CI: import the delegation key once, passphrase from the environment, sign twice"
run 0 vouch ci key import "$WORK/ci-key.pem"
json 0 vouch ci key list --output json
check "length == 1 and .[0].key_id == \"$CI_ID\" and .[0].role == \"targets/ci\"" "$out"
printf '{"schemaVersion": 2, "layers": []}' >"$WORK/manifest.json"
M_SHA=$(sha256 "$WORK/manifest.json"); M_SIZE=$(size "$WORK/manifest.json")
run 0 vouch ci sign "$GUN:1.0" --digest "sha256:$M_SHA" --size "$M_SIZE"
expect_in "Signing and pushing trust data for $GUN:1.0 into targets/ci, targets/releases" "$out"
expect_in "Successfully signed $GUN:1.0" "$out"
CI_VERSION=$(version_of "$GUN" targets/ci)
run 0 vouch ci sign "$GUN:1.0" --manifest "$WORK/manifest.json"
expect_in "already signed" "$out"
expect_not_in "Successfully published" "$out"
[ "$(version_of "$GUN" targets/ci)" = "$CI_VERSION" ] || fail "an idempotent sign published"
run 1 vouch ci sign "$GUN:1.0"
run 1 vouch ci sign "$GUN" --manifest "$WORK/manifest.json"
run 0 vouch t2 lookup "$GUN" 1.0
[ "$out" = "1.0 sha256:$M_SHA $M_SIZE" ] || fail "lookup of the signed tag: $out"

step "CI: the passphrase from --passphrase-file; a wrong one fails at once with exit 4"
printf '%s\n' "$VOUCH_DELEGATION_PASSPHRASE" >"$WORK/ci-pass"
printf 'not the passphrase\n' >"$WORK/wrong-pass"
chmod 600 "$WORK/ci-pass" "$WORK/wrong-pass"
run 0 env -u VOUCH_DELEGATION_PASSPHRASE setsid -w "$VOUCH" -d "$WORK/ci" -s "$URL" \
  --tlscacert "$WORK/ca.pem" --passphrase-file "$WORK/ci-pass" \
  sign "$GUN:1.0-rc" --manifest "$WORK/manifest.json"
expect_in "Successfully signed $GUN:1.0-rc" "$out"
run 4 env -u VOUCH_DELEGATION_PASSPHRASE setsid -w "$VOUCH" -d "$WORK/ci" -s "$URL" \
  --tlscacert "$WORK/ca.pem" --passphrase-file "$WORK/wrong-pass" \
  sign "$GUN:1.0-rc2" --manifest "$WORK/manifest.json"
run 0 vouch ci status "$GUN"   # the failed sign left nothing staged
expect_in "No unpublished changes for $GUN" "$out"

step "sign without a delegation key goes into targets (Repo Admin)"
printf '{"schemaVersion": 2, "admin": true}' >"$WORK/admin-manifest.json"
run 0 vouch t1 sign "$GUN:admin" --manifest "$WORK/admin-manifest.json"
expect_in "into targets" "$out"

step "inspect --output json, in docker trust inspect's shape"
json 0 vouch t2 inspect "$GUN:1.0" --output json
check "length == 1 and .[0].Name == \"$GUN:1.0\"
       and .[0].SignedTags == [{\"SignedTag\": \"1.0\", \"Digest\": \"$M_SHA\", \"Signers\": [\"ci\"]}]
       and .[0].Signers == [{\"Name\": \"ci\", \"Keys\": [{\"ID\": \"$CI_ID\"}]}]
       and ([.[0].AdministrativeKeys[].Name] == [\"Repository\", \"Root\"])" "$out"
json 0 vouch t2 inspect "$GUN" --output json
check '[.[0].SignedTags[].SignedTag] == ["1.0", "1.0-rc", "admin", "v1", "v2"]
       and (.[0].SignedTags[] | select(.SignedTag == "admin") | .Signers) == ["Repo Admin"]' "$out"
run 0 vouch t2 inspect "$GUN:1.0"
expect_in "SIGNED TAG    DIGEST" "$out"
expect_in "$M_SHA    ci" "$out"

step "verify-image: the verifier's decision from the CLI (0 admitted, 2 denied, 3 unreachable)"
policy() {  # $1: trust server URL
  jq -n --arg url "$1" --rawfile ca "$WORK/ca.pem" --rawfile ci "$WORK/ci.pem" '{
    version: 1,
    teams: {ci: {members: [{name: "ci-bot", keys: [$ci]}]}},
    trust: [{prefix: "example.com/vouch", server: $url, tls_ca: $ca, tofu: true}],
    rules: [{name: "cli", pattern: "example.com/vouch/cli:*", require: {"any-of": ["ci"]}}]}'
}
policy "$URL" >"$WORK/policy.json"
run 0 "$VOUCH" verify-image "$GUN:1.0" --policy "$WORK/policy.json"
expect_in "allow (signed)" "$out"
expect_in "$M_SHA" "$out"
json 0 "$VOUCH" verify-image "$GUN:1.0" --policy "$WORK/policy.json" --output json
check ".digest == \"sha256:$M_SHA\"" "$out"
run 2 "$VOUCH" verify-image "$GUN:admin" --policy "$WORK/policy.json"      # signed by targets only
run 2 "$VOUCH" verify-image "$GUN:1.0@sha256:$(printf '%064d' 0)" --policy "$WORK/policy.json"
run 2 "$VOUCH" verify-image docker.io/library/nginx --policy "$WORK/policy.json"  # no rule
policy "https://127.0.0.1:1" >"$WORK/policy-down.json"
run 3 "$VOUCH" verify-image "$GUN:1.0" --policy "$WORK/policy-down.json"
printf 'rules: [' >"$WORK/broken.yaml"
run 1 "$VOUCH" verify-image "$GUN:1.0" --policy "$WORK/broken.yaml"

step "verify-image exit codes: 1 for a policy that does not load (every problem named), 4 for missing credentials, 2 for a failed pin"
jq '.rules[0].require["any-of"] = ["nobody"] | .rules[0].mode = "loud"' "$WORK/policy.json"   >"$WORK/policy-unknown-team.json"
run 1 "$VOUCH" verify-image "$GUN:1.0" --policy "$WORK/policy-unknown-team.json"
expect_in "unknown team" "$out"
expect_in "rules[0].mode" "$out"
expect_not_in "more problem" "$out"
jq '.trust[0].credentials = {username: "ci", password_env: "VOUCH_TEST_UNSET_PASSWORD"}'   "$WORK/policy.json" >"$WORK/policy-credentials.json"
run 4 env -u VOUCH_TEST_UNSET_PASSWORD "$VOUCH" verify-image "$GUN:1.0"   --policy "$WORK/policy-credentials.json"
expect_in "VOUCH_TEST_UNSET_PASSWORD" "$out"
jq --arg id "$(printf '%064d' 0)" '.trust[0] |= (del(.tofu) | .root_keys = [$id])'   "$WORK/policy.json" >"$WORK/policy-mispinned.json"
run 2 "$VOUCH" verify-image "$GUN:1.0" --policy "$WORK/policy-mispinned.json"

step "verify-image prints its decision and reason once, on stdout"
rc=0
"$VOUCH" verify-image "$GUN:admin" --policy "$WORK/policy.json" >"$WORK/vi.out" 2>"$WORK/vi.err" || rc=$?
[ "$rc" = 2 ] || fail "verify-image of an unsigned tag: expected exit 2, got $rc"
[ "$(grep -c '^REASON ' "$WORK/vi.out")" = 1 ] || fail "no single REASON line: $(cat "$WORK/vi.out")"
[ ! -s "$WORK/vi.err" ] || fail "verify-image repeated itself on stderr: $(cat "$WORK/vi.err")"

step "witness: the CI re-signs targets/ci unchanged"
CI_VERSION=$(version_of "$GUN" targets/ci)
run 0 vouch ci witness "$GUN" targets/ci -p
expect_in "The following roles were successfully marked for witnessing on the next publish:" "$out"
[ "$(version_of "$GUN" targets/ci)" = $((CI_VERSION + 1)) ] || fail "witness did not re-sign targets/ci"
run 0 vouch t2 lookup "$GUN" 1.0

step "issue 12: a member signs into its delegation of a repository made by plain init, from a trust directory of its own"
TEAM=example.com/vouch/team
run 0 vouch owner init "$TEAM" -p </dev/null
run 0 vouch owner key generate -r targets/ci -o "$WORK/team-ci" </dev/null
run 0 vouch owner delegation add "$TEAM" targets/ci "$WORK/team-ci.pem" --all-paths -p </dev/null
expect_not_in "key rotate" "$out"
json 0 vouch owner key list --output json
check 'all(.[]; .role != "snapshot")' "$out" "init made a snapshot key: $out"
run 0 vouch member key import "$WORK/team-ci-key.pem" </dev/null
run 0 env -u VOUCH_ROOT_PASSPHRASE -u VOUCH_TARGETS_PASSPHRASE -u VOUCH_SNAPSHOT_PASSPHRASE \
  setsid -w "$VOUCH" -d "$WORK/member" -s "$URL" --tlscacert "$WORK/ca.pem" \
  sign "$TEAM:v1" --digest "sha256:$M_SHA" --size "$M_SIZE" </dev/null
expect_in "Successfully signed $TEAM:v1" "$out"
json 0 vouch t2 lookup "$TEAM" v1 --output json
check '.role == "targets/ci"' "$out"

step "init --local-snapshot (notary's way): delegation add says how to move the key, a member's sign fails with exit 4 saying why"
LOCAL=example.com/vouch/team-local
run 0 vouch owner init "$LOCAL" --local-snapshot -p </dev/null
json 0 vouch owner key list --output json
check 'any(.[]; .role == "snapshot")' "$out" "init --local-snapshot made no snapshot key: $out"
run 0 vouch owner delegation add "$LOCAL" targets/ci "$WORK/team-ci.pem" --all-paths -p </dev/null
expect_in "vouch key rotate $LOCAL snapshot -r" "$out"
run 4 env -u VOUCH_SNAPSHOT_PASSPHRASE setsid -w "$VOUCH" -d "$WORK/member" -s "$URL" \
  --tlscacert "$WORK/ca.pem" sign "$LOCAL:v1" --digest "sha256:$M_SHA" --size "$M_SIZE" </dev/null
expect_in "snapshot key is held by the repository owner" "$out"
expect_in "vouch key rotate $LOCAL snapshot -r" "$out"
run 0 vouch member status "$LOCAL"   # the refused sign left nothing staged
expect_in "No unpublished changes for $LOCAL" "$out"
run 0 vouch owner key rotate "$LOCAL" snapshot -r </dev/null
run 0 vouch owner delegation add "$LOCAL" targets/ci "$WORK/team-ci.pem" --all-paths </dev/null
expect_not_in "key rotate" "$out"   # the server holds the snapshot key now
run 0 vouch owner reset "$LOCAL" --all
run 0 env -u VOUCH_SNAPSHOT_PASSPHRASE setsid -w "$VOUCH" -d "$WORK/member" -s "$URL" \
  --tlscacert "$WORK/ca.pem" sign "$LOCAL:v1" --digest "sha256:$M_SHA" --size "$M_SIZE" </dev/null
expect_in "Successfully signed $LOCAL:v1" "$out"

step "key list, generate, export, import, passwd, remove"
run 0 vouch t1 key generate
ROOT2=$(sed -n 's/^Generated new ecdsa root key with keyID: \([0-9a-f]\{64\}\)$/\1/p' <<<"$out")
[ -n "$ROOT2" ] || fail "no key ID in: $out"
run 0 vouch t1 key list
expect_in "ROLE       GUN" "$out"   # roles root and targets: init left the snapshot key to the server
expect_in "$ROOT2" "$out"
run 0 vouch t1 key export --key "$ROOT2" -o "$WORK/root2.pem"
grep -q "BEGIN VOUCH ENCRYPTED PRIVATE KEY" "$WORK/root2.pem" || fail "export wrote no key"
run 0 vouch t4 key import "$WORK/root2.pem"
json 0 vouch t4 key list --output json
check "[.[].key_id] == [\"$ROOT2\"] and .[0].role == \"root\" and .[0].format == \"vouch\"" "$out"
VOUCH_NEW_PASSPHRASE=cli-test-new-pass run 0 vouch t4 key passwd "$ROOT2"
expect_in "Successfully updated passphrase for key ID: $ROOT2" "$out"
run 4 vouch t4 key export --key "$ROOT2"       # the old passphrase no longer opens it
VOUCH_ROOT_PASSPHRASE=cli-test-new-pass run 0 vouch t4 key export --key "$ROOT2" -o "$WORK/root2-new.pem"
run 4 vouch t4 key export --key "$(printf '%064d' 0)"
run 0 vouch t4 key remove "$ROOT2" -y
expect_in "Deleted $ROOT2 (role root)" "$out"
run 0 vouch t4 key list
expect_in "No signing keys found." "$out"
run 0 vouch t1 key remove "$ROOT2" </dev/null   # no answer: nothing removed
expect_in "Aborting action." "$out"
rc=0; out=$(echo yes | setsid -w "$VOUCH" -d "$WORK/t1" key remove "$ROOT2" 2>&1) || rc=$?
[ "$rc" = 0 ] || fail "key remove with yes on stdin: $rc $out"
expect_in "Deleted $ROOT2" "$out"
run 1 vouch t1 key remove not-a-key-id
expect_in "invalid key ID provided: not-a-key-id" "$out"

step "--key-format notary: keys the notary CLI reads"
run 0 vouch t1 --key-format notary key generate -r targets/nf -o "$WORK/nf"
grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$WORK/nf-key.pem" || fail "not a notary-format key file"
run 0 vouch t5 --key-format notary key import "$WORK/nf-key.pem"
json 0 vouch t5 key list --output json
check '.[0].format == "notary" and .[0].role == "targets/nf"' "$out"
if command -v notary >/dev/null; then
  NF_ID=$(jq -r '.[0].key_id' <<<"$out")
  run 0 vouch t5 --key-format notary key export --key "$NF_ID" -o "$WORK/nf-export.pem"
  run 0 env NOTARY_DELEGATION_PASSPHRASE="$VOUCH_DELEGATION_PASSPHRASE" \
    notary -d "$WORK/t-notary" key import "$WORK/nf-export.pem"
  run 0 notary -d "$WORK/t-notary" key list
  expect_in "$NF_ID" "$out"
  run 0 notary -d "$WORK/t5" key list   # vouch's notary-format trust directory, read by notary
  expect_in "$NF_ID" "$out"
fi

step "key rotate targets and root; the TOFU client follows"
run 0 vouch t1 key rotate "$GUN" targets
expect_in "Successfully rotated targets key for repository $GUN" "$out"
OLD_ROOT=$(version_of "$GUN" root)
run 0 vouch t1 key rotate "$GUN" root </dev/null   # no answer: nothing rotated
expect_in "Aborting action." "$out"
[ "$(version_of "$GUN" root)" = "$OLD_ROOT" ] || fail "root rotated without confirmation"
run 0 vouch t1 key rotate "$GUN" root -y
expect_in "Successfully rotated root key for repository $GUN" "$out"
[ "$(version_of "$GUN" root)" = $((OLD_ROOT + 1)) ] || fail "root not rotated"
json 0 vouch t2 list "$GUN" --output json
check '[.[].name] == ["1.0", "1.0-rc", "admin", "v1", "v2"]' "$out"
run 0 vouch t1 -v add "$GUN" after-rotation "$WORK/one.txt" -p   # -v: progress as plain lines
expect_in "uploading" "$out"
run 0 vouch t2 lookup "$GUN" after-rotation
run 0 vouch ci sign "$GUN:1.1" --manifest "$WORK/admin-manifest.json"

step "delete --remote, then init again"
run 0 vouch t1 delete "$GUN" --remote
expect_in "Deleting trust data for repository $GUN" "$out"
expect_in "Successfully deleted local and remote trust data for repository $GUN" "$out"
served "$GUN" root >/dev/null && fail "the server still serves $GUN"
[ ! -e "$WORK/t1/tuf/$GUN/metadata/root.json" ] || fail "local cache not deleted"
run 0 vouch t1 init "$GUN" -p
expect_in "Root key found, using:" "$out"
run 0 vouch t1 list "$GUN"
expect_in "No targets present in this repository." "$out"

step "config.json: server, CA and trust dir from the file; trust pinning by root certificate ID"
ROOT_CERT_ID=$(served "$GUN" root | jq -r '.signed.roles.root.keyids[0]')
jq -n --arg url "$URL" --arg gun "$GUN" --arg id "$ROOT_CERT_ID" \
  '{trust_dir: "t-pinned", remote_server: {url: $url, root_ca: "ca.pem"},
    trust_pinning: {certs: {($gun): [$id]}}}' >"$WORK/config.json"
jq -n --arg url "$URL" --arg gun "$GUN" --arg id "$(printf '%064d' 0)" \
  '{trust_dir: "t-mispinned", remote_server: {url: $url, root_ca: "ca.pem"},
    trust_pinning: {certs: {($gun): [$id]}}}' >"$WORK/config-wrong.json"
run 0 setsid -w "$VOUCH" -c "$WORK/config.json" list "$GUN"
expect_in "No targets present in this repository." "$out"
[ -f "$WORK/t-pinned/tuf/$GUN/metadata/root.json" ] || fail "trust_dir from config.json not used"
run 2 setsid -w "$VOUCH" -c "$WORK/config-wrong.json" list "$GUN"
run 1 setsid -w "$VOUCH" -c "$WORK/no-such-config.json" list "$GUN"

step "no passphrase was ever printed"
for secret in "$VOUCH_ROOT_PASSPHRASE" "$VOUCH_TARGETS_PASSPHRASE" "$VOUCH_SNAPSHOT_PASSPHRASE" \
  "$VOUCH_DELEGATION_PASSPHRASE" cli-test-new-pass; do
  if grep -qF -- "$secret" "$LOG"; then fail "a passphrase appeared in vouch's output"; fi
done

step "stop vouch-server"
vouch_stop
echo "PASS"
