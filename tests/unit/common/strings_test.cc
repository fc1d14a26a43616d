#include <doctest/doctest.h>

#include "common/strings.h"

namespace vouch {
namespace {

TEST_CASE("join puts the separator between items only") {
  CHECK(join({}, ", ").empty());
  CHECK(join({"a"}, ", ") == "a");
  CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(join({"a", "b"}, "\n\t- ") == "a\n\t- b");
  CHECK(join({"a", "b"}, "") == "ab");
  // Leading empty items add no separator; later ones do.
  CHECK(join({"", "b"}, ",") == "b");
  CHECK(join({"a", "", "c"}, ",") == "a,,c");
}

TEST_CASE("printable bounds a peer's text and replaces control bytes") {
  CHECK(printable("plain text", 512) == "plain text");
  CHECK(printable("a\nb\tc\x7f\x01", 512) == "a?b?c??");
  CHECK(printable("abcdef", 3) == "abc...");
  CHECK(printable("abc", 3) == "abc");
  CHECK(printable("", 0).empty());
  CHECK(printable(std::string(600, 'x')) == std::string(512, 'x') + "...");
  // UTF-8 and other bytes >= 0x80 pass unchanged.
  CHECK(printable("gr\xc3\xbc\xc3\x9f" "e", 512) == "gr\xc3\xbc\xc3\x9f" "e");
}

}  // namespace
}  // namespace vouch
