#include "common/utf8.h"

namespace vouch {
namespace {

bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  const auto avail = static_cast<std::size_t>(end - p);
  if (c >= 0xC2 && c <= 0xDF) {
    return (avail >= 2 && is_cont(p[1])) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (avail < 3) return 0;
    const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;  // no overlong 3-byte forms
    const unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;  // no surrogates
    return (p[1] >= lo && p[1] <= hi && is_cont(p[2])) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (avail < 4) return 0;
    const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;  // no overlong 4-byte forms
    const unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return (p[1] >= lo && p[1] <= hi && is_cont(p[2]) && is_cont(p[3])) ? 4 : 0;
  }
  return 0;  // 0x80..0xC1 (a continuation byte or an overlong lead), 0xF5..0xFF
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p != end) {
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const std::size_t n = utf8_sequence(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

}  // namespace vouch
