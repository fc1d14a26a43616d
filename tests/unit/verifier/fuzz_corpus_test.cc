// Replays the seed corpora of the verifier's fuzz targets (tests/fuzz/corpus/fuzz_admission,
// fuzz_image_ref, fuzz_policy) through the same entry points and the same invariants
// (tests/fuzz/verifier_invariants.h), so that `make test` checks them without clang or
// libFuzzer. A seed whose file name starts with "invalid-" must be refused; every other seed
// must be accepted (a policy as YAML when its name ends in .yaml, as JSON when in .json), and
// no seed may break an invariant.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/verifier_invariants.h"

namespace vouch::verifier {
namespace {

namespace fs = std::filesystem;
namespace inv = invariants;

struct Seed {
  std::string name;
  std::string bytes;
  bool invalid = false;
};

std::vector<Seed> seeds(const std::string& target) {
  const fs::path dir = fs::path(VOUCH_FUZZ_CORPUS) / target;
  std::vector<Seed> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    Seed s;
    s.name = entry.path().filename().string();
    s.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    s.invalid = s.name.starts_with("invalid-");
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const Seed& a, const Seed& b) { return a.name < b.name; });
  return out;
}

TEST_CASE("fuzz corpus: image reference seeds parse as named and keep the invariants") {
  const auto corpus = seeds("fuzz_image_ref");
  REQUIRE(corpus.size() >= 10);
  for (const Seed& seed : corpus) {
    INFO("seed " << seed.name << ": " << seed.bytes);
    const inv::Outcome outcome = inv::check_image_ref(seed.bytes);
    CHECK(outcome.violation == "");
    CHECK(outcome.accepted == !seed.invalid);
  }
}

TEST_CASE("fuzz corpus: AdmissionReview seeds parse as named and their responses encode") {
  const auto corpus = seeds("fuzz_admission");
  REQUIRE(corpus.size() >= 5);
  AdmissionLimits small;  // the fuzz target's second setting
  small.max_body_bytes = 16 * 1024;
  small.max_depth = 12;
  small.max_images = 3;
  small.max_image_bytes = 48;
  for (const Seed& seed : corpus) {
    INFO("seed " << seed.name);
    const inv::Outcome outcome = inv::check_admission(seed.bytes);
    CHECK(outcome.violation == "");
    CHECK(outcome.accepted == !seed.invalid);
    CHECK(inv::check_admission(seed.bytes, small).violation == "");
  }
}

TEST_CASE("fuzz corpus: policy seeds parse as named with a stable version and model") {
  const auto corpus = seeds("fuzz_policy");
  REQUIRE(corpus.size() >= 5);
  for (const Seed& seed : corpus) {
    INFO("seed " << seed.name);
    const inv::PolicyOutcome outcome = inv::check_policy_text(seed.bytes);
    CHECK(outcome.violation == "");
    if (seed.name.ends_with(".yaml")) CHECK(outcome.yaml_accepted == !seed.invalid);
    if (seed.name.ends_with(".json")) CHECK(outcome.json_accepted == !seed.invalid);
  }
}

// The invariants themselves must be able to fail, or the fuzz targets check nothing.
TEST_CASE("fuzz corpus: the invariants catch a broken reference, pointer and policy model") {
  auto ref = parse_image_ref("registry.example.com/app:v1");
  REQUIRE(ref);
  ImageRef broken = *ref;
  broken.path = "App";
  CHECK(inv::image_ref_violation(broken) != "");
  broken = *ref;
  broken.digest = "sha256:00";
  broken.digest_hex = "00";
  CHECK(inv::image_ref_violation(broken) != "");
  CHECK(inv::image_ref_violation(*ref) == "");

  const std::string body =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE",)"
      R"("object":{"spec":{"containers":[{"name":"a","image":"nginx"}]}}}})";
  auto request = parse_admission_review(body);
  REQUIRE(request);
  CHECK(inv::admission_violation(body, *request, {}) == "");
  AdmissionRequest moved = *request;
  moved.images[0].pointer = "/spec/initContainers/0/image";
  CHECK(inv::admission_violation(body, moved, {}) != "");
  AdmissionRequest renamed = *request;
  renamed.images[0].image = "busybox";
  CHECK(inv::admission_violation(body, renamed, {}) != "");

  auto policy = Policy::parse("rules: [{pattern: a.io/x, allow: true}]", PolicyFormat::kYaml);
  REQUIRE(policy);
  const std::string model = inv::detail::summary(*policy);
  CHECK(inv::detail::same_policy(R"({"rules": [{"pattern": "a.io/x", "allow": true}]})",
                                 PolicyFormat::kJson, *policy, model, "JSON") == "");
  CHECK(inv::detail::same_policy("rules: [{pattern: a.io/x, deny: true}]", PolicyFormat::kYaml,
                                 *policy, model, "another action") != "");
  CHECK(inv::detail::same_policy("rules: [{pattern: a.io/y, allow: true}]", PolicyFormat::kYaml,
                                 *policy, model, "another pattern") != "");

  CHECK_FALSE(inv::detail::truncated_ok("abcdef", "abc", 5));
  CHECK(inv::detail::truncated_ok("abcdef", "ab...", 5));
  CHECK_FALSE(inv::detail::truncated_ok("ab\xc3\xa9" "cdef", "ab\xc3...", 6));  // split
  CHECK(inv::detail::truncated_ok("ab\xc3\xa9" "cdef", "ab...", 6));
}

}  // namespace
}  // namespace vouch::verifier
