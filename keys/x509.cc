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

bool Certificate::issued_by(const std::vector<const Certificate*>& cas,
                            std::optional<TimePoint> at) const {
  const auto load = [](const std::string& pem) {
    ossl::BioPtr bio = ossl::mem_bio(pem.data(), pem.size());
    return ossl::X509Ptr(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  };
  ossl::X509StorePtr store(X509_STORE_new());
  if (!store) return false;
  for (const Certificate* ca : cas) {
    ossl::X509Ptr x = load(ca->pem());
    if (!x || X509_STORE_add_cert(store.get(), x.get()) != 1) {
      ossl::drain_errors();
      return false;
    }
  }
  ossl::X509Ptr leaf = load(pem());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!leaf || !ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr) != 1) {
    ossl::drain_errors();
    return false;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (at) {
    X509_VERIFY_PARAM_set_time(param, static_cast<std::time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(at->time_since_epoch()).count()));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  } else {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
  }
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  ossl::drain_errors();
  return ok;
}

Result<std::vector<Certificate>> parse_certificate_bundle(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
  constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
  const auto only_space = [](std::string_view s) {
    return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
  };
  std::vector<Certificate> out;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t begin = pem.find(kBegin, pos);
    if (begin == std::string_view::npos) {
      if (!only_space(pem.substr(pos))) {
        return make_error(Reason::kMalformed, "text after the last certificate");
      }
      break;
    }
    if (!only_space(pem.substr(pos, begin - pos))) {
      return make_error(Reason::kMalformed, "text that is not a CERTIFICATE block");
    }
    const std::size_t end = pem.find(kEnd, begin);
    if (end == std::string_view::npos) {
      return make_error(Reason::kMalformed, "a certificate without its END line");
    }
    pos = end + kEnd.size();
    auto cert = Certificate::from_pem(std::string(pem.substr(begin, pos - begin)) + "\n");
    if (!cert) {
      return std::move(cert).error().wrap("certificate " + std::to_string(out.size() + 1));
    }
    out.push_back(std::move(*cert));
  }
  if (out.empty()) return make_error(Reason::kMalformed, "no CERTIFICATE block");
  return out;
}

}  // namespace vouch::keys
