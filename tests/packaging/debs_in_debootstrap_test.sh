#!/usr/bin/env bash
# The Debian packages in a clean Debian 12: builds vouch, vouch-server, vouch-signer and
# vouch-verifier with CPack from <package-build-dir> (configured with CMAKE_INSTALL_PREFIX=/usr,
# as `make packages` does), makes a minbase Debian 12 root with debootstrap (its tarball cached
# in <cache-dir>, so reruns do not download it again), installs the packages there with
# `apt-get install ./*.deb`, and checks inside the root (chroot, no systemd):
#   - each package's Depends lists the shared libraries its binaries link (dpkg-shlibdeps);
#   - `vouch --version` and each daemon's --help run, so every library resolved;
#   - the system users, /var/lib/<daemon> (0700, owned by the user), the configuration examples
#     in /etc/vouch and the generated passphrases (0600) exist;
#   - the units pass `systemd-analyze verify`;
#   - vouch-server starts as its user from the packaged /etc/vouch/server.json, with the key
#     passphrase where systemd's LoadCredential= puts it, answers its health check over TLS, and
#     exits 0 on SIGTERM; vouch-signer starts from /etc/vouch/signer.json the same way and
#     answers /readyz;
#   - the Dockerfiles in packaging/docker build with buildah (chroot isolation, no daemon) on
#     the same clean Debian 12 as base image (debian:12-slim cannot be pulled here), and each
#     image runs its daemon's --help as UID 65532 with no generated passphrase inside.
# Exit 77 (skipped) when the Debian mirror cannot be reached; any other failure fails. The mirror
# is the one apt uses here (VOUCH_DEBIAN_MIRROR overrides it). Also skipped when not root.
# Usage: debs_in_debootstrap_test.sh <source-dir> <package-build-dir> <cache-dir>
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: debootstrap, chroot and mounting /proc need root (CI runs as root)"
  exit 77
