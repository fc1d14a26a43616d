#!/usr/bin/env bash
# bench_verifier: how fast vouch-verifier decides (issue 6 "Speed", issue 7's verifier rows):
# image decisions per second, p50/p99 latency and the verifier's CPU per request, warm (trust
# data and decision cached) for a Pod of 1 and of 20 containers and for one image on
# /v1/verify, and cold (the decision needs a trust fetch) for 1,000-target repositories
# served by vouch-server and, side by side, by the real notary-server.
#
#   bench/bench_verifier.sh [--quick] [--rounds N] [--seconds S] [--cold N] [--cold20 N]
#                           [--connections C] [BUILD_DIR]
#
#   BUILD_DIR       where vouch-server, vouch-verifier and bench_verifier are (default
#                   build-release, as `make bench`; build it with -DCMAKE_BUILD_TYPE=Release)
#   --quick         2 rounds of 2 s, 20 cold samples per server and round, 2 cold Pods of 20
#   --rounds N      measured rounds (default 5); every round restarts the verifier
#   --seconds S     length of each warm run (default 5)
#   --cold N        cold 1-container samples per trust server and round (default 100)
#   --cold20 N      cold 20-container Pods per trust server and round (default 5)
#   --connections C connections of the warm throughput runs (default 8)
#   --only warm|cold  one part only (e.g. to profile it)
#
# As a hook of bench/suite.py (`make bench`) it writes its rows to $VOUCH_BENCH_JSON.
#
# Set-up. vouch-server (RocksDB in the temporary directory, embedded key store) and, when it
# is installed, notary-server (memory storage, local trust service, ecdsa, logging at warn: as
# bench/suite.py runs it, no log line per request on either server), both over HTTPS with a throwaway CA. `bench_verifier publish` makes
# and publishes the repositories as `docker trust sign` lays them out: targets delegates to
# targets/releases (all paths), which holds 1,000 targets signed by the key of member "ci" of
# team "release"; the server holds the timestamp key; each repository has its own root.
#   vouch.bench.example/warm/app-0000..0019            20 repositories, on vouch-server
#   vouch.bench.example/cold/r-NNNN, cold20/s-NNNN     on vouch-server
#   notary.bench.example/cold/r-NNNN, cold20/s-NNNN    the same on notary-server
# The policy (written by bench_verifier) has one trust section per server and set
# (vouch.bench.example/warm, .../cold, .../cold20 -> vouch-server; notary.bench.example/cold,
# .../cold20 -> notary-server), each with the server's CA and the roots of its own
# repositories pinned, and one rule per server: "<prefix>/**" requires any-of [release] in
# targets/releases. vouch-verifier (BUILD_DIR) runs as deployed (2 io threads, 8 workers,
# logging at info: one line per decision, to a file) over HTTPS, with trust max_age and
# refresh_after at one hour, so that no refresh happens during a warm run (the default 30 s
# refresh would add one background fetch per repository and half minute).
#
# Method. The load client is `bench_verifier load`: keep-alive HTTPS connections opened
# before the clock starts, one thread per connection, closed loop; every answer must be HTTP
# 200 with "allowed": true (an error fails the run: a benchmark of failing requests measures
# nothing). Pods are AdmissionReview v1 CREATE requests to POST /validate with a fresh uid per
# request; single images go to POST /v1/verify. Each round:
#   1. starts a fresh vouch-verifier (its trust and decision caches are in memory only, so
#      every repository is cold again);
#   2. cold, 1 container: one Pod per repository, each repository asked once, one request at a
#      time on one connection, 20 ms apart (the verifier is idle in between), alternating
#      between a repository on vouch-server and one on notary-server (who goes first swaps
#      every pair). Each request is the first the verifier sees for its GUN, so it waits for
#      exactly one trust fetch: a new TLS connection to the trust server, root, timestamp,
#      snapshot, targets and targets/releases (1,000 targets, about 230 KB) fetched and
#      verified from the pinned root, then the decision. Latency as the client sees it;
#      verifier CPU per request from the scheduler's per-thread nanoseconds
#      (/proc/PID/task/*/schedstat) from the start of the request to the start of the next;
#   3. cold, 20 containers: Pods of 20 images from 20 repositories not seen before (20
#      fetches, run by the verifier's 4 fetch workers in parallel), alternating likewise;
#   4. checks on the verifier's /metrics that exactly one successful fetch per cold
#      repository happened, and none failed;
#   5. warm: every warm image is decided once (which fills both caches), then per workload
#      (Pod of 1 container cycling over the 20 images; Pod of the 20 images; /v1/verify
#      cycling over the 20 images; the order rotates per round): a throughput run with
#      --connections connections for --seconds (after 1 s not recorded): requests/s, image
#      decisions/s (requests/s x images per request), p50/p99 under that load, and verifier
#      CPU per request (utime + stime of all its threads from /proc/PID/stat over the run);
#      then a latency run on 1 connection (one request at a time, as the apiserver sends one
#      review per connection at a time): p50/p99. /metrics must show no trust fetch during
#      the warm runs (so "warm" means warm);
#   6. stops the verifier (SIGTERM; it must exit 0);
#   7. starts it again with the decision cache off (admission.decision_cache_entries 0), primes
#      the trust cache, and repeats the throughput runs of the Pods of 1 and 20 containers:
#      every image of every request is decided anew over cached trust data ("decision cache
#      off" rows; /metrics must show no decision cache hit and no trust fetch).
# A round 0 of the cold part, not recorded, comes first (it warms the trust servers' own
# caches and the page cache, so round 1 is like the others). Per round: p50/p99 of its
# samples (nearest rank: with 20 samples the p99 is the largest). The table gives median
# [min..max] over the rounds; goals are issue 7's: warm p99 <= 1 ms (1 connection) and >=
# 20,000 image decisions/s, cold p99 <= 50 ms for a 1,000-target repository. The "notary"
# column is the same verifier with notary-server as the trust server (cold rows only: a warm
# decision does not reach the trust server). The load client runs on the same cores as the
# verifier; on a shared machine requests/s and latencies move with the rest of the load, the
# CPU per request much less. Nothing here asserts a timing: a missed goal is reported.
#
# The script stops only the processes it started (by PID) and removes its temporary directory
# on every exit path.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

