// vouch-core-demo: an end-to-end run of the core libraries, what `make run` starts until
// vouch-server lands (issue 4).
//
//   1. creates a Notary-style repository in a trust directory: an ECDSA root key with a
//      self-signed X.509 certificate (CN = GUN), targets and snapshot keys (ECDSA) and a
//      timestamp key (Ed25519), each stored passphrase-encrypted in private/<keyid>.key;
//   2. signs root, targets (with the given files as targets), snapshot and timestamp
//      metadata and writes them to tuf/<gun>/metadata/;
//   3. reopens the key store (unlocking keys with the passphrases again), re-reads the
//      metadata as untrusted input and verifies it as a client would;
//   4. verifies the repositories that the real Notary wrote (tests/data/notary), if given.
//
// Passphrases come from the environment (NOTARY_ROOT_PASSPHRASE, NOTARY_TARGETS_PASSPHRASE,
// NOTARY_SNAPSHOT_PASSPHRASE, or the VOUCH_* names) or, on a terminal, from a prompt.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/clock.h"
#include "keys/keystore.h"
#include "keys/local_signer.h"
#include "keys/passphrase.h"
#include "keys/root_certificate.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace fs = std::filesystem;
using namespace vouch;

namespace {

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error(Reason::kIo, "cannot read " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file(const fs::path& p, const std::string& data) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out.write(data.data(), static_cast<std::streamsize>(data.size()))) {
      return make_error(Reason::kIo, "cannot write " + tmp.string());
    }
  }
  fs::rename(tmp, p, ec);
  if (ec) return make_error(Reason::kIo, "cannot rename " + tmp.string() + ": " + ec.message());
  return {};
}

struct Repo {
  std::map<std::string, std::string> files;  // role -> bytes
};

Result<Repo> create_repository(const std::string& gun, keys::TrustDirKeyStore& store,
                               keys::PassphraseSource& passphrases,
                               const std::vector<fs::path>& target_files, TimePoint now) {
  using std::chrono::hours;
  keys::LocalSigner signer(store, passphrases);

  // Root: a key whose public form in root.json is a self-signed certificate for the GUN.
  VOUCH_ASSIGN_OR_RETURN(auto root_private, keys::PrivateKey::generate(keys::KeyType::kEcdsa));
  VOUCH_ASSIGN_OR_RETURN(auto cert, keys::make_root_certificate(root_private, gun, now,
                                                                now + hours(24 * 3650)));
  VOUCH_RETURN_IF_ERROR(store.add(root_private, "root", "", passphrases));
  VOUCH_ASSIGN_OR_RETURN(auto root_key,
                         keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(cert.pem())));
  VOUCH_ASSIGN_OR_RETURN(auto targets_key, signer.create_key(gun, "targets", keys::KeyType::kEcdsa));
  VOUCH_ASSIGN_OR_RETURN(auto snapshot_key,
                         signer.create_key(gun, "snapshot", keys::KeyType::kEcdsa));
  VOUCH_ASSIGN_OR_RETURN(auto timestamp_key,
                         signer.create_key(gun, "timestamp", keys::KeyType::kEd25519));
  std::printf("created keys: root %s (x509 id %s), targets %s, snapshot %s, timestamp %s\n",
              root_key.canonical_id().substr(0, 7).c_str(), root_key.id().substr(0, 7).c_str(),
              targets_key.id().substr(0, 7).c_str(), snapshot_key.id().substr(0, 7).c_str(),
              timestamp_key.id().substr(0, 7).c_str());

  tuf::Root root;
  root.expires = tuf::Expiry::at(now + hours(24 * 3650));
  for (const auto& k : {root_key, targets_key, snapshot_key, timestamp_key}) {
    root.keys.emplace(k.id(), k);
  }
  root.roles["root"] = {{root_key.id()}, 1};
  root.roles["targets"] = {{targets_key.id()}, 1};
  root.roles["snapshot"] = {{snapshot_key.id()}, 1};
  root.roles["timestamp"] = {{timestamp_key.id()}, 1};

  tuf::Targets targets;
  targets.expires = tuf::Expiry::at(now + hours(24 * 1095));
  for (const auto& f : target_files) {
    VOUCH_ASSIGN_OR_RETURN(std::string content, read_file(f));
    targets.targets[f.filename().string()] = tuf::FileMeta::of(as_bytes(content));
  }

  Repo repo;
  VOUCH_ASSIGN_OR_RETURN(repo.files["root"], tuf::sign_metadata(tuf::to_json(root), {{root_key}}, signer));
  VOUCH_ASSIGN_OR_RETURN(repo.files["targets"],
                         tuf::sign_metadata(tuf::to_json(targets), {{targets_key}}, signer));
  tuf::Snapshot snapshot;
  snapshot.expires = targets.expires;
  snapshot.meta["root"] = tuf::FileMeta::of(as_bytes(repo.files["root"]));
  snapshot.meta["targets"] = tuf::FileMeta::of(as_bytes(repo.files["targets"]));
  VOUCH_ASSIGN_OR_RETURN(repo.files["snapshot"],
                         tuf::sign_metadata(tuf::to_json(snapshot), {{snapshot_key}}, signer));
  tuf::Timestamp timestamp;
  timestamp.expires = tuf::Expiry::at(now + hours(24 * 14));
  timestamp.meta["snapshot"] = tuf::FileMeta::of(as_bytes(repo.files["snapshot"]));
  VOUCH_ASSIGN_OR_RETURN(repo.files["timestamp"],
                         tuf::sign_metadata(tuf::to_json(timestamp), {{timestamp_key}}, signer));
  return repo;
}

