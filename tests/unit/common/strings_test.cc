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

}  // namespace
}  // namespace vouch
