#!/usr/bin/env bash
# Interop: the real notary 0.7 CLI (Debian package `notary`) against vouch-server over HTTPS,
# with RocksDB storage and the embedded encrypted key store, as a user would run it.
#
#   notary_cli_vs_vouch_server.sh <path to vouch-server>
#
# Every step checks what the notary CLI printed (and, where the CLI prints little, the metadata
# the server serves); the script fails on the first mismatch. It ends only the server it
# started, and removes its temporary directory (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
for tool in notary openssl curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

# (mawk, Debian's default awk, has no {n} intervals in regular expressions.)
# delegation_keys <`notary delegation list` output>: one "<role> <key ID>" line per key.
delegation_keys() {
  awk '$1 ~ /^targets\// {role = $1}
       {for (i = 1; i <= NF; i++) if (length($i) == 64 && $i ~ /^[0-9a-f]+$/) print role, $i}' <<<"$1" | sort
}
# listed <`notary list` output>: "<name> <sha256> <size>" per target, sorted.
listed() { awk 'NF == 4 && length($2) == 64 && $2 ~ /^[0-9a-f]+$/ {print $1, $2, $3}' <<<"$1" | sort; }

step "TLS certificates for 127.0.0.1"
vouch_make_tls

step "start vouch-server (RocksDB, embedded key store)"
vouch_start 127.0.0.1:0

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
export NOTARY_DELEGATION_PASSPHRASE=interop-delegation-pass
N1=(notary -d "$WORK/trust1" -s "$URL" --tlscacert "$WORK/ca.pem")
N2=(notary -d "$WORK/trust2" -s "$URL" --tlscacert "$WORK/ca.pem")
GUN=example.com/vouch/interop

step "init + publish"
out=$("${N1[@]}" init "$GUN" -p 2>&1) || fail "init: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N1[@]}" list "$GUN" 2>&1) || fail "list after init: $out"
expect_in "No targets present in this repository." "$out"

step "several targets, publish, list, lookup"
printf 'first payload\n' >"$WORK/one.txt"
printf 'second payload with more bytes\n' >"$WORK/two.txt"
ONE_SHA=$(sha256sum "$WORK/one.txt" | cut -d' ' -f1)
TWO_SHA=$(sha256sum "$WORK/two.txt" | cut -d' ' -f1)
out=$("${N1[@]}" add "$GUN" v1 "$WORK/one.txt")
expect_in "Addition of target \"v1\" to repository \"$GUN\" staged for next publish." "$out"
"${N1[@]}" add "$GUN" v2 "$WORK/two.txt" >/dev/null
out=$("${N1[@]}" status "$GUN")
expect_in "v1" "$out"; expect_in "v2" "$out"
out=$("${N1[@]}" publish "$GUN") || fail "publish: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N1[@]}" list "$GUN")
[ "$(listed "$out")" = "$(printf 'v1 %s 14\nv2 %s 31' "$ONE_SHA" "$TWO_SHA")" ] \
  || fail "list after publish:
$out"
out=$("${N1[@]}" lookup "$GUN" v2)
expect_in "v2 sha256:$TWO_SHA 31" "$out"

step "verify"
"${N1[@]}" verify "$GUN" v1 <"$WORK/one.txt" >"$WORK/verified.txt" || fail "verify v1"
cmp -s "$WORK/one.txt" "$WORK/verified.txt" || fail "verify did not pass the content through"
if "${N1[@]}" verify "$GUN" v1 <"$WORK/two.txt" >/dev/null 2>&1; then fail "verify accepted wrong content"; fi

step "a second client (TOFU) sees the same targets"
out=$("${N2[@]}" list "$GUN")
[ "$(listed "$out")" = "$(printf 'v1 %s 14\nv2 %s 31' "$ONE_SHA" "$TWO_SHA")" ] \
  || fail "second client list:
$out"

step "remove, status, reset"
"${N1[@]}" remove "$GUN" v1 >/dev/null
out=$("${N1[@]}" status "$GUN"); expect_in "delete" "$out"; expect_in "v1" "$out"
out=$("${N1[@]}" reset "$GUN" --all)
expect_in "Successfully reset specified changes for repository $GUN" "$out"
out=$("${N1[@]}" status "$GUN"); expect_in "No unpublished changes for $GUN" "$out"
out=$("${N1[@]}" remove "$GUN" v1 -p) || fail "remove -p: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N2[@]}" list "$GUN"); expect_not_in "v1" "$out"; expect_in "v2" "$out"

