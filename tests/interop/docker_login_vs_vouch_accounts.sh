#!/usr/bin/env bash
# Interop: `docker login` and docker's trust commands against vouch-server's own token service
# (auth.type "accounts", issue 14), without a docker engine. Each person has their own
# DOCKER_CONFIG: olivia (an admin of the organization acme), alice (in team acme/devs, which
# may read acme/*) and mallory (no grant). Each logs in with the password on stdin (no TTY);
# docker keeps the refresh token vouch-server answers, not the password, and its trust
# commands exchange it for tokens (the offline refresh-token flow). olivia initializes
# acme/app with `docker trust signer add`; alice inspects it but may not add a signer until
# her team gets read-write; mallory may not even read it. No password reaches the server log (at debug level), the
# audit log or docker's config.
#
#   docker_login_vs_vouch_accounts.sh <path to vouch-server>
#
# What `docker login <host:port>` does without an engine (docker/cli 28,
# cli/command/registry/login.go): the engine API call fails to connect, so it logs in client
# side (loginClientSide -> moby registry Service.Auth): GET https://<host:port>/v2/ -> 401
# Bearer challenge; GET <realm>?service=..&offline_token=true&client_id=docker with Basic
# user:password and no scope; GET /v2/ again with that token, which must answer 200. The
# answer's refresh_token is stored as "identitytoken" in config.json in place of the password.
# The registry part of the image name must be the server's host:port, because docker's trust
# commands use the login stored for the image's registry. A loopback registry counts as
# "insecure" to docker (no TLS verification of it or of the trust server; the test CA is
# installed anyway); docker_trust_vs_vouch_server.sh covers verification with a `.test` name.
#
# It ends only the server it started and removes its temporary directory
# (tests/interop/lib_vouch_server.sh).
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server binary>}
command -v docker >/dev/null || { echo "SKIP: no docker CLI found (scripts/install-deps.sh installs docker.io)"; exit 77; }
docker trust --help >/dev/null 2>&1 || { echo "SKIP: this docker CLI has no 'trust' commands"; exit 77; }
for tool in openssl curl jq python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"

step "vouch-server with accounts (log level debug) and its first administrator"
vouch_make_tls
cat >"$WORK/accounts.json" <<'JSON'
{"auth": {"type": "accounts"},
 "accounts": {"password_memory_kib": 1024, "password_iterations": 1}}
JSON
export VOUCH_BOOTSTRAP_ADMIN=admin:interop-admin-password
VOUCH_AUTH_ARGS="--config $WORK/accounts.json --log-level debug"
vouch_start "127.0.0.1:$(free_port)"
unset VOUCH_BOOTSTRAP_ADMIN
HOSTPORT=127.0.0.1:$PORT
REPO=$HOSTPORT/acme/app

