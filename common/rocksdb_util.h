#pragma once

// What vouch's RocksDB databases (the metadata store, the accounts store, the audit log) do
// alike when they open and when RocksDB fails: RocksDB's Status as an Error, the open call,
// and the format marker that keeps a store from opening another program's database.
//
// RocksDB's types are only declared here, so this header does not pull RocksDB's headers into
// its includers; the callers include <rocksdb/db.h> themselves.
//
// Thread-safety: free functions without shared state.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace rocksdb {
class DB;
class Status;
struct Options;
}  // namespace rocksdb

namespace vouch::rocksdb_util {

// A failed RocksDB call as an Error whose message is "<what>: <RocksDB's text>" (for logs
// only: it names paths). By kind: Corruption -> kDataLoss with Reason::kInternal; IOError ->
// Reason::kIo; Busy, TimedOut, TryAgain -> Reason::kUnavailable; anything else ->
// Reason::kInternal. `s` must not be ok().
Error to_error(const rocksdb::Status& s, std::string_view what);

// Opens the database at `path` with `options` (read-only when `read_only`: no writes, no
// creation, no lock against a writer). A database that is missing, locked or unreadable is
// Reason::kIo "<who>: rocksdb open <path>: ..."; a corrupt one is kDataLoss.
Result<std::unique_ptr<rocksdb::DB>> open_db(const rocksdb::Options& options,
                                             const std::filesystem::path& path,
                                             std::string_view who, bool read_only = false);

// The key that says which program and format a database belongs to.
struct FormatMarker {
  std::string_view key;
  std::string_view value;
  std::string_view who;   // the store, for messages: "audit log"
  std::string_view kind;  // what the marker says the database is, for messages: "an audit log"
};

// Checks the marker of `db` (opened from `path`):
// - present with marker.value: ok;
// - present with another value: kConflict (kFailedPrecondition), "unsupported format";
// - absent in a database that holds other keys: kConflict, "holds data but is not <kind>";
// - absent in an empty database: written (synced) and ok when `create`; otherwise kIo,
//   "<path> is empty, not <kind>" (a reader must not create a store);
// - RocksDB failures: to_error().
Status check_format(rocksdb::DB& db, const FormatMarker& marker,
                    const std::filesystem::path& path, bool create);

// Fixed-width big-endian integers, how the stores write numbers into keys (byte order is then
// numeric order, for unsigned values) and values. A signed value is written as its two's
// complement (static_cast to the unsigned type) and read back by get_be<signed type>.
inline void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xffU));
  }
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xffU));
  }
}

// The big-endian integer of sizeof(T) bytes at the front of `in`, which must be at least that
// long (the caller checks).
template <typename T>
T get_be(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return static_cast<T>(v);
}

}  // namespace vouch::rocksdb_util
