// common/fs.h: the owning descriptor and the crash-safe write sequence.

#include "common/fs.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"

namespace vouch {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST_CASE("UniqueFd closes on destruction, on move-assignment and on close(); release keeps it") {
  int raw = -1;
  {
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    REQUIRE(fd.valid());
    raw = fd.get();
    CHECK(is_open(raw));
  }
  CHECK_FALSE(is_open(raw));

  UniqueFd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int first = a.get();
  UniqueFd b(std::move(a));
  CHECK_FALSE(a.valid());
  CHECK(b.get() == first);
  b = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  CHECK(b.get() != first);  // the new descriptor was opened before the old one closed
  CHECK_FALSE(is_open(first));
  CHECK(b.close() == 0);
  CHECK_FALSE(b.valid());
  CHECK(b.close() == 0);  // nothing open: nothing to report

  UniqueFd c(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int kept = c.release();
  CHECK_FALSE(c.valid());
  CHECK(is_open(kept));
  ::close(kept);
}

TEST_CASE("write_file_atomic replaces the contents, mode 0600, and leaves no temporary file") {
  test::TempDir dir;
  const fs::path p = dir.path() / "role.json";
  REQUIRE_OK(write_file_atomic(p, "first"));
  CHECK(read_text(p) == "first");
  REQUIRE_OK(write_file_atomic(p, std::string(100'000, 'x')));
  CHECK(read_text(p) == std::string(100'000, 'x'));
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("write_file_atomic with Replace::kNo refuses an existing file and keeps it") {
  test::TempDir dir;
  const fs::path p = dir.path() / "k.key";
  REQUIRE_OK(write_file_atomic(p, "old", Replace::kNo));
  CHECK_REASON(write_file_atomic(p, "new", Replace::kNo), Reason::kConflict);
  CHECK(read_text(p) == "old");
  CHECK(entries(dir.path()) == 1);
}

TEST_CASE("write_file_atomic into a missing directory is kIo and creates nothing") {
  test::TempDir dir;
  CHECK_REASON(write_file_atomic(dir.path() / "missing" / "f", "x"), Reason::kIo);
  CHECK(entries(dir.path()) == 0);
}

TEST_CASE("write_temp_file keeps the prefix; rename_file moves it, refusing to replace on kNo") {
  test::TempDir dir;
  auto tmp = write_temp_file(dir.path(), ".tmp-", "data");
  REQUIRE_OK(tmp);
  CHECK(tmp->filename().string().starts_with(".tmp-"));
  CHECK(read_text(*tmp) == "data");
  const fs::path dest = dir.path() / "dest";
  REQUIRE_OK(write_file_atomic(dest, "there"));
  CHECK_REASON(rename_file(*tmp, dest, Replace::kNo), Reason::kConflict);
  CHECK(fs::exists(*tmp));  // left for the caller to retry or remove
  REQUIRE_OK(rename_file(*tmp, dest, Replace::kYes));
  CHECK(read_text(dest) == "data");
  REQUIRE_OK(sync_dir(dir.path()));
  CHECK_REASON(sync_dir(dir.path() / "nope"), Reason::kIo);
}

TEST_CASE("write_all writes everything, and names the path on failure") {
  test::TempDir dir;
  const fs::path p = dir.path() / "w";
  {
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    REQUIRE(fd.valid());
    REQUIRE_OK(write_all(fd.get(), std::string(1 << 20, 'a'), p));
  }
  CHECK(fs::file_size(p) == (1u << 20));
  UniqueFd ro(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  CHECK_REASON(write_all(ro.get(), "x", p), Reason::kIo);
}

TEST_CASE("read_all reads to the end up to a limit") {
  test::TempDir dir;
  const fs::path p = dir.path() / "r";
  const std::string data(100'000, 'b');  // more than one read's buffer
  {
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    REQUIRE(fd.valid());
    REQUIRE_OK(write_all(fd.get(), data, p));
  }
  const auto read_with = [&](std::size_t limit) {
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd.valid());
    return read_all(fd.get(), limit);
  };
  auto all = read_with(data.size());
  REQUIRE_OK(all);
  CHECK(*all == data);
  CHECK_REASON(read_with(data.size() - 1), Reason::kTooLarge);
  UniqueFd wo(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
  CHECK_REASON(read_all(wo.get(), 10), Reason::kIo);
}

}  // namespace
}  // namespace vouch
