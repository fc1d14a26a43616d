#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace vouch {

// Wall-clock instants at microsecond resolution. Microseconds in an int64 cover every year
// RFC 3339 can write (0000-9999), which nanoseconds (Go's resolution) would not; metadata
// expiry needs no finer resolution.
using TimePoint = std::chrono::sys_time<std::chrono::microseconds>;

// An injectable source of the current time. Code that checks expiry takes a Clock (or one
// fixed TimePoint read from it) instead of calling the system clock itself.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The real wall clock. Thread-safe.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  // A process-wide instance.
  static const SystemClock& instance();
};

// A clock that stands still until moved; for tests and for replaying a verification at a
// fixed reference time. Thread-safe.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : t_(t.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(std::chrono::microseconds(t_.load())); }
  void set(TimePoint t) { t_.store(t.time_since_epoch().count()); }
  void advance(std::chrono::microseconds d) { t_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> t_;
};

// RFC 3339 timestamps as TUF metadata carries them ("expires"), in the form Go's time package
// reads and writes: "2006-01-02T15:04:05.999999999Z07:00". Parsing accepts 'Z' or a numeric
// offset (±hh:mm) and 0 to 9 fractional digits (beyond microseconds they are truncated); it
// rejects anything else, including lowercase 't'/'z', missing seconds and out-of-range fields
// (Reason::kMalformed).
Result<TimePoint> parse_rfc3339(std::string_view text);

// Formats as Go's time.RFC3339Nano does in UTC: "2026-11-28T21:35:05.123456Z", trailing zeros
// of the fraction removed and no fraction at all when it is zero.
std::string format_rfc3339(TimePoint t);

// Formats as HTTP dates (RFC 7231 IMF-fixdate): "Sat, 28 Nov 2026 21:35:05 GMT".
std::string format_http_date(TimePoint t);

}  // namespace vouch
