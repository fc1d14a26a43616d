// common/rocksdb_util.h: RocksDB Status as Error, open, and the format marker of vouch's stores.

#include "common/rocksdb_util.h"

#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"

namespace vouch::rocksdb_util {
namespace {

using test::TempDir;

constexpr FormatMarker kMarker{"!format-test", "test-1", "test store", "a test store"};

rocksdb::Options create_options() {
  rocksdb::Options o;
  o.create_if_missing = true;
  return o;
}

TEST_CASE("to_error: corruption is data loss, I/O is kIo, contention is unavailable") {
  Error corrupt = to_error(rocksdb::Status::Corruption("bad block"), "test: read");
  CHECK(corrupt.code == Code::kDataLoss);
  CHECK(corrupt.reason == Reason::kInternal);
  CHECK(to_error(rocksdb::Status::IOError("disk"), "x").reason == Reason::kIo);
  CHECK(to_error(rocksdb::Status::Busy(), "x").reason == Reason::kUnavailable);
  CHECK(to_error(rocksdb::Status::TimedOut(), "x").reason == Reason::kUnavailable);
  CHECK(to_error(rocksdb::Status::TryAgain(), "x").reason == Reason::kUnavailable);
  CHECK(to_error(rocksdb::Status::InvalidArgument(), "x").reason == Reason::kInternal);
}

TEST_CASE("open_db: a missing database is kIo, read-write and read-only") {
  TempDir dir;
  rocksdb::Options o;  // create_if_missing off
  CHECK_REASON(open_db(o, dir.path() / "none", "test store"), Reason::kIo);
  CHECK_REASON(open_db(o, dir.path() / "none", "test store", /*read_only=*/true), Reason::kIo);
  REQUIRE_OK(open_db(create_options(), dir.path() / "db", "test store"));
  REQUIRE_OK(open_db(o, dir.path() / "db", "test store", /*read_only=*/true));
}

TEST_CASE("check_format: written into an empty database, required in any other") {
  TempDir dir;
  {
    auto db = open_db(create_options(), dir.path() / "db", "test store");
    REQUIRE_OK(db);
    // A reader never creates the marker.
    CHECK_REASON(check_format(**db, kMarker, dir.path() / "db", /*create=*/false), Reason::kIo);
    REQUIRE_OK(check_format(**db, kMarker, dir.path() / "db", /*create=*/true));
    REQUIRE_OK(check_format(**db, kMarker, dir.path() / "db", /*create=*/false));
    std::string value;
    REQUIRE((*db)->Get(rocksdb::ReadOptions(), "!format-test", &value).ok());
    CHECK(value == "test-1");
  }
  // Reopened: the marker is still there.
  auto db = open_db(rocksdb::Options(), dir.path() / "db", "test store");
  REQUIRE_OK(db);
  REQUIRE_OK(check_format(**db, kMarker, dir.path() / "db", /*create=*/true));
  // Another format of the same store is refused, not rewritten.
  const FormatMarker next{kMarker.key, "test-2", kMarker.who, kMarker.kind};
  auto st = check_format(**db, next, dir.path() / "db", /*create=*/true);
  CHECK_REASON(st, Reason::kConflict);
  CHECK(st.error().code == Code::kFailedPrecondition);
}

TEST_CASE("check_format: a database with other keys and no marker is foreign") {
  TempDir dir;
  auto db = open_db(create_options(), dir.path() / "db", "test store");
  REQUIRE_OK(db);
  REQUIRE((*db)->Put(rocksdb::WriteOptions(), "someone else's", "data").ok());
  auto st = check_format(**db, kMarker, dir.path() / "db", /*create=*/true);
  CHECK_REASON(st, Reason::kConflict);
  CHECK(st.error().code == Code::kFailedPrecondition);
  // Nothing was written.
  std::string value;
  CHECK((*db)->Get(rocksdb::ReadOptions(), "!format-test", &value).IsNotFound());
}

TEST_CASE("put_u32, put_u64, get_be: big-endian, so byte order is numeric order") {
  std::string out;
  put_u32(out, 0x01020304U);
  put_u64(out, 0x0a0b0c0d0e0f1011ULL);
  CHECK(out == std::string("\x01\x02\x03\x04\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11", 12));
  CHECK(get_be<std::uint32_t>(out) == 0x01020304U);
  CHECK(get_be<std::uint64_t>(std::string_view(out).substr(4)) == 0x0a0b0c0d0e0f1011ULL);
  std::string neg;
  put_u64(neg, static_cast<std::uint64_t>(std::int64_t{-5}));
  CHECK(get_be<std::int64_t>(neg) == -5);
  std::string a;
  std::string b;
  put_u64(a, 255);
  put_u64(b, 256);
  CHECK(a < b);
}

}  // namespace
}  // namespace vouch::rocksdb_util
