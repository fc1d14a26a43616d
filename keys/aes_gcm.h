#pragma once

// AES-256-GCM (OpenSSL), the one implementation for vouch's encrypted key files
// (keys/key_file.h, "VOUCH ENCRYPTED PRIVATE KEY") and vouch-signer's key records
// (signer/aead.h). Pure functions: thread-safe, never throw.

#include <cstddef>

#include "common/encoding.h"
#include "common/result.h"
#include "keys/secret.h"

namespace vouch::keys::aes_gcm {

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kNonceSize = 12;
inline constexpr std::size_t kTagSize = 16;

// Encrypts `plaintext` under `key` (kKeySize bytes) and `nonce` (kNonceSize bytes, never
// reused with the same key: callers draw it from the CSPRNG), authenticating `aad` too.
// Returns ciphertext || kTagSize-byte tag. kInvalidArgument for a wrong key or nonce size,
// kTooLarge for an input over INT_MAX bytes, kInternal if OpenSSL fails.
Result<Bytes> seal(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext);

// Authenticates and decrypts `sealed` = ciphertext || tag. A wrong key, nonce or aad, a
// changed byte, or input shorter than the tag: Reason::kBadPassphrase (GCM cannot tell them
// apart; callers word it for what the key came from). Size errors as seal(). The plaintext
// is returned in zeroizing memory.
Result<SecretBytes> open(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan sealed);

}  // namespace vouch::keys::aes_gcm
