// libFuzzer target for the verifier's policy (verifier/policy.h, verifier/yaml_json.h): any
// text parsed as a YAML policy and as a JSON policy. Policy::parse must agree with
// check_policy(); a valid policy's version and model must be stable when parsed twice, when
// built from the parsed document, and when the document is re-encoded as JSON and as YAML;
// trust_for() and match() must be consistent with the model (tests/fuzz/verifier_invariants.h).
// Traps on a violation.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/verifier_invariants.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace inv = vouch::verifier::invariants;
  inv::trap_on(inv::check_policy_text(text).violation);
  return 0;
}
