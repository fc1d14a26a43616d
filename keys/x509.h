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
  // The subject's commonName (empty if absent).
  const std::string& common_name() const;
  TimePoint not_before() const;
  TimePoint not_after() const;
  // DER SubjectPublicKeyInfo of the certified key.
  const Bytes& spki_der() const;
  // True if the certificate's own signature uses SHA-1 (Notary refuses such root certs).
  bool is_sha1_signed() const;

  // Checks what Notary checks of a root certificate (trustpinning/certs.go): the CN equals
  // `gun` (kBadCertificate), `at` lies within [not_before, not_after] (kExpired), the signature
  // algorithm is not SHA-1 based (kBadCertificate), and an RSA key has >= kMinRsaBits
  // (kKeyTooSmall).
  Status check_root(std::string_view gun, TimePoint at) const;

  struct State;

 private:
  explicit Certificate(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;
  friend Result<Certificate> make_root_certificate(const PrivateKey&, std::string_view,
                                                   TimePoint, TimePoint);
};

// Creates the self-signed certificate Notary uses for a root key: subject and issuer
// CN = gun, validity [not_before, not_after], a random serial, signed with SHA-256 by `key`
// (ecdsa or rsa; Ed25519 -> kUnsupportedAlgorithm), key usage digitalSignature and
// keyCertSign, extended key usage codeSigning, basic constraints CA:FALSE, as Notary's
// cryptoservice.GenerateCertificate does.
Result<Certificate> make_root_certificate(const PrivateKey& key, std::string_view gun,
                                          TimePoint not_before, TimePoint not_after);

}  // namespace vouch::keys
