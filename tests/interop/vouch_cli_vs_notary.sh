#!/usr/bin/env bash
# Interop: the `vouch` CLI with the real Notary 0.7 tools (Debian packages notary,
# notary-server), in both directions:
#
#   (a) on vouch-server: what vouch publishes (init, targets, a delegation with paths, a
#       delegated target), the real notary CLI lists, looks up and verifies from its own trust
#       directory (trust on first use); what notary publishes (init, add, a delegation, key
#       rotation), vouch lists, looks up, verifies and inspects; then both publish alternately
#       into the same repository, each picking up the other's changes.
#   (b) vouch against the REAL notary-server (memory storage, local trust service, as
#       scripts/make-notary-fixtures.sh starts it): init -p, add/publish/list/lookup/verify,
#       a delegation and `vouch sign` into it (twice: idempotent), key rotate snapshot -r and
#       timestamp -r, targets and root rotation, delete --remote and init again; the notary CLI
#       reads every result.
#   (c) keys: one trust directory used by both (vouch with --key-format notary): keys from
#       `notary key generate` and `notary init` listed by vouch with their roles and IDs and
#       used by vouch to sign; a key vouch rotates in used by notary; `notary key export` ->
#       `vouch key import`; `vouch key export --key-format notary` -> `notary key import`.
#
#   vouch_cli_vs_notary.sh <path to vouch> <path to vouch-server>
#
# Every step checks exit codes and output (and, where the CLIs print little, the metadata the
# servers serve). vouch runs without a terminal (setsid), as in CI. Passphrases come only from
# notary's NOTARY_*_PASSPHRASE variables, which both CLIs read. On every exit path the script
# stops only the servers it started, by their saved PIDs, and removes its temporary directory.
set -euo pipefail
VOUCH=${1:?usage: $0 <vouch binary> <vouch-server binary>}
VOUCH_SERVER=${2:?usage: $0 <vouch binary> <vouch-server binary>}
for tool in notary notary-server openssl curl jq setsid sha256sum python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

# The real notary-server is this script's too: stop it (by PID) before the library's cleanup.
NS_PID=
_interop_cleanup() {
  if [ -n "$NS_PID" ] && kill -0 "$NS_PID" 2>/dev/null; then
    kill -TERM "$NS_PID"; wait "$NS_PID" 2>/dev/null || true
  fi
  _vouch_cleanup
}
trap _interop_cleanup EXIT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

# Test passphrases (throwaway keys), in notary's variables only: vouch must read them too.
export NOTARY_ROOT_PASSPHRASE=interop8-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop8-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop8-snapshot-pass
export NOTARY_DELEGATION_PASSPHRASE=interop8-delegation-pass
unset VOUCH_ROOT_PASSPHRASE VOUCH_TARGETS_PASSPHRASE VOUCH_SNAPSHOT_PASSPHRASE \
  VOUCH_DELEGATION_PASSPHRASE VOUCH_TIMESTAMP_PASSPHRASE VOUCH_NEW_PASSPHRASE VOUCH_KEY_FORMAT \
  DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE NOTARY_AUTH

# vouch <trust dir> <server URL> <args...>: vouch without a terminal.
vouch() {
  local dir=$1 url=$2; shift 2
  setsid -w "$VOUCH" -d "$WORK/$dir" -s "$url" --tlscacert "$WORK/ca.pem" "$@" </dev/null
}
# nt <trust dir> <server URL> <args...>: the real notary CLI (its config file is empty), its
# stdin from $NT_STDIN (default /dev/null: it must never wait for an answer).
nt() {
  local dir=$1 url=$2; shift 2
  notary -c "$WORK/notary-config.json" -d "$WORK/$dir" -s "$url" --tlscacert "$WORK/ca.pem" "$@" \
    <"${NT_STDIN:-/dev/null}"
}
# served_at <base URL> <gun> <role>: the metadata a server serves now.
served_at() { curl -sf --cacert "$WORK/ca.pem" "$1/v2/$2/_trust/tuf/$3.json"; }
version_at() { served_at "$1" "$2" "$3" | jq -r .signed.version; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }
# listed <`notary list` output>: "<name> <sha256> <size> <role>" per target, sorted.
listed() { awk 'NF == 4 && length($2) == 64 && $2 ~ /^[0-9a-f]+$/ {print $1, $2, $3, $4}' <<<"$1" | sort; }
# vouch_listed <`vouch list --output json`>: the same lines from vouch's JSON.
vouch_listed() { jq -r '.[] | "\(.name) \(.digest) \(.size) \(.role)"' <<<"$1" | sort; }
# notary_keys <`notary key list` output>: "<role> <key ID>" per key, sorted.
notary_keys() {
  awk '{for (i = 2; i <= NF; i++) if (length($i) == 64 && $i ~ /^[0-9a-f]+$/) print $1, $i}' <<<"$1" | sort
}
vouch_keys() { jq -r '.[] | "\(.role) \(.key_id)"' <<<"$1" | sort; }
# new_cert <name>: an ECDSA P-256 key (unencrypted PKCS#8) and a self-signed certificate.
new_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
    -subj "/CN=$1" -keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null
  chmod 600 "$WORK/$1.key"
}
key_id_in() { sed -n 's/.*with keys \[\([0-9a-f]\{64\}\)\].*/\1/p' <<<"$1"; }
generated_id() { sed -n 's/^Generated new ecdsa .* key with keyID: \([0-9a-f]\{64\}\)$/\1/p' <<<"$1"; }

