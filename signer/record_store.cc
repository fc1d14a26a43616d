#include "signer/record_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <mutex>

namespace vouch::signer {

namespace {

Error io_error(std::string_view what, const rocksdb::Status& s) {
  return make_error(Reason::kIo, std::string(what) + ": " + s.ToString());
}

Result<std::optional<std::string>> rocks_get(rocksdb::DB& db, std::string_view key) {
  std::string value;
  rocksdb::Status s =
      db.Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return io_error("read", s);
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<Record>> rocks_scan(rocksdb::DB& db, std::string_view prefix,
                                       std::string_view from, std::size_t limit) {
  std::vector<Record> out;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  const std::string_view start = from > prefix ? from : prefix;
  for (it->Seek(rocksdb::Slice(start.data(), start.size()));
       it->Valid() && it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()));
       it->Next()) {
    if (limit != 0 && out.size() >= limit) break;
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  if (!it->status().ok()) return io_error("scan", it->status());
  return out;
}

class RocksDbRecordStore final : public RecordStore {
 public:
  explicit RocksDbRecordStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}

  Result<std::optional<std::string>> get(std::string_view key) override {
    return rocks_get(*db_, key);
  }
  Result<std::vector<Record>> scan(std::string_view prefix, std::string_view from,
                                   std::size_t limit) override {
    return rocks_scan(*db_, prefix, from, limit);
  }

  Status write(const std::function<Status(Txn&)>& fn, bool sync) override {
    std::lock_guard lock(write_mu_);
    RocksTxn txn(*db_);
    VOUCH_RETURN_IF_ERROR(fn(txn));
    if (txn.writes().empty()) return ok_status();
    rocksdb::WriteBatch batch;
    for (const BufferedTxn::Write& w : txn.writes()) {
      const rocksdb::Slice key(w.key.data(), w.key.size());
      if (w.erase) {
        batch.Delete(key);
      } else {
        batch.Put(key, rocksdb::Slice(w.value.data(), w.value.size()));
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s = db_->Write(wo, &batch);
    if (!s.ok()) return io_error("write", s);
    return ok_status();
  }

  bool shared() const override { return false; }

 private:
  struct RocksTxn final : BufferedTxn {
    explicit RocksTxn(rocksdb::DB& d) : db(d) {}
    Result<std::optional<std::string>> get(std::string_view key) override {
      return rocks_get(db, key);
    }
    Result<std::vector<Record>> scan(std::string_view prefix, std::string_view from,
                                     std::size_t limit) override {
      return rocks_scan(db, prefix, from, limit);
    }
    rocksdb::DB& db;
  };

  std::unique_ptr<rocksdb::DB> db_;
  std::mutex write_mu_;  // the writers' lock
};

}  // namespace

Result<std::unique_ptr<RecordStore>> open_rocksdb_records(const std::string& path,
                                                          bool create_if_missing) {
  rocksdb::Options o;
  o.create_if_missing = create_if_missing;
  o.paranoid_checks = true;
  o.max_open_files = 256;
  o.keep_log_file_num = 4;
  o.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, path, &raw);
  if (!s.ok()) return io_error("cannot open key database " + path, s);
  return std::unique_ptr<RecordStore>(
      std::make_unique<RocksDbRecordStore>(std::unique_ptr<rocksdb::DB>(raw)));
}

}  // namespace vouch::signer
