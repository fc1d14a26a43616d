#pragma once

// GunLocks: one mutex per GUN, for the Repository's writers (publish, re-signing, key
// operations, deletion). Each GUN has a lock of its own, so a writer that waits for a slow
// signer holds up only its own repository, never one that happens to hash alike (a striped
// lock array did that). An entry exists only while a thread holds or waits for it, so the
// table is bounded by the number of threads, not by the number of GUNs ever seen.
//
// Thread-safety: all methods may be called concurrently. A Guard must be released on the
// thread that took it (std::mutex rules) and before the GunLocks is destroyed.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace vouch::server {

class GunLocks {
  struct Entry;

 public:
  GunLocks() = default;
  GunLocks(const GunLocks&) = delete;
  GunLocks& operator=(const GunLocks&) = delete;

  // Holds one GUN's lock until destroyed (or moved from). A default Guard holds nothing.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard();
    bool owns() const { return entry_ != nullptr; }

   private:
    friend class GunLocks;
    Guard(GunLocks* locks, Entry* entry, std::string gun)
        : locks_(locks), entry_(entry), gun_(std::move(gun)) {}
    void release();
    GunLocks* locks_ = nullptr;
    Entry* entry_ = nullptr;
    std::string gun_;
  };

  // Waits for `gun`'s lock.
  Guard lock(std::string_view gun);
  // `gun`'s lock if it is free now, else a Guard that owns nothing.
  Guard try_lock(std::string_view gun);

  // GUNs with an entry (held or waited for); for tests.
  std::size_t size() const;

 private:
  struct Entry {
    std::mutex mu;
    std::size_t users = 0;  // holders and waiters; guarded by GunLocks::mu_
  };
  Entry* acquire(std::string_view gun, std::string& key);
  void drop(const std::string& gun, Entry* entry);

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
};

}  // namespace vouch::server
