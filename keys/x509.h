#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"

namespace vouch::keys {

class PrivateKey;

// An X.509 certificate (OpenSSL). Immutable; thread-safe. Copies share the certificate.
class Certificate {
 public:
  // Parses one PEM "CERTIFICATE" block (kMalformed otherwise, including trailing blocks).
  static Result<Certificate> from_pem(std::string_view pem);

  // The PEM text exactly as given (or as generated).
  const std::string& pem() const;
  // The subject's commonName as UTF-8 (empty if absent, or if the subject has several CNs,
  // which parsers resolve differently; an empty CN matches no GUN).
  const std::string& common_name() const;
  TimePoint not_before() const;
  TimePoint not_after() const;
  // DER SubjectPublicKeyInfo of the certified key.
  const Bytes& spki_der() const;
  // True if the certificate's own signature uses SHA-1 (Notary refuses such root certs).
  bool is_sha1_signed() const;

  // Checks what Notary checks of a root certificate (trustpinning/certs.go, utils
  // ValidateCertificate): the CN equals `gun` exactly (kBadCertificate; Notary's trailing-'*'
  // wildcard CNs are not honoured), not_before <= not_after (kBadCertificate), the signature
  // algorithm is not SHA-1 based (nor MD5/MD4/MD2, which Notary would let through)
  // (kBadCertificate), an RSA key has >= kMinRsaBits (kKeyTooSmall), and `at` lies within
  // [not_before - 24h, not_after] (kExpired; Notary allows one day of clock skew on
  // not_before). The certificate's own signature is not checked (Notary does not either: the
  // root metadata's signatures are what prove possession of the key).
  Status check_root(std::string_view gun, TimePoint at) const;

  struct State;

 private:
  explicit Certificate(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;
  friend Result<Certificate> make_root_certificate(const PrivateKey&, std::string_view,
                                                   TimePoint, TimePoint);
};

// Creates the self-signed certificate Notary uses for a root key: subject and issuer
// CN = gun (PrintableString when it fits, else UTF8String, as Go writes it), validity
// [not_before, not_after] truncated to whole seconds, a random 128-bit serial, signed with
// SHA-256 by `key` (ECDSA, or RSA PKCS#1 v1.5; Ed25519 -> kUnsupportedAlgorithm), and the
// extensions of Notary's utils.NewCertificate template in Go's order: key usage
// digitalSignature + keyEncipherment (critical), extended key usage codeSigning, basic
// constraints CA:FALSE (critical). No subject/authority key identifiers (Go adds none for a
// non-CA template). The PEM is one standard CERTIFICATE block ending in a newline.
// An empty GUN, one longer than 255 bytes, or one that is not valid UTF-8 -> kBadGun.
Result<Certificate> make_root_certificate(const PrivateKey& key, std::string_view gun,
                                          TimePoint not_before, TimePoint not_after);

}  // namespace vouch::keys
