// libFuzzer target: Notary metadata parsing (every role type) and re-serialization.
// Invariants: parsing never crashes; a parsed file re-serializes from the typed model into
// bytes that parse again to the same canonical "signed" object.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tuf/metadata.h"

namespace {

template <typename Parse>
void check(std::string_view bytes, Parse parse) {
  auto m = parse(bytes, vouch::tuf::MetadataLimits{});
  if (!m.ok()) return;
  const std::string again =
      vouch::tuf::serialize_envelope(vouch::tuf::to_json(m->content), m->signatures);
  auto m2 = parse(again, vouch::tuf::MetadataLimits{});
  if (!m2.ok()) __builtin_trap();
  const std::string again2 =
      vouch::tuf::serialize_envelope(vouch::tuf::to_json(m2->content), m2->signatures);
  if (again != again2) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check(bytes, vouch::tuf::parse_root);
  check(bytes, vouch::tuf::parse_targets);
  check(bytes, vouch::tuf::parse_snapshot);
  check(bytes, vouch::tuf::parse_timestamp);
  (void)vouch::tuf::parse_header(bytes);
  return 0;
}
