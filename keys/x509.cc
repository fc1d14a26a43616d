#include "keys/x509.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "keys/crypto.h"
#include "keys/openssl_util.h"
#include "keys/private_key.h"
#include "keys/public_key.h"

namespace vouch::keys {

struct Certificate::State {
  std::string pem;
  std::string common_name;
  TimePoint not_before;
  TimePoint not_after;
  Bytes spki_der;
  bool sha1_signed = false;
  // The signature's digest is one Notary accepts but we consider broken (MD5, MD4, MD2).
  bool weak_digest = false;
  bool is_rsa = false;
  int rsa_bits = 0;
};

namespace {

Result<TimePoint> to_time_point(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return ossl::openssl_error(Reason::kMalformed, "bad certificate validity time");
  }
  using namespace std::chrono;
  const year_month_day ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                           day{static_cast<unsigned>(tm.tm_mday)}};
  if (!ymd.ok()) return make_error(Reason::kMalformed, "bad certificate validity time");
  const sys_seconds s = sys_days(ymd) + hours(tm.tm_hour) + minutes(tm.tm_min) + seconds(tm.tm_sec);
  return TimePoint(duration_cast<microseconds>(s.time_since_epoch()));
}

// The subject's single commonName as UTF-8. Several CNs are ambiguous (Go takes the last,
// other parsers the first), so such a certificate gets an empty CN, which matches no GUN.
std::string common_name_of(X509* x509) {
  const X509_NAME* name = X509_get_subject_name(x509);
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0) return {};
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, value);
  if (len < 0) {
    ossl::drain_errors();
    return {};
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<Certificate::State> describe(X509* x509, std::string pem) {
  Certificate::State st;
  st.pem = std::move(pem);
  st.common_name = common_name_of(x509);
  VOUCH_ASSIGN_OR_RETURN(st.not_before, to_time_point(X509_get0_notBefore(x509)));
  VOUCH_ASSIGN_OR_RETURN(st.not_after, to_time_point(X509_get0_notAfter(x509)));
  EVP_PKEY* pkey = X509_get0_pubkey(x509);
  if (pkey == nullptr) return ossl::openssl_error(Reason::kMalformed, "certificate public key");
  const int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return ossl::openssl_error(Reason::kMalformed, "certificate public key");
  st.spki_der.resize(static_cast<std::size_t>(len));
  unsigned char* p = st.spki_der.data();
  if (i2d_PUBKEY(pkey, &p) != len) {
    return ossl::openssl_error(Reason::kInternal, "i2d_PUBKEY failed");
  }
  st.is_rsa = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
  st.rsa_bits = st.is_rsa ? EVP_PKEY_get_bits(pkey) : 0;
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(X509_get_signature_nid(x509), &md_nid, &pk_nid) == 1) {
    st.sha1_signed = md_nid == NID_sha1;
    st.weak_digest = md_nid == NID_md5 || md_nid == NID_md4 || md_nid == NID_md2 ||
                     md_nid == NID_md5_sha1;
  }
  return st;
}

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

// Strict UTF-8 (no overlong forms, surrogates or code points above U+10FFFF); Go refuses to
// marshal a name that is not valid UTF-8.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0) == 0xC0) {
      n = 1, cp = b0 & 0x1Fu, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      n = 2, cp = b0 & 0x0Fu, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      n = 3, cp = b0 & 0x07u, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
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

Result<Certificate> Certificate::from_pem(std::string_view pem) {
  std::string type;
  Bytes der;
  VOUCH_RETURN_IF_ERROR(ossl::pem_decode_single(pem, type, der));
  if (type != "CERTIFICATE") return make_error(Reason::kMalformed, "not a CERTIFICATE PEM block");
  const unsigned char* p = der.data();
  ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509 || p != der.data() + der.size()) {
    return ossl::openssl_error(Reason::kMalformed, "not a DER certificate");
  }
  VOUCH_ASSIGN_OR_RETURN(State st, describe(x509.get(), std::string(pem)));
  return Certificate(std::make_shared<const State>(std::move(st)));
}

const std::string& Certificate::pem() const { return state_->pem; }
const std::string& Certificate::common_name() const { return state_->common_name; }
TimePoint Certificate::not_before() const { return state_->not_before; }
TimePoint Certificate::not_after() const { return state_->not_after; }
const Bytes& Certificate::spki_der() const { return state_->spki_der; }
bool Certificate::is_sha1_signed() const { return state_->sha1_signed; }

Status Certificate::check_root(std::string_view gun, TimePoint at) const {
  const State& st = *state_;
  // trustpinning/certs.go validRootLeafCerts: the CN must equal the GUN. (Notary also allows a
  // CN ending in '*' as a prefix wildcard; we do not.)
  if (st.common_name != gun) {
    return make_error(Reason::kBadCertificate, "certificate CN does not match the GUN");
  }
  // utils.ValidateCertificate: a sane window, no SHA-1, RSA >= 2048, and within validity
  // with one day of leeway on not_before for clock skew.
  if (st.not_before > st.not_after) {
    return make_error(Reason::kBadCertificate, "certificate validity window is inverted");
  }
  if (st.sha1_signed || st.weak_digest) {
    return make_error(Reason::kBadCertificate, "certificate is signed with a broken digest");
  }
  if (st.is_rsa && st.rsa_bits < kMinRsaBits) {
    return make_error(Reason::kKeyTooSmall, "certificate RSA key below 2048 bits");
  }
  if (at + std::chrono::hours(24) < st.not_before || at > st.not_after) {
    return make_error(Reason::kExpired, "certificate is not valid at the reference time");
  }
  return ok_status();
}

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

  ossl::BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_X509(out.get(), x509.get()) != 1) {
    return ossl::openssl_error(Reason::kInternal, "PEM_write_bio_X509 failed");
  }
  char* data = nullptr;
  const long len = BIO_ctrl(out.get(), BIO_CTRL_INFO, 0, &data);  // BIO_get_mem_data
  VOUCH_ASSIGN_OR_RETURN(Certificate::State st,
                         describe(x509.get(), std::string(data, static_cast<std::size_t>(len))));
  return Certificate(std::make_shared<const Certificate::State>(std::move(st)));
}

}  // namespace vouch::keys
