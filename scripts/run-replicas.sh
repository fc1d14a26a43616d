#!/usr/bin/env bash
# `make run-replicas` (README "Run vouch on PostgreSQL"): two vouch-signer and two vouch-server
# processes on loopback, all on the PostgreSQL that scripts/dev-postgres.sh started (its
# <dir>/env, or VOUCH_PG_DSN and VOUCH_PG_PASSWORD_FILE set by the caller). The signers share
# their keys through the database; each server uses its own signer (mutual TLS), keeps
# metadata and accounts in the database, and runs with accounts (first administrator "admin",
# a random password in <replicas dir>/admin-password, mode 0600). Runs in the foreground;
# Ctrl-C (SIGINT/SIGTERM) stops the four processes it started (by their PIDs) and exits.
#
#   scripts/run-replicas.sh [build directory, default build-release]
#
# Environment: VOUCH_REPLICAS_DIR (default .vouch-replicas/: TLS material, configs, logs, the
# servers' local files), VOUCH_SERVER_PORTS (default "4443 4444"), VOUCH_SIGNER_PORTS (default
# "7899 7900"), VOUCH_PG_DIR (where dev-postgres.sh keeps its env file).
# What stays per replica (server/README.md "Limits with several replicas"): the audit log; the
# token service's key is made by the first server and given to the second (it names a key the
# shared signers hold), so a token from either server is accepted by both.
set -euo pipefail
build_dir=${1:-build-release}
root=$(cd "$(dirname "$0")/.." && pwd)
case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac
server_bin=$build_dir/server/vouch-server
signer_bin=$build_dir/signer/vouch-signer
for b in "$server_bin" "$signer_bin"; do
  [ -x "$b" ] || { echo "run-replicas: $b not built (make build-release)" >&2; exit 1; }
done
d=${VOUCH_REPLICAS_DIR:-$root/.vouch-replicas}
read -r -a server_ports <<<"${VOUCH_SERVER_PORTS:-4443 4444}"
read -r -a signer_ports <<<"${VOUCH_SIGNER_PORTS:-7899 7900}"
if [ -z "${VOUCH_PG_DSN:-}" ]; then
  pg_env=${VOUCH_PG_DIR:-$root/.vouch-pg}/env
  [ -f "$pg_env" ] || { echo "run-replicas: no PostgreSQL: run scripts/dev-postgres.sh start (or set VOUCH_PG_DSN)" >&2; exit 1; }
  # shellcheck disable=SC1090
  . "$pg_env"
fi
: "${VOUCH_PG_PASSWORD_FILE:?set VOUCH_PG_PASSWORD_FILE with VOUCH_PG_DSN}"
mkdir -p "$d"
chmod 700 "$d"
umask 077

