# shellcheck shell=bash
# Shared by the interop scripts that drive a real client (the notary CLI, docker trust)
# against vouch-server. Source it right after `set -euo pipefail`, with VOUCH_SERVER set to the
# vouch-server binary. It provides:
#
#   WORK                  a private temporary directory; HOME points inside it, so the
#                         caller's ~/.notary and ~/.docker are never read or written
#   step / fail / expect_in / expect_not_in
#                         progress lines and output checks; fail() prints the server log tail
#   run <code> <cmd...>   runs it; $out gets stdout+stderr, also appended to $LOG
#                         ($WORK/all-output.txt, for checks over everything printed); fails
#                         on another exit code
#   json <code> <cmd...>  as run, but $out is stdout only (for jq)
#   check <jq filter> <json> [what]
#                         fails unless the filter yields true
#   vouch_make_tls        a throwaway CA ($WORK/ca.pem) and a server certificate for
#                         127.0.0.1 / localhost signed by it ($WORK/server.pem, server.key)
#   vouch_start [addr]    starts vouch-server on addr (default 127.0.0.1:0) over HTTPS with
#                         RocksDB in $VOUCH_DB_PATH (default $WORK/db), or PostgreSQL when
#                         VOUCH_PG_DSN and VOUCH_PG_PASSWORD_FILE are set (keys in
#                         $WORK/keys, --pg-single-replica), and the embedded key store, authenticated by
#                         $VOUCH_AUTH_ARGS (default --insecure-no-auth; e.g. "--config
#                         $WORK/accounts.json"), waits until it prints
#                         "listening on", and sets SERVER_PID, PORT and URL
#   vouch_stop            SIGTERM, then waits; fails unless the server exits with status 0
#   notary_server_start   starts the real notary-server (memory storage, local trust service,
#                         logging at info to $WORK/notary-server.log) on a free loopback port
#                         with the certificate of vouch_make_tls; sets NS_PID and NURL once it
#                         answers its health check, else stops it and returns 1. The caller
#                         stops NS_PID (its EXIT trap must too).
#   api <user:password> <method> <path> [json]
#                         a call of the admin API (/api/v1<path>) at $URL; $out gets the
#                         body, $code the HTTP status
#   free_port             a port free on 127.0.0.1 a moment ago (for a server whose token realm
#                         must name its port before it starts)
#   served <gun> <role>   the metadata the server serves now (GET .../_trust/tuf/<role>.json)
#   key_id <key JSON>     Notary's ID of a public key given as TUF key JSON
#
# On every exit path (success, failure, signal) the EXIT trap stops only the server this
# script started, by its saved PID, and removes $WORK.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-interop.XXXXXX")
SERVER_PID=
PORT=
URL=
_vouch_cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap _vouch_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export HOME="$WORK/home"; mkdir -p "$HOME"

step() { echo "--- $*"; }
fail() {
  echo "FAIL: $*" >&2
  if [ -f "$WORK/server.log" ]; then tail -30 "$WORK/server.log" >&2; fi
  exit 1
}
LOG="$WORK/all-output.txt"
: >"$LOG"
run() {
  local want=$1 rc=0; shift
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out" >>"$LOG"
  [ "$rc" = "$want" ] || fail "expected exit code $want, got $rc from: $*
$out"
}
json() {
  local want=$1 rc=0; shift
  out=$("$@" 2>"$WORK/stderr") || rc=$?
  cat "$WORK/stderr" >>"$LOG"; printf '%s\n' "$out" >>"$LOG"
  [ "$rc" = "$want" ] || fail "expected exit code $want, got $rc from: $*
$out
$(cat "$WORK/stderr")"
}
check() { [ "$(jq -e "$1" <<<"$2" 2>/dev/null)" = "true" ] || fail "${3:-jq $1} on:
$2"; }
expect_in() {  # expect_in <text> <haystack>
  grep -qF -- "$1" <<<"$2" || fail "expected '$1' in output:
$2"
}
expect_not_in() {
  if grep -qF -- "$1" <<<"$2"; then fail "did not expect '$1' in output:
$2"; fi
}

vouch_make_tls() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
    -subj "/CN=vouch interop CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=127.0.0.1" -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$WORK/server.ext"
  openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 2 -sha256 -extfile "$WORK/server.ext" -out "$WORK/server.pem" 2>/dev/null
  chmod 600 "$WORK/ca.key" "$WORK/server.key"
}

