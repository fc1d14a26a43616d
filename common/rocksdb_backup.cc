#include "common/rocksdb_backup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/fs.h"

namespace vouch::rocksdb_backup {

namespace fs = std::filesystem;

namespace {

Error rocks_error(const rocksdb::Status& s, const std::string& what) {
  return make_error(Reason::kIo, what + ": " + s.ToString());
}

Error os_error(const std::string& what) {
  return make_error(Reason::kIo, what + ": " + std::strerror(errno));
}

// Flushes the destination in batches of about this many bytes.
constexpr std::size_t kBatchBytes = std::size_t{4} << 20;

// Removes the secondary instance's scratch directory (its info LOG) on every path out.
struct ScratchDir {
  fs::path path;
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

Result<bool> is_empty_or_missing(const fs::path& dir) {
  std::error_code ec;
  const auto st = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return make_error(Reason::kIo, dir.string() + ": " + ec.message());
  }
  if (!fs::exists(st)) return true;
  if (!fs::is_directory(st)) return make_error(Reason::kIo, dir.string() + ": not a directory");
  fs::directory_iterator it(dir, ec);
  if (ec) return make_error(Reason::kIo, dir.string() + ": " + ec.message());
  return it == fs::directory_iterator();
}

Status require_empty(const fs::path& dir) {
  VOUCH_ASSIGN_OR_RETURN(bool empty, is_empty_or_missing(dir));
  if (!empty) return make_error(Reason::kConflict, dir.string() + " is not empty");
  return ok_status();
}

Status check_restore(const fs::path& backup_dir, std::string_view marker, std::string_view what,
                     const fs::path& target) {
  std::error_code ec;
  if (!fs::exists(backup_dir / marker, ec)) {
    return make_error(Reason::kNotFound, backup_dir.string() + " is not a complete " +
                                             std::string(what) + " (no " + std::string(marker) +
                                             ")");
  }
  if (auto st = require_empty(target); !st) {
    return make_error(st.error().reason,
                      st.error().message + "; restore only into a new directory");
  }
  return ok_status();
}

Status write_durably(const fs::path& path, std::string_view contents) {
  return write_file_atomic(path, contents);
}

Status fsync_path(const fs::path& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return os_error("open " + path.string());
  if (::fsync(fd.get()) != 0) return os_error("fsync " + path.string());
  return ok_status();
}

Result<CopyStats> copy_database(const fs::path& source, const fs::path& dest) {
  std::error_code ec;
  if (!fs::exists(source / "CURRENT", ec)) {
    return make_error(Reason::kIo, "no RocksDB database in " + source.string());
  }
  VOUCH_RETURN_IF_ERROR(require_empty(dest));

  std::vector<std::string> families;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), source.string(),
                                                      &families);
  if (!s.ok()) return rocks_error(s, "list column families of " + source.string());
  if (families.size() != 1) {
    return make_error(Reason::kConflict,
                      source.string() + " has column families besides the default one");
  }

  // The secondary keeps its own info LOG in a scratch directory beside the destination.
  fs::create_directories(dest, ec);
  if (ec) return make_error(Reason::kIo, "create " + dest.string() + ": " + ec.message());
  fs::path absolute = fs::absolute(dest, ec).lexically_normal();
  if (ec) return make_error(Reason::kIo, dest.string() + ": " + ec.message());
  if (!absolute.has_filename()) absolute = absolute.parent_path();  // "dir/" names dir
  const fs::path parent = absolute.parent_path();
  std::string scratch_template = (parent / ".vouch-backup-XXXXXX").string();
  if (::mkdtemp(scratch_template.data()) == nullptr) {
    return os_error("create a scratch directory beside " + dest.string());
  }
  ScratchDir scratch{scratch_template};

  rocksdb::Options so;
  so.max_open_files = -1;  // a secondary keeps every table open: the primary may delete them
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenAsSecondary(so, source.string(), scratch.path.string(), &raw);
  if (!s.ok()) return rocks_error(s, "open " + source.string() + " as a secondary instance");
  std::unique_ptr<rocksdb::DB> src(raw);