# ---- TLS: one local CA; a certificate for the servers (HTTPS) and the signers (gRPC), and the
# servers' client certificate for the signers' mutual TLS.
issue() {  # name, CN, extended key usage, SANs
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -subj "/CN=$2" \
    -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
  printf 'extendedKeyUsage=%s\nsubjectAltName=%s\n' "$3" "$4" >"$d/$1.ext"
  openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$d/$1.ext" -out "$d/$1.pem" 2>/dev/null
}
if [ ! -f "$d/client.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/CN=vouch replicas CA" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  issue server localhost serverAuth "DNS:localhost,IP:127.0.0.1"
  issue signer vouch-signer serverAuth "DNS:localhost,IP:127.0.0.1"
  issue client vouch-server clientAuth "DNS:vouch-server"
  chmod 644 "$d/ca.pem"
fi
mkdir -p "$d/signer-passphrases"
[ -f "$d/signer-passphrases/main" ] || openssl rand -base64 32 | tr -d '\n' >"$d/signer-passphrases/main"
[ -f "$d/admin-password" ] || openssl rand -base64 24 | tr -d '\n' >"$d/admin-password"
printf 'admin:%s\n' "$(cat "$d/admin-password")" >"$d/bootstrap-admin"

postgres_json="{\"dsn\": \"$VOUCH_PG_DSN\", \"password_file\": \"$VOUCH_PG_PASSWORD_FILE\", \"pool_size\": 4}"
for i in 0 1; do
  n=$((i + 1))
  cat >"$d/signer-$n.json" <<JSON
{"server": {"grpc_addr": "127.0.0.1:${signer_ports[$i]}", "tls_cert_file": "signer.pem",
            "tls_key_file": "signer.key", "client_ca_file": "ca.pem"},
 "storage": {"backend": "postgres", "default_alias": "main", "passphrase_dir": "signer-passphrases",
             "postgres": $postgres_json},
 "logging": {"level": "info"}}
JSON
  cat >"$d/server-$n.json" <<JSON
{"server": {"http_addr": "127.0.0.1:${server_ports[$i]}", "tls_cert_file": "server.pem",
            "tls_key_file": "server.key"},
 "trust_service": {"type": "remote", "hostname": "127.0.0.1", "port": "${signer_ports[$i]}",
                   "tls_ca_file": "ca.pem", "tls_client_cert": "client.pem",
                   "tls_client_key": "client.key", "key_algorithm": "ecdsa"},
 "storage": {"backend": "postgres", "db_url": "server-$n", "postgres": $postgres_json},
 "auth": {"type": "accounts",
          "options": {"realm": "https://localhost:${server_ports[$i]}/auth/token"}},
 "logging": {"level": "info"}}
JSON
done

pids=()
stop_all() {
  trap - INT TERM EXIT
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# wait_for <file> <pattern> <pid>: until the file has the pattern; fails if the process exits.
wait_for() {
  for _ in $(seq 1 600); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "run-replicas: a process exited at start; $1:" >&2; tail -5 "$1" >&2; exit 1; }
    sleep 0.1
  done
  echo "run-replicas: timed out waiting for $1" >&2
  exit 1
}

# The schemas first (each migration runs once under its advisory lock anyway).
"$signer_bin" migrate -c "$d/signer-1.json" >"$d/migrate.log" 2>&1 || { cat "$d/migrate.log" >&2; exit 1; }
"$server_bin" migrate -c "$d/server-1.json" >>"$d/migrate.log" 2>&1 || { cat "$d/migrate.log" >&2; exit 1; }

for n in 1 2; do
  rm -f "$d/signer-$n.ready"
  "$signer_bin" -c "$d/signer-$n.json" --ready-file "$d/signer-$n.ready" \
    >"$d/signer-$n.log" 2>&1 </dev/null &
  pids+=($!)
done
for n in 1 2; do
  for _ in $(seq 1 600); do [ -s "$d/signer-$n.ready" ] && break; sleep 0.1; done
  [ -s "$d/signer-$n.ready" ] || { echo "run-replicas: vouch-signer $n did not start:" >&2; tail -5 "$d/signer-$n.log" >&2; exit 1; }
done

start_server() {  # n [extra args]
  local n=$1; shift
  mkdir -p "$d/server-$n"
  "$server_bin" -c "$d/server-$n.json" "$@" >"$d/server-$n.log" 2>&1 </dev/null &
  pids+=($!)
  wait_for "$d/server-$n.log" "listening on" "$!"
}
start_server 1 --bootstrap-admin-file "$d/bootstrap-admin"
mkdir -p "$d/server-2"
[ -f "$d/server-2/token-key.json" ] || cp "$d/server-1/token-key.json" "$d/server-2/token-key.json"
start_server 2

cat <<MSG
replicas ready: https://localhost:${server_ports[0]} https://localhost:${server_ports[1]}
  (vouch-signer on 127.0.0.1:${signer_ports[0]} and 127.0.0.1:${signer_ports[1]}; PostgreSQL: $VOUCH_PG_DSN;
   configs and logs in $d)

  administrator: admin, password in $d/admin-password
  notary:  export NOTARY_AUTH=\$(printf 'admin:%s' "\$(cat $d/admin-password)" | base64 -w0)
           notary -s https://localhost:${server_ports[0]} --tlscacert $d/ca.pem init example.com/hello -p
           notary -s https://localhost:${server_ports[1]} --tlscacert $d/ca.pem list example.com/hello
Stop with Ctrl-C.
MSG
wait
