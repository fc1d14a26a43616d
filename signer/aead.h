#pragma once

// AES-256-GCM for vouch-signer's key records over keys/aes_gcm.h (which vouch's key files
// share), taking the key as SecretBytes. Internal to signer/.
// Pure functions, thread-safe, never throw.

#include <cstddef>

#include "common/encoding.h"
#include "common/result.h"
#include "keys/secret.h"

namespace vouch::signer::aead {

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::string_view kCipherName = "aes-256-gcm";

// Encrypts `plaintext` under `key` (kKeySize bytes) and `nonce` (kNonceSize bytes, never
// reused with the same key: callers draw it from the CSPRNG) with associated data `aad`.
// Returns ciphertext || 16-byte tag. kInvalidArgument for wrong key/nonce sizes; kInternal
// if OpenSSL fails.
Result<Bytes> seal(const keys::SecretBytes& key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext);

// Decrypts and authenticates ciphertext || tag. A wrong key, nonce, aad or any changed byte
// -> Reason::kBadPassphrase (GCM cannot tell them apart; callers that have already verified
// the key re-label it). The plaintext is returned in secure memory.
Result<keys::SecretBytes> open(const keys::SecretBytes& key, ByteSpan nonce, ByteSpan aad,
                               ByteSpan sealed);

}  // namespace vouch::signer::aead
