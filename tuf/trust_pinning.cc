#include "tuf/trust_pinning.h"

#include <algorithm>

namespace vouch::tuf {

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
      return !valid.empty() && key.certificate()->issued_by(valid, at);
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
