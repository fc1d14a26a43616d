#pragma once

// SWAR ("SIMD within a register") byte tests on 8 bytes at a time: the fast paths of the JSON
// scanner (tuf/json.cc) and of the canonical JSON writer (tuf/canonical_json.cc). Internal to
// tuf/. Pure inline functions; thread-safe.

#include <cstdint>
#include <cstring>

namespace vouch::tuf::swar {

inline constexpr std::uint64_t kOnes = 0x0101010101010101u;
inline constexpr std::uint64_t kHighs = 0x8080808080808080u;

// The 8 bytes at p (any alignment) as one word, in memory order.
inline std::uint64_t load8(const void* p) {
  std::uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Non-zero if and only if some byte of v equals c (exact for "any"; which bits are set beyond
// the first match is not meaningful). Only top bits (kHighs) can be set.
inline std::uint64_t has_byte(std::uint64_t v, unsigned char c) {
  const std::uint64_t x = v ^ (kOnes * c);
  return (x - kOnes) & ~x & kHighs;
}

}  // namespace vouch::tuf::swar
