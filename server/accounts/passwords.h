#pragma once

// Password hashing for local accounts: Argon2id (RFC 9106) in the PHC string format
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), through Botan. Thread-safe.

#include <cstddef>
#include <string>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::server::accounts {

// Bounds of a new password, in bytes. The upper bound keeps hashing cost bounded.
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

struct PasswordHashOptions {
  // Argon2id memory cost in KiB. Default 19 MiB (OWASP's minimum recommendation).
  std::size_t memory_kib = 19 * 1024;
  // Passes. Default 2.
  std::size_t iterations = 2;
  // Lanes. Default 1.
  std::size_t parallelism = 1;
};

// Checks a new password against the rules: kInvalidArgument with kMalformed (shorter than
// kMinPasswordBytes) or kTooLarge (longer than kMaxPasswordBytes).
Status check_password_rules(const keys::SecretString& password);

// A fresh PHC string for `password` (random 16-byte salt). Does not apply the rules (callers
// check new passwords first). kInternal if the library fails (e.g. RNG, bad options).
Result<std::string> hash_password(const keys::SecretString& password,
                                  const PasswordHashOptions& options);

// True iff `password` matches the PHC string `phc` (the hash compared in constant time). A
// malformed `phc` or a password beyond kMaxPasswordBytes is simply false. Costs one Argon2
// evaluation with the parameters written in `phc`.
bool verify_password(const keys::SecretString& password, const std::string& phc);

// A PHC string of a random unknowable password with `options`' costs: verified against when a
// name is unknown, so that an answer costs the same whether or not the name exists.
Result<std::string> make_dummy_password_hash(const PasswordHashOptions& options);

}  // namespace vouch::server::accounts
