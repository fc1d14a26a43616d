#pragma once

// An AccountStore in an embedded RocksDB database of its own (account_store.h), at
// `<storage dir>/accounts` in vouch-server.
//
// Layout: one RocksDB key per record, <table byte><record key> where the table byte is
// 1 + Table's value; key 0x00 "format" holds the store format ("vouch-accounts-1"), written into
// an empty database and required in any other, so a metadata store opened here by mistake is
// refused (kFailedPrecondition / kConflict).
// Durability: as the metadata store's: each write() is one WriteBatch (one log record, so
// recovery never yields part of one), fsynced before write() returns when sync_writes is set;
// a torn log tail after a crash is dropped (point-in-time recovery).
// write() serializes on a mutex and stages its writes in a WriteBatchWithIndex read together
// with the database (read-your-writes); read() runs on a RocksDB snapshot and does not block
// writers.

#include <filesystem>
#include <memory>
#include <mutex>

#include "server/accounts/account_store.h"

namespace rocksdb {
class DB;
}

namespace vouch::server::accounts {

struct RocksDbAccountStoreOptions {
  // Directory of the database. Required; created (one level) if missing.
  std::filesystem::path path;
  // fsync the write-ahead log before write() returns. Default true (a reply means the change
  // survives power loss). false: for tests only.
  bool sync_writes = true;
};

class RocksDbAccountStore final : public AccountStore {
 public:
  // Opens or creates the database. Errors: kInvalidArgument/kMalformed (empty path), kIo
  // (cannot open, e.g. locked by another process), kFailedPrecondition/kConflict (not an
  // accounts store), kDataLoss (corrupt).
  static Result<std::unique_ptr<RocksDbAccountStore>> open(
      const RocksDbAccountStoreOptions& options);
  ~RocksDbAccountStore() override;

  Status read(const std::function<Status(AccountReader&)>& fn) override;
  Status write(const std::function<Status(AccountWriter&)>& fn) override;

 private:
  RocksDbAccountStore(std::unique_ptr<rocksdb::DB> db, bool sync_writes);

  std::unique_ptr<rocksdb::DB> db_;
  bool sync_writes_;
  std::mutex writer_mu_;
};

}  // namespace vouch::server::accounts