echo '{}' >"$WORK/notary-config.json"
printf 'first payload\n' >"$WORK/one.txt"
printf 'second payload, a little longer\n' >"$WORK/two.txt"
printf 'third payload for a delegation\n' >"$WORK/three.txt"
printf 'not what was signed\n' >"$WORK/wrong.txt"
ONE_SHA=$(sha256 "$WORK/one.txt"); TWO_SHA=$(sha256 "$WORK/two.txt")
THREE_SHA=$(sha256 "$WORK/three.txt")
ONE_SIZE=$(size "$WORK/one.txt"); TWO_SIZE=$(size "$WORK/two.txt"); THREE_SIZE=$(size "$WORK/three.txt")

step "TLS certificates; vouch-server (RocksDB, embedded key store)"
vouch_make_tls
vouch_start 127.0.0.1:0
VURL=$URL

step "the real notary-server (memory storage, local trust service)"
# (The port is chosen free just before the start; another process may take it in between.)
notary_server_start || notary_server_start \
  || { tail -20 "$WORK/notary-server.log" >&2; fail "notary-server did not start"; }
echo "notary-server (pid $NS_PID) at $NURL"

# =============================================================================================
# (a) vouch-server: vouch publishes, notary reads; notary publishes, vouch reads; both publish.
# =============================================================================================
GA=example.com/interop/vouch-made
step "(a1) vouch: init -p, add, addhash, publish"
run 0 vouch va "$VURL" init "$GA" -p
expect_in "Successfully published changes for repository $GA" "$out"
run 0 vouch va "$VURL" add "$GA" v1 "$WORK/one.txt"
run 0 vouch va "$VURL" addhash "$GA" v2 "$TWO_SIZE" --sha256 "$TWO_SHA"
run 0 vouch va "$VURL" publish "$GA"
expect_in "Successfully published changes for repository $GA" "$out"

step "(a1) vouch: a delegation with paths (a key from vouch key generate -o), a delegated target"
run 0 vouch va "$VURL" key generate -r targets/team -o "$WORK/team"
TEAM_ID=$(generated_id "$out"); [ -n "$TEAM_ID" ] || fail "no key ID in: $out"
run 0 vouch va "$VURL" delegation add "$GA" targets/team "$WORK/team.pem" --paths team/,shared/ -p
expect_in "Addition of delegation role targets/team with keys [$TEAM_ID]" "$out"
expect_in "Successfully published changes for repository $GA" "$out"
run 0 vouch va "$VURL" key import "$WORK/team-key.pem"
run 0 vouch va "$VURL" add "$GA" team/tool "$WORK/three.txt" -r targets/team -p
expect_in "Successfully published changes for repository $GA" "$out"
# Outside the delegation's paths: refused before anything is published.
run 0 vouch va "$VURL" add "$GA" elsewhere/tool "$WORK/three.txt" -r targets/team
run 1 vouch va "$VURL" publish "$GA"
expect_in "is outside the paths of role \"targets/team\"" "$out"
run 0 vouch va "$VURL" reset "$GA" --all

step "(a1) vouch: custom data in forms notary does not sign itself; control characters refused"
# Unsorted keys, a \u escape, '<&>' and nesting: vouch stages the canonical form (the only
# one whose signature survives a reader that re-canonicalizes, as notary does).
printf '{"z": [1, null, true], "a": {"html": "<&>", "u": "\\u00fc"}}' >"$WORK/custom.json"
run 0 vouch va "$VURL" add "$GA" custom/x "$WORK/two.txt" --custom "$WORK/custom.json" -p
served_at "$VURL" "$GA" targets | jq -e '.signed.targets["custom/x"].custom == {"a": {"html": "<&>", "u": "ü"}, "z": [1, null, true]}' \
  >/dev/null || fail "custom data as served"
# A control character cannot be written in canonical JSON (raw bytes are invalid JSON): vouch
# refuses it when staging (exit 1) instead of staging a change every publish would fail on.
run 1 vouch va "$VURL" add "$GA" "$(printf 'tab\tname')" "$WORK/one.txt"
expect_in "control character" "$out"
printf '{"note": "a\\tb"}' >"$WORK/custom-tab.json"
run 1 vouch va "$VURL" add "$GA" tabbed "$WORK/one.txt" --custom "$WORK/custom-tab.json"
run 1 vouch va "$VURL" delegation add "$GA" targets/team --paths "$(printf 'a\nb')"
expect_in "control character" "$out"
run 0 vouch va "$VURL" status "$GA"
expect_in "No unpublished changes for $GA" "$out"

step "(a1) notary (its own trust dir, TOFU) lists, looks up and verifies what vouch published"
run 0 nt na "$VURL" list "$GA"
[ "$(listed "$out")" = "$(printf '%s\n' "team/tool $THREE_SHA $THREE_SIZE targets/team" \
  "v1 $ONE_SHA $ONE_SIZE targets" "v2 $TWO_SHA $TWO_SIZE targets" \
  "custom/x $TWO_SHA $TWO_SIZE targets" | sort)" ] \
  || fail "notary list of vouch's repository:
$out"
run 0 nt na "$VURL" verify "$GA" custom/x -i "$WORK/two.txt" -q
run 0 nt na "$VURL" lookup "$GA" team/tool
expect_in "team/tool sha256:$THREE_SHA $THREE_SIZE" "$out"
run 0 nt na "$VURL" lookup "$GA" v2
expect_in "v2 sha256:$TWO_SHA $TWO_SIZE" "$out"
NT_STDIN="$WORK/one.txt" nt na "$VURL" verify "$GA" v1 >"$WORK/verified.txt" 2>>"$LOG" \
  || fail "notary verify of vouch's v1"