step "delegations: targets/releases and a user delegation with paths"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 365 \
  -subj "/CN=alice" -keyout "$WORK/alice.key" -out "$WORK/alice.crt" 2>/dev/null
out=$("${N1[@]}" delegation add "$GUN" targets/releases "$WORK/alice.crt" --all-paths)
ALICE_ID=$(sed -n 's/.*with keys \[\([0-9a-f]\{64\}\)\].*/\1/p' <<<"$out")
[ -n "$ALICE_ID" ] || fail "no key ID in: $out"
out=$("${N1[@]}" delegation add "$GUN" targets/alice "$WORK/alice.crt" --paths alice/ -p) \
  || fail "delegation publish: $out"
expect_in "Addition of delegation role targets/alice with keys [$ALICE_ID], with paths [alice/]" "$out"
out=$("${N1[@]}" delegation list "$GUN")
expect_in "targets/releases" "$out"; expect_in "targets/alice" "$out"; expect_in "alice/" "$out"
[ "$(delegation_keys "$out")" = "$(printf 'targets/alice %s\ntargets/releases %s' "$ALICE_ID" "$ALICE_ID")" ] \
  || fail "delegation keys:
$out"
"${N1[@]}" key import "$WORK/alice.key" -r targets/alice >/dev/null || fail "key import"
out=$("${N1[@]}" key list); expect_in "$ALICE_ID" "$out"
"${N1[@]}" add "$GUN" alice/tool "$WORK/two.txt" -r targets/alice -p >/dev/null \
  || fail "publish into targets/alice"
"${N1[@]}" add "$GUN" release-1 "$WORK/one.txt" -r targets/releases -p >/dev/null \
  || fail "publish into targets/releases"
out=$("${N2[@]}" list "$GUN")
expect_in "alice/tool" "$out"; expect_in "targets/alice" "$out"; expect_in "release-1" "$out"
# A target outside the delegation's paths is refused by the client before publishing; the
# server's own check is covered by the unit tests.
out=$("${N1[@]}" delegation remove "$GUN" targets/alice -y -p) || fail "delegation remove: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N2[@]}" list "$GUN"); expect_not_in "alice/tool" "$out"; expect_in "release-1" "$out"
out=$("${N1[@]}" delegation list "$GUN"); expect_not_in "targets/alice" "$out"

step "witness re-signs a delegation"
before=$(served "$GUN" targets/releases | jq .signed.version)
out=$("${N1[@]}" witness "$GUN" targets/releases -p) || fail "witness: $out"
expect_in "The following roles were successfully marked for witnessing on the next publish:" "$out"
expect_in "targets/releases" "$out"
expect_in "Successfully published changes for repository $GUN" "$out"
after=$(served "$GUN" targets/releases | jq .signed.version)
[ "$after" -eq $((before + 1)) ] || fail "targets/releases version $before -> $after after witness"
out=$("${N2[@]}" list "$GUN"); expect_in "release-1" "$out"

step "delegation purge: one key leaves every delegation"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 365 \
  -subj "/CN=bob" -keyout "$WORK/bob.key" -out "$WORK/bob.crt" 2>/dev/null
out=$("${N1[@]}" delegation add "$GUN" targets/releases "$WORK/bob.crt")
BOB_ID=$(sed -n 's/.*with keys \[\([0-9a-f]\{64\}\)\].*/\1/p' <<<"$out")
[ -n "$BOB_ID" ] || fail "no key ID in: $out"
out=$("${N1[@]}" delegation add "$GUN" targets/team "$WORK/alice.crt" "$WORK/bob.crt" \
  --paths team/ -p) || fail "delegation add targets/team: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
"${N1[@]}" add "$GUN" team/tool "$WORK/two.txt" -r targets/team -p >/dev/null \
  || fail "publish into targets/team"
out=$("${N1[@]}" delegation list "$GUN")
[ "$(delegation_keys "$out")" = "$(printf 'targets/releases %s\ntargets/releases %s\ntargets/team %s\ntargets/team %s' \
  "$ALICE_ID" "$BOB_ID" "$ALICE_ID" "$BOB_ID" | sort)" ] || fail "delegation keys before purge:
$out"
out=$("${N1[@]}" delegation purge "$GUN" --key "$ALICE_ID" -p) || fail "purge: $out"
expect_in "Removal of the following keys from all delegations in $GUN staged for next publish:" "$out"
expect_in "- $ALICE_ID" "$out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N1[@]}" delegation list "$GUN")
[ "$(delegation_keys "$out")" = "$(printf 'targets/releases %s\ntargets/team %s' "$BOB_ID" "$BOB_ID")" ] \
  || fail "delegation keys after purge:
