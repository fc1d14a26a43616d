// bench_make_repo: signed Notary metadata for the side-by-side suite (bench/suite.py), made with
// vouch's own tuf/ code, so that vouch-server and notary-server can be given the same bytes
// over their ordinary publish API.
//
//   bench_make_repo --gun GUN --targets N --updates U --out DIR
//                   --server NAME=TIMESTAMP_KEY_JSON_FILE [--server ...]
//
// One set of client keys (an ecdsa-x509 root certificate with CN = GUN, ecdsa targets and
// snapshot keys; the snapshot key is held by the client, as the notary CLI does by default)
// signs:
//   DIR/targets-0.json          targets v1 with N targets (sha256 + sha512, as `notary add`)
//   DIR/targets-K.json          targets v(K+1): the same plus K more targets, K = 1..U
//   DIR/NAME/root.json          root v1 listing NAME's timestamp key (the key the server made,
//                               given as the TUF key JSON its GET .../timestamp.key answered)
//   DIR/NAME/snapshot-K.json    snapshot v(K+1) over NAME's root and targets-K.json
// The first publish is root + targets-0 + snapshot-0; update K is targets-K + snapshot-K, a
// one-target change. Every server gets byte-identical targets files; roots and snapshots differ
// only in the timestamp key each server holds. Nothing secret is written: the private keys live
// in this process only.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "tests/support/repo_simulator.h"
#include "tuf/json.h"

namespace fs = std::filesystem;
using namespace vouch;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_make_repo: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r.ok()) die(what + ": " + r.error().message);
  return std::move(r).value();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) die("cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) die("cannot write " + p.string());
}

// A TUF public key as a server's GET .../<role>.key answers it:
// {"keytype":"ecdsa","keyval":{"private":null,"public":"<base64>"}}.
keys::PublicKey parse_key(const std::string& text) {
  auto doc = must(tuf::json::parse(text), "timestamp key JSON");
  const auto* type = doc.is_object() ? doc.find("keytype") : nullptr;
  const auto* val = doc.is_object() ? doc.find("keyval") : nullptr;
  const auto* pub = val != nullptr && val->is_object() ? val->find("public") : nullptr;
  if (type == nullptr || !type->is_string() || pub == nullptr || !pub->is_string()) {
    die("timestamp key JSON: expected keytype and keyval.public");
  }
  const auto key_type = must(keys::parse_key_type(type->as_string()), "keytype");
  const Bytes der = must(base64_decode(pub->as_string()), "keyval.public");
  return must(keys::PublicKey::from_tuf(key_type, der), "timestamp key");
}

struct Server {
  std::string name;
  keys::PublicKey timestamp_key;
};

}  // namespace

int main(int argc, char** argv) {
  std::string gun, out;
  long targets = -1, updates = 0;
  std::vector<Server> servers;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die(a + " needs a value (see the comment at the top of the source)");
    const std::string v = argv[++i];
    if (a == "--gun") {
      gun = v;
    } else if (a == "--targets") {
      targets = std::stol(v);
    } else if (a == "--updates") {
      updates = std::stol(v);
    } else if (a == "--out") {
      out = v;
    } else if (a == "--server") {
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) die("--server NAME=KEYFILE");
      servers.push_back({v.substr(0, eq), parse_key(read_text(v.substr(eq + 1)))});
    } else {
      die("unknown option " + a);
    }
  }
  if (gun.empty() || out.empty() || targets < 0 || updates < 0 || servers.empty()) {
    die("usage: --gun GUN --targets N --updates U --out DIR --server NAME=KEYFILE...");
  }

  const TimePoint now = SystemClock::instance().now();
  testing::RepoSimulator sim(gun, now);
  fs::create_directories(out);

  // Target names and contents are synthetic; each entry has the shape `notary add` writes.
  auto add_target = [&](long i) {
    char name[48];
    std::snprintf(name, sizeof name, "bench/image-%06ld", i);
    sim.add_target(name, std::string("content of ") + name);
  };
  for (long i = 0; i < targets; ++i) add_target(i);

  std::vector<std::string> targets_files;
  for (long k = 0; k <= updates; ++k) {
    if (k > 0) add_target(targets + k - 1);
    sim.targets.version = k + 1;
    targets_files.push_back(sim.sign(tuf::to_json(sim.targets), {sim.targets_key}));
    write_text(fs::path(out) / ("targets-" + std::to_string(k) + ".json"), targets_files.back());
  }

  for (const Server& s : servers) {
    const fs::path dir = fs::path(out) / s.name;
    fs::create_directories(dir);
    tuf::Root root = sim.root;
    root.keys.erase(sim.timestamp_key.id());
    root.keys.emplace(s.timestamp_key.id(), s.timestamp_key);
    root.roles["timestamp"] = {{s.timestamp_key.id()}, 1};
    const std::string root_bytes = sim.sign(tuf::to_json(root), {sim.root_key});
    write_text(dir / "root.json", root_bytes);
    for (long k = 0; k <= updates; ++k) {
      tuf::Snapshot snap = sim.snapshot;
      snap.version = k + 1;
      snap.meta.clear();
      snap.meta["root"] = tuf::FileMeta::of(as_bytes(root_bytes));
      snap.meta["targets"] =
          tuf::FileMeta::of(as_bytes(targets_files[static_cast<std::size_t>(k)]));
      write_text(dir / ("snapshot-" + std::to_string(k) + ".json"),
                 sim.sign(tuf::to_json(snap), {sim.snapshot_key}));
    }
  }
  return 0;
}
