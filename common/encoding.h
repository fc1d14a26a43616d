#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace vouch {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

// Views text as bytes and bytes as text, without copying.
inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_string_view(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lowercase hex. Decoding accepts upper and lower case; an odd length or a non-hex character
// is Reason::kMalformed.
std::string hex_encode(ByteSpan data);
Result<Bytes> hex_decode(std::string_view text);

// Base64 (RFC 4648). `standard` uses +/ with = padding, as Go's encoding/json writes []byte
// (Notary's hashes, signatures and public keys). `url` uses -_ ; it is written without padding
// (JWT, RFC 7515) and decoded with or without it.
// Decoding is strict: no whitespace, no characters outside the alphabet, padding only at the
// end and only where the length needs it, and unused trailing bits must be zero (so that every
// value has exactly one encoding). Violations are Reason::kMalformed.
std::string base64_encode(ByteSpan data);
Result<Bytes> base64_decode(std::string_view text);
std::string base64url_encode(ByteSpan data);
Result<Bytes> base64url_decode(std::string_view text);

// Compares two byte strings in time that depends only on their lengths, not on their contents.
// For MACs, tokens and other secrets. Different lengths compare unequal.
bool constant_time_equal(ByteSpan a, ByteSpan b);

}  // namespace vouch
