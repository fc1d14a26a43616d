#pragma once

// vouch-server's own Docker registry token service (issue 14): the endpoint `/auth/token`
// that the notary and docker clients ask for a bearer token after a 401 challenge
// (docker/distribution docs/spec/auth/token.md and oauth.md; client side in distribution
// internal/client/auth/session.go).
//
//  GET /auth/token?service=<service>&scope=<scope>[&scope=...][&offline_token=true]
//                  [&client_id=<id>][&account=<name>]
//      Authorization: Basic <user:password> (or <service account:API token>); without an
//      Authorization header the caller is anonymous. Answers 200 with
//        {"token","access_token" (the same JWT),"expires_in","issued_at" (RFC 3339)
//         [,"refresh_token" (offline_token=true and authenticated)]}
//  POST /auth/token  (application/x-www-form-urlencoded)
//      grant_type=password&username=..&password=..[&access_type=offline]  or
//      grant_type=refresh_token&refresh_token=..;  service, client_id, scope (space-separated
//      scopes). Answers 200 with {"access_token","scope" (the granted scopes, space-separated),
//      "expires_in","issued_at"[,"refresh_token"]}: with access_type=offline a new refresh
//      token for a password grant, and the presented one again for a refresh grant.
//
// Scopes (scope.md): resourcetype[(class)]:resourcename:action[,action]*; the name may hold
// one ':' (a registry port), so the type ends at the first ':' and the actions start after
// the last. The class is deprecated and dropped. The granted access is the intersection of
// what was asked and what AccessDecider::permission allows (access.h: read -> pull,
// read-write -> pull,push, admin -> pull,push,*); `registry:catalog:*` only for system
// administrators (Principal::admin); any other type or action is granted nothing. A scope
// the caller may not have is answered with a token whose entry has no actions (token.md:
// "the token server should still return a token"), never with an error. Entries for the
// same (type, name) are merged.
//
// Answers other than 200 carry distribution's error JSON {"errors":[{"code","message"}]}:
//  400 UNSUPPORTED   malformed query/form/scope/Authorization, a bound exceeded (below), an
//                    unknown grant_type, a service other than ours, a repeated parameter
//  401 UNAUTHORIZED  wrong credentials, with `WWW-Authenticate: Basic realm="<realm>"`; the
//                    body never says whether the name or the secret was wrong
//  429 TOOMANYREQUESTS  the decider throttles this source; with Retry-After
//  503 UNAVAILABLE   the signer cannot be reached
//  500 UNKNOWN       anything of our own (logged, never sent)
//
// Tokens: ES256 compact JWS, header {"alg":"ES256","kid":<libtrust ID of the key>,
// "typ":"JWT"}, claims {"access":[{"type","name","actions"}],"aud":<service>,"exp","iat",
// "iss":<issuer>,"jti":<random>,"nbf","sub":<principal name, "" when anonymous>}, valid for
// options.lifetime, so a permission that is taken away stops working within it. The key is
// held by the server's trust service (keys::Signer): this code never sees a private key.
//
// Secrets (passwords, API and refresh tokens) are held as keys::SecretString once decoded,
// never logged; log lines name the principal, the scopes and the outcome.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/net/http_server.h"
#include "common/result.h"
#include "keys/public_key.h"
#include "keys/signer.h"
#include "server/accounts/access.h"
#include "server/token_auth.h"

namespace vouch {
class WorkQueue;  // common/work_queue.h
}

namespace prometheus {
class Registry;
}