$out"
served "$GUN" targets | jq -e --arg role targets/team \
  '.signed.delegations | (.keys | length) == 1 and (.roles[] | select(.name == $role) | .keyids | length) == 1' \
  >/dev/null || fail "served targets.json still lists the purged key"
# The delegations' own metadata is still signed by alice only, so a client no longer trusts it
# (Notary's client skips such a delegation with a warning) until bob re-signs it.
out=$("${N2[@]}" list "$GUN" 2>/dev/null)
expect_not_in "release-1" "$out"; expect_not_in "team/tool" "$out"; expect_in "v2" "$out"
"${N1[@]}" key import "$WORK/bob.key" -r targets/releases >/dev/null || fail "key import bob"
out=$("${N1[@]}" witness "$GUN" targets/releases targets/team -p) || fail "witness with bob: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N2[@]}" list "$GUN")
expect_in "release-1" "$out"; expect_in "team/tool" "$out"

step "key rotation: snapshot and timestamp to the server, targets by the client"
root_keys() { served "$GUN" root | jq -r --arg r "$1" '.signed.roles[$r].keyids | join(",")'; }
old_snapshot=$(root_keys snapshot); old_timestamp=$(root_keys timestamp); old_targets=$(root_keys targets)
out=$("${N1[@]}" key rotate "$GUN" snapshot -r) || fail "rotate snapshot -r: $out"
expect_in "Successfully rotated snapshot key for repository $GUN" "$out"
out=$("${N1[@]}" key rotate "$GUN" timestamp -r) || fail "rotate timestamp -r: $out"
expect_in "Successfully rotated timestamp key for repository $GUN" "$out"
# The root now names the keys the server holds (GET .../<role>.key answers its public key).
for role in snapshot timestamp; do
  server_key=$(curl -sf --cacert "$WORK/ca.pem" "$URL/v2/$GUN/_trust/tuf/$role.key") \
    || fail "GET $role.key"
  [ "$(root_keys "$role")" = "$(key_id "$server_key")" ] \
    || fail "root's $role key is not the server's: $(root_keys "$role") vs $(key_id "$server_key")"
done
[ "$(root_keys snapshot)" != "$old_snapshot" ] || fail "snapshot key did not change"
[ "$(root_keys timestamp)" != "$old_timestamp" ] || fail "timestamp key did not change"
out=$("${N1[@]}" key rotate "$GUN" targets) || fail "rotate targets: $out"
expect_in "Successfully rotated targets key for repository $GUN" "$out"
[ "$(root_keys targets)" != "$old_targets" ] || fail "targets key did not change"
out=$("${N1[@]}" add "$GUN" v3 "$WORK/one.txt" -p) || fail "publish after rotations: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$("${N2[@]}" list "$GUN"); expect_in "v3" "$out"; expect_in "release-1" "$out"

step "root rotation: a fresh client and the old client both follow"
old_root=$(served "$GUN" root | jq -c '{v: .signed.version, k: .signed.roles.root.keyids}')
# `key rotate ... root` asks for confirmation on stdin and aborts (with status 0) without it.
out=$(printf 'yes\n' | "${N1[@]}" key rotate "$GUN" root) || fail "rotate root: $out"
expect_in "Successfully rotated root key for repository $GUN" "$out"
new_root=$(served "$GUN" root)
jq -e --argjson old "$old_root" '.signed.version == $old.v + 1 and .signed.roles.root.keyids != $old.k
  and ([.signatures[].keyid] | contains($old.k))' <<<"$new_root" >/dev/null \
  || fail "root after rotation is not version+1 with a new key cross-signed by the old one"
out=$("${N2[@]}" list "$GUN") || fail "old client after root rotation: $out"
expect_in "v3" "$out"
cached=$(jq -c .signed.roles.root.keyids "$WORK/trust2/tuf/$GUN/metadata/root.json")
[ "$cached" = "$(jq -c .signed.roles.root.keyids <<<"$new_root")" ] \
  || fail "old client did not take the new root: $cached"
