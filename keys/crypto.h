#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"

namespace vouch::keys {

// Hashes (OpenSSL). Thread-safe.
using Sha256Digest = std::array<std::uint8_t, 32>;
using Sha512Digest = std::array<std::uint8_t, 64>;
Sha256Digest sha256(ByteSpan data);
Sha512Digest sha512(ByteSpan data);
std::string sha256_hex(ByteSpan data);

// Fills `out` with bytes from OpenSSL's CSPRNG. Fails only if the RNG cannot be seeded.
Status random_bytes(std::span<std::uint8_t> out);

}  // namespace vouch::keys
