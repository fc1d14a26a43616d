#pragma once

// API tokens (issue 14): the credential of service accounts, and of users who want one for CI
// or docker login's refresh tokens. The text is
//   vouch_<id>_<secret>
// where <id> is 16 characters of lower-case base32 (RFC 4648 alphabet a-z2-7; 10 random bytes)
// and public (it names the token in lists, logs and the audit log), and <secret> is 32 random
// bytes in unpadded base64url (43 characters). Only SHA-256(secret bytes) is stored; checking
// compares that hash in constant time. The token's metadata (owner, expiry, scope, kind) is
// the accounts service's record. Thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::server::accounts {

inline constexpr std::string_view kApiTokenPrefix = "vouch_";
inline constexpr std::size_t kApiTokenIdChars = 16;
inline constexpr std::size_t kApiTokenSecretBytes = 32;
// The length of every token's text.
inline constexpr std::size_t kApiTokenChars = 6 + kApiTokenIdChars + 1 + 43;

// A new token: its public id, the full text (shown to its owner once) and the hash to store.
struct NewApiToken {
  std::string id;
  keys::SecretString text;
  std::string secret_sha256_hex;
};
// kInternal only if the RNG fails.
Result<NewApiToken> generate_api_token();

// A token's text split: the id and the secret bytes.
struct ParsedApiToken {
  std::string id;
  keys::SecretBytes secret;
};
// Parses the text; anything not in the exact format is kUnauthenticated / kBadCredentials (the
// text came from a caller as a credential).
Result<ParsedApiToken> parse_api_token(std::string_view text);

// True when `text` has the shape of a token (prefix and length), so a credential can be told
// from a password without a lookup. A password may still look like one; it is then checked as
// a token only.
bool looks_like_api_token(std::string_view text);

// Lower-case hex SHA-256 of `secret`, as stored.
std::string hash_api_token_secret(const keys::SecretBytes& secret);

// True iff SHA-256(secret) equals `stored_sha256_hex`, compared in constant time.
bool check_api_token_secret(const keys::SecretBytes& secret, std::string_view stored_sha256_hex);

}  // namespace vouch::server::accounts