cmp -s "$WORK/one.txt" "$WORK/verified.txt" || fail "notary verify did not pass the content through"
run 0 nt na "$VURL" verify "$GA" team/tool -i "$WORK/three.txt" -q
rc=0; nt na "$VURL" verify "$GA" v1 -i "$WORK/wrong.txt" >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "notary verify accepted content vouch did not sign"
run 0 nt na "$VURL" delegation list "$GA"
expect_in "targets/team    shared/    $TEAM_ID    1" "$out"; expect_in "                team/" "$out"
[ -f "$WORK/na/tuf/$GA/metadata/root.json" ] || fail "notary did not cache vouch's root"

GB=example.com/interop/notary-made
step "(a2) notary: init -p, add, a delegation (targets/alice), a delegated target, key rotation"
run 0 nt nb "$VURL" init "$GB" -p
expect_in "Successfully published changes for repository $GB" "$out"
# (notary signs custom data as given, compacted; only sorted keys and no <>& verify after.)
printf '{"build":7,"team":"notary","ü":[true,null]}' >"$WORK/notary-custom.json"
run 0 nt nb "$VURL" add "$GB" n1 "$WORK/one.txt" --custom "$WORK/notary-custom.json" -p
new_cert alice
run 0 nt nb "$VURL" delegation add "$GB" targets/alice "$WORK/alice.crt" --paths alice/ -p
ALICE_ID=$(key_id_in "$out"); [ -n "$ALICE_ID" ] || fail "no key ID in: $out"
run 0 nt nb "$VURL" key import "$WORK/alice.key" -r targets/alice
run 0 nt nb "$VURL" add "$GB" alice/app "$WORK/two.txt" -r targets/alice -p
expect_in "Successfully published changes for repository $GB" "$out"
OLD_TARGETS=$(served_at "$VURL" "$GB" root | jq -r '.signed.roles.targets.keyids[0]')
run 0 nt nb "$VURL" key rotate "$GB" targets
expect_in "Successfully rotated targets key for repository $GB" "$out"
run 0 nt nb "$VURL" key rotate "$GB" snapshot -r
expect_in "Successfully rotated snapshot key for repository $GB" "$out"
NEW_TARGETS=$(served_at "$VURL" "$GB" root | jq -r '.signed.roles.targets.keyids[0]')
[ "$NEW_TARGETS" != "$OLD_TARGETS" ] || fail "notary's targets rotation did not change the key"
run 0 nt nb "$VURL" add "$GB" n2 "$WORK/three.txt" -p

step "(a2) vouch (its own trust dir, TOFU) lists, looks up, verifies and inspects it"
json 0 vouch vb "$VURL" list "$GB" --output json
[ "$(vouch_listed "$out")" = "$(printf '%s\n' "alice/app $TWO_SHA $TWO_SIZE targets/alice" \
  "n1 $ONE_SHA $ONE_SIZE targets" "n2 $THREE_SHA $THREE_SIZE targets" | sort)" ] \
  || fail "vouch list of notary's repository:
