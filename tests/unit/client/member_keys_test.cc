// Members' signing keys in the client (client/member_keys.h) against a real HTTPS server on
// 127.0.0.1 port 0 that checks what vouch-server checks: the registration statement the client
// signs verifies (keys/key_registration.h) for the account and service GET /me names; lookups
// go in batches of at most 100 IDs; answers are read strictly.

#include "client/member_keys.h"

#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <vector>

#include "keys/key_registration.h"
#include "keys/pem.h"
#include "keys/private_key.h"
#include "tests/support/memory_signer.h"
#include "tests/unit/client/client_test_util.h"
#include "tests/unit/client/http_test_server.h"

namespace vouch::client {
namespace {

using net::Request;
using net::Responder;
using net::testing::Pki;
using testing::make_client;
using testing::TestServer;
using testing::text;

namespace json = tuf::json;

std::string key_answer(const std::string& id, const std::string& teams = "") {
  return R"({"key_id":")" + id + R"(","canonical_id":")" + id +
         R"(","keytype":"ecdsa","public_key":"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n","owner":"alice","kind":"user","registered":"2026-12-08T00:00:00Z","expires":null)" +
         (teams.empty() ? std::string() : R"(,"teams":)" + teams) + "}";
}

struct Fixture {
  Pki pki;
  std::mutex mu;
  std::string verified;  // the outcome of the server's check of the last registration
  std::vector<std::size_t> batch_sizes;
  std::unique_ptr<TestServer> server;
  std::optional<HttpClient> http;

  Fixture() {
    server = std::make_unique<TestServer>(&pki, [this](const Request& req, Responder& r) {
      const std::string path(req.path());
      if (path == "/api/v1/me") {
        r.respond(text(200, R"({"name":"alice","kind":"user","service":"vouch-test"})"));
        return;
      }
      if (path == "/api/v1/keys" && req.method == "POST") {
        r.respond(register_answer(req.body));
        return;
      }
      if (path == "/api/v1/keys/lookup") {
        auto doc = json::parse(req.body);
        std::size_t n = doc ? doc->find("key_ids")->as_array().size() : 0;
        {
          std::lock_guard lock(mu);
          batch_sizes.push_back(n);
        }
        r.respond(text(200, R"({"keys":[)" + key_answer(std::string(64, 'a'), R"(["acme/ops"])") +
                                "]}"));
        return;
      }
      if (path == "/api/v1/keys") {
        r.respond(text(200, R"({"keys":[{"key_id":"x"}]})"));  // no owner: malformed
        return;
      }
      r.respond(text(404, R"({"error":{"code":"not_found","message":"no such route"}})"));
    });
    http.emplace(make_client(pki));
    auto origin = url_origin(server->base());
    REQUIRE(origin.ok());
    http->set_origin_authorization(*origin, keys::SecretString("Bearer vouch_abc"));
  }

  AdminClient admin() {
    auto c = AdminClient::create(server->base() + "/", *http);
    REQUIRE(c.ok());
    return std::move(c).value();
  }

  // The server's check, as vouch-server makes it (with the body's fields, this server's
  // service and account, and the current time).
  net::Response register_answer(const std::string& body) {
    auto doc = json::parse(body);
    if (!doc) return text(400, "{}");
    auto key = keys::parse_public_key_pem(doc->find("public_key")->as_string());
    auto at = parse_rfc3339(doc->find("issued_at")->as_string());
    const json::Value* sig = doc->find("signature");
    auto method = keys::parse_sig_method(sig->find("method")->as_string());
    auto bytes = base64_decode(sig->find("sig")->as_string());
    if (!key || !at || !method || !bytes) return text(400, "{}");
    Status st = keys::verify_registration({"vouch-test", "alice", *key, *at},
                                          {*method, *bytes}, SystemClock::instance().now(),
                                          std::chrono::minutes(5));
    std::lock_guard lock(mu);
    verified = st.ok() ? "ok" : std::string(to_string(st.error().reason));
    return text(201, key_answer(key->id()));
  }
};

}  // namespace

TEST_CASE("member keys: register signs a statement the server verifies") {
  Fixture f;
  vouch::testing::MemorySigner signer;
  const keys::PublicKey key = signer.add_key(keys::PrivateKey::generate(keys::KeyType::kEcdsa).value());
  auto admin = f.admin();
  auto made = register_key(admin, signer, key, SystemClock::instance().now());
  REQUIRE_MESSAGE(made.ok(), made.error().message);
  CHECK(made->key_id == key.id());
  CHECK(made->owner == "alice");
  CHECK(made->expires.empty());
  CHECK(f.verified == "ok");
  // A key the signer does not hold is the signer's error; no registration is sent.
  vouch::testing::MemorySigner empty;
  auto refused = register_key(admin, empty, key, SystemClock::instance().now());
  REQUIRE(!refused.ok());
  CHECK(refused.error().reason == Reason::kUnknownKey);
}

TEST_CASE("member keys: lookups go in batches of 100 and read owner and teams") {
  Fixture f;
  auto admin = f.admin();
  std::vector<std::string> ids(250, std::string(64, 'b'));
  auto found = lookup_key_owners(admin, ids);
  REQUIRE_MESSAGE(found.ok(), found.error().message);
  CHECK(f.batch_sizes == std::vector<std::size_t>{100, 100, 50});
  REQUIRE(found->size() == 3);
  CHECK((*found)[0].teams == std::vector<std::string>{"acme/ops"});
  CHECK(describe_owner((*found)[0]) == "alice (acme/ops)");
  RegisteredKey lone;
  lone.owner = "acme/ci";
  CHECK(describe_owner(lone) == "acme/ci");
  // Nothing to ask: no request.
  auto none = lookup_key_owners(admin, {});
  REQUIRE(none.ok());
  CHECK(f.batch_sizes.size() == 3);
}

TEST_CASE("member keys: a list without the fields it needs is malformed; errors are the server's") {
  Fixture f;
  auto admin = f.admin();
  auto listed = list_registered_keys(admin, "alice");
  REQUIRE(!listed.ok());
  CHECK(listed.error().reason == Reason::kMalformed);
  CHECK(f.server->seen().back().target == "/api/v1/keys?owner=alice");
  auto gone = unregister_key(admin, std::string(64, 'c'));
  REQUIRE(!gone.ok());
  CHECK(gone.error().code == Code::kNotFound);
}

}  // namespace vouch::client