# The passphrase of the server's embedded key store; a test value for throwaway keys.
export VOUCH_SERVER_KEY_PASSPHRASE="interop-server-keys"

api() {
  local cred=$1 method=$2 path=$3 body=${4:-}
  out=$(curl -sS --cacert "$WORK/ca.pem" -u "$cred" -X "$method" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} -w '\n%{http_code}' "$URL/api/v1$path")
  code=${out##*$'\n'}; out=${out%$'\n'*}
}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

vouch_start() {  # vouch_start [listen address]
  local addr=${1:-127.0.0.1:0} listen _
  # Emptied here, not by the child's redirection, which may run after the first check below
  # and let a restart read the previous server's address.
  : >"$WORK/server.out"
  local storage=(--storage rocksdb --db-path "${VOUCH_DB_PATH:-$WORK/db}")
  if [ -n "${VOUCH_PG_DSN:-}" ]; then
    storage=(--storage postgres --pg-dsn "$VOUCH_PG_DSN" --pg-password-file "$VOUCH_PG_PASSWORD_FILE"
             --key-dir "$WORK/keys" --pg-single-replica)
  fi
  "$VOUCH_SERVER" --http-addr "$addr" --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
    "${storage[@]}" ${VOUCH_AUTH_ARGS:---insecure-no-auth} \
    >"$WORK/server.out" 2>>"$WORK/server.log" </dev/null &
  SERVER_PID=$!
  # Wait for the line the server prints once it accepts connections; the bound only keeps a
  # hung start from hanging the test (it is not a performance check).
  for _ in $(seq 1 600); do
    grep -q "^listening on" "$WORK/server.out" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "vouch-server exited at start"
    sleep 0.1
  done
  listen=$(sed -n 's/^listening on //p' "$WORK/server.out")
  [ -n "$listen" ] || fail "vouch-server did not report its address"
  PORT=${listen##*:}
  URL="https://127.0.0.1:$PORT"
  echo "vouch-server (pid $SERVER_PID) at $URL"
}

vouch_stop() {
  local pid=$SERVER_PID
  [ -n "$pid" ] || return 0
  kill -TERM "$pid"
  SERVER_PID=
  wait "$pid" || fail "vouch-server did not exit cleanly on SIGTERM"
}

NS_PID=
NURL=
notary_server_start() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  cat >"$WORK/notary-server.json" <<EOF
{
  "server": {"http_addr": "127.0.0.1:$port", "tls_cert_file": "$WORK/server.pem",
             "tls_key_file": "$WORK/server.key"},
  "trust_service": {"type": "local"},
  "storage": {"backend": "memory"},
  "logging": {"level": "info"}
}
EOF
  notary-server -config "$WORK/notary-server.json" -logf logfmt \
    >>"$WORK/notary-server.log" 2>&1 </dev/null &
  NS_PID=$!
  NURL="https://127.0.0.1:$port"
  # The bound only keeps a hung start from hanging the test (it is not a performance check).
  for _ in $(seq 1 300); do
    kill -0 "$NS_PID" 2>/dev/null || break
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$NURL/_notary_server/health" || true)" = 200 ] \
      && return 0
    sleep 0.1
  done
  kill -TERM "$NS_PID" 2>/dev/null; wait "$NS_PID" 2>/dev/null || true
  NS_PID=
  return 1
}

served() { curl -sf --cacert "$WORK/ca.pem" "$URL/v2/$1/_trust/tuf/$2.json"; }

# Notary's key ID: the SHA-256 of the key's canonical JSON. For a key object (string or null
# members, base64 values) `jq -cS` writes exactly that: sorted members, no whitespace, no escapes.
key_id() { jq -cS . <<<"$1" | tr -d '\n' | sha256sum | cut -d' ' -f1; }
