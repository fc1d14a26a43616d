#include "server/gun_locks.h"

#include <utility>

namespace vouch::server {

GunLocks::Guard::Guard(Guard&& other) noexcept
    : locks_(std::exchange(other.locks_, nullptr)),
      entry_(std::exchange(other.entry_, nullptr)),
      gun_(std::move(other.gun_)) {}

GunLocks::Guard& GunLocks::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    release();
    locks_ = std::exchange(other.locks_, nullptr);
    entry_ = std::exchange(other.entry_, nullptr);
    gun_ = std::move(other.gun_);
  }
  return *this;
}

GunLocks::Guard::~Guard() { release(); }

void GunLocks::Guard::release() {
  if (entry_ == nullptr) return;
  entry_->mu.unlock();
  locks_->drop(gun_, entry_);
  entry_ = nullptr;
  locks_ = nullptr;
}

GunLocks::Entry* GunLocks::acquire(std::string_view gun, std::string& key) {
  key.assign(gun);
  std::lock_guard lock(mu_);
  auto& slot = entries_[key];
  if (!slot) slot = std::make_unique<Entry>();
  ++slot->users;
  return slot.get();
}

void GunLocks::drop(const std::string& gun, Entry* entry) {
  std::lock_guard lock(mu_);
  if (--entry->users == 0) entries_.erase(gun);
}

GunLocks::Guard GunLocks::lock(std::string_view gun) {
  std::string key;
  Entry* entry = acquire(gun, key);
  entry->mu.lock();
  return Guard(this, entry, std::move(key));
}

GunLocks::Guard GunLocks::try_lock(std::string_view gun) {
  std::string key;
  Entry* entry = acquire(gun, key);
  if (!entry->mu.try_lock()) {
    drop(key, entry);
    return Guard();
  }
  return Guard(this, entry, std::move(key));
}

std::size_t GunLocks::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace vouch::server
