// libFuzzer target for the AdmissionReview v1 codec (verifier/admission.h): any bytes through
// parse_admission_review, and for every review it accepts, the allowed (warnings + JSON
// Patch) and denied (status message) responses built from it through json_patch() and
// encode_admission_review(), checked as tests/fuzz/verifier_invariants.h describes.
//
// Each input runs twice: with the default limits, and with small ones so that the depth,
// image count and image length limits are reached by small inputs too. Traps on a violation.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/verifier_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace inv = vouch::verifier::invariants;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  inv::trap_on(inv::check_admission(body).violation);

  vouch::verifier::AdmissionLimits small;
  small.max_body_bytes = 16 * 1024;
  small.max_depth = 12;
  small.max_images = 3;
  small.max_image_bytes = 48;
  inv::trap_on(inv::check_admission(body, small).violation);
  return 0;
}
