// RocksDbAccountStore only (the contract is account_store_conformance_test.cc): the format
// marker, and crash consistency (a writer process killed with SIGKILL loses no acknowledged
// write and leaves no partial one).

#include "server/accounts/rocksdb_account_store.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/crash_child.h"
#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"


using namespace vouch;
using namespace vouch::server::accounts;
namespace fs = std::filesystem;

namespace {

// The crash workload: write i (1-based) puts users/k<i> and tokens/k<i>, both with value i.
Status crash_write(AccountStore& s, int i) {
  return s.write([i](AccountWriter& w) -> Status {
    const std::string key = "k" + std::to_string(i);
    VOUCH_RETURN_IF_ERROR(w.put(Table::kUsers, key, std::to_string(i)));
    return w.put(Table::kTokens, key, std::to_string(i));
  });
}

// Child mode of this test binary: with VOUCH_ACCOUNTS_CRASH_CHILD=<dir>, it runs the workload
// into the store at <dir> forever, printing i after write i returned OK, until killed.
struct CrashChild {
  CrashChild() {
    const char* dir = std::getenv("VOUCH_ACCOUNTS_CRASH_CHILD");
    if (dir == nullptr) return;
    auto store = RocksDbAccountStore::open({dir, true});
    if (!store) _exit(2);
    for (int i = 1;; ++i) {
      if (!crash_write(**store, i).ok()) _exit(3);
      std::printf("%d\n", i);
      std::fflush(stdout);
    }
  }
} crash_child;

}  // namespace

TEST_CASE("rocksdb account store: refuses a database that is not an accounts store") {
  test::TempDir dir("vouch-accounts");
  const fs::path path = dir.path() / "db";
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), "some", "data").ok());
  }
  auto s = RocksDbAccountStore::open({path, false});
  CHECK_REASON(s, Reason::kConflict);
  CHECK(s.error().code == Code::kFailedPrecondition);
}

TEST_CASE("rocksdb account store: a killed writer process loses no acknowledged write") {
  test::TempDir dir("vouch-accounts");
  const fs::path path = dir.path() / "db";
  const test::CrashRun run =
      test::run_and_kill_child("VOUCH_ACCOUNTS_CRASH_CHILD", path.string(), 40);
  const int acked = static_cast<int>(run.last_ack);
  REQUIRE(acked >= 40);
  CHECK(run.killed_by_signal);

  auto store = RocksDbAccountStore::open({path, false});
  REQUIRE_OK(store);
  // Writes 1..n are there, whole (both records), and nothing after n.
  int n = 0;
  REQUIRE_OK((*store)->read([&](AccountReader& r) -> Status {
    for (int i = 1; i <= acked + 1000; ++i) {
      const std::string key = "k" + std::to_string(i);
      VOUCH_ASSIGN_OR_RETURN(auto user, r.get(Table::kUsers, key));
      VOUCH_ASSIGN_OR_RETURN(auto token, r.get(Table::kTokens, key));
      CHECK(user.has_value() == token.has_value());
      if (!user) break;
      CHECK(*user == std::to_string(i));
      CHECK(*token == std::to_string(i));
      n = i;
    }
    VOUCH_ASSIGN_OR_RETURN(auto all, r.scan(Table::kUsers, "", "", kMaxScanLimit));
    CHECK(all.size() == std::min(static_cast<std::size_t>(n), kMaxScanLimit));
    return ok_status();
  }));
  CHECK(n >= acked);
  CHECK(n <= acked + 1);  // at most the one write in flight when it was killed
}
