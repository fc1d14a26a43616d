#pragma once

#include <memory>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/secret.h"

namespace vouch::keys {

// How PKCS#8 plaintext is written.
//   kStandard: RFC 5208/5958 as OpenSSL writes it (Ed25519 with OID 1.3.101.112).
//   kNotary:   as Notary 0.7 writes it (tuf/utils/pkcs8.go convertTUFKeyToPKCS8), so the real
//              notary CLI reads it: ECDSA with version 1 in the PrivateKeyInfo and the curve
//              OID repeated inside the SEC1 key (Go's MarshalECPrivateKey); RSA with an
//              AlgorithmIdentifier lacking the NULL parameters; Ed25519 under the old OID
//              1.3.6.1.4.1.11591.15.1 (no parameters) with the raw 96-byte
//              public || seed || public as the private key OCTET STRING (Notary's
//              serialization: public key, then Go's 64-byte ed25519.PrivateKey).
// Both flavors are written by hand from the key's components into secure memory and are
// byte-identical to what OpenSSL (kStandard) or Notary (kNotary) write for the same key.
enum class Pkcs8Flavor { kStandard, kNotary };

// A private key (OpenSSL EVP_PKEY). Move-only; the key material is freed (and zeroed by
// OpenSSL) on destruction. Private keys live only in keys/ (keystore, LocalSigner, signer
// service); everyone else signs through a Signer. Signing is thread-safe.
struct PrivateKeyAccess;

class PrivateKey {
 public:
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;
  ~PrivateKey();

  // Generates a new key: kEcdsa (P-256), kEd25519, or kRsa (`rsa_bits`, >= kMinRsaBits).
  // x509 types -> kUnsupportedAlgorithm (a certificate is made with make_root_certificate).
  static Result<PrivateKey> generate(KeyType type, int rsa_bits = 4096);

  // Reads unencrypted PKCS#8 DER in either flavor (Notary's Ed25519 OID and ECDSA version 1
  // included), or a SEC1 "EC PRIVATE KEY" / PKCS#1 "RSA PRIVATE KEY" DER. Anything else ->
  // kMalformed or kUnsupportedAlgorithm; RSA below kMinRsaBits -> kKeyTooSmall.
  // Under Notary's Ed25519 OID the private key may be 96 bytes (public || seed || public, as
  // Notary writes) or 64 (seed || public); each public copy must match the seed (kMalformed).
  // An EC key whose embedded public point does not match its scalar is kMalformed.
  static Result<PrivateKey> from_der(ByteSpan der);

  // Writes unencrypted PKCS#8 DER.
  SecretBytes to_pkcs8_der(Pkcs8Flavor flavor = Pkcs8Flavor::kStandard) const;

  // kEcdsa, kRsa or kEd25519 (never an x509 type).
  KeyType type() const;
  // The plain public key (type() and its SPKI); its id() is the canonical key ID.
  const PublicKey& public_key() const;
  // The method sign() produces: ecdsa, eddsa or rsapss.
  SigMethod method() const;

  // Signs `message` (the canonical JSON of a role's "signed" object) with method():
  // ECDSA P-256 over SHA-256 as raw 64-byte r||s; Ed25519; RSASSA-PSS SHA-256, salt 32.
  Result<Bytes> sign(ByteSpan message) const;

  struct State;

 private:
  explicit PrivateKey(std::unique_ptr<State> s);
  std::unique_ptr<State> state_;
  friend struct PrivateKeyAccess;  // keys/openssl_util.h: the EVP_PKEY for certificate signing
};

}  // namespace vouch::keys
