#!/usr/bin/env python3
"""bench_tokens: login/token throughput of vouch-server's own token service, side by side with
the external-token setup (issue 14).

    bench/bench_tokens.py [--quick] [--rounds N] [--seconds S] [BUILD_DIR]

BUILD_DIR (default build-release, as `make bench`) holds vouch-server and bench_token_issuer.
`make bench` runs it through bench/bench_tokens.sh (a hook of bench/suite.py).

Setups, all over TLS on loopback ports it picks, each with the repository bench/app published
by the real notary CLI (so every setup serves the same kind of metadata):
  (a) built-in   vouch-server, auth.type "accounts": /auth/token beside Notary's API; user
                 "bench" (a plain user, admin of its namespace bench/*), service account
                 "bench/ci" with read on bench/app and an API token; Argon2id at the default
                 cost (19 MiB, 2 passes), as a real deployment;
  (b) external   bench_token_issuer (the same token service and accounts rules in a process of
                 its own, signing with a key whose self-signed certificate is the servers'
                 rootcertbundle), and vouch-server with auth.type "token" trusting it;
  (c) external   the real notary-server 0.7 with the same token setup (if installed).

Workloads (wrk: 1 thread, 8 connections, keep-alive; alternating between setups every round):
  token: password       GET /auth/token?service=..&scope=repository:bench/app:pull with
                        Basic bench:<password> (one Argon2id check per request)
  token: API token      the same with Basic bench/ci:<API token> (one SHA-256 + compare)
  token: refresh grant  POST /auth/token grant_type=refresh_token (docker login's flow)
  GET with a token      GET /v2/bench/app/_trust/tuf/root.json with a bearer token fetched just
                        before the run (the server verifies the ES256 token, then serves)
For each: requests/s, p50 and p99 latency, and the CPU the answering process spent per request
(utime+stime of all its threads over the run / requests; for token requests the token issuer:
vouch-server in (a), bench_token_issuer in (b)). Ratios are built-in / external of the medians
(> 1: the built-in setup does more per second; for CPU < 1 is cheaper).

Output: a Markdown table on stdout; with VOUCH_BENCH_JSON set, the rows for bench/suite.py's
table ("vouch" = built-in, "notary" = external). Nothing asserts a timing: the machine is
shared and noisy. It stops only the processes it started and removes its temporary directory.
"""

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import types
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True  # importing suite must leave no __pycache__ in the tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # noqa: E402  (bench/suite.py: processes, TLS, HTTPS client, wrk report)
from suite import Fail, Https, Processes, cpu_seconds, free_port, log, wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GUN = "bench/app"
ISSUER = "bench-issuer"


