#!/usr/bin/env bash
# Interop: the docker CLI's content trust commands (`docker trust ...`) against vouch-server
# over HTTPS. The trust commands are a Notary client built into the docker CLI; they need no
# engine. Tag signatures are made with the real notary CLI in the trust directory docker
# wrote, because `docker trust sign` needs an engine to read the image.
#
#   docker_trust_vs_vouch_server.sh <path to vouch-server>
#
# Every step checks what docker (or notary) printed; the script fails on the first mismatch.
# Skips (exit 77) without a docker CLI that has `trust`, the notary CLI or jq;
# scripts/install-deps.sh installs Debian's docker.io when no docker is on PATH.
# It ends only the server it started, and removes its temporary directory.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
command -v docker >/dev/null || { echo "SKIP: no docker CLI found (scripts/install-deps.sh installs docker.io)"; exit 77; }
docker trust --help >/dev/null 2>&1 || { echo "SKIP: this docker CLI has no 'trust' commands"; exit 77; }
for tool in notary openssl curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

step "TLS certificates for 127.0.0.1"
vouch_make_tls

step "start vouch-server (RocksDB, embedded key store)"
vouch_start 127.0.0.1:0

# docker's configuration (and with it the trust directory, $DOCKER_CONFIG/trust) lives in the
# temp dir: ~/.docker is never read or written. Bob is a second signer with his own machine.
export DOCKER_CONFIG="$WORK/docker-admin"
BOB_CONFIG="$WORK/docker-bob"
export DOCKER_CONTENT_TRUST_SERVER="$URL"
export DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=interop-docker-root-pass
export DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=interop-docker-repo-pass
# The notary CLI signs tags with the keys docker made, under the same passphrases: docker
# encrypts the targets key and the signers' keys with the repository passphrase.
export NOTARY_ROOT_PASSPHRASE=$DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE
export NOTARY_TARGETS_PASSPHRASE=$DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
export NOTARY_DELEGATION_PASSPHRASE=$DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE

# The image repository. docker's GUN is the full name, registry host included. The registry
# name must not be a loopback address or resolve to one: docker treats such registries as
# insecure and then skips TLS verification of the trust server too. `.test` (RFC 2606) never
# resolves, so docker counts the registry as secure and verifies the server's certificate.
REPO=registry.vouch.test/team/app
GUN=$REPO
NOTARY_ADMIN=(notary -d "$DOCKER_CONFIG/trust" -s "$URL" --tlscacert "$WORK/ca.pem")
NOTARY_BOB=(notary -d "$BOB_CONFIG/trust" -s "$URL" --tlscacert "$WORK/ca.pem")

