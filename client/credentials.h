#pragma once

// The logins `vouch login` stores (issue 14): one per trust server, in
// `<trust dir>/credentials.json`, so that later commands authenticate without NOTARY_AUTH.
// What is stored is the refresh token the server's token service issued (docker login's
// "offline token"), never a password: it can be revoked at the server (`vouch logout`,
// `vouch admin token revoke`) and is worthless elsewhere.
//
// The file (mode 0600, written atomically; client/README.md "Logging in"):
//   {"servers":{"<origin>":{"realm":"<token service URL>","refresh_token":"vouch_...",
//                           "username":"<name>"}}}
// keyed by the server URL's origin ("https://host:port", client/http.h url_origin), so
// "https://notary.example.com" and "https://notary.example.com:443/" are one server.
//
// Errors: Reason::kIo naming the file for I/O; kMalformed for a file that is not this format
// (it is never overwritten then: fix or remove it); Code kFailedPrecondition with
// Reason::kInsecureFile when the file is readable or writable by group or others (as ssh
// treats its keys). Secrets are never part of a message.
//
// Thread-safety: none needed (a value type over a path). Two processes saving at once: each
// write is atomic, the last one wins (a login made at the same time may be lost; log in again).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "keys/secret.h"

namespace vouch::client {

struct StoredLogin {
  std::string server;  // the origin, "https://host:port"
  std::string username;
  std::string realm;  // the token service URL the refresh token is sent to
  keys::SecretString refresh_token;
};

class CredentialStore {
 public:
  // The file name inside the trust directory.
  static constexpr std::string_view kFileName = "credentials.json";
  // The largest file read (a few hundred logins).
  static constexpr std::size_t kMaxFileBytes = 1u << 20;

  explicit CredentialStore(std::filesystem::path trust_dir);

  const std::filesystem::path& path() const { return path_; }

  // The login stored for `server_url` (any URL of the server; kMalformed if it is not an
  // absolute http(s) URL), or nullopt. A missing file is no login.
  Result<std::optional<StoredLogin>> find(std::string_view server_url) const;
  // Stores `login` (its `server` may be any URL of the server; it is stored by origin),
  // replacing one for the same server and keeping the others. Creates the trust directory
  // (0700) when missing.
  Status save(const StoredLogin& login) const;
  // Removes the login for `server_url`; returns it (so that the caller can revoke it) or
  // nullopt when there was none. The file is removed when it holds no login any more.
  Result<std::optional<StoredLogin>> remove(std::string_view server_url) const;
  // The origins with a stored login, sorted.
  Result<std::vector<std::string>> servers() const;

 private:
  std::filesystem::path path_;
};

// The public ID of an API or refresh token "vouch_<id>_<secret>" (server/accounts/api_tokens.h),
// for revoking it; nullopt for any other text.
std::optional<std::string> api_token_id(std::string_view token);

}  // namespace vouch::client
