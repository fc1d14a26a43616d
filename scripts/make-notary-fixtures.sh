#!/usr/bin/env bash
# Regenerates tests/data/notary/: third-party test vectors made by the REAL Notary 0.7
# (Debian packages notary / notary-server / notary-signer), never by vouch.
#
# What it does, all inside a private temp dir that is removed on exit:
#   * throwaway CA + TLS certs (openssl) for 127.0.0.1 / localhost;
#   * notary-server #1: memory storage, TLS, trust_service "local"  (ed25519 timestamp key);
#   * notary-signer:    memory storage, mutual TLS (gRPC)            (ecdsa keys);
#   * notary-server #2: memory storage, TLS, trust_service "remote" -> notary-signer (ecdsa);
#   * drives the real `notary` CLI against them (init, add, delegations, key rotation, publish);
#   * downloads every metadata version from the servers, copies the client caches, the
#     encrypted private keys and the CLI listings, and writes manifest.json.
# Every process it starts is killed by its saved PID on exit, error or signal.
#
# Usage: scripts/make-notary-fixtures.sh [output-dir]   (default: <repo>/tests/data/notary)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$REPO_ROOT/tests/data/notary}"

# ---------------------------------------------------------------- fixed test passphrases
# Obviously-test values; they protect throwaway keys that are committed on purpose.
export NOTARY_ROOT_PASSPHRASE="vouch-fixture-root-1"
export NOTARY_TARGETS_PASSPHRASE="vouch-fixture-targets-1"
export NOTARY_SNAPSHOT_PASSPHRASE="vouch-fixture-snapshot-1"
export NOTARY_DELEGATION_PASSPHRASE="vouch-fixture-delegation-1"
SIGNER_ALIAS="fixturealias"
SIGNER_ALIAS_PASSPHRASE="vouch-fixture-signer-1"

GUN_ECDSA="example.com/vouch/ecdsa"    # local trust service, full workflow
GUN_RSAROOT="example.com/vouch/rsaroot" # local trust service, RSA root key via --rootkey
GUN_SIGNER="example.com/vouch/signer"   # remote trust service = notary-signer (ecdsa)

# ---------------------------------------------------------------- prerequisites
for tool in notary notary-server notary-signer openssl curl jq python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make-notary-fixtures: missing tool: $tool" >&2; exit 1; }
done

