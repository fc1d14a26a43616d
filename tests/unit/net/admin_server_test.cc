#include "common/net/admin_server.h"

#include <doctest/doctest.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <atomic>

#include "tests/unit/net/net_test_util.h"

namespace vouch::net {
namespace {

using testing::CurlOptions;
using testing::curl_request;

std::string url(const AdminServer& s, std::string_view path, bool tls = false) {
  return std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(s.port()) +
         std::string(path);
}

TEST_CASE("admin: /metrics, /healthz, /readyz") {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter()
                     .Name("vouch_test_requests_total")
                     .Help("Requests seen by the test")
                     .Register(*registry);
  family.Add({{"outcome", "ok"}}).Increment(3);
  std::atomic<bool> ready{false};
  auto admin = AdminServer::start({}, registry, [&] { return ready.load(); });
  REQUIRE_MESSAGE(admin.ok(), admin.error().message);
  AdminServer& s = **admin;
  CHECK(s.port() != 0);

  auto metrics = curl_request(url(s, "/metrics"));
  REQUIRE(metrics.code == CURLE_OK);
  CHECK(metrics.status == 200);
  CHECK(metrics.headers.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(metrics.body.find("# TYPE vouch_test_requests_total counter") != std::string::npos);
  CHECK(metrics.body.find("vouch_test_requests_total{outcome=\"ok\"} 3") != std::string::npos);

  CHECK(curl_request(url(s, "/healthz")).status == 200);
  auto not_ready = curl_request(url(s, "/readyz"));
  CHECK(not_ready.status == 503);
  ready = true;
  CHECK(curl_request(url(s, "/readyz")).status == 200);

  CurlOptions head;
  head.method = "HEAD";
  CHECK(curl_request(url(s, "/healthz"), head).status == 200);
  CurlOptions post;
  post.method = "POST";
  CHECK(curl_request(url(s, "/metrics"), post).status == 405);
  post.body = "x";
  CHECK(curl_request(url(s, "/metrics"), post).status == 413);
  CHECK(curl_request(url(s, "/other")).status == 404);
  CHECK(curl_request(url(s, "/metrics?x=1")).status == 200);

  s.stop();
  s.stop();  // idempotent
  CHECK(curl_request(url(s, "/healthz")).code != CURLE_OK);
}

TEST_CASE("admin: null registry, null or throwing ready, TLS, bad options") {
  auto plain = AdminServer::start({}, nullptr, nullptr);
  REQUIRE(plain.ok());
  auto m = curl_request(url(**plain, "/metrics"));
  CHECK(m.status == 200);
  CHECK(m.body.empty());
  CHECK(curl_request(url(**plain, "/readyz")).status == 200);

  auto throwing = AdminServer::start({}, nullptr, []() -> bool { throw std::runtime_error("x"); });
  REQUIRE(throwing.ok());
  CHECK(curl_request(url(**throwing, "/readyz")).status == 503);

  testing::Pki pki;
  AdminServerOptions tls;
  tls.tls_cert_file = pki.server1_files.first;
  tls.tls_key_file = pki.server1_files.second;
  auto secure = AdminServer::start(tls, nullptr, nullptr);
  REQUIRE_MESSAGE(secure.ok(), secure.error().message);
  CurlOptions ca;
  ca.ca_file = pki.ca1_file;
  auto r = curl_request(url(**secure, "/healthz", true), ca);
  REQUIRE_MESSAGE(r.code == CURLE_OK, r.error);
  CHECK(r.status == 200);

  AdminServerOptions half;
  half.tls_cert_file = pki.server1_files.first;
  auto bad = AdminServer::start(half, nullptr, nullptr);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Code::kInvalidArgument);
  AdminServerOptions missing;
  missing.tls_cert_file = pki.dir.file("missing.crt");
  missing.tls_key_file = pki.dir.file("missing.key");
  CHECK(AdminServer::start(missing, nullptr, nullptr).error().reason == Reason::kIo);
  AdminServerOptions bad_listen;
  bad_listen.listen = "nowhere";
  CHECK_FALSE(AdminServer::start(bad_listen, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace vouch::net
