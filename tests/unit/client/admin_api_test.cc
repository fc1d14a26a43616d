// The admin API client (client/admin_api.h), the stored logins (client/credentials.h) and the
// transport's use of a stored login (HttpClient::set_refresh_token, set_origin_authorization),
// against a real HTTPS server on 127.0.0.1 port 0 (tests/unit/client/http_test_server.h).

#include "client/admin_api.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <mutex>

#include <boost/json/serialize.hpp>

#include "client/credentials.h"
#include "tests/unit/client/client_test_util.h"
#include "tests/unit/client/http_test_server.h"
#include "tuf/json.h"

namespace vouch::client {
namespace {

using net::Request;
using net::Responder;
using net::testing::Pki;
using testing::make_client;
using testing::TestServer;
using testing::text;

namespace json = tuf::json;

AdminClient make_admin(const TestServer& server, HttpClient& http) {
  auto c = AdminClient::create(server.base() + "/", http);
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  return std::move(c).value();
}

TEST_CASE("admin api: the contract's methods, paths and bodies; the Bearer login on every call") {
  Pki pki;
  TestServer server(&pki, [](const Request&, Responder& r) { r.respond(text(200, "{}")); });
  auto http = make_client(pki);
  auto origin = url_origin(server.base());
  REQUIRE(origin.ok());
  http.set_origin_authorization(*origin, keys::SecretString("Bearer vouch_abc"));
  auto admin = make_admin(server, http);

  REQUIRE(admin.me().ok());
  REQUIRE(admin.create_user("alice", keys::SecretString("pa\"ss\x01"), false).ok());
  UserUpdate update;
  update.disabled = true;
  REQUIRE(admin.update_user("alice", update).ok());
  REQUIRE(admin.create_org("acme").ok());
  REQUIRE(admin.set_org_member("acme", "alice", true).ok());
  REQUIRE(admin.create_team("acme", "ops", "").ok());
  REQUIRE(admin.add_team_member("acme", "ops", "acme/ci").ok());
  REQUIRE(admin.create_service_account("acme", "ci", "the pipeline").ok());
  REQUIRE(admin.delete_service_account("acme", "ci").ok());
  REQUIRE(admin.list_tokens("acme/ci").ok());
  REQUIRE(admin.revoke_token("abcdefgh23456789").ok());
  REQUIRE(admin.get_repository("example.com/acme/app").ok());
  REQUIRE(admin.set_visibility("example.com/acme/app", "public").ok());
  REQUIRE(admin.list_grants("", "acme").ok());
  REQUIRE(admin.set_grant({"example.com/acme/app", "team", "acme/ops", "read-write"}).ok());
  REQUIRE(admin.audit(5, 100).ok());
  REQUIRE(admin.verify_audit().ok());

  const auto seen = server.seen();
  struct Expected {
    const char* method;
    const char* target;
    const char* body;  // nullptr: no body
  };
  const std::vector<Expected> expected = {
      {"GET", "/api/v1/me", nullptr},
      {"POST", "/api/v1/users", R"({"name":"alice","password":"pa\"ss\u0001"})"},
      {"PATCH", "/api/v1/users/alice", R"({"disabled":true})"},
      {"POST", "/api/v1/orgs", R"({"name":"acme"})"},
      {"PUT", "/api/v1/orgs/acme/members/alice", R"({"admin":true})"},
      {"POST", "/api/v1/orgs/acme/teams", R"({"name":"ops"})"},
      {"PUT", "/api/v1/orgs/acme/teams/ops/members/acme%2Fci", "{}"},
      {"POST", "/api/v1/service-accounts",
       R"({"owner":"acme","name":"ci","description":"the pipeline"})"},
      {"DELETE", "/api/v1/service-accounts/acme/ci", nullptr},
      {"GET", "/api/v1/tokens?owner=acme%2Fci&limit=1000", nullptr},
      {"DELETE", "/api/v1/tokens/abcdefgh23456789", nullptr},
      {"GET", "/api/v1/repositories?gun=example.com%2Facme%2Fapp", nullptr},
      {"PUT", "/api/v1/repositories/visibility",
       R"({"gun":"example.com/acme/app","visibility":"public"})"},
      {"GET", "/api/v1/grants?namespace=acme", nullptr},
      {"PUT", "/api/v1/grants",
       R"({"target":"example.com/acme/app","grantee_kind":"team","grantee":"acme/ops",)"
       R"("permission":"read-write"})"},
      {"GET", "/api/v1/audit?after=5&limit=100", nullptr},
      {"GET", "/api/v1/audit/verify", nullptr},
  };
  REQUIRE(seen.size() == expected.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CAPTURE(i);
    CHECK(seen[i].method == expected[i].method);
    CHECK(seen[i].target == expected[i].target);
    CHECK(seen[i].headers.get_or("Authorization", "") == "Bearer vouch_abc");
    if (expected[i].body == nullptr) {
      CHECK(seen[i].body.empty());
    } else {
      CHECK(seen[i].body == expected[i].body);
      CHECK(seen[i].headers.get_or("Content-Type", "") == "application/json");
      CHECK(json::parse(seen[i].body).ok());  // control characters escaped
    }
  }
}

TEST_CASE("admin api: lists are read page by page into one document") {
  Pki pki;
  TestServer server(&pki, [](const Request& req, Responder& r) {
    const std::string target = req.target;
    if (target == "/api/v1/users?limit=1000") {
      r.respond(text(200, R"({"users":[{"name":"a"},{"name":"b"}],"next_after":"b"})"));
    } else if (target == "/api/v1/users?limit=1000&after=b") {
      r.respond(text(200, R"({"users":[{"name":"c"}],"next_after":""})"));
    } else if (target == "/api/v1/orgs?limit=1000") {
      r.respond(text(200, R"({"orgs":[{"name":"x"}],"next_after":"x"})"));
    } else {  // a server that repeats itself
      r.respond(text(200, R"({"orgs":[{"name":"x"}],"next_after":"x"})"));
    }
  });
  auto http = make_client(pki);
  auto admin = make_admin(server, http);
  auto users = admin.list_users();
  REQUIRE_MESSAGE(users.ok(), users.error().message);
  CHECK(json::canonical(*json::parse(boost::json::serialize(*users))) ==
        R"({"next_after":"","users":[{"name":"a"},{"name":"b"},{"name":"c"}]})");
  auto orgs = admin.list_orgs();
  REQUIRE_FALSE(orgs.ok());
  CHECK(orgs.error().reason == Reason::kMalformed);
  CHECK(server.seen().size() == 4);
}

TEST_CASE("admin api: a token's scope limit; the created token's text is kept apart") {
  Pki pki;
  TestServer server(&pki, [](const Request&, Responder& r) {
    r.respond(text(201, R"({"id":"abcdefgh23456789","token":"vouch_abcdefgh23456789_s3cr3t",)"
                        R"("expires_at":"2027-01-06T00:00:00Z","owner":"acme/ci"})"));
  });
  auto http = make_client(pki);
  auto admin = make_admin(server, http);
  TokenRequest request;
  request.owner = "acme/ci";
  request.label = "ci";
  request.expires_in_days = 30;
  request.repositories = {"example.com/acme/app", "example.com/acme/lib-*"};
  request.max_permission = "read-write";
  auto created = admin.create_token(request);
  REQUIRE_MESSAGE(created.ok(), created.error().message);
  CHECK(created->id == "abcdefgh23456789");
  CHECK(created->token.view() == "vouch_abcdefgh23456789_s3cr3t");
  CHECK(created->expires_at == "2027-01-06T00:00:00Z");
  CHECK_FALSE(created->answer.as_object().contains("token"));
  CHECK(created->answer.as_object().contains("owner"));
  const auto seen = server.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/api/v1/tokens");
  CHECK(seen[0].body ==
        R"({"owner":"acme/ci","label":"ci","expires_in_days":30,"scope":{"repositories":)"
        R"(["example.com/acme/app","example.com/acme/lib-*"],"max_permission":"read-write"}})");
}

TEST_CASE("admin api: error answers map to Code and Reason; the server's text is cut and cleaned") {
  struct Case {
    unsigned status;
    std::string body;
    Code code;
    Reason reason;
  };
  const std::vector<Case> cases = {
      {400, R"({"error":{"code":"malformed","message":"bad name"}})", Code::kInvalidArgument,
       Reason::kMalformed},
      {401, R"({"error":{"code":"bad_credentials","message":"log in"}})",
       Code::kUnauthenticated, Reason::kBadCredentials},
      {403, R"({"error":{"code":"permission_denied","message":"no"}})", Code::kPermissionDenied,
       Reason::kPermissionDenied},
      {404, R"({"error":{"code":"not_found","message":"no such team"}})", Code::kNotFound,
       Reason::kNotFound},
      {409, R"({"error":{"code":"conflict","message":"exists"}})", Code::kAlreadyExists,
       Reason::kConflict},
      {409, R"({"error":{"code":"none","message":"the last admin"}})", Code::kFailedPrecondition,
       Reason::kNone},
      {429, R"({"error":{"code":"throttled","message":"slow down"}})", Code::kResourceExhausted,
       Reason::kThrottled},
      {503, "<html>gateway</html>", Code::kUnavailable, Reason::kUnavailable},
      {418, R"({"error":{"code":"no_such_reason","message":"x"}})", Code::kUnknown,
       Reason::kNone},
  };
  for (const auto& c : cases) {
    CAPTURE(c.status);
    CAPTURE(c.body);
    const Error e = admin_api_error(c.status, c.body, "https://h:1");
    CHECK(e.code == c.code);
    CHECK(e.reason == c.reason);
    CHECK(e.message.rfind("https://h:1: ", 0) == 0);
  }
  const Error long_one = admin_api_error(
      400,
      R"({"error":{"code":"malformed","message":")" + std::string(2000, 'x') + "\\u001b[31m\"}}",
      "https://h:1");
  CHECK(long_one.message.size() < 600);
  const Error escape = admin_api_error(
      400, R"({"error":{"code":"malformed","message":"a\u001b[31m"}})", "https://h:1");
  CHECK(escape.message.find('\x1b') == std::string::npos);

  // Through the client: the status of a real answer; a 2xx that is not JSON.
  Pki pki;
  TestServer server(&pki, [](const Request& req, Responder& r) {
    if (req.method == "DELETE") {
      r.respond(text(409, R"({"error":{"code":"none","message":"the last system admin"}})"));
    } else {
      r.respond(text(200, "not json"));
    }
  });
  auto http = make_client(pki);
  auto admin = make_admin(server, http);
  auto refused = admin.delete_user("root");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Code::kFailedPrecondition);
  CHECK(refused.error().message.find("the last system admin") != std::string::npos);
  auto garbled = admin.list_users();
  REQUIRE_FALSE(garbled.ok());
  CHECK(garbled.error().reason == Reason::kMalformed);
}

TEST_CASE("admin api: a stored login is never sent over plain HTTP") {
  TestServer server(nullptr, [](const Request&, Responder& r) { r.respond(text(200, "{}")); });
  auto created = HttpClient::create(HttpOptions{});
  REQUIRE(created.ok());
  auto origin = url_origin(server.base());
  REQUIRE(origin.ok());
  created->set_origin_authorization(*origin, keys::SecretString("Bearer vouch_abc"));
  auto admin = make_admin(server, *created);
  auto me = admin.me();
  REQUIRE_FALSE(me.ok());
  CHECK(me.error().code == Code::kUnauthenticated);
  CHECK(server.seen().empty());
}

// A token service that takes refresh tokens (POST grant_type=refresh_token) and a server that
// wants its tokens.
struct RefreshWorld {
  std::mutex mu;
  std::string realm;
  std::string refresh = "vouch_abcdefgh23456789_refresh";
  std::vector<std::map<std::string, std::string>> forms;
  std::vector<std::string> token_queries;
  bool accept = true;  // the server takes the refresh grant's token

