#!/usr/bin/env bash
# Integration: members' signing keys (issue 14 item 7) walked as separate people against the
# real vouch-server with accounts, each with a trust directory of their own and no terminal
# (setsid, stdin not a tty):
#   - the admin makes organization acme, team acme/ops with alice, and users bob and dave;
#   - alice logs in and runs `vouch key generate` (registered at once), lists and re-registers
#     it; a key generated to files (-o) is not registered, but a certificate of it is, with
#     --cert, once the key is imported;
#   - the admin makes example.com/acme/app and delegates targets/ops to alice by name
#     (`delegation add --member alice`), and publishes; alice signs a tag;
#   - bob (logged in, in no team) sees `alice (acme/ops)` for the signer in `vouch inspect`
#     and `vouch delegation list` (table and --output json); carol, not logged in, sees the
#     bare IDs of notary's output, without an error;
#   - a member without keys cannot be delegated to; a failed registration (dave, disabled after
#     logging in) is a warning and the key is kept; unregister removes a registration.
#
#   vouch_member_keys_cli_test.sh <path to vouch-server> <path to vouch>
#
# It ends only the server it started and removes its temporary directory
# (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary> <vouch binary>}
VOUCH=${2:?usage: $0 <vouch-server binary> <vouch binary>}
for tool in openssl curl jq setsid; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source=../interop/lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/../interop/lib_vouch_server.sh"
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
unset NOTARY_AUTH VOUCH_KEY_FORMAT

ADMIN_PASSWORD=admin-Pa55-word-for-the-test
ALICE_PASSWORD=alice-Pa55-word-for-the-test
BOB_PASSWORD=bob-Pa55-word-for-the-test
DAVE_PASSWORD=dave-Pa55-word-for-the-test
export VOUCH_ROOT_PASSPHRASE=keys-root-pass
export VOUCH_TARGETS_PASSPHRASE=keys-targets-pass
export VOUCH_DELEGATION_PASSPHRASE=keys-delegation-pass
export VOUCH_TARGETS_RELEASES_PASSPHRASE=keys-delegation-pass

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
# login <person> <password>
login() {
  printf '%s' "$2" | setsid -w "$VOUCH" -d "$WORK/$1" -s "$URL" --tlscacert "$WORK/ca.pem" \
    login --username "$1" --password-stdin >/dev/null
}

step "the admin: organization acme, team acme/ops with alice, users bob and dave"
login admin "$ADMIN_PASSWORD"
for u in alice bob dave; do
  pw_var="$(tr '[:lower:]' '[:upper:]' <<<"$u")_PASSWORD"
  printf '%s' "${!pw_var}" | setsid -w "$VOUCH" -d "$WORK/admin" -s "$URL" \
    --tlscacert "$WORK/ca.pem" admin user create "$u" --password-stdin >/dev/null
done
run 0 as admin admin org create acme
run 0 as admin admin member add acme alice
run 0 as admin admin team create acme/ops
run 0 as admin admin team add-member acme/ops alice
run 0 as admin admin grant set example.com/acme/app --team acme/ops --permission read-write

