#pragma once

// The client of vouch-server's admin API (issue 14; server/README.md "Admin API"), for
// `vouch admin ...`: users, organizations and their members, teams, service accounts, API
// tokens, repository visibility and grants, the audit log. JSON over the transport of
// client/http.h (its TLS options and bounds).
//
// Authentication: the caller sets it on the HttpClient (HttpClient::set_origin_authorization):
// the stored login's refresh token as `Authorization: Bearer vouch_...`, or Basic credentials
// (NOTARY_AUTH).
//
// Answers: every call returns the server's JSON document (Boost.JSON, as the server writes
// it: members in the server's order; bounded by AdminApiOptions, nested at most 16 deep)
// except where a typed result is stated. Lists ({"<items>":[...],
// "next_after"}) are read page by page (limit=1000, after=<next_after>) and returned as one
// document with every item and next_after "" (at most kMaxListPages pages; kTooLarge beyond).
// Errors, from the server's {"error":{"code":"<reason>","message":"..."}} (the message is the
// server's, cut to 512 bytes with control characters replaced; prefixed by the server's
// origin):
//   400 -> Code kInvalidArgument       401 -> Code kUnauthenticated
//   403 -> Code kPermissionDenied      404 -> Code kNotFound
//   409 -> Code kAlreadyExists (reason "conflict") else kFailedPrecondition
//   429 -> Code kResourceExhausted     5xx -> Code kUnavailable (Reason kUnavailable)
// and the Reason named by "code" (common/error.h to_string), kNone when unknown. Transport
// errors are HttpClient's. A 2xx answer that is not JSON is kMalformed.
//
// Secrets: passwords and token texts are sent in bodies built in keys::SecretString, never in
// a URL; a created token's text is returned as a SecretString and removed from the answer.
//
// Threading: like the HttpClient it uses, one AdminClient per thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "client/http.h"
#include "common/result.h"
#include "keys/secret.h"

namespace vouch::client {

struct AdminApiOptions {
  // Most bytes of one answer (an audit page, a long list). Default 4 MiB.
  std::size_t max_response = 4u << 20;
};

// PATCH /api/v1/users/{name}: only the fields set are changed.
struct UserUpdate {
  std::optional<bool> disabled;
  std::optional<bool> admin;
  std::optional<keys::SecretString> password;
};

// POST /api/v1/tokens.
struct TokenRequest {
  std::string owner;  // a user, or a service account "<owner>/<name>"
  std::string label;
  std::optional<std::int64_t> expires_in_days;  // server default (90) when unset
  // Scope limit: GUN glob patterns and the most the token may do there ("read",
  // "read-write", "admin"). No limit when `repositories` is empty.
  std::vector<std::string> repositories;
  std::string max_permission;
};

// A token as created: `token` is shown to its owner once.
struct CreatedToken {
  std::string id;
  keys::SecretString token;
  std::string expires_at;
  boost::json::value answer;  // the rest of the server's answer (the token text removed)
};

// PUT /api/v1/grants.
struct GrantRequest {
  std::string target;        // "<gun>" or "<namespace>/*"
  std::string grantee_kind;  // "user" | "team" | "service_account"
  std::string grantee;       // "alice" | "org/team" | "owner/sa"
  std::string permission;    // "none" (deletes the grant) | "read" | "read-write" | "admin"
};

class AdminClient {
 public:
  static constexpr std::string_view kPrefix = "/api/v1";
  static constexpr std::size_t kMaxListPages = 100;

  // `server_url`: the server's base URL (its path, if any, is kept: a server behind a path
  // prefix). kMalformed when it is not an absolute http(s) URL. `http` must outlive this.
  static Result<AdminClient> create(std::string_view server_url, HttpClient& http,
                                    AdminApiOptions options = {});

  const std::string& origin() const { return origin_; }

  Result<boost::json::value> me();

  Result<boost::json::value> list_users();
  Result<boost::json::value> create_user(std::string_view name, const keys::SecretString& password,
                                         bool admin);
  Result<boost::json::value> get_user(std::string_view name);
  Result<boost::json::value> update_user(std::string_view name, const UserUpdate& update);
  Result<boost::json::value> delete_user(std::string_view name);

