#pragma once

// Registration statements: how a member proves to vouch-server that a delegation key is theirs
// (issue 14 item 7, `vouch key register`). Public-key code: the client builds the statement and
// signs it through a keys::Signer; the server rebuilds it from what it knows (its own service
// name, the authenticated account) and what the request carries (the public key, issued_at),
// and verifies the signature with that public key. A statement therefore binds
//   service    the server it is meant for (a statement for one server is refused by another),
//   account    the account registering (nobody else can present it as theirs),
//   key        the key ID, key type and public material (signed by that very key),
//   issued_at  a time the server accepts only within a window around its own clock, so an old
//              statement cannot be replayed later.
//
// The signed bytes are canonical JSON (sorted keys, no white space; REFERENCE §3.5's encoding):
//   {"account":"alice","issued_at":"2026-12-08T02:30:00Z","key_id":"<hex>","keytype":"ecdsa",
//    "public":"<base64 of the TUF public value>","service":"vouch-server",
//    "type":"vouch-key-registration-1"}
// key_id is PublicKey::id(): for a certificate the ID of the certificate form, as
// `notary delegation list` prints it.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/signer.h"

namespace vouch::keys {

inline constexpr std::string_view kKeyRegistrationType = "vouch-key-registration-1";
// Bounds on the parts of a statement (kInvalidArgument / kTooLarge beyond them).
inline constexpr std::size_t kMaxRegistrationServiceBytes = 255;
inline constexpr std::size_t kMaxRegistrationAccountBytes = 255;
// The largest signature accepted (RSA-8192 is 1 KiB).
inline constexpr std::size_t kMaxRegistrationSignatureBytes = 1024;

struct KeyRegistrationStatement {
  std::string service;  // 1..kMaxRegistrationServiceBytes printable ASCII
  std::string account;  // 1..kMaxRegistrationAccountBytes printable ASCII
  PublicKey key;
  TimePoint issued_at;  // whole seconds (a fraction is kInvalidArgument / kMalformed)
};

// The bytes that are signed. Errors: kInvalidArgument / kMalformed for an empty service or
// account, a non-printable character in them, or an issued_at with a fraction of a second;
// kTooLarge beyond the bounds above.
Result<std::string> registration_statement_bytes(const KeyRegistrationStatement& statement);

// Signs a statement with `signer` (which must hold the private key of statement.key: kUnknownKey
// otherwise; passphrase errors as Signer::sign). issued_at is taken as given.
Result<Signature> sign_registration(Signer& signer, const KeyRegistrationStatement& statement);

// Checks a statement as the server does: its form (as registration_statement_bytes), issued_at
// within [now - window, now + window] (else kInvalidArgument / kExpired: too old, or from a
// clock too far ahead), the signature at most kMaxRegistrationSignatureBytes (kTooLarge) and
// made by statement.key over the statement's bytes (kBadSignature, or kWrongMethod for a method
// of another algorithm).
Status verify_registration(const KeyRegistrationStatement& statement, const Signature& signature,
                           TimePoint now, std::chrono::seconds window);

}  // namespace vouch::keys
