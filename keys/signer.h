#pragma once

#include <string_view>

#include "common/encoding.h"
#include "common/result.h"
#include "keys/public_key.h"

namespace vouch::keys {

// A signature as TUF metadata carries it (before base64).
struct Signature {
  SigMethod method = SigMethod::kEcdsa;
  Bytes bytes;
};

// Signs with keys that the caller never sees. Implementations: LocalSigner (a trust
// directory or an embedded encrypted store), RemoteSigner (vouch-signer or notary-signer over
// gRPC). Implementations are thread-safe.
class Signer {
 public:
  virtual ~Signer() = default;

  // Signs `content` with the private key behind `key`. The private key is found by
  // key.canonical_id(), so a root key listed as ecdsa-x509 signs with its plain private key.
  // Errors: kUnknownKey if this signer holds no such key; kBadPassphrase / kNoPassphrase when
  // the key cannot be unlocked; kUnavailable when a remote signer cannot be reached.
  virtual Result<Signature> sign(const PublicKey& key, ByteSpan content) = 0;

  // Creates a new key of `type` (ecdsa, ed25519 or rsa) for (gun, role) and returns its public
  // key. Signers that cannot create keys return kUnimplemented (Code) / kUnsupportedAlgorithm.
  virtual Result<PublicKey> create_key(std::string_view gun, std::string_view role,
                                       KeyType type) = 0;

  // The public key of a held key, by canonical ID; kUnknownKey if not held.
  virtual Result<PublicKey> public_key(std::string_view key_id) = 0;
};

}  // namespace vouch::keys
