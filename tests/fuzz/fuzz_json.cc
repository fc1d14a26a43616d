// libFuzzer target for the strict JSON parser and the canonical encoder (tuf/json.h).
//
// Properties checked on every input:
//  - parse never crashes, throws, or recurses past max_depth (ASan/UBSan watch the rest);
//  - if it succeeds, canonical(value) re-parses to an equal value, and canonical() is then a
//    fixed point: canonical(parse(canonical(v))) == canonical(v).
// The one allowed exception: "\u0001" parses to a raw 0x01 byte, which Notary's canonical form
// writes raw and RFC 8259 (so our strict parser) does not accept raw in a string.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tuf/json.h"

namespace {

bool has_control_byte(std::string_view s) {
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace json = vouch::tuf::json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = json::parse(text);
  if (!parsed.ok()) return 0;

  const std::string once = json::canonical(*parsed);
  auto again = json::parse(once);
  if (!again.ok()) {
    // Notary's canonical form writes control bytes raw, and RFC 8259 forbids them raw in
    // strings: that is the only way a canonical document may fail to re-parse.
    if (!has_control_byte(once) || again.error().reason != vouch::Reason::kMalformed) {
      std::abort();
    }
    return 0;
  }
  if (!(*again == *parsed)) std::abort();
  if (json::canonical(*again) != once) std::abort();
  return 0;
}
