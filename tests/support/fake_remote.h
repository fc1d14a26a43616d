#pragma once

// An in-process Notary server for client tests: client::Remote over the same validation
// code vouch-server runs (tuf::validate_update + complete_update), with every version of
// every role kept and addressable by version and checksum, and server-held keys in a
// MemorySigner. Header-only; link vouch_client. Not thread-safe.

#include <map>
#include <string>
#include <vector>

#include "client/repository.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "keys/crypto.h"
#include "tests/support/memory_signer.h"
#include "tuf/update_validator.h"

namespace vouch::testing {

class FakeRemote final : public client::Remote {
 public:
  FakeRemote(std::string gun, const Clock& clock) : gun_(std::move(gun)), clock_(clock) {}

  // ---- tuf::MetadataSource
  Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                            std::size_t max_length) override {
    ++fetches;
    if (unavailable) return make_error(Reason::kUnavailable, "fake server down");
    auto it = history_.find(role);
    if (it == history_.end() || it->second.empty()) {
      return make_error(Reason::kNotFound, std::string(role) + " not found");
    }
    const std::string* bytes = nullptr;
    if (!version) {
      bytes = &it->second.rbegin()->second;
    } else {
      auto v = it->second.find(*version);
      if (v == it->second.end()) return make_error(Reason::kNotFound, "no such version");
      bytes = &v->second;
    }
    if (bytes->size() > max_length) return make_error(Reason::kTooLarge, "too large");
    return *bytes;
  }

  Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                        std::size_t max_length) override {
    ++fetches;
    if (unavailable) return make_error(Reason::kUnavailable, "fake server down");
    auto it = history_.find(role);
    if (it != history_.end()) {
      for (const auto& [version, bytes] : it->second) {
        if (hex_encode(keys::sha256(as_bytes(bytes))) == sha256_hex) {
          if (bytes.size() > max_length) return make_error(Reason::kTooLarge, "too large");
          return bytes;
        }
      }
    }
    return make_error(Reason::kNotFound, "no such checksum");
  }

  // ---- client::Remote
  Status publish(std::span<const client::RolePart> parts) override {
    ++publishes;
    if (unavailable) return make_error(Reason::kUnavailable, "fake server down");
    if (conflicts_to_inject > 0) {
      --conflicts_to_inject;
      if (before_conflict) before_conflict();
      return make_error(Reason::kConflict, "VERSION: another publisher went first");
    }
    std::vector<tuf::UploadPart> upload;
    for (const auto& part : parts) {
      upload.push_back({part.role, std::make_shared<const std::string>(part.bytes)});
    }
    tuf::MemoryRepoState state;
    for (const auto& [role, versions] : history_) {
      if (versions.empty() || deleted_.contains(role)) continue;
      state.put(role, versions.rbegin()->first,
                std::make_shared<const std::string>(versions.rbegin()->second));
    }
    tuf::ValidationOptions options;
    options.gun = gun_;
    options.now = clock_.now();
    options.server_holds_key = [this](const keys::PublicKey& key) -> Result<bool> {
      return held_.contains(key.canonical_id());
    };
    auto validated = tuf::validate_update(state, upload, options);
    if (!validated.ok()) {
      last_error = validated.error();
      if (validated.error().error_class == tuf::UpdateErrorClass::kOldVersion) {
        return make_error(Reason::kConflict, validated.error().message);
      }
      return validated.error();
    }
    auto files = tuf::complete_update(*validated, signer, clock_.now());
    if (!files.ok()) return files.error();
    for (const auto& removed : validated->snapshot_changes.removed) deleted_.insert(removed);
    for (const auto& file : *files) {
      history_[file.role][file.version] = *file.bytes;
      deleted_.erase(file.role);
    }
    return {};
  }

  Result<keys::PublicKey> get_key(std::string_view role) override {
    auto it = current_keys_.find(role);
    if (it != current_keys_.end()) return it->second;
    return rotate_key(role);
  }

  Result<keys::PublicKey> rotate_key(std::string_view role) override {
    if (role != "timestamp" && role != "snapshot") {
      return make_error(Reason::kBadRole, "server keys are for timestamp and snapshot only");
    }
    VOUCH_ASSIGN_OR_RETURN(auto priv, keys::PrivateKey::generate(keys::KeyType::kEcdsa));
    keys::PublicKey pub = signer.add_key(std::move(priv));
    held_.insert(pub.canonical_id());
    current_keys_.insert_or_assign(std::string(role), pub);
    return pub;
  }

  Status delete_repository() override {
    history_.clear();
    deleted_.clear();
    return {};
  }

  // ---- test controls
  // The current bytes of `role`, or "" if none.
  std::string current(const std::string& role) const {
    auto it = history_.find(role);
    return it == history_.end() || it->second.empty() ? "" : it->second.rbegin()->second;
  }
  std::int64_t version_of(const std::string& role) const {
    auto it = history_.find(role);
    return it == history_.end() || it->second.empty() ? 0 : it->second.rbegin()->first;
  }
  // Stores a file directly, bypassing validation (attack tests).
  void put(const std::string& role, std::int64_t version, std::string bytes) {
    history_[role][version] = std::move(bytes);
  }

  MemorySigner signer;
  bool unavailable = false;
  int conflicts_to_inject = 0;
  std::function<void()> before_conflict;
  int publishes = 0;
  int fetches = 0;
  std::optional<Error> last_error;

 private:
  std::string gun_;
  const Clock& clock_;
  std::map<std::string, std::map<std::int64_t, std::string>, std::less<>> history_;
  std::set<std::string, std::less<>> deleted_;
  std::set<std::string, std::less<>> held_;
  std::map<std::string, keys::PublicKey, std::less<>> current_keys_;
};

}  // namespace vouch::testing
