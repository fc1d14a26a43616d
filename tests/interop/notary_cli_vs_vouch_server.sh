#!/usr/bin/env bash
# Interop: the real notary 0.7 CLI (Debian package `notary`) against vouch-server over HTTPS,
# with RocksDB storage and the embedded encrypted key store, as a user would run it.
#
#   notary_cli_vs_vouch_server.sh <path to vouch-server>
#
# Every step checks what the notary CLI printed; the script fails on the first mismatch.
# It ends only the server it started, and removes its temporary directory.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
command -v notary >/dev/null || { echo "SKIP: notary CLI not installed"; exit 77; }

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
export HOME="$WORK/home"; mkdir -p "$HOME"

step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/server.log" ] && tail -30 "$WORK/server.log" >&2; exit 1; }
expect_in() {  # expect_in <text> <haystack>
  grep -qF -- "$1" <<<"$2" || fail "expected '$1' in output:
$2"
}
expect_not_in() {
  if grep -qF -- "$1" <<<"$2"; then fail "did not expect '$1' in output:
$2"; fi
}

step "TLS certificates for 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
  -subj "/CN=vouch interop CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
  -subj "/CN=127.0.0.1" -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$WORK/server.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 2 -sha256 -extfile "$WORK/server.ext" -out "$WORK/server.pem" 2>/dev/null

step "start vouch-server (RocksDB, embedded key store)"
export VOUCH_SERVER_KEY_PASSPHRASE="interop-server-keys"
"$VOUCH_SERVER" --http-addr 127.0.0.1:0 --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
  --storage rocksdb --db-path "$WORK/db" --insecure-no-auth >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q "^listening on" "$WORK/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "vouch-server exited at start"
  sleep 0.1
done
ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out")
[ -n "$ADDR" ] || fail "vouch-server did not report its address"
URL="https://127.0.0.1:${ADDR##*:}"
echo "server at $URL"

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
export NOTARY_DELEGATION_PASSPHRASE=interop-delegation-pass
N1=(notary -d "$WORK/trust1" -s "$URL" --tlscacert "$WORK/ca.pem")
N2=(notary -d "$WORK/trust2" -s "$URL" --tlscacert "$WORK/ca.pem")
GUN=example.com/vouch/interop

step "init + publish"
"${N1[@]}" init "$GUN" -p >/dev/null || fail "init"
out=$("${N1[@]}" list "$GUN" 2>&1) || fail "list after init: $out"
expect_in "No targets present in this repository." "$out"

step "several targets, publish, list, lookup"
printf 'first payload\n' >"$WORK/one.txt"
printf 'second payload with more bytes\n' >"$WORK/two.txt"
"${N1[@]}" add "$GUN" v1 "$WORK/one.txt" >/dev/null
"${N1[@]}" add "$GUN" v2 "$WORK/two.txt" >/dev/null
out=$("${N1[@]}" status "$GUN")
expect_in "v1" "$out"; expect_in "v2" "$out"
"${N1[@]}" publish "$GUN" >/dev/null || fail "publish"
out=$("${N1[@]}" list "$GUN")
expect_in "v1" "$out"; expect_in "v2" "$out"
expect_in "$(sha256sum "$WORK/one.txt" | cut -d' ' -f1)" "$out"
out=$("${N1[@]}" lookup "$GUN" v2)
expect_in "$(sha256sum "$WORK/two.txt" | cut -d' ' -f1)" "$out"

step "verify"
"${N1[@]}" verify "$GUN" v1 <"$WORK/one.txt" >"$WORK/verified.txt" || fail "verify v1"
cmp -s "$WORK/one.txt" "$WORK/verified.txt" || fail "verify did not pass the content through"
if "${N1[@]}" verify "$GUN" v1 <"$WORK/two.txt" >/dev/null 2>&1; then fail "verify accepted wrong content"; fi

step "a second client (TOFU) sees the same targets"
out=$("${N2[@]}" list "$GUN")
expect_in "v1" "$out"; expect_in "v2" "$out"

