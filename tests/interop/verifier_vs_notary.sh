#!/usr/bin/env bash
# Interop: vouch-verifier deciding on trust data that the REAL notary 0.7 CLI published, on the
# REAL notary-server (memory storage, local trust service) and, in a second pass, on
# vouch-server (RocksDB, embedded key store). Every decision is asked three ways and each
# answer's JSON is inspected (verdict, code, reason text, digest), not only exit codes:
#   - POST /v1/verify on the daemon;
#   - an AdmissionReview v1 (a Pod) on /validate and, for admitted images, on /mutate (the
#     JSON patch must pin the image to the digest notary signed);
#   - `vouch verify-image <ref> --policy <file> --output json` (one-shot, no cache).
#
# The policy: team qa (alice: an openssl certificate; carol: another), team ops (bob: a key
# from `notary key generate -r targets/bob -o`, docker-style role targets/bob); mallory,
# whose delegation key belongs to nobody. Trust sections pin the root key ID that `notary
# init` created (read from notary's own trust directory), with the servers' CA.
#
# Per pass (notary-server, then vouch-server):
#   member signs a tag (targets/releases) -> allowed, digest = `notary lookup`; a digest
#   reference of it -> allowed; two teams and min-signers 2 (alice in targets/releases, bob in
#   targets/bob) -> allowed, and denied naming team ops when bob did not sign; mallory's tag ->
#   denied naming team qa; a digest nobody signed, a tag with another tag's digest, a GUN
#   nobody published, a GUN without a trust section, an image no rule matches -> denied; a
#   repository whose root is not the pinned one -> denied. Then notary removes carol's key, the
#   only one, from targets/carol (notary then writes "keyids": null) and narrows targets/scoped (alice) from all paths to "beta-":
#   carol-1 and outside-1, signed before, are denied (threshold not met; outside the paths,
#   also by digest), beta-1 inside the paths is still allowed.
# Pinning: a policy without a pin and without TOFU is refused (verify-image and the daemon);
# TOFU when the policy says so admits; a root CA that did not issue the root denies; the root
# key's canonical ID from `notary key list` pins every repository notary init made with that
# key (a second one under the prefix), while another root key, or a certificate ID pin for
# another repository, is refused with an error naming the policy's root_keys.
# Tampering: notary-server's files served by a small static HTTPS server (python3) from a
# copied tree: one byte of targets/releases.json changed, the timestamp re-signed with a wrong
# key -> denied with the verification reason; the pristine copy -> allowed.
# Fail closed: notary-server stopped -> denied; vouch-server stopped -> denied, restarted (its
# data is durable) -> allowed again.
# Root rotation (per pass, the policy still pinning the v1 root key): `notary key rotate <gun>
# root` (notary-server) and `vouch key rotate <gun> root -y` (vouch-server) -> a tag signed
# after it is allowed by the running daemon, by a fresh verify-image, and by a restarted
# daemon (its anchor kept in trust.state_dir); strict_pinning denies it.
#
#   verifier_vs_notary.sh <vouch-verifier> <vouch> <vouch-server>
#
# On every exit path the script stops only the processes it started, by their saved PIDs, and
# removes its temporary directory.
set -euo pipefail
VOUCH_VERIFIER=${1:?usage: $0 <vouch-verifier binary> <vouch binary> <vouch-server binary>}
VOUCH=${2:?usage: $0 <vouch-verifier binary> <vouch binary> <vouch-server binary>}
VOUCH_SERVER=${3:?usage: $0 <vouch-verifier binary> <vouch binary> <vouch-server binary>}
for tool in notary notary-server openssl curl jq python3 sha256sum base64 setsid; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

NS_PID=       # notary-server
MIRROR_PID=   # the static HTTPS server of copied (and tampered) trust data
VERIFIER_PID= # vouch-verifier
_stop_pid() {  # _stop_pid <pid>: SIGTERM one process this script started, and reap it
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1"; wait "$1" 2>/dev/null || true
  fi
}
_verifier_interop_cleanup() {
  _stop_pid "$VERIFIER_PID"
  _stop_pid "$MIRROR_PID"
  _stop_pid "$NS_PID"
  _vouch_cleanup
}
trap _verifier_interop_cleanup EXIT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
fail() {
  echo "FAIL: $*" >&2
  for log in verifier.log server.log notary-server.log mirror.log; do
    if [ -s "$WORK/$log" ]; then echo "--- tail of $log" >&2; tail -15 "$WORK/$log" >&2; fi
  done
  exit 1
}

# Test passphrases (throwaway keys), for the notary CLI only.
export NOTARY_ROOT_PASSPHRASE=verifier-interop-root
export NOTARY_TARGETS_PASSPHRASE=verifier-interop-targets
export NOTARY_SNAPSHOT_PASSPHRASE=verifier-interop-snapshot
export NOTARY_DELEGATION_PASSPHRASE=verifier-interop-delegation
unset NOTARY_AUTH VOUCH_KEY_FORMAT
echo '{}' >"$WORK/notary-config.json"

# nt <trust dir> <server URL> <args...>: the real notary CLI, never waiting for input.
nt() {
  local dir=$1 url=$2; shift 2
  notary -c "$WORK/notary-config.json" -d "$WORK/$dir" -s "$url" --tlscacert "$WORK/ca.pem" "$@" </dev/null
}
sha256() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }
# wait_for_line <file> <regex> <pid> <what>: until the process prints the line (the bound only
# keeps a hung start from hanging the test; it is not a performance check).
wait_for_line() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || fail "$4 exited at start: $(cat "$1")"
    sleep 0.1
  done
  fail "$4 did not start"
}

# ---- servers ---------------------------------------------------------------------------------
step "TLS certificates; vouch-server (RocksDB); the real notary-server (memory storage)"
vouch_make_tls
vouch_start 127.0.0.1:0
VURL=$URL
VPORT=$PORT

# (The port is chosen free just before the start; another process may take it in between.)
notary_server_start || notary_server_start || fail "notary-server did not start"
echo "notary-server (pid $NS_PID) at $NURL"

