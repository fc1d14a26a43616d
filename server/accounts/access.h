#pragma once

// The seam between who a caller is and what they may do to a repository (issue 14).
//
// vouch-server's own token service (server/token_service.h) asks an AccessDecider to check a
// credential and to say what the caller may do to each repository it asks a token for; the
// accounts service (server/accounts/accounts_service.h) is the implementation that answers from
// users, organizations, teams, service accounts and repository grants.
//
// The model is Docker Trusted Registry's: a permission on a repository is none, read,
// read-write or admin; it maps to the Docker registry token actions as
//   read       -> pull         (GET metadata, the repository's changefeed)
//   read-write -> pull, push   (publish)
//   admin      -> pull, push, * (delete, server key rotation, grants)

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::server::accounts {

// Ordered: a higher value includes every lower one.
enum class Permission : std::uint8_t { kNone = 0, kRead = 1, kReadWrite = 2, kAdmin = 3 };

// "none" | "read" | "read-write" | "admin".
std::string_view to_string(Permission permission);
// The inverse of to_string; nullopt for anything else.
std::optional<Permission> parse_permission(std::string_view text);

// Who is asking, after authentication.
struct Principal {
  enum class Kind : std::uint8_t {
    kAnonymous,       // no credentials: may read public repositories only
    kUser,            // a person (local or directory account)
    kServiceAccount,  // a CI identity, authenticated by an API token only
  };
  Kind kind = Kind::kAnonymous;
  // kUser: the user name. kServiceAccount: "<owner>/<name>", owner being the organization or
  // user that owns it. Empty for kAnonymous.
  std::string name;
  // System administrator (kUser only): admin on every repository, and the admin API.
  bool admin = false;
  // kServiceAccount and tokens: the API token that authenticated this request (its public ID,
  // never the secret), so a token's own scope limit applies. Empty otherwise.
  std::string token_id;
};

// Checks credentials and decides permissions. Implementations are thread-safe.
class AccessDecider {
 public:
  virtual ~AccessDecider() = default;

  // Checks `name` + `secret` (a user's password, or an API token for a user or service
  // account) and returns who that is. Every failure that is the caller's (unknown name, wrong
  // secret, disabled account, expired or revoked token) is the same Code::kUnauthenticated
  // with Reason::kBadCredentials, so an answer never tells which part was wrong; the check
  // costs the same time whether or not the name exists. Code::kResourceExhausted with
  // Reason::kThrottled when `source` (the client address) has failed too often recently (the
  // account itself is never locked for other sources). Other codes: the decider failed.
  virtual Result<Principal> authenticate(std::string_view name, const keys::SecretString& secret,
                                         std::string_view source) = 0;

  // What `principal` may do to the repository `gun` (which need not exist yet: then the answer
  // is what creating it by a first publish needs). Errors only when the decider itself fails.
  virtual Result<Permission> permission(const Principal& principal, std::string_view gun) = 0;

  // docker login's offline token (the OAuth2 refresh token of the Docker token protocol):
  // a long-lived, revocable credential for `principal`, shown once, stored hashed. `client_id`
  // names the client that asked (e.g. "docker"), for listing.
  virtual Result<keys::SecretString> issue_refresh_token(const Principal& principal,
                                                         std::string_view client_id) = 0;
  // Checks a refresh token; same failure rules as authenticate().
  virtual Result<Principal> authenticate_refresh_token(const keys::SecretString& token,
                                                       std::string_view source) = 0;
};

}  // namespace vouch::server::accounts
