#include "server/storage/memory_store.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <utility>

#include "server/storage/store_util.h"

namespace vouch::server {

namespace {

Error not_found(std::string_view what) { return make_error(Reason::kNotFound, std::string(what)); }

// The positions [begin, end) of `count` changes (ids increasing with position, id_at(i) the id
// at position i) that a query selects.
template <typename IdAt>
std::pair<std::size_t, std::size_t> select_page(std::size_t count, IdAt id_at,
                                                const storage_internal::ChangeQuery& q) {
  // First position whose id is > bound (or >= bound), by binary search.
  auto first_above = [&](std::int64_t bound, bool inclusive) {
    std::size_t lo = 0, hi = count;
    while (lo < hi) {
      std::size_t mid = lo + (hi - lo) / 2;
      bool before = inclusive ? id_at(mid) < bound : id_at(mid) <= bound;
      if (before) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  };
  if (!q.reversed) {
    std::size_t begin = first_above(q.id, /*inclusive=*/false);
    return {begin, std::min(count, begin + q.limit)};
  }
  std::size_t end = q.id > 0 ? first_above(q.id, /*inclusive=*/true) : count;
  return {end - std::min(end, q.limit), end};
}

}  // namespace

MemoryStore::MemoryStore(const Clock& clock) : clock_(clock) {}

const MemoryStore::Role* MemoryStore::find_role(std::string_view gun, std::string_view role) const {
  auto g = guns_.find(gun);
  if (g == guns_.end()) return nullptr;
  auto r = g->second.find(role);
  return r == g->second.end() ? nullptr : &r->second;
}

StoredFile MemoryStore::to_stored(std::string_view gun, std::string_view role, std::int64_t version,
                                  const Version& v) {
  return StoredFile{std::string(gun), std::string(role), version, v.sha256_hex, v.created, v.bytes};
}

Status MemoryStore::update_many(std::string_view gun, std::span<const NewFile> files) {
  VOUCH_ASSIGN_OR_RETURN(auto batch, storage_internal::prepare_batch(gun, files));
  if (batch.empty()) return ok_status();

  std::unique_lock lock(mu_);
  // Check every role before changing anything: all or none.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const NewFile& f = *batch[i].file;
    if (i > 0 && batch[i - 1].file->role == f.role) continue;  // lowest version checked
    const Role* existing = find_role(gun, f.role);
    std::optional<std::int64_t> current;
    if (existing) current = existing->versions.rbegin()->first;
    VOUCH_RETURN_IF_ERROR(storage_internal::check_version(f.role, f.version, current));
  }

  const TimePoint now = clock_.now();
  auto g = guns_.find(gun);
  if (g == guns_.end()) g = guns_.emplace(std::string(gun), Roles{}).first;
  for (const storage_internal::PreparedFile& p : batch) {
    const NewFile& f = *p.file;
    Role& role = g->second[f.role];
    role.versions.emplace(f.version, Version{p.sha256_hex, now, f.bytes});
    // Sorted by version, so a later (higher) version with identical bytes takes the checksum.
    role.by_checksum.insert_or_assign(p.sha256_hex, f.version);
    if (f.role == storage_internal::kTimestampRole) {
      auto& index = changes_by_gun_[std::string(gun)];
      index.push_back(changes_.size());
      changes_.push_back(Change{static_cast<std::int64_t>(changes_.size()) + 1, now,
                                std::string(gun), f.version, p.sha256_hex,
                                Change::Category::kUpdate});
    }
  }
  return ok_status();
}

Result<StoredFile> MemoryStore::get_current(std::string_view gun, std::string_view role) {
  std::shared_lock lock(mu_);
  const Role* r = find_role(gun, role);
  if (!r) return not_found("no such role");
  const auto& [version, v] = *r->versions.rbegin();
  return to_stored(gun, role, version, v);
}

Result<StoredFile> MemoryStore::get_version(std::string_view gun, std::string_view role,
                                            std::int64_t version) {
  std::shared_lock lock(mu_);
  const Role* r = find_role(gun, role);
  if (!r) return not_found("no such role");
  auto it = r->versions.find(version);
  if (it == r->versions.end()) return not_found("no such version");
  return to_stored(gun, role, version, it->second);
}

Result<StoredFile> MemoryStore::get_checksum(std::string_view gun, std::string_view role,
                                             std::string_view sha256_hex) {
  std::shared_lock lock(mu_);
  const Role* r = find_role(gun, role);
  if (!r) return not_found("no such role");
  auto c = r->by_checksum.find(sha256_hex);
  if (c == r->by_checksum.end()) return not_found("no such checksum");
  return to_stored(gun, role, c->second, r->versions.at(c->second));
}

Result<std::vector<RoleVersion>> MemoryStore::list_roles(std::string_view gun) {
  std::shared_lock lock(mu_);
  std::vector<RoleVersion> out;
  auto g = guns_.find(gun);
  if (g == guns_.end()) return out;
  out.reserve(g->second.size());
  for (const auto& [name, role] : g->second) {
    const auto& [version, v] = *role.versions.rbegin();
    out.push_back(RoleVersion{name, version, v.sha256_hex, v.created});
  }
  return out;
}

Status MemoryStore::delete_gun(std::string_view gun) {
  VOUCH_RETURN_IF_ERROR(storage_internal::validate_gun(gun));
  std::unique_lock lock(mu_);
  auto g = guns_.find(gun);
  if (g == guns_.end()) return ok_status();  // nothing stored: no change record (Notary)
  guns_.erase(g);
  changes_by_gun_[std::string(gun)].push_back(changes_.size());
  Change deletion;
  deletion.id = static_cast<std::int64_t>(changes_.size()) + 1;
  deletion.created = clock_.now();
  deletion.gun = gun;
  deletion.category = Change::Category::kDeletion;
  changes_.push_back(std::move(deletion));
  return ok_status();
}

Result<std::vector<Change>> MemoryStore::get_changes(std::string_view change_id, int records,
                                                     std::string_view filter_gun) {
  VOUCH_ASSIGN_OR_RETURN(auto q, storage_internal::parse_change_query(change_id, records));
  std::shared_lock lock(mu_);
  std::vector<Change> out;
  if (filter_gun.empty()) {
    auto [begin, end] = select_page(
        changes_.size(), [&](std::size_t i) { return changes_[i].id; }, q);
    out.assign(changes_.begin() + static_cast<std::ptrdiff_t>(begin),
               changes_.begin() + static_cast<std::ptrdiff_t>(end));
    return out;
  }
  auto idx = changes_by_gun_.find(filter_gun);
  if (idx == changes_by_gun_.end()) return out;
  const std::vector<std::size_t>& positions = idx->second;
  auto [begin, end] = select_page(
      positions.size(), [&](std::size_t i) { return changes_[positions[i]].id; }, q);
  out.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) out.push_back(changes_[positions[i]]);
  return out;
}

Status MemoryStore::check_health() { return ok_status(); }

}  // namespace vouch::server
