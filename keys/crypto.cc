#include "keys/crypto.h"

#include <algorithm>
#include <cstdlib>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "keys/openssl_util.h"

namespace vouch::keys {
namespace {

// One-shot EVP digest. EVP_Digest only fails on allocation failure or an unavailable
// provider, both impossible states for SHA-2 in a working process: abort rather than return
// a wrong hash.
template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, ByteSpan data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) {
    std::abort();
  }
  return out;
}

}  // namespace

Sha256Digest sha256(ByteSpan data) { return digest<32>(EVP_sha256(), data); }

Sha512Digest sha512(ByteSpan data) { return digest<64>(EVP_sha512(), data); }

std::string sha256_hex(ByteSpan data) {
  const Sha256Digest d = sha256(data);
  return hex_encode(d);
}

Status random_bytes(std::span<std::uint8_t> out) {
  // RAND_bytes takes an int length: fill in chunks.
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min<std::size_t>(out.size() - done, 1U << 30);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      return ossl::openssl_error(Reason::kInternal, "RAND_bytes failed");
    }
    done += n;
  }
  return ok_status();
}

}  // namespace vouch::keys
