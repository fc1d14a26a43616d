// keys/secret_file.h: a secret read from a file, with its bounds and errors.

#include "keys/secret_file.h"

#include <doctest/doctest.h>

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

}  // namespace
}  // namespace vouch::keys
