#!/usr/bin/env bash
# The deployment files in deploy/ (issue 16): what users install, checked as far as this machine
# can without a cluster.
#  - systemd: both unit templates, instantiated (binaries pointed at the build), pass
#    `systemd-analyze security --offline` with an exposure of at most 2.0 (threshold 20 on its 0-100 scale) (the hardening options
#    are in effect) and name no key systemd does not know;
#  - Kubernetes: every manifest parses; vouch-server and vouch-signer run at least 2 replicas;
#    their configs (in the ConfigMaps) select storage.backend "postgres", carry no password in
#    the dsn, verify the database's certificate (sslmode verify-full), and read the password
#    file and CA from a Secret that the Deployment mounts at that path.
#
#   deploy_files_test.sh <build directory>
set -euo pipefail
BUILD=$(cd "${1:?usage: $0 <build directory>}" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed"; exit 77; }
python3 -c 'import yaml' 2>/dev/null || { echo "SKIP: python3-yaml not installed"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-deploy-files.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "--- systemd units: hardening in effect, no unknown keys"
sed "s|/usr/bin/vouch-server|$BUILD/server/vouch-server|" "$ROOT/deploy/systemd/vouch-server@.service" \
  >"$WORK/vouch-server@1.service"
sed "s|/usr/bin/vouch-signer|$BUILD/signer/vouch-signer|" "$ROOT/deploy/systemd/vouch-signer@.service" \
  >"$WORK/vouch-signer@1.service"
for unit in vouch-server@1.service vouch-signer@1.service; do
  rc=0
  out=$(cd "$WORK" && systemd-analyze security --offline=yes --threshold=20 "$unit" 2>&1) || rc=$?
  [ "$rc" = 0 ] || fail "$unit: exposure above 2.0 or invalid: $(grep -i 'overall\|unknown\|error' <<<"$out")"
  if grep -qi "unknown" <<<"$out"; then fail "$unit: $(grep -i unknown <<<"$out")"; fi
done

echo "--- Kubernetes manifests: replicas and PostgreSQL connection settings"
python3 - "$ROOT/deploy/kubernetes" <<'PY'
import json, pathlib, sys, yaml
docs = []
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.yaml")):
    docs += [d for d in yaml.safe_load_all(f.read_text()) if d]
def find(kind, name):
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    sys.exit(f"FAIL: no {kind} {name}")
secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
for app, config_key in (("vouch-server", "server.json"), ("vouch-signer", "signer.json")):
    dep = find("Deployment", app)
    if dep["spec"]["replicas"] < 2:
        sys.exit(f"FAIL: {app}: fewer than 2 replicas")
    config = json.loads(find("ConfigMap", app + "-config")["data"][config_key])
    storage = config["storage"]
    if storage["backend"] != "postgres":
        sys.exit(f"FAIL: {app}: storage.backend is {storage['backend']}")
    pg = storage["postgres"]
    if "password" in pg["dsn"]:
        sys.exit(f"FAIL: {app}: the dsn holds a password")
    if pg.get("sslmode") != "verify-full":
        sys.exit(f"FAIL: {app}: sslmode is not verify-full")
    spec = dep["spec"]["template"]["spec"]
    container = spec["containers"][0]
    ctx = container["securityContext"]
    if ctx.get("readOnlyRootFilesystem") is not True or ctx.get("allowPrivilegeEscalation") is not False:
        sys.exit(f"FAIL: {app}: container not hardened")
    volumes = {v["name"]: v for v in spec["volumes"]}
    for path_key in ("password_file", "sslrootcert"):
        path = pg[path_key]
        mount = next((m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/")), None)
        if mount is None:
            sys.exit(f"FAIL: {app}: {path_key} {path} is not on a mounted volume")
        secret = volumes[mount["name"]].get("secret", {}).get("secretName")
        if secret not in secrets:
            sys.exit(f"FAIL: {app}: {path_key} is not read from a Secret of deploy/kubernetes")
        key = path[len(mount["mountPath"]) + 1:]
        if key not in find("Secret", secret)["stringData"]:
            sys.exit(f"FAIL: {app}: Secret {secret} has no key {key}")
print("manifests OK")
PY
echo "PASS"
