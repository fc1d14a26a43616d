// repositories.gun_prefixes: NotaryApi over a real HTTP server on loopback, asked by raw HTTP
// and by the vouch client's NotaryRemote about a GUN it does not serve. The codes stay
// Notary's (400 INVALID_GUN to a publish, 404 METADATA_NOT_FOUND to reads), the detail says
// the GUN is not served, and the client reports that instead of a missing key or role.

#include <doctest/doctest.h>

#include "client/http.h"
#include "client/remote.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"

namespace vouch::server {
namespace {

using testing::RepoSimulator;

constexpr const char* kServed = "served.example/";
constexpr const char* kOther = "other.example/app";

struct Fixture {
  RepoSimulator sim;
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  Repository repo{store, sim.signer, clock};
  AllowAllAuthorizer authorizer;
  NotaryApi api{repo, authorizer, options(), nullptr};
  std::unique_ptr<net::HttpServer> http;

  static ApiOptions options() {
    ApiOptions o;
    o.gun_prefixes = {kServed, "also.example/"};
    return o;
  }

  Fixture() {
    net::HttpServerOptions h;
    h.listen = "127.0.0.1:0";
    h.check_head = [this](const net::Request& head) { return api.check_head(head); };
    auto started = net::HttpServer::start(h, [this](net::Request&& r, net::Responder resp) {
      api.handle(std::move(r), std::move(resp));
    });
    REQUIRE_MESSAGE(started.ok(), started.error().message);
    http = std::move(started).value();
  }
  ~Fixture() {
    http->stop();
    api.drain();
  }

  std::string base() const { return "http://" + http->local_address(); }

  server_test::HttpResult call(const std::string& method, const std::string& path,
                               const std::string& body = "",
                               const std::vector<std::string>& headers = {}) {
    return server_test::https(method, base() + path, "", body, headers);
  }
};

client::NotaryRemote remote(client::HttpClient& http, const std::string& url,
                            const std::string& gun) {
  auto r = client::NotaryRemote::create(url, gun, http);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return std::move(r).value();
}

TEST_CASE("a GUN outside gun_prefixes: Notary's codes, a detail that says it is not served") {
  Fixture f;
  const std::string tuf = std::string("/v2/") + kOther + "/_trust/tuf/";

  SUBCASE("reads: 404 METADATA_NOT_FOUND with Reason GUN_NOT_SERVED") {
    for (const std::string file : {"root.json", "timestamp.key", "2.targets.json"}) {
      auto r = f.call("GET", tuf + file);
      INFO(file << ": " << r.body);
      CHECK(r.status == 404);
      auto e = server_test::notary_error(r.body);
      REQUIRE(e.has_value());
      CHECK(e->code == "METADATA_NOT_FOUND");
      REQUIRE(e->detail.has_value());
      REQUIRE(e->detail->is_object());
      const auto* reason = e->detail->find("Reason");
      REQUIRE(reason != nullptr);
      CHECK(reason->as_string() == "GUN_NOT_SERVED");
      const auto* msg = e->detail->find("Msg");
      REQUIRE(msg != nullptr);
      CHECK(msg->as_string().find(kServed) != std::string::npos);  // names what is served
    }
    auto feed = f.call("GET", std::string("/v2/") + kOther + "/_trust/changefeed");
    CHECK(feed.status == 404);
    auto e = server_test::notary_error(feed.body);
    REQUIRE(e.has_value());
    CHECK(e->detail.has_value());
  }

  SUBCASE("publish: 400 INVALID_GUN with a string detail, refused from the header") {
    server_test::Multipart m;
    m.part("root", f.sim.files.at("root"));
    auto r = f.call("POST", tuf, m.finish(), {m.content_type()});
    INFO(r.body);
    CHECK(r.status == 400);
    auto e = server_test::notary_error(r.body);
    REQUIRE(e.has_value());
    CHECK(e->code == "INVALID_GUN");
    CHECK(e->message == "The server does not support actions on images of this name.");
    REQUIRE(e->detail.has_value());
    REQUIRE(e->detail->is_string());
    CHECK(e->detail->as_string().find(kServed) != std::string::npos);
  }

  SUBCASE("the vouch client says the GUN is not served, not that a key is missing") {
    auto http = client::HttpClient::create({});
    REQUIRE(http.ok());
    auto other = remote(*http, f.base(), kOther);
    auto key = other.get_key("timestamp");
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().reason == Reason::kBadGun);
    CHECK(key.error().code == Code::kNotFound);
    auto root = other.fetch("root", std::nullopt, 1 << 20);
    REQUIRE_FALSE(root.ok());
    CHECK(root.error().reason == Reason::kBadGun);
    const client::MetadataUpload upload{"root", f.sim.files.at("root")};
    auto published = other.publish(std::span(&upload, 1));
    REQUIRE_FALSE(published.ok());
    CHECK(published.error().reason == Reason::kBadGun);

    // A served GUN without data is still plainly not found.
    auto served = remote(*http, f.base(), std::string(kServed) + "app");
    auto missing = served.fetch("root", std::nullopt, 1 << 20);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().reason == Reason::kNotFound);
    CHECK(served.get_key("timestamp").ok());
  }
}

}  // namespace
}  // namespace vouch::server
