#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "keys/keystore.h"
#include "keys/passphrase.h"
#include "keys/private_key.h"
#include "keys/signer.h"

namespace vouch::keys {

// A Signer over the private keys of a trust directory (the CLI's signer, like Notary's
// CryptoService over a GenericKeyStore).
//
// Keys are unlocked on first use, asking `passphrases`, and then kept decrypted in memory for
// the signer's lifetime (or until forget_keys()), so a publish that signs several roles with
// the same key asks once per key. Keys live only in this object and are zeroed when it is
// destroyed.
//
// Lookups use PublicKey::canonical_id(), so a root key listed in root.json as an ecdsa-x509
// certificate is found under the file name of its plain key (Notary does the same). The
// unlocked key's public part must match the requested key's SPKI, else kUnknownKey.
//
// Errors: kUnknownKey when no file holds the key (or the ID is not a valid key ID), and the
// keystore's errors when it cannot be unlocked (kBadPassphrase, kNoPassphrase,
// kInsecureFile, ...).
//
// Thread-safe: one mutex guards the cache and is held while a key is unlocked, so two
// threads needing the same key ask for its passphrase once, and prompts never interleave.
// Signing happens outside the lock.
//
// `store` and `passphrases` are borrowed and must outlive the signer.
class LocalSigner final : public Signer {
 public:
  LocalSigner(const TrustDirKeyStore& store, PassphraseSource& passphrases)
      : store_(store), passphrases_(passphrases) {}
  LocalSigner(const LocalSigner&) = delete;
  LocalSigner& operator=(const LocalSigner&) = delete;

  // Signs `content` with the method of the key's type (ecdsa, eddsa, rsapss).
  Result<Signature> sign(const PublicKey& key, ByteSpan content) override;

  // Generates a key of `type` (ecdsa, ed25519, rsa; x509 types -> kUnsupportedAlgorithm),
  // stores it in the trust directory under (role, gun) with a new passphrase (asks
  // `passphrases` with create = true), keeps it unlocked, and returns its plain public key.
  // The GUN is dropped for root and delegation roles (see TrustDirKeyStore::add).
  Result<PublicKey> create_key(std::string_view gun, std::string_view role,
                               KeyType type) override;

  // The plain public key of a stored key. Encrypted key files hold no public key in clear,
  // so this unlocks the key (asking for its passphrase once) if it is not cached.
  Result<PublicKey> public_key(std::string_view key_id) override;

  // Drops every unlocked key from memory.
  void forget_keys();

 private:
  // Returns the cached key, unlocking it if needed. Requires mu_ held.
  Result<std::shared_ptr<const PrivateKey>> unlocked(std::string_view key_id);

  const TrustDirKeyStore& store_;
  PassphraseSource& passphrases_;
  std::mutex mu_;
  // Shared so that a signature in progress keeps its key alive across forget_keys().
  std::map<std::string, std::shared_ptr<const PrivateKey>, std::less<>> cache_;
};

}  // namespace vouch::keys
