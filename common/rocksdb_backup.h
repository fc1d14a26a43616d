#pragma once

// Consistent, durable copies of a RocksDB database for `vouch-server backup|restore` and
// `vouch-signer backup|restore` (server/README.md "Backup and restore").
//
// RocksDB lets one process open a database read-write, so a backup taken while the daemon
// serves cannot open it normally. copy_database opens the source as a RocksDB *secondary*
// instance (DB::OpenAsSecondary: no LOCK is taken; it replays the primary's MANIFEST and
// write-ahead logs once, at open) and copies every key of the default column family, through
// one iterator, into a new database. The iterator reads one sequence number, so the copy is
// one point in time: every WriteBatch the primary had written when the secondary opened is in
// it whole, none later is in it at all (vouch's publishes and key writes are single batches).
// A RocksDB Checkpoint would need the primary's handle, i.e. code in the serving process.
//
// The copy is written without a write-ahead log and flushed into SST files before
// copy_database returns; the files and the destination directory are fsync'd by RocksDB's
// flush and by an explicit fsync of the directory, so a returned copy survives power loss.
//
// Thread-safety: free functions without shared state; the source may be open read-write in
// this or another process meanwhile.

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "common/result.h"

namespace vouch::rocksdb_backup {

struct CopyStats {
  std::uint64_t keys = 0;   // key-value pairs copied
  std::uint64_t bytes = 0;  // sum of their key and value sizes
};

// Copies the database at `source` (which must hold a database: kIo otherwise) into a new
// database at `dest`, which must not exist or be an empty directory (kConflict otherwise).
// Only the default column family is copied (the only one vouch's stores use; a source with
// others is refused with kConflict rather than copied in part). On failure `dest` may hold a
// partial copy: callers mark a finished copy themselves (see the backup commands).
Result<CopyStats> copy_database(const std::filesystem::path& source,
                                const std::filesystem::path& dest);

// True if `dir` does not exist or is an empty directory; kIo if it cannot be read, or is
// not a directory.
Result<bool> is_empty_or_missing(const std::filesystem::path& dir);

// ok if is_empty_or_missing(dir); else kConflict "<dir> is not empty" (or its kIo).
Status require_empty(const std::filesystem::path& dir);

// The preconditions of a restore from `backup_dir` into `target`: the backup is complete
// (`backup_dir`/`marker` exists; else kNotFound "<backup_dir> is not a complete <what> (no
// <marker>)"), and `target` is empty or missing (else require_empty's error, with "; restore
// only into a new directory").
Status check_restore(const std::filesystem::path& backup_dir, std::string_view marker,
                     std::string_view what, const std::filesystem::path& target);

// Makes `path` hold `contents` atomically and durably (common/fs.h write_file_atomic: a
// temporary file, fsynced, renamed over `path`, the directory fsynced; mode 0600): for the
// marker a backup writes last to say that it is complete.
Status write_durably(const std::filesystem::path& path, std::string_view contents);

// fsync of a file or directory (a directory to make the names of new files in it durable).
Status fsync_path(const std::filesystem::path& path);

// Copies the regular files and directories under `source` into `dest` (created, and must be
// empty or missing: kConflict), keeping permission bits, fsyncing every file and directory.
// Symbolic links and other special files are refused (kIo) rather than followed. A missing
// `source` copies nothing and succeeds with 0. Returns the number of files copied.
Result<std::uint64_t> copy_tree(const std::filesystem::path& source,
                                const std::filesystem::path& dest);

}  // namespace vouch::rocksdb_backup
