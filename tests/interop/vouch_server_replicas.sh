#!/usr/bin/env bash
# Several vouch-server replicas on one PostgreSQL (issue 16 items 2 and 5; server/README.md
# "Running several replicas"): three real vouch-server processes over HTTPS on their own
# loopback ports, one real PostgreSQL (tests/support/postgres.sh) and two vouch-signer
# processes (mutual TLS) sharing their key records in that server's database "signer"
# (signer/README.md "Several signers on PostgreSQL"); replica 1 uses signer A, replicas 2 and
# 3 use signer B. Driven by the real notary CLI.
#
#   vouch_server_replicas.sh <vouch-server> <vouch-signer>
#
#  - the local trust service on PostgreSQL is refused unless the server is the only replica;
#  - every replica hands out the same pending timestamp/snapshot key of a GUN, whichever
#    signer created it;
#  - a publish through one replica is served by the others (their caches follow the
#    changefeed; polled up to a generous limit, no timing asserted); the timestamps of one
#    repository are signed through both signers with one key;
#  - signer A SIGKILLed while replica 2 publishes: replica 1 answers Notary's 500 errors
#    (NO_CRYPTOSERVICE for a key, a failed publish) and keeps running, replica 2's publishes
#    all succeed; signer A restarted: replica 1 publishes again without a restart;
#  - 16 notary clients publish to one repository at once through the three replicas: every
#    stored targets version has exactly one writer, every publish that succeeded is served,
#    and no failed one left anything;
#  - a replica SIGKILLed during publishes: every acknowledged publish is served by the others;
#  - PostgreSQL stopped under read load: cached files keep being served (every read 200),
#    a publish answers 503 with Notary's error JSON, /_notary_server/health says 503, nothing
#    is half-written; PostgreSQL started again: publishes work without restarting anything.
set -euo pipefail
VOUCH_SERVER=${1:?usage: $0 <vouch-server> <vouch-signer>}
VOUCH_SIGNER=${2:?usage: $0 <vouch-server> <vouch-signer>}
for tool in notary openssl curl jq python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
# shellcheck source-path=SCRIPTDIR source=lib_vouch_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib_vouch_server.sh"
# shellcheck source-path=SCRIPTDIR source=../support/postgres.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/postgres.sh"

declare -A RPID RURL SPID SPORT
LOAD_PID=
SIDE_PID=
# The EXIT trap: our processes first (by their saved PIDs), then the database server.
_replicas_cleanup() {
  local pid
  for pid in "$LOAD_PID" "$SIDE_PID" "${RPID[@]}" "${SPID[@]}"; do
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  pg_test_stop
  _vouch_cleanup
}
trap _replicas_cleanup EXIT
# A failing command outside run/fail (set -e) says where it was.
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR

export NOTARY_ROOT_PASSPHRASE=interop-root-pass
export NOTARY_TARGETS_PASSPHRASE=interop-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=interop-snapshot-pass
GUN=example.com/vouch/replicas
nt() {  # nt <trust dir> <replica> <notary args...>
  local dir=$1 replica=$2; shift 2
  notary -d "$WORK/$dir" -s "${RURL[$replica]}" --tlscacert "$WORK/ca.pem" "$@"
}
listed() { awk 'NF == 4 && length($2) == 64 {print $1}' <<<"$1" | sort | tr '\n' ' '; }
# Polls `notary list` through a replica until the target is listed; the limit only keeps a
# broken server from hanging the test.
wait_listed() {  # wait_listed <trust dir> <replica> <target>
  local i
  for i in $(seq 1 120); do
    out=$(nt "$1" "$2" list "$GUN" 2>&1 || true)
    [[ " $(listed "$out")" == *" $3 "* ]] && return 0
    sleep 0.5
  done
  fail "replica $2 never served target $3: $out"
}
sql() { pg_test_sql "$1"; }
gun_sql="convert_to('$GUN', 'UTF8')"

