#!/usr/bin/env python3
"""The side-by-side benchmark suite: vouch against the real Notary 0.7 (issue 7).

`make bench` builds Release and runs this; `make bench-quick` runs it with --quick.

    bench/suite.py [--build-dir build-release] [--quick] [--rounds N] [--seconds S]
                   [--publish-rounds N] [--only get,publish,signer,external] [--out-dir DIR]

It builds nothing. It starts, each on a loopback port it picks and all with TLS from a
throwaway CA:
  * vouch-server   RocksDB in a temporary directory (durable: every publish is fsynced),
                   its embedded encrypted key store (trust_service local);
  * notary-server  Debian's, memory storage, trust_service local (the fixture script's
                   server #1), logging at warn: at info it writes three log lines per request
                   (vouch-server none), which cost it CPU that is not serving
                   (--notary-log-level info reproduces the earlier reports);
  * nginx          serving the very bytes vouch-server serves for the same files (the
                   static-file baseline), two workers, no access log (vouch-server logs no
                   line per read either);
  * bench_signer   (build dir) for the signer workload: it starts vouch-signer and the real
                   notary-signer with mutual TLS itself and drives both with a gRPC load client.
Everything it started is stopped by its saved process ID (its process group, for nginx's
workers and bench_signer's signers) on every exit path: success, error, Ctrl-C, SIGTERM.

Repositories of 10, 1,000 and 10,000 targets are made by bench_make_repo (vouch's own tuf/
code, one set of client keys) and published to both servers over Notary's HTTP API: the
targets files are byte-identical; each root names the timestamp key that server made.

Workloads, alternating between the implementations inside every round:
  get      wrk, 2 threads, 32 connections, keep-alive, TLS: timestamp.json, snapshot.json and
           targets.json of the 10-target repository, and the ~2 MB targets.json of the
           10,000-target one; vouch-server, notary-server and nginx. Requests/s, p99 latency,
           and server CPU per request (utime+stime from /proc/<pid>/stat, all threads and for
           nginx all workers, over the run, divided by the requests wrk completed).
  publish  one POST of a one-target update (targets + snapshot, signed beforehand) into the
           repository of N targets; the wall time of the request on an open connection and
           the server CPU it cost (all threads' time on CPU from /proc/<pid>/task/*/schedstat,
           as one publish is shorter than a clock tick).
  memory   VmRSS (and its anonymous part, RssAnon, i.e. without mapped libraries) of each
           server idle (started, nothing published) and with every repository published and
           each current file read once (so cached).
  signer   bench_signer --json: Sign ops/s and server CPU per Sign, ecdsa and ed25519,
           16 calls in flight over one mTLS channel.
  external further workloads under bench/ (HOOKS below), run if present.

Output: progress on stderr; at the end one Markdown table on stdout (median [min..max] of the
rounds per implementation, the ratio vouch/notary, the goal of issue 7 and whether it is met),
also written with every single measurement to bench/results/<date>[-quick].{md,json}.
Nothing here asserts a timing: a missed goal is reported, not an error. The machine is shared
and noisy; server CPU per request is the steadier figure.

HOOKS. A further workload is an executable script bench/<name> listed in EXTERNAL_WORKLOADS.
The suite runs it (after its own workloads, with its own daemons stopped) as
    bench/<name> [--quick] BUILD_DIR
with VOUCH_BUILD_DIR (the same absolute build directory) and VOUCH_BENCH_JSON (a path) in the
environment; it starts and stops its own daemons. Its output (stdout and stderr) goes into the
Markdown report as it is. If it writes VOUCH_BENCH_JSON as {"rows": [{"workload": str,
"metric": str, "unit": str, "vouch": [per-round values], "notary": [per-round values],
"goal": str, "met": true|false|null}]}, those rows join the table.
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIZES = (10, 1000, 10000)
EXTERNAL_WORKLOADS = ("bench_client.sh", "bench_verifier.sh", "bench_tokens.sh")
IMPLS = ("vouch", "notary", "nginx")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    """A fixture that cannot be set up: the run stops (after cleaning up)."""


# ------------------------------------------------------------------------- /proc figures

def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return text[text.rindex(")") + 2:].split()


def process_tree(pid):
    """pid and its descendants (nginx's workers, bench_signer's signers)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids):
    """utime + stime of the processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            f = _stat_fields(pid)
            total += int(f[11]) + int(f[12])
    return total / CLK_TCK


def cpu_seconds_precise(pids):
    """Time on CPU of every thread of the processes, in seconds, from the scheduler's
    nanosecond accounting (/proc/<pid>/task/<tid>/schedstat): for intervals too short for
    clock ticks. Only threads alive at the time of reading count, so use it over intervals in
    which the server starts and ends no thread (a publish)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
    return total / 1e9


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Fail(f"no {field} for pid {pid}")


