#include "keys/aes_gcm.h"

#include <openssl/evp.h>

#include <array>
#include <climits>
#include <memory>

namespace vouch::keys::aes_gcm {
namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

Status check_sizes(ByteSpan key, ByteSpan nonce, std::size_t data_size, std::size_t aad_size) {
  if (key.size() != kKeySize || nonce.size() != kNonceSize) {
    return make_error(Code::kInvalidArgument, Reason::kInternal,
                      "AES-GCM: wrong key or nonce size");
  }
  if (data_size > static_cast<std::size_t>(INT_MAX) ||
      aad_size > static_cast<std::size_t>(INT_MAX)) {
    return make_error(Reason::kTooLarge, "AES-GCM: input too large");
  }
  return ok_status();
}

Error openssl_error(const char* what) {
  return make_error(Reason::kInternal, std::string("AES-GCM: OpenSSL failed: ") + what);
}

// A context for AES-256-GCM in direction `encrypt` with key, nonce and aad fed in.
Result<CtxPtr> start(bool encrypt, ByteSpan key, ByteSpan nonce, ByteSpan aad) {
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return openssl_error("EVP_CIPHER_CTX_new");
  const int enc = encrypt ? 1 : 0;
  int len = 0;
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceSize),
                          nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce.data(), enc) != 1 ||
      (!aad.empty() &&
       EVP_CipherUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) !=
           1)) {
    return openssl_error("init");
  }
  return ctx;
}

}  // namespace

Result<Bytes> seal(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan plaintext) {
  VOUCH_RETURN_IF_ERROR(check_sizes(key, nonce, plaintext.size(), aad.size()));
  VOUCH_ASSIGN_OR_RETURN(CtxPtr ctx, start(/*encrypt=*/true, key, nonce, aad));
  Bytes out(plaintext.size() + kTagSize);
  int n1 = 0;
  int n2 = 0;
  if (EVP_EncryptUpdate(ctx.get(), out.data(), &n1, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) {
    return openssl_error("encrypt");
  }
  const auto ct_len = static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2);
  if (ct_len != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          out.data() + ct_len) != 1) {
    return openssl_error("tag");
  }
  return out;
}

Result<SecretBytes> open(ByteSpan key, ByteSpan nonce, ByteSpan aad, ByteSpan sealed) {
  if (sealed.size() < kTagSize) {
    return make_error(Reason::kBadPassphrase, "AES-GCM: ciphertext shorter than the tag");
  }
  const std::size_t n = sealed.size() - kTagSize;
  VOUCH_RETURN_IF_ERROR(check_sizes(key, nonce, n, aad.size()));
  VOUCH_ASSIGN_OR_RETURN(CtxPtr ctx, start(/*encrypt=*/false, key, nonce, aad));
  // OpenSSL wants a mutable pointer for the expected tag; copy it.
  std::array<unsigned char, kTagSize> tag{};
  for (std::size_t i = 0; i < kTagSize; ++i) tag[i] = sealed[n + i];
  // One spare block: EVP_DecryptFinal_ex writes nothing for GCM, but may be handed room.
  SecretBytes out(n + 16);
  int n1 = 0;
  int n2 = 0;
  if (EVP_DecryptUpdate(ctx.get(), out.data(), &n1, sealed.data(), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          tag.data()) != 1) {
    return openssl_error("decrypt");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n1, &n2) != 1) {
    return make_error(Reason::kBadPassphrase, "AES-GCM: authentication failed");
  }
  out.resize(static_cast<std::size_t>(n1) + static_cast<std::size_t>(n2));
  return out;
}

}  // namespace vouch::keys::aes_gcm