step "a static HTTPS server for copies of notary-server's files (python3)"
# GET /v2/<gun>/_trust/tuf/<file> answers $WORK/mirror/<gun>/<file> as it is on disk now. A
# consistent name <role>.<sha256>.json is answered with <role>.json whatever its hash: the
# verifier must check it. Anything else is 404.
mkdir -p "$WORK/mirror"
cat >"$WORK/mirror.py" <<'EOF'
import http.server, os, re, ssl, sys
root, cert, key = sys.argv[1:4]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        m = re.fullmatch(r"/v2/(.+)/_trust/tuf/([A-Za-z0-9/._-]+)", self.path)
        body = None
        if m and ".." not in self.path:
            gun, name = m.groups()
            path = os.path.join(root, gun, name)
            if not os.path.isfile(path):
                c = re.fullmatch(r"(.+)\.[0-9a-f]{64}\.json", name)
                path = os.path.join(root, gun, c.group(1) + ".json") if c else path
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    body = f.read()
        if body is None:
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        sys.stderr.write("mirror: " + (fmt % args) + "\n")
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("listening on %d" % server.server_address[1], flush=True)
server.serve_forever()
EOF
python3 "$WORK/mirror.py" "$WORK/mirror" "$WORK/server.pem" "$WORK/server.key" \
  >"$WORK/mirror.out" 2>>"$WORK/mirror.log" </dev/null &
MIRROR_PID=$!
wait_for_line "$WORK/mirror.out" "^listening on " "$MIRROR_PID" "the static HTTPS server"
MURL="https://127.0.0.1:$(sed -n 's/^listening on //p' "$WORK/mirror.out")"
echo "static HTTPS server (pid $MIRROR_PID) at $MURL"

# ---- keys of the team members (and of mallory, who is in no team) -----------------------------
step "member keys: openssl certificates (alice, carol; mallory: no team), notary key generate -o (bob)"
new_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
    -subj "/CN=$1" -keyout "$WORK/$1.key" -out "$WORK/$1.crt" 2>/dev/null
  chmod 600 "$WORK/$1.key"
}
new_cert alice; new_cert carol; new_cert mallory
run 0 nt keygen "$NURL" key generate -r targets/bob -o "$WORK/bob"
{ [ -s "$WORK/bob.pem" ] && [ -s "$WORK/bob-key.pem" ]; } || fail "notary key generate -o wrote no files"
grep -q "^role: targets/bob" "$WORK/bob.pem" || fail "bob.pem has no role header"
# notary 0.7 cannot import the encrypted file it wrote with -o (no path header): decrypt it
# for `notary key import` (notary asks for the delegation passphrase of -o keys).
grep -v -e '^role:' "$WORK/bob-key.pem" |
  openssl pkey -passin env:NOTARY_DELEGATION_PASSPHRASE -out "$WORK/bob.key" 2>>"$LOG" ||
  fail "cannot decrypt notary's key file for bob"
chmod 600 "$WORK/bob.key"

# ---- what notary publishes --------------------------------------------------------------------
printf '{"schemaVersion": 2, "tag": "1.0"}\n' >"$WORK/m-1.0"
printf '{"schemaVersion": 2, "tag": "dual-1"}\n' >"$WORK/m-dual-1"
printf '{"schemaVersion": 2, "tag": "dual-2"}\n' >"$WORK/m-dual-2"
printf '{"schemaVersion": 2, "tag": "carol-1"}\n' >"$WORK/m-carol-1"
printf '{"schemaVersion": 2, "tag": "evil"}\n' >"$WORK/m-evil"
printf '{"schemaVersion": 2, "tag": "beta-1"}\n' >"$WORK/m-beta-1"
printf '{"schemaVersion": 2, "tag": "outside-1"}\n' >"$WORK/m-outside-1"
printf 'a manifest that nobody signed\n' >"$WORK/m-unsigned"
declare -A DIGEST   # "<GUN>:<tag>" -> sha256:<hex>, as `notary lookup` prints it
declare -A LENGTH

# lookup <trust dir> <url> <gun> <tag>: records what `notary lookup` prints, and checks that
# it is the digest and size of the manifest file that was signed for the tag.
lookup() {
  local dir=$1 url=$2 gun=$3 tag=$4 digest len
  run 0 nt "$dir" "$url" lookup "$gun" "$tag"
  read -r _ digest len < <(grep "^$tag sha256:" <<<"$out") || fail "notary lookup $gun $tag: $out"
  if [ "$digest" != "sha256:$(sha256 "$WORK/m-$tag")" ] || [ "$len" != "$(size "$WORK/m-$tag")" ]; then
    fail "notary lookup $gun $tag: $out"
  fi
  DIGEST["$gun:$tag"]=$digest
  LENGTH["$gun:$tag"]=$len
}
# pinned_root <trust dir> <gun>: the root key ID in the root.json notary cached at init (the
# ID root.json lists for the root role, as policies pin it); the server must serve the same.
pinned_root() {
  local file="$WORK/$1/tuf/$2/metadata/root.json" id
  id=$(jq -r '.signed.roles.root.keyids[0]' "$file") || fail "no root.json from notary for $2"
  [[ $id =~ ^[0-9a-f]{64}$ ]] || fail "root key ID of $2: $id"
  echo "$id"
}