fi
src=$(cd "$1" && pwd)
pkg_build=$2
cache=$3
mkdir -p "$cache" && cache=$(cd "$cache" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== [${SECONDS}s] $*"; }

# The mirror apt uses here (deb822 sources first, then sources.list).
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1=="deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
fi
mirror=${VOUCH_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
mirror=${mirror%/}
for tool in debootstrap dpkg-deb curl openssl buildah; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/install-deps.sh"
done
if ! curl -fsS -o /dev/null --connect-timeout 10 --max-time 30 "$mirror/dists/bookworm/Release"; then
  echo "SKIP: the Debian mirror $mirror cannot be reached"
  exit 77
fi

# ---- the packages ----
step "packages from $pkg_build"
cmake -S "$src" -B "$pkg_build" -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$pkg_build" --target vouch vouch-server vouch-signer vouch-verifier >/dev/null
rm -rf "$pkg_build/packages"
(cd "$pkg_build" && cpack -G DEB >/dev/null 2>&1) || fail "cpack failed"
mapfile -t debs < <(ls "$pkg_build"/packages/*.deb)
[ ${#debs[@]} -eq 4 ] || fail "expected 4 packages, got: ${debs[*]}"
for name in vouch vouch-server vouch-signer vouch-verifier; do
  deb=$(ls "$pkg_build"/packages/"${name}"_*.deb) || fail "no package $name"
  depends=$(dpkg-deb -f "$deb" Depends)
  for lib in libc6 libstdc++6 libssl3; do
    [[ "$depends" == *"$lib"* ]] || fail "$name: Depends lacks $lib: $depends"
  done
  if [ "$name" != vouch ]; then
    [[ "$depends" == *passwd* ]] || fail "$name: Depends lacks passwd: $depends"
    contents=$(dpkg-deb -c "$deb")
    grep -q "usr/lib/systemd/system/$name.service" <<<"$contents" || fail "$name: no unit"
    conffiles=$(dpkg-deb -I "$deb" conffiles)
    grep -q "^/etc/vouch/" <<<"$conffiles" || fail "$name: no conffiles"
  fi
done
[[ "$(dpkg-deb -f "$pkg_build"/packages/vouch-server_*.deb Depends)" == *librocksdb* ]] \
  || fail "vouch-server: Depends lacks librocksdb"

# ---- the Debian 12 root ----
root=$(mktemp -d /tmp/vouch-debootstrap.XXXXXX)
# buildah's own storage (vfs: plain directories, no mounts), removed with the root.
images=$root.buildah
bah() { buildah --storage-driver vfs --root "$images/storage" --runroot "$images/run" "$@"; }
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  # Mounts first: removing buildah's storage takes a while on a loaded machine.
  for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
    if mountpoint -q "$m" 2>/dev/null; then umount -l "$m" || true; fi
  done
  if [ -d "$images" ]; then
    bah rm --all >/dev/null 2>&1 || true
    rm -rf "$images"
  fi
  # Only remove the root once nothing is mounted under it.
  if ! grep -q " $root/" /proc/mounts; then rm -rf "$root"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

tarball=$cache/bookworm-minbase.tgz
if [ ! -s "$tarball" ]; then
  step "debootstrap --make-tarball (cached in $tarball)"
  if ! debootstrap --variant=minbase --make-tarball="$tarball.part" bookworm "$root/mk" "$mirror" \
       >"$cache/make-tarball.log" 2>&1; then
    rm -f "$tarball.part"
    if grep -qiE "couldn't download|failed getting release|unable to connect|temporary failure" \
         "$cache/make-tarball.log"; then
      echo "SKIP: debootstrap cannot download from $mirror"; exit 77
    fi
    tail -20 "$cache/make-tarball.log" >&2; fail "debootstrap --make-tarball"
  fi
  mv "$tarball.part" "$tarball"
  rm -rf "$root/mk"
fi
step "debootstrap --unpack-tarball into $root"
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$root" "$mirror" \
  >"$root.debootstrap.log" 2>&1 || { tail -20 "$root.debootstrap.log" >&2; rm -f "$root.debootstrap.log"; fail "debootstrap"; }
rm -f "$root.debootstrap.log"
# The clean root, before anything is installed, is the images' base.
base=$(bah from scratch)
cp -a "$root/." "$(bah mount "$base")/"
bah umount "$base" >/dev/null
bah commit -q "$base" localhost/vouch-test-base:bookworm >/dev/null
bah rm "$base" >/dev/null
# mktemp made the root 0700: the daemons' users and apt's _apt must be able to walk it.
chmod 0755 "$root"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
in_root() { chroot "$root" "$@"; }

step "apt-get install ./*.deb"
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"
export DEBIAN_FRONTEND=noninteractive
in_root apt-get update -qq >/dev/null || { echo "SKIP: apt-get update in the root failed"; exit 77; }
(in_root sh -c 'cd /tmp/debs && apt-get install -y -qq --no-install-recommends ./*.deb') \
  >"$cache/apt-install.log" 2>&1 || { tail -30 "$cache/apt-install.log" >&2; fail "apt-get install ./*.deb"; }

# ---- what the packages installed ----
step "binaries"
in_root vouch --version | grep -q . || fail "vouch --version printed nothing"
for d in vouch-server vouch-signer vouch-verifier; do
  in_root "$d" --help >/dev/null || fail "$d --help"
done
step "users, data directories, configuration, secrets"
for d in vouch-server vouch-signer vouch-verifier; do
  in_root getent passwd "$d" >/dev/null || fail "no user $d"
  [ "$(in_root stat -c '%U %a' "/var/lib/$d")" = "$d 700" ] || fail "/var/lib/$d: $(in_root stat -c '%U %a' "/var/lib/$d")"
  [ -f "$root/usr/lib/systemd/system/$d.service" ] || fail "no unit $d.service"
done
for f in server.json signer.json verifier.json policy.yaml; do
  [ -f "$root/etc/vouch/$f" ] || fail "no /etc/vouch/$f"
done
for f in /etc/vouch/server-keys.passphrase /etc/vouch/signer-passphrases/main; do
  [ "$(in_root stat -c '%U %a' "$f")" = "root 600" ] || fail "$f: $(in_root stat -c '%U %a' "$f")"
done

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze verify"
  # --root resolves ExecStart=, ExecReload= and the targets the units name inside the Debian
  # 12 root, which needs systemd's own units there (installed after the packages, so the
  # packages were checked without it).
  in_root apt-get install -y -qq --no-install-recommends systemd >>"$cache/apt-install.log" 2>&1 \
    || { tail -30 "$cache/apt-install.log" >&2; fail "apt-get install systemd"; }
  for d in vouch-server vouch-signer vouch-verifier; do
    out=$(systemd-analyze verify --root="$root" "/usr/lib/systemd/system/$d.service" 2>&1) \
      || fail "systemd-analyze verify $d.service: $out"
    if grep -q "$d.service" <<<"$out"; then fail "systemd-analyze verify $d.service: $out"; fi
  done
fi

# ---- the daemons start from the packaged configuration ----
# What systemd's LoadCredential= does: a copy of the secret, owned by the service's user, mode
# 0400, in /run/credentials/<unit>/<name>.
credential() {  # unit, name, source, user
  mkdir -p "$root/run/credentials/$1"
  cp "$root$3" "$root/run/credentials/$1/$2"
  in_root chown -R "$4:$4" "/run/credentials/$1"
  chmod 0500 "$root/run/credentials/$1"; chmod 0400 "$root/run/credentials/$1/$2"
}
# Waits for the daemon's first line matching a pattern (or its exit); prints the line.
wait_line() {  # log, pid, pattern
  for _ in $(seq 600); do
    if grep -q "$3" "$1"; then grep -m1 "$3" "$1"; return 0; fi
    kill -0 "$2" 2>/dev/null || { cat "$1" >&2; return 1; }
    sleep 0.1
  done
  cat "$1" >&2; return 1
}
tls=$root/etc/vouch/tls
mkdir -p "$tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 2 \
  -subj "/CN=vouch test CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
issue() {  # name, extended key usage
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -subj "/CN=localhost" \
    -keyout "$tls/$1.key" -out "$tls/$1.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=%s\n' "$2" >"$tls/$1.ext"
  openssl x509 -req -in "$tls/$1.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$tls/$1.ext" -out "$tls/$1.pem" 2>/dev/null
}
issue server serverAuth
issue signer serverAuth
cp "$tls/ca.pem" "$tls/token-signing-ca.pem"
cp "$tls/ca.pem" "$tls/signer-clients-ca.pem"
in_root chown vouch-server "/etc/vouch/tls/server.key"
in_root chown vouch-signer "/etc/vouch/tls/signer.key"
chmod 0600 "$tls"/*.key

step "vouch-server: start from /etc/vouch/server.json, health, SIGTERM"
credential vouch-server.service key-passphrase /etc/vouch/server-keys.passphrase vouch-server
log=$root/tmp/server.log
(cd "$root" && exec chroot "$root" setpriv --reuid=vouch-server --regid=vouch-server --init-groups \
  /usr/bin/vouch-server --config /etc/vouch/server.json --http-addr 127.0.0.1:0) >"$log" 2>&1 &
pid=$!; pids+=("$pid")
line=$(wait_line "$log" "$pid" "listening on") || fail "vouch-server did not start"
port=${line##*:}; port=${port%%[^0-9]*}
body=$(curl -fsS --cacert "$tls/ca.pem" "https://127.0.0.1:$port/_notary_server/health") \
  || fail "vouch-server health check on port $port"
echo "health: $body"
curl -fsS --cacert "$tls/ca.pem" -o /dev/null "https://127.0.0.1:$port/readyz" || fail "/readyz"
[ -d "$root/var/lib/vouch-server/db" ] || fail "no RocksDB in /var/lib/vouch-server/db"
[ "$(in_root stat -c %U /var/lib/vouch-server/db)" = vouch-server ] || fail "db not owned by vouch-server"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pids=()
[ $rc -eq 0 ] || { cat "$log" >&2; fail "vouch-server exited $rc on SIGTERM"; }

step "vouch-signer: start from /etc/vouch/signer.json, readyz, SIGTERM"
credential vouch-signer.service main /etc/vouch/signer-passphrases/main vouch-signer
log=$root/tmp/signer.log
(exec chroot "$root" setpriv --reuid=vouch-signer --regid=vouch-signer --init-groups \
  /usr/bin/vouch-signer --config /etc/vouch/signer.json --grpc-addr 127.0.0.1:0 \
  --http-addr 127.0.0.1:0 --ready-file /var/lib/vouch-signer/ready.json) >"$log" 2>&1 &
pid=$!; pids+=("$pid")
for _ in $(seq 600); do
  [ -s "$root/var/lib/vouch-signer/ready.json" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "vouch-signer exited"; }
  sleep 0.1
done
ready=$(cat "$root/var/lib/vouch-signer/ready.json" 2>/dev/null) || { cat "$log" >&2; fail "vouch-signer not ready"; }
hport=$(sed -n 's/.*"http_port":[[:space:]]*\([0-9]*\).*/\1/p' <<<"$ready")
curl -fsS -o /dev/null "http://127.0.0.1:$hport/readyz" || fail "vouch-signer /readyz"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pids=()
[ $rc -eq 0 ] || { cat "$log" >&2; fail "vouch-signer exited $rc on SIGTERM"; }

for d in server signer verifier; do
  step "image vouch-$d: buildah bud packaging/docker/Dockerfile.vouch-$d"
  bah bud -q --isolation chroot --build-arg BASE=localhost/vouch-test-base:bookworm \
    -f "$src/packaging/docker/Dockerfile.vouch-$d" -t "localhost/vouch-$d:test" \
    "$pkg_build/packages" >"$cache/bud-$d.log" 2>&1 || { tail -30 "$cache/bud-$d.log" >&2; fail "buildah bud vouch-$d"; }
  config=$(bah inspect --type image --format '{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}' "localhost/vouch-$d:test")
  [ "$config" = "65532:65532 [/usr/bin/vouch-$d]" ] || fail "vouch-$d image: user and entrypoint: $config"
  c=$(bah from -q "localhost/vouch-$d:test")
  # One run in the image (the shell is only the test's: the entrypoint needs none): its UID,
  # the owner of the data directory, no passphrase left behind, and the daemon's --help.
  got=$(bah run --isolation chroot "$c" -- /bin/sh -c "id -u; stat -c %u /var/lib/vouch-$d; \
    find /etc/vouch -name '*passphrase*'; /usr/bin/vouch-$d --help >/dev/null && echo help-ok" 2>&1) \
    || fail "vouch-$d image: buildah run: $got"
  [ "$got" = $'65532\n65532\nhelp-ok' ] \
    || fail "vouch-$d image: want UID 65532, /var/lib/vouch-$d owned by 65532, no passphrase, --help; got: $got"
  bah rm "$c" >/dev/null
done

echo "PASS [${SECONDS}s]: the packages install and run in a clean Debian 12, and the images build"