  rocksdb::Options o;
  o.create_if_missing = true;
  o.error_if_exists = true;
  raw = nullptr;
  s = rocksdb::DB::Open(o, dest.string(), &raw);
  if (!s.ok()) return rocks_error(s, "create " + dest.string());
  std::unique_ptr<rocksdb::DB> out(raw);

  CopyStats stats;
  rocksdb::WriteOptions w;
  w.disableWAL = true;  // durable by the flush below
  rocksdb::WriteBatch batch;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(src->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    s = batch.Put(it->key(), it->value());
    if (!s.ok()) return rocks_error(s, "copy");
    ++stats.keys;
    stats.bytes += it->key().size() + it->value().size();
    if (batch.GetDataSize() >= kBatchBytes) {
      s = out->Write(w, &batch);
      if (!s.ok()) return rocks_error(s, "write " + dest.string());
      batch.Clear();
    }
  }
  if (!it->status().ok()) return rocks_error(it->status(), "read " + source.string());
  it.reset();
  if (batch.Count() > 0) {
    s = out->Write(w, &batch);
    if (!s.ok()) return rocks_error(s, "write " + dest.string());
  }
  rocksdb::FlushOptions flush;
  flush.wait = true;
  s = out->Flush(flush);
  if (!s.ok()) return rocks_error(s, "flush " + dest.string());
  s = out->Close();
  if (!s.ok()) return rocks_error(s, "close " + dest.string());
  out.reset();
  s = src->Close();
  if (!s.ok()) return rocks_error(s, "close " + source.string());
  // Every file RocksDB wrote, then the directory that names them.
  for (const auto& entry : fs::directory_iterator(dest, ec)) {
    if (entry.is_regular_file()) VOUCH_RETURN_IF_ERROR(fsync_path(entry.path()));
  }
  if (ec) return make_error(Reason::kIo, "list " + dest.string() + ": " + ec.message());
  VOUCH_RETURN_IF_ERROR(fsync_path(dest));
  VOUCH_RETURN_IF_ERROR(fsync_path(parent));
  return stats;
}

Result<std::uint64_t> copy_tree(const fs::path& source, const fs::path& dest) {
  std::error_code ec;
  if (!fs::exists(source, ec)) return std::uint64_t{0};
  VOUCH_RETURN_IF_ERROR(require_empty(dest));
  auto make_dir = [](const fs::path& from, const fs::path& to) -> Status {
    std::error_code e;
    fs::create_directories(to, e);
    if (!e) fs::permissions(to, fs::status(from, e).permissions(), e);
    if (e) return make_error(Reason::kIo, "create " + to.string() + ": " + e.message());
    return ok_status();
  };
  VOUCH_RETURN_IF_ERROR(make_dir(source, dest));
  std::uint64_t files = 0;
  std::vector<fs::path> dirs{dest};
  fs::recursive_directory_iterator it(source, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const fs::path to = dest / fs::relative(it->path(), source);
    const auto st = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_directory(st)) {
      VOUCH_RETURN_IF_ERROR(make_dir(it->path(), to));
      dirs.push_back(to);
    } else if (fs::is_regular_file(st)) {
      fs::copy_file(it->path(), to, fs::copy_options::none, ec);
      if (ec) return make_error(Reason::kIo, "copy " + it->path().string() + ": " + ec.message());
      fs::permissions(to, st.permissions(), ec);
      if (ec) return make_error(Reason::kIo, "chmod " + to.string() + ": " + ec.message());
      VOUCH_RETURN_IF_ERROR(fsync_path(to));
      ++files;
    } else {
      return make_error(Reason::kIo, it->path().string() + ": not a regular file or directory");
    }
  }
  if (ec) return make_error(Reason::kIo, "copy " + source.string() + ": " + ec.message());
  for (const auto& d : dirs) VOUCH_RETURN_IF_ERROR(fsync_path(d));
  return files;
}

}  // namespace vouch::rocksdb_backup