# publish_repository <pass> <url>: notary init -p of registry.example.com/<pass>/app; the
# delegations releases (alice), bob (bob, docker-style), carol (carol), mallory (mallory) and
# scoped (alice, all paths for now); the tags; and a second repository /other initialized
# from another trust directory (so with another root key), which alice signs too.
publish_repository() {
  local pass=$1 url=$2 dir="trust-$1" gun="registry.example.com/$1/app"
  step "($pass) notary init -p $gun, delegations, member keys imported"
  run 0 nt "$dir" "$url" init "$gun" -p
  expect_in "Successfully published changes for repository $gun" "$out"
  run 0 nt "$dir" "$url" delegation add "$gun" targets/releases "$WORK/alice.crt" --all-paths
  run 0 nt "$dir" "$url" delegation add "$gun" targets/bob "$WORK/bob.pem" --all-paths
  run 0 nt "$dir" "$url" delegation add "$gun" targets/carol "$WORK/carol.crt" --all-paths
  CAROL_ID=$(sed -n 's/.*with keys \[\([0-9a-f]\{64\}\)\].*/\1/p' <<<"$out")
  [ -n "$CAROL_ID" ] || fail "no key ID in: $out"
  run 0 nt "$dir" "$url" delegation add "$gun" targets/mallory "$WORK/mallory.crt" --all-paths
  run 0 nt "$dir" "$url" delegation add "$gun" targets/scoped "$WORK/alice.crt" --all-paths -p
  expect_in "Successfully published changes for repository $gun" "$out"
  run 0 nt "$dir" "$url" key import "$WORK/alice.key" -r targets/releases
  run 0 nt "$dir" "$url" key import "$WORK/bob.key" -r targets/bob
  run 0 nt "$dir" "$url" key import "$WORK/carol.key" -r targets/carol
  run 0 nt "$dir" "$url" key import "$WORK/mallory.key" -r targets/mallory

  step "($pass) members sign tags into their delegations; publish; notary lookup"
  run 0 nt "$dir" "$url" add "$gun" 1.0 "$WORK/m-1.0" -r targets/releases
  run 0 nt "$dir" "$url" add "$gun" dual-1 "$WORK/m-dual-1" -r targets/releases
  run 0 nt "$dir" "$url" add "$gun" dual-1 "$WORK/m-dual-1" -r targets/bob
  run 0 nt "$dir" "$url" add "$gun" dual-2 "$WORK/m-dual-2" -r targets/releases
  run 0 nt "$dir" "$url" add "$gun" carol-1 "$WORK/m-carol-1" -r targets/carol
  run 0 nt "$dir" "$url" add "$gun" evil "$WORK/m-evil" -r targets/mallory
  run 0 nt "$dir" "$url" add "$gun" beta-1 "$WORK/m-beta-1" -r targets/scoped
  run 0 nt "$dir" "$url" add "$gun" outside-1 "$WORK/m-outside-1" -r targets/scoped
  run 0 nt "$dir" "$url" publish "$gun"
  expect_in "Successfully published changes for repository $gun" "$out"
  for tag in 1.0 dual-1 dual-2 carol-1 evil beta-1 outside-1; do lookup "$dir" "$url" "$gun" "$tag"; done
  [ "$(curl -sf --cacert "$WORK/ca.pem" "$url/v2/$gun/_trust/tuf/root.json" | jq -r '.signed.roles.root.keyids[0]')" \
    = "$(pinned_root "$dir" "$gun")" ] || fail "the server serves another root for $gun"

  step "($pass) a second repository with its own root key (not the pinned one)"
  local other="registry.example.com/$pass/other"
  run 0 nt "$dir-other" "$url" init "$other" -p
  run 0 nt "$dir-other" "$url" delegation add "$other" targets/releases "$WORK/alice.crt" --all-paths -p
  run 0 nt "$dir-other" "$url" key import "$WORK/alice.key" -r targets/releases
  run 0 nt "$dir-other" "$url" add "$other" 1.0 "$WORK/m-1.0" -r targets/releases -p
  lookup "$dir-other" "$url" "$other" 1.0
  [ "$(pinned_root "$dir-other" "$other")" != "$(pinned_root "$dir" "$gun")" ] \
    || fail "both repositories have the same root key"
}

publish_repository ns "$NURL"
NS_CAROL_ID=$CAROL_ID
publish_repository vs "$VURL"
VS_CAROL_ID=$CAROL_ID
NS_ROOT=$(pinned_root trust-ns registry.example.com/ns/app)
VS_ROOT=$(pinned_root trust-vs registry.example.com/vs/app)

MGUN=registry.example.com/mirror/app
step "a repository on notary-server whose files the static server serves (copies)"
run 0 nt trust-mirror "$NURL" init "$MGUN" -p
run 0 nt trust-mirror "$NURL" delegation add "$MGUN" targets/releases "$WORK/alice.crt" --all-paths -p
run 0 nt trust-mirror "$NURL" key import "$WORK/alice.key" -r targets/releases
run 0 nt trust-mirror "$NURL" add "$MGUN" 1.0 "$WORK/m-1.0" -r targets/releases -p
lookup trust-mirror "$NURL" "$MGUN" 1.0
MIRROR_ROOT=$(pinned_root trust-mirror "$MGUN")
mkdir -p "$WORK/pristine/$MGUN/targets"
for role in root timestamp snapshot targets targets/releases; do
  curl -sf --cacert "$WORK/ca.pem" -o "$WORK/pristine/$MGUN/$role.json" \
    "$NURL/v2/$MGUN/_trust/tuf/$role.json" || fail "GET $role.json of $MGUN from notary-server"
done
# mirror_serve <tree>: the static server answers from a copy of <tree> from now on.
mirror_serve() { rm -rf "$WORK/mirror.new"; cp -a "$1" "$WORK/mirror.new"; rm -rf "$WORK/mirror"; mv "$WORK/mirror.new" "$WORK/mirror"; }
mirror_serve "$WORK/pristine"
cmp -s <(curl -sf --cacert "$WORK/ca.pem" "$MURL/v2/$MGUN/_trust/tuf/targets/releases.json") \
  "$WORK/pristine/$MGUN/targets/releases.json" || fail "the static server does not serve the copy"

# ---- the policy and the verifier -------------------------------------------------------------
step "the policy: teams qa and ops, the pinned roots, the rules; vouch-verifier"
section() {  # section <prefix> <server> <pinned root key ID>
  jq -n --arg p "$1" --arg s "$2" --arg k "$3" --rawfile ca "$WORK/ca.pem" \
    '{prefix: $p, server: $s, tls_ca: $ca, root_keys: [$k]}'
}
jq -n --rawfile alice "$WORK/alice.crt" --rawfile carol "$WORK/carol.crt" --rawfile bob "$WORK/bob.pem" \
  --argjson ns "$(section registry.example.com/ns "$NURL" "$NS_ROOT")" \
  --argjson vs "$(section registry.example.com/vs "$VURL" "$VS_ROOT")" \
  --argjson mirror "$(section registry.example.com/mirror "$MURL" "$MIRROR_ROOT")" '{
  version: 1, unmatched: "deny",
  teams: {
    qa: {members: [{name: "alice", keys: [$alice]}, {name: "carol", keys: [$carol]}]},
    ops: {members: [{name: "bob", keys: [$bob]}]}
  },
  trust: [$ns, $vs, $mirror],
  rules: [
    {name: "apps", pattern: "registry.example.com/*/*", require: {"all-of": ["qa"]}},
    {name: "dual", pattern: "registry.example.com/*/app:dual-*",
     require: {"all-of": ["qa", "ops"], "min-signers": 2}},
    {name: "scoped", pattern: "registry.example.com/*/app:outside-*",
     require: {"any-of": ["qa"], roles: ["targets/scoped"]}}
  ]}' >"$WORK/policy.json"
