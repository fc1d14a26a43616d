#!/usr/bin/env bash
# Installs every Debian 12 package that vouch's build, tests and interop tests need.
# Idempotent: when everything is present it prints nothing and touches no package list.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache
  # crypto
  libssl-dev libbotan-2-dev
  # HTTP server and JSON (Boost 1.81; conflicts with 1.74, which nothing here needs)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  # HTTP client
  libcurl4-openssl-dev
  # RPC
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # storage; PostgreSQL for the shared backend (PgStore) and the server its tests start
  librocksdb-dev libpqxx-dev libpq-dev postgresql postgresql-client
  # directory accounts (LDAP / Active Directory sign-in) and the slapd its tests start
  libldap-dev slapd ldap-utils
  # CLI, logging, metrics
  libcli11-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  # policy files (the verifier)
  libyaml-cpp-dev
  # tests: doctest, and the reference implementation (notary, notary-server, notary-signer)
  doctest-dev notary openssl
  # the fixture generator (scripts/make-notary-fixtures.sh)
  python3 jq curl
  # a terminal for the CLI's prompt tests (tests/integration/vouch_cli_tty_test.sh)
  tmux
  # the deployment files' test (tests/integration/deploy_files_test.sh): systemd-analyze for the
  # units, a YAML parser for the Kubernetes manifests
  systemd python3-yaml
  # the Debian packages (make packages: dpkg-shlibdeps) and their test in a Debian 12 root
  # (tests/packaging); buildah builds the container images without a daemon
  dpkg-dev debootstrap buildah
)
# docker's trust commands (tests/interop/docker_trust_vs_vouch_server.sh): any docker CLI on
# PATH will do; only when there is none, Debian's docker.io.
command -v docker >/dev/null 2>&1 || packages+=(docker.io)

# Optional groups: --fuzz adds clang and libFuzzer for the fuzz targets (make fuzz); --bench
# adds the HTTP load generator and the static-file baseline of the side-by-side suite
# (make bench, bench/suite.py).
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang-14 libfuzzer-14-dev libclang-rt-14-dev) ;;
    --bench) packages+=(wrk nginx-light) ;;
    *) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