// Verifies a repository's current files in a client's order: root (self-signed, certificates
// for the GUN), timestamp -> snapshot -> targets -> delegations, hashes and expiry at `now`.
Status verify_repository(const std::string& gun, const fs::path& dir, TimePoint now,
                         bool quiet = false) {
  auto load = [&](const std::string& role) { return read_file(dir / (role + ".json")); };
  VOUCH_ASSIGN_OR_RETURN(std::string root_bytes, load("root"));
  VOUCH_ASSIGN_OR_RETURN(auto root, tuf::parse_root(root_bytes));
  VOUCH_RETURN_IF_ERROR(tuf::verify_root_self(root));
  VOUCH_RETURN_IF_ERROR(tuf::check_not_expired(root.content.expires, now, "root"));
  for (const auto& id : root.content.roles.at("root").keyids) {
    const auto* cert = root.content.keys.at(id).certificate();
    if (cert == nullptr) return make_error(Reason::kBadCertificate, "root key is not a certificate");
    VOUCH_RETURN_IF_ERROR(cert->check_root(gun, now));
  }
  const auto& keys = root.content.keys;
  VOUCH_ASSIGN_OR_RETURN(std::string ts_bytes, load("timestamp"));
  VOUCH_ASSIGN_OR_RETURN(auto ts, tuf::parse_timestamp(ts_bytes));
  VOUCH_RETURN_IF_ERROR(tuf::verify_signatures(ts, keys, root.content.roles.at("timestamp"), "timestamp"));
  VOUCH_RETURN_IF_ERROR(tuf::check_not_expired(ts.content.expires, now, "timestamp"));
  VOUCH_ASSIGN_OR_RETURN(std::string snap_bytes, load("snapshot"));
  VOUCH_RETURN_IF_ERROR(ts.content.meta.at("snapshot").check(as_bytes(snap_bytes)));
  VOUCH_ASSIGN_OR_RETURN(auto snap, tuf::parse_snapshot(snap_bytes));
  VOUCH_RETURN_IF_ERROR(tuf::verify_signatures(snap, keys, root.content.roles.at("snapshot"), "snapshot"));
  VOUCH_RETURN_IF_ERROR(tuf::check_not_expired(snap.content.expires, now, "snapshot"));
  VOUCH_ASSIGN_OR_RETURN(std::string targets_bytes, load("targets"));
  auto meta = snap.content.meta.find("targets");
  if (meta == snap.content.meta.end()) return make_error(Reason::kMalformed, "snapshot lacks targets");
  VOUCH_RETURN_IF_ERROR(meta->second.check(as_bytes(targets_bytes)));
  VOUCH_ASSIGN_OR_RETURN(auto targets, tuf::parse_targets(targets_bytes));
  VOUCH_RETURN_IF_ERROR(tuf::verify_signatures(targets, keys, root.content.roles.at("targets"), "targets"));
  VOUCH_RETURN_IF_ERROR(tuf::check_not_expired(targets.content.expires, now, "targets"));
  std::size_t count = targets.content.targets.size();
  for (const auto& d : targets.content.delegations.roles) {
    VOUCH_ASSIGN_OR_RETURN(std::string bytes, load(d.name));
    auto dm = snap.content.meta.find(d.name);
    if (dm == snap.content.meta.end()) return make_error(Reason::kMalformed, "snapshot lacks " + d.name);
    VOUCH_RETURN_IF_ERROR(dm->second.check(as_bytes(bytes)));
    VOUCH_ASSIGN_OR_RETURN(auto dt, tuf::parse_targets(bytes));
    VOUCH_RETURN_IF_ERROR(tuf::verify_signatures(dt, targets.content.delegations.keys,
                                                 tuf::RoleKeys{d.keyids, d.threshold}, d.name));
    for (const auto& [name, m] : dt.content.targets) {
      if (!tuf::path_allowed(d.paths, name)) {
        return make_error(Reason::kBadPath, d.name + " signs " + name + " outside its paths");
      }
    }
    count += dt.content.targets.size();
  }
  if (!quiet) {
    std::printf("verified %s: root v%lld, targets v%lld (%zu targets, %zu delegations), "
                "snapshot v%lld, timestamp v%lld\n",
                gun.c_str(), static_cast<long long>(root.content.version),
                static_cast<long long>(targets.content.version), count,
                targets.content.delegations.roles.size(),
                static_cast<long long>(snap.content.version),
                static_cast<long long>(ts.content.version));
  }
  return {};
}

