#include "server/storage/pending_key_store.h"

namespace vouch::server {

std::string gun_role_key(std::string_view gun, std::string_view role) {
  std::string k;
  k.reserve(gun.size() + 1 + role.size());
  k.append(gun).push_back('\n');
  k.append(role);
  return k;
}

PendingKeyStore::~PendingKeyStore() = default;

Result<std::optional<keys::PublicKey>> MemoryPendingKeyStore::get(std::string_view gun,
                                                                  std::string_view role) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(gun_role_key(gun, role));
  if (it == keys_.end()) return std::optional<keys::PublicKey>();
  return std::optional<keys::PublicKey>(it->second);
}

Result<keys::PublicKey> MemoryPendingKeyStore::replace(std::string_view gun,
                                                       std::string_view role,
                                                       std::string_view expected_id,
                                                       const keys::PublicKey& key) {
  std::lock_guard lock(mu_);
  std::string k = gun_role_key(gun, role);
  auto it = keys_.find(k);
  const std::string_view current = it == keys_.end() ? std::string_view() : it->second.id();
  if (current != expected_id) return it->second;  // another writer got there first
  if (it != keys_.end()) {
    it->second = key;
    return key;
  }
  if (max_keys_ == 0) return key;
  if (keys_.size() >= max_keys_) keys_.erase(keys_.begin());
  keys_.emplace(std::move(k), key);
  return key;
}

Status MemoryPendingKeyStore::erase(std::string_view gun, std::string_view role,
                                    std::string_view key_id) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(gun_role_key(gun, role));
  if (it != keys_.end() && it->second.id() == key_id) keys_.erase(it);
  return ok_status();
}

Status MemoryPendingKeyStore::erase_gun(std::string_view gun) {
  const std::string prefix = gun_role_key(gun, "");
  std::lock_guard lock(mu_);
  for (auto it = keys_.lower_bound(prefix);
       it != keys_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = keys_.erase(it);
  }
  return ok_status();
}

}  // namespace vouch::server
