// The built-in token service beside Notary's API on one real loopback HTTP server, composed as
// vouch-server composes it for auth.type "accounts" (route_token_requests, a TokenAuthorizer
// from token_auth_options_for): the client's dance of 401 challenge -> GET /auth/token with
// Basic credentials -> retry with the bearer token, over HTTP, with a fixed table of users
// (TableDecider) in place of the accounts store.

#include <doctest/doctest.h>

#include <mutex>

#include "common/work_queue.h"
#include "server/api.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "server/token_service.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/table_decider.h"

namespace vouch::server {
namespace {

using testing::RepoSimulator;
using testing::TableDecider;
namespace json = tuf::json;

struct Fixture {
  RepoSimulator sim;
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  Repository repo{store, sim.signer, clock};
  TableDecider decider;
  TokenServiceOptions token_options = [] {
    TokenServiceOptions o;
    o.issuer = "vouch-server";
    o.service = "vouch-server";
    o.realm = "vouch-server";
    return o;
  }();
  std::unique_ptr<TokenService> tokens;
  std::unique_ptr<TokenAuthorizer> authorizer;
  std::unique_ptr<NotaryApi> api;
  WorkQueue workers{1, 16, "tokens", "server"};
  std::unique_ptr<net::HttpServer> http;
  std::mutex writes_mu;
  std::vector<WriteEvent> writes;  // what ApiOptions::on_write reported

  // ping_needs_catalog: ApiOptions' (vouch-server sets false for auth.type "accounts").
  explicit Fixture(bool ping_needs_catalog = false) {
    decider.grants[{"alice", sim.gun()}] = accounts::Permission::kReadWrite;
    decider.grants[{"acme/ci", sim.gun()}] = accounts::Permission::kRead;
    auto key = sim.signer.create_key("", "token-service", keys::KeyType::kEcdsa);
    REQUIRE(key.ok());
    auto created = TokenService::create(decider, sim.signer, *key, token_options, clock);
    REQUIRE(created.ok());
    tokens = std::move(*created);
    auto auth = TokenAuthorizer::create(
        token_auth_options_for(*tokens, token_options, "http://127.0.0.1/auth/token"), clock);
    REQUIRE(auth.ok());
    authorizer = std::move(*auth);
    ApiOptions api_options;
    api_options.ping_needs_catalog = ping_needs_catalog;
    api_options.on_write = [this](const WriteEvent& w) {
      std::lock_guard lock(writes_mu);
      writes.push_back(w);
    };
    api = std::make_unique<NotaryApi>(repo, *authorizer, api_options, nullptr);
    net::HttpServerOptions h;
    h.listen = "127.0.0.1:0";
    net::Handler notary = [this](net::Request&& r, net::Responder resp) {
      api->handle(std::move(r), std::move(resp));
    };
    auto started = net::HttpServer::start(h, route_token_requests(*tokens, workers, notary));
    REQUIRE_MESSAGE(started.ok(), started.error().message);
    http = std::move(started).value();
  }
  ~Fixture() {
    http->stop();
    workers.stop();
    api->drain();
  }

