// libFuzzer target for the multipart/form-data parser (common/net/multipart.h).
//
// Input layout: everything up to the first '\n' is a Content-Type value, the rest the body.
// The body is also parsed with a fixed boundary so that the fuzzer does not have to guess a
// valid Content-Type before it can reach the body parser.
//
// Properties checked on every input:
//  - no crash, throw or sanitizer report;
//  - on success: at least one part, at most max_parts; every part body is a view inside the
//    input and parts appear in input order without overlapping;
//  - the parser is deterministic: a second parse gives the same parts.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/net/multipart.h"

namespace {

void check(std::string_view body, std::string_view boundary,
           const vouch::net::MultipartLimits& limits) {
  auto parts = vouch::net::parse_multipart(body, boundary, limits);
  if (!parts.ok()) {
    if (parts.error().reason != vouch::Reason::kMalformed &&
        parts.error().reason != vouch::Reason::kTooLarge) {
      std::abort();
    }
    return;
  }
  if (parts->empty() || parts->size() > limits.max_parts) std::abort();
  const char* cursor = body.data();
  for (const auto& part : *parts) {
    if (part.body.data() < cursor) std::abort();
    if (part.body.data() + part.body.size() > body.data() + body.size()) std::abort();
    cursor = part.body.data() + part.body.size();
    if (part.headers.size() > limits.max_part_headers) std::abort();
  }
  auto again = vouch::net::parse_multipart(body, boundary, limits);
  if (!again.ok() || again->size() != parts->size()) std::abort();
  for (std::size_t i = 0; i < parts->size(); ++i) {
    if ((*again)[i].body.data() != (*parts)[i].body.data() ||
        (*again)[i].body.size() != (*parts)[i].body.size() ||
        (*again)[i].filename != (*parts)[i].filename || (*again)[i].name != (*parts)[i].name) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  vouch::net::MultipartLimits limits;
  limits.max_parts = 16;
  limits.max_part_headers = 8;
  limits.max_part_header_bytes = 512;

  const std::size_t nl = input.find('\n');
  if (nl != std::string_view::npos) {
    const std::string_view content_type = input.substr(0, nl);
    const std::string_view body = input.substr(nl + 1);
    auto boundary = vouch::net::multipart_boundary(content_type);
    if (boundary.ok()) {
      if (boundary->empty() || boundary->size() > 70) std::abort();
      check(body, *boundary, limits);
    }
  }
  check(input, "b", limits);
  check(input, "5d6f1bb8e2a7c05c47e06a6a0a2c3d1f", limits);
  return 0;
}
