#pragma once

// StallingSigner: a keys::Signer over MemorySigners that holds every signature with a chosen
// key until the test releases it, standing in for a slow or unreachable remote signer.
// Header-only; link vouch_keys.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "keys/signer.h"
#include "tests/support/memory_signer.h"

namespace vouch::testing {

// How long a test waits for something that would hang a broken build, before it gives up
// and fails (never an expectation about speed).
inline constexpr std::chrono::seconds kStallGuard{60};

// Signs with whichever of its signers holds the key; signing with a stalled key waits until
// release().
class StallingSigner final : public keys::Signer {
 public:
  explicit StallingSigner(std::vector<MemorySigner*> signers) : signers_(std::move(signers)) {}

  void stall(const keys::PublicKey& key) {
    std::lock_guard lock(mu_);
    stalled_.insert(key.canonical_id());
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      stalled_.clear();
    }
    cv_.notify_all();
  }
  // Waits until a signature is held (or the guard runs out: false).
  bool wait_stalled() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kStallGuard, [&] { return waiting_ > 0; });
  }

  Result<keys::Signature> sign(const keys::PublicKey& key, ByteSpan content) override {
    {
      std::unique_lock lock(mu_);
      if (stalled_.count(key.canonical_id()) != 0) {
        ++waiting_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return stalled_.count(key.canonical_id()) == 0; });
        --waiting_;
      }
    }
    for (MemorySigner* s : signers_) {
      if (s->public_key(key.canonical_id())) return s->sign(key, content);
    }
    return make_error(Reason::kUnknownKey, "no signer holds " + key.canonical_id());
  }
  Result<keys::PublicKey> create_key(std::string_view gun, std::string_view role,
                                     keys::KeyType type) override {
    return signers_.front()->create_key(gun, role, type);
  }
  Result<keys::PublicKey> public_key(std::string_view key_id) override {
    for (MemorySigner* s : signers_) {
      if (auto k = s->public_key(key_id)) return k;
    }
    return make_error(Reason::kUnknownKey, "no signer holds " + std::string(key_id));
  }

 private:
  std::vector<MemorySigner*> signers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> stalled_;
  int waiting_ = 0;
};

}  // namespace vouch::testing
