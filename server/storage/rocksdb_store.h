#pragma once

// RocksDbStore: the MetaStore for real use, in one RocksDB database (one process; several
// server replicas need a shared SQL backend instead, see meta_store.h).
//
// Layout (DESIGN "Storage"). Every key starts with a one-byte tag; names are escaped so that
// they sort bytewise and no name is a prefix of another's encoding (0x00 -> 0x00 0xFF, then a
// 0x00 0x01 terminator), which makes every (gun, role) pair's keys distinct whatever bytes the
// names hold, and keeps each GUN's keys contiguous. Integers are 8-byte big-endian.
//   'm' gun role version     -> file record: format, created, sha256, length, check; the bytes
//   'c' gun role             -> current version, created, sha256 (list_roles reads only these)
//   'h' gun role sha256(raw) -> version (get_checksum)
//   'f' change id            -> change record (the global changefeed)
//   'g' gun change id        -> the same change record (the per-GUN changefeed)
//   'n' "changefeed"         -> the highest change id of the last batch (see open())
//   '!' "format"             -> "1"; open() refuses a database without it or with another
// Records carry a format byte, exact lengths and a 4-byte check (the start of SHA-256 over key
// and record, so a record moved to another key fails too); a file's bytes are covered by the
// SHA-256 in its header. A record that does not decode, fails its check, or disagrees with the
// record pointing at it is reported as kDataLoss and never served.
//
// Writes. update_many and delete_gun build one WriteBatch (files, indexes, current pointers,
// change records and the change counter) and write it with WriteOptions::sync =
// options.sync_writes, so a publish is atomic and, by default, on disk before it returns.
// Writers of one GUN are serialized by a striped mutex (kLockStripes, by hash of the GUN) held
// across read-check-write. Measured against a pessimistic TransactionDB doing the same reads
// and writes (bench/bench_store.cc): ~25% less CPU per publish without sync (55 vs 75 us),
// the same with sync (the fsync dominates), and far less machinery, since a publish touches
// only keys of its own GUN. delete_gun writes three range deletions (files, pointers,
// checksums) plus the change record.
//
// Change ids are allocated under a small global mutex and become visible to get_changes only
// when every smaller id is committed or failed (a failed write leaves a gap), so writes of
// different GUNs still commit concurrently (RocksDB groups their fsyncs: 1, 2 and 4 threads
// publishing to distinct GUNs with sync made ~210, ~320 and ~650 publishes/s in bench_store)
// without ever publishing ids out of order.
//
// No merge operator is used on purpose: a tool that opens the database without one (ldb, a
// debugging script) silently stops replaying the log at the first merge record and, opening
// read-write, drops everything after it for good (checked with RocksDB 7.8).
//
// Reads take no lock of ours. Lookups that follow a pointer (current -> file, checksum ->
// file) read through one RocksDB snapshot, so a concurrent delete_gun makes them return
// kNotFound, never a torn result.
//
// Thread-safety: all methods may be called concurrently. One RocksDbStore per database
// directory per process; RocksDB's LOCK file makes a second open fail (kIo).

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "server/storage/meta_store.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace vouch::server {

struct RocksDbStoreOptions {
  // Directory of the database. Required. Created (one level) if missing and
  // create_if_missing is set.
  std::filesystem::path path;

  // Create an empty store when `path` holds no database. Default true. With false, a missing
  // database is an error (kIo), e.g. to catch a mistyped path in production config.
  bool create_if_missing = true;

  // fsync the write-ahead log before update_many/delete_gun return. Default true: a reply
  // means the publish survives power loss (~1.5 ms per publish on the reference disk,
  // STACK §5). false: writes survive a crash of the process but not of the machine; for
  // tests and benchmarks only.
  bool sync_writes = true;

  // RocksDB's paranoid_checks: refuse to open, or stop writing, when the database looks
  // corrupt. Default true (RocksDB's default too).
  bool paranoid_checks = true;