QUICK=0 ROUNDS='' SECS='' COLD='' COLD20='' CONNS=8 ONLY='' BUILD_DIR=build-release
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --seconds) SECS=$2; shift ;;
    --cold) COLD=$2; shift ;;
    --cold20) COLD20=$2; shift ;;
    --connections) CONNS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,/^# The script stops/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench_verifier: unknown option $1" >&2; exit 1 ;;
    *) BUILD_DIR=$1 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then ROUNDS=${ROUNDS:-2}; SECS=${SECS:-2}; COLD=${COLD:-20}; COLD20=${COLD20:-2}; fi
ROUNDS=${ROUNDS:-5}; SECS=${SECS:-5}; COLD=${COLD:-100}; COLD20=${COLD20:-5}
case $ONLY in ''|warm|cold) ;; *) echo "bench_verifier: --only warm or cold" >&2; exit 1 ;; esac
if [ "$ONLY" = warm ]; then COLD=0 COLD20=0; fi
TARGETS=1000 WARM_REPOS=20 TAG=v0001
case $BUILD_DIR in /*) ;; *) BUILD_DIR="$root/$BUILD_DIR" ;; esac
VOUCH_SERVER=$BUILD_DIR/server/vouch-server
VERIFIER=$BUILD_DIR/verifier/vouch-verifier
TOOL=$BUILD_DIR/bench/bench_verifier
for exe in "$VOUCH_SERVER" "$VERIFIER" "$TOOL"; do
  [ -x "$exe" ] || { echo "bench_verifier: $exe not built" >&2; exit 1; }
done
for tool in openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "bench_verifier: skipped ($tool not installed)"; exit 0; }
done
SERVERS="vouch"
# Warm decisions never reach a trust server: notary-server serves the cold part only.
if [ "$ONLY" != warm ] && command -v notary-server >/dev/null; then SERVERS="vouch notary"; fi

# WORK (private temp dir, HOME inside it), vouch_make_tls, vouch_start/vouch_stop, fail, and
# the EXIT trap that stops the vouch-server started here and removes WORK.
# shellcheck source-path=SCRIPTDIR source=../tests/interop/lib_vouch_server.sh
. "$root/tests/interop/lib_vouch_server.sh"
NS_PID='' VPID=''
_bench_cleanup() {
  local pid
  for pid in "$VPID" "$NS_PID"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    fi
  done
  _vouch_cleanup
}
trap _bench_cleanup EXIT

bench_fail() {
  echo "bench_verifier: $*" >&2
  for f in verifier.log notary-server.log server.log; do
    [ -s "$WORK/$f" ] && { echo "--- $f (last lines)" >&2; tail -15 "$WORK/$f" >&2; }
  done
  exit 1
}

start_notary_server() {
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  cat >"$WORK/notary-server.json" <<EOF
{"server": {"http_addr": "127.0.0.1:$port", "tls_cert_file": "$WORK/server.pem", "tls_key_file": "$WORK/server.key"},
 "trust_service": {"type": "local", "key_algorithm": "ecdsa"}, "storage": {"backend": "memory"},
 "logging": {"level": "warn"}}
EOF
  notary-server -config "$WORK/notary-server.json" -logf logfmt >>"$WORK/notary-server.log" 2>&1 </dev/null &
  NS_PID=$!
  NS_URL="https://127.0.0.1:$port"
  for _ in $(seq 1 600); do   # a bound on a hung start, not a measurement
    kill -0 "$NS_PID" 2>/dev/null || bench_fail "notary-server exited at start"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/ca.pem" "$NS_URL/_notary_server/health" || true)" = 200 ] && return 0
    sleep 0.1
  done
  bench_fail "notary-server did not start"
}

# start_verifier [config file name in WORK, default verifier.json]
start_verifier() {
  "$VERIFIER" --config "$WORK/${1:-verifier.json}" >"$WORK/verifier.out" 2>>"$WORK/verifier.log" </dev/null &
  VPID=$!
  for _ in $(seq 1 600); do   # a bound on a hung start, not a measurement
    grep -q "^listening on" "$WORK/verifier.out" 2>/dev/null && break
    kill -0 "$VPID" 2>/dev/null || bench_fail "vouch-verifier exited at start"
    sleep 0.1
  done
  local listen
  listen=$(sed -n 's/^listening on //p' "$WORK/verifier.out")
  [ -n "$listen" ] || bench_fail "vouch-verifier did not report its address"
  VURL="https://127.0.0.1:${listen##*:}"
  MPORT=$(sed -n 's/^metrics on port //p' "$WORK/verifier.out")
  [ -n "$MPORT" ] || bench_fail "vouch-verifier did not report its metrics port"
}

stop_verifier() {
  local pid=$VPID
  VPID=
  kill -TERM "$pid"
  wait "$pid" || bench_fail "vouch-verifier did not exit cleanly on SIGTERM"
}

# metric <name{labels}>: the value of one sample on the verifier's /metrics (0 if absent).
metric() {
  curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m { v = $2 } END { printf "%d\n", v + 0 }'
}

RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
# load <round> <workload> <mode> <bench_verifier load args...>: runs the load client and
# appends its JSON, tagged, to RESULTS; fails on any request that was not admitted.
load() {
  local rnd=$1 workload=$2 mode=$3 out
  shift 3
  out=$("$TOOL" load --url "$VURL" --ca "$WORK/ca.pem" --pid "$VPID" "$@") || bench_fail "load client failed ($workload, $mode)"
  python3 - "$rnd" "$workload" "$mode" "$out" >>"$RESULTS" <<'PY' || bench_fail "$workload ($mode): requests were not admitted"
import json, sys
rnd, workload, mode, text = sys.argv[1:]
r = json.loads(text)
if r["errors"]:
    sys.exit(f"{r['errors']} of {r['requests']} failed, first: {r['first_error']}")
r.update(round=int(rnd), workload=workload, mode=mode)
print(json.dumps(r))
PY
}

# ------------------------------------------------------------------ servers and repositories
vouch_make_tls
vouch_start 127.0.0.1:0 >/dev/null
trust=(--trust "vouch=$URL=vouch.bench.example")
repos=(--repos "vouch:warm/app:$WARM_REPOS")
for s in $SERVERS; do
  if [ "$s" = notary ]; then
    start_notary_server
    trust+=(--trust "notary=$NS_URL=notary.bench.example")
  fi
  repos+=(--repos "$s:cold/r:$COLD" --repos "$s:cold20/s:$((20 * COLD20))")
done
echo "bench_verifier: publishing repositories of $TARGETS targets: $((WARM_REPOS + COLD + 20 * COLD20)) to vouch-server${NS_PID:+, $((COLD + 20 * COLD20)) to notary-server} ..."
"$TOOL" publish --ca "$WORK/ca.pem" --targets "$TARGETS" --policy-out "$WORK/policy.json" \
  "${trust[@]}" "${repos[@]}" 2>&1 || bench_fail "publishing the repositories failed"

# verifier.json as deployed; verifier-nocache.json the same with the decision cache off
# (admission.decision_cache_entries 0): every request runs the decision over cached trust data.
for cache in 10000 0; do
  name=verifier.json
  [ "$cache" = 0 ] && name=verifier-nocache.json
  cat >"$WORK/$name" <<EOF
{"server": {"listen": "127.0.0.1:0", "tls_cert_file": "$WORK/server.pem", "tls_key_file": "$WORK/server.key"},
 "metrics": {"listen": "127.0.0.1:0"},
 "policy": {"file": "$WORK/policy.json", "poll_ms": 0},
 "trust": {"max_age_ms": 3600000, "refresh_after_ms": 3600000},
 "admission": {"decision_cache_entries": $cache},
 "logging": {"level": "info", "format": "text"}}
EOF
done

# Request lists: one request per line, its images space-separated.
gun() { printf '%s.bench.example/%s-%04d' "$1" "$2" "$3"; }
: >"$WORK/warm1.txt"; warm20=
for i in $(seq 0 $((WARM_REPOS - 1))); do
  img="$(gun vouch warm/app "$i"):$TAG"
  echo "$img" >>"$WORK/warm1.txt"
  warm20+="$img "
done
echo "$warm20" >"$WORK/warm20.txt"
: >"$WORK/cold1.txt"; : >"$WORK/cold20.txt"
# Who goes first alternates: "vouch notary", then "notary vouch".
REVERSED=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
for i in $(seq 0 $((COLD - 1))); do
  order=$SERVERS
  [ $((i % 2)) = 1 ] && order=$REVERSED
  for s in $order; do echo "$s $(gun "$s" cold/r "$i"):$TAG" >>"$WORK/cold1.txt"; done
done
for j in $(seq 0 $((COLD20 - 1))); do
  order=$SERVERS
  [ $((j % 2)) = 1 ] && order=$REVERSED
  for s in $order; do
    line="$s"
    for k in $(seq 0 19); do line+=" $(gun "$s" cold20/s $((20 * j + k))):$TAG"; done
    echo "$line" >>"$WORK/cold20.txt"
  done
done
# The load client reads images only; the first word (the trust server) is for the split.
cut -d' ' -f2- "$WORK/cold1.txt" >"$WORK/cold1.images"
cut -d' ' -f2- "$WORK/cold20.txt" >"$WORK/cold20.images"
n_servers=$(wc -w <<<"$SERVERS")
COLD_FETCHES=$(( (COLD + 20 * COLD20) * n_servers ))

WARM_LOADS=("pod1 pod $WORK/warm1.txt" "pod20 pod $WORK/warm20.txt" "verify1 verify $WORK/warm1.txt")
echo "bench_verifier: $ROUNDS rounds${ONLY:+ ($ONLY only)}: cold $COLD x 1 and $COLD20 x 20 containers per trust server (and a round 0, not recorded), warm ${SECS} s per run with $CONNS and 1 connection"
first_round=0
[ "$ONLY" = warm ] && first_round=1   # round 0 exists for the cold part only
for rnd in $(seq "$first_round" "$ROUNDS"); do
  start_verifier
  if [ "$ONLY" != warm ]; then
    ok0=$(metric 'vouch_verifier_trust_fetches_total{result="ok"}')
    [ "$COLD" -gt 0 ] && load "$rnd" cold1 once --kind pod --images "$WORK/cold1.images" --once
    [ "$COLD20" -gt 0 ] && load "$rnd" cold20 once --kind pod --images "$WORK/cold20.images" --once
    ok1=$(metric 'vouch_verifier_trust_fetches_total{result="ok"}')
    err1=$(metric 'vouch_verifier_trust_fetches_total{result="error"}')
    if [ $((ok1 - ok0)) != "$COLD_FETCHES" ] || [ "$err1" != 0 ]; then
      bench_fail "round $rnd: $((ok1 - ok0)) trust fetches ($err1 failed) for $COLD_FETCHES cold repositories"
    fi
  fi
  if [ "$rnd" -gt 0 ] && [ "$ONLY" != cold ]; then
    load "$rnd" prime once --kind pod --images "$WORK/warm1.txt" --once
    ok2=$(metric 'vouch_verifier_trust_fetches_total{result="ok"}')
    for k in 0 1 2; do
      read -r name kind images <<<"${WARM_LOADS[$(( (k + rnd) % 3 ))]}"
      load "$rnd" "$name" throughput --kind "$kind" --images "$images" --connections "$CONNS" --seconds "$SECS" --warmup 1
      load "$rnd" "$name" latency --kind "$kind" --images "$images" --connections 1 --seconds "$SECS" --warmup 0.5
    done
    ok3=$(metric 'vouch_verifier_trust_fetches_total{result="ok"}')
    [ "$ok3" = "$ok2" ] || bench_fail "round $rnd: $((ok3 - ok2)) trust fetches during the warm runs"
  fi
  log_bytes=$(stat -c %s "$WORK/verifier.log")
  stop_verifier
  if [ "$rnd" -gt 0 ] && [ "$ONLY" != cold ]; then
    # The same warm throughput runs with the decision cache off: trust data cached (primed
    # once), the decision computed for every image of every request.
    start_verifier verifier-nocache.json
    load "$rnd" prime once --kind pod --images "$WORK/warm1.txt" --once
    ok2=$(metric 'vouch_verifier_trust_fetches_total{result="ok"}')
    for name in pod1 pod20; do
      images=$WORK/warm1.txt
      [ "$name" = pod20 ] && images=$WORK/warm20.txt
      load "$rnd" "${name}_nocache" throughput --kind pod --images "$images" --connections "$CONNS" --seconds "$SECS" --warmup 1
    done
    [ "$(metric 'vouch_verifier_decision_cache_total{result="hit"}')" = 0 ] || bench_fail "round $rnd: decision cache hits with the cache off"
    ok3=$(metric 'vouch_verifier_trust_fetches_total{result="ok"}')
    [ "$ok3" = "$ok2" ] || bench_fail "round $rnd: $((ok3 - ok2)) trust fetches during the uncached warm runs"
    stop_verifier
  fi
  python3 - "$RESULTS" "$rnd" "$log_bytes" <<'PY' >&2
import json, sys
path, rnd, log_bytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in open(path) if l.strip()]
rows = [r for r in rows if r["round"] == rnd]
parts = []
for r in rows:
    if r["workload"] in ("cold1", "cold20"):
        # The per-request CPU (live threads' schedstat) should add up to the process total.
        parts.append(f"{r['workload']} p50 {r['p50_us'] / 1e3:.1f} ms p99 {r['p99_us'] / 1e3:.1f} ms "
                     f"(CPU {sum(r['cpu_us']) / 1e3:.0f} ms summed per request, "
                     f"{r['cpu_stat_total_us'] / 1e3:.0f} ms by /proc/PID/stat)")
    elif r["mode"] != "once":
        parts.append(f"{r['workload']}/{r['mode']} {r['rps']:.0f} req/s p99 {r['p99_us'] / 1e3:.2f} ms")
print(f"[bench_verifier] round {rnd}{' (not recorded)' if rnd == 0 else ''}: " + "; ".join(parts)
      + f"; verifier log {log_bytes / 2**20:.1f} MiB", flush=True)
PY
done

# ------------------------------------------------------------------ report
python3 - "$RESULTS" "$WORK/cold1.txt" "$WORK/cold20.txt" "$CONNS" "$SECS" "$ROUNDS" "$COLD" "$COLD20" \
  "$SERVERS" "${VOUCH_BENCH_JSON:-}" <<'PY'
import json, statistics, sys
(path, cold1_file, cold20_file, conns, secs, rounds, cold, cold20, servers, out_json) = sys.argv[1:]
conns = int(conns)
rows = [json.loads(l) for l in open(path) if l.strip()]
recorded = [r for r in rows if r["round"] > 0]
servers_of = {w: [l.split()[0] for l in open(f) if l.strip()]
              for w, f in (("cold1", cold1_file), ("cold20", cold20_file))}

def pct(values, p):
    v = sorted(values)
    k = max(1, -(-len(v) * p // 100))  # nearest rank
    return v[int(k) - 1]

TPUT, CPU = f"throughput ({conns} connections)", f"verifier CPU ({conns} connections)"
per = {}  # (workload label, metric, unit) -> {"vouch": [...], "notary": [...]}
def add(label, metric, unit, impl, value):
    per.setdefault((label, metric, unit), {"vouch": [], "notary": []})[impl].append(value)

W = {"pod1": ("verifier warm, Pod of 1 container (/validate)", 1),
     "pod20": ("verifier warm, Pod of 20 containers (/validate)", 20),
     "verify1": ("verifier warm, 1 image (/v1/verify)", 1),
     "pod1_nocache": ("verifier warm, decision cache off, Pod of 1 container (/validate)", 1),
     "pod20_nocache": ("verifier warm, decision cache off, Pod of 20 containers (/validate)", 20)}
C = {"cold1": "verifier cold, Pod of 1 container, 1,000-target repository (1 trust fetch)",
     "cold20": "verifier cold, Pod of 20 containers, 20 repositories (20 trust fetches)"}
ORDER = ["pod1", "pod20", "verify1", "pod1_nocache", "pod20_nocache", "cold1", "cold20"]
for r in sorted(recorded, key=lambda r: (ORDER.index(r["workload"]) if r["workload"] in ORDER else 99,
                                         r["mode"] != "throughput", r["round"])):
    w = r["workload"]
    if w in W:
        label, images = W[w]
        if r["mode"] == "throughput":
            add(label, TPUT, "image decisions/s", "vouch", r["rps"] * images)
            add(label, TPUT, "requests/s", "vouch", r["rps"])
            add(label, f"p50 ({conns} connections)", "ms", "vouch", r["p50_us"] / 1e3)
            add(label, f"p99 ({conns} connections)", "ms", "vouch", r["p99_us"] / 1e3)
            add(label, CPU, "µs/request", "vouch", r["cpu_us_per_req"])
            add(label, CPU, "µs/image decision", "vouch", r["cpu_us_per_req"] / images)
        elif r["mode"] == "latency":
            add(label, "p50 (1 connection)", "ms", "vouch", r["p50_us"] / 1e3)
            add(label, "p99 (1 connection)", "ms", "vouch", r["p99_us"] / 1e3)
    elif w in C:
        label = C[w]
        for impl in servers.split():
            idx = [i for i, s in enumerate(servers_of[w]) if s == impl]
            lat = [r["latency_us"][i] / 1e3 for i in idx]
            cpu = [r["cpu_us"][i] / 1e3 for i in idx]
            add(label, "p50", "ms", impl, pct(lat, 50))
            add(label, "p99", "ms", impl, pct(lat, 99))
            add(label, "verifier CPU (median)", "ms/request", impl, statistics.median(cpu))

goals = {("p99 (1 connection)", "ms"): ("≤ 1 ms", lambda m: m <= 1.0),
         (TPUT, "image decisions/s"): ("≥ 20,000/s", lambda m: m >= 20000)}
def goal_of(label, metric, unit):
    if label in (W["pod1"][0], W["pod20"][0]):
        return goals.get((metric, unit), ("", None))
    if label == C["cold1"] and metric == "p99":
        return ("≤ 50 ms", lambda m: m <= 50.0)
    return ("", None)

def fmt(v):
    if abs(v) >= 1000: return f"{v:,.0f}"
    if abs(v) >= 100: return f"{v:.0f}"
    if abs(v) >= 10: return f"{v:.1f}"
    return f"{v:.2f}"
def cell(values):
    if not values: return "–"
    med = statistics.median(values)
    return fmt(med) if len(values) == 1 else f"{fmt(med)} [{fmt(min(values))}..{fmt(max(values))}]"

json_rows, lines = [], []
lines.append("| workload | metric | vouch-server as trust server | notary-server as trust server | goal | met? |")
lines.append("|---|---|---|---|---|---|")
for (label, metric, unit), v in per.items():
    goal, check = goal_of(label, metric, unit)
    met = None if check is None else bool(check(statistics.median(v["vouch"])))
    json_rows.append({"workload": label, "metric": metric, "unit": unit, "vouch": v["vouch"],
                      "notary": v["notary"], "goal": goal, "met": met})
    lines.append(f"| {label} | {metric} {unit} | {cell(v['vouch'])} | {cell(v['notary'])} | {goal} | "
                 + {True: "yes", False: "**no**", None: ""}[met] + " |")
print()
print(f"vouch-verifier decisions: {rounds} rounds; warm: {secs} s per run, closed loop, {conns} "
      f"connections (throughput) and 1 (latency); cold: {cold} Pods of 1 and {cold20} Pods of 20 "
      f"containers per trust server and round, every repository asked once per verifier start. "
      f"Median [min..max] over the rounds.")
print("\n".join(lines))
print("Warm decisions do not reach the trust server, so warm rows have no notary column; the cold "
      "notary column is the same verifier fetching from notary-server.")
if out_json:
    with open(out_json, "w") as f:
        json.dump({"rows": json_rows}, f, indent=1, ensure_ascii=False)
PY
echo "bench_verifier: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
vouch_stop
if [ -n "$NS_PID" ]; then kill -TERM "$NS_PID"; wait "$NS_PID" 2>/dev/null || true; NS_PID=; fi
