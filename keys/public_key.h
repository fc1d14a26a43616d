#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"

namespace vouch::keys {

// Key types as Notary's TUF dialect names them in "keytype" (REFERENCE §3.5).
//   ecdsa       public = DER SubjectPublicKeyInfo of a P-256 key
//   rsa         public = DER SubjectPublicKeyInfo of an RSA key (>= 2048 bits)
//   ed25519     public = the raw 32-byte Ed25519 public key
//   ecdsa-x509  public = a PEM certificate holding a P-256 key
//   rsa-x509    public = a PEM certificate holding an RSA key
enum class KeyType { kEcdsa, kRsa, kEd25519, kEcdsaX509, kRsaX509 };

std::string_view to_string(KeyType type);
// Reason::kUnsupportedAlgorithm for any other string.
Result<KeyType> parse_key_type(std::string_view text);
// ecdsa-x509 -> ecdsa, rsa-x509 -> rsa; others unchanged.
KeyType plain_key_type(KeyType type);
bool is_x509(KeyType type);

// Signature methods ("method" in a Notary signature object).
//   ecdsa        raw r||s, each 32 bytes for P-256 (64 bytes in all), over SHA-256
//   eddsa        Ed25519
//   rsapss       RSASSA-PSS, SHA-256, MGF1-SHA-256, salt length = 32
//   rsapkcs1v15  RSASSA-PKCS1-v1_5 with SHA-256 (verify only)
//   pycrypto-pkcs#1 pss   legacy name of rsapss (verify only)
enum class SigMethod { kEcdsa, kEddsa, kRsaPss, kRsaPkcs1v15, kPyCryptoPss };

std::string_view to_string(SigMethod method);
// Reason::kUnsupportedAlgorithm for any other string.
Result<SigMethod> parse_sig_method(std::string_view text);

class Certificate;

// Minimum RSA modulus size accepted anywhere (Notary: 2048).
inline constexpr int kMinRsaBits = 2048;

// A public key as TUF metadata lists it. Immutable and cheap to copy (shared state).
// Thread-safe.
class PublicKey {
 public:
  // Builds a key from its "keytype" and the base64-decoded "public" value. Validates the
  // material: a DER SPKI of the right algorithm, a 32-byte Ed25519 key, or a PEM certificate
  // whose key is of the right algorithm (the certificate's validity is NOT checked here; see
  // Certificate). RSA below kMinRsaBits -> kKeyTooSmall; wrong or unparsable material ->
  // kMalformed; an EC curve other than P-256 -> kUnsupportedAlgorithm. A DER SPKI must be in
  // the one canonical DER form (named curve, uncompressed point, RSA with NULL parameters),
  // as Go's x509.ParsePKIXPublicKey requires; anything else is kMalformed. A certificate is
  // exactly one PEM CERTIFICATE block (certificate chains are not accepted).
  static Result<PublicKey> from_tuf(KeyType type, ByteSpan public_bytes);

  // A plain (non-certificate) key from a DER SubjectPublicKeyInfo; the type is derived from
  // the algorithm (ecdsa, rsa or ed25519; an Ed25519 SPKI becomes the raw 32-byte form).
  static Result<PublicKey> from_spki_der(ByteSpan der);

  // From a PEM "PUBLIC KEY" block or a PEM "CERTIFICATE" (-> ecdsa-x509 / rsa-x509), as
  // given to `notary delegation add` or `docker trust signer add`. Exactly one block, no PEM
  // headers, only whitespace around it (kMalformed otherwise). A certificate is re-encoded as
  // canonical PEM (64-column base64, "\n" line ends) before it becomes public_bytes(), as
  // Notary's CertToKey does, so its ID does not depend on the file's formatting. Unlike
  // Notary's ParsePEMPublicKey this does not check the certificate's validity period or
  // signature algorithm; callers that need that call Certificate::check_root.
  static Result<PublicKey> from_pem(std::string_view pem);

  KeyType type() const;
  // The "public" value before base64 (see KeyType).
  const Bytes& public_bytes() const;

  // Notary's key ID: lowercase hex SHA-256 of the canonical JSON
  // {"keytype":"<type>","keyval":{"private":null,"public":"<base64 public>"}}.
  const std::string& id() const;
  // The ID of the plain key behind a certificate (the key file name Notary uses for a root
  // key); equal to id() for keys that are not certificates.
  const std::string& canonical_id() const;
  // That canonical JSON object, as bytes.
  std::string tuf_json() const;

  // DER SubjectPublicKeyInfo of the key material (of the certificate's key for x509 types).
  // Two PublicKeys with equal spki_der() are the same key, whatever their type or ID; threshold
  // counting uses this to count distinct keys.
  const Bytes& spki_der() const;

  // The certificate, for x509 types; nullptr otherwise.
  const Certificate* certificate() const;

  // Verifies `signature` over `message` with `method`. The method must belong to the key's
  // algorithm (ecdsa <-> ecdsa, ecdsa-x509; eddsa <-> ed25519; rsapss, rsapkcs1v15 <-> rsa,
  // rsa-x509; pycrypto-pkcs#1 pss <-> rsa only, as in Notary's verifiers.go), else
  // kWrongMethod. ECDSA signatures must be exactly 64 bytes with r and s in [1, n-1] (high s
  // is accepted, as Go's ecdsa.Verify does), Ed25519 signatures 64 bytes, RSA signatures
  // exactly the modulus length; RSA-PSS requires salt length 32 exactly. Anything else, or a
  // signature that does not verify -> kBadSignature. Thread-safe.
  Status verify(SigMethod method, ByteSpan message, ByteSpan signature) const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) { return a.id() == b.id(); }

  struct State;  // implementation detail

 private:
  explicit PublicKey(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

}  // namespace vouch::keys
