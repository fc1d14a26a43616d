#pragma once

// An in-memory Notary-style repository for tests (python-tuf's RepositorySimulator, in the
// Notary dialect): real keys (an X.509 root certificate with CN = GUN), real signatures, and
// helpers to modify a role and re-sign it in one line, so negative tests stay short.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tests/support/memory_signer.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace vouch::testing {

class RepoSimulator {
 public:
  // Creates root/targets/snapshot/timestamp keys and version-1 metadata for `gun`, valid from
  // `now` (root 10 years, others 3 years, timestamp 14 days).
  explicit RepoSimulator(std::string gun = "example.com/vouch/test",
                         TimePoint now = TimePoint(std::chrono::sys_days(
                                             std::chrono::year{2026} / 11 / 28)
                                             .time_since_epoch()))
      : gun_(std::move(gun)), now_(now) {
    root.version = 1;
    root.expires = tuf::Expiry::at(now_ + std::chrono::hours(24 * 3650));
    for (const auto& k : {root_key, targets_key, snapshot_key, timestamp_key}) {
      root.keys.emplace(k.id(), k);
    }
    root.roles["root"] = {{root_key.id()}, 1};
    root.roles["targets"] = {{targets_key.id()}, 1};
    root.roles["snapshot"] = {{snapshot_key.id()}, 1};
    root.roles["timestamp"] = {{timestamp_key.id()}, 1};

    targets.version = 1;
    targets.expires = tuf::Expiry::at(now_ + std::chrono::hours(24 * 1095));
    snapshot.version = 1;
    snapshot.expires = targets.expires;
    timestamp.version = 1;
    timestamp.expires = tuf::Expiry::at(now_ + std::chrono::hours(24 * 14));
    publish();
  }

  const std::string& gun() const { return gun_; }
  TimePoint now() const { return now_; }

  // Makes `key` (e.g. the one a server holds) the only timestamp key the root lists, in place
  // of the simulator's own (not yet published).
  void use_timestamp_key(const keys::PublicKey& key) {
    root.keys.erase(timestamp_key.id());
    root.keys.emplace(key.id(), key);
    root.roles["timestamp"] = {{key.id()}, 1};
  }

  // Adds a target to the top-level targets role (not yet published).
  void add_target(const std::string& name, std::string_view content) {
    targets.targets[name] = tuf::FileMeta::of(as_bytes(content));
  }

  // Adds a delegation `name` with a fresh key of `type` to its parent (targets or a
  // delegation) and creates empty metadata for it.
  keys::PublicKey add_delegation(const std::string& name, std::vector<std::string> paths,
                                 keys::KeyType type = keys::KeyType::kEcdsa) {
    auto key = signer.create_key(gun_, name, type).value();
    delegate_to(name, {key}, std::move(paths));
    return key;
  }

  // Adds a delegation `name` to `keys` (threshold 1) to its parent and creates empty metadata
  // for it.
  void delegate_to(const std::string& name, const std::vector<keys::PublicKey>& keys,
                   std::vector<std::string> paths = {""}) {
    tuf::Targets& parent = role_of(std::string(tuf::parent_role(name)));
    tuf::DelegatedRole role{name, {}, 1, std::move(paths)};
    for (const auto& k : keys) {
      parent.delegations.keys.emplace(k.id(), k);
      role.keyids.push_back(k.id());
    }
    parent.delegations.roles.push_back(std::move(role));
    tuf::Targets d;
    d.expires = targets.expires;
    delegated[name] = std::move(d);
  }

  tuf::Targets& role_of(const std::string& name) {
    return name == "targets" ? targets : delegated.at(name);
  }

  // Signs every role with the keys its parent lists, and regenerates snapshot and timestamp
  // from the signed bytes.
  void publish() {
    files["root"] = sign(tuf::to_json(root), {root_key});
    files["targets"] = sign(tuf::to_json(targets), keys_for("targets"));
    for (const auto& [name, d] : delegated) files[name] = sign(tuf::to_json(d), keys_for(name));
    seal();
  }

  // Signs snapshot and timestamp (at their current versions) over the current files.
  void seal() {
    snapshot.meta.clear();
    for (const auto& [name, bytes] : files) {
      if (name != "snapshot" && name != "timestamp") {
        snapshot.meta[name] = tuf::FileMeta::of(as_bytes(bytes));
      }
    }
    files["snapshot"] = sign(tuf::to_json(snapshot), {snapshot_key});
    timestamp.meta.clear();
    timestamp.meta["snapshot"] = tuf::FileMeta::of(as_bytes(files["snapshot"]));
    files["timestamp"] = sign(tuf::to_json(timestamp), {timestamp_key});
  }

  // Re-signs `role`'s current content after `edit` changed its "signed" JSON (which may make
  // it invalid on purpose), without touching any other file.
  void modify_and_resign(const std::string& role, const std::function<void(tuf::json::Object&)>& edit) {
    auto doc = tuf::json::parse(files.at(role)).value();
    tuf::json::Value signed_value = *doc.find("signed");
    edit(signed_value.as_object());
    files[role] = sign(signed_value, keys_for(role));
  }

  std::vector<keys::PublicKey> keys_for(const std::string& role) {
    if (role == "root") return {root_key};
    if (role == "targets") return {targets_key};
    if (role == "snapshot") return {snapshot_key};
    if (role == "timestamp") return {timestamp_key};
    const auto& parent = role_of(std::string(tuf::parent_role(role)));
    std::vector<keys::PublicKey> out;
    for (const auto& id : parent.delegations.find(role)->keyids) {
      out.push_back(parent.delegations.keys.at(id));
    }
    return out;
  }

  std::string sign(const tuf::json::Value& signed_value, const std::vector<keys::PublicKey>& ks) {
    return tuf::sign_metadata(signed_value, ks, signer).value();
  }

  // Declared (and so initialized) before the keys below, which use them.
 private:
  std::string gun_;
  TimePoint now_;

 public:
  MemorySigner signer;
  keys::PublicKey root_key = make_root_key();
  keys::PublicKey targets_key = signer.create_key(gun_, "targets", keys::KeyType::kEcdsa).value();
  keys::PublicKey snapshot_key = signer.create_key(gun_, "snapshot", keys::KeyType::kEcdsa).value();
  keys::PublicKey timestamp_key =
      signer.create_key(gun_, "timestamp", keys::KeyType::kEd25519).value();
  tuf::Root root;
  tuf::Targets targets;
  tuf::Snapshot snapshot;
  tuf::Timestamp timestamp;
  std::map<std::string, tuf::Targets> delegated;
  // Role name -> current signed file bytes.
  std::map<std::string, std::string> files;

 private:
  // A self-signed root certificate with CN = GUN, as Notary makes root keys.
  keys::PublicKey make_root_key() {
    auto root_private = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
    auto cert = keys::make_root_certificate(root_private, gun_, now_ - std::chrono::hours(1),
                                            now_ + std::chrono::hours(24 * 3650))
                    .value();
    signer.add_key(std::move(root_private));
    return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(cert.pem())).value();
  }
};

}  // namespace vouch::testing