replica_start() {  # replica_start <n> [extra flags...]: starts replica n, on its signer (RSIGNER)
  local n=$1 listen; shift
  : >"$WORK/replica$n.out"
  (cd "$WORK" && exec "$VOUCH_SERVER" -c "$WORK/replica${RSIGNER[$n]}.json" --insecure-no-auth "$@" \
    >"$WORK/replica$n.out" 2>>"$WORK/server.log" </dev/null) &
  RPID[$n]=$!
  for _ in $(seq 1 600); do
    grep -q "^listening on" "$WORK/replica$n.out" 2>/dev/null && break
    kill -0 "${RPID[$n]}" 2>/dev/null || fail "replica $n exited at start"
    sleep 0.1
  done
  listen=$(sed -n 's/^listening on //p' "$WORK/replica$n.out")
  [ -n "$listen" ] || fail "replica $n did not report its address"
  RURL[$n]="https://127.0.0.1:${listen##*:}"
  echo "replica $n (pid ${RPID[$n]}) at ${RURL[$n]}"
}

step "PostgreSQL, the TLS certificates, vouch-signer A and B"
pg_test_start fast || fail "PostgreSQL did not start (see above)"
vouch_make_tls
# vouch-server's client certificate for the signer's mutual TLS.
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
  -subj "/CN=vouch-server" -keyout "$WORK/client.key" -out "$WORK/client.csr" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "extendedKeyUsage=clientAuth" \
  "subjectAltName=DNS:vouch-server" >"$WORK/client.ext"
openssl x509 -req -in "$WORK/client.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
  -CAcreateserial -days 2 -sha256 -extfile "$WORK/client.ext" -out "$WORK/client.pem" 2>/dev/null
chmod 600 "$WORK/client.key"
# The signers' key records: their own database on the same PostgreSQL server.
pg_test_sql "CREATE DATABASE signer" postgres >/dev/null
SIGNER_DSN="host=127.0.0.1 port=$PG_PORT user=$PG_USER dbname=signer sslmode=disable"
signer_start() {  # signer_start <A|B>: starts (or restarts, on its port) signer A or B
  local s=$1
  [ -n "${SPORT[$s]:-}" ] || SPORT[$s]=$(free_port)
  cat >"$WORK/signer$s.json" <<EOF
{"server": {"grpc_addr": "127.0.0.1:${SPORT[$s]}", "tls_cert_file": "$WORK/server.pem",
            "tls_key_file": "$WORK/server.key", "client_ca_file": "$WORK/ca.pem"},
 "storage": {"backend": "postgres", "default_alias": "prod",
             "postgres": {"dsn": "$SIGNER_DSN", "password_file": "$PG_PASSWORD_FILE", "pool_size": 4},
             "kdf": {"memory_kib": 64, "iterations": 1, "parallelism": 1}},
 "logging": {"level": "info"}}
EOF
  rm -f "$WORK/signer$s.ready"
  NOTARY_SIGNER_PROD="signer test passphrase" "$VOUCH_SIGNER" --config "$WORK/signer$s.json" \
    --ready-file "$WORK/signer$s.ready" >>"$WORK/signer$s.out" 2>>"$WORK/signer$s.log" </dev/null &
  SPID[$s]=$!
  for _ in $(seq 1 600); do
    [ -s "$WORK/signer$s.ready" ] && break
    kill -0 "${SPID[$s]}" 2>/dev/null || fail "vouch-signer $s exited at start: $(tail -5 "$WORK/signer$s.log")"
    sleep 0.1
  done
  [ -s "$WORK/signer$s.ready" ] || fail "vouch-signer $s not ready"
  echo "signer $s (pid ${SPID[$s]}) on port ${SPORT[$s]}"
}
signer_start A
signer_start B

step "the local trust service on PostgreSQL needs single_replica"
run 1 timeout 120 "$VOUCH_SERVER" --storage postgres --pg-dsn "$PG_DSN" --pg-password-file "$PG_PASSWORD_FILE" \
  --key-dir "$WORK/local-keys" --insecure-no-auth --http-addr 127.0.0.1:0
expect_in "server keys would not be shared between replicas" "$out"
expect_in "single_replica" "$out"

step "three replicas on one database; replica 1 uses signer A, replicas 2 and 3 signer B"
for sg in A B; do
  cat >"$WORK/replica$sg.json" <<EOF
{"server": {"http_addr": "127.0.0.1:0", "tls_cert_file": "$WORK/server.pem",
            "tls_key_file": "$WORK/server.key"},
 "trust_service": {"type": "remote", "hostname": "127.0.0.1", "port": "${SPORT[$sg]}",
                   "tls_ca_file": "$WORK/ca.pem", "tls_client_cert": "$WORK/client.pem",
                   "tls_client_key": "$WORK/client.key", "key_algorithm": "ecdsa"},
 "storage": {"backend": "postgres",
             "postgres": {"dsn": "$PG_DSN", "password_file": "$PG_PASSWORD_FILE",
                          "cache_max_staleness_ms": 1000}},
 "logging": {"level": "info"}}