  void handle(const Request& req, Responder& r) {
    std::lock_guard lock(mu);
    if (req.path() == "/auth/token") {
      if (req.method == "GET") {
        token_queries.emplace_back(req.query());
        r.respond(text(200, R"({"token":"anonymous"})"));
        return;
      }
      auto form = testing::parse_query(req.body);
      forms.push_back(form);
      if (form["grant_type"] != "refresh_token" || form["refresh_token"] != refresh) {
        r.respond(text(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"no"}]})"));
        return;
      }
      r.respond(text(200, R"({"access_token":"granted","refresh_token":")" + refresh + "\"}"));
      return;
    }
    if (accept && req.headers.get_or("Authorization", "") == "Bearer granted") {
      r.respond(text(200, "metadata"));
      return;
    }
    net::Response resp = text(401, "{}");
    resp.headers.set("WWW-Authenticate", "Bearer realm=\"" + realm +
                                             "\",service=\"vouch-server\",scope=\"repository:"
                                             "example.com/acme/app:pull,push\"");
    r.respond(std::move(resp));
  }
};

TEST_CASE("http: a stored login's refresh token answers Bearer challenges of its realm only") {
  Pki pki;
  RefreshWorld world;
  TestServer server(&pki, [&](const Request& req, Responder& r) { world.handle(req, r); });
  world.realm = server.base() + "/auth/token";
  auto origin = url_origin(server.base());
  REQUIRE(origin.ok());

  SUBCASE("the refresh grant, with service, scope and client_id") {
    auto http = make_client(pki);
    http.set_refresh_token(*origin, keys::SecretString(world.refresh));
    auto resp = http.get(server.base() + "/v2/example.com/acme/app/_trust/tuf/root.json", 1000);
    REQUIRE_MESSAGE(resp.ok(), resp.error().message);
    CHECK(resp->status == 200);
    std::lock_guard lock(world.mu);
    REQUIRE(world.forms.size() == 1);
    CHECK(world.forms[0]["grant_type"] == "refresh_token");
    CHECK(world.forms[0]["client_id"] == "vouch");
    CHECK(world.forms[0]["service"] == "vouch-server");
    CHECK(world.forms[0]["scope"] == "repository:example.com/acme/app:pull,push");
    CHECK(world.token_queries.empty());  // never an anonymous GET first
  }
  SUBCASE("a revoked refresh token: kUnauthenticated naming vouch login, no secret shown") {
    auto http = make_client(pki);
    http.set_refresh_token(*origin, keys::SecretString("vouch_abcdefgh23456789_revoked"));
    auto resp = http.get(server.base() + "/v2/example.com/acme/app/_trust/tuf/root.json", 1000);
    REQUIRE_FALSE(resp.ok());
    CHECK(resp.error().code == Code::kUnauthenticated);
    CHECK(resp.error().message.find("vouch login") != std::string::npos);
    CHECK(resp.error().message.find("revoked") != std::string::npos);  // the message's word
    CHECK(resp.error().message.find("vouch_abcdefgh23456789") == std::string::npos);
  }
  SUBCASE("a logged-in user the server refuses is not asked for a password") {
    world.accept = false;  // the token lacks the scope (no grant)
    auto http = make_client(pki);
    http.set_refresh_token(*origin, keys::SecretString(world.refresh));
    int prompts = 0;
    http.set_credentials_prompt([&](std::string_view) -> Result<BasicCredentials> {
      ++prompts;
      return BasicCredentials{"someone", keys::SecretString("typed")};
    });
    auto resp = http.get(server.base() + "/v2/example.com/acme/app/_trust/tuf/root.json", 1000);
    REQUIRE(resp.ok());
    CHECK(resp->status == 401);
    CHECK(prompts == 0);
  }
  SUBCASE("a login for another token service is not sent to this realm") {
    auto http = make_client(pki);
    http.set_refresh_token("https://elsewhere.example.com:443", keys::SecretString(world.refresh));
    auto resp = http.get(server.base() + "/v2/example.com/acme/app/_trust/tuf/root.json", 1000);
    REQUIRE(resp.ok());
    CHECK(resp->status == 401);
    std::lock_guard lock(world.mu);
    CHECK(world.forms.empty());
    CHECK(world.token_queries.size() == 1);  // anonymous
  }
}

