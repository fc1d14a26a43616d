#include "common/clock.h"

#include <array>
#include <cstdio>

namespace vouch {
namespace {

using std::chrono::days;
using std::chrono::microseconds;
using std::chrono::seconds;

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

Error malformed(std::string_view text) {
  std::string shown(text.substr(0, 64));
  return make_error(Reason::kMalformed, "not an RFC 3339 time: \"" + shown + "\"");
}

}  // namespace

TimePoint SystemClock::now() const {
  return std::chrono::floor<microseconds>(std::chrono::system_clock::now());
}

const SystemClock& SystemClock::instance() {
  static const SystemClock clock;
  return clock;
}

Result<TimePoint> parse_rfc3339(std::string_view s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || s[10] != 'T' || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second)) {
    return malformed(s);
  }
  std::size_t pos = 19;
  std::int64_t frac_us = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    std::int64_t scale = 100000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) {
        frac_us += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++n;
      ++pos;
    }
    if (n == 0 || n > 9) return malformed(s);
  }
  int offset_minutes = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return malformed(s);
    }
    offset_minutes = sign * (oh * 60 + om);
    pos += 6;
  } else {
    return malformed(s);
  }
  if (pos != s.size()) return malformed(s);

  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return malformed(s);
  const auto local = std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(hour) +
                     std::chrono::minutes(minute) + seconds(second);
  const auto utc = local - std::chrono::minutes(offset_minutes);
  return TimePoint(std::chrono::duration_cast<microseconds>(utc) + microseconds(frac_us));
}

std::string format_rfc3339(TimePoint t) {
  const auto day_point = std::chrono::floor<days>(t);
  const std::chrono::year_month_day ymd{day_point};
  const std::chrono::hh_mm_ss hms{t - day_point};
  std::array<char, 48> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02d:%02d:%02d",
                        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                        static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  std::string out(buf.data(), static_cast<std::size_t>(n));
  auto us = hms.subseconds().count();
  if (us != 0) {
    std::array<char, 8> frac{};
    std::snprintf(frac.data(), frac.size(), "%06lld", static_cast<long long>(us));
    std::string f(frac.data(), 6);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out.append(".").append(f);
  }
  out.push_back('Z');
  return out;
}

std::string format_http_date(TimePoint t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day_point = std::chrono::floor<days>(t);
  const std::chrono::year_month_day ymd{day_point};
  const std::chrono::weekday wd{day_point};
  const std::chrono::hh_mm_ss hms{std::chrono::floor<seconds>(t - day_point)};
  std::array<char, 40> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "%s, %02u %s %04d %02d:%02d:%02d GMT",
                        kDays[wd.c_encoding()], static_cast<unsigned>(ymd.day()),
                        kMonths[static_cast<unsigned>(ymd.month()) - 1],
                        static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                        static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()));
  return std::string(buf.data(), static_cast<std::size_t>(n));
}

}  // namespace vouch
