#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "keys/signer.h"
#include "tuf/metadata.h"

namespace vouch::tuf {

// Threshold verification of one metadata file.
//
// A signature counts when its keyid is one of `role.keyids`, the key is in `keys`, its
// method is known and matches the key, and it verifies over `canonical_signed`. Counted are
// DISTINCT public keys (by key material, so one key listed under two IDs, e.g. raw and X.509,
// counts once; a signature repeated k times counts once). Signatures that do not count are
// ignored, as in Notary; only the total matters.
//
// Errors: kThresholdNotMet (the message gives valid/required counts and the role name), or
// kMalformed if the role's threshold is < 1.
struct VerifyOptions {
  std::string role_name;  // for messages
};
Status verify_signatures(std::string_view canonical_signed,
                         const std::vector<SignatureEntry>& signatures, const KeyMap& keys,
                         const RoleKeys& role, const VerifyOptions& options = {});

template <typename T>
Status verify_signatures(const Metadata<T>& meta, const KeyMap& keys, const RoleKeys& role,
                         std::string_view role_name) {
  return verify_signatures(meta.canonical_signed, meta.signatures, keys, role,
                           VerifyOptions{std::string(role_name)});
}

// Verifies a root file against its own keys and threshold for the "root" role.
Status verify_root_self(const Metadata<Root>& root);

// kExpired if `expires` lies before `now`, naming the role.
Status check_not_expired(const Expiry& expires, TimePoint now, std::string_view role_name);

// Signs `signed_value` (the "signed" object) with each of `keys` through `signer` and returns
// the complete file bytes. Each signature's keyid is the key's id() as listed in metadata (the
// X.509 ID for root certificates); the signer finds the private key by canonical ID.
Result<std::string> sign_metadata(const json::Value& signed_value,
                                  std::span<const keys::PublicKey> keys, keys::Signer& signer);

}  // namespace vouch::tuf
