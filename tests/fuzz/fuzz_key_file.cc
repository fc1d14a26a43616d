// libFuzzer target: PEM key files (Notary's PKCS#8 PBES2, vouch's format, plain keys).
// Parsing and decryption of hostile input must fail cleanly; KDF costs read from the file are
// capped low here so that the fuzzer explores formats instead of spending time deriving keys.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "keys/key_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)vouch::keys::inspect_key_file(text);
  (void)vouch::keys::parse_pem_block(text);
  vouch::keys::KdfLimits limits;
  limits.max_pbkdf2_iterations = 16;
  limits.max_argon2_memory_kib = 64;
  limits.max_argon2_iterations = 1;
  limits.max_argon2_parallelism = 1;
  const vouch::keys::SecretString passphrase("fuzz-passphrase");
  (void)vouch::keys::decrypt_key_file(text, passphrase, limits);
  return 0;
}
