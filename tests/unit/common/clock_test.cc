#include <doctest/doctest.h>

#include "common/clock.h"

namespace vouch {
namespace {

using namespace std::chrono_literals;

TimePoint at(std::chrono::sys_days d, std::chrono::microseconds extra = 0us) {
  return TimePoint(std::chrono::duration_cast<std::chrono::microseconds>(d.time_since_epoch()) +
                   extra);
}

TEST_CASE("parse_rfc3339 accepts Go's forms") {
  using namespace std::chrono;
  const auto base = at(sys_days(year{2026} / 11 / 28), 21h + 35min + 5s);
  CHECK(parse_rfc3339("2026-11-28T21:35:05Z").value() == base);
  CHECK(parse_rfc3339("2026-11-28T21:35:05.5Z").value() == base + 500ms);
  CHECK(parse_rfc3339("2026-11-28T21:35:05.123456789Z").value() == base + 123456us);
  CHECK(parse_rfc3339("2026-11-28T16:35:05-05:00").value() == base);
  CHECK(parse_rfc3339("2026-11-29T03:05:05+05:30").value() == base);
  // Notary's own example from its docs.
  CHECK(parse_rfc3339("2116-07-03T18:08:08.41836542-05:00").ok());
  CHECK(parse_rfc3339("9999-12-31T23:59:59Z").ok());
}

TEST_CASE("parse_rfc3339 rejects everything else") {
  for (const char* bad :
       {"", "2026-11-28", "2026-11-28T21:35:05", "2026-11-28t21:35:05Z", "2026-11-28T21:35:05z",
        "2026-13-28T21:35:05Z", "2026-02-30T21:35:05Z", "2026-11-28T24:00:00Z",
        "2026-11-28T21:35:05.Z", "2026-11-28T21:35:05.1234567890Z", "2026-11-28T21:35:05+0500",
        "2026-11-28T21:35:05Z ", " 2026-11-28T21:35:05Z", "2026-11-28T21:35:60Z"}) {
    INFO(bad);
    auto r = parse_rfc3339(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().reason == Reason::kMalformed);
  }
}

TEST_CASE("format_rfc3339 writes Go's RFC3339Nano in UTC and round-trips") {
  using namespace std::chrono;
  const auto t = at(sys_days(year{2026} / 1 / 2), 3h + 4min + 5s);
  CHECK(format_rfc3339(t) == "2026-01-02T03:04:05Z");
  CHECK(format_rfc3339(t + 120ms) == "2026-01-02T03:04:05.12Z");
  CHECK(format_rfc3339(t + 1us) == "2026-01-02T03:04:05.000001Z");
  CHECK(parse_rfc3339(format_rfc3339(t + 987654us)).value() == t + 987654us);
}

TEST_CASE("format_http_date") {
  using namespace std::chrono;
  CHECK(format_http_date(at(sys_days(year{2026} / 11 / 28), 21h + 35min + 5s + 999ms)) ==
        "Sat, 28 Nov 2026 21:35:05 GMT");
}

TEST_CASE("FixedClock stands still until moved") {
  FixedClock clock(TimePoint(1000s));
  CHECK(clock.now() == TimePoint(1000s));
  clock.advance(5s);
  CHECK(clock.now() == TimePoint(1005s));
}

}  // namespace
}  // namespace vouch
