#!/usr/bin/env bash
# `make run`: starts vouch-server on https://localhost:4443 with RocksDB storage and the
# embedded encrypted key store, in a data directory kept between runs (.vouch-run/ or
# $VOUCH_DATA_DIR). First run: makes a local CA and server certificate, and a random
# passphrase for the server's key store. Prints how to point notary and docker trust at it.
set -euo pipefail
build_dir=${1:-build-release}
root=$(cd "$(dirname "$0")/.." && pwd)
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

cat <<MSG
vouch-server: https://localhost:$port  (data in $data)

  notary:  notary -s https://localhost:$port --tlscacert $data/ca.pem init example.com/hello -p
  docker:  mkdir -p ~/.docker/tls/localhost:$port && cp $data/ca.pem ~/.docker/tls/localhost:$port/ca.crt
           export DOCKER_CONTENT_TRUST_SERVER=https://localhost:$port

This local server runs WITHOUT authentication (bound to $addr only). For anything shared,
configure token auth: see server/README.md. Stop with Ctrl-C (SIGTERM drains requests).

MSG
exec "$root/$build_dir/server/vouch-server" --http-addr "$addr" \
  --tls-cert "$data/server.pem" --tls-key "$data/server.key" \
  --storage rocksdb --db-path "$data/db" \
  --trust-service local --key-passphrase-file "$data/server-keys.passphrase" \
  --insecure-no-auth
