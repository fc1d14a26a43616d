#include "keys/local_signer.h"

namespace vouch::keys {

Result<std::shared_ptr<const PrivateKey>> LocalSigner::unlocked(std::string_view key_id) {
  if (auto it = cache_.find(key_id); it != cache_.end()) return it->second;
  auto loaded = store_.load(key_id, passphrases_);
  if (!loaded) {
    Error e = std::move(loaded).error();
    if (e.reason == Reason::kNotFound) e = make_error(Reason::kUnknownKey, e.message);
    return e;
  }
  auto key = std::make_shared<const PrivateKey>(std::move(loaded).value());
  cache_.emplace(std::string(key_id), key);
  return key;
}

Result<Signature> LocalSigner::sign(const PublicKey& key, ByteSpan content) {
  std::shared_ptr<const PrivateKey> priv;
  {
    std::lock_guard<std::mutex> lock(mu_);
    VOUCH_ASSIGN_OR_RETURN(priv, unlocked(key.canonical_id()));
  }
  // The canonical ID names the plain key; make sure it is the key behind `key` (for x509
  // types, the certificate's key).
  if (priv->public_key().spki_der() != key.spki_der()) {
    return make_error(Reason::kUnknownKey,
                      "stored key " + key.canonical_id() + " does not match the requested key");
  }
  VOUCH_ASSIGN_OR_RETURN(Bytes sig, priv->sign(content));
  return Signature{priv->method(), std::move(sig)};
}

Result<PublicKey> LocalSigner::create_key(std::string_view gun, std::string_view role,
                                          KeyType type) {
  if (is_x509(type)) {
    return make_error(Reason::kUnsupportedAlgorithm,
                      "create a plain key; certificates are made from it separately");
  }
  VOUCH_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::generate(type));
  std::lock_guard<std::mutex> lock(mu_);
  VOUCH_RETURN_IF_ERROR(store_.add(key, role, gun, passphrases_));
  PublicKey pub = key.public_key();
  const std::string id = pub.id();
  cache_.emplace(id, std::make_shared<const PrivateKey>(std::move(key)));
  return pub;
}

Result<PublicKey> LocalSigner::public_key(std::string_view key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  VOUCH_ASSIGN_OR_RETURN(std::shared_ptr<const PrivateKey> priv, unlocked(key_id));
  return priv->public_key();
}

void LocalSigner::forget_keys() {
  std::lock_guard<std::mutex> lock(mu_);
  cache_.clear();
}

}  // namespace vouch::keys
