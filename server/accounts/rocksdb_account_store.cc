#include "server/accounts/rocksdb_account_store.h"

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <optional>
#include <string>
#include <utility>

#include "common/rocksdb_util.h"

namespace vouch::server::accounts {
namespace {

constexpr std::string_view kFormatKey("\0format", 7);
constexpr std::string_view kFormatValue = "vouch-accounts-1";

std::string db_key(Table table, std::string_view key) {
  std::string out;
  out.reserve(key.size() + 1);
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(table) + 1));
  out.append(key);
  return out;
}

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

// RocksDB Status -> Error (common/rocksdb_util.h). The message is for logs only.
Error from_rocksdb(const rocksdb::Status& s, std::string_view op) {
  return rocksdb_util::to_error(s, "accounts rocksdb " + std::string(op));
}

// Scans `it` (positioned by this function) over one table's records.
Result<std::vector<Record>> scan_iterator(rocksdb::Iterator& it, Table table,
                                          std::string_view prefix, std::string_view start_after,
                                          std::size_t limit) {
  VOUCH_ASSIGN_OR_RETURN(std::size_t max, check_scan_limit(limit));
  const std::string full_prefix = db_key(table, prefix);
  std::string from = full_prefix;
  if (!start_after.empty()) {
    std::string after = db_key(table, start_after);
    if (after > from) from = std::move(after);
  }
  std::vector<Record> out;
  for (it.Seek(slice(from)); it.Valid() && out.size() < max; it.Next()) {
    std::string_view k(it.key().data(), it.key().size());
    if (!k.starts_with(full_prefix)) break;
    k.remove_prefix(1);
    if (!start_after.empty() && k <= start_after) continue;
    out.push_back({std::string(k), it.value().ToString()});
  }
  if (!it.status().ok()) return from_rocksdb(it.status(), "scan");
  return out;
}

class SnapshotReader final : public AccountReader {
 public:
  SnapshotReader(rocksdb::DB& db, const rocksdb::Snapshot* snapshot) : db_(db) {
    options_.snapshot = snapshot;
  }

  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    std::string value;
    rocksdb::Status s = db_.Get(options_, slice(db_key(table, key)), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_rocksdb(s, "get");
    return std::optional<std::string>(std::move(value));
  }

  Result<std::vector<Record>> scan(Table table, std::string_view prefix,
                                   std::string_view start_after, std::size_t limit) override {
    std::unique_ptr<rocksdb::Iterator> it(db_.NewIterator(options_));
    return scan_iterator(*it, table, prefix, start_after, limit);
  }

 private:
  rocksdb::DB& db_;
  rocksdb::ReadOptions options_;
};

class BatchWriter final : public AccountWriter {
 public:
  explicit BatchWriter(rocksdb::DB& db)
      : db_(db), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

  Result<std::optional<std::string>> get(Table table, std::string_view key) override {
    std::string value;
    rocksdb::Status s =
        batch_.GetFromBatchAndDB(&db_, rocksdb::ReadOptions(), slice(db_key(table, key)), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return from_rocksdb(s, "get");
    return std::optional<std::string>(std::move(value));
  }

  Result<std::vector<Record>> scan(Table table, std::string_view prefix,
                                   std::string_view start_after, std::size_t limit) override {
    std::unique_ptr<rocksdb::Iterator> it(
        batch_.NewIteratorWithBase(db_.NewIterator(rocksdb::ReadOptions())));
    return scan_iterator(*it, table, prefix, start_after, limit);
  }

  Status put(Table table, std::string_view key, std::string_view value) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    VOUCH_RETURN_IF_ERROR(check_record_value(value));
    rocksdb::Status s = batch_.Put(slice(db_key(table, key)), slice(value));
    if (!s.ok()) return from_rocksdb(s, "put");
    return ok_status();
  }

  Status erase(Table table, std::string_view key) override {
    VOUCH_RETURN_IF_ERROR(check_record_key(key));
    rocksdb::Status s = batch_.Delete(slice(db_key(table, key)));
    if (!s.ok()) return from_rocksdb(s, "erase");
    return ok_status();
  }

  rocksdb::WriteBatch* batch() { return batch_.GetWriteBatch(); }

 private:
  rocksdb::DB& db_;
  rocksdb::WriteBatchWithIndex batch_;
};

}  // namespace

Result<std::unique_ptr<RocksDbAccountStore>> RocksDbAccountStore::open(
    const RocksDbAccountStoreOptions& options) {
  if (options.path.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "accounts store: empty path");
  }
  rocksdb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.max_open_files = 256;
  o.keep_log_file_num = 10;
  o.write_buffer_size = std::size_t{4} << 20;  // account records are small
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  VOUCH_ASSIGN_OR_RETURN(std::unique_ptr<rocksdb::DB> db,
                         rocksdb_util::open_db(o, options.path, "accounts store"));
  VOUCH_RETURN_IF_ERROR(rocksdb_util::check_format(
      *db, {kFormatKey, kFormatValue, "accounts store", "a vouch accounts store"}, options.path,
      /*create=*/true));
  return std::unique_ptr<RocksDbAccountStore>(
      new RocksDbAccountStore(std::move(db), options.sync_writes));
}

RocksDbAccountStore::RocksDbAccountStore(std::unique_ptr<rocksdb::DB> db, bool sync_writes)
    : db_(std::move(db)), sync_writes_(sync_writes) {}

RocksDbAccountStore::~RocksDbAccountStore() = default;

Status RocksDbAccountStore::read(const std::function<Status(AccountReader&)>& fn) {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  struct Release {
    rocksdb::DB& db;
    const rocksdb::Snapshot* s;
    ~Release() { db.ReleaseSnapshot(s); }
  } release{*db_, snapshot};
  SnapshotReader reader(*db_, snapshot);
  return fn(reader);
}

Status RocksDbAccountStore::write(const std::function<Status(AccountWriter&)>& fn) {
  std::lock_guard lock(writer_mu_);
  BatchWriter writer(*db_);
  VOUCH_RETURN_IF_ERROR(fn(writer));
  if (writer.batch()->Count() == 0) return ok_status();
  rocksdb::WriteOptions w;
  w.sync = sync_writes_;
  rocksdb::Status s = db_->Write(w, writer.batch());
  if (!s.ok()) return from_rocksdb(s, "write");
  return ok_status();
}

}  // namespace vouch::server::accounts