POLICY="$WORK/policy.json"

VERIFIER_URL=
verifier_start() {  # verifier_start <policy file>: starts the daemon on a free port
  cat >"$WORK/verifier.json" <<EOF
{
  "server": {"listen": "127.0.0.1:0", "tls_cert_file": "$WORK/server.pem", "tls_key_file": "$WORK/server.key"},
  "metrics": {"listen": "127.0.0.1:0"},
  "policy": {"file": "$1", "poll_ms": 0},
  "trust": {"max_age_ms": 0, "refresh_after_ms": 0, "error_ttl_ms": 0,
            "connect_timeout_ms": 5000, "request_timeout_ms": 20000,
            "state_dir": "$WORK/verifier-state"},
  "admission": {"deadline_ms": 60000},
  "logging": {"level": "info", "format": "text"}
}
EOF
  "$VOUCH_VERIFIER" --config "$WORK/verifier.json" >"$WORK/verifier.out" 2>>"$WORK/verifier.log" </dev/null &
  VERIFIER_PID=$!
  wait_for_line "$WORK/verifier.out" "^listening on 127.0.0.1:[0-9]" "$VERIFIER_PID" "vouch-verifier"
  VERIFIER_URL="https://$(sed -n 's/^listening on //p' "$WORK/verifier.out")"
  echo "vouch-verifier (pid $VERIFIER_PID) at $VERIFIER_URL"
}

step "a policy with neither a pinned root nor TOFU is refused (no trust on first use)"
jq '(.trust[] | select(.prefix == "registry.example.com/ns")) |= del(.root_keys)' "$POLICY" >"$WORK/policy-nopin.json"
rc=0; out=$(setsid -w "$VOUCH" verify-image registry.example.com/ns/app:1.0 --policy "$WORK/policy-nopin.json" \
  --output json 2>&1 </dev/null) || rc=$?
printf '%s\n' "$out" >>"$LOG"
[ "$rc" = 1 ] || fail "verify-image with an unpinned policy: exit $rc
$out"
expect_in "trust[0]" "$out"; expect_in "tofu" "$out"
"$VOUCH_VERIFIER" --policy "$WORK/policy-nopin.json" --tls-cert "$WORK/server.pem" \
  --tls-key "$WORK/server.key" --listen 127.0.0.1:0 --metrics-addr "" >"$WORK/nopin.out" 2>&1 </dev/null &
VERIFIER_PID=$!
for _ in $(seq 1 600); do   # (a bound against a hang, not a performance check)
  kill -0 "$VERIFIER_PID" 2>/dev/null || break
  if grep -q "^listening on" "$WORK/nopin.out"; then fail "vouch-verifier started with an unpinned policy"; fi
  sleep 0.1
done
kill -0 "$VERIFIER_PID" 2>/dev/null && fail "vouch-verifier neither started nor exited with an unpinned policy"
rc=0; wait "$VERIFIER_PID" || rc=$?
VERIFIER_PID=
[ "$rc" != 0 ] || fail "vouch-verifier exited 0 with an unpinned policy"
grep -qF "tofu" "$WORK/nopin.out" || fail "vouch-verifier's refusal does not name tofu: $(cat "$WORK/nopin.out")"

verifier_start "$POLICY"

# ---- asking the verifier --------------------------------------------------------------------
UID_N=0
# post <path> <body file>: $out = the answer (HTTP 200 required).
post() {
  local code
  code=$(curl -sS -o "$WORK/answer.json" -w '%{http_code}' --cacert "$WORK/ca.pem" \
    -H 'Content-Type: application/json' --data-binary "@$2" "$VERIFIER_URL$1") \
    || fail "POST $1: curl failed"
  out=$(cat "$WORK/answer.json"); printf '%s\n' "$out" >>"$LOG"
  [ "$code" = 200 ] || fail "POST $1: HTTP $code: $out"
}
pod_review() {  # pod_review <uid> <image>
  jq -n --arg uid "$1" --arg image "$2" '{apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
    request: {uid: $uid, kind: {group: "", version: "v1", kind: "Pod"},
      resource: {group: "", version: "v1", resource: "pods"}, namespace: "prod",
      operation: "CREATE", userInfo: {username: "interop"},
      object: {apiVersion: "v1", kind: "Pod", metadata: {name: "app", namespace: "prod"},
               spec: {containers: [{name: "app", image: $image}]}},
      dryRun: false}}'
}

