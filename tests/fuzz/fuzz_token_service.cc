// libFuzzer target for vouch-server's own token endpoint (server/token_service.h): the query
// or form parser, scope parsing, Basic credentials and the grant, as /auth/token reads them
// from a request.
//
// Input layout, chosen by the first byte:
//  - 'P': a POST; the rest is "<Content-Type>\n<form body>".
//  - anything else: a GET; the rest is "<query>\n<Authorization value>" (no second line: no
//    Authorization header).
// The decider is a fixed table: user "alice" (password "alice-pw") may read-write
// "example.com/app"; "example.com/pub" is public; nobody is an administrator.
//
// Properties checked on every input:
//  - no crash, throw or sanitizer report; the answer is 200, 400, 401 or 405 (never a 5xx:
//    nothing of ours fails here), and no header value holds a control byte;
//  - a 200 carries a token that TokenAuthorizer accepts, whose access list grants nothing
//    beyond the table: pull/push on example.com/app for alice only, pull on example.com/pub,
//    nothing else at all.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/log.h"
#include "server/token_service.h"
#include "tests/support/memory_signer.h"
#include "tuf/json.h"

namespace {

using vouch::Result;
using vouch::server::accounts::Permission;
using vouch::server::accounts::Principal;
namespace json = vouch::tuf::json;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_token_service: %s\n", what);
  std::abort();
}

class Table final : public vouch::server::accounts::AccessDecider {
 public:
  Result<Principal> authenticate(std::string_view name, const vouch::keys::SecretString& secret,
                                 std::string_view) override {
    if (name == "alice" && secret.view() == "alice-pw") {
      return Principal{Principal::Kind::kUser, "alice", false, ""};
    }
    return vouch::make_error(vouch::Code::kUnauthenticated, vouch::Reason::kBadCredentials, "no");
  }
  Result<Permission> permission(const Principal& p, std::string_view gun) override {
    if (gun == "example.com/app" && p.name == "alice") return Permission::kReadWrite;
    if (gun == "example.com/pub") return Permission::kRead;
    return Permission::kNone;
  }
  Result<vouch::keys::SecretString> issue_refresh_token(const Principal&,
                                                        std::string_view) override {
    return vouch::keys::SecretString("refresh-alice");
  }
  Result<Principal> authenticate_refresh_token(const vouch::keys::SecretString& token,
                                               std::string_view) override {
    if (token.view() == "refresh-alice") {
      return Principal{Principal::Kind::kUser, "alice", false, ""};
    }
    return vouch::make_error(vouch::Code::kUnauthenticated, vouch::Reason::kBadCredentials, "no");
  }
};

struct Fixture {
  Table table;
  vouch::testing::MemorySigner signer;
  vouch::FixedClock clock{vouch::TimePoint(std::chrono::seconds(1'800'000'000))};
  vouch::server::TokenServiceOptions options;
  std::unique_ptr<vouch::server::TokenService> service;
  std::unique_ptr<vouch::server::TokenAuthorizer> auth;
};

Fixture* fixture = nullptr;

void set_up() {
  vouch::log::Options quiet;
  quiet.level = "off";
  vouch::log::init(quiet);
  fixture = new Fixture;
  fixture->options.issuer = fixture->options.service = fixture->options.realm = "vouch-server";
  auto key = fixture->signer.create_key("", "token-service", vouch::keys::KeyType::kEcdsa);
  if (!key) fail("no key");
  auto service = vouch::server::TokenService::create(fixture->table, fixture->signer, *key,
                                                     fixture->options, fixture->clock);
  if (!service) fail("no service");
  fixture->service = std::move(*service);
  auto auth = vouch::server::TokenAuthorizer::create(
      vouch::server::token_auth_options_for(*fixture->service, fixture->options, "http://x/"),
      fixture->clock);
  if (!auth) fail("no authorizer");
  fixture->auth = std::move(*auth);
}

// The actions `sub` may hold on (type, name) at most.
bool allowed(std::string_view sub, std::string_view type, std::string_view name,
             std::string_view action) {
  if (type != "repository") return false;
  if (name == "example.com/app") return sub == "alice" && (action == "pull" || action == "push");
  if (name == "example.com/pub") return action == "pull";
  return false;
}

void check_token(const std::string& body) {
  auto doc = json::parse(body);
  if (!doc || !doc->is_object()) fail("a 200 that is not a JSON object");
  const json::Value* token = doc->find("access_token");
  if (token == nullptr || !token->is_string()) fail("a 200 without access_token");
  const std::string& jwt = token->as_string();
  const auto dot1 = jwt.find('.');
  const auto dot2 = jwt.rfind('.');
  if (dot1 == std::string::npos || dot1 == dot2) fail("not a compact JWS");
  auto claims_bytes =
      vouch::base64url_decode(std::string_view(jwt).substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claims_bytes) fail("claims are not base64url");
  auto claims = json::parse(vouch::as_string_view(*claims_bytes));
  if (!claims) fail("claims are not JSON");
  const std::string& sub = claims->find("sub")->as_string();
  for (const auto& entry : claims->find("access")->as_array()) {
    const std::string& type = entry.find("type")->as_string();
    const std::string& name = entry.find("name")->as_string();
    for (const auto& action : entry.find("actions")->as_array()) {
      if (!allowed(sub, type, name, action.as_string())) fail("granted beyond the table");
      if (action.as_string() == "pull") {
        vouch::net::Request req;
        req.method = "GET";
        req.target = "/v2/";
        req.headers.add("Authorization", "Bearer " + jwt);
        if (!fixture->auth->authorize(req, name, {vouch::server::Access::kPull}, nullptr)) {
          fail("an issued token is refused for what it grants");
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (fixture == nullptr) set_up();
  if (size < 1) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view rest = input.substr(1);
  const std::size_t nl = rest.find('\n');
  const std::string_view first = rest.substr(0, nl);
  const bool has_second = nl != std::string_view::npos;
  const std::string_view second = has_second ? rest.substr(nl + 1) : std::string_view();

  vouch::net::Request request;
  request.remote_address = "192.0.2.1";
  if (input[0] == 'P') {
    request.method = "POST";
    request.target = "/auth/token";
    request.headers.add("Content-Type", std::string(first));
    request.body = std::string(second);
  } else {
    request.method = "GET";
    request.target = "/auth/token?" + std::string(first);
    if (has_second) request.headers.add("Authorization", std::string(second));
  }
  const vouch::net::Response r = fixture->service->handle(request);
  if (r.status != 200 && r.status != 400 && r.status != 401 && r.status != 405) {
    fail("an answer other than 200, 400, 401 or 405");
  }
  for (const auto& h : r.headers) {
    for (const char c : h.value) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) fail("a control byte in a header");
    }
  }
  if (r.status == 200) check_token(r.body);
  return 0;
}