step "alice logs in; key generate registers the key with the server"
login alice "$ALICE_PASSWORD"
run 0 as alice key registered        # none yet: the message, not an empty table
expect_in "No registered keys." "$out"
expect_not_in "KEY ID" "$out"
run 0 as alice key generate -r targets/ops
expect_in "Generated new ecdsa targets/ops key with keyID: " "$out"
KEY_ID=$(sed -n 's/.*with keyID: \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
[ -n "$KEY_ID" ] || fail "no key ID in: $out"
expect_in "Registered ecdsa key $KEY_ID with $URL as alice" "$out"
json 0 as alice key registered --output json
check "[.[].key_id] == [\"$KEY_ID\"] and .[0].owner == \"alice\"" "$out"
# Registering it again changes nothing; an unknown key is the trust directory's error.
run 0 as alice key register "$KEY_ID"
expect_in "Registered ecdsa key $KEY_ID" "$out"
run 4 as alice key register "$(printf '%064d' 0)"
run 1 as alice key register

step "a certificate of alice's key, registered with --cert, found by both IDs"
run 0 as alice --key-format notary key generate -r targets/ops -o "$WORK/cert-key"
CERT_PLAIN_ID=$(sed -n 's/.*with keyID: \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
expect_not_in "Registered" "$out"          # -o: a key for someone else is not registered
# openssl reads the encrypted PKCS#8 without notary's "role:" header.
grep -v '^role:' "$WORK/cert-key-key.pem" | sed '/^$/d' >"$WORK/cert-key.enc.pem"
openssl pkcs8 -in "$WORK/cert-key.enc.pem" -passin "pass:$VOUCH_DELEGATION_PASSPHRASE" \
  -out "$WORK/cert-key.plain.pem"
openssl req -new -x509 -key "$WORK/cert-key.plain.pem" -subj /CN=alice -days 30 \
  -out "$WORK/alice.crt" 2>/dev/null
rm -f "$WORK/cert-key.plain.pem"
run 0 as alice key import "$WORK/cert-key-key.pem"
run 0 as alice key register --cert "$WORK/alice.crt"
expect_in "Registered ecdsa-x509 key " "$out"
CERT_ID=$(sed -n 's/.*ecdsa-x509 key \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
[ "$CERT_ID" != "$CERT_PLAIN_ID" ] || fail "a certificate's ID is its plain key's"
login bob "$BOB_PASSWORD"
json 0 as bob key registered --member alice --output json
check "[.[].key_id] | sort == ([\"$KEY_ID\", \"$CERT_ID\"] | sort)" "$out"
check "[.[] | select(.key_id == \"$CERT_ID\") | .canonical_id] == [\"$CERT_PLAIN_ID\"]" "$out"
check "[.[] | select(.key_id == \"$CERT_ID\") | .expires != \"\"] == [true]" "$out"
# The plain form of a registered certificate's key is the same key.
run 0 as alice key unregister "$CERT_ID"
json 0 as bob key registered --member alice --output json
check "[.[].key_id] == [\"$KEY_ID\"]" "$out"

step "the admin delegates targets/ops to alice by name and publishes"
run 0 as admin init example.com/acme/app -p
run 1 as admin delegation add example.com/acme/app targets/ops --member bob --all-paths
expect_in "bob has no registered signing key" "$out"
run 2 as admin delegation add example.com/acme/app targets/ops --member nobody --all-paths
expect_in "user nobody not found" "$out"
run 0 as admin delegation add example.com/acme/app targets/ops --member alice --all-paths -p
expect_in "with keys [$KEY_ID]" "$out"

step "alice signs a tag with her registered key"
printf '{"schemaVersion": 2}' >"$WORK/manifest.json"
run 0 as alice sign example.com/acme/app:v1 --manifest "$WORK/manifest.json"
expect_in "Successfully signed example.com/acme/app:v1" "$out"
json 0 as alice lookup example.com/acme/app v1 --output json
check '.role == "targets/ops"' "$out"

step "bob, a third person, sees alice and her team beside the signer's key"
run 0 as admin admin grant set example.com/acme/app --user bob --permission read
run 0 as bob inspect example.com/acme/app
expect_in "SIGNER" "$out"
expect_in "MEMBERS" "$out"
grep -E "^ops +$KEY_ID +alice \(acme/ops\)" <<<"$out" >/dev/null ||
  fail "inspect does not name alice (acme/ops) for the signer: $out"
json 0 as bob inspect example.com/acme/app --output json
check ".[0].Signers[0].Keys[0] == {\"ID\": \"$KEY_ID\", \"Owner\": \"alice\", \"OwnerKind\": \"user\", \"Teams\": [\"acme/ops\"]}" "$out"
run 0 as bob delegation list example.com/acme/app
grep -E "^targets/ops .*$KEY_ID +1 +alice \(acme/ops\)" <<<"$out" >/dev/null ||
  fail "delegation list does not name alice (acme/ops): $out"
json 0 as bob delegation list example.com/acme/app --output json
check ".[0].members == [{\"key_id\": \"$KEY_ID\", \"owner\": \"alice\", \"kind\": \"user\", \"teams\": [\"acme/ops\"]}]" "$out"

step "carol, not logged in, sees notary's output with bare IDs, and no error"
run 0 as admin admin visibility set example.com/acme/app public
run 0 as carol inspect example.com/acme/app
expect_in "$KEY_ID" "$out"
expect_not_in "MEMBERS" "$out"
expect_not_in "alice" "$out"
json 0 as carol inspect example.com/acme/app --output json
check ".[0].Signers[0].Keys[0] == {\"ID\": \"$KEY_ID\"}" "$out"
run 0 as carol delegation list example.com/acme/app
expect_not_in "MEMBERS" "$out"

step "a registration that fails is a warning; the key is kept"
login dave "$DAVE_PASSWORD"
run 0 as admin admin user disable dave
run 0 as dave key generate -r targets/ops
expect_in "was generated but not registered" "$out"
DAVE_KEY=$(sed -n 's/.*with keyID: \([0-9a-f]\{64\}\).*/\1/p' <<<"$out")
json 0 as dave key list --output json
check "[.[].key_id] == [\"$DAVE_KEY\"]" "$out"

step "unregister: alice's key is no longer named"
run 4 as bob key unregister "$KEY_ID"                  # not bob's
run 0 as alice key unregister "$KEY_ID"
expect_in "Unregistered key $KEY_ID" "$out"
run 0 as bob inspect example.com/acme/app
expect_not_in "alice" "$out"

step "the audit log holds the registrations"
json 0 as admin admin audit list --output json
check '[.records[] | select(.action == "member_key_register")] | length >= 2' "$out"
check '[.records[] | select(.action == "member_key_delete")] | length >= 2' "$out"

step "no password was ever printed"
for secret in "$ADMIN_PASSWORD" "$ALICE_PASSWORD" "$BOB_PASSWORD" "$DAVE_PASSWORD"; do
  if grep -qF -- "$secret" "$LOG"; then fail "a password appeared in vouch's output"; fi
done

step "stop vouch-server"
vouch_stop
echo "PASS"