# pub_key_id <docker .pub file>: Notary's ID of the ecdsa key in it (the PEM body is the
# base64 DER public key; docker adds a "role: <name>" header).
pub_key_id() {
  local b64
  b64=$(sed -e '/^-----/d' -e '/^role:/d' -e '/^$/d' "$1" | tr -d '\n')
  key_id "{\"keytype\":\"ecdsa\",\"keyval\":{\"private\":null,\"public\":\"$b64\"}}"
}
# private_key_id <trust dir> <role>: the ID (file name) of the private key docker stored for role.
private_key_id() {
  local f
  f=$(grep -lx "role: $2" "$1"/private/*.key) || fail "no $2 key in $1"
  [ "$(wc -l <<<"$f")" -eq 1 ] || fail "several $2 keys in $1"
  basename "$f" .key
}

step "docker trust key generate: alice (admin's machine), bob (his own)"
mkdir -p "$WORK/keys"
out=$(docker trust key generate alice --dir "$WORK/keys") || fail "key generate alice: $out"
expect_in "Successfully generated and loaded private key. Corresponding public key available: $WORK/keys/alice.pub" "$out"
out=$(DOCKER_CONFIG=$BOB_CONFIG docker trust key generate bob --dir "$WORK/keys") \
  || fail "key generate bob: $out"
expect_in "Corresponding public key available: $WORK/keys/bob.pub" "$out"
grep -qx "role: alice" "$WORK/keys/alice.pub" || fail "alice.pub has no role header"
ALICE_ID=$(pub_key_id "$WORK/keys/alice.pub")
BOB_ID=$(pub_key_id "$WORK/keys/bob.pub")
[ "$(private_key_id "$DOCKER_CONFIG/trust" alice)" = "$ALICE_ID" ] || fail "alice's private key ID"
[ "$(private_key_id "$BOB_CONFIG/trust" bob)" = "$BOB_ID" ] || fail "bob's private key ID"

step "TLS is verified: without the test CA docker refuses the server"
# docker's trust client (cli/trust/trust.go, GetNotaryRepository) verifies the server's
# certificate chain and host name against the system roots plus every *.crt file in
# $DOCKER_CONFIG/tls/<host:port of DOCKER_CONTENT_TRUST_SERVER>/ (a *.cert/*.key pair there
# would be a client certificate). It skips verification only when the image's registry is
# "insecure", which without a daemon config means a loopback registry (see REPO above).
out=$(DOCKER_CONFIG="$WORK/docker-noca" docker trust signer add --key "$WORK/keys/alice.pub" alice "$REPO" 2>&1) \
  && fail "signer add succeeded without the CA: $out"
expect_in "x509: certificate signed by unknown authority" "$out"
for cfg in "$DOCKER_CONFIG" "$BOB_CONFIG"; do
  mkdir -p "$cfg/tls/127.0.0.1:$PORT"
  cp "$WORK/ca.pem" "$cfg/tls/127.0.0.1:$PORT/ca.crt"
done

step "docker trust signer add alice: initializes the repository on vouch-server"
out=$(docker trust signer add --key "$WORK/keys/alice.pub" alice "$REPO" 2>&1) || fail "signer add alice: $out"
expect_in "Adding signer \"alice\" to $REPO..." "$out"
expect_in "Initializing signed repository for $REPO..." "$out"
expect_in "Successfully initialized \"$REPO\"" "$out"
expect_in "Successfully added signer: alice to $REPO" "$out"
ROOT=$(served "$GUN" root) || fail "no root.json for $GUN on the server"
ROOT_ID=$(jq -r '.signed.roles.root.keyids[0]' <<<"$ROOT")
TARGETS_ID=$(jq -r '.signed.roles.targets.keyids[0]' <<<"$ROOT")
[ "$TARGETS_ID" = "$(private_key_id "$DOCKER_CONFIG/trust" targets)" ] || fail "targets key in root.json"
# The snapshot key is the server's: docker keeps none, and root names the one vouch-server holds.
if grep -qlx "role: snapshot" "$DOCKER_CONFIG"/trust/private/*.key; then fail "docker holds a snapshot key"; fi
server_key=$(curl -sf --cacert "$WORK/ca.pem" "$URL/v2/$GUN/_trust/tuf/snapshot.key") || fail "GET snapshot.key"
[ "$(jq -r '.signed.roles.snapshot.keyids[0]' <<<"$ROOT")" = "$(key_id "$server_key")" ] \
  || fail "root's snapshot key is not the server's"

step "docker trust signer add bob"
out=$(docker trust signer add --key "$WORK/keys/bob.pub" bob "$REPO" 2>&1) || fail "signer add bob: $out"
expect_in "Successfully added signer: bob to $REPO" "$out"
expect_not_in "Initializing" "$out"

step "docker trust inspect: signers and administrative keys"
TAB=$'\t'
out=$(docker trust inspect "$REPO") || fail "inspect: $out"
jq -e --arg repo "$REPO" --arg alice "$ALICE_ID" --arg bob "$BOB_ID" \
  --arg root "$ROOT_ID" --arg targets "$TARGETS_ID" '
  length == 1 and .[0].Name == $repo and .[0].SignedTags == []
  and (.[0].Signers | sort_by(.Name)) ==
      [{"Name": "alice", "Keys": [{"ID": $alice}]}, {"Name": "bob", "Keys": [{"ID": $bob}]}]
  and (.[0].AdministrativeKeys | sort_by(.Name)) ==
      [{"Name": "Repository", "Keys": [{"ID": $targets}]}, {"Name": "Root", "Keys": [{"ID": $root}]}]
  ' <<<"$out" >/dev/null || fail "inspect JSON:
$out"
out=$(docker trust inspect --pretty "$REPO") || fail "inspect --pretty: $out"
expect_in "No signatures for $REPO" "$out"
expect_in "List of signers and their keys for $REPO" "$out"
grep -Eq "^alice +${ALICE_ID:0:12} *\$" <<<"$out" || fail "no alice row in: $out"
grep -Eq "^bob +${BOB_ID:0:12} *\$" <<<"$out" || fail "no bob row in: $out"
expect_in "Administrative keys for $REPO" "$out"
expect_in "Repository Key:$TAB$TARGETS_ID" "$out"
expect_in "Root Key:$TAB$ROOT_ID" "$out"

step "alice signs tag v1 (notary CLI, docker's trust dir): targets/releases and targets/alice"
printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"size":1469,"digest":"sha256:%064d"}}' 1 \
  >"$WORK/manifest-v1.json"
V1_SHA=$(sha256sum "$WORK/manifest-v1.json" | cut -d' ' -f1)
out=$("${NOTARY_ADMIN[@]}" add "$GUN" v1 "$WORK/manifest-v1.json" -r targets/releases -r targets/alice -p) \
  || fail "notary add v1: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$(docker trust inspect "$REPO:v1") || fail "inspect v1: $out"
jq -e --arg d "$V1_SHA" '.[0].SignedTags == [{"SignedTag": "v1", "Digest": $d, "Signers": ["alice"]}]' \
  <<<"$out" >/dev/null || fail "inspect v1 JSON:
$out"
out=$(docker trust inspect --pretty "$REPO:v1")
grep -Eq "^v1 +$V1_SHA +alice *\$" <<<"$out" || fail "no signed v1 row in: $out"

step "docker trust revoke removes the signature"
out=$(docker trust revoke -y "$REPO:v1" 2>&1) || fail "revoke: $out"
expect_in "Successfully deleted signature for $REPO:v1" "$out"
out=$(docker trust inspect "$REPO:v1") || fail "inspect after revoke: $out"
jq -e '.[0].SignedTags == []' <<<"$out" >/dev/null || fail "v1 still signed:
$out"
out=$(notary -d "$WORK/notary-fresh" -s "$URL" --tlscacert "$WORK/ca.pem" list "$GUN")
expect_in "No targets present in this repository." "$out"
for role in targets/releases targets/alice; do
  served "$GUN" "$role" | jq -e '.signed.targets | has("v1") | not' >/dev/null \
    || fail "$role still lists v1"
done

step "bob signs tag v2 from his machine"
printf '{"schemaVersion":2,"tag":"v2"}' >"$WORK/manifest-v2.json"
V2_SHA=$(sha256sum "$WORK/manifest-v2.json" | cut -d' ' -f1)
out=$("${NOTARY_BOB[@]}" add "$GUN" v2 "$WORK/manifest-v2.json" -r targets/releases -r targets/bob -p) \
  || fail "notary add v2 as bob: $out"
expect_in "Successfully published changes for repository $GUN" "$out"
out=$(docker trust inspect "$REPO")
jq -e --arg d "$V2_SHA" '.[0].SignedTags == [{"SignedTag": "v2", "Digest": $d, "Signers": ["bob"]}]' \
  <<<"$out" >/dev/null || fail "inspect after bob's signature:
$out"

step "docker trust signer remove bob"
# bob's key alone signed the current targets/releases, so docker asks for confirmation. The
# test answers it: docker 26 and later remove a signer only after that confirmation (without
# it, or with --force, they print "Removing signer" and change nothing), 20.10 either way.
out=$(printf 'y\n' | docker trust signer remove bob "$REPO" 2>&1) || fail "signer remove bob: $out"
expect_in "The signer \"bob\" signed the last released version of $REPO." "$out"
expect_in "Successfully removed bob from $REPO" "$out"
out=$(docker trust inspect "$REPO") || fail "inspect after signer remove: $out"
# targets/releases is now signed by no key it lists, so v2 is no longer trusted ("unpullable").
jq -e --arg alice "$ALICE_ID" '.[0].Signers == [{"Name": "alice", "Keys": [{"ID": $alice}]}]
  and .[0].SignedTags == []' <<<"$out" >/dev/null || fail "inspect after signer remove:
$out"
out=$("${NOTARY_ADMIN[@]}" delegation list "$GUN")
expect_not_in "targets/bob" "$out"; expect_not_in "$BOB_ID" "$out"
expect_in "targets/releases" "$out"; expect_in "$ALICE_ID" "$out"
served "$GUN" targets | jq -e '[.signed.delegations.roles[].name] | sort == ["targets/alice", "targets/releases"]' \
  >/dev/null || fail "served targets.json still delegates to bob"

echo "docker trust interop: all steps passed"
