#include <doctest/doctest.h>

#include <memory>

#include "common/result.h"

namespace vouch {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(Reason::kMalformed, "not positive");
  return v;
}

Result<int> doubled(int v) {
  VOUCH_ASSIGN_OR_RETURN(int p, parse_positive(v));
  return p * 2;
}

Status check(int v) {
  VOUCH_RETURN_IF_ERROR(parse_positive(v));
  return {};
}

TEST_CASE("Result carries a value or an error") {
  CHECK(doubled(21).value() == 42);
  auto bad = doubled(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == Reason::kMalformed);
  CHECK(bad.error().code == Code::kInvalidArgument);
  CHECK(check(1).ok());
  CHECK(check(0).error().reason == Reason::kMalformed);
}

TEST_CASE("Result holds move-only values") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  REQUIRE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 7);
}

TEST_CASE("Error::wrap adds context and default codes follow reasons") {
  Error e = make_error(Reason::kNotFound, "no such role");
  e.wrap("targets/releases");
  CHECK(e.message == "targets/releases: no such role");
  CHECK(e.code == Code::kNotFound);
  CHECK(make_error(Reason::kTooLarge, "").code == Code::kResourceExhausted);
  CHECK(to_string(Code::kInvalidArgument) == "INVALID_ARGUMENT");
  CHECK(to_string(Reason::kThresholdNotMet) == "threshold_not_met");
}

}  // namespace
}  // namespace vouch
