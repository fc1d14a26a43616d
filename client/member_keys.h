#pragma once

// Members' signing keys at vouch-server's admin API (issue 14 item 7; server/README.md
// "Members' signing keys"): registering a key with a proof of possession, listing an account's
// keys, looking up who holds a batch of key IDs, and removing a registration. Over an
// AdminClient (its authentication and error mapping); public-key code only: the private key
// signs through a keys::Signer.
//
// Threading: as the AdminClient used (one per thread).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/admin_api.h"
#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/signer.h"

namespace vouch::client {

// A registered key as the server answers it.
struct RegisteredKey {
  std::string key_id;        // as TUF metadata lists the key (a certificate's own ID)
  std::string canonical_id;  // the plain public key's ID
  std::string keytype;       // "ecdsa", "ecdsa-x509", ...
  std::string public_key;    // PEM public key or certificate, as registered
  std::string owner;         // "alice", or "<owner>/<name>" for a service account
  std::string kind;          // "user" | "service_account"
  std::string expires;       // RFC 3339, certificates only; "" otherwise
  std::vector<std::string> teams;  // lookups only: "<org>/<team>", sorted
};

// The most IDs the server takes in one lookup (accounts::kMaxKeyLookup).
inline constexpr std::size_t kMaxKeyLookupBatch = 100;

// Registers `key` for the caller: reads the caller's name and the server's service name
// (GET /me), signs the registration statement (keys/key_registration.h) dated `now` (whole
// seconds) with `signer`, and POSTs it. The server's errors as AdminClient maps them
// (kAlreadyExists when another account holds the key, kInvalidArgument/kExpired for a clock
// too far from the server's, ...); the signer's errors as Signer::sign.
Result<RegisteredKey> register_key(AdminClient& admin, keys::Signer& signer,
                                   const keys::PublicKey& key, TimePoint now);

// The keys of `owner` (empty: the caller).
Result<std::vector<RegisteredKey>> list_registered_keys(AdminClient& admin,
                                                        std::string_view owner);

// The registered keys among `key_ids` (either ID form), any number of IDs (asked in batches
// of kMaxKeyLookupBatch); IDs that nobody registered are left out.
Result<std::vector<RegisteredKey>> lookup_key_owners(AdminClient& admin,
                                                     const std::vector<std::string>& key_ids);

// Removes the registration of `key_id` (the owner or an administrator).
Status unregister_key(AdminClient& admin, std::string_view key_id);

// "alice (acme/ops, acme/dev)", or "alice" without teams: how the CLI names a key's holder.
std::string describe_owner(const RegisteredKey& key);

}  // namespace vouch::client