namespace vouch::server {

// One token issued to an authenticated principal, or one refused login (for the audit log).
// Never a secret.
struct TokenEvent {
  bool issued = false;
  // issued: who got the token (never anonymous: anonymous tokens are not reported).
  accounts::Principal principal;
  // issued: the granted scopes, space-separated ("repository:acme/app:pull,push").
  std::string scope;
  // refused: the name tried (Basic user or username; "" for a refresh token), at most 64 bytes,
  // and why: "bad credentials" (401) or "throttled" (429).
  std::string name_tried;
  std::string reason;
  std::string source;  // the client address
};

struct TokenServiceOptions {
  // The token service's name, written as "iss"; TokenAuthOptions::issuer must be the same.
  // Required.
  std::string issuer;
  // This server's name as a token audience ("aud"), also the one "service" a request may name
  // (absent means this one). TokenAuthOptions::service must be the same. Required.
  std::string service;
  // realm of the Basic challenge sent with a 401. Required.
  std::string realm;
  // Lifetime of an issued token ("expires_in"). Default 5 minutes; 60 s .. 24 h (clients
  // treat less than 60 s as 60 s, token.md).
  std::chrono::seconds lifetime{300};
  // Retry-After of a 429. Default 60 s.
  std::chrono::seconds throttle_retry_after{60};
  // Bounds on untrusted input (400 beyond them). Query string (GET) and form body (POST):
  // default 8 KiB each; scopes per request: 64; one scope's length: 512 bytes; the
  // Authorization header's value: 4 KiB.
  std::size_t max_query_bytes = 8 * 1024;
  std::size_t max_form_bytes = 8 * 1024;
  std::size_t max_scopes = 64;
  std::size_t max_scope_bytes = 512;
  std::size_t max_authorization_bytes = 4 * 1024;
  // Called once per token issued to an authenticated principal and per refused login (401,
  // 429), on the thread that runs handle(), after the answer is built. Empty: nothing.
  std::function<void(const TokenEvent&)> on_event;
  // Where answers are counted: vouch_server_token_requests_total{outcome="issued" |
  // "bad_request" | "unauthorized" | "throttled" | "error"}. Null (the default): not counted.
  std::shared_ptr<prometheus::Registry> metrics;
};

// One parsed resource scope, e.g. repository:localhost:5000/team/app:pull,push.
struct ResourceScope {
  std::string type;  // "repository", "registry", ...; the deprecated "(class)" dropped
  std::string name;  // "localhost:5000/team/app"
  std::vector<std::string> actions;  // as asked, in order, without duplicates or empty ones
};

// The credentials of an `Authorization: Basic` value (RFC 7617), the secret never copied into
// a plain string.
struct BasicCredentials {
  std::string name;  // printable ASCII, non-empty
  keys::SecretString secret;
};
// nullopt unless `value` is "Basic" (any case) SP base64("name:secret") with a non-empty
// printable name and a secret without NUL. The secret may be empty (a wrong password for
// AccessDecider::authenticate, never an unauthenticated bind anywhere). Thread-safe.
std::optional<BasicCredentials> parse_basic_credentials(std::string_view value);

// Parses one scope (see the top of this file). Reason::kMalformed for: fewer than two ':',
// a type that is not [a-z0-9]+ with an optional ([a-z0-9]+) class, an empty name or one with
// bytes outside printable ASCII, a repository name that is not a valid GUN (tuf/gun.h), an
// action that is neither [a-z]+ nor "*". Reason::kTooLarge beyond `max_bytes`. Thread-safe.
Result<ResourceScope> parse_scope(std::string_view text, std::size_t max_bytes = 512);

// The repository actions a permission allows, as access.h maps them.
std::vector<std::string> allowed_actions(accounts::Permission permission);

class TokenService {
 public:
  // The route this service answers (GET and POST).
  static constexpr std::string_view kPath = "/auth/token";

  // `key` is the token signing key, an ecdsa (P-256) key held by `signer`
  // (load_or_create_token_key). Errors: an empty issuer, service or realm, or a lifetime
  // outside 60 s .. 24 h (kInvalidArgument); a key that is not ecdsa (kUnsupportedAlgorithm).
  // `decider`, `signer` and `clock` must outlive the service.
  static Result<std::unique_ptr<TokenService>> create(accounts::AccessDecider& decider,
                                                      keys::Signer& signer, keys::PublicKey key,
                                                      TokenServiceOptions options,
                                                      const Clock& clock = SystemClock::instance());
  ~TokenService();
  TokenService(const TokenService&) = delete;
  TokenService& operator=(const TokenService&) = delete;

  // Answers one request for kPath (any other method: 405). Blocks: password checks are slow
  // on purpose (Argon2id) and the signer may be remote, so call it on a worker thread, never
  // on an HTTP io thread. Never throws. Thread-safe.
  net::Response handle(const net::Request& request);

  // The largest body handle() accepts (a POST form): for net::HttpServerOptions::body_limit.
  std::size_t max_body_bytes() const;
  // Whether `request` (or its head) is for kPath (the query is not part of the path).
  static bool is_token_request(const net::Request& request);
  // The libtrust key ID of the signing key, the "kid" of every token.
  const std::string& key_id() const;
  const keys::PublicKey& key() const;

  struct Impl;

 private:
  explicit TokenService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The token signing key, created once and reused across restarts: `state_file` (JSON
// {"key_id":"<TUF key ID>"}) names the key the signer holds. When the file is absent, a new
// ecdsa key is created with `signer` (role "token-service", no GUN) and its ID written to
// the file durably (the directory is created if needed). Errors: the file is unreadable or
// malformed (kIo / kMalformed), or names a key the signer does not hold (kUnknownKey: the key
// store and the state file do not belong together; nothing is created then), the signer's
// own errors. Not thread-safe with itself on one file.
Result<keys::PublicKey> load_or_create_token_key(keys::Signer& signer,
                                                 const std::filesystem::path& state_file);

// The HTTP handler of a server that serves the token service beside another API (NotaryApi):
// requests for kPath are answered by `service` on `workers`, off the io thread (a full queue
// is answered 503 with Retry-After: 1 at once); every other request goes to `next`.
// `service` and `workers` must outlive the handler; requests still queued when `workers`
// stops are answered 500 by their dropped Responder.
net::Handler route_token_requests(TokenService& service, WorkQueue& workers, net::Handler next);

// TokenAuthOptions that verify the tokens `service` issues: same issuer and service, its key
// as the one trusted key (no bundle), `realm` where clients fetch tokens (the URL of kPath).
TokenAuthOptions token_auth_options_for(const TokenService& service,
                                        const TokenServiceOptions& options, std::string realm);

}  // namespace vouch::server
