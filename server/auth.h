#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/net/http_server.h"
#include "common/result.h"

namespace vouch::server {

// What a request wants to do, as Notary's token scopes name it
// (repository:<gun>:pull / push / *, and registry:catalog:* for the global changefeed).
enum class Access { kPull, kPush, kAll, kCatalog };

// Decides whether a request may do `access` on `gun`.
//  - ok: proceed.
//  - Code::kUnauthenticated: answer 401 with `challenge` as WWW-Authenticate.
//  - Code::kPermissionDenied: answer 403 (authenticated, but not allowed).
//    TokenAuthorizer never uses it: like notary-server it answers a valid token that lacks
//    the scope with kUnauthenticated and error="insufficient_scope" in the challenge, because
//    the notary and docker clients retry with credentials only after a 401.
//  - any other code (kInternal: the authorizer itself failed): refuse the request.
// On success, `*subject` (if not null) receives who the request authenticated as (a token's
// "sub"; "" when the authorizer knows nobody), for the audit log; it is left alone on refusal.
// Implementations are thread-safe, and decide from the request's head alone: a publish is
// authorized before its body is read (NotaryApi::check_head), so `request.body` may be empty.
class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual Result<void> authorize(const net::Request& request, std::string_view gun,
                                 std::vector<Access> actions, std::string* challenge,
                                 std::string* subject = nullptr) const = 0;
};

// Lets everything through. Only for `--insecure-no-auth`, which the server announces loudly.
class AllowAllAuthorizer final : public Authorizer {
 public:
  Result<void> authorize(const net::Request&, std::string_view, std::vector<Access>,
                         std::string*, std::string* subject = nullptr) const override {
    if (subject != nullptr) subject->clear();
    return {};
  }
};

}  // namespace vouch::server
