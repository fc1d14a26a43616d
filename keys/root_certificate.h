#pragma once

// Making Notary's root certificates: key-store code (it needs the private key), apart from
// keys/x509.h so that public-key code (the verifier, the server's read path) never links it.

#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "keys/private_key.h"
#include "keys/x509.h"

namespace vouch::keys {

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
