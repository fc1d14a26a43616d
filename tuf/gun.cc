#include "tuf/gun.h"

#include <algorithm>
#include <string>

#include "common/utf8.h"

namespace vouch::tuf {

Status validate_gun(std::string_view gun, std::size_t max_bytes) {
  if (gun.empty() || gun.size() > max_bytes) {
    return make_error(Reason::kBadGun, "a GUN must be 1 to " + std::to_string(max_bytes) +
                                           " bytes, got " + std::to_string(gun.size()));
  }
  const std::string shown(gun.substr(0, 128));
  for (char c : gun) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return make_error(Reason::kBadGun, "GUN contains a control character");
    }
    if (c == '*') return make_error(Reason::kBadGun, "GUN \"" + shown + "\" contains '*'");
  }
  // Checked after the control characters, so that `shown` is printable when quoted.
  if (!valid_utf8(gun)) return make_error(Reason::kBadGun, "GUN is not valid UTF-8");
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(gun.find('/', start), gun.size());
    const std::string_view segment = gun.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return make_error(Reason::kBadGun,
                        "GUN \"" + shown +
                            "\" has an empty, \".\" or \"..\" path segment (or a leading or "
                            "trailing '/')");
    }
    if (end == gun.size()) break;
    start = end + 1;
  }
  return ok_status();
}

}  // namespace vouch::tuf