  Result<boost::json::value> list_orgs();
  Result<boost::json::value> create_org(std::string_view name);
  Result<boost::json::value> get_org(std::string_view org);
  Result<boost::json::value> delete_org(std::string_view org);
  Result<boost::json::value> list_org_members(std::string_view org);
  // PUT: adds `user` to `org` (or changes the admin flag when `admin` is set).
  Result<boost::json::value> set_org_member(std::string_view org, std::string_view user,
                                            std::optional<bool> admin);
  Result<boost::json::value> remove_org_member(std::string_view org, std::string_view user);

  Result<boost::json::value> list_teams(std::string_view org);
  Result<boost::json::value> create_team(std::string_view org, std::string_view team,
                                         std::string_view description);
  Result<boost::json::value> get_team(std::string_view org, std::string_view team);
  Result<boost::json::value> delete_team(std::string_view org, std::string_view team);
  Result<boost::json::value> list_team_members(std::string_view org, std::string_view team);
  // `member`: a user name or a service account "<owner>/<name>" (sent as one path segment,
  // the slash percent-encoded).
  Result<boost::json::value> add_team_member(std::string_view org, std::string_view team,
                                             std::string_view member);
  Result<boost::json::value> remove_team_member(std::string_view org, std::string_view team,
                                                std::string_view member);

  // `owner` empty: every service account the caller may see.
  Result<boost::json::value> list_service_accounts(std::string_view owner);
  Result<boost::json::value> create_service_account(std::string_view owner, std::string_view name,
                                                    std::string_view description);
  Result<boost::json::value> delete_service_account(std::string_view owner, std::string_view name);

  // `owner` empty: the caller's own tokens.
  Result<boost::json::value> list_tokens(std::string_view owner);
  Result<CreatedToken> create_token(const TokenRequest& request);
  Result<boost::json::value> revoke_token(std::string_view id);

  Result<boost::json::value> get_repository(std::string_view gun);
  Result<boost::json::value> set_visibility(std::string_view gun, std::string_view visibility);
  // Exactly one of `gun` and `namespace_name` is non-empty.
  Result<boost::json::value> list_grants(std::string_view gun, std::string_view namespace_name);
  Result<boost::json::value> set_grant(const GrantRequest& grant);

  // GET /api/v1/audit?after=N&limit=M (system admins): {records:[...], next_after}.
  Result<boost::json::value> audit(std::uint64_t after, std::uint32_t limit);
  Result<boost::json::value> verify_audit();

  // The request every call above makes, for anything else under kPrefix: `path` is the part
  // after the prefix, already escaped; `body` an encoded JSON document or empty.
  Result<boost::json::value> call(std::string_view method, std::string_view path,
                                  std::string_view body);

 private:
  // GET of a paged list, every page (see above).
  Result<boost::json::value> list(std::string_view path);

  AdminClient(std::string base, std::string origin, HttpClient& http, AdminApiOptions options)
      : base_(std::move(base)), origin_(std::move(origin)), http_(&http), options_(options) {}

  std::string base_;    // the server URL without a trailing '/'
  std::string origin_;  // for messages
  HttpClient* http_;
  AdminApiOptions options_;
};

// Maps an admin API error answer (status and body) to an Error, as described above. Exposed
// for tests.
Error admin_api_error(unsigned status, std::string_view body, std::string_view origin);

// JSON of an API answer or of a file of the client (credentials.json), with Boost.JSON, the
// one JSON stack for configs and APIs (tuf::json is for TUF metadata only): `text` parsed,
// nested at most `max_depth` levels deep (the caller bounds its size). kMalformed, with the
// parser's message, when it is not one JSON document.
Result<boost::json::value> parse_json(std::string_view text, std::size_t max_depth);

// A Boost.JSON string's bytes.
inline std::string_view json_view(const boost::json::string& s) { return {s.data(), s.size()}; }

// JSON text of `text` as a string literal, every control character escaped (the canonical
// encoder writes them raw, which strict parsers refuse), into `out`.
void append_json_string(std::string_view text, keys::SecretString& out);

}  // namespace vouch::client
