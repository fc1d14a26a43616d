// TokenService: vouch-server's own Docker registry token endpoint (/auth/token), against a
// fixed table of users and permissions (TableDecider: a test double of the AccessDecider
// seam; the real accounts service is tested on its own), with tokens checked by the real
// TokenAuthorizer.

#include "server/token_service.h"

#include <doctest/doctest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <set>

#include "common/encoding.h"
#include "keys/private_key.h"
#include "tests/support/check_macros.h"
#include "tests/support/memory_signer.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/server/table_decider.h"
#include "tuf/json.h"

namespace vouch::server {
namespace {

namespace json = tuf::json;
using accounts::Permission;
using accounts::Principal;
using namespace std::chrono_literals;
using testing::TableDecider;

constexpr std::int64_t kT0 = 1'800'000'000;
TimePoint at(std::int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

std::string basic(std::string_view user, std::string_view password) {
  return "Basic " + base64_encode(as_bytes(std::string(user) + ":" + std::string(password)));
}

struct Answer {
  unsigned status = 0;
  net::Headers headers;
  std::string body;
  json::Value json;
  // The decoded JWT parts, when the answer carries a token.
  json::Value jwt_header;
  json::Value claims;
  std::string token;
};

json::Value decode_segment(std::string_view segment) {
  auto bytes = base64url_decode(segment);
  REQUIRE(bytes.ok());
  auto v = json::parse(as_string_view(*bytes));
  REQUIRE(v.ok());
  return std::move(*v);
}

struct Fixture {
  TableDecider decider;
  testing::MemorySigner signer;
  FixedClock clock{at(kT0)};
  TokenServiceOptions options;
  std::unique_ptr<TokenService> service;
  std::unique_ptr<TokenAuthorizer> authorizer;
  std::vector<TokenEvent> events;  // what on_event reported

  Fixture() {
    options.issuer = "vouch-auth";
    options.service = "vouch-server";
    options.realm = "vouch-server";
    options.on_event = [this](const TokenEvent& e) { events.push_back(e); };
    auto key = signer.create_key("", "token-service", keys::KeyType::kEcdsa);
    REQUIRE(key.ok());
    auto created = TokenService::create(decider, signer, *key, options, clock);
    REQUIRE(created.ok());
    service = std::move(*created);
    auto auth = TokenAuthorizer::create(
        token_auth_options_for(*service, options, "https://vouch.example.com/auth/token"), clock);
    REQUIRE(auth.ok());
    authorizer = std::move(*auth);
  }

  Answer send(net::Request req) {
    req.remote_address = req.remote_address.empty() ? "192.0.2.1" : req.remote_address;
    net::Response r = service->handle(req);
    Answer a{r.status, r.headers, r.body, {}, {}, {}, {}};
    auto parsed = json::parse(r.body);
    REQUIRE_MESSAGE(parsed.ok(), r.body);
    a.json = std::move(*parsed);
    const json::Value* t = a.json.find("access_token");
    if (r.status == 200 && t != nullptr) {
      a.token = t->as_string();
      const auto dot1 = a.token.find('.');
      const auto dot2 = a.token.rfind('.');
      REQUIRE(dot1 != dot2);
      a.jwt_header = decode_segment(std::string_view(a.token).substr(0, dot1));
      a.claims = decode_segment(std::string_view(a.token).substr(dot1 + 1, dot2 - dot1 - 1));
    }
    return a;
  }
  Answer get(std::string query, std::optional<std::string> authorization = std::nullopt,
             std::string source = "") {
    net::Request req;
    req.method = "GET";
    req.target = "/auth/token?" + query;
    if (authorization) req.headers.add("Authorization", *authorization);
    req.remote_address = source;
    return send(std::move(req));
  }
  Answer post(std::string form, std::string source = "") {
    net::Request req;
    req.method = "POST";
    req.target = "/auth/token";
    req.headers.add("Content-Type", "application/x-www-form-urlencoded");
    req.body = std::move(form);
    req.remote_address = source;
    return send(std::move(req));
  }
  // What the token lets a request do to `gun`, checked by the real TokenAuthorizer.
  Status allows(const std::string& token, std::string_view gun, std::vector<Access> actions) {
    net::Request req;
    req.method = "GET";
    req.target = "/v2/";
    req.headers.add("Authorization", "Bearer " + token);
    return authorizer->authorize(req, gun, std::move(actions), nullptr);
  }
};

// The actions the token grants on (type, name); nullopt when it has no entry for it.
std::optional<std::vector<std::string>> actions_in(const Answer& a, std::string_view type,
                                                   std::string_view name) {
  const json::Value* access = a.claims.find("access");
  REQUIRE(access != nullptr);
  for (const auto& e : access->as_array()) {
    if (e.find("type")->as_string() == type && e.find("name")->as_string() == name) {
      std::vector<std::string> out;
      for (const auto& x : e.find("actions")->as_array()) out.push_back(x.as_string());
      return out;
    }
  }
  return std::nullopt;
}

using Actions = std::vector<std::string>;

std::string error_code(const Answer& a) {
  const json::Value* errors = a.json.find("errors");
  REQUIRE(errors != nullptr);
  REQUIRE(errors->as_array().size() == 1);
  return errors->as_array()[0].find("code")->as_string();
}

// ---- Scope parsing -----------------------------------------------------------------------

TEST_CASE("parse_scope: type, a name that may hold a port, actions") {
  auto s = parse_scope("repository:localhost:5000/team/app:pull,push");
  REQUIRE_OK(s);
  CHECK(s->type == "repository");
  CHECK(s->name == "localhost:5000/team/app");
  CHECK(s->actions == Actions{"pull", "push"});

  auto catalog = parse_scope("registry:catalog:*");
  REQUIRE_OK(catalog);
  CHECK(catalog->actions == Actions{"*"});

  // The deprecated class is dropped; repeated and empty actions are ignored.
  auto plugin = parse_scope("repository(plugin):a/b:pull,,pull");
  REQUIRE_OK(plugin);
  CHECK(plugin->type == "repository");
  CHECK(plugin->actions == Actions{"pull"});

  auto none = parse_scope("repository:a/b:");
  REQUIRE_OK(none);
  CHECK(none->actions.empty());
}

TEST_CASE("parse_scope: malformed scopes are refused") {
  for (const char* bad : {"", "repository", "repository:a/b", "Repository:a/b:pull",
                          "repo-x:a/b:pull", "repository():a/b:pull", "repository(x:a/b:pull",
                          "repository::pull", "repository:a//b:pull", "repository:a/../b:pull",
                          "repository:a b:pull", "repository:a/b:PULL", "repository:a/b:pu-ll",
                          "repository:a/b:pull,**", "repository:a\x01/b:pull"}) {
    CAPTURE(bad);
    CHECK_REASON(parse_scope(bad), Reason::kMalformed);
  }
  CHECK_REASON(parse_scope("repository:" + std::string(600, 'a') + ":pull"), Reason::kTooLarge);
  CHECK_REASON(parse_scope("repository:a/b:pull", 10), Reason::kTooLarge);
}

TEST_CASE("allowed_actions follows access.h") {
  CHECK(allowed_actions(Permission::kNone).empty());
  CHECK(allowed_actions(Permission::kRead) == Actions{"pull"});
  CHECK(allowed_actions(Permission::kReadWrite) == Actions{"pull", "push"});
  CHECK(allowed_actions(Permission::kAdmin) == Actions{"pull", "push", "*"});
}

// ---- GET ---------------------------------------------------------------------------------

TEST_CASE("GET with Basic credentials: the intersection of asked and allowed") {
  Fixture f;
  const Answer a = f.get(
      "service=vouch-server&scope=repository:example.com/acme/app:pull,push,*"
      "&scope=repository:example.com/acme/secret:pull"
      "&scope=repository%3Aexample.com%2Falice%2Fown%3A*",
      basic("alice", "alice-pw"));
  REQUIRE(a.status == 200);
  CHECK(actions_in(a, "repository", "example.com/acme/app") == Actions{"pull", "push"});
  // Asked for, not allowed: an entry without actions, not an error (token.md).
  CHECK(actions_in(a, "repository", "example.com/acme/secret") == Actions{});
  CHECK(actions_in(a, "repository", "example.com/alice/own") == Actions{"*"});
  CHECK(a.json.find("token")->as_string() == a.token);
  CHECK(a.json.find("expires_in")->as_int() == 300);
  CHECK(a.json.find("issued_at")->as_string() == format_rfc3339(at(kT0)));
  CHECK(a.json.find("refresh_token") == nullptr);
  CHECK(a.headers.get_or("Cache-Control", "") == "no-store");

  // The token does exactly that with the real TokenAuthorizer.
  CHECK(f.allows(a.token, "example.com/acme/app", {Access::kPush, Access::kPull}).ok());
  CHECK_REASON(f.allows(a.token, "example.com/acme/app", {Access::kAll}),
               token_reason::kInsufficientScope);
  CHECK_REASON(f.allows(a.token, "example.com/acme/secret", {Access::kPull}),
               token_reason::kInsufficientScope);
  CHECK(f.allows(a.token, "example.com/alice/own", {Access::kAll}).ok());
  CHECK_REASON(f.allows(a.token, "", {Access::kCatalog}), token_reason::kInsufficientScope);
}

TEST_CASE("the JWT: ES256 with the libtrust kid, claims for this service, short-lived") {
  Fixture f;
  const Answer a = f.get("service=vouch-server&scope=repository:example.com/acme/app:pull",
                         basic("alice", "alice-pw"));
  REQUIRE(a.status == 200);
  CHECK(a.jwt_header.find("alg")->as_string() == "ES256");
  CHECK(a.jwt_header.find("typ")->as_string() == "JWT");
  CHECK(a.jwt_header.find("kid")->as_string() == f.service->key_id());
  CHECK(f.service->key_id() == libtrust_key_id(f.service->key().spki_der()));
  CHECK(a.claims.find("iss")->as_string() == "vouch-auth");
  CHECK(a.claims.find("aud")->as_string() == "vouch-server");
  CHECK(a.claims.find("sub")->as_string() == "alice");
  CHECK(a.claims.find("iat")->as_int() == kT0);
  CHECK(a.claims.find("nbf")->as_int() == kT0);
  CHECK(a.claims.find("exp")->as_int() == kT0 + 300);
  const Answer b = f.get("scope=repository:example.com/acme/app:pull", basic("alice", "alice-pw"));
  CHECK(a.claims.find("jti")->as_string() != b.claims.find("jti")->as_string());

  // Past its lifetime (and the verifier's 60 s leeway) the token is refused.
  CHECK(f.allows(a.token, "example.com/acme/app", {Access::kPull}).ok());
  f.clock.set(at(kT0 + 300 + 61));
  CHECK_REASON(f.allows(a.token, "example.com/acme/app", {Access::kPull}), token_reason::kExpired);
}

TEST_CASE("anonymous: read on public repositories only, no refresh token") {
  Fixture f;
  const Answer a = f.get(
      "service=vouch-server&scope=repository:example.com/library/public:pull,push"
      "&scope=repository:example.com/acme/app:pull&offline_token=true&client_id=docker");
  REQUIRE(a.status == 200);
  CHECK(a.claims.find("sub")->as_string().empty());
  CHECK(actions_in(a, "repository", "example.com/library/public") == Actions{"pull"});
  CHECK(actions_in(a, "repository", "example.com/acme/app") == Actions{});
  CHECK(a.json.find("refresh_token") == nullptr);
  CHECK(f.decider.authentications == 0);
  CHECK(f.allows(a.token, "example.com/library/public", {Access::kPull}).ok());
  CHECK_REASON(f.allows(a.token, "example.com/library/public", {Access::kPush, Access::kPull}),
               token_reason::kInsufficientScope);
}

TEST_CASE("registry:catalog:* only for system administrators") {
  Fixture f;
  const Answer admin = f.get("scope=registry:catalog:*", basic("root", "root-pw"));
  REQUIRE(admin.status == 200);
  CHECK(actions_in(admin, "registry", "catalog") == Actions{"*"});
  CHECK(f.allows(admin.token, "", {Access::kCatalog}).ok());

  for (const auto& auth : {std::optional<std::string>(basic("alice", "alice-pw")),
                           std::optional<std::string>(basic("acme/ci", "vouch_ci_token")),
                           std::optional<std::string>()}) {
    const Answer a = f.get("scope=registry:catalog:*", auth);
    REQUIRE(a.status == 200);
    CHECK(actions_in(a, "registry", "catalog") == Actions{});
    CHECK_REASON(f.allows(a.token, "", {Access::kCatalog}), token_reason::kInsufficientScope);
  }
  // Other resource types and unknown actions are granted nothing.
  const Answer other = f.get("scope=blob:x:pull&scope=repository:example.com/alice/own:delete",
                             basic("root", "root-pw"));
  REQUIRE(other.status == 200);
  CHECK(actions_in(other, "blob", "x") == Actions{});
  CHECK(actions_in(other, "repository", "example.com/alice/own") == Actions{});
}

TEST_CASE("a service account authenticates with its API token; scopes for one resource merge") {
  Fixture f;
  const Answer a = f.get(
      "scope=repository:example.com/acme/app:push&scope=repository:example.com/acme/app:pull",
      basic("acme/ci", "vouch_ci_token"));
  REQUIRE(a.status == 200);
  CHECK(a.claims.find("sub")->as_string() == "acme/ci");
  CHECK(a.claims.find("access")->as_array().size() == 1);
  CHECK(actions_in(a, "repository", "example.com/acme/app") == Actions{"pull"});
}

TEST_CASE("wrong credentials: 401 with a Basic challenge that does not say what was wrong") {
  Fixture f;
  const Answer wrong_password = f.get("scope=repository:example.com/acme/app:pull",
                                      basic("alice", "nope"));
  const Answer unknown_user = f.get("scope=repository:example.com/acme/app:pull",
                                    basic("mallory", "alice-pw"));
  // An empty password is a wrong one, not a malformed request (issue 14 item 6).
  const Answer empty_password = f.get("scope=repository:example.com/acme/app:pull",
                                      basic("alice", ""));
  for (const Answer* a : {&wrong_password, &unknown_user, &empty_password}) {
    CHECK(a->status == 401);
    CHECK(a->headers.get_or("WWW-Authenticate", "") == "Basic realm=\"vouch-server\"");
    CHECK(error_code(*a) == "UNAUTHORIZED");
    CHECK(a->body.find("alice-pw") == std::string::npos);
  }
  CHECK(wrong_password.body == unknown_user.body);
}

TEST_CASE("on_event: tokens issued to a principal and refused logins, for the audit log") {
  Fixture f;
  const std::string scope = "scope=repository:example.com/acme/app:pull,push";
  REQUIRE(f.get(scope, basic("alice", "alice-pw")).status == 200);
  REQUIRE(f.events.size() == 1);
  CHECK(f.events[0].issued);
  CHECK(f.events[0].principal.name == "alice");
  CHECK(f.events[0].scope == "repository:example.com/acme/app:pull,push");
  CHECK(f.events[0].source == "192.0.2.1");
  // Anonymous tokens are not reported.
  REQUIRE(f.get(scope).status == 200);
  CHECK(f.events.size() == 1);
  // A wrong password: the name tried, never the secret.
  REQUIRE(f.get(scope, basic("alice", "guess-pw")).status == 401);
  REQUIRE(f.events.size() == 2);
  CHECK_FALSE(f.events[1].issued);
  CHECK(f.events[1].name_tried == "alice");
  CHECK(f.events[1].reason == "bad credentials");
  CHECK(f.events[1].scope.empty());
  f.decider.throttled.insert("198.51.100.7");
  REQUIRE(f.get(scope, basic("alice", "alice-pw"), "198.51.100.7").status == 429);
  REQUIRE(f.events.size() == 3);
  CHECK(f.events[2].reason == "throttled");
  CHECK(f.events[2].source == "198.51.100.7");
  // A malformed request is no login attempt.
  REQUIRE(f.get("scope=nonsense", basic("alice", "alice-pw")).status == 400);
  CHECK(f.events.size() == 3);
}

TEST_CASE("the token's sub is the subject TokenAuthorizer reports") {
  Fixture f;
  const Answer a = f.get("scope=repository:example.com/acme/app:pull", basic("alice", "alice-pw"));
  REQUIRE(a.status == 200);
  net::Request req;
  req.method = "GET";
  req.target = "/v2/";
  req.headers.add("Authorization", "Bearer " + a.token);
  std::string subject = "unchanged on refusal";
  CHECK_FALSE(f.authorizer->authorize(req, "example.com/acme/app", {Access::kPush}, nullptr,
                                      &subject)
                  .ok());
  CHECK(subject == "unchanged on refusal");
  REQUIRE(f.authorizer->authorize(req, "example.com/acme/app", {Access::kPull}, nullptr, &subject)
              .ok());
  CHECK(subject == "alice");
}

TEST_CASE("a throttled source: 429 with Retry-After; other sources go on") {
  Fixture f;
  f.decider.throttled.insert("198.51.100.7");
  const Answer a = f.get("scope=repository:example.com/acme/app:pull", basic("alice", "alice-pw"),
                         "198.51.100.7");
  CHECK(a.status == 429);
  CHECK(a.headers.get_or("Retry-After", "") == "60");
  CHECK(error_code(a) == "TOOMANYREQUESTS");
  const Answer p = f.post("grant_type=password&username=alice&password=alice-pw",
                          "198.51.100.7");
  CHECK(p.status == 429);
  CHECK(f.get("scope=repository:example.com/acme/app:pull", basic("alice", "alice-pw"),
              "198.51.100.8")
            .status == 200);
}

TEST_CASE("bounds and malformed requests: 400, and no credential is checked") {
  Fixture f;
  auto scopes = [](int n) {
    std::string q;
    for (int i = 0; i < n; ++i) {
      q += "&scope=repository:example.com/acme/app" + std::to_string(i) + ":pull";
    }
    return q.substr(1);
  };
  const std::string many = scopes(65);
  const std::string at_limit = scopes(64);
  CHECK(f.get(at_limit, basic("alice", "alice-pw")).status == 200);
  f.decider.authentications = 0;

  const std::string long_scope = "scope=repository:example.com/" + std::string(600, 'a') + ":pull";
  for (const std::string& query :
       {many, long_scope, "scope=" + std::string(9000, 'a'), std::string("scope=nocolons"),
        std::string("scope=repository:a//b:pull"), std::string("service=other"),
        std::string("service=vouch-server&service=vouch-server"), std::string("scope=%zz"),
        std::string("scope=repository:a/b%00:pull")}) {
    CAPTURE(query.substr(0, 80));
    const Answer a = f.get(query, basic("alice", "alice-pw"));
    CHECK(a.status == 400);
    CHECK(error_code(a) == "UNSUPPORTED");
  }
  // Basic credentials: too large, not base64, no colon, another scheme, repeated.
  for (const std::string& authorization :
       {"Basic " + std::string(5000, 'A'), std::string("Basic !!!!"),
        "Basic " + base64_encode(as_bytes(std::string("alice"))),
        "Basic " + base64_encode(as_bytes(std::string(":pw"))), std::string("Bearer abc")}) {
    CHECK(f.get("scope=repository:example.com/acme/app:pull", authorization).status == 400);
  }
  net::Request twice;
  twice.method = "GET";
  twice.target = "/auth/token";
  twice.headers.add("Authorization", basic("alice", "alice-pw"));
  twice.headers.add("Authorization", basic("alice", "alice-pw"));
  CHECK(f.send(std::move(twice)).status == 400);
  CHECK(f.decider.authentications == 0);

  net::Request put;
  put.method = "PUT";
  put.target = "/auth/token";
  CHECK(f.send(std::move(put)).status == 405);
}

// ---- Refresh tokens and POST -------------------------------------------------------------

TEST_CASE("docker login's offline flow: GET offline_token, then POST grant_type=refresh_token") {
  Fixture f;
  const Answer login = f.get("service=vouch-server&offline_token=true&client_id=docker",
                             basic("alice", "alice-pw"));
  REQUIRE(login.status == 200);
  const json::Value* refresh = login.json.find("refresh_token");
  REQUIRE(refresh != nullptr);
  CHECK(f.decider.refresh_clients == std::vector<std::string>{"docker"});
  CHECK(login.claims.find("access")->as_array().empty());

  const Answer r = f.post("grant_type=refresh_token&refresh_token=" + refresh->as_string() +
                          "&service=vouch-server&client_id=docker"
                          "&scope=repository%3Aexample.com%2Facme%2Fapp%3Apull%2Cpush+"
                          "repository%3Aexample.com%2Facme%2Fsecret%3Apull");
  REQUIRE(r.status == 200);
  CHECK(r.json.find("token") == nullptr);
  CHECK(r.json.find("scope")->as_string() == "repository:example.com/acme/app:pull,push");
  // The same refresh token, not a new one (oauth.md).
  CHECK(r.json.find("refresh_token")->as_string() == refresh->as_string());
  CHECK(f.decider.refresh_tokens.size() == 1);
  CHECK(r.claims.find("sub")->as_string() == "alice");
  CHECK(f.allows(r.token, "example.com/acme/app", {Access::kPush, Access::kPull}).ok());

  const Answer bad = f.post("grant_type=refresh_token&refresh_token=refresh-9-alice");
  CHECK(bad.status == 401);
  CHECK(bad.headers.contains("WWW-Authenticate"));
}

TEST_CASE("POST grant_type=password, with and without access_type=offline") {
  Fixture f;
  const Answer online = f.post(
      "grant_type=password&username=alice&password=alice-pw&service=vouch-server"
      "&client_id=notary&scope=repository:example.com/acme/app:pull");
  REQUIRE(online.status == 200);
  CHECK(online.json.find("refresh_token") == nullptr);
  CHECK(online.json.find("scope")->as_string() == "repository:example.com/acme/app:pull");

  const Answer offline = f.post(
      "grant_type=password&username=alice&password=alice-pw&client_id=notary&access_type=offline");
  REQUIRE(offline.status == 200);
  CHECK(offline.json.find("refresh_token") != nullptr);
  CHECK(offline.json.find("scope")->as_string().empty());
  CHECK(f.decider.refresh_clients == std::vector<std::string>{"notary"});

  CHECK(f.post("grant_type=password&username=alice&password=wrong").status == 401);
  CHECK(f.post("grant_type=password&username=alice").status == 400);
  CHECK(f.post("grant_type=client_credentials").status == 400);
  CHECK(f.post("grant_type=password&username=ali%0Ace&password=alice-pw").status == 400);
  CHECK(f.post("grant_type=password&username=alice&password=alice-pw&client_id=a%0Ab").status ==
        400);
  CHECK(f.post("grant_type=password&username=alice&password=alice-pw&client_id=" +
               std::string(65, 'c'))
            .status == 400);
  CHECK(f.post("username=alice&password=alice-pw").status == 400);
  CHECK(f.post("grant_type=password&username=alice&password=alice-pw&password=x").status == 400);
  // A repeated parameter whose name is not plain text is not echoed (the answer stays JSON).
  CHECK(f.post("grant_type=password&a%0A%01=1&a%0A%01=2").status == 400);
  CHECK(f.post("grant_type=password&username=alice&password=alice-pw&" +
               std::string(9000, 'x'))
            .status == 400);

  net::Request json_body;
  json_body.method = "POST";
  json_body.target = "/auth/token";
  json_body.headers.add("Content-Type", "application/json");
  json_body.body = R"({"grant_type":"password"})";
  CHECK(f.send(std::move(json_body)).status == 400);
}

TEST_CASE("a decider that fails: 500 without its message; a signer that fails: 500") {
  struct Broken final : accounts::AccessDecider {
    Result<Principal> authenticate(std::string_view, const keys::SecretString&,
                                   std::string_view) override {
      return make_error(Code::kInternal, Reason::kIo, "disk on fire at /var/secret");
    }
    Result<Permission> permission(const Principal&, std::string_view) override {
      return make_error(Code::kInternal, Reason::kIo, "disk on fire at /var/secret");
    }
    Result<keys::SecretString> issue_refresh_token(const Principal&, std::string_view) override {
      return make_error(Code::kInternal, Reason::kIo, "disk on fire");
    }
    Result<Principal> authenticate_refresh_token(const keys::SecretString&,
                                                 std::string_view) override {
      return make_error(Code::kInternal, Reason::kIo, "disk on fire");
    }
  } broken;
  testing::MemorySigner signer;
  auto key = signer.create_key("", "token-service", keys::KeyType::kEcdsa);
  REQUIRE(key.ok());
  TokenServiceOptions o;
  o.issuer = o.service = o.realm = "x";
  auto service = TokenService::create(broken, signer, *key, o);
  REQUIRE(service.ok());
  net::Request req;
  req.method = "GET";
  req.target = "/auth/token?scope=repository:a/b:pull";
  const net::Response r = (*service)->handle(req);
  CHECK(r.status == 500);
  CHECK(r.body.find("fire") == std::string::npos);

  // A key the signer does not hold.
  testing::MemorySigner other;
  auto stranger = other.create_key("", "token-service", keys::KeyType::kEcdsa);
  REQUIRE(stranger.ok());
  TableDecider decider;
  auto orphan = TokenService::create(decider, signer, *stranger, o);
  REQUIRE(orphan.ok());
  CHECK((*orphan)->handle(req).status == 500);
}

TEST_CASE("answers are counted by outcome when a registry is given") {
  TableDecider decider;
  testing::MemorySigner signer;
  auto key = signer.create_key("", "token-service", keys::KeyType::kEcdsa);
  REQUIRE(key.ok());
  TokenServiceOptions o;
  o.issuer = o.service = o.realm = "x";
  o.metrics = std::make_shared<prometheus::Registry>();
  auto service = TokenService::create(decider, signer, *key, o);
  REQUIRE(service.ok());
  auto send = [&](std::string target, std::optional<std::string> authorization) {
    net::Request req;
    req.method = "GET";
    req.target = std::move(target);
    if (authorization) req.headers.add("Authorization", *authorization);
    return (*service)->handle(req).status;
  };
  CHECK(send("/auth/token?scope=repository:a/b:pull", basic("alice", "alice-pw")) == 200);
  CHECK(send("/auth/token", std::nullopt) == 200);
  CHECK(send("/auth/token", basic("alice", "wrong")) == 401);
  CHECK(send("/auth/token?scope=bad", std::nullopt) == 400);
  const std::string text = prometheus::TextSerializer().Serialize(o.metrics->Collect());
  CHECK(text.find("vouch_server_token_requests_total{outcome=\"issued\"} 2") != std::string::npos);
  CHECK(text.find("vouch_server_token_requests_total{outcome=\"unauthorized\"} 1") !=
        std::string::npos);
  CHECK(text.find("vouch_server_token_requests_total{outcome=\"bad_request\"} 1") !=
        std::string::npos);
  CHECK(text.find("vouch_server_token_requests_total{outcome=\"throttled\"} 0") !=
        std::string::npos);
}

TEST_CASE("create: required options, lifetime bounds, an ecdsa key") {
  TableDecider decider;
  testing::MemorySigner signer;
  auto key = signer.create_key("", "token-service", keys::KeyType::kEcdsa);
  auto ed = signer.create_key("", "token-service", keys::KeyType::kEd25519);
  REQUIRE(key.ok());
  REQUIRE(ed.ok());
  TokenServiceOptions good;
  good.issuer = good.service = good.realm = "x";
  CHECK(TokenService::create(decider, signer, *key, good).ok());
  for (auto field : {&TokenServiceOptions::issuer, &TokenServiceOptions::service,
                     &TokenServiceOptions::realm}) {
    TokenServiceOptions o = good;
    o.*field = "";
    CHECK(TokenService::create(decider, signer, *key, o).error().code == Code::kInvalidArgument);
  }
  for (auto lifetime : {59s, std::chrono::seconds(25 * 3600)}) {
    TokenServiceOptions o = good;
    o.lifetime = lifetime;
    CHECK(TokenService::create(decider, signer, *key, o).error().code == Code::kInvalidArgument);
  }
  CHECK_REASON(TokenService::create(decider, signer, *ed, good), Reason::kUnsupportedAlgorithm);
}

TEST_CASE("load_or_create_token_key: created once, the same key after a restart") {
  test::TempDir dir;
  testing::MemorySigner signer;
  const auto state = dir.path() / "state" / "token-key.json";
  auto first = load_or_create_token_key(signer, state);
  REQUIRE_OK(first);
  CHECK(first->type() == keys::KeyType::kEcdsa);
  auto second = load_or_create_token_key(signer, state);
  REQUIRE_OK(second);
  CHECK(second->id() == first->id());
  CHECK(signer.size() == 1);

  // A state file that names a key the signer does not hold: refused, nothing created.
  testing::MemorySigner empty;
  CHECK_REASON(load_or_create_token_key(empty, state), Reason::kUnknownKey);
  CHECK(empty.size() == 0);

  std::FILE* f = std::fopen(state.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::fputs("not json", f);
  std::fclose(f);
  CHECK_REASON(load_or_create_token_key(signer, state), Reason::kMalformed);
}

}  // namespace
}  // namespace vouch::server
