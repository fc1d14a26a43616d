#pragma once

// The accounts admin HTTP API of vouch-server (issue 14), under /api/v1/: users,
// organizations, teams, service accounts, API tokens, repository visibility and grants,
// members' signing keys (/keys), and the audit log. server/README.md ("Admin API") is the contract the CLI is built against.
//
// Authentication, on every request: `Authorization: Basic` with a user name and password (or
// the owner's name and an API token), or `Authorization: Bearer vouch_<id>_<secret>` (an API
// or refresh token; never the short-lived JWTs of /auth/token). Without it: 401 with
// `WWW-Authenticate: Basic realm="vouch"`. A refused login (wrong credentials, throttled) is
// appended to the audit log as login_failed (name tried, address; never the secret). Every
// operation is authorized by AccountsService
// (accounts_service.h has who may do what); the audit endpoints need a system administrator.
//
// Answers: JSON (Boost.JSON). Errors are {"error":{"code":"<reason>","message":"..."}} where
// code is the Reason's name (common/error.h: "bad_credentials", "permission_denied",
// "not_found", "conflict", "malformed", "throttled", ...) with the status of its Code:
//   400 kInvalidArgument (bad JSON, names, fields; an unknown member or grantee)
//   401 kUnauthenticated (no or wrong credentials; wrong password and unknown user read the same)
//   403 kPermissionDenied            404 kNotFound (also an unknown route)
//   405 a known route, another method (with Allow)
//   409 kAlreadyExists, kFailedPrecondition (a name taken; the last system admin)
//   413 a body over max_body_bytes (the HTTP server answers it before the handler)
//   429 kResourceExhausted (too many failed logins from this address; with Retry-After)
//   500 anything of our own (logged, never sent)      503 kUnavailable
// Bodies: JSON objects only, at most max_body_bytes; unknown fields are refused (400) so a
// typo never passes silently. Lists page with ?limit= (1..1000, default 100) and ?after= (the
// "next_after" of the previous page; "" on the last page).
//
// Secrets (passwords, tokens) are held as keys::SecretString once decoded and never logged;
// a new API token's text is in the answer to its creation only. One log line per request
// (method, path, principal, status), never a header or body.
//
// Thread-safety: handle() may be called concurrently. It blocks (Argon2id, synced writes):
// call it on a worker thread (route_admin_requests), never on an HTTP io thread.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/net/http_server.h"
#include "server/accounts/accounts_service.h"
#include "server/audit/audit_log.h"

namespace vouch {
class WorkQueue;  // common/work_queue.h
}

namespace vouch::server {

// What one directory group sync did (POST /api/v1/ldap/sync).
struct DirectorySyncCounts {
  std::size_t groups_synced = 0, groups_failed = 0, added = 0, removed = 0, skipped = 0;
};
class RosterStatusService;  // server/roster_status.h

struct AdminApiOptions {
  // Largest request body. Default 64 KiB.
  std::size_t max_body_bytes = 64 * 1024;
  // Largest Authorization header value. Default 4 KiB.
  std::size_t max_authorization_bytes = 4 * 1024;
  // Retry-After of a 429, seconds. Default 60.
  long long throttle_retry_after_seconds = 60;
  // The accounts option of the same name (GET /repositories answers the namespace by it).
  std::string repository_host;
  // POST /api/v1/ldap/sync (system admins): runs one LDAP group sync now and answers its
  // counts. Unset (no auth.ldap): that route is 404.
  std::function<DirectorySyncCounts()> directory_sync;
  // GET /orgs/<org>/roster[?gun=...]: whether the org's signed team roster is out of date
  // (issue 15). Null: that route answers 404. Must outlive the API.
  RosterStatusService* rosters = nullptr;
};

class AdminApi {
 public:
  // The prefix of every route.
  static constexpr std::string_view kPrefix = "/api/v1/";

  // `accounts` and `audit` must outlive the API; `audit` may be null (the audit routes then
  // answer 404).
  AdminApi(accounts::AccountsService& accounts, audit::AuditLog* audit, AdminApiOptions options);

  // Answers one request under kPrefix. Blocks; never throws. Thread-safe.
  net::Response handle(const net::Request& request);

  // Whether `request` (or its head) is for this API: its path starts with kPrefix (or is
  // "/api/v1").
  static bool is_admin_request(const net::Request& request);
  // The client address of the request this thread is answering in handle() ("" elsewhere),
  // for the audit records of the changes it makes (AccountsService::on_change runs on the
  // thread that made the change).
  static std::string_view current_source();
  std::size_t max_body_bytes() const { return options_.max_body_bytes; }

 private:
  accounts::AccountsService& accounts_;
  audit::AuditLog* audit_;
  AdminApiOptions options_;
};

// The HTTP handler of a server that serves the admin API beside another handler: requests
// for AdminApi::kPrefix are answered by `api` on `workers`, off the io thread (a full queue
// is answered 503 with Retry-After: 1 at once); every other request goes to `next`. `api` and
// `workers` must outlive the handler.
net::Handler route_admin_requests(AdminApi& api, WorkQueue& workers, net::Handler next);

}  // namespace vouch::server