EOF
done
run 0 "$VOUCH_SERVER" migrate -c "$WORK/replicaA.json"
declare -A RSIGNER=([1]=A [2]=B [3]=B)
for n in 1 2 3; do replica_start "$n"; done

step "server keys: one pending key per GUN and role, whichever replica is asked"
NEW=example.com/vouch/replicas-keys
k1=$(curl -sf --cacert "$WORK/ca.pem" "${RURL[1]}/v2/$NEW/_trust/tuf/timestamp.key")
k2=$(curl -sf --cacert "$WORK/ca.pem" "${RURL[2]}/v2/$NEW/_trust/tuf/timestamp.key")
k3=$(curl -sf --cacert "$WORK/ca.pem" "${RURL[3]}/v2/$NEW/_trust/tuf/timestamp.key")
[ -n "$k1" ] && [ "$k1" = "$k2" ] && [ "$k1" = "$k3" ] || fail "pending keys differ: $k1 / $k2 / $k3"
r2=$(curl -sf --cacert "$WORK/ca.pem" -X POST "${RURL[2]}/v2/$NEW/_trust/tuf/snapshot.key")
r3=$(curl -sf --cacert "$WORK/ca.pem" -X POST "${RURL[3]}/v2/$NEW/_trust/tuf/snapshot.key")
[ -n "$r2" ] && [ "$r2" = "$r3" ] || fail "rotated keys differ: $r2 / $r3"
[ "$(sql "SELECT count(*) FROM server_pending_keys")" = 2 ] || fail "server_pending_keys rows"

step "publish through replica 1, read through 2 and 3; publish through 2, read through 3 and 1"
printf 'payload\n' >"$WORK/payload.txt"
run 0 nt owner 1 init "$GUN" -p
run 0 nt owner 1 add "$GUN" t1 "$WORK/payload.txt"
run 0 nt owner 1 publish "$GUN"
wait_listed reader2 2 t1
wait_listed reader3 3 t1
wait_listed reader1 1 t1
# Replicas 1 and 3 have cached t1's files now; t2 must reach them through the changefeed.
run 0 nt owner 2 add "$GUN" t2 "$WORK/payload.txt"
run 0 nt owner 2 publish "$GUN"
acked=$(date +%s%N)
wait_listed reader3 3 t2
# For information only (never asserted): from the acknowledgement to a notary list that shows it.
echo "t2 listed through replica 3 $(( ($(date +%s%N) - acked) / 1000000 )) ms after replica 2 acknowledged it"
wait_listed reader1 1 t2
run 0 nt owner 3 add "$GUN" t3 "$WORK/payload.txt"
run 0 nt owner 3 publish "$GUN"
wait_listed reader1 1 t3
wait_listed reader2 2 t3
# The timestamp key was created through replica 1 (signer A) at init; replicas 2 and 3 signed
# the later timestamps through signer B with it: a key both signers' audit trails show.
signed_keys() { sed -n 's/.*sign key_id=\([0-9a-f]*\) .*code=OK.*/\1/p' "$WORK/signer$1.log" | sort -u; }
both=$(comm -12 <(signed_keys A) <(signed_keys B))
[ -n "$both" ] || fail "no key signed through both signers: A $(signed_keys A | tr '\n' ' ') B $(signed_keys B | tr '\n' ' ')"

step "16 concurrent publishers of one repository through the three replicas"
BEFORE=$(sql "SELECT max(version) FROM meta_files WHERE gun = $gun_sql AND role = convert_to('targets', 'UTF8')")
pids=()
for i in $(seq 1 16); do
  cp -a "$WORK/owner" "$WORK/p$i"
  run 0 nt "p$i" 1 add "$GUN" "c$i" "$WORK/payload.txt"
