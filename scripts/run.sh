#!/usr/bin/env bash
# `make run`: starts vouch-server on https://localhost:4443 with RocksDB storage, the
# embedded encrypted key store and accounts (auth.type "accounts": its own token service and
# admin API), in a data directory kept between runs (.vouch-run/ or $VOUCH_DATA_DIR). First
# run: makes a local CA and server certificate, a random passphrase for the server's key store
# and a random password for the first system administrator, "admin" (admin-password, mode
# 0600). Prints how to log in and how to point notary and docker trust at it.
# VOUCH_INSECURE_NO_AUTH=1 serves without authentication instead (anyone may publish).
set -euo pipefail
build_dir=${1:-build-release}
root=$(cd "$(dirname "$0")/.." && pwd)
case $build_dir in /*) server_bin=$build_dir/server/vouch-server ;;
  *) server_bin=$root/$build_dir/server/vouch-server ;; esac
data=${VOUCH_DATA_DIR:-$root/.vouch-run}
addr=${VOUCH_ADDR:-127.0.0.1:4443}
port=${addr##*:}
mkdir -p "$data"; chmod 700 "$data"
umask 077

if [ ! -f "$data/server.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
    -subj "/CN=vouch local CA" -keyout "$data/ca.key" -out "$data/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=localhost" -keyout "$data/server.key" -out "$data/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$data/server.ext"
  openssl x509 -req -in "$data/server.csr" -CA "$data/ca.pem" -CAkey "$data/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile "$data/server.ext" -out "$data/server.pem" 2>/dev/null
  chmod 644 "$data/ca.pem"
fi
if [ ! -f "$data/server-keys.passphrase" ]; then
  openssl rand -base64 32 >"$data/server-keys.passphrase"
fi

if [ "${VOUCH_INSECURE_NO_AUTH:-}" = 1 ]; then
  cat <<MSG
vouch-server: https://localhost:$port  (data in $data)

  notary:  notary -s https://localhost:$port --tlscacert $data/ca.pem init example.com/hello -p
  docker:  mkdir -p ~/.docker/tls/localhost:$port && cp $data/ca.pem ~/.docker/tls/localhost:$port/ca.crt
           export DOCKER_CONTENT_TRUST_SERVER=https://localhost:$port

This local server runs WITHOUT authentication (VOUCH_INSECURE_NO_AUTH=1; bound to $addr
only): anyone who can reach it may publish and delete. Stop with Ctrl-C.

MSG
  exec "$server_bin" --http-addr "$addr" \
    --tls-cert "$data/server.pem" --tls-key "$data/server.key" \
    --storage rocksdb --db-path "$data/db" \
    --trust-service local --key-passphrase-file "$data/server-keys.passphrase" \
    --insecure-no-auth
fi

# The first system administrator: a random password, kept in the data directory (0600). The
# server creates the account only while it has no user at all.
if [ ! -f "$data/admin-password" ]; then
  openssl rand -base64 24 | tr -d '\n' >"$data/admin-password"
fi
printf 'admin:%s\n' "$(cat "$data/admin-password")" >"$data/bootstrap-admin"
chmod 600 "$data/admin-password" "$data/bootstrap-admin"
# Tokens are fetched from this server's own /auth/token at the name its certificate carries.
cat >"$data/server.json" <<JSON
{"auth": {"type": "accounts",
          "options": {"realm": "https://localhost:$port/auth/token"}}}
JSON

cat <<MSG
vouch-server: https://localhost:$port  (data in $data; accounts and token service on)

  administrator: admin, password in $data/admin-password
  vouch:   vouch -s https://localhost:$port --tlscacert $data/ca.pem login --username admin \\
             --password-stdin < $data/admin-password
  notary:  export NOTARY_AUTH=\$(printf 'admin:%s' "\$(cat $data/admin-password)" | base64 -w0)
           notary -s https://localhost:$port --tlscacert $data/ca.pem init example.com/hello -p
  docker:  mkdir -p ~/.docker/tls/localhost:$port && cp $data/ca.pem ~/.docker/tls/localhost:$port/ca.crt
           export DOCKER_CONTENT_TRUST_SERVER=https://localhost:$port
  admin API: curl --cacert $data/ca.pem -u admin:\$(cat $data/admin-password) https://localhost:$port/api/v1/me

Users, teams, grants: server/README.md "Admin API". For a server without authentication run
VOUCH_INSECURE_NO_AUTH=1 make run. Stop with Ctrl-C (SIGTERM drains requests).

MSG
exec "$server_bin" --config "$data/server.json" --http-addr "$addr" \
  --tls-cert "$data/server.pem" --tls-key "$data/server.key" \
  --storage rocksdb --db-path "$data/db" \
  --trust-service local --key-passphrase-file "$data/server-keys.passphrase" \
  --bootstrap-admin-file "$data/bootstrap-admin"
