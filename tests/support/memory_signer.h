#pragma once

// An in-memory Signer for tests: holds PrivateKeys by canonical key ID. Header-only; link
// vouch_keys. Thread-safe (a mutex guards the map; signing itself is thread-safe).

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "keys/private_key.h"
#include "keys/signer.h"

namespace vouch::testing {

class MemorySigner : public keys::Signer {
 public:
  // Takes ownership of `key` and returns its (plain) public key. Adding a key already held
  // replaces it.
  keys::PublicKey add_key(keys::PrivateKey key) {
    keys::PublicKey pub = key.public_key();
    std::lock_guard<std::mutex> lock(mu_);
    keys_.insert_or_assign(pub.canonical_id(), std::move(key));
    return pub;
  }

  // Number of keys held.
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_.size();
  }

  // Signs with the private key behind key.canonical_id(), so an ecdsa-x509 root key signs
  // with its plain key. kUnknownKey if not held.
  Result<keys::Signature> sign(const keys::PublicKey& key, ByteSpan content) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(key.canonical_id());
    if (it == keys_.end()) {
      return make_error(Reason::kUnknownKey, "MemorySigner: no key " + key.canonical_id());
    }
    auto sig = it->second.sign(content);
    if (!sig) return std::move(sig).error();
    return keys::Signature{it->second.method(), std::move(sig).value()};
  }

  // Generates a key of `type` (ecdsa, ed25519; rsa at 2048 bits to keep tests fast); gun and
  // role are ignored.
  Result<keys::PublicKey> create_key(std::string_view /*gun*/, std::string_view /*role*/,
                                     keys::KeyType type) override {
    auto key = keys::PrivateKey::generate(type, 2048);
    if (!key) return std::move(key).error();
    return add_key(std::move(key).value());
  }

  Result<keys::PublicKey> public_key(std::string_view key_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(std::string(key_id));
    if (it == keys_.end()) {
      return make_error(Reason::kUnknownKey, "MemorySigner: no key " + std::string(key_id));
    }
    return it->second.public_key();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, keys::PrivateKey, std::less<>> keys_;
};

}  // namespace vouch::testing
