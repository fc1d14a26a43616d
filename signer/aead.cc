#include "signer/aead.h"

#include <openssl/evp.h>

#include <climits>
#include <memory>

namespace vouch::signer::aead {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

Status check_sizes(const keys::SecretBytes& key, ByteSpan nonce, std::size_t data_size,
                   std::size_t aad_size) {
  if (key.size() != kKeySize || nonce.size() != kNonceSize) {
    return make_error(Code::kInvalidArgument, Reason::kInternal, "aead: wrong key or nonce size");
  }
  if (data_size > static_cast<std::size_t>(INT_MAX) ||
      aad_size > static_cast<std::size_t>(INT_MAX)) {
    return make_error(Reason::kTooLarge, "aead: input too large");
  }
  return ok_status();
}

}  // namespace

Result<Bytes> seal(const keys::SecretBytes& key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext) {
  VOUCH_RETURN_IF_ERROR(check_sizes(key, nonce, plaintext.size(), aad.size()));
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(Reason::kInternal, "aead: out of memory");
  Bytes out(plaintext.size() + kTagSize);
  int len = 0;
  int total = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1) {
    return make_error(Reason::kInternal, "aead: encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          out.data() + plaintext.size()) != 1) {
    return make_error(Reason::kInternal, "aead: encryption failed");
  }
  return out;
}

Result<keys::SecretBytes> open(const keys::SecretBytes& key, ByteSpan nonce, ByteSpan aad,
                               ByteSpan sealed) {
  if (sealed.size() < kTagSize) {
    return make_error(Reason::kBadPassphrase, "aead: ciphertext too short");
  }
  const std::size_t n = sealed.size() - kTagSize;
  VOUCH_RETURN_IF_ERROR(check_sizes(key, nonce, n, aad.size()));
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return make_error(Reason::kInternal, "aead: out of memory");
  keys::SecretBytes out(n);
  int len = 0;
  // OpenSSL wants a mutable pointer for the expected tag; copy it.
  unsigned char tag[kTagSize];
  for (std::size_t i = 0; i < kTagSize; ++i) tag[i] = sealed[n + i];
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data()) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data(), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize), tag) != 1) {
    return make_error(Reason::kInternal, "aead: decryption failed");
  }
  const int prefix = len;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + prefix, &len) != 1) {
    return make_error(Reason::kBadPassphrase, "aead: authentication failed");
  }
  return out;
}

}  // namespace vouch::signer::aead
