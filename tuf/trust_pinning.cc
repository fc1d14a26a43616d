#include "tuf/trust_pinning.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <memory>

namespace vouch::tuf {
namespace {

// The one place in tuf/ that calls OpenSSL: issuance of a root certificate by a pinned CA.
// It belongs in keys/x509 (Certificate::verify_issued_by) and is kept self-contained so it
// can move there unchanged; keys/openssl_util.h is private to keys/.
template <auto Fn>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    if (p != nullptr) Fn(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Free<&X509_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Free<&X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<&X509_STORE_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Free<&BIO_free_all>>;

X509Ptr parse_pem(const std::string& pem) {
  if (pem.size() > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

std::time_t to_time_t(TimePoint t) {
  return static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// Whether `leaf` chains to one of `cas` at `at`. A CA is a trust anchor even when it is not
// self-signed (Go's x509 roots pool, which Notary uses, behaves so: X509_V_FLAG_PARTIAL_CHAIN).
// No extended-key-usage purpose is required (Go defaults to serverAuth, which Notary's
// codeSigning root certificates never carry; we do not copy that accident).
bool issued_by(const keys::Certificate& leaf, const std::vector<const keys::Certificate*>& cas,
               std::optional<TimePoint> at) {
  StorePtr store(X509_STORE_new());
  if (!store) return false;
  for (const auto* ca : cas) {
    X509Ptr x = parse_pem(ca->pem());
    if (!x || X509_STORE_add_cert(store.get(), x.get()) != 1) {
      ERR_clear_error();
      return false;
    }
  }
  X509Ptr leaf_x = parse_pem(leaf.pem());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!leaf_x || !ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf_x.get(), nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  if (at) {
    X509_VERIFY_PARAM_set_time(param, to_time_t(*at));
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  } else {
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
  }
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

GunPinning resolve_pinning(const TrustPinning& pinning, std::string_view gun) {
  GunPinning out;
  out.tofu_allowed = !pinning.disable_tofu;
  // trustpin.go NewTrustPinChecker: exact certs entry, then the longest "prefix*" pattern.
  if (auto it = pinning.certs.find(gun); it != pinning.certs.end()) {
    out.mode = PinMode::kCertIds;
    out.matched = it->first;
    out.cert_ids = it->second;
    out.canonical_ids = pinning.certs_match_canonical_id;
    out.source = pinning.certs_source;
    return out;
  }
  const std::vector<std::string>* best = nullptr;
  std::size_t best_len = 0;
  for (const auto& [pattern, ids] : pinning.certs) {
    if (pattern.empty() || pattern.back() != '*') continue;
    const std::string_view prefix(pattern.data(), pattern.size() - 1);
    if (gun.substr(0, prefix.size()) == prefix && (best == nullptr || pattern.size() > best_len)) {
      best = &ids;
      best_len = pattern.size();
      out.matched = pattern;
    }
  }
  if (best != nullptr) {
    out.mode = PinMode::kCertIds;
    out.cert_ids = *best;
    out.canonical_ids = pinning.certs_match_canonical_id;
    out.source = pinning.certs_source;
    return out;
  }
  // getPinnedCAFilepathByPrefix: the longest prefix of the GUN.
  const std::vector<keys::Certificate>* ca = nullptr;
  for (const auto& [prefix, certs] : pinning.ca) {
    if (gun.substr(0, prefix.size()) == prefix &&
        (ca == nullptr || prefix.size() >= out.matched.size())) {
      ca = &certs;
      out.matched = prefix;
    }
  }
  if (ca != nullptr) {
    out.mode = PinMode::kCa;
    out.cas = *ca;
    out.source = pinning.ca_source;
    return out;
  }
  out.matched.clear();
  return out;
}

bool pin_accepts(const GunPinning& pin, const keys::PublicKey& key, std::optional<TimePoint> at) {
  switch (pin.mode) {
    case PinMode::kTofu:
      return true;
    case PinMode::kCertIds: {
      if (key.certificate() == nullptr) return false;
      const auto pinned = [&](const std::string& id) {
        return std::find(pin.cert_ids.begin(), pin.cert_ids.end(), id) != pin.cert_ids.end();
      };
      return pinned(key.id()) || (pin.canonical_ids && pinned(key.canonical_id()));
    }
    case PinMode::kCa: {
      if (key.certificate() == nullptr) return false;
      std::vector<const keys::Certificate*> valid;
      for (const auto& ca : pin.cas) {
        // trustpin.go: CA certificates that fail ValidateCertificate are ignored.
        if (at && (ca.is_sha1_signed() || *at < ca.not_before() || *at > ca.not_after())) {
          continue;
        }
        valid.push_back(&ca);
      }
      return !valid.empty() && issued_by(*key.certificate(), valid, at);
    }
  }
  return false;
}

std::string describe(const GunPinning& pin) {
  switch (pin.mode) {
    case PinMode::kCertIds:
      if (!pin.source.empty()) return pin.source;
      return "trust pinning by certificate ID (config entry \"" + pin.matched + "\")";
    case PinMode::kCa:
      if (!pin.source.empty()) return pin.source;
      return "trust pinning by CA (config entry \"" + pin.matched + "\")";
    case PinMode::kTofu:
      return "trust on first use";
  }
  return "";
}

}  // namespace vouch::tuf
