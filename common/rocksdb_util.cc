#include "common/rocksdb_util.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>

#include <string>
#include <utility>

namespace vouch::rocksdb_util {

namespace {

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

Error to_error(const rocksdb::Status& s, std::string_view what) {
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return make_error(Code::kDataLoss, Reason::kInternal, std::move(msg));
  if (s.IsIOError()) return make_error(Reason::kIo, std::move(msg));
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return make_error(Reason::kUnavailable, std::move(msg));
  }
  return make_error(Reason::kInternal, std::move(msg));
}

Result<std::unique_ptr<rocksdb::DB>> open_db(const rocksdb::Options& options,
                                             const std::filesystem::path& path,
                                             std::string_view who, bool read_only) {
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = read_only
                                     ? rocksdb::DB::OpenForReadOnly(options, path.string(), &raw)
                                     : rocksdb::DB::Open(options, path.string(), &raw);
  if (!opened.ok()) {
    // Missing, locked, unreadable: all "cannot open" (kIo) unless the data is corrupt.
    Error e = to_error(opened, std::string(who) + ": rocksdb open " + path.string());
    if (e.code != Code::kDataLoss) e = make_error(Reason::kIo, std::move(e.message));
    return e;
  }
  return std::unique_ptr<rocksdb::DB>(raw);
}

Status check_format(rocksdb::DB& db, const FormatMarker& marker,
                    const std::filesystem::path& path, bool create) {
  const std::string who(marker.who);
  std::string format;
  rocksdb::Status s = db.Get(rocksdb::ReadOptions(), slice(marker.key), &format);
  if (s.ok()) {
    if (format == marker.value) return ok_status();
    return make_error(Reason::kConflict,
                      who + ": unsupported format '" + format + "' in " + path.string());
  }
  if (!s.IsNotFound()) return to_error(s, who + ": rocksdb open: read format");

  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  if (!it->status().ok()) return to_error(it->status(), who + ": rocksdb open: iterate");
  if (it->Valid()) {
    return make_error(Reason::kConflict, who + ": " + path.string() +
                                             " holds data but is not " + std::string(marker.kind));
  }
  if (!create) {
    return make_error(Reason::kIo,
                      who + ": " + path.string() + " is empty, not " + std::string(marker.kind));
  }
  rocksdb::WriteOptions w;
  w.sync = true;
  s = db.Put(w, slice(marker.key), slice(marker.value));
  if (!s.ok()) return to_error(s, who + ": rocksdb open: write format");
  return ok_status();
}

}  // namespace vouch::rocksdb_util