int fail(const Error& e) {
  std::fprintf(stderr, "* fatal: %s\n", e.message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path trust_dir = ".vouch-demo";
  std::string gun = "localhost/vouch/demo";
  fs::path notary_data;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "-d" || a == "--trust-dir") && i + 1 < argc) trust_dir = argv[++i];
    else if (a == "--gun" && i + 1 < argc) gun = argv[++i];
    else if (a == "--notary-data" && i + 1 < argc) notary_data = argv[++i];
    else if (a == "-h" || a == "--help") {
      std::printf("usage: vouch-core-demo [-d TRUST_DIR] [--gun GUN] [--notary-data DIR] [FILE...]\n");
      return 0;
    } else files.emplace_back(a);
  }

  const TimePoint now = SystemClock::instance().now();
  auto store = keys::TrustDirKeyStore::open(trust_dir);
  if (!store) return fail(store.error());
  std::vector<std::unique_ptr<keys::PassphraseSource>> sources;
  sources.push_back(std::make_unique<keys::EnvPassphraseSource>());
  sources.push_back(std::make_unique<keys::PromptPassphraseSource>());
  keys::ChainPassphraseSource passphrases(std::move(sources));

  auto repo = create_repository(gun, *store, passphrases, files, now);
  if (!repo) return fail(repo.error());
  const fs::path meta_dir = trust_dir / "tuf" / gun / "metadata";
  for (const auto& [role, bytes] : repo->files) {
    if (auto st = write_file(meta_dir / (role + ".json"), bytes); !st) return fail(st.error());
  }
  std::printf("signed and wrote %s\n", meta_dir.c_str());

  // Unlock every key again from disk: proves the encrypted key files round-trip.
  auto listing = store->list();
  if (!listing) return fail(listing.error());
  for (const auto& k : listing->keys) {
    auto key = store->load(k.key_id, passphrases);
    if (!key) return fail(key.error());
  }
  std::printf("unlocked %zu encrypted keys in %s\n", listing->keys.size(),
              store->private_dir().c_str());

  if (auto st = verify_repository(gun, meta_dir, now); !st) return fail(st.error());

  if (!notary_data.empty()) {
    auto manifest_bytes = read_file(notary_data / "manifest.json");
    if (!manifest_bytes) return fail(manifest_bytes.error());
    auto manifest = tuf::json::parse(*manifest_bytes);
    if (!manifest) return fail(manifest.error());
    auto at = parse_rfc3339(manifest->find("generated_at")->as_string());
    if (!at) return fail(at.error());
    for (const auto& r : manifest->find("repositories")->as_array()) {
      const std::string& rgun = r.find("gun")->as_string();
      const fs::path dir = notary_data / r.find("dir")->as_string() / "server" / "current";
      if (auto st = verify_repository(rgun, dir, *at); !st) return fail(st.error().wrap(rgun));
    }
    std::printf("(Notary's repositories verified at their generation time, %s)\n",
                format_rfc3339(*at).c_str());
  }
  return 0;
}
