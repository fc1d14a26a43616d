#!/usr/bin/env bash
# bench_client: the time a user waits for `add` + `publish` of one target into a repository
# of 10, 1,000 and 10,000 targets, with the `vouch` CLI and with the real notary 0.7 CLI,
# against the same server: vouch-server (RocksDB, embedded key store), and the real
# notary-server (memory storage, local trust service) when it is installed.
#
#   bench/bench_client.sh [--quick] [--reps N] [--sizes "10 1000 10000"] [--servers "vouch notary"]
#                         [--vouch PATH] [--vouch-server PATH] [BUILD_DIR]
#
#   BUILD_DIR    where vouch and vouch-server are (default build-release, as `make bench`)
#   --quick      sizes 10 and 1000, 3 repetitions (a smoke run; `make bench` with BENCH_QUICK=1)
#   --reps N     timed repetitions per cell (default 7)
#
# Method. Three clients, each with its own repository per size and server and its own trust
# directory: "vouch" (vouch's default key files: Argon2id), "vouch-nk" (vouch signing with key
# files `notary init` made: PBKDF2 x 2,048, as in a trust directory shared with notary, which
# separates vouch's key derivation cost from the rest of its work) and "notary". A repository
# is filled once, untimed: N target changes are written straight into the changelist in
# Notary's format (byte-compatible with both CLIs, client/changelist.h; staging 10,000 targets
# one CLI call at a time would take longer than the benchmark itself) and the client's own
# `publish` signs and uploads them; `list` then checks that the server has N. One untimed
# add + publish warms up. Then, for each repetition, every client adds one new target (a small
# file) and publishes, taking turns, the order reversed every other repetition so that a busy
# machine slows all alike. The clock is the wall time of the two commands (what a user or a CI
# step waits for), with the CPU time (user + system) of the client processes; the server's own
# time is in the wall time only. Medians with min..max, and the ratio to notary of the medians
# (< 1: vouch is faster). At the end every repository must list N + 1 + reps targets. Nothing
# here asserts a timing.
#
# Passphrases come from NOTARY_*_PASSPHRASE (both CLIs read them); the keys are throwaway.
# The script stops only the servers it started (by PID) and removes its temporary directory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

QUICK=0 REPS='' SIZES='' SERVERS="vouch notary" BUILD_DIR=build-release VOUCH='' VOUCH_SERVER=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --reps) REPS=$2; shift ;;
    --sizes) SIZES=$2; shift ;;
    --servers) SERVERS=$2; shift ;;
    --vouch) VOUCH=$2; shift ;;
    --vouch-server) VOUCH_SERVER=$2; shift ;;
    -h|--help) sed -n '2,/^# The script stops/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench_client: unknown option $1" >&2; exit 1 ;;
    *) BUILD_DIR=$1 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then REPS=${REPS:-3}; SIZES=${SIZES:-"10 1000"}; fi
REPS=${REPS:-7}; SIZES=${SIZES:-"10 1000 10000"}
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$root/$BUILD_DIR" ;; esac
VOUCH=${VOUCH:-$BUILD_DIR/cli/vouch}
VOUCH_SERVER=${VOUCH_SERVER:-$BUILD_DIR/server/vouch-server}
for exe in "$VOUCH" "$VOUCH_SERVER"; do
  [ -x "$exe" ] || { echo "bench_client: $exe not built" >&2; exit 1; }
done
for tool in notary openssl curl jq python3; do
  command -v "$tool" >/dev/null || { echo "bench_client: skipped ($tool not installed)"; exit 0; }
done
if ! command -v notary-server >/dev/null; then SERVERS=${SERVERS//notary/}; fi

# WORK (private temp dir, HOME inside it), vouch_make_tls, vouch_start/vouch_stop, fail, and
# the EXIT trap that stops the vouch-server started here.
# shellcheck source-path=SCRIPTDIR source=../tests/interop/lib_vouch_server.sh
. "$root/tests/interop/lib_vouch_server.sh"
NS_PID=
_bench_cleanup() {
  if [ -n "$NS_PID" ] && kill -0 "$NS_PID" 2>/dev/null; then
    kill -TERM "$NS_PID"; wait "$NS_PID" 2>/dev/null || true
  fi
  _vouch_cleanup
}
trap _bench_cleanup EXIT

export NOTARY_ROOT_PASSPHRASE=bench-root-pass NOTARY_TARGETS_PASSPHRASE=bench-targets-pass
export NOTARY_SNAPSHOT_PASSPHRASE=bench-snapshot-pass NOTARY_DELEGATION_PASSPHRASE=bench-delegation-pass
unset VOUCH_KEY_FORMAT VOUCH_ROOT_PASSPHRASE VOUCH_TARGETS_PASSPHRASE VOUCH_SNAPSHOT_PASSPHRASE
echo '{}' >"$WORK/notary-config.json"
BLOG="$WORK/clients.log"

# client <vouch|vouch-nk|notary> <server URL> <client args...>, output to the log. Each has
# its own trust directory. vouch runs without a terminal (setsid), as in CI.
client() {
  local which=$1 url=$2; shift 2
  case $which in
    vouch|vouch-nk)
      setsid -w "$VOUCH" -d "$WORK/trust-$which" -s "$url" --tlscacert "$WORK/ca.pem" "$@" ;;
    notary|notary-init-for-vouch-nk)
      local dir=trust-notary; [ "$which" = notary ] || dir=trust-vouch-nk
      notary -c "$WORK/notary-config.json" -d "$WORK/$dir" -s "$url" --tlscacert "$WORK/ca.pem" "$@" ;;
  esac </dev/null >>"$BLOG" 2>&1
}
bench_fail() { echo "bench_client: $*" >&2; tail -20 "$BLOG" >&2; exit 1; }