def basic(user, secret):
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = Path(args.build_dir).resolve()
        self.work = Path(tempfile.mkdtemp(prefix="vouch-bench-tokens."))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.procs = Processes(self.logs)
        self.password = secrets.token_urlsafe(18)  # throwaway; never printed
        self.setups = {}  # name -> {"port", "proc", "service", "issuer_port", "issuer_proc"}
        self.results = {}  # (workload, setup) -> [measurements]

    # --- fixtures
    def make_keys(self):
        tls = types.SimpleNamespace(work=self.work)
        suite.Suite.make_tls(tls)
        self.ca, self.cert, self.key = tls.ca, tls.cert, tls.key
        q = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
        t = self.work / "tls"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", t / "issuer.key"], **q)
        subprocess.run(["openssl", "req", "-x509", "-key", t / "issuer.key", "-sha256", "-days",
                        "2", "-subj", f"/CN={ISSUER}", "-out", t / "issuer.pem"], **q)
        subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", t / "issuer.key",
                        "-outform", "DER", "-out", t / "issuer.der"], **q)
        self.issuer_cert, self.issuer_der = t / "issuer.pem", t / "issuer.der"

    def started_port(self, name, proc, out):
        port = []

        def ready():
            for line in out.read_text().splitlines():
                if "listening on " in line:
                    port.append(int(line.rsplit(":", 1)[1].split()[0]))
                    return True
            return False
        wait_for(ready, name, proc, self.procs, name)
        return port[0]

    def start_vouch(self, name, config):
        env = dict(os.environ, VOUCH_SERVER_KEY_PASSPHRASE=secrets.token_hex(16),
                   VOUCH_BOOTSTRAP_ADMIN=f"root:{self.password}")
        port = free_port()
        conf = self.work / f"{name}.json"
        conf.write_text(json.dumps(config(port)))
        out = self.logs / f"{name}.out"
        p = self.procs.start(name, [
            self.build / "server" / "vouch-server", "--http-addr", f"127.0.0.1:{port}",
            "--tls-cert", self.cert, "--tls-key", self.key, "--storage", "rocksdb",
            "--db-path", self.work / f"{name}-db", "--config", conf, "--log-level", "warn"],
            env=env, stdout_file=out)
        self.started_port(name, p, out)
        return {"port": port, "proc": p}

    def start_issuer(self):
        out = self.logs / "issuer.out"
        env = dict(os.environ, BENCH_USER_PASSWORD=self.password)
        p = self.procs.start("issuer", [self.build / "bench" / "bench_token_issuer", self.cert,
                                        self.key, self.issuer_der, self.work], env=env,
                             stdout_file=out)
        port = self.started_port("issuer", p, out)
        self.issuer = {"port": port, "proc": p,
                       "ci_token": (self.work / "ci-token").read_text()}

    def external_auth(self):
        return {"type": "token", "options": {
            "realm": f"https://127.0.0.1:{self.issuer['port']}/auth/token",
            "service": ISSUER, "issuer": ISSUER, "rootcertbundle": str(self.issuer_cert)}}

    def start_notary(self):
        if shutil.which("notary-server") is None:
            log("notary-server not installed: setup (c) skipped")
            return None
        port = free_port()
        conf = self.work / "notary-server.json"
        conf.write_text(json.dumps({
            "server": {"http_addr": f"127.0.0.1:{port}", "tls_cert_file": str(self.cert),
                       "tls_key_file": str(self.key)},
            "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
            "storage": {"backend": "memory"}, "logging": {"level": "warn"},
            "auth": self.external_auth()}))
        p = self.procs.start("notary-server", ["notary-server", "-config", conf, "-logf",
                                               "logfmt"])
        wait_for(lambda: self.status(port, "GET", "/_notary_server/health") == 200,
                 "notary-server", p, self.procs, "notary-server")
        return {"port": port, "proc": p}

    def request(self, port, method, path, body=None, headers=None):
        c = Https(port, self.ca)
        try:
            return c.request(method, path, body=body, headers=headers)
        finally:
            c.close()

    def status(self, port, method, path):
        return self.request(port, method, path)[0]

    def admin(self, port, method, path, body):
        status, text = self.request(port, method, "/api/v1" + path, json.dumps(body).encode(),
                                    {"Authorization": basic("root", self.password),
                                     "Content-Type": "application/json"})
        if status not in (200, 201):
            raise Fail(f"admin API {method} {path}: {status} {text[:200]!r}")
        return json.loads(text) if text else {}

    def setup(self):
        self.make_keys()
        self.start_issuer()
        built_in = self.start_vouch("vouch-accounts", lambda port: {
            "auth": {"type": "accounts",
                     "options": {"realm": f"https://127.0.0.1:{port}/auth/token"}}})
        p = built_in["port"]
        self.admin(p, "POST", "/users", {"name": "bench", "password": self.password})
        self.admin(p, "POST", "/service-accounts", {"owner": "bench", "name": "ci"})
        self.admin(p, "PUT", "/grants", {"target": GUN, "grantee_kind": "service_account",
                                         "grantee": "bench/ci", "permission": "read"})
        built_in["ci_token"] = self.admin(p, "POST", "/tokens",
                                          {"owner": "bench/ci", "label": "bench"})["token"]
        built_in.update(service="vouch-server", token_port=p, token_proc=built_in["proc"])
        self.setups["built-in"] = built_in

        ext = self.start_vouch("vouch-token", lambda port: {"auth": self.external_auth()})
        ext.update(service=ISSUER, token_port=self.issuer["port"],
                   token_proc=self.issuer["proc"], ci_token=self.issuer["ci_token"])
        self.setups["external"] = ext
        notary = self.start_notary()
        if notary is not None:
            notary.update(service=ISSUER, token_port=self.issuer["port"],
                          token_proc=self.issuer["proc"], ci_token=self.issuer["ci_token"])
            self.setups["notary"] = notary

        env = dict(os.environ, NOTARY_AUTH=base64.b64encode(
            f"bench:{self.password}".encode()).decode())
        for var in ("ROOT", "TARGETS", "SNAPSHOT"):
            env[f"NOTARY_{var}_PASSPHRASE"] = secrets.token_hex(12)
        for name, s in self.setups.items():
            log(f"publishing {GUN} on {name} with the notary CLI")
            r = subprocess.run(["notary", "-d", self.work / f"trust-{name}", "-s",
                                f"https://127.0.0.1:{s['port']}", "--tlscacert", self.ca,
                                "init", GUN, "-p"], env=env, capture_output=True, text=True,
                               timeout=300, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                raise Fail(f"notary init on {name}: {r.stdout}{r.stderr}")
            s["refresh_token"] = self.token(s, basic("bench", self.password), offline=True,
                                            key="refresh_token")

    def token(self, s, authorization, offline=False, key="token"):
        query = {"service": s["service"], "scope": f"repository:{GUN}:pull"}
        if offline:
            query.update(offline_token="true", client_id="bench")
        status, body = self.request(s["token_port"], "GET",
                                    "/auth/token?" + urllib.parse.urlencode(query),
                                    headers={"Authorization": authorization})
        if status != 200:
            raise Fail(f"token from {s['service']}: {status} {body[:200]!r}")
        return json.loads(body)[key]

    # --- workloads
    def wrk(self, port, path, seconds, proc, method="GET", headers=None, body=None):
        script = self.work / "wrk.lua"
        lines = [f"wrk.method = {json.dumps(method)}"]
        if body is not None:
            lines.append(f"wrk.body = {json.dumps(body)}")
        for k, v in (headers or {}).items():
            lines.append(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}")
        script.write_text("\n".join(lines) + "\n" +
                          (ROOT / "bench" / "wrk_report.lua").read_text())
        pids = suite.process_tree(proc.pid)
        cpu0 = cpu_seconds(pids)
        r = subprocess.run(["wrk", "-t1", "-c8", f"-d{seconds}s", "--latency", "-s", script,
                            f"https://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                           timeout=seconds + 120)
        cpu1 = cpu_seconds(pids)
        script.unlink()
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
        if r.returncode != 0 or line is None:
            raise Fail(f"wrk {path}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        w = json.loads(line[len("WRK_JSON "):])
        n = w["requests"]
        errors = sum(w["errors"].values())
        if errors:
            raise Fail(f"wrk {path}: {errors} errors of {n} ({w['errors']})")
        return {"rps": n / (w["duration_us"] / 1e6), "p50_ms": w["latency_us"]["p50"] / 1000,
                "p99_ms": w["latency_us"]["p99"] / 1000,
                "cpu_ms": (cpu1 - cpu0) * 1e3 / n if n else float("nan"), "requests": n}

    def workloads(self, s):
        query = urllib.parse.urlencode({"service": s["service"],
                                        "scope": f"repository:{GUN}:pull"})
        form = urllib.parse.urlencode({"grant_type": "refresh_token",
                                       "refresh_token": s["refresh_token"],
                                       "service": s["service"], "client_id": "bench",
                                       "scope": f"repository:{GUN}:pull"})
        tp, proc = s["token_port"], s["token_proc"]
        return [
            ("token: password (Argon2id)", lambda sec: self.wrk(
                tp, "/auth/token?" + query, sec, proc,
                headers={"Authorization": basic("bench", self.password)})),
            ("token: service account API token", lambda sec: self.wrk(
                tp, "/auth/token?" + query, sec, proc,
                headers={"Authorization": basic("bench/ci", s["ci_token"])})),
            ("token: refresh grant (POST)", lambda sec: self.wrk(
                tp, "/auth/token", sec, proc, method="POST", body=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"})),
            ("GET root.json with a token", lambda sec: self.wrk(
                s["port"], f"/v2/{GUN}/_trust/tuf/root.json", sec, s["proc"],
                headers={"Authorization": "Bearer " + self.token(
                    s, basic("bench/ci", s["ci_token"]))})),
        ]

    def run(self):
        self.setup()
        names = list(self.setups)
        plan = {name: self.workloads(self.setups[name]) for name in names}
        labels = [label for label, _ in plan[names[0]]]
        log("warm-up (1 s each, not recorded)")
        for name in names:
            for label, fn in plan[name]:
                if name == "notary" and label.startswith("token:"):
                    continue  # the same issuer as "external"
                fn(1)
        for rnd in range(self.args.rounds):
            order = names if rnd % 2 == 0 else list(reversed(names))
            log(f"round {rnd + 1}/{self.args.rounds}")
            for i, label in enumerate(labels):
                for name in order:
                    if name == "notary" and label.startswith("token:"):
                        continue
                    m = plan[name][i][1](self.args.seconds)
                    self.results.setdefault((label, name), []).append(m)
        return labels

    # --- report
    def med(self, label, name, key):
        ms = self.results.get((label, name))
        return statistics.median(m[key] for m in ms) if ms else None

    def report(self, labels):
        names = [n for n in ("built-in", "external", "notary") if n in self.setups]
        head = {"built-in": "built-in (vouch-server accounts)",
                "external": "external issuer + vouch-server (token)",
                "notary": "external issuer + notary-server (token)"}
        print(f"### Login/token throughput, built-in token service vs external issuer "
              f"({self.args.rounds} rounds of {self.args.seconds} s, medians; wrk -t1 -c8)\n")
        print("| workload | metric | " + " | ".join(head[n] for n in names) +
              " | built-in / external |")
        print("|---|---|" + "---|" * len(names) + "---|")
        rows = []
        for label in labels:
            for key, metric, fmt in (("rps", "requests/s", "{:.0f}"),
                                     ("p50_ms", "p50 ms", "{:.2f}"),
                                     ("p99_ms", "p99 ms", "{:.2f}"),
                                     ("cpu_ms", "CPU ms/request", "{:.3f}")):
                vals = {n: self.med(label, n, key) for n in names}
                cells = [fmt.format(vals[n]) if vals[n] is not None else "(same issuer)"
                         for n in names]
                b, e = vals.get("built-in"), vals.get("external")
                ratio = f"{b / e:.2f}" if b is not None and e else ""
                print(f"| {label} | {metric} | " + " | ".join(cells) + f" | {ratio} |")
                if key in ("rps", "cpu_ms"):
                    rows.append({"workload": f"{label} (built-in vs external issuer)",
                                 "metric": metric, "unit": "",
                                 "vouch": [m[key] for m in self.results[(label, "built-in")]],
                                 "notary": [m[key] for m in self.results[(label, "external")]],
                                 "goal": "", "met": None})
        pw = self.med(labels[0], "built-in", "cpu_ms")
        api = self.med(labels[1], "built-in", "cpu_ms")
        if pw and api:
            print(f"\nArgon2id (19 MiB, 2 passes) makes a password login cost {pw:.1f} ms of "
                  f"server CPU per token, a service account's API token {api:.3f} ms "
                  f"({pw / api:.0f}x less): CI should use API tokens, people log in once "
                  "(docker login / vouch login keep a refresh token).")
        out = os.environ.get("VOUCH_BENCH_JSON")
        if out:
            Path(out).write_text(json.dumps({"rows": rows}))

    def cleanup(self):
        self.procs.stop_all()
        shutil.rmtree(self.work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build_dir", nargs="?", default=str(ROOT / "build-release"))
    ap.add_argument("--quick", action="store_true", help="1 round of 2 s per workload")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--seconds", type=int)
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 5)

    # SIGTERM and SIGHUP unwind like Ctrl-C, so the daemons are stopped on the way out.
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    for tool in ("wrk", "notary", "openssl"):
        if shutil.which(tool) is None:
            print(f"bench_tokens: skipped ({tool} not installed)")
            return 0
    bench = Bench(args)
    try:
        labels = bench.run()
        bench.report(labels)
    except (Fail, subprocess.CalledProcessError) as e:
        print(f"bench_tokens: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        bench.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