  std::string url(const std::string& path) const {
    return "http://" + http->local_address() + path;
  }
  server_test::HttpResult tuf(const std::string& method, const std::string& file,
                              const std::string& token, const std::string& body = "",
                              std::vector<std::string> headers = {}) {
    if (!token.empty()) headers.push_back("Authorization: Bearer " + token);
    return server_test::https(method, url("/v2/" + sim.gun() + "/_trust/tuf/" + file), "", body,
                              headers);
  }
  // GET /auth/token as the docker client sends it.
  std::string token_for(const std::string& scope, const std::string& user = "",
                        const std::string& password = "") {
    std::vector<std::string> headers;
    if (!user.empty()) {
      headers.push_back("Authorization: Basic " +
                        base64_encode(as_bytes(user + ":" + password)));
    }
    const auto r = server_test::https(
        "GET", url("/auth/token?service=vouch-server&scope=" + scope), "", "", headers);
    REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
    auto doc = json::parse(r.body);
    REQUIRE(doc.ok());
    return doc->find("token")->as_string();
  }
  server_test::HttpResult publish(const std::string& token) {
    server_test::Multipart m;
    for (const char* role : {"root", "targets", "snapshot"}) m.part(role, sim.files.at(role));
    return tuf("POST", "", token, m.finish(), {m.content_type()});
  }
};

TEST_CASE("401 challenge, a token from /auth/token, and the retry succeeds for what it grants") {
  Fixture f;
  const std::string scope = "repository:" + f.sim.gun() + ":pull,push";
  // Without a token: the bearer challenge names the scope to ask for.
  const auto challenged = f.publish("");
  CHECK(challenged.status == 401);
  CHECK(challenged.header("WWW-Authenticate").find("service=\"vouch-server\"") !=
        std::string::npos);

  const std::string alice = f.token_for(scope, "alice", "alice-pw");
  CHECK(f.publish(alice).status == 200);
  CHECK(f.tuf("GET", "root.json", alice).status == 200);
  // Read-write is not admin: no delete.
  const auto del = f.tuf("DELETE", "", alice);
  CHECK(del.status == 401);
  CHECK(del.header("WWW-Authenticate").find("insufficient_scope") != std::string::npos);

  // A read-only service account may read, not publish; anonymous may not read a private one.
  const std::string ci = f.token_for(scope, "acme/ci", "vouch_ci_token");
  CHECK(f.tuf("GET", "root.json", ci).status == 200);
  CHECK(f.publish(ci).status == 401);
  const std::string anonymous = f.token_for(scope);
  CHECK(f.tuf("GET", "root.json", anonymous).status == 401);

  // Wrong credentials over HTTP: 401 with the Basic challenge.
  const auto refused = server_test::https(
      "GET", f.url("/auth/token?scope=" + scope), "", "",
      {"Authorization: Basic " + base64_encode(as_bytes(std::string("alice:wrong")))});
  CHECK(refused.status == 401);
  CHECK(refused.header("WWW-Authenticate") == "Basic realm=\"vouch-server\"");
}

TEST_CASE("GET /v2/ as docker login probes it: a token of no scope passes, unless it needs catalog") {
  // docker login: GET /v2/ -> 401 challenge; GET /auth/token with Basic credentials and no
  // scope (offline_token=true); GET /v2/ again with that token must answer 200.
  for (const bool needs_catalog : {false, true}) {
    CAPTURE(needs_catalog);
    Fixture f(needs_catalog);
    const auto challenged = server_test::https("GET", f.url("/v2/"), "", "", {});
    CHECK(challenged.status == 401);
    const auto r = server_test::https(
        "GET", f.url("/auth/token?service=vouch-server&offline_token=true&client_id=docker"), "",
        "", {"Authorization: Basic " + base64_encode(as_bytes(std::string("alice:alice-pw")))});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto doc = json::parse(r.body);
    REQUIRE(doc.ok());
    const std::string token = doc->find("token")->as_string();
    const auto ping = server_test::https("GET", f.url("/v2/"), "", "",
                                         {"Authorization: Bearer " + token});
    // notary-server's rule (auth.type "token") keeps the ping for registry:catalog:*.
    CHECK(ping.status == (needs_catalog ? 401 : 200));
    // A system administrator's token may carry registry:catalog:* and passes either way.
    const std::string root = f.token_for("registry:catalog:*", "root", "root-pw");
    CHECK(server_test::https("GET", f.url("/v2/"), "", "", {"Authorization: Bearer " + root})
              .status == 200);
  }
}

TEST_CASE("on_write: publish, key rotation and delete, with the token's subject and address") {
  Fixture f;
  const std::string scope = "repository:" + f.sim.gun() + ":pull,push,*";
  const std::string alice = f.token_for(scope, "alice", "alice-pw");
  REQUIRE(f.publish(alice).status == 200);
  CHECK(f.tuf("DELETE", "", alice).status == 401);  // refused: nothing reported
  const std::string root = f.token_for(scope, "root", "root-pw");
  REQUIRE(f.tuf("POST", "timestamp.key", root).status == 200);
  REQUIRE(f.tuf("DELETE", "", root).status == 200);
  std::lock_guard lock(f.writes_mu);
  REQUIRE(f.writes.size() == 3);
  CHECK(f.writes[0].kind == WriteEvent::Kind::kPublish);
  CHECK(f.writes[0].gun == f.sim.gun());
  CHECK(f.writes[0].actor == "alice");
  CHECK(f.writes[0].source == "127.0.0.1");
  CHECK(f.writes[0].detail == std::map<std::string, std::string>{
                                  {"root", "1"}, {"snapshot", "1"}, {"targets", "1"}});
  CHECK(f.writes[1].kind == WriteEvent::Kind::kRotateKey);
  CHECK(f.writes[1].actor == "root");
  CHECK(f.writes[1].detail.at("role") == "timestamp");
  CHECK(f.writes[1].detail.at("key_id").size() == 64);
  CHECK(f.writes[2].kind == WriteEvent::Kind::kDelete);
  CHECK(f.writes[2].actor == "root");
}

TEST_CASE("POST /auth/token with a form, as docker's OAuth flow sends it") {
  Fixture f;
  const auto r = server_test::https(
      "POST", f.url("/auth/token"), "",
      "grant_type=password&username=alice&password=alice-pw&service=vouch-server"
      "&client_id=docker&access_type=offline&scope=repository%3A" +
          f.sim.gun() + "%3Apull",
      {"Content-Type: application/x-www-form-urlencoded"});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto doc = json::parse(r.body);
  REQUIRE(doc.ok());
  CHECK(doc->find("refresh_token") != nullptr);
  CHECK(doc->find("scope")->as_string() == "repository:" + f.sim.gun() + ":pull");
}

}  // namespace
}  // namespace vouch::server