done
# All 16 start together (each waits for the go file), from the same state.
for i in $(seq 1 16); do
  replica=$(( (i % 3) + 1 ))
  ( while [ ! -e "$WORK/go" ]; do sleep 0.01; done
    rc=0
    nt "p$i" "$replica" publish "$GUN" >"$WORK/p$i.log" 2>&1 || rc=$?
    echo "$rc" >"$WORK/p$i.rc" ) &
  pids+=($!)
done
touch "$WORK/go"
wait "${pids[@]}"
AFTER=$(sql "SELECT max(version) FROM meta_files WHERE gun = $gun_sql AND role = convert_to('targets', 'UTF8')")
VERSIONS=$(sql "SELECT count(*) FROM meta_files WHERE gun = $gun_sql AND role = convert_to('targets', 'UTF8') AND version > $BEFORE")
winners=0
for i in $(seq 1 16); do
  if [ "$(cat "$WORK/p$i.rc")" = 0 ]; then
    winners=$((winners + 1))
    wait_listed reader2 2 "c$i"
  fi
done
final=" $(listed "$out")"
for i in $(seq 1 16); do
  if [ "$(cat "$WORK/p$i.rc")" != 0 ]; then
    [[ "$final" != *" c$i "* ]] || fail "publisher $i failed but c$i is served"
  fi
done
echo "winners: $winners of 16; targets versions $BEFORE -> $AFTER"
[ "$winners" -ge 1 ] || fail "no publisher won"
# One stored targets version per successful publish, consecutive: one winner per version.
[ "$VERSIONS" = "$winners" ] || fail "$VERSIONS new targets versions for $winners successful publishes"
[ "$AFTER" = $((BEFORE + winners)) ] || fail "targets versions $BEFORE -> $AFTER for $winners publishes"

step "signer A SIGKILLed while replica 2 publishes: replica 1 fails cleanly, replica 2 goes on"
GUN2=example.com/vouch/replicas-signers
run 0 nt side 2 init "$GUN2" -p
: >"$WORK/side.acked"
# Publishes through replica 2 (signer B) until two have succeeded after the kill (bounded);
# the first failure ends the loop.
(
  for k in $(seq 1 20); do
    after=$([ -e "$WORK/signerA.killed" ] && echo after || echo before)
    nt side 2 add "$GUN2" "s$k" "$WORK/payload.txt" >/dev/null 2>&1 &&
      nt side 2 publish "$GUN2" >"$WORK/side.log" 2>&1 || exit 1
    echo "s$k $after" >>"$WORK/side.acked"
    [ "$(grep -c ' after$' "$WORK/side.acked")" -ge 2 ] && exit 0
  done
  exit 1
) &
SIDE_PID=$!
for _ in $(seq 1 600); do
  [ -s "$WORK/side.acked" ] && break
  kill -0 "$SIDE_PID" 2>/dev/null || break
  sleep 0.1
done
kill -KILL "${SPID[A]}"
wait "${SPID[A]}" 2>/dev/null || true
SPID[A]=
touch "$WORK/signerA.killed"
# Replica 1 answers Notary's errors for what needs signer A, and keeps serving.
out=$(curl -s -w '\n%{http_code}' --cacert "$WORK/ca.pem" -X POST \
  "${RURL[1]}/v2/example.com/vouch/replicas-outage/_trust/tuf/timestamp.key")