# ---------------------------------------------------------------- temp dir + cleanup
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vouch-notary-fixtures.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    # give it a moment, then insist
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ $rc -ne 0 ]]; then
    echo "make-notary-fixtures: FAILED (rc=$rc). Last lines of the service logs:" >&2
    for f in "$WORK"/logs/*.log; do
      [[ -f "$f" ]] || continue
      echo "--- $(basename "$f")" >&2
      tail -n 15 "$f" >&2
    done
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'echo "make-notary-fixtures: command failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK"/{tls,logs,conf,home,inputs,trust,out}
export HOME="$WORK/home"          # keep ~/.notary of the caller out of it
OUT="$WORK/out"                   # staged fixture tree; copied to $DEST at the very end
TRANSCRIPT="$OUT/transcript.txt"
: >"$TRANSCRIPT"

log() { echo "[fixtures] $*" >&2; }

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# ---------------------------------------------------------------- TLS material (throwaway)
log "generating throwaway CA and TLS certs"
T="$WORK/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
  -keyout "$T/ca.key" -out "$T/ca.pem" -subj "/CN=vouch fixture throwaway CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
issue_cert() { # name cn eku
  local name="$1" cn="$2" eku="$3"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$T/$name.key" -out "$T/$name.csr" -subj "/CN=$cn" 2>/dev/null
  printf '%s\n' \
    "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=$eku" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$T/$name.ext"
  openssl x509 -req -in "$T/$name.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$T/$name.ext" -out "$T/$name.pem" 2>/dev/null
}
issue_cert notary-server "notary-server" "serverAuth"
issue_cert notary-signer "notary-signer" "serverAuth"
issue_cert server-to-signer "notary-server-client" "clientAuth"
chmod 600 "$T"/*.key

# ---------------------------------------------------------------- service configs
PORT_LOCAL="$(free_port)"
PORT_SIGNER="$(free_port)"
PORT_REMOTE="$(free_port)"
while [[ "$PORT_SIGNER" == "$PORT_LOCAL" ]]; do PORT_SIGNER="$(free_port)"; done
while [[ "$PORT_REMOTE" == "$PORT_LOCAL" || "$PORT_REMOTE" == "$PORT_SIGNER" ]]; do PORT_REMOTE="$(free_port)"; done

cat >"$WORK/conf/server-local.json" <<EOF
{
  "server": {
    "http_addr": "127.0.0.1:$PORT_LOCAL",
    "tls_cert_file": "$T/notary-server.pem",
    "tls_key_file": "$T/notary-server.key"
  },
  "trust_service": { "type": "local" },
  "storage": { "backend": "memory" },
  "logging": { "level": "info" }
}
EOF
cat >"$WORK/conf/signer.json" <<EOF
{
  "server": {
    "grpc_addr": "127.0.0.1:$PORT_SIGNER",
    "tls_cert_file": "$T/notary-signer.pem",
    "tls_key_file": "$T/notary-signer.key",
    "client_ca_file": "$T/ca.pem"
  },
  "storage": { "backend": "memory", "default_alias": "$SIGNER_ALIAS" },
  "logging": { "level": "info" }
}
EOF
cat >"$WORK/conf/server-remote.json" <<EOF
{
  "server": {
    "http_addr": "127.0.0.1:$PORT_REMOTE",
    "tls_cert_file": "$T/notary-server.pem",
    "tls_key_file": "$T/notary-server.key"
  },
  "trust_service": {
    "type": "remote",
    "hostname": "127.0.0.1",
    "port": "$PORT_SIGNER",
    "key_algorithm": "ecdsa",
    "tls_ca_file": "$T/ca.pem",
    "tls_client_cert": "$T/server-to-signer.pem",
    "tls_client_key": "$T/server-to-signer.key"
  },
  "storage": { "backend": "memory" },
  "logging": { "level": "info" }
}
EOF

# ---------------------------------------------------------------- start services
wait_tcp() { # port name pid
  for _ in $(seq 1 100); do
    kill -0 "$3" 2>/dev/null || { echo "$2 exited early" >&2; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not open port $1" >&2
  return 1
}
wait_health() { # port name pid
  local code
  for _ in $(seq 1 150); do
    kill -0 "$3" 2>/dev/null || { echo "$2 exited early" >&2; return 1; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" \
      "https://127.0.0.1:$1/_notary_server/health" || true)"
    [[ "$code" == 200 ]] && return 0
    sleep 0.2
  done
  echo "$2 not healthy on port $1 (last HTTP code $code)" >&2
  return 1
}

log "starting notary-server (local trust) on 127.0.0.1:$PORT_LOCAL"
notary-server -config "$WORK/conf/server-local.json" -logf logfmt \
  >"$WORK/logs/server-local.log" 2>&1 </dev/null &
PIDS+=("$!"); PID_LOCAL="$!"
log "starting notary-signer on 127.0.0.1:$PORT_SIGNER"
env "NOTARY_SIGNER_${SIGNER_ALIAS^^}=$SIGNER_ALIAS_PASSPHRASE" \
  "NOTARY_SIGNER_DEFAULT_ALIAS=$SIGNER_ALIAS" \
  notary-signer -config "$WORK/conf/signer.json" -logf logfmt \
  >"$WORK/logs/signer.log" 2>&1 </dev/null &
PIDS+=("$!"); PID_SIGNER="$!"
wait_health "$PORT_LOCAL" notary-server-local "$PID_LOCAL"
wait_tcp "$PORT_SIGNER" notary-signer "$PID_SIGNER"
log "starting notary-server (remote trust -> notary-signer) on 127.0.0.1:$PORT_REMOTE"
notary-server -config "$WORK/conf/server-remote.json" -logf logfmt \
  >"$WORK/logs/server-remote.log" 2>&1 </dev/null &
PIDS+=("$!"); PID_REMOTE="$!"
wait_health "$PORT_REMOTE" notary-server-remote "$PID_REMOTE"

# ---------------------------------------------------------------- notary CLI helpers
echo '{}' >"$WORK/conf/client.json"
# nt <trustdir> <server-url> <args...>: runs the real notary CLI, never reads a TTY,
# appends a sanitized record (no temp paths or ports) to the transcript.
nt() {
  local td="$1" url="$2"; shift 2
  local out rc=0
  out="$(notary -c "$WORK/conf/client.json" -d "$td" -s "$url" --tlscacert "$T/ca.pem" "$@" \
    </dev/null 2>&1)" || rc=$?
  {
    printf '$ notary'
    local a
    for a in "$@"; do printf " '%s'" "${a//$WORK\//}"; done
    printf '\n'
    printf '%s\n' "${out//$WORK\//}"
    [[ $rc -eq 0 ]] || printf '(exit %d)\n' "$rc"
  } >>"$TRANSCRIPT"
  printf '%s\n' "$out"
  if [[ $rc -ne 0 ]]; then printf 'notary %s failed (exit %d):\n%s\n' "$*" "$rc" "$out" >&2; fi
  return $rc
}
sanitize() { sed -e "s#$WORK/##g"; }
# fetch <url> <file>: prints the HTTP status; body saved only on 200
fetch() {
  local code
  code="$(curl -sS --cacert "$T/ca.pem" -o "$2.tmp" -w '%{http_code}' "$1")"
  if [[ "$code" == 200 ]]; then mv "$2.tmp" "$2"; else rm -f "$2.tmp"; fi
  printf '%s' "$code"
}

URL_LOCAL="https://127.0.0.1:$PORT_LOCAL"
URL_REMOTE="https://127.0.0.1:$PORT_REMOTE"
IN="$WORK/inputs"

# target payloads (tiny). name|payload-file|role|custom-file
printf 'hello from the vouch notary fixtures\n' >"$IN/p-hello"
printf 'a file whose target name has spaces\n' >"$IN/p-spaces"
printf 'gr\xc3\xbc\xc3\x9fe \xc3\xbc\n' >"$IN/p-umlaut"
printf '<markup & ampersands>\n' >"$IN/p-markup"
printf '\x00\x01\x02binary\xff\xfe' >"$IN/p-custom"
printf 'release artifact 1.0.0\n' >"$IN/p-release"
printf 'qa report\n' >"$IN/p-qa"
printf 'added after the snapshot key became server-managed\n' >"$IN/p-after"
printf 'rsa-root repository target\n' >"$IN/p-rsa"
printf 'signer repository target\n' >"$IN/p-signer"
printf 'signer repository target, second publish\n' >"$IN/p-signer2"
# compact, keys sorted, raw UTF-8, integers only, no <>&: the only form that survives notary's
# sign (RawMessage compacted, <>& escaped) / verify (decode + re-canonicalize) round trip.
# The probes below record what happens to the other forms.
printf '%s\n' '{"vouch":{"kind":"fixture","list":[true,null,0,-42,"x"],"n":1,"umlaut":"ü"}}' >"$IN/custom.json"

TARGET_MAP="$WORK/targets.tsv"   # gun \t name \t payload-basename
: >"$TARGET_MAP"
add_target() { # td url gun name payload [extra args...]
  local td="$1" url="$2" gun="$3" name="$4" payload="$5"; shift 5
  nt "$td" "$url" add "$gun" "$name" "$IN/$payload" "$@" >/dev/null
  printf '%s\t%s\t%s\n' "$gun" "$name" "$payload" >>"$TARGET_MAP"
}

# ================================================================ 1. example.com/vouch/ecdsa
TD1="$WORK/trust/ecdsa"
log "repo 1: $GUN_ECDSA (local trust, ed25519 timestamp)"
nt "$TD1" "$URL_LOCAL" init "$GUN_ECDSA" >/dev/null
nt "$TD1" "$URL_LOCAL" publish "$GUN_ECDSA" >/dev/null
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "hello.txt" p-hello
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "docs/read me now.txt" p-spaces
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "grüße/ü.txt" p-umlaut
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "a<b>&c.txt" p-markup
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "custom.bin" p-custom --custom "$IN/custom.json"
nt "$TD1" "$URL_LOCAL" publish "$GUN_ECDSA" >/dev/null

# delegation keys: RSA-2048 (targets/releases) and ECDSA P-256 (targets/qa), self-signed certs
mkdir -p "$OUT/certs"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
  -keyout "$IN/releases-rsa.key" -out "$IN/releases-rsa.crt" -subj "/CN=targets\/releases" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
  -keyout "$IN/qa-ecdsa.key" -out "$IN/qa-ecdsa.crt" -subj "/CN=targets\/qa" 2>/dev/null
cp "$IN/releases-rsa.crt" "$OUT/certs/delegation-releases-rsa.crt"
cp "$IN/qa-ecdsa.crt" "$OUT/certs/delegation-qa-ecdsa.crt"

nt "$TD1" "$URL_LOCAL" delegation add "$GUN_ECDSA" targets/releases "$IN/releases-rsa.crt" --all-paths >/dev/null
nt "$TD1" "$URL_LOCAL" delegation add "$GUN_ECDSA" targets/qa "$IN/qa-ecdsa.crt" --paths qa/ >/dev/null
nt "$TD1" "$URL_LOCAL" publish "$GUN_ECDSA" >/dev/null
nt "$TD1" "$URL_LOCAL" key import "$IN/releases-rsa.key" "$IN/qa-ecdsa.key" >/dev/null
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "releases/app-1.0.0.tar" p-release -r targets/releases
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "qa/report ü & <summary>.txt" p-qa -r targets/qa
nt "$TD1" "$URL_LOCAL" publish "$GUN_ECDSA" >/dev/null

nt "$TD1" "$URL_LOCAL" key rotate "$GUN_ECDSA" snapshot -r >/dev/null
add_target "$TD1" "$URL_LOCAL" "$GUN_ECDSA" "after-rotation.txt" p-after
nt "$TD1" "$URL_LOCAL" publish "$GUN_ECDSA" >/dev/null

# ================================================================ 2. example.com/vouch/rsaroot
TD2="$WORK/trust/rsaroot"
log "repo 2: $GUN_RSAROOT (local trust, RSA root key via init --rootkey)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$IN/rsa-root.plain.key" 2>/dev/null
# notary reads PBES2 + PBKDF2 (always HMAC-SHA1) + AES-256-CBC only
openssl pkcs8 -topk8 -in "$IN/rsa-root.plain.key" -out "$IN/rsa-root.key" \
  -v2 aes-256-cbc -v2prf hmacWithSHA1 -iter 2048 -passout "pass:$NOTARY_ROOT_PASSPHRASE"
RSA_ROOT_ACCEPTED=false
RSA_ROOT_ERROR=""
if rsa_out="$(nt "$TD2" "$URL_LOCAL" init "$GUN_RSAROOT" --rootkey "$IN/rsa-root.key")" \
   && rsa_out2="$(nt "$TD2" "$URL_LOCAL" publish "$GUN_RSAROOT")"; then
  RSA_ROOT_ACCEPTED=true
  add_target "$TD2" "$URL_LOCAL" "$GUN_RSAROOT" "rsa/hello.txt" p-rsa
  nt "$TD2" "$URL_LOCAL" publish "$GUN_RSAROOT" >/dev/null
else
  RSA_ROOT_ERROR="$(printf '%s\n%s\n' "${rsa_out:-}" "${rsa_out2:-}" | sanitize | grep -v '^$' | tail -n 3)"
  log "notary rejected the RSA root key: $RSA_ROOT_ERROR"
fi

# ================================================================ 3. example.com/vouch/signer
TD3="$WORK/trust/signer"
log "repo 3: $GUN_SIGNER (remote trust = notary-signer, ecdsa timestamp)"
nt "$TD3" "$URL_REMOTE" init "$GUN_SIGNER" >/dev/null
nt "$TD3" "$URL_REMOTE" publish "$GUN_SIGNER" >/dev/null
add_target "$TD3" "$URL_REMOTE" "$GUN_SIGNER" "signer/hello.txt" p-signer
add_target "$TD3" "$URL_REMOTE" "$GUN_SIGNER" "signer/ü & <x>.txt" p-umlaut
nt "$TD3" "$URL_REMOTE" publish "$GUN_SIGNER" >/dev/null
nt "$TD3" "$URL_REMOTE" key rotate "$GUN_SIGNER" snapshot -r >/dev/null
add_target "$TD3" "$URL_REMOTE" "$GUN_SIGNER" "signer/second.txt" p-signer2
nt "$TD3" "$URL_REMOTE" publish "$GUN_SIGNER" >/dev/null

# ================================================================ probes (not collected as repos)
# Edge cases of Notary's canonical JSON in a target's "custom" field, each on a throwaway GUN.
# Outcome (accepted or not, the error text, and the served targets.json if accepted) goes to probes/.
PROBES_TSV="$WORK/probes.tsv"   # name \t custom-json \t accepted \t error
: >"$PROBES_TSV"
mkdir -p "$OUT/probes"
probe_custom() { # name custom-json
  local name="$1" custom="$2" gun="example.com/vouch/probe-$1" td="$WORK/trust/probe-$1"
  local accepted=false err="" out
  printf '%s\n' "$custom" >"$IN/probe-$name.json"
  nt "$td" "$URL_LOCAL" init "$gun" >/dev/null
  nt "$td" "$URL_LOCAL" add "$gun" probe.txt "$IN/p-hello" --custom "$IN/probe-$name.json" >/dev/null
  if out="$(nt "$td" "$URL_LOCAL" publish "$gun" 2>/dev/null)"; then
    accepted=true
    fetch "$URL_LOCAL/v2/$gun/_trust/tuf/targets.json" "$OUT/probes/$name.targets.json" >/dev/null
  else
    err="$(printf '%s\n' "$out" | sanitize | grep -v '^$' | tail -n 1)"
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$custom" "$accepted" "$err" >>"$PROBES_TSV"
}
log "probes: canonical JSON edge cases in custom"
probe_custom float '{"x":1.5}'
probe_custom exponent '{"x":1e3}'
probe_custom bigint '{"x":9007199254740993}'
probe_custom negzero '{"x":-0}'
probe_custom unsorted '{"b":1,"a":2}'
probe_custom whitespace '{ "a" : [ 1, 2 ] }'
probe_custom uescape '{"x":"\u00fc"}'
probe_custom ctlescape '{"x":"a\tb"}'
probe_custom quote '{"x":"q\"b\\s"}'
probe_custom html '{"x":"<&>"}'
probe_custom dupkey '{"a":1,"a":2}'

# ---------------------------------------------------------------- collection

FILES_TSV="$WORK/files.tsv"   # slug \t gun \t role \t version(or "current") \t source \t relpath
: >"$FILES_TSV"
MISSING_TSV="$WORK/missing.tsv"   # slug \t role \t version  (404 although <= current version)
: >"$MISSING_TSV"

collect_repo() { # slug gun url trustdir
  local slug="$1" gun="$2" url="$3" td="$4"
  local base="$OUT/$slug"
  mkdir -p "$base/server/current" "$base/keys" "$base/payloads"
  log "collecting $gun"

  # roles: base roles, then every delegation reachable from targets (breadth first)
  local -a roles=(root targets snapshot timestamp)
  local -a queue=(targets)
  local r code v f
  while ((${#queue[@]})); do
    r="${queue[0]}"; queue=("${queue[@]:1}")
    f="$base/server/current/$r.json"
    mkdir -p "$(dirname "$f")"
    code="$(fetch "$url/v2/$gun/_trust/tuf/$r.json" "$f")"
    [[ "$code" == 200 ]] || { echo "GET $r.json for $gun -> $code" >&2; return 1; }
    local d
    while IFS= read -r d; do
      [[ -n "$d" ]] || continue
      roles+=("$d"); queue+=("$d")
    done < <(jq -r '.signed.delegations.roles[]?.name' "$f")
  done
  for r in "${roles[@]}"; do
    f="$base/server/current/$r.json"
    if [[ ! -f "$f" ]]; then
      mkdir -p "$(dirname "$f")"
      code="$(fetch "$url/v2/$gun/_trust/tuf/$r.json" "$f")"
      [[ "$code" == 200 ]] || { echo "GET $r.json for $gun -> $code" >&2; return 1; }
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$slug" "$gun" "$r" current server-current \
      "$slug/server/current/$r.json" >>"$FILES_TSV"
    # Versions are not always contiguous (the client skips some when it re-signs), so probe
    # every version from 1 up to the current one and record the gaps, instead of stopping at
    # the first 404; one past the current version must be a 404.
    local cur_v
    cur_v="$(jq -r '.signed.version' "$base/server/current/$r.json")"
    for ((v = 1; v <= cur_v + 1; v++)); do
      f="$base/server/versions/$r/$v.json"
      mkdir -p "$(dirname "$f")"
      code="$(fetch "$url/v2/$gun/_trust/tuf/$v.$r.json" "$f")"
      if [[ "$code" == 404 ]]; then
        ((v <= cur_v)) && printf '%s\t%s\t%s\n' "$slug" "$r" "$v" >>"$MISSING_TSV"
        continue
      fi
      [[ "$code" == 200 ]] || { echo "GET $v.$r.json for $gun -> $code" >&2; return 1; }
      ((v <= cur_v)) || { echo "server has $v.$r.json beyond current version $cur_v for $gun" >&2; return 1; }
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$slug" "$gun" "$r" "$v" server-version \
        "$slug/server/versions/$r/$v.json" >>"$FILES_TSV"
    done
    rmdir -p "$base/server/versions/$r" 2>/dev/null || true
  done

  # encrypted private keys (test keys only), listings. `notary list` is an online update, so it
  # runs before the cache is copied: the cache then matches the server's current metadata.
  cp "$td"/private/*.key "$base/keys/"
  # LOCATION is the (truncated) temp trust dir: normalize it
  nt "$td" "$url" key list | sanitize | sed -E 's#[^ ]*/private$#<trustdir>/private#' >"$base/key-list.txt"
  nt "$td" "$url" list "$gun" | sanitize >"$base/notary-list.txt"
  nt "$td" "$url" delegation list "$gun" | sanitize >"$base/delegation-list.txt"

  # client cache
  local cache="$td/tuf/$gun/metadata"
  mkdir -p "$base/client"
  cp -R "$cache/." "$base/client/"
  (cd "$base/client" && find . -type f -name '*.json' | sort) | while IFS= read -r f; do
    f="${f#./}"
    r="${f%.json}"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$slug" "$gun" "$r" cache client-cache \
      "$slug/client/$f" >>"$FILES_TSV"
  done

  # target payloads
  local tg tp
  while IFS=$'\t' read -r tg _ tp; do
    [[ "$tg" == "$gun" ]] || continue
    cp "$IN/$tp" "$base/payloads/$tp"
  done <"$TARGET_MAP"
}