# stage_bulk <trust dir> <gun> <count>: <count> target changes (pkg/000001...) written straight
# into the changelist, in the format both CLIs write (notary client/changelist/file_changelist.go).
stage_bulk() {
  python3 - "$1/tuf/$2/changelist" "$3" <<'PY'
import base64, hashlib, json, os, sys, time, uuid
d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, mode=0o700, exist_ok=True)
t0 = time.time_ns()
for i in range(n):
    payload = b"payload %06d\n" % i
    meta = {"length": len(payload), "hashes": {"sha256": base64.b64encode(hashlib.sha256(payload).digest()).decode()}}
    change = {"action": "create", "role": "targets", "type": "target", "path": "pkg/%06d" % i,
              "data": base64.b64encode(json.dumps(meta, separators=(",", ":")).encode()).decode()}
    with open(os.path.join(d, "%020d_%s.change" % (t0 + i, uuid.uuid4())), "w") as f:
        f.write(json.dumps(change, separators=(",", ":")))
PY
}

start_notary_server() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  cat >"$WORK/notary-server.json" <<EOF
{"server": {"http_addr": "127.0.0.1:$port", "tls_cert_file": "$WORK/server.pem", "tls_key_file": "$WORK/server.key"},
 "trust_service": {"type": "local"}, "storage": {"backend": "memory"}, "logging": {"level": "warn"}}
EOF
  notary-server -config "$WORK/notary-server.json" >>"$WORK/notary-server.log" 2>&1 </dev/null &
  NS_PID=$!
  NS_URL="https://127.0.0.1:$port"
  for _ in $(seq 1 300); do   # a bound on a hung start, not a measurement
    kill -0 "$NS_PID" 2>/dev/null || bench_fail "notary-server exited at start"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$NS_URL/_notary_server/health" || true)" = 200 ] && return 0
    sleep 0.1
  done
  bench_fail "notary-server did not start"
}

# count_targets <which> <url> <gun>: how many targets the client lists.
count_targets() {
  if [ "$1" = notary ]; then
    notary -c "$WORK/notary-config.json" -d "$WORK/trust-notary" -s "$2" --tlscacert "$WORK/ca.pem" list "$3" </dev/null \
      | awk 'NF == 4 && length($2) == 64' | wc -l
  else
    setsid -w "$VOUCH" -d "$WORK/trust-$1" -s "$2" --tlscacert "$WORK/ca.pem" list "$3" --output json </dev/null | jq length
  fi
}

# prepare <which> <server name> <url> <size>: init, fill with <size> targets, warm up.
# vouch-nk: the repository and its keys are made by `notary init` (PBKDF2 x 2,048 key files),
# everything after that by vouch. vouch's init keeps the snapshot key local, as `notary init`
# does, so that every client signs the same roles on each publish.
prepare() {
  local which=$1 server=$2 url=$3 n=$4 gun="bench.example/$1-on-$2-$4" init=$1 flags=()
  [ "$which" = vouch-nk ] && init=notary-init-for-vouch-nk
  [ "$which" = vouch ] && flags=(--local-snapshot)
  client "$init" "$url" init "$gun" ${flags[@]+"${flags[@]}"} -p || bench_fail "$which init $gun"
  if [ "$n" -gt 0 ]; then
    stage_bulk "$WORK/trust-$which" "$gun" "$n"
    client "$which" "$url" publish "$gun" || bench_fail "$which publish of $n targets"
  fi
  local have; have=$(count_targets "$which" "$url" "$gun")
  [ "$have" = "$n" ] || bench_fail "$gun lists $have targets, not $n"
  printf 'warm-up %s\n' "$gun" >"$WORK/warm.txt"
  client "$which" "$url" add "$gun" warm-up "$WORK/warm.txt" || bench_fail "$which add"
  client "$which" "$url" publish "$gun" || bench_fail "$which publish"
}