[ "$(tail -1 <<<"$out")" = 500 ] || fail "key request with signer A down: $out"
check '.errors[0].code == "NO_CRYPTOSERVICE"' "$(head -n -1 <<<"$out")" "Notary's error JSON"
run 0 nt owner 1 add "$GUN" outage "$WORK/payload.txt"
run 1 nt owner 1 publish "$GUN"
# Notary's client shows the 500 (UPDATING) as the server being unreachable.
expect_in "unable to reach trust server at this time: 500" "$out"
kill -0 "${RPID[1]}" 2>/dev/null || fail "replica 1 exited with signer A down"
run 0 curl -sf --cacert "$WORK/ca.pem" "${RURL[1]}/v2/$GUN/_trust/tuf/timestamp.json"
metrics=$(curl -sf --cacert "$WORK/ca.pem" "${RURL[1]}/metrics")
[[ "$metrics" =~ vouch_server_backend_errors_total\{backend=\"signer\"\}\ [1-9] ]] ||
  fail "replica 1 counted no signer error"
wait "$SIDE_PID" || fail "a publish through replica 2 failed with signer A down: $(cat "$WORK/side.log")"
SIDE_PID=
echo "published through replica 2: $(tr '\n' ' ' <"$WORK/side.acked")"
# Signer A back on its port: replica 1 publishes again, without a restart.
signer_start A
run 0 nt owner 1 publish "$GUN"
wait_listed reader3 3 outage

step "a replica SIGKILLed during publishes loses nothing acknowledged"
rm -rf "$WORK/killer" && cp -a "$WORK/p1" "$WORK/killer"
: >"$WORK/acked"
(
  for k in $(seq 1 8); do
    nt killer 1 add "$GUN" "k$k" "$WORK/payload.txt" >/dev/null 2>&1 || true
    if nt killer 1 publish "$GUN" >/dev/null 2>&1; then echo "k$k" >>"$WORK/acked"; fi
  done
) &
publisher=$!
for _ in $(seq 1 600); do
  [ "$(wc -l <"$WORK/acked")" -ge 2 ] && break
  kill -0 "$publisher" 2>/dev/null || break
  sleep 0.1
done
kill -KILL "${RPID[1]}"
wait "${RPID[1]}" 2>/dev/null || true
RPID[1]=
wait "$publisher" || true
ACKED=$(cat "$WORK/acked")
echo "acknowledged before the kill: $(tr '\n' ' ' <<<"$ACKED")"
[ -n "$ACKED" ] || fail "no publish was acknowledged before the kill"
for k in $ACKED; do
  wait_listed reader2 2 "$k"
  wait_listed reader3 3 "$k"
done

step "PostgreSQL stopped under load: cached reads answer, publishes get 503, then recover"
# Warm replica 2's cache with every file, then read them in a loop through the outage.
for role in root targets snapshot timestamp; do
  curl -sf --cacert "$WORK/ca.pem" "${RURL[2]}/v2/$GUN/_trust/tuf/$role.json" >"$WORK/$role.json" ||
    fail "GET $role"
done
( while [ ! -e "$WORK/stop-load" ]; do
    for role in root targets snapshot timestamp; do
      curl -s -o /dev/null -w '%{http_code}\n' --cacert "$WORK/ca.pem" \
        "${RURL[2]}/v2/$GUN/_trust/tuf/$role.json"
    done
  done >"$WORK/load.txt" ) &
LOAD_PID=$!
ROWS=$(sql "SELECT count(*) FROM meta_files")
pg_test_down || fail "could not stop PostgreSQL"
out=$(curl -s -w '\n%{http_code}' --cacert "$WORK/ca.pem" "${RURL[2]}/_notary_server/health")
[ "$(tail -1 <<<"$out")" = 503 ] || fail "health with the database down: $out"
expect_in '"storage":"unhealthy"' "$out"
out=$(curl -s -w '\n%{http_code}' --cacert "$WORK/ca.pem" \
  -F "files=@$WORK/targets.json;filename=targets" "${RURL[2]}/v2/$GUN/_trust/tuf/")
[ "$(tail -1 <<<"$out")" = 503 ] || fail "publish with the database down: $out"
check '.errors[0].code == "UNAVAILABLE"' "$(head -n -1 <<<"$out")" "Notary's error JSON"
run 0 nt owner 3 add "$GUN" during "$WORK/payload.txt"
run 1 nt owner 3 publish "$GUN"
# Reads kept answering for a while with the database down.
lines=$(wc -l <"$WORK/load.txt")
for _ in $(seq 1 100); do
  [ "$(wc -l <"$WORK/load.txt")" -ge $((lines + 8)) ] && break
  sleep 0.1
done
pg_test_up || fail "could not start PostgreSQL again"
[ "$(sql "SELECT count(*) FROM meta_files")" = "$ROWS" ] || fail "rows changed during the outage"
run 0 nt owner 3 publish "$GUN"
wait_listed reader2 2 during
wait_listed reader3 3 during
touch "$WORK/stop-load"
wait "$LOAD_PID" || true
LOAD_PID=
codes=$(sort -u "$WORK/load.txt" | tr '\n' ' ')
echo "reads during the outage: $(wc -l <"$WORK/load.txt") answers, codes: $codes"
[ "$codes" = "200 " ] || fail "a read of a cached file failed: $codes"
run 0 curl -sf --cacert "$WORK/ca.pem" "${RURL[2]}/_notary_server/health"
echo "PASS"
