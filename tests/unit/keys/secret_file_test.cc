// keys/secret_file.h: a secret read from a file, with its bounds and errors.

#include "keys/secret_file.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/check_macros.h"
#include "tests/support/temp_dir.h"

namespace vouch::keys {
namespace {

using test::TempDir;

TEST_CASE("read_secret_file: the whole file, up to the bound") {
  TempDir dir;
  const std::string text = std::string(5000, 'k') + "\n-----END PRIVATE KEY-----\n";
  std::ofstream(dir.path() / "key.pem") << text;
  auto secret = read_secret_file(dir.path() / "key.pem");
  REQUIRE_OK(secret);
  CHECK(secret->view() == text);
  auto exact = read_secret_file(dir.path() / "key.pem", text.size());
  REQUIRE_OK(exact);
  CHECK(exact->size() == text.size());
  std::ofstream(dir.path() / "empty");
  auto empty = read_secret_file(dir.path() / "empty");
  REQUIRE_OK(empty);
  CHECK(empty->empty());
}

TEST_CASE("read_secret_file: missing, a directory, too large") {
  TempDir dir;
  CHECK_REASON(read_secret_file(dir.path() / "absent"), Reason::kNotFound);
  CHECK_REASON(read_secret_file(dir.path()), Reason::kIo);
  std::ofstream(dir.path() / "big") << std::string(101, 'x');
  CHECK_REASON(read_secret_file(dir.path() / "big", 100), Reason::kTooLarge);
  // The error names the file, never its contents.
  std::ofstream(dir.path() / "secret") << "hunter2hunter2";
  auto large = read_secret_file(dir.path() / "secret", 4);
  REQUIRE_FALSE(large.ok());
  CHECK(large.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("read_secret_bytes: FileAccess decides whether group or others may read") {
  TempDir dir;
  const auto f = dir.path() / "tls.key";
  std::ofstream(f) << "key";
  std::filesystem::permissions(f, std::filesystem::perms(0644));
  auto any = read_secret_bytes(f, "TLS key", 16, FileAccess::kAny);
  REQUIRE_OK(any);
  CHECK(any->size() == 3);
  CHECK_REASON(read_secret_bytes(f, "TLS key", 16, FileAccess::kOwnerOnly), Reason::kInsecureFile);
  std::filesystem::permissions(f, std::filesystem::perms(0600));
  REQUIRE_OK(read_secret_bytes(f, "TLS key", 16, FileAccess::kOwnerOnly));
}

// A FIFO is refused without waiting for a writer, whichever the access rule (the key store's
// reader used to block in open()).
TEST_CASE("read_secret_bytes: a FIFO is not a regular file, and is not waited on") {
  TempDir dir;
  const auto fifo = dir.path() / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_REASON(read_secret_bytes(fifo, "key file", 16, FileAccess::kOwnerOnly), Reason::kIo);
  CHECK_REASON(read_secret_file(fifo), Reason::kIo);
}

}  // namespace
}  // namespace vouch::keys