out=$(notary -d "$WORK/trust3" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN") \
  || fail "fresh client after root rotation"
expect_in "v3" "$out"
out=$("${N1[@]}" add "$GUN" v4 "$WORK/two.txt" -p) || fail "publish with the new root: $out"
out=$("${N2[@]}" list "$GUN"); expect_in "v4" "$out"

step "delete --remote, then init again"
out=$("${N1[@]}" delete "$GUN" --remote) || fail "delete --remote: $out"
expect_in "Successfully deleted local and remote trust data for repository $GUN" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$URL/v2/$GUN/_trust/tuf/root.json")
[ "$code" = 404 ] || fail "root.json after delete: HTTP $code"
out=$(notary -d "$WORK/trust3b" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN" 2>&1) \
  && fail "list of a deleted repository succeeded: $out"
expect_in "does not have trust data for $GUN" "$out"
out=$("${N1[@]}" init "$GUN" -p) || fail "re-init after delete: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$(notary -d "$WORK/trust3c" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN")
expect_in "No targets present in this repository." "$out"

step "a repository with 2,000 targets"
BIG=example.com/vouch/interop-big
out=$("${N1[@]}" init "$BIG" -p) || fail "init $BIG: $out"
# Target names pkg/0001..pkg/2000; each hash is the SHA-256 of a real payload file.
mkdir -p "$WORK/big"
for i in $(seq -w 1 2000); do printf 'payload %s\n' "$i" >"$WORK/big/$i"; done
(cd "$WORK/big" && sha256sum -- *) | awk '{print "pkg/" $2, $1, 13}' | sort >"$WORK/big.expected"
[ "$(wc -l <"$WORK/big.expected")" -eq 2000 ] || fail "expected list"
# The notary CLI stages one target per invocation and has no batch add; `addhash` stages
# without reading content or contacting the server, and each change is its own file with a
# unique name in the changelist, so several invocations can stage at once. One publish then
# signs all 2,000 in a single targets.json.
jobs=$(nproc 2>/dev/null || echo 2); [ "$jobs" -ge 2 ] || jobs=2; [ "$jobs" -le 4 ] || jobs=4
split -n "l/$jobs" -d "$WORK/big.expected" "$WORK/big.part."
stage_part() {
  local name digest size
  while read -r name digest size; do
    "${N1[@]}" addhash "$BIG" "$name" "$size" --sha256 "$digest" >/dev/null || return 1
  done <"$1"
}
started=$SECONDS
pids=()
for part in "$WORK"/big.part.*; do stage_part "$part" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid" || fail "addhash failed"; done
echo "staged 2,000 targets with $jobs parallel addhash streams in $((SECONDS - started)) s"
out=$("${N1[@]}" status "$BIG")
[ "$(awk '$2 == "create" && $4 == "target" {print $5}' <<<"$out" | sort)" = "$(cut -d' ' -f1 "$WORK/big.expected")" ] \
  || fail "status does not show the 2,000 staged targets"
started=$SECONDS
out=$("${N1[@]}" publish "$BIG") || fail "publish 2,000 targets: $out"
expect_in "Successfully published changes for repository $BIG" "$out"
echo "published in $((SECONDS - started)) s"
out=$("${N1[@]}" list "$BIG")
[ "$(listed "$out" | wc -l)" -eq 2000 ] || fail "list shows $(listed "$out" | wc -l) targets, not 2,000"
[ "$(listed "$out")" = "$(cat "$WORK/big.expected")" ] || fail "list differs from what was staged"
for i in 0001 0777 1999 2000; do
  out=$("${N1[@]}" lookup "$BIG" "pkg/$i")
  expect_in "$(awk -v n="pkg/$i" '$1 == n {print $1, "sha256:" $2, $3}' "$WORK/big.expected")" "$out"
done
out=$(notary -d "$WORK/trust5" -s "$URL" --tlscacert "$WORK/ca.pem" list "$BIG") \
  || fail "second client list of $BIG"
[ "$(listed "$out")" = "$(cat "$WORK/big.expected")" ] || fail "second client's list differs"

step "metadata survives a restart (RocksDB)"
"${N1[@]}" add "$GUN" after-restart "$WORK/one.txt" -p >/dev/null
vouch_stop
vouch_start "127.0.0.1:$PORT"
out=$(notary -d "$WORK/trust4" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN") || fail "list after restart"
expect_in "after-restart" "$out"
out=$(notary -d "$WORK/trust4" -s "$URL" --tlscacert "$WORK/ca.pem" list "$BIG") || fail "list $BIG after restart"
[ "$(listed "$out" | wc -l)" -eq 2000 ] || fail "after restart $BIG lists $(listed "$out" | wc -l) targets"

echo "notary CLI interop: all steps passed"
