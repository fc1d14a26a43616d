#!/usr/bin/env bash
# Regenerates tests/data/notary-keys/: private key files made by the REAL Notary 0.7, never by
# vouch, for keys/key_file.cc and keys/keystore.cc tests (tests/unit/keys/keystore_test.cc).
#
# Each output file is named <label>.<canonical key ID>.key; the test decrypts it with the
# passphrase below and checks that the key's canonical ID equals the one in the name.
#
#   notary-cli-*       made by the `notary` CLI (Debian package notary 0.7.0) in a temp trust
#                      dir, passphrases from NOTARY_*_PASSPHRASE:
#                        root              `notary key generate ecdsa --role root`
#                        targets_releases  `notary key generate ecdsa --role targets/releases`
#                        targets           `notary key import` of an openssl P-256 key,
#                                          --role targets --gun example.com/vouch/app
#                        snapshot          `notary key import` of an openssl RSA-2048 key,
#                                          --role snapshot --gun example.com/vouch/app
#   notary-lib-ed25519 Notary's own library (tuf/utils GenerateKey("ed25519") +
#                      ConvertPrivateKeyToPKCS8), built from the Debian package
#                      golang-github-docker-notary-dev: the CLI cannot make Ed25519 keys.
#   legacy-root        a Notary <= 0.3 style key: Go's x509.EncryptPEMBlock (AES-256-CBC,
#                      Proc-Type/DEK-Info) of an "EC PRIVATE KEY" with a "role: root" header,
#                      as old clients stored in private/root_keys/.
# The Go steps are skipped (with a warning) if go or the notary sources are missing.
#
# Usage: tests/data/notary-keys/make.sh [output-dir]   (default: this directory)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-$HERE}"
PASS="vouch-notary-keys-test"   # the passphrase of every key here (see README.md)
GUN="example.com/vouch/app"

export NOTARY_ROOT_PASSPHRASE="$PASS" NOTARY_TARGETS_PASSPHRASE="$PASS"
export NOTARY_SNAPSHOT_PASSPHRASE="$PASS" NOTARY_DELEGATION_PASSPHRASE="$PASS"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
TRUST="$TMP/trust"
mkdir -p "$DEST"
rm -f "$DEST"/notary-cli-*.key

notary version | head -3 > "$TMP/version.txt" || true
notary -d "$TRUST" key generate ecdsa --role root
notary -d "$TRUST" key generate ecdsa --role targets/releases
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/targets.pem" 2>/dev/null
notary -d "$TRUST" key import "$TMP/targets.pem" --role targets --gun "$GUN"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/snapshot.pem" 2>/dev/null
notary -d "$TRUST" key import "$TMP/snapshot.pem" --role snapshot --gun "$GUN"
notary -d "$TRUST" key list

for f in "$TRUST"/private/*.key; do
  id="$(basename "$f" .key)"
  role="$(sed -n 's/^role: //p' "$f" | head -1 | tr '/' '_')"
  install -m 0600 "$f" "$DEST/notary-cli-$role.$id.key"
done

NOTARY_SRC=/usr/share/gocode/src/github.com/theupdateframework/notary
if command -v go >/dev/null && [ -d "$NOTARY_SRC" ]; then
  mkdir -p "$TMP/gopath/src/mkkey"
  cat > "$TMP/gopath/src/mkkey/main.go" <<'GO'
// Writes one key file with Notary's own code; prints the canonical key ID on stderr.
package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/theupdateframework/notary/tuf/data"
	"github.com/theupdateframework/notary/tuf/utils"
)

func main() {
	mode, role, gun, pass := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	switch mode {
	case "ed25519":
		k, err := utils.GenerateKey(data.ED25519Key)
		check(err)
		out, err := utils.ConvertPrivateKeyToPKCS8(k, data.RoleName(role), data.GUN(gun), pass)
		check(err)
		fmt.Fprint(os.Stderr, k.ID())
		os.Stdout.Write(out)
	case "legacy-ecdsa":
		k, err := utils.GenerateKey(data.ECDSAKey)
		check(err)
		block, err := x509.EncryptPEMBlock(rand.Reader, "EC PRIVATE KEY", k.Private(),
			[]byte(pass), x509.PEMCipherAES256)
		check(err)
		block.Headers["role"] = role
		fmt.Fprint(os.Stderr, k.ID())
		check(pem.Encode(os.Stdout, block))
	}
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
GO
  (cd "$TMP/gopath/src/mkkey" &&
   GO111MODULE=off GOPATH="$TMP/gopath:/usr/share/gocode" GOCACHE="$TMP/gocache" \
     go build -o "$TMP/mkkey" .)
  rm -f "$DEST"/notary-lib-*.key "$DEST"/legacy-*.key
  id="$("$TMP/mkkey" ed25519 snapshot "$GUN" "$PASS" 2>&1 >"$TMP/ed.key")"
  install -m 0600 "$TMP/ed.key" "$DEST/notary-lib-ed25519-snapshot.$id.key"
  id="$("$TMP/mkkey" legacy-ecdsa root "" "$PASS" 2>&1 >"$TMP/legacy.key")"
  install -m 0600 "$TMP/legacy.key" "$DEST/legacy-root.$id.key"
else
  echo "warning: go or $NOTARY_SRC missing; Ed25519 and legacy vectors not regenerated" >&2
fi
ls -l "$DEST"
