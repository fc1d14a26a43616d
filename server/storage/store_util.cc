#include "server/storage/store_util.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <tuple>

#include "common/encoding.h"
#include "keys/crypto.h"

namespace vouch::server::storage_internal {

Status validate_gun(std::string_view gun) {
  if (!is_storable_name(gun)) {
    return make_error(Reason::kBadGun, "GUN must be 1 to " + std::to_string(kMaxNameBytes) +
                                           " bytes, got " + std::to_string(gun.size()));
  }
  return ok_status();
}

Status validate_role(std::string_view role) {
  if (!is_storable_name(role)) {
    return make_error(Reason::kBadRole, "role name must be 1 to " + std::to_string(kMaxNameBytes) +
                                            " bytes, got " + std::to_string(role.size()));
  }
  return ok_status();
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Result<std::vector<PreparedFile>> prepare_batch(std::string_view gun,
                                                std::span<const NewFile> files) {
  VOUCH_RETURN_IF_ERROR(validate_gun(gun));
  std::vector<PreparedFile> out;
  out.reserve(files.size());
  for (const NewFile& f : files) {
    VOUCH_RETURN_IF_ERROR(validate_role(f.role));
    if (f.version < 0) {
      return make_error(Reason::kBadVersion,
                        f.role + ": negative version " + std::to_string(f.version));
    }
    if (!f.bytes) return make_error(Reason::kMalformed, f.role + ": no bytes");
    if (f.bytes->size() > kMaxFileBytes) {
      return make_error(Reason::kTooLarge,
                        f.role + ": file of " + std::to_string(f.bytes->size()) + " bytes");
    }
    out.push_back(PreparedFile{&f, {}});
  }
  std::sort(out.begin(), out.end(), [](const PreparedFile& a, const PreparedFile& b) {
    return std::tie(a.file->role, a.file->version) < std::tie(b.file->role, b.file->version);
  });
  for (std::size_t i = 1; i < out.size(); ++i) {
    if (out[i].file->role == out[i - 1].file->role &&
        out[i].file->version == out[i - 1].file->version) {
      return make_error(Reason::kConflict, out[i].file->role + ": version " +
                                               std::to_string(out[i].file->version) +
                                               " twice in one update");
    }
  }
  // Hashing happens only after the cheap checks, and before any lock is taken by the caller.
  for (PreparedFile& p : out) p.sha256_hex = keys::sha256_hex(as_bytes(*p.file->bytes));
  return out;
}

Status check_version(std::string_view role, std::int64_t lowest_new,
                     std::optional<std::int64_t> current) {
  if (!current || lowest_new > *current) return ok_status();
  // Notary's ErrOldVersion in both cases; the reason tells a lost race from a stale upload.
  std::string msg = std::string(role) + ": version " + std::to_string(lowest_new) +
                    " is not above the current version " + std::to_string(*current);
  return make_error(lowest_new == *current ? Reason::kConflict : Reason::kRollback, std::move(msg));
}

Result<ChangeQuery> parse_change_query(std::string_view change_id, int records) {
  ChangeQuery q;
  if (!change_id.empty()) {
    std::string_view digits = change_id;
    bool negative = false;
    if (digits.front() == '+' || digits.front() == '-') {
      negative = digits.front() == '-';
      digits.remove_prefix(1);
    }
    std::uint64_t magnitude = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude);
    // from_chars accepts no sign, no spaces and no "0x"; it must consume everything.
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        magnitude > static_cast<std::uint64_t>(INT64_MAX)) {
      return make_error(Reason::kMalformed, "change ID must be an integer");
    }
    q.id = negative ? -static_cast<std::int64_t>(magnitude) : static_cast<std::int64_t>(magnitude);
  }
  // Notary: a negative id means "from the newest", and so does a negative page size.
  q.reversed = q.id < 0 || records < 0;
  std::int64_t n = records == 0 ? kDefaultChangesPage : std::llabs(std::int64_t{records});
  q.limit = static_cast<std::size_t>(std::min<std::int64_t>(n, kMaxChangesPage));
  return q;
}

}  // namespace vouch::server::storage_internal