api() {  # api <user:password> <method> <path> [json]: the admin API; $out gets the body
  local cred=$1 method=$2 path=$3 body=${4:-}
  out=$(curl -sS --cacert "$WORK/ca.pem" -u "$cred" -X "$method" -H 'Content-Type: application/json' \
    ${body:+--data "$body"} -w '\n%{http_code}' "$URL/api/v1$path")
  code=${out##*$'\n'}; out=${out%$'\n'*}
}
ADMIN=admin:interop-admin-password
step "olivia (admin of acme), alice (team acme/devs: read on acme/*), mallory (no grant)"
for u in olivia alice mallory; do
  api "$ADMIN" POST /users "{\"name\":\"$u\",\"password\":\"$u-secret-pw\"}"; [ "$code" = 201 ] || fail "$code $out"
done
api "$ADMIN" POST /orgs '{"name":"acme"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" PUT /orgs/acme/members/olivia '{"admin":true}'; [ "$code" = 200 ] || fail "$code $out"
api "$ADMIN" PUT /orgs/acme/members/alice; [ "$code" = 200 ] || fail "$code $out"
api "$ADMIN" POST /orgs/acme/teams '{"name":"devs"}'; [ "$code" = 201 ] || fail "$code $out"
api "$ADMIN" PUT /orgs/acme/teams/devs/members/alice; [ "$code" = 200 ] || fail "$code $out"
api "$ADMIN" PUT /grants '{"target":"acme/*","grantee_kind":"team","grantee":"acme/devs","permission":"read"}'
[ "$code" = 200 ] || fail "$code $out"

export DOCKER_CONTENT_TRUST_SERVER="$URL"
export DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=interop-docker-root-pass
export DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=interop-docker-repo-pass
# as <user> <docker args...>: docker with that person's own configuration directory; stdin is
# never a terminal here (docker login reads the password from it).
as() {
  local who=$1; shift
  mkdir -p "$WORK/docker-$who/tls/$HOSTPORT"
  cp "$WORK/ca.pem" "$WORK/docker-$who/tls/$HOSTPORT/ca.crt"
  DOCKER_CONFIG="$WORK/docker-$who" docker "$@"
}
login() {  # login <user> <password>: docker login, password on stdin
  printf '%s' "$2" | as "$1" login --username "$1" --password-stdin "$HOSTPORT" 2>&1
}

step "docker login: a wrong password is refused and nothing is stored"
rc=0; out=$(login alice not-alices-password) || rc=$?
printf '%s\n' "$out" >>"$LOG"
[ "$rc" != 0 ] || fail "docker login with a wrong password succeeded: $out"
expect_in "https://$HOSTPORT/v2/\\\": unauthorized" "$out"
if [ -f "$WORK/docker-alice/config.json" ] && jq -e --arg h "$HOSTPORT" '.auths | has($h)' \
    "$WORK/docker-alice/config.json" >/dev/null; then
  fail "docker stored a login after a refusal"
fi

step "docker login as olivia, alice and mallory: a refresh token is stored, not the password"
for u in olivia alice mallory; do
  run 0 login "$u" "$u-secret-pw"
  expect_in "Login Succeeded" "$out"
  cfg=$WORK/docker-$u/config.json
  jq -e --arg h "$HOSTPORT" '.auths[$h].identitytoken | startswith("vouch_")' "$cfg" >/dev/null \
    || fail "no identity token for $u in $(cat "$cfg")"
  grep -q "$u-secret-pw" "$cfg" && fail "docker stored $u's password"
  [ "$(jq -r --arg h "$HOSTPORT" '.auths[$h].auth' "$cfg" | base64 -d)" = "$u:" ] \
    || fail "config.json auth is not '$u:' (the password removed)"
done

step "olivia (org admin): docker trust signer add initializes acme/app"
mkdir -p "$WORK/keys"
as olivia trust key generate alice --dir "$WORK/keys" >/dev/null
as alice trust key generate bob --dir "$WORK/keys" >/dev/null
run 0 as olivia trust signer add --key "$WORK/keys/alice.pub" alice "$REPO"
expect_in "Successfully initialized \"$REPO\"" "$out"
expect_in "Successfully added signer: alice to $REPO" "$out"

step "alice (read): docker trust inspect shows the signer; signer add is refused"
json 0 as alice trust inspect "$REPO"
jq -e --arg repo "$REPO" '.[0].Name == $repo and [.[0].Signers[].Name] == ["alice"]' <<<"$out" >/dev/null \
  || fail "inspect as alice: $out"
# She even holds the repository's keys (olivia's copy): the server still refuses her publish.
mkdir -p "$WORK/docker-alice/trust/private"
cp "$WORK/docker-olivia/trust/private/"*.key "$WORK/docker-alice/trust/private/"
run 1 as alice trust signer add --key "$WORK/keys/bob.pub" bob "$REPO"
expect_in "you are not authorized to perform this operation" "$out"
expect_not_in "Successfully added signer" "$out"
echo "$out" | sed 's/^/    docker: /' 
served_targets=$(curl -sf --cacert "$WORK/ca.pem" -H "Authorization: Bearer $(
  curl -sf --cacert "$WORK/ca.pem" -u olivia:olivia-secret-pw \
    "$URL/auth/token?service=vouch-server&scope=repository:$REPO:pull" | jq -r .token)" \
  "$URL/v2/$REPO/_trust/tuf/targets.json") || fail "GET targets.json as olivia"
jq -e '[.signed.delegations.roles[].name] | index("targets/bob") == null' <<<"$served_targets" >/dev/null \
  || fail "bob was added by alice: $served_targets"

step "team acme/devs gets read-write: alice's next token carries push, signer add succeeds"
api "$ADMIN" PUT /grants '{"target":"acme/*","grantee_kind":"team","grantee":"acme/devs","permission":"read-write"}'
[ "$code" = 200 ] || fail "$code $out"
run 0 as alice trust signer add --key "$WORK/keys/bob.pub" bob "$REPO"
expect_in "Successfully added signer: bob to $REPO" "$out"
json 0 as olivia trust inspect "$REPO"
jq -e '[.[0].Signers[].Name] | sort == ["alice", "bob"]' <<<"$out" >/dev/null \
  || fail "inspect as olivia after alice added bob: $out"

step "mallory (no grant): inspect is refused"
run 1 as mallory trust inspect "$REPO"
expect_in "no signatures or cannot access $REPO" "$out"
grep -q "token issued to mallory (1 scope(s) asked, 0 action(s) granted" "$WORK/server.log" \
  || fail "mallory was not refused by the token service"

step "the audit log: olivia's publish, then alice's (her refused one is not there)"
api "$ADMIN" GET '/audit?limit=1000'; [ "$code" = 200 ] || fail "$code $out"
check "[.records[] | select(.action == \"publish\" and .target == \"$REPO\") | .actor] == [\"olivia\", \"alice\"]" \
  "$out" "publishes of $REPO: olivia's init, then alice's only after her grant"
check '[.records[] | select(.action == "login_failed" and .target == "alice")] | length >= 1' "$out" \
  "alice's failed docker login"

step "no password in the server log, the audit log or what the clients printed"
for pw in not-alices-password olivia-secret-pw alice-secret-pw mallory-secret-pw; do
  for f in "$WORK/server.log" "$LOG"; do
    grep -qF -- "$pw" "$f" && fail "a password appears in $(basename "$f")"
  done
  grep -qF -- "$pw" <<<"$out" && fail "a password appears in the audit log"
done
echo "PASS"