# ------------------------------------------------------------------------- processes

class Processes:
    """Daemons this run started, each in its own process group; stop_all() ends only them."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.procs = []  # (name, Popen)

    def start(self, name, argv, env=None, stdout_file=None):
        log_path = self.logdir / f"{name}.log"
        with contextlib.ExitStack() as files:
            err = files.enter_context(open(log_path, "wb"))
            out = files.enter_context(open(stdout_file, "wb")) if stdout_file else err
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 env=env, start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop(self, proc, timeout=30):
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # A group member that outlived its leader (it should not) is ended too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self):
        for _, p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()

    def tail(self, name, lines=20):
        path = self.logdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(pred, what, proc, procs, name, limit=90):
    """Polls pred until true; the bound only keeps a hung start from hanging the run."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise Fail(f"{what} exited at start:\n{procs.tail(name)}")
        with contextlib.suppress(OSError, http.client.HTTPException, ssl.SSLError):
            if pred():
                return
        time.sleep(0.1)
    raise Fail(f"{what} did not become ready:\n{procs.tail(name)}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------- HTTPS client

class Https:
    """One keep-alive HTTPS connection to a server on 127.0.0.1."""

    def __init__(self, port, cafile):
        ctx = ssl.create_default_context(cafile=str(cafile))
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=120)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def get(self, path):
        return self.request("GET", path)

    def close(self):
        self.conn.close()


def multipart(parts):
    """Notary's publish body: one "files" part per role, filename = role name."""
    boundary = "vouchbench" + secrets.token_hex(8)
    chunks = []
    for role, data in parts:
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
                      f'filename="{role}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                      .encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def gun_of(n):
    return f"bench.example.com/n{n}"


def tuf_path(gun, name):
    return f"/v2/{gun}/_trust/tuf/{name}"


# ------------------------------------------------------------------------- the suite