collect_repo ecdsa "$GUN_ECDSA" "$URL_LOCAL" "$TD1"
if [[ "$RSA_ROOT_ACCEPTED" == true ]]; then
  collect_repo rsaroot "$GUN_RSAROOT" "$URL_LOCAL" "$TD2"
fi
collect_repo signer "$GUN_SIGNER" "$URL_REMOTE" "$TD3"

# a sanity probe of the consistent (by-checksum) route, recorded in the manifest
SNAP_SHA="$(sha256sum "$OUT/ecdsa/server/current/snapshot.json" | cut -d' ' -f1)"
CHECKSUM_ROUTE_CODE="$(fetch "$URL_LOCAL/v2/$GUN_ECDSA/_trust/tuf/snapshot.$SNAP_SHA.json" "$WORK/bysha.json")"
CHECKSUM_ROUTE_SAME=false
if [[ "$CHECKSUM_ROUTE_CODE" == 200 ]] && cmp -s "$WORK/bysha.json" "$OUT/ecdsa/server/current/snapshot.json"; then
  CHECKSUM_ROUTE_SAME=true
fi

# tool versions
notary version 2>&1 | sed 's/[[:space:]]*$//' >"$OUT/notary-version.txt"
{
  echo "dpkg:"
  dpkg-query -W -f='  ${Package} ${Version}\n' notary 2>/dev/null || echo "  notary (not from dpkg)"
  echo "notary-server -version: $(notary-server -version 2>&1 | head -n1)"
  echo "notary-signer -version: $(notary-signer -version 2>&1 | head -n1)"
  echo "openssl: $(openssl version)"
} >>"$OUT/notary-version.txt"

