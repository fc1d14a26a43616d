#pragma once

// Helpers shared by the MetaStore backends (not part of the interface): input validation,
// batch preparation and changefeed query parsing, so that every backend applies the contract
// in meta_store.h identically. Internal to server/storage/.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/storage/meta_store.h"

namespace vouch::server::storage_internal {

inline constexpr std::string_view kTimestampRole = "timestamp";

// kBadGun / kBadRole unless 1 <= size <= kMaxNameBytes.
Status validate_gun(std::string_view gun);
Status validate_role(std::string_view role);

// Whether a name could have been stored (lookups with other names find nothing).
inline bool is_storable_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameBytes;
}

// True iff `s` is 64 lowercase hex characters.
bool is_sha256_hex(std::string_view s);

// A validated file of a batch with its checksum.
struct PreparedFile {
  const NewFile* file = nullptr;  // points into the caller's span
  std::string sha256_hex;
};

// Validates a batch (names, versions, bytes, sizes; no (role, version) twice) and hashes every
// file. The result is sorted by (role, version), so each role's files are adjacent with the
// lowest version first and the current-to-be last.
Result<std::vector<PreparedFile>> prepare_batch(std::string_view gun,
                                                std::span<const NewFile> files);

// The version check of update_many for the lowest version of a role in a batch against the
// role's current version (nullopt: role not stored). kConflict if equal, kRollback if lower.
Status check_version(std::string_view role, std::int64_t lowest_new,
                     std::optional<std::int64_t> current);

// A parsed get_changes request.
struct ChangeQuery {
  std::int64_t id = 0;    // the change_id, excluded from the result
  std::size_t limit = 0;  // 1..kMaxChangesPage
  bool reversed = false;  // the page before `id` (or the newest page if id <= 0)
};
Result<ChangeQuery> parse_change_query(std::string_view change_id, int records);

}  // namespace vouch::server::storage_internal
