// common/rocksdb_backup.h: check_restore, the preconditions vouch-server and vouch-signer share.

#include "common/rocksdb_backup.h"

#include <doctest/doctest.h>

#include <fstream>

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

}  // namespace
}  // namespace vouch::rocksdb_backup
