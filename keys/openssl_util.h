#pragma once

// Private to keys/: RAII owners for OpenSSL handles and small helpers shared by the crypto
// implementation files. Not part of the public API.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/encoding.h"
#include "common/error.h"
#include "common/result.h"

namespace vouch::keys::ossl {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) Fn(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<&EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<&EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<&BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<&BN_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<&BN_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<&ECDSA_SIG_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<&X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<&X509_STORE_CTX_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<&X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<&X509_EXTENSION_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<&ASN1_TIME_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<&ASN1_INTEGER_free>>;
using Pkcs8InfoPtr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Deleter<&PKCS8_PRIV_KEY_INFO_free>>;

// OPENSSL_free is a macro; these are function forms for deleters.
inline void openssl_free_char(char* p) { OPENSSL_free(p); }
inline void openssl_free_uchar(unsigned char* p) { OPENSSL_free(p); }

// Drains OpenSSL's thread-local error queue into one string ("" if empty), so that a later
// call does not report a stale error.
inline std::string drain_errors() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// An Error carrying `what` and the drained OpenSSL error queue.
inline Error openssl_error(Reason reason, std::string_view what) {
  std::string msg(what);
  std::string details = drain_errors();
  if (!details.empty()) {
    msg += ": ";
    msg += details;
  }
  return make_error(reason, std::move(msg));
}

// A read-only memory BIO over `data` (which must outlive the BIO).
inline BioPtr mem_bio(const void* data, std::size_t size) {
  if (size > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data, static_cast<int>(size)));
}

// `x509` as one "CERTIFICATE" PEM block as OpenSSL (and Go's pem.Encode) writes it: 64-column
// base64, "\n" line ends. kInternal if OpenSSL fails.
inline Result<std::string> x509_to_pem(X509* x509) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), x509) != 1) {
    return openssl_error(Reason::kInternal, "PEM_write_bio_X509 failed");
  }
  char* data = nullptr;
  const long len = BIO_ctrl(out.get(), BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
  return std::string(data, static_cast<std::size_t>(len));
}

// One PEM block, strictly: optional whitespace, "-----BEGIN <type>-----", base64 lines, the
// matching END line, optional whitespace, and nothing else (no second block, no text around
// it). PEM headers (RFC 1421 "Key: value" lines) are rejected. Fills `type` and `der`.
inline Status pem_decode_single(std::string_view pem, std::string& type, Bytes& der) {
  const std::size_t first = pem.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || pem.substr(first).rfind("-----BEGIN ", 0) != 0) {
    return make_error(Reason::kMalformed, "PEM: no BEGIN line at the start");
  }
  BioPtr bio = mem_bio(pem.data(), pem.size());
  if (!bio) return make_error(Reason::kTooLarge, "PEM: input too large");
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    return openssl_error(Reason::kMalformed, "PEM: cannot decode block");
  }
  std::unique_ptr<char, Deleter<&openssl_free_char>> name_owner(name);
  std::unique_ptr<char, Deleter<&openssl_free_char>> header_owner(header);
  std::unique_ptr<unsigned char, Deleter<&openssl_free_uchar>> data_owner(data);
  if (header != nullptr && header[0] != '\0') {
    return make_error(Reason::kMalformed, "PEM: headers are not allowed here");
  }
  char rest[256];
  int n = 0;
  while ((n = BIO_read(bio.get(), rest, sizeof rest)) > 0) {
    for (int i = 0; i < n; ++i) {
      const char c = rest[i];
      if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
        return make_error(Reason::kMalformed, "PEM: trailing data after the block");
      }
    }
  }
  type.assign(name);
  der.assign(data, data + len);
  return ok_status();
}

}  // namespace vouch::keys::ossl

namespace vouch::keys {
class PrivateKey;

// Internal access to a PrivateKey's EVP_PKEY for keys/ code that must use it directly
// (certificate signing). Defined in private_key.cc; PrivateKey befriends it.
struct PrivateKeyAccess {
  static EVP_PKEY* pkey(const PrivateKey& key);
};
}  // namespace vouch::keys