  // Open SST files RocksDB keeps (RocksDB's max_open_files; its default, -1, is unlimited).
  // Default 512, which bounds file descriptors without hurting a metadata-sized database.
  int max_open_files = 512;

  // Info LOG files RocksDB keeps in the directory (RocksDB's default is 1000). Default 10.
  std::size_t keep_log_file_num = 10;

  // Size of the LRU block cache for SST data blocks. Default 64 MiB. Current metadata is also
  // cached above the store (DESIGN "Read"), so this mostly serves by-version lookups.
  std::size_t block_cache_bytes = std::size_t{64} << 20;

  // RocksDB's write_buffer_size: how much is written before a memtable is flushed to an SST
  // file. Memtables hold every written byte until then, so this bounds the memory that
  // publishing adds (RocksDB's default, 64 MiB, let ~30 publishes of a 2 MB targets.json sit
  // in memory). Default 8 MiB.
  std::size_t write_buffer_bytes = std::size_t{8} << 20;

  // Re-hash every file read and compare with its stored SHA-256 (kDataLoss on mismatch).
  // Default false: RocksDB already checksums every block it reads, and reads are cached above
  // the store; turn on to scrub, or when the disk is not trusted.
  bool verify_sha256_on_read = false;

  // Stamps StoredFile::created and Change::created; must outlive the store. nullptr (the
  // default) is the system clock.
  const Clock* clock = nullptr;

  // Tests only (leave empty): called by update_many and delete_gun with the GUN after the
  // batch's change ids are reserved and before it is written, holding the GUN's lock, so a
  // test can hold one writer mid-publish while others run (changefeed ordering).
  std::function<void(std::string_view gun)> test_hook_before_write;
};

class RocksDbStore final : public MetaStore {
 public:
  // Opens (or creates) the database at options.path, checks its format marker and recovers
  // the change counter. Errors: kInvalidArgument (empty path), kIo (cannot open, locked by
  // another process, missing with create_if_missing false), kDataLoss (corrupt), and
  // kFailedPrecondition (a database that is not a vouch metadata store, or a newer format).
  static Result<std::unique_ptr<RocksDbStore>> open(const RocksDbStoreOptions& options);

  // Closes the database. Every write that returned OK is already in the log.
  ~RocksDbStore() override;

  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;

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
  // Fails (kIo) while RocksDB reports a background error (e.g. a failed flush or log write
  // after a disk error, after which it refuses writes; cleared when RocksDB recovers), or if
  // it cannot read its format marker. Never writes: one point read, so an anonymous health
  // probe costs no disk write.
  Status check_health() override;

  // Writers of one GUN are serialized by one of this many mutexes, chosen by
  // std::hash<std::string_view>(gun) % kLockStripes; GUNs sharing a stripe also wait for each
  // other (briefly: a stripe is held only for the version check and the write).
  static constexpr std::size_t kLockStripes = 64;

  // Writes the memtable to SST files and waits. Never needed for durability (the write-ahead
  // log provides it); for backups and for tests that exercise the SST read path.
  Status flush();

 private:
  class ChangeIds;         // change id allocation and the visibility watermark
  class BackgroundErrors;  // RocksDB's event listener, for check_health

  RocksDbStore(std::unique_ptr<rocksdb::DB> db, const RocksDbStoreOptions& options,
               std::int64_t next_change_id, std::shared_ptr<BackgroundErrors> background_errors);

  std::mutex& stripe(std::string_view gun);

  std::unique_ptr<rocksdb::DB> db_;
  std::shared_ptr<BackgroundErrors> background_errors_;
  const Clock& clock_;
  const bool sync_writes_;
  const bool verify_sha256_on_read_;
  const std::function<void(std::string_view)> test_hook_before_write_;
  std::array<std::mutex, kLockStripes> stripes_;
  std::unique_ptr<ChangeIds> change_ids_;
};

}  // namespace vouch::server
