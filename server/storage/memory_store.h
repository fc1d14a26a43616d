#pragma once

// MemoryStore: a MetaStore kept in process memory, for tests and development (Notary's
// MemStorage, without its bugs). Nothing survives the process. Implements the contract of
// meta_store.h exactly and passes the same conformance suite as RocksDbStore.
//
// Thread-safety: one reader-writer lock guards everything; reads run in parallel, writes one
// at a time (which also serializes writers per GUN, as the contract requires). Stored bytes
// are shared, not copied: StoredFile::bytes points at the NewFile::bytes that was stored.
// Change ids are dense (1, 2, 3, ...) because a write cannot fail once it has started.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "server/storage/meta_store.h"

namespace vouch::server {

class MemoryStore final : public MetaStore {
 public:
  // `clock` stamps StoredFile::created and Change::created; it must outlive the store.
  explicit MemoryStore(const Clock& clock = SystemClock::instance());

  Status update_many(std::string_view gun, std::span<const NewFile> files) override;
  Result<StoredFile> get_current(std::string_view gun, std::string_view role) override;
  Result<StoredFile> get_version(std::string_view gun, std::string_view role,
                                 std::int64_t version) override;
  Result<StoredFile> get_checksum(std::string_view gun, std::string_view role,
                                  std::string_view sha256_hex) override;
  Result<std::vector<RoleVersion>> list_roles(std::string_view gun) override;
  Status delete_gun(std::string_view gun) override;
  Result<std::vector<Change>> get_changes(std::string_view change_id, int records,
                                          std::string_view filter_gun) override;
  Status check_health() override;

 private:
  struct Version {
    std::string sha256_hex;
    TimePoint created;
    std::shared_ptr<const std::string> bytes;
  };
  struct Role {
    std::map<std::int64_t, Version> versions;                      // never empty once created
    std::map<std::string, std::int64_t, std::less<>> by_checksum;  // highest version wins
  };
  using Roles = std::map<std::string, Role, std::less<>>;

  // The role, or nullptr. Caller holds mu_ (either mode).
  const Role* find_role(std::string_view gun, std::string_view role) const;
  static StoredFile to_stored(std::string_view gun, std::string_view role, std::int64_t version,
                              const Version& v);

  const Clock& clock_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Roles, std::less<>> guns_;
  std::vector<Change> changes_;  // changes_[i].id == i + 1
  // Per-GUN changefeed index: positions in changes_, increasing.
  std::map<std::string, std::vector<std::size_t>, std::less<>> changes_by_gun_;
};

}  // namespace vouch::server
