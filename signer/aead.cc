#include "signer/aead.h"

#include "keys/aes_gcm.h"

namespace vouch::signer::aead {

static_assert(kKeySize == keys::aes_gcm::kKeySize && kNonceSize == keys::aes_gcm::kNonceSize &&
              kTagSize == keys::aes_gcm::kTagSize);

Result<Bytes> seal(const keys::SecretBytes& key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext) {
  return keys::aes_gcm::seal(key.span(), nonce, aad, plaintext);
}

Result<keys::SecretBytes> open(const keys::SecretBytes& key, ByteSpan nonce, ByteSpan aad,
                               ByteSpan sealed) {
  return keys::aes_gcm::open(key.span(), nonce, aad, sealed);
}

}  // namespace vouch::signer::aead