// ---- Stored logins ------------------------------------------------------------------------

TEST_CASE("credentials: per server, mode 0600, logout removes one login only") {
  testing::TempDir dir;
  const auto trust = dir.path() / "trust";
  CredentialStore store(trust);
  auto none = store.find("https://notary.example.com");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  StoredLogin a{"https://notary.example.com/", "alice", "https://notary.example.com/auth/token",
                keys::SecretString("vouch_aaaaaaaaaaaaaaaa_secret-a")};
  StoredLogin b{"https://other.example.com:4443", "ci",
                "https://other.example.com:4443/auth/token",
                keys::SecretString("vouch_bbbbbbbbbbbbbbbb_secret-b")};
  REQUIRE(store.save(a).ok());
  REQUIRE(store.save(b).ok());

  struct stat st {};
  REQUIRE(::stat(store.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // Any URL of the server finds its login; the origin is the key.
  auto found = store.find("https://NOTARY.example.com:443/some/path");
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  CHECK((*found)->username == "alice");
  CHECK((*found)->refresh_token.view() == "vouch_aaaaaaaaaaaaaaaa_secret-a");
  CHECK((*found)->server == "https://notary.example.com:443");
  auto servers = store.servers();
  REQUIRE(servers.ok());
  CHECK(*servers == std::vector<std::string>{"https://notary.example.com:443",
                                             "https://other.example.com:4443"});

  // A new login replaces the old one of that server only.
  a.refresh_token = keys::SecretString("vouch_cccccccccccccccc_secret-c");
  REQUIRE(store.save(a).ok());
  CHECK((*store.find("https://notary.example.com"))->refresh_token.view() ==
        "vouch_cccccccccccccccc_secret-c");
  CHECK((*store.find("https://other.example.com:4443"))->username == "ci");

  auto removed = store.remove("https://notary.example.com");
  REQUIRE(removed.ok());
  REQUIRE(removed->has_value());
  CHECK((*removed)->refresh_token.view() == "vouch_cccccccccccccccc_secret-c");
  CHECK_FALSE(store.find("https://notary.example.com")->has_value());
  CHECK(store.find("https://other.example.com:4443")->has_value());
  CHECK_FALSE(store.remove("https://notary.example.com")->has_value());

  REQUIRE(store.remove("https://other.example.com:4443").ok());
  CHECK_FALSE(std::filesystem::exists(store.path()));  // no empty file left behind
}

TEST_CASE("credentials: an open or broken file is refused, never overwritten") {
  testing::TempDir dir;
  CredentialStore store(dir.path());
  testing::write_file(store.path(), R"({"servers":{}})");
  ::chmod(store.path().c_str(), 0644);
  auto open = store.find("https://h");
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().reason == Reason::kInsecureFile);

  ::chmod(store.path().c_str(), 0600);
  testing::write_file(store.path(), R"({"servers":{"https://h:443":{"username":1}}})");
  ::chmod(store.path().c_str(), 0600);
  StoredLogin login{"https://h", "u", "https://h/auth/token", keys::SecretString("t")};
  auto saved = store.save(login);
  REQUIRE_FALSE(saved.ok());
  CHECK(saved.error().reason == Reason::kMalformed);
  CHECK(testing::read_file(store.path()) == R"({"servers":{"https://h:443":{"username":1}}})");

  CHECK_FALSE(store.find("not a url").ok());
}

TEST_CASE("credentials: what one save writes the next load reads, control characters and all") {
  // The file used to be written by the canonical TUF encoder, which writes control characters
  // raw, and read by the strict TUF parser, which refuses them: one odd user name made the
  // file unreadable. It is now written and read by the one config/API JSON stack.
  testing::TempDir dir;
  CredentialStore store(dir.path());
  StoredLogin odd{"https://h", "tab\there", "https://h/auth/token\x01",
                  keys::SecretString("vouch_aaaaaaaaaaaaaaaa_s\x7f\"\\")};
  REQUIRE(store.save(odd).ok());
  auto found = store.find("https://h");
  REQUIRE_MESSAGE(found.ok(), found.error().message);
  REQUIRE(found->has_value());
  CHECK((*found)->username == "tab\there");
  CHECK((*found)->realm == "https://h/auth/token\x01");
  CHECK((*found)->refresh_token.view() == "vouch_aaaaaaaaaaaaaaaa_s\x7f\"\\");
  // A key given twice is refused (as the strict parser did), not read as the last one.
  testing::write_file(store.path(),
                      R"({"servers":{"https://h:443":{"realm":"r","refresh_token":"t",)"
                      R"("username":"u","username":"v"}}})");
  ::chmod(store.path().c_str(), 0600);
  auto twice = store.find("https://h");
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().reason == Reason::kMalformed);
}

TEST_CASE("credentials: api_token_id reads the public id of vouch_<id>_<secret>") {
  CHECK(api_token_id("vouch_abcdefgh234567ab_c2VjcmV0") == "abcdefgh234567ab");
  CHECK_FALSE(api_token_id("vouch_abcdefgh234567ab").has_value());
  CHECK_FALSE(api_token_id("vouch_abcdefgh23456789_c2VjcmV0").has_value());  // 8, 9: not base32
  CHECK_FALSE(api_token_id("vouch_ABCDEFGH23456789_x").has_value());
  CHECK_FALSE(api_token_id("vouch_abcdefgh234567a_x").has_value());
  CHECK_FALSE(api_token_id("eyJhbGciOi.x.y").has_value());
}

}  // namespace
}  // namespace vouch::client
