#pragma once

// Where vouch-signer's key database keeps its records (issue 16 item 3): the seam between the
// key store (signer/key_store.h: encryption, aliases, caching) and its storage. A record store
// is an ordered map from byte-string keys to byte-string values, read with point lookups and
// prefix scans, and written in atomic transactions that are serialized against every other
// writer of the same database - in this process and, for a shared database, in other
// processes - so that a read-modify-write of a record never loses another writer's update.
//
// Backends:
//   - RocksDbRecordStore (below): one RocksDB directory, one process (RocksDB's LOCK file
//     refuses a second opener). The default.
//   - PgRecordStore (signer/pg_record_store.h, library vouch_signer_pg): a table in a
//     PostgreSQL database shared by several vouch-signer processes.
// Both pass the key store's conformance suite (tests/unit/signer/key_store_test.cc).
//
// Thread-safety: every method may be called concurrently from any thread.

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace vouch::signer {

// One record: key and value.
using Record = std::pair<std::string, std::string>;

class RecordStore {
 public:
  virtual ~RecordStore() = default;

  // What a write transaction sees and does. Reads see every transaction committed before this
  // one took the writers' lock, not this transaction's own puts and erases (they are applied
  // together at the end).
  class Txn {
   public:
    virtual ~Txn() = default;
    virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
    virtual Result<std::vector<Record>> scan(std::string_view prefix, std::string_view from,
                                             std::size_t limit) = 0;
    virtual void put(std::string_view key, std::string_view value) = 0;
    virtual void erase(std::string_view key) = 0;
  };

  // A Txn that keeps its puts and erases, in order, for the backend to apply together when fn
  // returns OK (what both backends do); a backend supplies the reads.
  class BufferedTxn : public Txn {
   public:
    struct Write {
      std::string key;
      std::string value;  // empty for an erase
      bool erase = false;
    };
    void put(std::string_view key, std::string_view value) override {
      writes_.push_back({std::string(key), std::string(value), false});
    }
    void erase(std::string_view key) override { writes_.push_back({std::string(key), {}, true}); }
    const std::vector<Write>& writes() const { return writes_; }

   private:
    std::vector<Write> writes_;
  };

  // The value of `key`, or nullopt. Errors: kIo / kUnavailable (storage unreachable).
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;

  // Records whose key starts with `prefix` and is >= `from` (empty: from the first), in
  // bytewise key order, at most `limit` of them (0: all).
  virtual Result<std::vector<Record>> scan(std::string_view prefix, std::string_view from,
                                           std::size_t limit) = 0;

  // Runs fn under the writers' lock and applies its puts and erases atomically (and durably
  // if `sync`; a shared database always commits durably) when it returns OK; nothing when it
  // returns an error, which write() returns. fn may run more than once (a backend retries a
  // transaction that failed for a transient reason, e.g. a serialization failure), so it must
  // reset whatever it computes at its start.
  virtual Status write(const std::function<Status(Txn&)>& fn, bool sync) = 0;

  // True if other processes may change the records at any time (a shared database): the key
  // store then re-reads a record before signing with its cached key, and unlocks on demand an
  // alias that another process rotated to.
  virtual bool shared() const = 0;
};

// The records in a RocksDB directory (created, mode 0700 as the umask allows, if missing and
// `create_if_missing`). Errors: kIo naming the path (missing without create_if_missing, locked
// by another process, corrupt).
Result<std::unique_ptr<RecordStore>> open_rocksdb_records(const std::string& path,
                                                          bool create_if_missing);

}  // namespace vouch::signer
