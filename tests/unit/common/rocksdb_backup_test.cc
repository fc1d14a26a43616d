// common/rocksdb_backup.h: check_restore, the preconditions vouch-server and vouch-signer share.

#include "common/rocksdb_backup.h"

#include <doctest/doctest.h>

#include <fstream>

#include "common/fs.h"
#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"

namespace vouch::rocksdb_backup {
namespace {

using test::TempDir;

TEST_CASE("check_restore: a complete backup into an empty or missing directory") {
  TempDir dir;
  const auto backup = dir.path() / "backup";
  std::filesystem::create_directories(backup);
  // No marker: not a complete backup.
  CHECK_REASON(check_restore(backup, "marker.json", "test backup", dir.path() / "new"),
               Reason::kNotFound);
  std::ofstream(backup / "marker.json") << "{}";
  REQUIRE_OK(check_restore(backup, "marker.json", "test backup", dir.path() / "new"));
  std::filesystem::create_directories(dir.path() / "empty");
  REQUIRE_OK(check_restore(backup, "marker.json", "test backup", dir.path() / "empty"));
  // A target with files in it is never overwritten.
  std::ofstream(dir.path() / "empty" / "CURRENT") << "x";
  auto st = check_restore(backup, "marker.json", "test backup", dir.path() / "empty");
  CHECK_REASON(st, Reason::kConflict);
  CHECK(st.error().message.find("restore only into a new directory") != std::string::npos);
}

TEST_CASE("write_durably: replaces the name atomically, never rewrites the file in place") {
  // It used to truncate and rewrite the file in place (its own write-then-fsync copy); it is
  // now common/fs.h's write_file_atomic: a reader of the old file (here: a hard link to it)
  // keeps the old contents, and a crash leaves the old or the new contents, never a mix.
  TempDir dir;
  const auto marker = dir.path() / "marker.json";
  const auto old_copy = dir.path() / "old.json";
  std::ofstream(marker) << "old";
  std::filesystem::create_hard_link(marker, old_copy);
  REQUIRE_OK(write_durably(marker, "new"));
  CHECK(read_file_bounded(marker, 64).value() == "new");
  CHECK(read_file_bounded(old_copy, 64).value() == "old");
  REQUIRE_OK(fsync_path(marker));
  CHECK_REASON(fsync_path(dir.path() / "missing"), Reason::kIo);
}

}  // namespace
}  // namespace vouch::rocksdb_backup