step "remove, status, reset"
"${N1[@]}" remove "$GUN" v1 >/dev/null
out=$("${N1[@]}" status "$GUN"); expect_in "v1" "$out"
"${N1[@]}" reset "$GUN" --all >/dev/null
out=$("${N1[@]}" status "$GUN"); expect_not_in "v1" "$out"
"${N1[@]}" remove "$GUN" v1 -p >/dev/null || fail "remove -p"
out=$("${N2[@]}" list "$GUN"); expect_not_in "v1" "$out"; expect_in "v2" "$out"

step "delegations: targets/releases and a user delegation with paths"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 365 \
  -subj "/CN=alice" -keyout "$WORK/alice.key" -out "$WORK/alice.crt" 2>/dev/null
"${N1[@]}" delegation add "$GUN" targets/releases "$WORK/alice.crt" --all-paths >/dev/null
"${N1[@]}" delegation add "$GUN" targets/alice "$WORK/alice.crt" --paths alice/ -p >/dev/null \
  || fail "delegation publish"
out=$("${N1[@]}" delegation list "$GUN")
expect_in "targets/releases" "$out"; expect_in "targets/alice" "$out"; expect_in "alice/" "$out"
"${N1[@]}" key import "$WORK/alice.key" -r targets/alice >/dev/null || fail "key import"
"${N1[@]}" add "$GUN" alice/tool "$WORK/two.txt" -r targets/alice -p >/dev/null \
  || fail "publish into targets/alice"
"${N1[@]}" add "$GUN" release-1 "$WORK/one.txt" -r targets/releases -p >/dev/null \
  || fail "publish into targets/releases"
out=$("${N2[@]}" list "$GUN")
expect_in "alice/tool" "$out"; expect_in "targets/alice" "$out"; expect_in "release-1" "$out"
# A target outside the delegation's paths is refused by the client before publishing; the
# server's own check is covered by the unit tests.
"${N1[@]}" delegation remove "$GUN" targets/alice -y -p >/dev/null || fail "delegation remove"
out=$("${N2[@]}" list "$GUN"); expect_not_in "alice/tool" "$out"

step "witness re-signs a delegation"
"${N1[@]}" witness "$GUN" targets/releases -p >/dev/null || fail "witness"

step "key rotation: snapshot and timestamp to the server, targets by the client"
"${N1[@]}" key rotate "$GUN" snapshot -r >/dev/null || fail "rotate snapshot -r"
"${N1[@]}" key rotate "$GUN" timestamp -r >/dev/null || fail "rotate timestamp -r"
"${N1[@]}" key rotate "$GUN" targets >/dev/null || fail "rotate targets"
"${N1[@]}" add "$GUN" v3 "$WORK/one.txt" -p >/dev/null || fail "publish after rotations"
out=$("${N2[@]}" list "$GUN"); expect_in "v3" "$out"

step "root rotation: a fresh client and the old client both follow"
"${N1[@]}" key rotate "$GUN" root >/dev/null || fail "rotate root"
out=$("${N2[@]}" list "$GUN") || fail "old client after root rotation: $out"
expect_in "v3" "$out"
out=$(notary -d "$WORK/trust3" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN") \
  || fail "fresh client after root rotation"
expect_in "v3" "$out"

step "delete --remote, then init again"
"${N1[@]}" delete "$GUN" --remote >/dev/null || fail "delete --remote"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$URL/v2/$GUN/_trust/tuf/root.json")
[ "$code" = 404 ] || fail "root.json after delete: HTTP $code"
"${N1[@]}" init "$GUN" -p >/dev/null || fail "re-init after delete"

step "metadata survives a restart (RocksDB)"
"${N1[@]}" add "$GUN" after-restart "$WORK/one.txt" -p >/dev/null
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || fail "server did not exit cleanly on SIGTERM"
SERVER_PID=
"$VOUCH_SERVER" --http-addr "127.0.0.1:${ADDR##*:}" --tls-cert "$WORK/server.pem" \
  --tls-key "$WORK/server.key" --storage rocksdb --db-path "$WORK/db" --insecure-no-auth \
  >"$WORK/server.out" 2>>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q "^listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
out=$(notary -d "$WORK/trust4" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN") || fail "list after restart"
expect_in "after-restart" "$out"

echo "notary CLI interop: all steps passed"