# ---------------------------------------------------------------- manifest.json
log "writing manifest.json"
FX_GUN_ECDSA="$GUN_ECDSA" FX_GUN_RSAROOT="$GUN_RSAROOT" FX_GUN_SIGNER="$GUN_SIGNER" \
FX_SIGNER_ALIAS="$SIGNER_ALIAS" FX_SIGNER_ALIAS_ENV="NOTARY_SIGNER_${SIGNER_ALIAS^^}" \
FX_SIGNER_ALIAS_PASSPHRASE="$SIGNER_ALIAS_PASSPHRASE" \
FX_RSA_ROOT_ACCEPTED="$RSA_ROOT_ACCEPTED" FX_RSA_ROOT_ERROR="$RSA_ROOT_ERROR" \
FX_CHECKSUM_ROUTE_CODE="$CHECKSUM_ROUTE_CODE" FX_CHECKSUM_ROUTE_SAME="$CHECKSUM_ROUTE_SAME" \
FX_PROBES_TSV="$PROBES_TSV" FX_MISSING_TSV="$MISSING_TSV" \
python3 - "$OUT" "$FILES_TSV" "$TARGET_MAP" <<'PY'
import base64, hashlib, json, os, re, subprocess, sys, datetime

out, files_tsv, target_map = sys.argv[1], sys.argv[2], sys.argv[3]
E = os.environ
passphrases = {
    "root": os.environ["NOTARY_ROOT_PASSPHRASE"],
    "targets": os.environ["NOTARY_TARGETS_PASSPHRASE"],
    "snapshot": os.environ["NOTARY_SNAPSHOT_PASSPHRASE"],
    "delegation": os.environ["NOTARY_DELEGATION_PASSPHRASE"],
}
repos_meta = {
    "ecdsa":   {"gun": E["FX_GUN_ECDSA"],   "server": "notary-server, trust_service local (in-memory ed25519)"},
    "rsaroot": {"gun": E["FX_GUN_RSAROOT"], "server": "notary-server, trust_service local (in-memory ed25519)"},
    "signer":  {"gun": E["FX_GUN_SIGNER"],  "server": "notary-server, trust_service remote -> notary-signer over mTLS, key_algorithm ecdsa"},
}

