#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/fuzz_roster.cc (tests/fuzz/corpus/fuzz_roster/).

Keys come from the openssl command line (a third party to our code): a P-256 key, its
self-signed certificate and an Ed25519 key. Key IDs are computed here as Notary does: the
SHA-256 of the canonical JSON {"keytype":..,"keyval":{"private":null,"public":base64(..)}}.
Usage: make_fuzz_seeds.py <corpus dir>
"""
import base64, hashlib, json, os, subprocess, sys, tempfile

def run(*args):
    subprocess.run(args, check=True, capture_output=True)

def der_of_pem(pem):
    body = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
    return base64.b64decode(body)

def keyid(keytype, public_bytes):
    doc = {"keytype": keytype, "keyval": {"private": None, "public": base64.b64encode(public_bytes).decode()}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

def main(out):
    t = tempfile.mkdtemp()
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{t}/a.key")
    run("openssl", "ec", "-in", f"{t}/a.key", "-pubout", "-out", f"{t}/a.pub")
    run("openssl", "req", "-new", "-x509", "-key", f"{t}/a.key", "-subj", "/CN=alice", "-days", "3650", "-out", f"{t}/a.crt")
    run("openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{t}/b.key")
    run("openssl", "pkey", "-in", f"{t}/b.key", "-pubout", "-out", f"{t}/b.pub")
    a_pub, a_crt, b_pub = (open(f"{t}/{n}").read() for n in ("a.pub", "a.crt", "b.pub"))
    def entry(keytype, public_bytes):
        return {"keyid": keyid(keytype, public_bytes), "keytype": keytype,
                "public": base64.b64encode(public_bytes).decode()}
    a = entry("ecdsa", der_of_pem(a_pub))
    # Notary's certificate form: the canonical PEM (64 columns, "\n") is the public value.
    crt = entry("ecdsa-x509", a_crt.encode())
    b = entry("ed25519", der_of_pem(b_pub)[-32:])

    def roster(teams):
        return {"org": "acme", "generated_at": "2026-12-08T03:00:00Z", "teams": teams}
    seeds = {
        "valid": roster([
            {"name": "ops", "members": [{"name": "alice", "kind": "user", "keys": [a]}]},
            {"name": "ci", "members": [{"name": "acme/builder", "kind": "service_account", "keys": [b]},
                                       {"name": "alice", "kind": "user", "keys": [a]}]}]),
        "valid-certificate": roster([{"name": "ops", "members": [{"name": "carol", "kind": "user", "keys": [crt]}]}]),
        "valid-empty": roster([]),
        "key-under-two-members": roster([{"name": "ops", "members": [
            {"name": "alice", "kind": "user", "keys": [a]}, {"name": "bob", "kind": "user", "keys": [a]}]}]),
        "unknown-keytype": roster([{"name": "ops", "members": [
            {"name": "alice", "kind": "user", "keys": [dict(a, keytype="dsa")]}]}]),
        "unknown-field": dict(roster([]), extra=1),
    }
    os.makedirs(out, exist_ok=True)
    for name, doc in seeds.items():
        with open(os.path.join(out, name), "w") as f:
            json.dump(doc, f, indent=1)
    with open(os.path.join(out, "not-json"), "w") as f:
        f.write('{"org": "acme", "teams": [[[[[[[[[[')

if __name__ == "__main__":
    main(sys.argv[1])
