#include "keys/root_certificate.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/utf8.h"
#include "keys/crypto.h"
#include "keys/openssl_util.h"

namespace vouch::keys {
namespace {

bool printable_string_ok(std::string_view s) {
  // ASN.1 PrintableString alphabet; Go's x509 writes a name as PrintableString when it fits
  // and as UTF8String otherwise. We do the same so our certificates match Notary's byte shape.
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

Status add_extension(X509* x509, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
  ossl::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(x509, ext.get(), -1) != 1) {
    return ossl::openssl_error(Reason::kInternal, "cannot add certificate extension");
  }
  return ok_status();
}

std::time_t to_time_t(TimePoint t) {
  return static_cast<std::time_t>(
      std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count());
}

}  // namespace

Result<Certificate> make_root_certificate(const PrivateKey& key, std::string_view gun,
                                          TimePoint not_before, TimePoint not_after) {
  if (key.type() != KeyType::kEcdsa && key.type() != KeyType::kRsa) {
    return make_error(Reason::kUnsupportedAlgorithm, "root certificates need an ecdsa or rsa key");
  }
  if (gun.empty() || gun.size() > 255 || !valid_utf8(gun)) {
    return make_error(Reason::kBadGun, "GUN is empty, too long or not UTF-8");
  }
  EVP_PKEY* pkey = PrivateKeyAccess::pkey(key);

  ossl::X509Ptr x509(X509_new());
  if (!x509 || X509_set_version(x509.get(), X509_VERSION_3) != 1) {
    return ossl::openssl_error(Reason::kInternal, "X509_new failed");
  }
  // utils.NewCertificate: a random serial in [0, 2^128).
  std::array<std::uint8_t, 16> serial{};
  do {
    VOUCH_RETURN_IF_ERROR(random_bytes(serial));
  } while (std::all_of(serial.begin(), serial.end(), [](std::uint8_t b) { return b == 0; }));
  ossl::BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x509.get())) == nullptr) {
    return ossl::openssl_error(Reason::kInternal, "cannot set serial");
  }

  ossl::X509NamePtr name(X509_NAME_new());
  const int str_type = printable_string_ok(gun) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
  if (!name ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, str_type,
                                 reinterpret_cast<const unsigned char*>(gun.data()),
                                 static_cast<int>(gun.size()), -1, 0) != 1 ||
      X509_set_subject_name(x509.get(), name.get()) != 1 ||
      X509_set_issuer_name(x509.get(), name.get()) != 1) {
    return ossl::openssl_error(Reason::kInternal, "cannot set certificate names");
  }

  // Go writes UTCTime for years 1950-2049 and GeneralizedTime otherwise; so does ASN1_TIME_set.
  if (ASN1_TIME_set(X509_getm_notBefore(x509.get()), to_time_t(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x509.get()), to_time_t(not_after)) == nullptr) {
    return ossl::openssl_error(Reason::kInternal, "cannot set certificate validity");
  }
  if (X509_set_pubkey(x509.get(), pkey) != 1) {
    return ossl::openssl_error(Reason::kInternal, "cannot set certificate key");
  }
  // utils.NewCertificate's template, in the order Go's x509 writes the extensions:
  // KeyUsage = KeyEncipherment | DigitalSignature (critical), ExtKeyUsage = CodeSigning,
  // BasicConstraintsValid with IsCA false (critical, CA:FALSE).
  VOUCH_RETURN_IF_ERROR(
      add_extension(x509.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  VOUCH_RETURN_IF_ERROR(add_extension(x509.get(), NID_ext_key_usage, "codeSigning"));
  VOUCH_RETURN_IF_ERROR(add_extension(x509.get(), NID_basic_constraints, "critical,CA:FALSE"));

  // ECDSA with SHA-256, or sha256WithRSAEncryption (PKCS#1 v1.5), as Go chooses for these keys.
  if (X509_sign(x509.get(), pkey, EVP_sha256()) <= 0) {
    return ossl::openssl_error(Reason::kInternal, "X509_sign failed");
  }

  VOUCH_ASSIGN_OR_RETURN(const std::string pem, ossl::x509_to_pem(x509.get()));
  // Read back through the one parser, so a made certificate is described as a read one is.
  return Certificate::from_pem(pem);
}

}  // namespace vouch::keys
