#include "server/accounts/memory_account_store.h"

#include <optional>
#include <utility>

namespace vouch::server::accounts {
namespace {

std::size_t index(Table t) { return static_cast<std::size_t>(t); }

// The first key to look at for (prefix, start_after): the larger of the two bounds.
std::string_view lower_bound_key(std::string_view prefix, std::string_view start_after) {
  return start_after > prefix ? start_after : prefix;
}

bool in_range(std::string_view key, std::string_view prefix, std::string_view start_after) {
  return key.starts_with(prefix) && (start_after.empty() || key > start_after);
}

}  // namespace

class MemoryAccountStore::Reader final : public AccountReader {
 public:
  explicit Reader(const std::array<TableData, kTableCount>& tables) : tables_(tables) {}

  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    const TableData& t = tables_[index(table)];
    auto it = t.find(key);
    if (it == t.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<std::vector<Record>> scan(Table table, std::string_view prefix,
                                   std::string_view start_after, std::size_t limit) override {
    VOUCH_ASSIGN_OR_RETURN(std::size_t max, check_scan_limit(limit));
    const TableData& t = tables_[index(table)];
    std::vector<Record> out;
    for (auto it = t.lower_bound(lower_bound_key(prefix, start_after));
         it != t.end() && out.size() < max && it->first.starts_with(prefix); ++it) {
      if (in_range(it->first, prefix, start_after)) out.push_back({it->first, it->second});
    }
    return out;
  }

 private:
  const std::array<TableData, kTableCount>& tables_;
};

// Pending writes: key -> value, or nullopt for an erase. Reads merge them over the base.
class MemoryAccountStore::Writer final : public AccountWriter {
 public:
  using Pending = std::map<std::string, std::optional<std::string>, std::less<>>;

  explicit Writer(const std::array<TableData, kTableCount>& base) : base_(base) {}

  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    const Pending& p = pending_[index(table)];
    if (auto it = p.find(key); it != p.end()) return it->second;
    return Reader(base_).get(table, key);
  }

  Result<std::vector<Record>> scan(Table table, std::string_view prefix,
                                   std::string_view start_after, std::size_t limit) override {
    VOUCH_ASSIGN_OR_RETURN(std::size_t max, check_scan_limit(limit));
    const TableData& b = base_[index(table)];
    const Pending& p = pending_[index(table)];
    std::string_view from = lower_bound_key(prefix, start_after);
    auto bi = b.lower_bound(from);
    auto pi = p.lower_bound(from);
    std::vector<Record> out;
    while (out.size() < max) {
      bool b_ok = bi != b.end() && bi->first.starts_with(prefix);
      bool p_ok = pi != p.end() && pi->first.starts_with(prefix);
      if (!b_ok && !p_ok) break;
      // The smaller key next; on a tie the pending write shadows the base.
      if (p_ok && (!b_ok || pi->first <= bi->first)) {
        if (b_ok && pi->first == bi->first) ++bi;
        if (pi->second && in_range(pi->first, prefix, start_after)) {
          out.push_back({pi->first, *pi->second});
        }
        ++pi;
      } else {
        if (in_range(bi->first, prefix, start_after)) out.push_back({bi->first, bi->second});
        ++bi;
      }
    }
    return out;
  }

  Status put(Table table, std::string_view key, std::string_view value) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    VOUCH_RETURN_IF_ERROR(check_record_value(value));
    pending_[index(table)].insert_or_assign(std::string(key), std::string(value));
    return ok_status();
  }

  Status erase(Table table, std::string_view key) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    pending_[index(table)].insert_or_assign(std::string(key), std::nullopt);
    return ok_status();
  }

  std::array<Pending, kTableCount>& pending() { return pending_; }

 private:
  const std::array<TableData, kTableCount>& base_;
  std::array<Pending, kTableCount> pending_;
};

Status MemoryAccountStore::read(const std::function<Status(AccountReader&)>& fn) {
  std::shared_lock lock(data_mu_);
  Reader reader(tables_);
  return fn(reader);
}

Status MemoryAccountStore::write(const std::function<Status(AccountWriter&)>& fn) {
  std::lock_guard writer_lock(writer_mu_);
  // tables_ changes only below, under writer_mu_, so the writer reads it without data_mu_.
  Writer writer(tables_);
  VOUCH_RETURN_IF_ERROR(fn(writer));
  std::unique_lock lock(data_mu_);
  for (std::size_t t = 0; t < kTableCount; ++t) {
    for (auto& [key, value] : writer.pending()[t]) {
      if (value) {
        tables_[t].insert_or_assign(key, std::move(*value));
      } else {
        tables_[t].erase(key);
      }
    }
  }
  return ok_status();
}

}  // namespace vouch::server::accounts