class Suite:
    def __init__(self, args):
        self.args = args
        self.build = Path(args.build_dir)
        if not self.build.is_absolute():
            self.build = ROOT / self.build
        self.work = Path(tempfile.mkdtemp(prefix="vouch-bench."))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.procs = Processes(self.logs)
        self.servers = {}  # impl -> {"proc", "port"}
        # results[(workload, metric)][impl] -> list of per-round values
        self.results = {}
        self.raw = []      # every measurement, for the JSON file
        self.notes = []
        self.external_md = []
        self.external_rows = []
        self.meta = {}

    # --- results
    def record(self, workload, metric, impl, value, **extra):
        self.results.setdefault((workload, metric), {}).setdefault(impl, []).append(value)
        self.raw.append({"workload": workload, "metric": metric, "impl": impl, "value": value,
                         **extra})

    # --- setup
    def check_tools(self):
        need = {"vouch-server": self.build / "server" / "vouch-server",
                "bench_make_repo": self.build / "bench" / "bench_make_repo",
                "bench_signer": self.build / "bench" / "bench_signer"}
        for name, path in need.items():
            if not os.access(path, os.X_OK):
                raise Fail(f"{name} not built at {path} (make bench builds it)")
        for tool in ("notary-server", "notary-signer", "nginx", "wrk", "openssl"):
            if shutil.which(tool) is None:
                raise Fail(f"{tool} not found (scripts/install-deps.sh --bench installs it)")
        self.bin = need

    def make_tls(self):
        t = self.work / "tls"
        t.mkdir()
        q = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-sha256", "-days", "2", "-subj",
                        "/CN=vouch bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                        "-keyout", t / "ca.key", "-out", t / "ca.pem"], **q)
        subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-sha256", "-subj", "/CN=127.0.0.1", "-keyout", t / "server.key",
                        "-out", t / "server.csr"], **q)
        (t / "server.ext").write_text("basicConstraints=critical,CA:FALSE\n"
                                      "extendedKeyUsage=serverAuth\n"
                                      "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        subprocess.run(["openssl", "x509", "-req", "-in", t / "server.csr", "-CA", t / "ca.pem",
                        "-CAkey", t / "ca.key", "-CAcreateserial", "-days", "2", "-sha256",
                        "-extfile", t / "server.ext", "-out", t / "server.pem"], **q)
        for k in ("ca.key", "server.key"):
            os.chmod(t / k, 0o600)
        self.ca = t / "ca.pem"
        self.cert, self.key = t / "server.pem", t / "server.key"

    def healthy(self, port, path):
        c = Https(port, self.ca)
        try:
            return c.get(path)[0] == 200
        finally:
            c.close()

    def start_vouch(self):
        env = dict(os.environ)
        # A throwaway passphrase for the throwaway key store; never printed.
        env["VOUCH_SERVER_KEY_PASSPHRASE"] = secrets.token_hex(16)
        out = self.logs / "vouch-server.out"
        p = self.procs.start("vouch-server", [
            self.bin["vouch-server"], "--http-addr", "127.0.0.1:0", "--tls-cert", self.cert,
            "--tls-key", self.key, "--storage", "rocksdb", "--db-path", self.work / "vouch-db",
            "--insecure-no-auth", "--log-level", "warn"], env=env, stdout_file=out)
        port = []

        def ready():
            for line in out.read_text().splitlines():
                if line.startswith("listening on "):
                    port.append(int(line.rsplit(":", 1)[1]))
                    return True
            return False
        wait_for(ready, "vouch-server", p, self.procs, "vouch-server")
        wait_for(lambda: self.healthy(port[0], "/_notary_server/health"), "vouch-server", p,
                 self.procs, "vouch-server")
        self.servers["vouch"] = {"proc": p, "port": port[0]}

    def start_notary(self):
        port = free_port()
        conf = self.work / "notary-server.json"
        conf.write_text(json.dumps({
            "server": {"http_addr": f"127.0.0.1:{port}", "tls_cert_file": str(self.cert),
                       "tls_key_file": str(self.key)},
            "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
            "storage": {"backend": "memory"},
            "logging": {"level": self.args.notary_log_level}}))
        p = self.procs.start("notary-server", ["notary-server", "-config", conf, "-logf",
                                               "logfmt"])
        wait_for(lambda: self.healthy(port, "/_notary_server/health"), "notary-server", p,
                 self.procs, "notary-server")
        self.servers["notary"] = {"proc": p, "port": port}

    def start_nginx(self):
        port = free_port()
        prefix = self.work / "nginx"
        (prefix / "tmp").mkdir(parents=True)
        self.www = prefix / "www"
        self.www.mkdir()
        conf = prefix / "nginx.conf"
        # Workers run as root when the master does, so they can read the private temp dir.
        user = "user root;\n" if os.geteuid() == 0 else ""
        tmp = prefix / "tmp"
        conf.write_text(f"""{user}worker_processes 2;
daemon off;
master_process on;
pid {prefix}/nginx.pid;
error_log {self.logs}/nginx.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  types {{ application/json json; }}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {self.cert};
    ssl_certificate_key {self.key};
    root {self.www};
  }}
}}
""")
        p = self.procs.start("nginx", ["nginx", "-p", prefix, "-e", self.logs / "nginx.log",
                                       "-c", conf])
        (self.www / "ping").write_text("ok")
        wait_for(lambda: self.healthy(port, "/ping"), "nginx", p, self.procs, "nginx")
        self.servers["nginx"] = {"proc": p, "port": port}

    def pids(self, impl):
        return process_tree(self.servers[impl]["proc"].pid)

    # --- repositories
    def populate(self):
        """Publishes repositories of 10 / 1,000 / 10,000 targets to both servers."""
        updates = self.args.publish_rounds + 1  # one warm-up publish per size
        self.repos = {}
        clients = {i: Https(self.servers[i]["port"], self.ca) for i in ("vouch", "notary")}
        try:
            for n in SIZES:
                gun = gun_of(n)
                out = self.work / "repos" / f"n{n}"
                out.mkdir(parents=True)
                argv = [self.bin["bench_make_repo"], "--gun", gun, "--targets", str(n),
                        "--updates", str(updates), "--out", out]
                for impl, c in clients.items():
                    status, body = c.get(tuf_path(gun, "timestamp.key"))
                    if status != 200:
                        raise Fail(f"{impl}: GET timestamp.key: {status} {body[:200]!r}")
                    (out / f"{impl}-timestamp.key").write_bytes(body)
                    argv += ["--server", f"{impl}={out / f'{impl}-timestamp.key'}"]
                subprocess.run(argv, check=True)
                targets0 = (out / "targets-0.json").read_bytes()
                for impl, c in clients.items():
                    body, headers = multipart([
                        ("root", (out / impl / "root.json").read_bytes()),
                        ("targets", targets0),
                        ("snapshot", (out / impl / "snapshot-0.json").read_bytes())])
                    status, resp = c.request("POST", tuf_path(gun, ""), body, headers)
                    if status != 200:
                        raise Fail(f"{impl}: first publish of {gun}: {status} {resp[:300]!r}")
                    status, served = c.get(tuf_path(gun, "targets.json"))
                    if status != 200 or served != targets0:
                        raise Fail(f"{impl} does not serve the targets.json it was given ({gun})")
                self.repos[n] = {"gun": gun, "dir": out, "next_update": 1}
                log(f"published {n:>5} targets to both servers "
                    f"(targets.json {len(targets0):,} bytes)")
            # Every current file read once: the servers' caches hold the repositories now; the
            # bytes vouch-server serves go to nginx's document root under the same paths.
            held = 0
            for n, repo in self.repos.items():
                for role in ("root", "targets", "snapshot", "timestamp"):
                    path = tuf_path(repo["gun"], f"{role}.json")
                    status, body = clients["notary"].get(path)
                    if status != 200:
                        raise Fail(f"notary: GET {path}: {status}")
                    status, body = clients["vouch"].get(path)
                    if status != 200:
                        raise Fail(f"vouch: GET {path}: {status}")
                    held += len(body)
                    dest = self.www / path.lstrip("/")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(body)
            self.meta["metadata_bytes_held"] = held
        finally:
            for c in clients.values():
                c.close()

    # --- memory
    def memory(self, phase):
        time.sleep(1)  # let start-up or the last requests settle
        for impl in ("vouch", "notary"):
            pid = self.servers[impl]["proc"].pid
            kib, anon = rss_kib(pid), rss_kib(pid, "RssAnon")
            self.record(f"RSS {phase}", "MiB", impl, kib / 1024)
            self.record(f"RSS {phase}", "anonymous MiB", impl, anon / 1024)
            log(f"RSS {phase:<8} {impl:<7} {kib / 1024:7.1f} MiB ({anon / 1024:.1f} MiB anonymous)")

    # --- GET with wrk
    def wrk(self, impl, url, seconds):
        pids = self.pids(impl)
        cpu0 = cpu_seconds(pids)
        proc = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--timeout", "10s", "-s",
                               ROOT / "bench" / "wrk_report.lua", url],
                              capture_output=True, text=True, timeout=seconds + 120)
        cpu1 = cpu_seconds(pids)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
        if proc.returncode != 0 or line is None:
            raise Fail(f"wrk {url}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        r = json.loads(line[len("WRK_JSON "):])
        n = r["requests"]
        errors = sum(r["errors"].values())
        return {"rps": n / (r["duration_us"] / 1e6),
                "cpu_us": (cpu1 - cpu0) * 1e6 / n if n else float("nan"),
                "p99_ms": r["latency_us"]["p99"] / 1000, "p50_ms": r["latency_us"]["p50"] / 1000,
                "requests": n, "errors": errors, "bytes": r["bytes"]}

    def get_workloads(self):
        small, big = gun_of(10), gun_of(10000)
        return [(f"GET {role}.json (10 targets)", tuf_path(small, f"{role}.json"))
                for role in ("timestamp", "snapshot", "targets")] + \
               [("GET targets.json (10,000 targets)", tuf_path(big, "targets.json"))]

    def run_get(self):
        workloads = self.get_workloads()
        sizes = {label: len((self.www / path.lstrip("/")).read_bytes())
                 for label, path in workloads}
        self.meta["get_bytes"] = sizes
        log("GET warm-up (1 s per workload and server, not recorded)")
        for label, path in workloads:
            for impl in IMPLS:
                self.wrk(impl, f"https://127.0.0.1:{self.servers[impl]['port']}{path}", 1)
        rounds, seconds = self.args.rounds, self.args.seconds
        for rnd in range(rounds):
            for w, (label, path) in enumerate(workloads):
                # Rotate who goes first, so no implementation always follows the same one.
                shift = (rnd + w) % len(IMPLS)
                for impl in IMPLS[shift:] + IMPLS[:shift]:
                    url = f"https://127.0.0.1:{self.servers[impl]['port']}{path}"
                    r = self.wrk(impl, url, seconds)
                    extra = {"round": rnd + 1, "requests": r["requests"], "errors": r["errors"]}
                    self.record(label, "req/s", impl, r["rps"], **extra)
                    self.record(label, "server CPU µs/req", impl, r["cpu_us"], **extra)
                    self.record(label, "p99 ms", impl, r["p99_ms"], **extra)
                    if r["errors"]:
                        self.notes.append(f"{label}, {impl}, round {rnd + 1}: "
                                          f"{r['errors']} wrk errors")
                    log(f"round {rnd + 1}/{rounds} {label:<34} {impl:<6} {r['rps']:9.0f} req/s "
                        f"{r['cpu_us']:7.1f} µs CPU/req  p99 {r['p99_ms']:6.2f} ms"
                        + (f"  ERRORS {r['errors']}" if r["errors"] else ""))

    # --- publish
    def run_publish(self):
        clients = {i: Https(self.servers[i]["port"], self.ca) for i in ("vouch", "notary")}
        try:
            for rnd in range(self.args.publish_rounds + 1):  # round 0: warm-up, not recorded
                for n in SIZES:
                    repo = self.repos[n]
                    k = repo["next_update"]
                    repo["next_update"] += 1
                    targets = (repo["dir"] / f"targets-{k}.json").read_bytes()
                    order = ("vouch", "notary") if rnd % 2 == 0 else ("notary", "vouch")
                    for impl in order:
                        c = clients[impl]
                        body, headers = multipart([
                            ("targets", targets),
                            ("snapshot", (repo["dir"] / impl / f"snapshot-{k}.json").read_bytes())])
                        # Open (or reuse) the connection first, so the timed request is the
                        # publish alone.
                        if c.get("/_notary_server/health")[0] != 200:
                            raise Fail(f"{impl}: health check failed before a publish")
                        pids = self.pids(impl)
                        cpu0 = cpu_seconds_precise(pids)
                        t0 = time.perf_counter()
                        status, resp = c.request("POST", tuf_path(repo["gun"], ""), body, headers)
                        wall = time.perf_counter() - t0
                        cpu = cpu_seconds_precise(pids) - cpu0
                        if status != 200:
                            raise Fail(f"{impl}: publish into {repo['gun']}: {status} "
                                       f"{resp[:300]!r}")
                        if rnd == 0:
                            continue
                        label = f"publish 1 target into {n:,}"
                        self.record(label, "ms", impl, wall * 1e3, round=rnd,
                                    body_bytes=len(body))
                        self.record(label, "server CPU ms", impl, cpu * 1e3, round=rnd)
                        log(f"round {rnd}/{self.args.publish_rounds} {label:<30} {impl:<6} "
                            f"{wall * 1e3:8.2f} ms  {cpu * 1e3:8.2f} ms CPU")
        finally:
            for c in clients.values():
                c.close()

    # --- signer
    def run_signer(self):
        out = self.work / "signer.json"
        seconds = max(1.0, self.args.seconds / 2)
        argv = [self.bin["bench_signer"], "--seconds", str(seconds), "--rounds",
                str(self.args.rounds), "--inflight", "16", "--json", out]
        log(f"signer: {' '.join(map(str, argv[1:]))}")
        p = self.procs.start("bench_signer", argv)
        try:
            rc = p.wait(timeout=600 + 60 * self.args.rounds * seconds)
        except subprocess.TimeoutExpired:
            raise Fail("bench_signer did not finish")
        finally:
            self.procs.stop(p)
        if rc != 0 or not out.exists():
            raise Fail(f"bench_signer failed ({rc}):\n{self.procs.tail('bench_signer', 40)}")
        names = {"vouch-signer": "vouch", "notary-signer": "notary"}
        for r in json.loads(out.read_text())["runs"]:
            impl = names.get(r["signer"])
            if impl is None:
                continue
            label = f"signer Sign {r['algo']}, 16 in flight"
            self.record(label, "signs/s", impl, r["ops_per_s"], round=r["round"],
                        errors=r["errors"])
            self.record(label, "server CPU µs/sign", impl, r["server_cpu_us_per_op"],
                        round=r["round"])
            if r["errors"]:
                self.notes.append(f"{label}, {impl}, round {r['round']}: {r['errors']} errors")
        self.notes.append("signer rows: bench_signer (gRPC + mutual TLS, one channel, "
                          "512-byte content); its own table, with the raw library rate, is below")
        self.external_md.append(("bench_signer", rc,
                                 (self.logs / "bench_signer.log").read_text(errors="replace")))

    # --- hooks
    def run_external(self):
        for name in EXTERNAL_WORKLOADS:
            script = ROOT / "bench" / name
            if not script.exists():
                continue
            out = self.work / f"{name}.json"
            env = dict(os.environ, VOUCH_BUILD_DIR=str(self.build), VOUCH_BENCH_JSON=str(out))
            argv = ["bash", script] + (["--quick"] if self.args.quick else []) + [self.build]
            log(f"external workload {name}")
            p = self.procs.start(name, argv, env=env)
            try:
                rc = p.wait(timeout=3600)
            except subprocess.TimeoutExpired:
                rc = None
            finally:
                self.procs.stop(p)
            text = (self.logs / f"{name}.log").read_text(errors="replace")
            self.external_md.append((name, rc, text))
            if rc != 0:
                self.notes.append(f"{name} exited with {rc}; see its output below")
            if out.exists():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self.external_rows.extend(json.loads(out.read_text())["rows"])

    # --- report
    def rows(self):
        """(workload, metric, goal text, goal check over medians or None) in table order."""
        def ratio_at_least(k, other="notary"):
            return lambda m: m["vouch"] >= k * m[other]

        rows = []
        for label, _ in self.get_workloads():
            small = "10,000" not in label
            rows.append((label, "req/s", "≥ 4× notary" if small else "≥ 0.8× nginx",
                         ratio_at_least(4) if small else ratio_at_least(0.8, "nginx")))
            rows.append((label, "server CPU µs/req", "≤ 1.5× nginx" if small else "",
                         (lambda m: m["vouch"] <= 1.5 * m["nginx"]) if small else None))
            rows.append((label, "p99 ms", "≤ 5 ms" if small else "",
                         (lambda m: m["vouch"] <= 5) if small else None))
        for n in SIZES:
            label = f"publish 1 target into {n:,}"
            goal, check = "", None
            if n == 10:
                goal, check = "≤ notary (memory)", lambda m: m["vouch"] <= m["notary"]
            elif n == 10000:
                goal, check = "≥ 4× faster", lambda m: m["notary"] >= 4 * m["vouch"]
            rows.append((label, "ms", goal, check))
            rows.append((label, "server CPU ms", "", None))
        for algo in ("ecdsa", "ed25519"):
            label = f"signer Sign {algo}, 16 in flight"
            if algo == "ecdsa":
                goal = "≥ 2.5× notary, ≥ 10,000/s"
                check = lambda m: m["vouch"] >= 2.5 * m["notary"] and m["vouch"] >= 10000
            else:
                goal, check = "≥ 2.5× notary", ratio_at_least(2.5)
            rows.append((label, "signs/s", goal, check))
            rows.append((label, "server CPU µs/sign", "", None))
        held = self.meta.get("metadata_bytes_held", 0) / 2**20
        rows.append(("RSS idle", "MiB", "≤ 10 MiB", lambda m: m["vouch"] <= 10))
        rows.append(("RSS idle", "anonymous MiB", "", None))
        rows.append(("RSS loaded", "MiB", "", None))
        rows.append(("RSS loaded", "anonymous MiB", "", None))
        rows.append(("RSS growth, repositories cached", "MiB",
                     f"≤ 2× metadata held ({2 * held:.1f} MiB)",
                     lambda m: m["vouch"] <= 2 * held))
        return rows

    def table(self):
        # The growth row is derived from the two RSS rows.
        idle, loaded = self.results.get(("RSS idle", "MiB")), self.results.get(("RSS loaded", "MiB"))
        if idle and loaded:
            self.results[("RSS growth, repositories cached", "MiB")] = {
                i: [loaded[i][0] - idle[i][0]] for i in idle if i in loaded}

        def fmt(v):
            if v != v:  # NaN
                return "nan"
            if abs(v) >= 1000:
                return f"{v:,.0f}"
            if abs(v) >= 100:
                return f"{v:.0f}"
            if abs(v) >= 10:
                return f"{v:.1f}"
            return f"{v:.2f}"

        def cell(values):
            if not values:
                return "–", None
            med = statistics.median(values)
            if len(values) == 1:
                return fmt(med), med
            return f"{fmt(med)} [{fmt(min(values))}..{fmt(max(values))}]", med

        lines = ["| workload | metric | vouch | notary | vouch/notary | nginx | goal | met? |",
                 "|---|---|---|---|---|---|---|---|"]
        summary = []
        for label, metric, goal, check in self.rows():
            per = self.results.get((label, metric))
            if not per:
                continue
            cells, med = {}, {}
            for impl in IMPLS:
                cells[impl], m = cell(per.get(impl, []))
                if m is not None:
                    med[impl] = m
            ratio = (f"{med['vouch'] / med['notary']:.2f}"
                     if "vouch" in med and med.get("notary") else "–")
            met = ""
            if check is not None:
                try:
                    met = "yes" if check(med) else "**no**"
                except KeyError:
                    met = "n/a"
                summary.append({"workload": label, "metric": metric, "goal": goal, "met": met})
            lines.append(f"| {label} | {metric} | {cells['vouch']} | {cells['notary']} | {ratio} "
                         f"| {cells['nginx']} | {goal} | {met} |")
        for r in self.external_rows:
            v, n = r.get("vouch") or [], r.get("notary") or []
            cv, mv = cell(v)
            cn, mn = cell(n)
            ratio = f"{mv / mn:.2f}" if mv is not None and mn else "–"
            met = {True: "yes", False: "**no**", None: ""}.get(r.get("met"), "")
            lines.append(f"| {r.get('workload', '?')} | {r.get('metric', '')} {r.get('unit', '')} "
                         f"| {cv} | {cn} | {ratio} | – | {r.get('goal', '')} | {met} |")
        return "\n".join(lines), summary

    def report(self, started):
        table, summary = self.table()
        a = self.args
        head = (f"vouch vs notary, {self.meta['date']} — {os.cpu_count()} cores, load average "
                f"{self.meta['loadavg_start']} at the start and {self.meta['loadavg_end']} at the "
                f"end; {'--quick, ' if a.quick else ''}{a.rounds} rounds of {a.seconds} s "
                f"(GET, wrk -t2 -c32, TLS), {a.publish_rounds} publishes per size; medians "
                f"[min..max] over the rounds.")
        md = [f"# Side-by-side benchmark\n\n{head}\n", table, ""]
        if self.meta.get("metadata_bytes_held"):
            md.append(f"Metadata held (current root, targets, snapshot and timestamp of the three "
                      f"repositories): {self.meta['metadata_bytes_held']:,} bytes. Response "
                      "bodies: " + "; ".join(f"{k}: {v:,} B"
                                             for k, v in self.meta.get("get_bytes", {}).items()) +
                      ".\n")
        md.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in self.meta["versions"].items())
                  + ".\n")
        if self.notes:
            md.append("Notes:\n" + "\n".join(f"- {n}" for n in self.notes) + "\n")
        for name, rc, text in self.external_md:
            md.append(f"## {name} (exit {rc})\n\n```\n{text.rstrip()}\n```\n")
        text = "\n".join(md)
        out_dir = Path(a.out_dir)
        if not out_dir.is_absolute():
            out_dir = ROOT / out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = started.strftime("%Y-%m-%d-%H%M%S") + ("-quick" if a.quick else "")
        (out_dir / f"{stem}.md").write_text(text)
        (out_dir / f"{stem}.json").write_text(json.dumps({
            "meta": self.meta, "options": {k: str(v) for k, v in vars(a).items()},
            "goals": summary, "measurements": self.raw,
            "external": [{"name": n, "exit": rc, "output": t} for n, rc, t in self.external_md],
            "external_rows": self.external_rows, "notes": self.notes}, indent=1,
            ensure_ascii=False) + "\n")
        print(text)
        log(f"written {out_dir / stem}.md and .json")

    def versions(self):
        def first_line(argv):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
                return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]
            return "?"
        git = first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"])
        return {"vouch": f"{git} ({self.build.name})",
                "notary-server": first_line(["notary-server", "-version"]),
                "nginx": first_line(["nginx", "-v"]), "wrk": first_line(["wrk", "-v"]),
                "kernel": platform.release()}

    def run(self):
        started = datetime.datetime.now()
        self.meta.update(date=started.isoformat(timespec="seconds"),
                         loadavg_start=" ".join(open("/proc/loadavg").read().split()[:3]),
                         cores=os.cpu_count())
        only = set(self.args.only.split(",")) if self.args.only else None
        want = lambda w: only is None or w in only
        try:
            self.check_tools()
            self.meta["versions"] = self.versions()
            self.make_tls()
            if any(want(w) for w in ("get", "publish", "memory")):
                self.start_vouch()
                self.start_notary()
                self.start_nginx()
                log("started " + ", ".join(
                    f"{i} (pid {s['proc'].pid}, port {s['port']})"
                    for i, s in self.servers.items()))
                self.memory("idle")
                self.populate()
                self.memory("loaded")
                if want("get"):
                    self.run_get()
                if want("publish"):
                    self.run_publish()
                self.procs.stop_all()
            if want("signer"):
                self.run_signer()
            if want("external"):
                self.run_external()
        finally:
            self.procs.stop_all()
        self.meta["loadavg_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
        self.report(started)

    def cleanup(self):
        self.procs.stop_all()
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build-release")
    ap.add_argument("--quick", action="store_true",
                    help="fewer and shorter rounds (a few minutes), for development")
    ap.add_argument("--rounds", type=int, help="rounds per GET and signer workload")
    ap.add_argument("--seconds", type=float, help="seconds per GET run (signer: half)")
    ap.add_argument("--publish-rounds", type=int, help="timed publishes per repository size")
    ap.add_argument("--only", help="comma-separated subset: get,publish,signer,external "
                                   "(memory is measured whenever the servers run)")
    ap.add_argument("--out-dir", default="bench/results")
    ap.add_argument("--notary-log-level", default="warn",
                    help="notary-server's logging.level (default warn: no per-request log line, "
                         "as vouch-server; info reproduces the earlier reports)")
    args = ap.parse_args()
    defaults = (2, 3, 3) if args.quick else (5, 8, 9)
    args.rounds = args.rounds or defaults[0]
    args.seconds = args.seconds or defaults[1]
    args.publish_rounds = args.publish_rounds or defaults[2]
    if args.seconds != int(args.seconds):
        ap.error("--seconds: whole seconds (wrk's -d)")
    args.seconds = int(args.seconds)

    # SIGTERM and SIGHUP unwind like Ctrl-C, so the daemons are stopped on the way out.
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    suite = Suite(args)
    try:
        suite.run()
    except (Fail, subprocess.CalledProcessError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        suite.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
