#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/result.h"

namespace vouch::keys {

// An X.509 certificate (OpenSSL). Immutable; thread-safe. Copies share the certificate.
// Reading and checking only: certificates are made in the key store (keys/root_certificate.h).
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

  // Whether this certificate chains to one of `cas` at `at` (Notary's trust pinning by CA).
  // A CA is a trust anchor even when it is not self-signed (Go's x509 roots pool, which
  // Notary uses, behaves so: X509_V_FLAG_PARTIAL_CHAIN). No extended-key-usage purpose is
  // required (Go defaults to serverAuth, which Notary's codeSigning root certificates never
  // carry; we do not copy that accident). Without `at`, validity times are not checked.
  // False, never an error, when OpenSSL cannot load a certificate.
  bool issued_by(const std::vector<const Certificate*>& cas, std::optional<TimePoint> at) const;

  struct State;

 private:
  explicit Certificate(std::shared_ptr<const State> s) : state_(std::move(s)) {}
  std::shared_ptr<const State> state_;
};

// Splits a PEM CA bundle into its "CERTIFICATE" blocks, in order, each parsed with
// Certificate::from_pem. Only whitespace may stand between, before and after the blocks, so a
// truncated or mixed-up bundle does not silently lose a CA. kMalformed for other text, a block
// without its END line, or no block at all; a block that does not parse fails with its error,
// prefixed with "certificate <n>" (1-based). The one CA-bundle parser of the codebase (client
// trust pinning, verifier trust sections).
Result<std::vector<Certificate>> parse_certificate_bundle(std::string_view pem);

}  // namespace vouch::keys