$out"
check "(.[] | select(.name == \"n1\") | .hashes | keys) == [\"sha256\", \"sha512\"]
       and (.[] | select(.name == \"n1\") | .custom) == {\"build\": 7, \"team\": \"notary\", \"ü\": [true, null]}
       and (.[] | select(.name == \"n2\") | .signers) == [\"$NEW_TARGETS\"]" "$out" \
  "notary's targets carry sha256+sha512 and n2 is signed by the rotated targets key"
run 0 vouch vb "$VURL" list "$GB"
[ "$(listed "$out")" = "$(vouch_listed "$(vouch vb "$VURL" list "$GB" --output json)")" ] \
  || fail "vouch's table and JSON differ:
$out"
run 0 vouch vb "$VURL" lookup "$GB" alice/app
[ "$out" = "alice/app sha256:$TWO_SHA $TWO_SIZE" ] || fail "vouch lookup: $out"
run 0 vouch vb "$VURL" verify "$GB" n1 -i "$WORK/one.txt" -o "$WORK/verified2.txt"
cmp -s "$WORK/one.txt" "$WORK/verified2.txt" || fail "vouch verify -o"
run 0 vouch vb "$VURL" verify "$GB" alice/app -q -i "$WORK/two.txt"
run 2 vouch vb "$VURL" verify "$GB" n2 -i "$WORK/wrong.txt"
json 0 vouch vb "$VURL" delegation list "$GB" --output json
check ". == [{\"role\": \"targets/alice\", \"paths\": [\"alice/\"], \"key_ids\": [\"$ALICE_ID\"], \"threshold\": 1}]" "$out"
ROOT_B=$(served_at "$VURL" "$GB" root | jq -r '.signed.roles.root.keyids[0]')
json 0 vouch vb "$VURL" inspect "$GB" --output json
check "length == 1 and .[0].Name == \"$GB\"
       and .[0].SignedTags == [
         {\"SignedTag\": \"alice/app\", \"Digest\": \"$TWO_SHA\", \"Signers\": [\"alice\"]},
         {\"SignedTag\": \"n1\", \"Digest\": \"$ONE_SHA\", \"Signers\": [\"Repo Admin\"]},
         {\"SignedTag\": \"n2\", \"Digest\": \"$THREE_SHA\", \"Signers\": [\"Repo Admin\"]}]
       and .[0].Signers == [{\"Name\": \"alice\", \"Keys\": [{\"ID\": \"$ALICE_ID\"}]}]
       and .[0].AdministrativeKeys == [
         {\"Name\": \"Repository\", \"Keys\": [{\"ID\": \"$NEW_TARGETS\"}]},
         {\"Name\": \"Root\", \"Keys\": [{\"ID\": \"$ROOT_B\"}]}]" "$out"
run 0 vouch vb "$VURL" inspect "$GB:n1"
expect_in "n1            $ONE_SHA    Repo Admin" "$out"

step "(a2) notary rotates the root key and the timestamp key (to the server); vouch follows"
old_root=$(served_at "$VURL" "$GB" root | jq -c '{v: .signed.version, k: .signed.roles.root.keyids}')
printf 'yes\n' >"$WORK/yes.txt"
NT_STDIN="$WORK/yes.txt" run 0 nt nb "$VURL" key rotate "$GB" root
expect_in "Successfully rotated root key for repository $GB" "$out"
run 0 nt nb "$VURL" key rotate "$GB" timestamp -r
expect_in "Successfully rotated timestamp key for repository $GB" "$out"
served_at "$VURL" "$GB" root | jq -e --argjson old "$old_root" '.signed.version == $old.v + 2
  and .signed.roles.root.keyids != $old.k' >/dev/null || fail "root after notary's rotations"
run 0 nt nb "$VURL" add "$GB" n3 "$WORK/two.txt" -p
run 0 vouch vb "$VURL" lookup "$GB" n3   # vb cached the old root: it must walk to the new one
[ "$out" = "n3 sha256:$TWO_SHA $TWO_SIZE" ] || fail "vouch lookup after notary's root rotation: $out"
[ "$(jq -c .signed.roles.root.keyids "$WORK/vb/tuf/$GB/metadata/root.json")" = \
  "$(served_at "$VURL" "$GB" root | jq -c .signed.roles.root.keyids)" ] || fail "vouch did not take the new root"

step "(a3) both publish alternately into the same repository"
# vouch gets notary's keys for $GB (targets, after rotation; the snapshot is the server's now)
# and alice's delegation key; every publish must build on the other's latest.
run 0 nt nb "$VURL" key export --gun "$GB" -o "$WORK/gb-keys.pem"
run 0 vouch vb "$VURL" key import "$WORK/gb-keys.pem"
run 0 vouch vb "$VURL" key import "$WORK/alice.key" -r targets/alice
json 0 vouch vb "$VURL" key list --output json
check "([.[] | select(.role == \"targets\") | .gun] == [\"$GB\"])
       and ([.[] | .key_id] | index(\"$ALICE_ID\")) != null" "$out"
expected_b=$(printf '%s\n' alice/app n1 n2 n3)
for i in 1 2 3; do
  t_before=$(version_at "$VURL" "$GB" targets); s_before=$(version_at "$VURL" "$GB" snapshot)
  run 0 nt nb "$VURL" add "$GB" "from-notary-$i" "$WORK/one.txt" -p
  expect_in "Successfully published changes for repository $GB" "$out"
  expected_b=$(printf '%s\nfrom-notary-%s\n' "$expected_b" "$i" | sort)
  [ "$(version_at "$VURL" "$GB" targets)" = $((t_before + 1)) ] || fail "notary publish $i: targets version"
  [ "$(version_at "$VURL" "$GB" snapshot)" = $((s_before + 1)) ] || fail "notary publish $i: snapshot version"
  # vouch publishes on top of notary's latest: into targets, and every other round into alice's.
  t_before=$(version_at "$VURL" "$GB" targets); s_before=$(version_at "$VURL" "$GB" snapshot)
  if [ $((i % 2)) = 0 ]; then
    a_before=$(version_at "$VURL" "$GB" targets/alice)
    run 0 vouch vb "$VURL" add "$GB" "alice/from-vouch-$i" "$WORK/two.txt" -r targets/alice -p
    expected_b=$(printf '%s\nalice/from-vouch-%s\n' "$expected_b" "$i" | sort)
    [ "$(version_at "$VURL" "$GB" targets/alice)" = $((a_before + 1)) ] || fail "vouch publish $i: alice version"
    [ "$(version_at "$VURL" "$GB" targets)" = "$t_before" ] || fail "vouch publish $i changed targets"
  else
    run 0 vouch vb "$VURL" add "$GB" "from-vouch-$i" "$WORK/two.txt" -p
    expected_b=$(printf '%s\nfrom-vouch-%s\n' "$expected_b" "$i" | sort)
    [ "$(version_at "$VURL" "$GB" targets)" = $((t_before + 1)) ] || fail "vouch publish $i: targets version"
  fi
  expect_in "Successfully published changes for repository $GB" "$out"
  [ "$(version_at "$VURL" "$GB" snapshot)" = $((s_before + 1)) ] || fail "vouch publish $i: snapshot version"
  # Each sees everything, including what the other just published.
  json 0 vouch vb "$VURL" list "$GB" --output json
  [ "$(jq -r '.[].name' <<<"$out" | sort)" = "$expected_b" ] || fail "vouch's list after round $i:
$out"
  run 0 nt nb "$VURL" list "$GB"
  [ "$(listed "$out" | cut -d' ' -f1)" = "$expected_b" ] || fail "notary's list after round $i:
$out"
done
step "(a3) no corruption: fresh clients of both agree, the served metadata is consistent"
run 0 nt nb-fresh "$VURL" list "$GB"
fresh_notary=$(listed "$out")
json 0 vouch vb-fresh "$VURL" list "$GB" --output json
[ "$(vouch_listed "$out")" = "$fresh_notary" ] || fail "fresh notary and vouch clients differ:
$fresh_notary
---
$(vouch_listed "$out")"
[ "$(cut -d' ' -f1 <<<"$fresh_notary")" = "$expected_b" ] || fail "fresh clients miss targets"
snap=$(served_at "$VURL" "$GB" snapshot)
for role in root targets targets/alice; do   # (Notary's snapshot lists hashes and lengths)
  served_at "$VURL" "$GB" "$role" >"$WORK/role.json" || fail "GET $role"
  [ "$(jq -r --arg r "$role" '.signed.meta[$r].hashes.sha256' <<<"$snap" | base64 -d | od -An -tx1 | tr -d ' \n')" \
    = "$(sha256 "$WORK/role.json")" ] || fail "the snapshot's hash of $role is not that of the served $role"
done
run 0 nt nb-fresh "$VURL" verify "$GB" alice/from-vouch-2 -i "$WORK/two.txt" -q
run 0 vouch vb-fresh "$VURL" verify "$GB" from-notary-3 -i "$WORK/one.txt" -q

# =============================================================================================
# (b) vouch against the real notary-server
# =============================================================================================
GC=example.com/interop/on-notary-server
step "(b) vouch init -p on notary-server (its timestamp key is ed25519)"
run 0 vouch vc "$NURL" init "$GC" -p
expect_in "Successfully published changes for repository $GC" "$out"
served_at "$NURL" "$GC" root | jq -e '.signed.keys[.signed.roles.timestamp.keyids[0]].keytype == "ed25519"' \
  >/dev/null || fail "notary-server's timestamp key is not ed25519"
run 0 vouch vc "$NURL" list "$GC"
expect_in "No targets present in this repository." "$out"

step "(b) add, addhash, publish, list, lookup, verify"
run 0 vouch vc "$NURL" add "$GC" v1 "$WORK/one.txt"
run 0 vouch vc "$NURL" addhash "$GC" v2 "$TWO_SIZE" --sha256 "$TWO_SHA"
run 0 vouch vc "$NURL" publish "$GC"
expect_in "Successfully published changes for repository $GC" "$out"
json 0 vouch vc "$NURL" list "$GC" --output json
[ "$(vouch_listed "$out")" = "$(printf '%s\n' "v1 $ONE_SHA $ONE_SIZE targets" "v2 $TWO_SHA $TWO_SIZE targets")" ] \
  || fail "vouch list on notary-server:
$out"
run 0 vouch vc "$NURL" lookup "$GC" v1
[ "$out" = "v1 sha256:$ONE_SHA $ONE_SIZE" ] || fail "lookup: $out"
run 0 vouch vc "$NURL" verify "$GC" v1 -q -i "$WORK/one.txt"
run 2 vouch vc "$NURL" verify "$GC" v2 -i "$WORK/wrong.txt"

step "(b) a delegation, and vouch sign into it: twice, the second time publishing nothing"
run 0 vouch vc "$NURL" key generate -r targets/ci -o "$WORK/ci"
CI_ID=$(generated_id "$out"); [ -n "$CI_ID" ] || fail "no key ID in: $out"
run 0 vouch vc "$NURL" delegation add "$GC" targets/releases "$WORK/ci.pem" --all-paths
run 0 vouch vc "$NURL" delegation add "$GC" targets/ci "$WORK/ci.pem" --all-paths -p
expect_in "Successfully published changes for repository $GC" "$out"
run 0 vouch vc "$NURL" key import "$WORK/ci-key.pem"
printf '{"schemaVersion": 2, "interop": "notary-server"}' >"$WORK/manifest.json"
M_SHA=$(sha256 "$WORK/manifest.json"); M_SIZE=$(size "$WORK/manifest.json")
run 0 vouch vc "$NURL" sign "$GC:1.0" --digest "sha256:$M_SHA" --size "$M_SIZE"
expect_in "Signing and pushing trust data for $GC:1.0 into targets/ci, targets/releases" "$out"
expect_in "Successfully signed $GC:1.0" "$out"
ci_version=$(version_at "$NURL" "$GC" targets/ci)
rel_version=$(version_at "$NURL" "$GC" targets/releases)
run 0 vouch vc "$NURL" sign "$GC:1.0" --manifest "$WORK/manifest.json"
expect_in "already signed" "$out"
[ "$(version_at "$NURL" "$GC" targets/ci)" = "$ci_version" ] || fail "an idempotent sign published"
[ "$(version_at "$NURL" "$GC" targets/releases)" = "$rel_version" ] || fail "an idempotent sign published"
run 0 vouch vc "$NURL" add "$GC" team-build "$WORK/three.txt" -r targets/ci -p
expect_in "Successfully published changes for repository $GC" "$out"

step "(b) the notary CLI reads what vouch published on notary-server"
run 0 nt nc "$NURL" list "$GC"
# 1.0 is in both delegations; a list shows it once, from the first in the walk (releases was
# added first).
[ "$(listed "$out")" = "$(printf '%s\n' "1.0 $M_SHA $M_SIZE targets/releases" "team-build $THREE_SHA $THREE_SIZE targets/ci" \
  "v1 $ONE_SHA $ONE_SIZE targets" "v2 $TWO_SHA $TWO_SIZE targets" | sort)" ] \
  || fail "notary list:
$out"
notary_view=$(listed "$out")
json 0 vouch vc "$NURL" list "$GC" --output json
[ "$(vouch_listed "$out")" = "$notary_view" ] || fail "vouch and notary list differently:
$(vouch_listed "$out")"
run 0 nt nc "$NURL" verify "$GC" 1.0 -i "$WORK/manifest.json" -q
run 0 nt nc "$NURL" delegation list "$GC"
expect_in "targets/ci" "$out"; expect_in "targets/releases" "$out"; expect_in "$CI_ID" "$out"

step "(b) key rotate snapshot -r and timestamp -r: the root lists notary-server's keys"
root_keys_c() { served_at "$NURL" "$GC" root | jq -r --arg r "$1" '.signed.roles[$r].keyids | join(",")'; }
old_snapshot=$(root_keys_c snapshot); old_timestamp=$(root_keys_c timestamp)
root_v=$(version_at "$NURL" "$GC" root)
run 0 vouch vc "$NURL" key rotate "$GC" snapshot -r
expect_in "Successfully rotated snapshot key for repository $GC" "$out"
run 0 vouch vc "$NURL" key rotate "$GC" timestamp -r
expect_in "Successfully rotated timestamp key for repository $GC" "$out"
[ "$(version_at "$NURL" "$GC" root)" = $((root_v + 2)) ] || fail "root not published twice"
for role in snapshot timestamp; do
  server_key=$(curl -sf --cacert "$WORK/ca.pem" "$NURL/v2/$GC/_trust/tuf/$role.key") \
    || fail "GET $role.key from notary-server"
  [ "$(root_keys_c "$role")" = "$(key_id "$server_key")" ] \
    || fail "root's $role key is not notary-server's: $(root_keys_c "$role") vs $(key_id "$server_key")"
done
[ "$(root_keys_c snapshot)" != "$old_snapshot" ] || fail "snapshot key did not change"
[ "$(root_keys_c timestamp)" != "$old_timestamp" ] || fail "timestamp key did not change"
# notary-server now signs the snapshot; vouch publishes targets alone.
run 0 vouch vc "$NURL" add "$GC" after-server-snapshot "$WORK/two.txt" -p
served_at "$NURL" "$GC" snapshot | jq -e --arg k "$(root_keys_c snapshot)" '[.signatures[].keyid] == [$k]' \
  >/dev/null || fail "the snapshot after vouch's publish is not signed by notary-server's key"
run 0 nt nc "$NURL" lookup "$GC" after-server-snapshot
expect_in "after-server-snapshot sha256:$TWO_SHA $TWO_SIZE" "$out"

step "(b) targets and root rotation; an old vouch client, an old notary client and fresh ones follow"
run 0 vouch vc-old "$NURL" list "$GC"   # caches the current root before the rotations
old_targets=$(root_keys_c targets)
run 0 vouch vc "$NURL" key rotate "$GC" targets
expect_in "Successfully rotated targets key for repository $GC" "$out"
[ "$(root_keys_c targets)" != "$old_targets" ] || fail "targets key did not change"
old_root=$(served_at "$NURL" "$GC" root | jq -c '{v: .signed.version, k: .signed.roles.root.keyids}')
run 0 vouch vc "$NURL" key rotate "$GC" root -y
expect_in "Successfully rotated root key for repository $GC" "$out"
served_at "$NURL" "$GC" root | jq -e --argjson old "$old_root" '.signed.version == $old.v + 1
  and .signed.roles.root.keyids != $old.k and ([.signatures[].keyid] | contains($old.k))' >/dev/null \
  || fail "root after rotation is not version+1 with a new key cross-signed by the old one"
run 0 vouch vc "$NURL" add "$GC" after-root-rotation "$WORK/one.txt" -p
run 0 vouch vc-old "$NURL" lookup "$GC" after-root-rotation
run 0 nt nc "$NURL" lookup "$GC" after-root-rotation
expect_in "after-root-rotation sha256:$ONE_SHA $ONE_SIZE" "$out"
[ "$(jq -c .signed.roles.root.keyids "$WORK/nc/tuf/$GC/metadata/root.json")" = \
  "$(served_at "$NURL" "$GC" root | jq -c .signed.roles.root.keyids)" ] || fail "notary did not take the new root"
run 0 nt nc-fresh "$NURL" list "$GC"
expect_in "after-root-rotation" "$out"; expect_in "1.0" "$out"
run 0 nt nc-fresh "$NURL" verify "$GC" after-server-snapshot -i "$WORK/two.txt" -q

step "(b) delete --remote on notary-server, then init again"
run 0 vouch vc "$NURL" delete "$GC" --remote
expect_in "Successfully deleted local and remote trust data for repository $GC" "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$NURL/v2/$GC/_trust/tuf/root.json")
[ "$code" = 404 ] || fail "notary-server still serves root.json after delete: HTTP $code"
run 1 nt nc-gone "$NURL" list "$GC"
expect_in "does not have trust data for $GC" "$out"
run 0 vouch vc "$NURL" init "$GC" -p
expect_in "Root key found, using:" "$out"
expect_in "Successfully published changes for repository $GC" "$out"
run 0 vouch vc "$NURL" add "$GC" reborn "$WORK/three.txt" -p
run 0 nt nc-again "$NURL" list "$GC"
[ "$(listed "$out")" = "reborn $THREE_SHA $THREE_SIZE targets" ] || fail "notary list after re-init:
$out"

# =============================================================================================
# (c) keys: one trust directory for both CLIs; export/import in both directions
# =============================================================================================
GD=example.com/interop/shared-keys
# vouch on the shared directory writes notary's key format, so that notary reads its keys.
vs() { VOUCH_KEY_FORMAT=notary vouch shared "$VURL" "$@"; }
step "(c) notary key generate (root, and a delegation key to files), notary init -p"
run 0 nt shared "$VURL" key generate
NROOT_ID=$(generated_id "$out"); [ -n "$NROOT_ID" ] || fail "no key ID in: $out"
run 0 nt shared "$VURL" key generate -r targets/dev -o "$WORK/dev"
{ [ -f "$WORK/dev.pem" ] && [ -f "$WORK/dev-key.pem" ]; } || fail "notary key generate -o wrote no files"
# (notary prints nothing for -o.) The ID, computed here from the public key file.
DEV_ID=$(key_id "$(jq -n --arg p "$(grep -v -e '^role:' -e '^$' "$WORK/dev.pem" | openssl pkey -pubin -outform DER | base64 -w0)" \
  '{keytype: "ecdsa", keyval: {private: null, public: $p}}')")
run 0 nt shared "$VURL" init "$GD" -p
expect_in "Root key found, using: $NROOT_ID" "$out"
expect_in "Successfully published changes for repository $GD" "$out"

step "(c) vouch key list shows notary's keys with their roles and IDs"
run 0 nt shared "$VURL" key list
notary_view=$(notary_keys "$out")
json 0 vs key list --output json
[ "$(vouch_keys "$out")" = "$notary_view" ] || fail "key lists differ:
notary: $notary_view
vouch:  $(vouch_keys "$out")"
check "length == 3 and ([.[].format] | unique) == [\"notary\"]
       and ([.[] | select(.role == \"root\") | .key_id] == [\"$NROOT_ID\"])
       and ([.[] | select(.role == \"targets\" or .role == \"snapshot\") | .gun] == [\"$GD\", \"$GD\"])" "$out"
TGT_D=$(jq -r '.[] | select(.role == "targets") | .key_id' <<<"$out")
served_at "$VURL" "$GD" root | jq -e --arg t "$TGT_D" '.signed.roles.targets.keyids == [$t]' >/dev/null \
  || fail "vouch's targets key ID is not the one root.json lists"

step "(c) vouch signs with notary's keys (targets, snapshot) from the shared directory"
run 0 vs add "$GD" from-vouch "$WORK/one.txt" -p
expect_in "Successfully published changes for repository $GD" "$out"
run 0 nt shared "$VURL" list "$GD"   # notary on the cache vouch updated
expect_in "from-vouch" "$out"
run 0 vs delegation add "$GD" targets/dev "$WORK/dev.pem" --all-paths -p
expect_in "Addition of delegation role targets/dev with keys [$DEV_ID]" "$out"
run 0 vs key import "$WORK/dev-key.pem"   # notary's -o key file, stored in notary's format
run 0 nt shared "$VURL" key list
expect_in "$DEV_ID" "$out"   # notary reads the file vouch wrote
run 0 vs add "$GD" dev/by-vouch "$WORK/two.txt" -r targets/dev -p
run 0 nt shared "$VURL" add "$GD" dev/by-notary "$WORK/three.txt" -r targets/dev -p
expect_in "Successfully published changes for repository $GD" "$out"

step "(c) vouch rotates the targets key in the shared directory; notary signs with the new one"
run 0 vs key rotate "$GD" targets
NEW_TGT_D=$(served_at "$VURL" "$GD" root | jq -r '.signed.roles.targets.keyids[0]')
[ "$NEW_TGT_D" != "$TGT_D" ] || fail "targets key did not change"
run 0 nt shared "$VURL" key list
expect_in "$NEW_TGT_D" "$out"
run 0 nt shared "$VURL" add "$GD" from-notary "$WORK/two.txt" -p
expect_in "Successfully published changes for repository $GD" "$out"
served_at "$VURL" "$GD" targets | jq -e --arg k "$NEW_TGT_D" '[.signatures[].keyid] == [$k]' >/dev/null \
  || fail "notary did not sign targets with the key vouch made"
json 0 vouch vd-fresh "$VURL" list "$GD" --output json
check '[.[].name] == ["dev/by-notary", "dev/by-vouch", "from-notary", "from-vouch"]' "$out"

step "(c) notary key export -> vouch key import (vouch's own format); vouch signs with them"
run 0 nt shared "$VURL" key export --gun "$GD" -o "$WORK/gd-keys.pem"
run 0 vouch vd "$VURL" key import "$WORK/gd-keys.pem"
# Every key of the GUN: snapshot, and the targets keys before and after the rotation (neither
# CLI deletes a rotated-out key).
run 0 nt shared "$VURL" key list
gd_keys=$(awk '$1 == "targets" || $1 == "snapshot"' <<<"$out")   # (the only GUN in "shared")
json 0 vouch vd "$VURL" key list --output json
[ "$(vouch_keys "$out")" = "$(notary_keys "$gd_keys")" ] || fail "imported keys:
$out
notary: $(notary_keys "$gd_keys")"
check "length == 3 and ([.[].format] | unique) == [\"vouch\"]
       and ([.[] | .key_id] | index(\"$NEW_TGT_D\")) != null" "$out"
run 0 vouch vd "$VURL" add "$GD" from-imported "$WORK/three.txt" -p
expect_in "Successfully published changes for repository $GD" "$out"
run 0 nt shared "$VURL" lookup "$GD" from-imported
expect_in "from-imported sha256:$THREE_SHA $THREE_SIZE" "$out"

step "(c) vouch key export --key-format notary -> notary key import; notary signs with it"
run 0 vouch vd "$VURL" key generate -r targets/ops -o "$WORK/ops"
OPS_ID=$(generated_id "$out"); [ -n "$OPS_ID" ] || fail "no key ID in: $out"
run 0 vouch vd "$VURL" key import "$WORK/ops-key.pem"
run 0 vouch vd "$VURL" --key-format notary key export --key "$OPS_ID" -o "$WORK/ops-export.pem"
grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$WORK/ops-export.pem" || fail "not a notary-format export"
run 0 nt nimport "$VURL" key import "$WORK/ops-export.pem"
run 0 nt nimport "$VURL" key list
[ "$(notary_keys "$out")" = "targets/ops $OPS_ID" ] || fail "notary key list after import:
$out"
run 0 vs delegation add "$GD" targets/ops "$WORK/ops.pem" --paths ops/ -p
# notary signs with it where it also holds the repository's snapshot key.
run 0 nt shared "$VURL" key import "$WORK/ops-export.pem"
run 0 nt shared "$VURL" add "$GD" ops/deploy "$WORK/one.txt" -r targets/ops -p
expect_in "Successfully published changes for repository $GD" "$out"
json 0 vouch vd-fresh "$VURL" lookup "$GD" ops/deploy --output json
check ".role == \"targets/ops\" and .signers == [\"$OPS_ID\"]" "$out"

step "(c) one changelist: what notary stages vouch publishes, and the other way round"
run 0 nt shared "$VURL" add "$GD" staged-by-notary "$WORK/one.txt"
run 0 vs add "$GD" staged-by-vouch "$WORK/two.txt"
json 0 vs status "$GD" --output json
check '[.[].path] == ["staged-by-notary", "staged-by-vouch"]' "$out"
run 0 nt shared "$VURL" status "$GD"
expect_in "staged-by-notary" "$out"; expect_in "staged-by-vouch" "$out"
run 0 vs publish "$GD"
run 0 nt shared "$VURL" status "$GD"
expect_in "No unpublished changes for $GD" "$out"
run 0 vs remove "$GD" staged-by-notary
run 0 nt shared "$VURL" add "$GD" staged-by-notary-2 "$WORK/three.txt"
run 0 nt shared "$VURL" publish "$GD"
run 0 vs status "$GD"
expect_in "No unpublished changes for $GD" "$out"
json 0 vouch vd-fresh "$VURL" list "$GD" --output json
check '([.[].name] | index("staged-by-vouch")) != null and ([.[].name] | index("staged-by-notary-2")) != null
       and ([.[].name] | index("staged-by-notary")) == null' "$out"

step "(c) vouch key passwd keeps notary's format; notary signs with the new passphrase"
NEW_TARGETS_PASS=interop8-targets-pass-2
VOUCH_NEW_PASSPHRASE=$NEW_TARGETS_PASS run 0 vs key passwd "$NEW_TGT_D"
expect_in "Successfully updated passphrase for key ID: $NEW_TGT_D" "$out"
grep -q "BEGIN ENCRYPTED PRIVATE KEY" "$WORK/shared/private/$NEW_TGT_D.key" || fail "key passwd changed the format"
NOTARY_TARGETS_PASSPHRASE=$NEW_TARGETS_PASS run 0 nt shared "$VURL" add "$GD" after-passwd "$WORK/one.txt" -p
expect_in "Successfully published changes for repository $GD" "$out"
run 4 vs add "$GD" old-passphrase "$WORK/one.txt" -p   # the old passphrase no longer opens it
run 0 vs reset "$GD" --all

step "(c) a root key from notary key generate -o initializes a repository with vouch init --rootkey"
GE=example.com/interop/notary-root-key
run 0 nt keygen "$VURL" key generate -o "$WORK/nroot"
# notary 0.7 asks for the passphrase of every -o key under the alias "", which its environment
# lookup maps to NOTARY_DELEGATION_PASSPHRASE, root keys included (cmd/notary/main.go).
NROOT_ID=$(key_id "$(jq -n --arg p "$(grep -v -e '^role:' -e '^$' "$WORK/nroot-key.pem" |
  openssl pkey -passin "pass:$NOTARY_DELEGATION_PASSPHRASE" -pubout -outform DER | base64 -w0)" \
  '{keytype: "ecdsa", keyval: {private: null, public: $p}}')")
NOTARY_ROOT_PASSPHRASE=$NOTARY_DELEGATION_PASSPHRASE run 0 vouch ve "$VURL" init "$GE" --rootkey "$WORK/nroot-key.pem" -p
expect_in "Root key found, using: $NROOT_ID" "$out"
expect_in "Successfully published changes for repository $GE" "$out"
run 0 nt ne-fresh "$VURL" list "$GE"
expect_in "No targets present in this repository." "$out"

step "no passphrase was ever printed"
for secret in "$NOTARY_ROOT_PASSPHRASE" "$NOTARY_TARGETS_PASSPHRASE" "$NOTARY_SNAPSHOT_PASSPHRASE" \
  "$NOTARY_DELEGATION_PASSPHRASE" "$NEW_TARGETS_PASS"; do
  if grep -qF -- "$secret" "$LOG"; then fail "a passphrase appeared in the output"; fi
done

step "stop the servers"
kill -TERM "$NS_PID"; wait "$NS_PID" 2>/dev/null || true; NS_PID=
vouch_stop
echo "vouch CLI vs notary interop: all steps passed"
