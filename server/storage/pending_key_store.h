#pragma once

// PendingKeyStore: the server keys that vouch-server has handed out for a role of a GUN but no
// published root lists yet (Repository::get_or_create_key / rotate_key; Notary's pending
// timestamp and snapshot keys). At most one per (gun, role).
//
// With several replicas on one database the pending key must be one for all of them (issue 16
// item 2): PgStore::pending_keys() keeps it in the database, where a primary key on
// (gun, role) makes the first replica to store one the winner and the others use its key.
// MemoryPendingKeyStore keeps it in the process (one replica; the default).
//
// Errors: kUnavailable / kInternal from a database; kDataLoss for a stored record that no
// longer decodes. Thread-safety: every method may be called concurrently.

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "keys/public_key.h"

namespace vouch::server {

// The map key of a (gun, role) pair, "<gun>\n<role>": a GUN holds no newline, so two pairs never
// share a key, and every role of a GUN starts with gun_role_key(gun, ""). The pending key store
// and Repository's metadata cache both key by it.
std::string gun_role_key(std::string_view gun, std::string_view role);

class PendingKeyStore {
 public:
  virtual ~PendingKeyStore();

  // The pending key of (gun, role), or nullopt if there is none.
  virtual Result<std::optional<keys::PublicKey>> get(std::string_view gun,
                                                     std::string_view role) = 0;

  // Makes `key` the pending key of (gun, role) if the pending key is now the one with ID
  // `expected_id` ("" = there is none), atomically. Returns the pending key afterwards:
  // `key` if it was stored, else the one another writer stored first (then `key` was not
  // stored; the caller uses the returned one).
  virtual Result<keys::PublicKey> replace(std::string_view gun, std::string_view role,
                                          std::string_view expected_id,
                                          const keys::PublicKey& key) = 0;

  // Forgets the pending key of (gun, role) if its ID is `key_id` (a published root lists it);
  // OK if it is not there.
  virtual Status erase(std::string_view gun, std::string_view role, std::string_view key_id) = 0;

  // Forgets every pending key of `gun` (the GUN was deleted).
  virtual Status erase_gun(std::string_view gun) = 0;
};

// In the process, bounded: when max_keys are held, storing another forgets an arbitrary one
// (forgetting a pending key only means that a later request creates another).
class MemoryPendingKeyStore final : public PendingKeyStore {
 public:
  explicit MemoryPendingKeyStore(std::size_t max_keys = 100'000) : max_keys_(max_keys) {}

  Result<std::optional<keys::PublicKey>> get(std::string_view gun,
                                             std::string_view role) override;
  Result<keys::PublicKey> replace(std::string_view gun, std::string_view role,
                                  std::string_view expected_id,
                                  const keys::PublicKey& key) override;
  Status erase(std::string_view gun, std::string_view role, std::string_view key_id) override;
  Status erase_gun(std::string_view gun) override;

 private:
  const std::size_t max_keys_;
  std::mutex mu_;
  std::map<std::string, keys::PublicKey, std::less<>> keys_;  // "<gun>\n<role>"
};

}  // namespace vouch::server
