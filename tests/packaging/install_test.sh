#!/usr/bin/env bash
# `make install` / `cmake --install`: installs <build-dir> under a scratch DESTDIR and checks
# that the four binaries, the systemd units (naming the installed binaries and configuration),
# the configuration examples and the READMEs land where the install rules promise, and that the
# installed CLI runs.
# Usage: install_test.sh <build-dir>
set -euo pipefail
build=$(cd "$1" && pwd)
dest=$(mktemp -d /tmp/vouch-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ -n "$prefix" ] || fail "no CMAKE_INSTALL_PREFIX in $build/CMakeCache.txt"
# GNUInstallDirs: configuration goes to /etc for the prefix /usr, else to <prefix>/etc.
if [ "$prefix" = /usr ]; then etc=/etc; else etc=$prefix/etc; fi

DESTDIR=$dest cmake --install "$build" >/dev/null
for b in vouch vouch-server vouch-signer vouch-verifier; do
  [ -x "$dest$prefix/bin/$b" ] || fail "$prefix/bin/$b not installed"
done
for d in server signer verifier; do
  unit=$dest$prefix/lib/systemd/system/vouch-$d.service
  [ -f "$unit" ] || fail "vouch-$d.service not installed"
  grep -q "^ExecStart=$prefix/bin/vouch-$d --config $etc/vouch/$d.json\$" "$unit" \
    || fail "vouch-$d.service: ExecStart does not name $prefix/bin and $etc/vouch: $(grep ExecStart= "$unit")"
  [ -f "$dest$etc/vouch/$d.json" ] || fail "$etc/vouch/$d.json not installed"
  # The configuration examples name files in the installed configuration directory.
  grep -q "\"$etc/vouch/" "$dest$etc/vouch/$d.json" || fail "$d.json does not name $etc/vouch"
  if [ "$etc" != /etc ] && grep -q '"/etc/vouch/' "$dest$etc/vouch/$d.json"; then
    fail "$d.json names /etc/vouch under the prefix $prefix"
  fi
  [ -f "$dest$prefix/share/doc/vouch-$d/README.md" ] || fail "vouch-$d README not installed"
  grep -q "^Documentation=file:$prefix/share/doc/vouch-$d/README.md\$" "$unit" \
    || fail "vouch-$d.service: Documentation= does not name the installed README"
done
[ -f "$dest$etc/vouch/policy.yaml" ] || fail "$etc/vouch/policy.yaml not installed"
"$dest$prefix/bin/vouch" --version | grep -q . || fail "installed vouch --version"
echo "PASS: cmake --install (prefix $prefix)"
