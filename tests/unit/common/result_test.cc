#include <doctest/doctest.h>

#include <memory>
#include <type_traits>
#include <utility>

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

// A richer error, as tuf::UpdateError is: BasicResult over it converts plain Errors through
// its explicit constructor and keeps its own field.
struct TaggedError : Error {
  int tag = 0;
  TaggedError() = default;
  TaggedError(int t, Error e) : Error(std::move(e)), tag(t) {}
  explicit TaggedError(Error e) : Error(std::move(e)), tag(-1) {}
};

BasicResult<int, TaggedError> tagged(int v) {
  if (v == 0) return TaggedError(7, make_error(Reason::kBadRole, "zero"));
  VOUCH_ASSIGN_OR_RETURN(int p, parse_positive(v));  // a plain Error converts
  return p;
}

BasicResult<void, TaggedError> tagged_status(int v) {
  VOUCH_RETURN_IF_ERROR(tagged(v));  // keeps the tag
  return {};
}

TEST_CASE("BasicResult over a richer error keeps it and converts plain errors") {
  CHECK(tagged(3).value() == 3);
  CHECK(tagged(0).error().tag == 7);
  CHECK(tagged(0).error().reason == Reason::kBadRole);
  CHECK(tagged(-1).error().tag == -1);
  CHECK(tagged(-1).error().reason == Reason::kMalformed);
  CHECK(tagged_status(3).ok());
  CHECK(tagged_status(0).error().tag == 7);
  CHECK(tagged_status(-2).error().tag == -1);
  static_assert(std::is_same_v<Result<int>, BasicResult<int, Error>>);
  static_assert(std::is_same_v<Status, BasicResult<void, Error>>);
}

}  // namespace
}  // namespace vouch