# one_run <which> <url> <gun> <name>: add + publish; prints "wall_ms cpu_ms".
one_run() {
  local which=$1 url=$2 gun=$3 name=$4 t0 t1 c0 c1
  printf 'bench target %s %s\n' "$name" "$gun" >"$WORK/payload.txt"
  times >"$WORK/times0"; t0=$(date +%s%N)
  client "$which" "$url" add "$gun" "$name" "$WORK/payload.txt" || bench_fail "$which add $gun $name"
  client "$which" "$url" publish "$gun" || bench_fail "$which publish $gun $name"
  t1=$(date +%s%N); times >"$WORK/times1"
  c0=$(children_cpu_ms "$WORK/times0"); c1=$(children_cpu_ms "$WORK/times1")
  echo "$(( (t1 - t0) / 1000000 )) $(( c1 - c0 ))"
}
# children_cpu_ms <file>: CPU (user + system, ms) of a shell's finished children, from the
# output of bash's `times` in that shell (its second line).
children_cpu_ms() {
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/);
                 printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1000 }' "$1"
}
# stats <values...>: "median min max" (integers, ms).
stats() {
  printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%d %d %d\n", m, v[1], v[NR] }'
}

vouch_make_tls
vouch_start 127.0.0.1:0 >/dev/null
urls=()
for s in $SERVERS; do
  case $s in
    vouch) urls+=("vouch=$URL") ;;
    notary) start_notary_server; urls+=("notary=$NS_URL") ;;
  esac
done

CLIENTS="vouch vouch-nk notary"
echo "bench_client: add + publish of one target; $REPS repetitions per cell; vouch $("$VOUCH" version | awk '/Version/ {print $2}'), notary 0.7"
echo "preparing repositories (sizes: $SIZES) ..."
for entry in "${urls[@]}"; do
  server=${entry%%=*} url=${entry#*=}
  for n in $SIZES; do
    for which in $CLIENTS; do prepare "$which" "$server" "$url" "$n"; done
  done
done

declare -A WALL CPU
for rep in $(seq 1 "$REPS"); do
  # Turns: vouch, vouch-nk, notary; every other repetition the other way round.
  order=$CLIENTS
  # shellcheck disable=SC2086  # (one word per client)
  [ $((rep % 2)) = 0 ] && order=$(printf '%s\n' $CLIENTS | tac | tr '\n' ' ')
  for entry in "${urls[@]}"; do
    server=${entry%%=*} url=${entry#*=}
    for n in $SIZES; do
      for which in $order; do
        read -r wall cpu < <(one_run "$which" "$url" "bench.example/$which-on-$server-$n" "t-$rep")
        [ -n "$wall" ] || bench_fail "run $which $server $n $rep"
        WALL[$server,$n,$which]+="$wall "; CPU[$server,$n,$which]+="$cpu "
      done
    done
  done
done

# Every timed publish landed: each repository lists its targets + warm-up + one per repetition.
for entry in "${urls[@]}"; do
  server=${entry%%=*} url=${entry#*=}
  for n in $SIZES; do
    for which in $CLIENTS; do
      have=$(count_targets "$which" "$url" "bench.example/$which-on-$server-$n")
      [ "$have" = $((n + 1 + REPS)) ] || bench_fail "bench.example/$which-on-$server-$n lists $have targets"
    done
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
echo
echo "wall ms: median (min..max) of $REPS add + publish; CPU ms: median user + system time of the client processes"
printf '%-13s %7s | %-18s %-18s %-18s | %8s %9s | %-17s\n' "server" "targets" "vouch" "vouch-nk" "notary" \
  "vouch/nt" "vouch-nk/nt" "CPU vouch/nk/nt"
printf '%s\n' "-------------------------------------------------------------------------------------------------------------------------------"
for entry in "${urls[@]}"; do
  server=${entry%%=*}
  for n in $SIZES; do
    cells=() medians=() cpus=()
    for which in $CLIENTS; do
      # shellcheck disable=SC2086
      read -r m lo hi < <(stats ${WALL[$server,$n,$which]})
      # shellcheck disable=SC2086
      read -r c _ _ < <(stats ${CPU[$server,$n,$which]})
      cells+=("$m ($lo..$hi)"); medians+=("$m"); cpus+=("$c")
    done
    printf '%-13s %7s | %-18s %-18s %-18s | %8s %9s | %-17s\n' "$server-server" "$n" \
      "${cells[0]}" "${cells[1]}" "${cells[2]}" "$(ratio "${medians[0]}" "${medians[2]}")" \
      "$(ratio "${medians[1]}" "${medians[2]}")" "${cpus[0]}/${cpus[1]}/${cpus[2]}"
  done
done
cat <<'EOF'
vouch:    the vouch CLI with its own keys (vouch's key files, Argon2id m=19 MiB t=2 per key)
vouch-nk: the vouch CLI with key files notary made (PBKDF2-SHA1 x 2,048), as in a trust
          directory shared with notary: the same work as vouch minus the key derivation cost
notary:   the notary 0.7 CLI (its own key files, PBKDF2-SHA1 x 2,048)
ratio < 1: vouch is faster
EOF
vouch_stop
