#include <doctest/doctest.h>

#include "common/enum_names.h"
#include "common/error.h"

namespace vouch {
namespace {

enum class Color { kRed, kGreen, kBlue };

constexpr EnumName<Color> kColorNames[] = {
    {Color::kRed, "red"}, {Color::kGreen, "green"}, {Color::kBlue, "blue"}};
static_assert(lists_every_value(kColorNames, Color::kBlue));
static_assert(name_of(kColorNames, Color::kGreen) == "green");
static_assert(*value_of(kColorNames, "blue") == Color::kBlue);

TEST_CASE("name_of and value_of read one table both ways") {
  for (const auto& row : kColorNames) {
    CHECK(name_of(kColorNames, row.value) == row.name);
    CHECK(value_of(kColorNames, row.name) == row.value);
  }
  CHECK_FALSE(value_of(kColorNames, "Red").has_value());  // case-sensitive
  CHECK_FALSE(value_of(kColorNames, "").has_value());
  CHECK_FALSE(value_of(kColorNames, "red ").has_value());
}

TEST_CASE("name_of answers the fallback for a value no row has") {
  const auto stray = static_cast<Color>(7);
  CHECK(name_of(kColorNames, stray) == "unknown");
  CHECK(name_of(kColorNames, stray, "containers") == "containers");
}

TEST_CASE("lists_every_value catches a forgotten, repeated or misplaced row") {
  constexpr EnumName<Color> kMissing[] = {{Color::kRed, "red"}, {Color::kGreen, "green"}};
  constexpr EnumName<Color> kRepeated[] = {
      {Color::kRed, "red"}, {Color::kRed, "rouge"}, {Color::kBlue, "blue"}};
  constexpr EnumName<Color> kSwapped[] = {
      {Color::kGreen, "green"}, {Color::kRed, "red"}, {Color::kBlue, "blue"}};
  CHECK_FALSE(lists_every_value(kMissing, Color::kBlue));
  CHECK_FALSE(lists_every_value(kRepeated, Color::kBlue));
  CHECK_FALSE(lists_every_value(kSwapped, Color::kBlue));
  CHECK(lists_every_value(kColorNames, Color::kBlue));
}

TEST_CASE("the error enums' names, which logs and metrics labels carry, are unchanged") {
  CHECK(to_string(Code::kOk) == "OK");
  CHECK(to_string(Code::kUnauthenticated) == "UNAUTHENTICATED");
  CHECK(to_string(static_cast<Code>(99)) == "UNKNOWN");
  CHECK(to_string(Reason::kNone) == "none");
  CHECK(to_string(Reason::kPermissionDenied) == "permission_denied");
  CHECK(to_string(static_cast<Reason>(999)) == "unknown");
}

}  // namespace
}  // namespace vouch