# decide <image> <allow|deny> <code> <reason fragment> [digest]: asks the daemon's
# /v1/verify, `vouch verify-image`, /validate and (for allow) /mutate, and checks every answer.
# For allow, <digest> is required and must be the verified digest (its length too); for a
# deny with a digest, the digest the trust data signs. Sets $DECISION to /v1/verify's answer.
decide() {
  local image=$1 verdict=$2 code=$3 fragment=$4 digest=${5:-} allowed=false want_rc uid answer
  [ "$verdict" = allow ] && allowed=true
  jq -n --arg i "$image" '{image: $i, namespace: "prod"}' >"$WORK/verify-request.json"
  post /v1/verify "$WORK/verify-request.json"
  DECISION=$out
  local common=".allowed == $allowed and .verdict == \"$verdict\" and .code == \"$code\"
    and (.message | contains(\$f))"
  if [ -n "$digest" ]; then common="$common and .digest == \"$digest\""; fi
  if [ "$verdict" = allow ]; then
    [ -n "$digest" ] || fail "decide: an allow needs the expected digest"
    common="$common and .length == ${LENGTH_OF:-0}"
  fi
  [ "$(jq -e --arg f "$fragment" "$common" <<<"$DECISION" 2>/dev/null)" = true ] \
    || fail "/v1/verify $image: expected $verdict/$code with \"$fragment\" ${digest:+and $digest}:
$DECISION"

  # vouch verify-image: the same decision, one-shot (exit 0 admitted, 2 deny; a deny for want
  # of trust data is 3 when the server is unreachable or unavailable, 4 for credentials).
  want_rc=0
  if [ "$verdict" = deny ]; then
    want_rc=$(jq -r '.trust_error as $e | if $e == null then 2
      elif $e.reason == "no_passphrase" or $e.code == "UNAUTHENTICATED"
        or ($e.code == "PERMISSION_DENIED" and $e.reason == "none") then 4
      elif $e.reason == "unavailable" or $e.code == "UNAVAILABLE"
        or $e.code == "DEADLINE_EXCEEDED" then 3
      else 2 end' <<<"$DECISION")
  fi
  local rc=0
  answer=$(setsid -w "$VOUCH" verify-image "$image" --policy "$POLICY" --output json 2>"$WORK/vi.err" </dev/null) || rc=$?
  cat "$WORK/vi.err" >>"$LOG"; printf '%s\n' "$answer" >>"$LOG"
  [ "$rc" = "$want_rc" ] || fail "vouch verify-image $image: exit $rc, expected $want_rc:
$answer
$(cat "$WORK/vi.err")"
  [ "$(jq -e --arg f "$fragment" "$common" <<<"$answer" 2>/dev/null)" = true ] \
    || fail "vouch verify-image $image: expected $verdict/$code with \"$fragment\":
$answer"
  [ "$(jq -c '{verdict, code, rule, gun, digest, length, policy_version, signers, requirements}' <<<"$answer")" = \
    "$(jq -c '{verdict, code, rule, gun, digest, length, policy_version, signers, requirements}' <<<"$DECISION")" ] \
    || fail "vouch verify-image and /v1/verify disagree on $image:
$answer
$DECISION"

  # The validating webhook.
  UID_N=$((UID_N + 1)); uid="interop-$UID_N"
  pod_review "$uid" "$image" >"$WORK/review.json"
  post /validate "$WORK/review.json"
  check ".apiVersion == \"admission.k8s.io/v1\" and .kind == \"AdmissionReview\"
         and .response.uid == \"$uid\" and .response.allowed == $allowed" "$out" "/validate $image"
  if [ "$verdict" = deny ]; then
    [ "$(jq -e --arg f "$fragment" --arg i "image $image (container app)" \
      '.response.status.code == 403 and (.response.status.message | contains($i) and contains($f))' \
      <<<"$out" 2>/dev/null)" = true ] || fail "/validate $image: the deny does not say why:
$out"
    check '.response.patch == null' "$out" "/validate $image has no patch"
    return 0
  fi
  check '.response.patch == null' "$out" "/validate $image has no patch"

  # The mutating webhook pins the image to the digest notary signed, keeping the tag
  # (name:tag@<digest>); an image written with that digest already is pinned, and is left
  # alone.
  UID_N=$((UID_N + 1)); uid="interop-$UID_N"
  pod_review "$uid" "$image" >"$WORK/review.json"
  post /mutate "$WORK/review.json"
  if [ "$image" = "${image%%@*}@$digest" ]; then
    check ".response.uid == \"$uid\" and .response.allowed == true and .response.patch == null" \
      "$out" "/mutate $image (already pinned)"
    return 0
  fi
  check ".response.uid == \"$uid\" and .response.allowed == true and .response.patchType == \"JSONPatch\"" \
    "$out" "/mutate $image"
  local patch
  patch=$(jq -r .response.patch <<<"$out" | base64 -d) || fail "/mutate $image: patch is not base64"
  check "[.[] | select(.op == \"replace\")] == [{\"op\": \"replace\", \"path\": \"/spec/containers/0/image\",
          \"value\": \"$image@$digest\"}]
         and ([.[] | select(.op == \"test\")] | length) == 1
         and ([.[] | select(.op == \"test\")][0].value == \"$image\")" "$patch" "/mutate $image patch"
}
# allowed <gun> <tag> [image]: decide(allow) with the digest and length notary lookup printed.
allowed() {
  local key="$1:$2" image=${3:-$1:$2} fragment
  fragment="signed by"
  LENGTH_OF=${LENGTH[$key]} decide "$image" allow signed "$fragment" "${DIGEST[$key]}"
}
# signer_check <jq filter>: on the last /v1/verify answer.
signer_check() { check "$1" "$DECISION" "signers/requirements"; }

# ---- per pass: the decisions -------------------------------------------------------------------
checks_published() {  # checks_published <pass>
  local pass=$1 gun="registry.example.com/$1/app"
  step "($pass) alice (team qa) signed 1.0 in targets/releases -> allowed, digest = notary lookup"
  allowed "$gun" 1.0
  signer_check '.rule == "apps" and .signers == [.signers[0]] and .signers[0].role == "targets/releases"
    and .signers[0].member == "alice" and .signers[0].teams == ["qa"] and .signers[0].counted
    and .requirements == [{"requirement": "team qa", "met": true, "members": ["alice"]}]'
  step "($pass) the digest reference of 1.0 -> allowed (every delegation loaded)"
  allowed "$gun" 1.0 "$gun@${DIGEST[$gun:1.0]}"
  step "($pass) tag and digest together: the tag's digest -> allowed; another tag's -> denied"
  allowed "$gun" 1.0 "$gun:1.0@${DIGEST[$gun:1.0]}"
  decide "$gun:1.0@${DIGEST[$gun:evil]}" deny digest_mismatch "asks for ${DIGEST[$gun:evil]}"

  step "($pass) two teams, min-signers 2: alice (releases) and bob (docker-style targets/bob)"
  allowed "$gun" dual-1
  signer_check '.rule == "dual" and ([.signers[] | select(.counted) | "\(.member) \(.role)"] | sort)
    == ["alice targets/releases", "bob targets/bob"]
    and ([.requirements[] | .met] | all) and (.requirements | length) == 3'
  step "($pass) only alice signed dual-2 -> denied, naming team ops"
  decide "$gun:dual-2" deny requirements_not_met \
    'rule "dual" requires a signature from team ops' "${DIGEST[$gun:dual-2]}"
  signer_check '.requirements[] | select(.requirement == "team ops") | .met == false'

  step "($pass) mallory (no team) signed evil -> denied, naming team qa"
  decide "$gun:evil" deny requirements_not_met \
    'rule "apps" requires a signature from team qa, and no member of it signed tag evil'
  # (No signer counts, so there is no verified digest to report.)
  signer_check '[.signers[] | {role, member, counted}] == [{"role": "targets/mallory", "member": "", "counted": false}]
    and .digest == "" and (.message | contains("signed only with key"))'

  step "($pass) carol (qa, targets/carol) and alice in targets/scoped (all paths so far) -> allowed"
  allowed "$gun" carol-1
  signer_check '[.signers[] | select(.counted) | "\(.member) \(.role)"] == ["carol targets/carol"]'
  allowed "$gun" beta-1
  allowed "$gun" outside-1
  signer_check '.rule == "scoped" and [.signers[] | select(.counted) | "\(.member) \(.role)"] == ["alice targets/scoped"]'
  allowed "$gun" outside-1 "$gun@${DIGEST[$gun:outside-1]}"

  step "($pass) unsigned: a tag nobody signed, a digest nobody signed -> denied"
  decide "$gun:9.9" deny not_signed "tag 9.9 of $gun is not signed by any trusted role"
  decide "$gun@sha256:$(sha256 "$WORK/m-unsigned")" deny not_signed \
    "digest sha256:$(sha256 "$WORK/m-unsigned") of $gun is not signed"

  step "($pass) a GUN nobody published; a GUN without a trust section; no rule -> denied"
  decide "registry.example.com/$pass/ghost:1.0" deny trust_unavailable \
    "the trust data of registry.example.com/$pass/ghost could not be verified"
  check '.trust_error.reason == "not_found"' "$DECISION" "ghost: not_found"
  decide "registry.example.com/unknown/app:1.0" deny trust_unavailable "registry.example.com/unknown/app"
  decide "elsewhere.example.org/$pass/app:1.0" deny no_rule "no rule of the policy matches elsewhere.example.org/$pass/app:1.0"

  step "($pass) a repository whose root is not the pinned one -> denied"
  decide "registry.example.com/$pass/other:1.0" deny trust_unavailable \
    "the trust data of registry.example.com/$pass/other could not be verified"
  check '.trust_error != null and .digest == ""' "$DECISION" "other: trust error"
}

checks_after_changes() {  # checks_after_changes <pass> <url> <carol's key ID>
  local pass=$1 url=$2 carol_id=$3 dir="trust-$1" gun="registry.example.com/$1/app"
  step "($pass) notary removes carol's key from targets/carol, publish -> carol-1 denied"
  run 0 nt "$dir" "$url" delegation remove "$gun" targets/carol "$carol_id" -p
  expect_in "Successfully published changes for repository $gun" "$out"
  curl -sf --cacert "$WORK/ca.pem" "$url/v2/$gun/_trust/tuf/targets.json" |
    jq -e '.signed.delegations.roles[] | select(.name == "targets/carol") | .keyids == null' >/dev/null \
    || fail "targets/carol should be left with \"keyids\": null (notary's nil slice)"
  decide "$gun:carol-1" deny not_signed "tag carol-1 of $gun is not signed"
  signer_check '.signers == [] and ([.role_issues[] | {role, reason}]
    == [{"role": "targets/carol", "reason": "threshold_not_met"}])'
  allowed "$gun" 1.0   # the rest of the repository is unaffected

  step "($pass) notary narrows targets/scoped to beta-: outside-1 (signed before) no longer counts"
  run 0 nt "$dir" "$url" delegation remove "$gun" targets/scoped --all-paths -p
  run 0 nt "$dir" "$url" delegation add "$gun" targets/scoped --paths beta- -p
  expect_in "Successfully published changes for repository $gun" "$out"
  curl -sf --cacert "$WORK/ca.pem" "$url/v2/$gun/_trust/tuf/targets/scoped.json" |
    jq -e '.signed.targets | has("outside-1")' >/dev/null || fail "targets/scoped no longer lists outside-1"
  decide "$gun:outside-1" deny not_signed "tag outside-1 of $gun is not signed"
  signer_check '.signers == [] and .rule == "scoped" and ([.role_issues[] | select(.role == "targets/scoped")
    | {reason, message}] == [{"reason": "bad_path",
      "message": "targets/scoped may not sign tag outside-1 (its delegated paths do not cover it)"}])'
  # Its digest: every delegation is loaded, targets/scoped too, and still it does not count.
  decide "$gun@${DIGEST[$gun:outside-1]}" deny not_signed \
    "digest ${DIGEST[$gun:outside-1]} of $gun is not signed"
  allowed "$gun" beta-1
  signer_check '[.signers[] | select(.counted) | "\(.member) \(.role)"] == ["alice targets/scoped"]'
}

# checks_root_rotation <pass> <url> <notary|vouch>: the repository owner rotates the root key
# with that CLI (root v2, cross-signed by the v1 key), then signs a new tag. The policy still
# pins the v1 root key: the running daemon follows the rotation from its anchor, a fresh
# `vouch verify-image` anchors at v1 (the pinned one) and walks to v2, a restarted daemon
# starts from the anchor it kept in trust.state_dir, and strict_pinning refuses v2.
checks_root_rotation() {
  local pass=$1 url=$2 cli=$3 dir="trust-$1" gun="registry.example.com/$1/app" before after
  step "($pass) $cli key rotate $gun root: root v2 with a new key, cross-signed by the pinned one"
  before=$(curl -sf --cacert "$WORK/ca.pem" "$url/v2/$gun/_trust/tuf/root.json")
  if [ "$cli" = notary ]; then
    # notary asks for confirmation on stdin (and aborts with status 0 without it).
    out=$(printf 'yes\n' | notary -c "$WORK/notary-config.json" -d "$WORK/$dir" -s "$url" \
      --tlscacert "$WORK/ca.pem" key rotate "$gun" root 2>&1) || fail "notary key rotate root: $out"
  else
    out=$(VOUCH_KEY_FORMAT=notary setsid -w "$VOUCH" -d "$WORK/$dir" -s "$url" \
      --tlscacert "$WORK/ca.pem" key rotate "$gun" root -y 2>&1 </dev/null) \
      || fail "vouch key rotate root: $out"
  fi
  printf '%s\n' "$out" >>"$LOG"
  after=$(curl -sf --cacert "$WORK/ca.pem" "$url/v2/$gun/_trust/tuf/root.json")
  jq -e --argjson old "$before" '.signed.version == $old.signed.version + 1
    and .signed.roles.root.keyids != $old.signed.roles.root.keyids
    and ([.signatures[].keyid] | contains($old.signed.roles.root.keyids))' <<<"$after" >/dev/null \
    || fail "root after $cli key rotate is not version+1 with a new key cross-signed by the old one"
  printf '{"schemaVersion": 2, "tag": "rot-%s"}\n' "$pass" >"$WORK/m-rot-$pass"
  run 0 nt "$dir" "$url" add "$gun" "rot-$pass" "$WORK/m-rot-$pass" -r targets/releases -p
  lookup "$dir" "$url" "$gun" "rot-$pass"

  step "($pass) still pinned to the v1 root key: tags signed before and after the rotation -> allowed"
  allowed "$gun" "rot-$pass"     # the daemon (anchored before) and verify-image (fresh)
  allowed "$gun" 1.0
  step "($pass) a restarted daemon starts from the anchor it kept (trust.state_dir)"
  _stop_pid "$VERIFIER_PID"; VERIFIER_PID=
  find "$WORK/verifier-state" -path "*/tuf/$gun/metadata/root.json" | grep -q . \
    || fail "no trust anchor of $gun in trust.state_dir"
  verifier_start "$POLICY"
  allowed "$gun" "rot-$pass"
  step "($pass) strict_pinning: root v2 does not match the pin -> denied (exit 2: retrying cannot help)"
  jq --arg p "registry.example.com/$pass" '(.trust[] | select(.prefix == $p)) |= (.strict_pinning = true)' \
    "$POLICY" >"$WORK/policy-strict.json"
  verify_image_json 2 "$WORK/policy-strict.json" "$gun:rot-$pass"
  check '.allowed == false and .code == "trust_unavailable" and (.message | contains("root_keys"))' \
    "$out" "strict pinning after rotation"
}
verify_image_json() {  # verify_image_json <want exit> <policy> <image>: $out = the JSON answer
  local rc=0
  out=$(setsid -w "$VOUCH" verify-image "$3" --policy "$2" --output json 2>"$WORK/vi.err" </dev/null) || rc=$?
  cat "$WORK/vi.err" >>"$LOG"; printf '%s\n' "$out" >>"$LOG"
  [ "$rc" = "$1" ] || fail "verify-image $3 with $2: exit $rc, expected $1: $out $(cat "$WORK/vi.err")"
}

# =============================================================================================
# Pass 1: the notary CLI and the real notary-server
# =============================================================================================
checks_published ns

step "(ns) pinning in other policies: TOFU when allowed admits; a root CA that did not issue the root denies (exit 2: retrying cannot help)"
jq '(.trust[] | select(.prefix == "registry.example.com/ns")) |= (del(.root_keys) | .tofu = true)' \
  "$POLICY" >"$WORK/policy-tofu.json"
jq --rawfile ca "$WORK/ca.pem" '(.trust[] | select(.prefix == "registry.example.com/ns")) |= (del(.root_keys) | .root_ca = $ca | .tofu = false)' \
  "$POLICY" >"$WORK/policy-rootca.json"
for gun in registry.example.com/ns/app registry.example.com/ns/other; do
  verify_image_json 0 "$WORK/policy-tofu.json" "$gun:1.0"
  check ".allowed and .code == \"signed\" and .digest == \"${DIGEST[$gun:1.0]}\"" "$out" "TOFU $gun"
  verify_image_json 2 "$WORK/policy-rootca.json" "$gun:1.0"
  check '.allowed == false and .code == "trust_unavailable" and .digest == "" and .trust_error != null' \
    "$out" "root CA $gun"
done

step "(ns) root_keys by the root key's canonical ID, as \`notary key list\` shows it: every repository made with that key"
# notary init reuses the trust directory's root key: registry.example.com/ns/second gets a
# new root certificate (another certificate ID) of the same key (the same canonical ID).
run 0 nt trust-ns "$NURL" key list
NS_CANONICAL=$(grep -E '^root ' <<<"$out" | grep -oE '\b[0-9a-f]{64}\b' || true)
[[ $NS_CANONICAL =~ ^[0-9a-f]{64}$ ]] || fail "no single root key in notary key list: $out"
[ "$NS_CANONICAL" != "$NS_ROOT" ] || fail "notary key list shows the root certificate ID"
SECOND=registry.example.com/ns/second
run 0 nt trust-ns "$NURL" init "$SECOND" -p
run 0 nt trust-ns "$NURL" delegation add "$SECOND" targets/releases "$WORK/alice.crt" --all-paths -p
run 0 nt trust-ns "$NURL" add "$SECOND" 1.0 "$WORK/m-1.0" -r targets/releases -p
lookup trust-ns "$NURL" "$SECOND" 1.0
[ "$(pinned_root trust-ns "$SECOND")" != "$NS_ROOT" ] || fail "one root certificate for two repositories"
jq --arg k "$NS_CANONICAL" '(.trust[] | select(.prefix == "registry.example.com/ns")) |= (.root_keys = [$k])' \
  "$POLICY" >"$WORK/policy-canonical.json"
for gun in registry.example.com/ns/app "$SECOND"; do
  verify_image_json 0 "$WORK/policy-canonical.json" "$gun:1.0"
  check ".allowed and .code == \"signed\" and .digest == \"${DIGEST[$gun:1.0]}\"" "$out" "canonical pin $gun"
done
# Another root key under the prefix is still refused; the certificate ID pin (the main policy)
# covers its own repository only. Each refusal names the policy's root_keys, not notary's terms.
for pair in "$WORK/policy-canonical.json registry.example.com/ns/other" "$POLICY $SECOND"; do
  read -r policy gun <<<"$pair"
  verify_image_json 2 "$policy" "$gun:1.0"
  check '.allowed == false and .code == "trust_unavailable" and .trust_error.reason == "bad_certificate"
    and (.message | contains("root_keys of the trust section for \"registry.example.com/ns\""))
    and (.message | contains("config entry") | not)' "$out" "refused $gun under $policy"
done

step "(ns) tampered copies of notary-server's files on a static server"
MVERIFY=$MGUN:1.0
mkdir -p "$WORK/tampered"
# One byte of targets/releases.json (inside the signed part: a hash of target 1.0) changed.
rm -rf "$WORK/tampered/releases"; cp -a "$WORK/pristine" "$WORK/tampered/releases"
python3 - "$WORK/tampered/releases/$MGUN/targets/releases.json" <<'EOF'
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
at = data.index(b'"sha256":"') + len(b'"sha256":"') + 3
data[at] = ord("A") if data[at] != ord("A") else ord("B")
open(path, "wb").write(bytes(data))
EOF
[ "$(cmp -l "$WORK/tampered/releases/$MGUN/targets/releases.json" "$WORK/pristine/$MGUN/targets/releases.json" \
  2>&1 | wc -l)" = 1 ] || fail "the tampered releases.json does not differ in exactly one byte"
# The timestamp with a later expiry, re-signed with another ed25519 key under the keyid of
# notary-server's timestamp key.
rm -rf "$WORK/tampered/timestamp"; cp -a "$WORK/pristine" "$WORK/tampered/timestamp"
ts_file="$WORK/tampered/timestamp/$MGUN/timestamp.json"
jq -e '.signatures | length == 1 and .[0].method == "eddsa"' "$ts_file" >/dev/null \
  || fail "notary-server's timestamp is not signed with one ed25519 key: $(cat "$ts_file")"
openssl genpkey -algorithm ed25519 -out "$WORK/wrong-ts.key" 2>/dev/null
jq -cS '.signed | .expires = "2099-01-01T00:00:00Z"' "$ts_file" | tr -d '\n' >"$WORK/ts-signed.bin"
openssl pkeyutl -sign -inkey "$WORK/wrong-ts.key" -rawin -in "$WORK/ts-signed.bin" -out "$WORK/ts.sig"
jq -c --argjson signed "$(cat "$WORK/ts-signed.bin")" --arg sig "$(base64 -w0 <"$WORK/ts.sig")" \
  '.signed = $signed | .signatures[0].sig = $sig' "$ts_file" >"$ts_file.new"
mv "$ts_file.new" "$ts_file"

# tampered <variant> <reason>: served from the tampered tree, both the daemon (which has never
# seen this GUN verified, so it holds no copy of its files) and verify-image deny.
tampered() {
  mirror_serve "$WORK/tampered/$1"
  decide "$MVERIFY" deny trust_unavailable "the trust data of $MGUN could not be verified"
  check ".trust_error.reason == \"$2\"" "$DECISION" "tampered $1: reason $2"
}
step "(ns) a byte of targets/releases.json changed -> denied (hash mismatch)"
tampered releases hash_mismatch
expect_in "targets/releases" "$(jq -r .message <<<"$DECISION")"
step "(ns) the timestamp re-signed with a wrong key -> denied (threshold not met)"
tampered timestamp threshold_not_met
step "(ns) the pristine copy -> allowed, digest = notary lookup"
mirror_serve "$WORK/pristine"
allowed "$MGUN" 1.0
step "(ns) after a verified fetch, a re-signed timestamp is still refused"
tampered timestamp threshold_not_met
mirror_serve "$WORK/pristine"
allowed "$MGUN" 1.0

checks_after_changes ns "$NURL" "$NS_CAROL_ID"
checks_root_rotation ns "$NURL" notary

step "(ns) notary-server stopped -> denied (fail closed)"
_stop_pid "$NS_PID"; NS_PID=
decide registry.example.com/ns/app:1.0 deny trust_unavailable \
  "the trust data of registry.example.com/ns/app could not be verified"
check '.trust_error.reason == "unavailable" and .digest == ""' "$DECISION" "notary-server down"

# =============================================================================================
# Pass 2: the notary CLI and vouch-server
# =============================================================================================
checks_published vs
checks_after_changes vs "$VURL" "$VS_CAROL_ID"

step "(vs) vouch-server stopped -> denied; restarted on its port (RocksDB) -> allowed again"
vouch_stop
decide registry.example.com/vs/app:1.0 deny trust_unavailable \
  "the trust data of registry.example.com/vs/app could not be verified"
check '.trust_error.reason == "unavailable" and .digest == ""' "$DECISION" "vouch-server down"
# (The policy names the server's URL, so it must come back on the same port; another process
# could take the port in between, which would fail here, not pass.)
vouch_start "127.0.0.1:$VPORT"
[ "$URL" = "$VURL" ] || fail "vouch-server restarted at $URL, not $VURL"
allowed registry.example.com/vs/app 1.0
allowed registry.example.com/vs/app dual-1
checks_root_rotation vs "$VURL" vouch

step "no passphrase or private key in any output or log"
for secret in "$NOTARY_ROOT_PASSPHRASE" "$NOTARY_TARGETS_PASSPHRASE" "$NOTARY_SNAPSHOT_PASSPHRASE" \
  "$NOTARY_DELEGATION_PASSPHRASE" "PRIVATE KEY"; do
  for file in "$LOG" "$WORK/verifier.log" "$WORK/verifier.out"; do
    if grep -qF -- "$secret" "$file"; then fail "a secret appeared in $(basename "$file")"; fi
  done
done

step "stop the verifier (SIGTERM: exit 0) and the servers"
kill -TERM "$VERIFIER_PID"
rc=0; wait "$VERIFIER_PID" || rc=$?
VERIFIER_PID=
[ "$rc" = 0 ] || fail "vouch-verifier exited $rc on SIGTERM"
_stop_pid "$MIRROR_PID"; MIRROR_PID=
vouch_stop
echo "vouch-verifier vs notary interop: all steps passed"
