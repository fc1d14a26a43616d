#include "tuf/verify.h"

#include <algorithm>

namespace vouch::tuf {

Status verify_signatures(std::string_view canonical_signed,
                         const std::vector<SignatureEntry>& signatures, const KeyMap& keys,
                         const RoleKeys& role, const VerifyOptions& options) {
  const std::string& name = options.role_name;
  if (role.threshold < 1) {
    return make_error(Reason::kMalformed,
                      name + ": threshold " + std::to_string(role.threshold) + " is below 1");
  }
  // Count distinct key material, not key IDs: the same key listed under a raw and an X.509 ID,
  // or one signature repeated, must count once (REFERENCE §9).
  // Thresholds are small (Notary supports 1), so a linear scan beats a set.
  std::vector<const Bytes*> counted;
  auto already_counted = [&](const Bytes& spki) {
    return std::any_of(counted.begin(), counted.end(),
                       [&](const Bytes* c) { return *c == spki; });
  };
  std::size_t rejected = 0;
  for (const auto& sig : signatures) {
    if (std::find(role.keyids.begin(), role.keyids.end(), sig.keyid) == role.keyids.end()) {
      continue;
    }
    auto key = keys.find(sig.keyid);
    if (key == keys.end() || !sig.method) {
      ++rejected;
      continue;
    }
    if (already_counted(key->second.spki_der())) continue;
    if (!key->second.verify(*sig.method, as_bytes(canonical_signed), sig.sig).ok()) {
      ++rejected;
      continue;
    }
    counted.push_back(&key->second.spki_der());
    if (counted.size() >= static_cast<std::size_t>(role.threshold)) return {};
  }
  return make_error(Reason::kThresholdNotMet,
                    name + ": " + std::to_string(counted.size()) + " valid signature(s) from " +
                        "distinct keys, " + std::to_string(role.threshold) + " required" +
                        (rejected ? " (" + std::to_string(rejected) + " invalid)" : ""));
}

Status verify_root_self(const Metadata<Root>& root) {
  auto it = root.content.roles.find(kRootRole);
  if (it == root.content.roles.end()) {
    return make_error(Reason::kBadRole, "root: no root role");
  }
  return verify_signatures(root, root.content.keys, it->second, kRootRole);
}

Status check_not_expired(const Expiry& expires, TimePoint now, std::string_view role_name) {
  if (expires.expired_at(now)) {
    return make_error(Reason::kExpired,
                      std::string(role_name) + " metadata expired at " + expires.text);
  }
  return {};
}

Result<std::string> sign_metadata(const json::Value& signed_value,
                                  std::span<const keys::PublicKey> keys, keys::Signer& signer) {
  const std::string message = json::canonical(signed_value);
  std::vector<SignatureEntry> sigs;
  sigs.reserve(keys.size());
  for (const auto& key : keys) {
    auto sig = signer.sign(key, as_bytes(message));
    if (!sig) return std::move(sig).error().wrap("signing with key " + key.id().substr(0, 8));
    SignatureEntry e;
    e.keyid = key.id();
    e.method = sig->method;
    e.method_text = std::string(keys::to_string(sig->method));
    e.sig = std::move(sig->bytes);
    sigs.push_back(std::move(e));
  }
  return serialize_envelope(signed_value, sigs);
}

}  // namespace vouch::tuf
