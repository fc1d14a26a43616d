#pragma once

// Strict UTF-8 (RFC 3629; Unicode 15, table 3-7): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence. The one validator of the
// codebase: JSON strings, GUNs, certificate names, changelist entries and YAML scalars all
// use it.

#include <cstddef>
#include <string_view>

namespace vouch {

// Length (1 to 4) of the well-formed UTF-8 sequence that starts at `p`, or 0 if the bytes
// at [p, end) do not start one. `p` must be before `end`.
std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end);

// True if all of `s` is well-formed UTF-8 (the empty string is).
bool valid_utf8(std::string_view s);

}  // namespace vouch