def canon(o):
    # Notary canonical JSON for plain key objects (ASCII-only, sorted keys, no whitespace)
    return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()

def key_id(keytype, public_b64):
    return hashlib.sha256(canon({"keytype": keytype, "keyval": {"private": None, "public": public_b64}})).hexdigest()

def spki_from_cert_pem(pem):
    der = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem, capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, capture_output=True, check=True).stdout
    return der

def cert_subject_cn(pem):
    s = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline"], input=pem,
                       capture_output=True, check=True).stdout.decode()
    m = re.search(r"commonName\s*=\s*(.*)", s)
    return m.group(1).strip() if m else None

def cert_not_after(pem):
    s = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=pem, capture_output=True, check=True).stdout.decode()
    return s.strip().split("=", 1)[1]

def describe_key(kid, k):
    kt = k["keytype"]
    d = {"key_id": kid, "keytype": kt}
    if kt.endswith("-x509"):
        pem = base64.b64decode(k["keyval"]["public"])
        spki = spki_from_cert_pem(pem)
        d["canonical_key_id"] = key_id(kt[:-5], base64.b64encode(spki).decode())
        d["cert_cn"] = cert_subject_cn(pem)
        d["cert_not_after"] = cert_not_after(pem)
    else:
        d["canonical_key_id"] = kid
    return d

