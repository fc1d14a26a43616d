// libFuzzer target for image references (verifier/image_ref.h): parse_image_ref on any text,
// then the normalization invariants of tests/fuzz/verifier_invariants.h (the normalized form
// re-parses to the same components and is a fixed point; pull_ref() and the unambiguous
// familiar() form read back the same; digest and name bounds). Traps on a violation.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/verifier_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace inv = vouch::verifier::invariants;
  inv::trap_on(inv::check_image_ref(text).violation);
  return 0;
}
