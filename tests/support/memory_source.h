#pragma once

// In-memory MetadataSource and MetadataCache for tests (python-tuf's RepositorySimulator
// serving its files). MemorySource serves the current file of each role and every version it
// has seen, as a Notary server does ("<role>.json" and "<N>.<role>.json"); feed it a
// RepoSimulator's files after each publish. Everything ever put stays addressable by checksum
// ("<role>.<sha256>.json"), as on a Notary server. Header-only; link vouch_tuf. Not thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "keys/crypto.h"
#include "tuf/metadata.h"
#include "tuf/metadata_source.h"

namespace vouch::testing {

class MemorySource : public tuf::MetadataSource {
 public:
  // Serves `files` (role -> bytes, e.g. RepoSimulator::files) as the current files, and
  // records each under its version (read from the file) so that "<N>.<role>.json" works too.
  // Files that do not parse are served as current only.
  void publish(const std::map<std::string, std::string>& files) {
    for (const auto& [role, bytes] : files) put(role, bytes);
  }

  // Serves `bytes` as the current `role`, under its own version, and by its checksum.
  void put(const std::string& role, const std::string& bytes) {
    current[role] = bytes;
    by_checksum[role][keys::sha256_hex(as_bytes(bytes))] = bytes;
    if (auto h = tuf::parse_header(bytes)) versions[role][h->version] = bytes;
  }

  // Serves `bytes` as version `version` of `role` (e.g. a forged N.root.json) and by checksum.
  void put_version(const std::string& role, std::int64_t version, std::string bytes) {
    by_checksum[role][keys::sha256_hex(as_bytes(bytes))] = bytes;
    versions[role][version] = std::move(bytes);
  }

  Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                            std::size_t max_length) override {
    log.push_back(std::string(role) + (version ? "@" + std::to_string(*version) : ""));
    if (!tuf::is_valid_role_name(role)) {
      return make_error(Reason::kBadRole, "bad role name");
    }
    if (unavailable) return make_error(Reason::kUnavailable, "server unavailable");
    const std::string* found = nullptr;
    if (version) {
      auto r = versions.find(std::string(role));
      if (r != versions.end()) {
        auto v = r->second.find(*version);
        if (v != r->second.end()) found = &v->second;
      }
    } else if (auto c = current.find(std::string(role)); c != current.end()) {
      found = &c->second;
    }
    return serve(role, found, max_length);
  }

  Result<std::string> fetch_by_checksum(std::string_view role, std::string_view sha256_hex,
                                        std::size_t max_length) override {
    log.push_back(std::string(role) + "#");
    if (!tuf::is_valid_role_name(role)) return make_error(Reason::kBadRole, "bad role name");
    if (unavailable) return make_error(Reason::kUnavailable, "server unavailable");
    const std::string* found = nullptr;
    if (auto r = by_checksum.find(std::string(role)); r != by_checksum.end()) {
      if (auto c = r->second.find(std::string(sha256_hex)); c != r->second.end()) {
        found = &c->second;
      }
    }
    return serve(role, found, max_length);
  }

  // Number of fetches of `entry` in the log ("timestamp", "root@3", ...).
  std::size_t fetched(const std::string& entry) const {
    std::size_t n = 0;
    for (const auto& e : log) n += e == entry ? 1u : 0u;
    return n;
  }

  Result<std::string> serve(std::string_view role, const std::string* found,
                            std::size_t max_length) {
    if (auto t = tamper.find(std::string(role)); t != tamper.end()) found = &t->second;
    if (found == nullptr) return make_error(Reason::kNotFound, "not found");
    if (found->size() > max_length) {
      ++too_large;
      return make_error(Reason::kTooLarge, "body longer than " + std::to_string(max_length));
    }
    return *found;
  }

  std::map<std::string, std::string> current;
  // Role -> sha256 hex -> bytes, for every file ever put.
  std::map<std::string, std::map<std::string, std::string>> by_checksum;
  std::map<std::string, std::map<std::int64_t, std::string>> versions;
  // Role -> bytes served for every request of that role, however addressed (a man in the
  // middle, or a compromised server).
  std::map<std::string, std::string> tamper;
  // Every fetch, in order: "<role>" (current), "<role>@<version>", "<role>#" (by checksum).
  std::vector<std::string> log;
  // When true, every fetch fails with kUnavailable.
  bool unavailable = false;
  // Fetches refused with kTooLarge.
  std::size_t too_large = 0;
};

class MemoryCache : public tuf::MetadataCache {
 public:
  Result<std::string> load(std::string_view role, std::size_t max_length) override {
    auto it = files.find(std::string(role));
    if (it == files.end()) return make_error(Reason::kNotFound, "not cached");
    if (it->second.size() > max_length)
      return make_error(Reason::kTooLarge, "cached file too large");
    return it->second;
  }

  Status store(std::string_view role, std::string_view bytes) override {
    stored.push_back(std::string(role));
    if (fail_stores) return make_error(Reason::kIo, "disk full");
    files[std::string(role)] = std::string(bytes);
    return {};
  }

  std::map<std::string, std::string> files;
  // Every store, in order.
  std::vector<std::string> stored;
  bool fail_stores = false;
};

}  // namespace vouch::testing