def sha256_file(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()

def pem_headers(p):
    h = {}
    with open(p) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("-----BEGIN"):
                continue
            if not line:
                break
            if ":" in line:
                k, v = line.split(":", 1)
                h[k.strip()] = v.strip()
            else:
                break
    return h

def key_algorithm(p, passphrase):
    # strip notary's PEM headers, decrypt with openssl to check the passphrase and learn the algorithm
    with open(p) as f:
        lines = f.read().splitlines()
    pem = "\n".join(l for l in lines if not re.match(r"^[A-Za-z-]+: ", l)) + "\n"
    r = subprocess.run(["openssl", "pkey", "-passin", "pass:" + passphrase, "-noout", "-text"],
                       input=pem.encode(), capture_output=True)
    if r.returncode != 0:
        return None, False
    text = r.stdout.decode()
    if "ED25519" in text.upper():
        return "ed25519", True
    if "modulus:" in text:
        return "rsa-%d" % int(re.search(r"\((\d+) bit", text).group(1)), True
    if "ASN1 OID: prime256v1" in text or "NIST CURVE: P-256" in text:
        return "ecdsa-p256", True
    return text.splitlines()[0] if text else None, True

files = []
with open(files_tsv, encoding="utf-8") as f:
    for line in f:
        slug, gun, role, version, source, rel = line.rstrip("\n").split("\t")
        files.append((slug, gun, role, version, source, rel))

missing = []
with open(E["FX_MISSING_TSV"], encoding="utf-8") as f:
    for line in f:
        missing.append(tuple(line.rstrip("\n").split("\t")))

targets_by_gun = {}
with open(target_map, encoding="utf-8") as f:
    for line in f:
        gun, name, payload = line.rstrip("\n").split("\t")
        targets_by_gun.setdefault(gun, []).append((name, payload))

manifest = {
    "description": "Test vectors made by the real Notary 0.7 (notary CLI, notary-server, notary-signer); see README.md",
    "generator": "scripts/make-notary-fixtures.sh",
    "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "tool_versions": open(os.path.join(out, "notary-version.txt")).read().splitlines(),
    "passphrases": {
        "env": {
            "NOTARY_ROOT_PASSPHRASE": passphrases["root"],
            "NOTARY_TARGETS_PASSPHRASE": passphrases["targets"],
            "NOTARY_SNAPSHOT_PASSPHRASE": passphrases["snapshot"],
            "NOTARY_DELEGATION_PASSPHRASE": passphrases["delegation"],
        },
        "notary_signer_alias": {"alias": E["FX_SIGNER_ALIAS"], "env": E["FX_SIGNER_ALIAS_ENV"],
                                 "passphrase": E["FX_SIGNER_ALIAS_PASSPHRASE"],
                                 "note": "memory backend: notary-signer ignores it (keys live unencrypted in RAM)"},
    },
    "facts": {
        "rsa_root_key_via_init_rootkey_accepted": E["FX_RSA_ROOT_ACCEPTED"] == "true",
        "rsa_root_key_error": E["FX_RSA_ROOT_ERROR"] or None,
        "rsa_root_key_input_format": "PKCS#8 PBES2/PBKDF2-HMAC-SHA1 (2048 iter)/AES-256-CBC, made by openssl pkcs8 -topk8",
        "consistent_route_snapshot_by_sha256_http": int(E["FX_CHECKSUM_ROUTE_CODE"]),
        "consistent_route_snapshot_by_sha256_same_bytes": E["FX_CHECKSUM_ROUTE_SAME"] == "true",
    },
    "repositories": [],
}

for slug in ("ecdsa", "rsaroot", "signer"):
    base = os.path.join(out, slug)
    if not os.path.isdir(base):
        continue
    gun = repos_meta[slug]["gun"]
    repo = {"slug": slug, "gun": gun, "server": repos_meta[slug]["server"], "dir": slug}
    cur = lambda role: json.load(open(os.path.join(base, "server", "current", role + ".json"), encoding="utf-8"))
    root = cur("root")
    rs = root["signed"]
    repo["root_key_ids"] = rs["roles"]["root"]["keyids"]
    repo["root_keys"] = [describe_key(k, rs["keys"][k]) for k in rs["roles"]["root"]["keyids"]]
    repo["base_role_keys"] = {
        role: {"threshold": rs["roles"][role]["threshold"],
               "keys": [describe_key(k, rs["keys"][k]) for k in rs["roles"][role]["keyids"]]}
        for role in ("root", "targets", "snapshot", "timestamp")
    }
    # every role's current version / expiry / signature methods
    roles = sorted({r for (s, g, r, v, src, rel) in files if s == slug and src == "server-current"},
                   key=lambda r: (["root", "targets", "snapshot", "timestamp"].index(r) if r in ("root", "targets", "snapshot", "timestamp") else 9, r))
    repo["roles"] = {}
    delegations = []
    for role in roles:
        m = cur(role)
        repo["roles"][role] = {
            "current_version": m["signed"]["version"],
            "expires": m["signed"]["expires"],
            "_type": m["signed"]["_type"],
            "signatures": [{"keyid": s["keyid"], "method": s["method"]} for s in m["signatures"]],
            "versions_on_server": sorted(int(v) for (s, g, r, v, src, rel) in files
                                         if s == slug and r == role and src == "server-version"),
            "versions_missing_on_server": sorted(int(v) for (s, r, v) in missing if s == slug and r == role),
        }
        if m["signed"]["_type"] == "Targets":
            dl = m["signed"].get("delegations") or {}
            for dr in dl.get("roles") or []:
                delegations.append({
                    "parent": role, "name": dr["name"], "paths": dr.get("paths"), "threshold": dr["threshold"],
                    "keys": [describe_key(k, dl["keys"][k]) for k in dr["keyids"]],
                })
    repo["delegations"] = delegations
    # files
    fl = []
    for (s, g, role, version, source, rel) in files:
        if s != slug:
            continue
        p = os.path.join(out, rel)
        m = json.load(open(p, encoding="utf-8"))
        fl.append({
            "path": rel, "gun": g, "role": role, "source": source,
            "version": m["signed"]["version"],
            "requested_version": int(version) if version.isdigit() else None,
            "sha256": sha256_file(p), "size": os.path.getsize(p),
            "expires": m["signed"]["expires"],
            "signatures": [{"keyid": x["keyid"], "method": x["method"]} for x in m["signatures"]],
            # True when the raw file contains the canonical form of "signed" verbatim. False e.g. when
            # target names hold <>& : the file has \u003c etc. (Go encoding/json), while the
            # signature covers the canonical bytes with raw <>& . Verifiers must re-canonicalize.
            "signed_bytes_are_canonical": json.dumps(m["signed"], sort_keys=True, separators=(",", ":"),
                                                     ensure_ascii=False).encode() in open(p, "rb").read(),
        })
    repo["metadata_files"] = fl
    # keys
    kl = []
    for fn in sorted(os.listdir(os.path.join(base, "keys"))):
        p = os.path.join(base, "keys", fn)
        h = pem_headers(p)
        role = h.get("role", "")
        if role in ("root", "targets", "snapshot"):
            pp = passphrases[role]
        else:
            pp = passphrases["delegation"]
        alg, ok = key_algorithm(p, pp)
        kl.append({"path": f"{slug}/keys/{fn}", "key_id": fn[:-4], "role": role, "gun": h.get("gun"),
                   "passphrase": pp, "passphrase_verified_with_openssl": ok, "algorithm": alg,
                   "pem_headers": h})
    repo["private_keys"] = kl
    # notary list output
    lt = []
    for line in open(os.path.join(base, "notary-list.txt"), encoding="utf-8").read().splitlines():
        parts = line.split()
        if len(parts) < 4 or parts[0] == "NAME" or set(line.strip()) <= set("- "):
            continue
        role, size, digest = parts[-1], parts[-2], parts[-3]
        name = line[: line.rstrip().rfind(digest)].rstrip()
        lt.append({"name": name, "digest_sha256_hex": digest, "size": int(size), "role": role})
    repo["notary_list"] = {"path": f"{slug}/notary-list.txt", "targets": lt}
    repo["key_list_path"] = f"{slug}/key-list.txt"
    repo["delegation_list_path"] = f"{slug}/delegation-list.txt"
    repo["payloads"] = [{"target": n, "path": f"{slug}/payloads/{pl}",
                         "sha256": sha256_file(os.path.join(base, "payloads", pl)),
                         "size": os.path.getsize(os.path.join(base, "payloads", pl))}
                        for (n, pl) in targets_by_gun.get(gun, [])]
    manifest["repositories"].append(repo)

probes = []
with open(E["FX_PROBES_TSV"], encoding="utf-8") as f:
    for line in f:
        name, custom, accepted, err = line.rstrip("\n").split("\t")
        pr = {"name": name, "gun": "example.com/vouch/probe-" + name, "custom_json_given": custom,
              "accepted_by_notary_server": accepted == "true", "error": err or None}
        tp = os.path.join(out, "probes", name + ".targets.json")
        if os.path.exists(tp):
            raw = open(tp, "rb").read()
            pr["served_targets_path"] = "probes/" + name + ".targets.json"
            m = re.search(rb'"custom":(\{[^}]*\})', raw)
            pr["custom_bytes_as_served"] = m.group(1).decode() if m else None
        probes.append(pr)
manifest["probes"] = probes

manifest["certs"] = [
    {"path": "certs/delegation-releases-rsa.crt", "role": "targets/releases", "key": "RSA 2048, self-signed"},
    {"path": "certs/delegation-qa-ecdsa.crt", "role": "targets/qa", "key": "ECDSA P-256, self-signed"},
]
with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(manifest, f, indent=2, ensure_ascii=False, sort_keys=False)
    f.write("\n")
PY

# ---------------------------------------------------------------- install into the repo
# README.md is hand-written and kept; everything else is replaced wholesale.
if [[ -f "$DEST/README.md" ]]; then cp "$DEST/README.md" "$OUT/README.md"; fi
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
cp -R "$OUT" "$DEST"
chmod -R u+rwX,go+rX "$DEST"
log "done: $(du -sh "$DEST" | cut -f1) in $DEST"
