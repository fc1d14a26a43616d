#pragma once

// YAML -> the strict JSON model of tuf/json.h, so that a policy written in YAML is validated
// by the same code as one written in JSON (verifier/policy.h). The one adapter over yaml-cpp:
// its exceptions stop here.

#include <cstddef>
#include <string_view>

#include "common/result.h"
#include "tuf/json.h"

namespace vouch::verifier {

// Limits on a YAML (or JSON) policy document. Exceeding one is kTooLarge / kTooDeep.
struct DocumentLimits {
  // The whole text. Policies with embedded PEM keys for a few hundred members stay far below.
  std::size_t max_bytes = 4u << 20;
  // Nesting of mappings and sequences (a policy needs 6).
  std::size_t max_depth = 32;
  // Values in the resulting document, every expansion of a YAML alias counted again (so that
  // a "billion laughs" document stops here instead of exhausting memory).
  std::size_t max_values = 200'000;
};

// Converts one YAML document into a JSON value:
//  - mappings -> objects (keys must be scalars; a repeated key is kDuplicateKey, as in JSON),
//    sequences -> arrays;
//  - quoted scalars and scalars tagged !!str -> strings;
//  - plain scalars by the YAML 1.2 core schema: null/Null/NULL/~ and empty -> null,
//    true/True/TRUE/false/False/FALSE -> booleans, [-+]?[0-9]+ that fits int64 -> integers,
//    anything else (1.5, yes, 0x10, ...) -> the string as written;
//  - anchors and aliases are expanded (counted against max_values);
//  - other explicit tags (!!binary, !custom, ...) are kMalformed.
// Errors name the line and column (1-based). An empty input or one with more than one
// document is kMalformed. Never throws.
Result<tuf::json::Value> yaml_to_json(std::string_view text, const DocumentLimits& limits = {});

}  // namespace vouch::verifier
