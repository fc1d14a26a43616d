// NotaryApi over a real HTTP server on loopback, with a signer that stalls (StallingSigner):
// while the only worker waits for a signature and no write may queue, a further write is
// answered 503 UNAVAILABLE at once, reads are served, and once the signer answers the stalled
// publish completes and writes are accepted again. A broken build fails on curl's 60 s
// guard instead of hanging.

#include <doctest/doctest.h>

#include <thread>

#include "server/api.h"
#include "server/auth.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/stalling_signer.h"

namespace vouch::server {
namespace {

using testing::RepoSimulator;
using testing::StallingSigner;

struct Fixture {
  RepoSimulator sim;
  StallingSigner signer{{&sim.signer}};
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  Repository repo{store, signer, clock};
  AllowAllAuthorizer authorizer;
  NotaryApi api{repo, authorizer, options(), nullptr};
  std::unique_ptr<net::HttpServer> http;

  static ApiOptions options() {
    ApiOptions o;
    o.worker_threads = 1;
    o.max_queued_writes = 0;
    return o;
  }

  Fixture() {
    net::HttpServerOptions h;
    h.listen = "127.0.0.1:0";
    auto started = net::HttpServer::start(h, [this](net::Request&& r, net::Responder resp) {
      api.handle(std::move(r), std::move(resp));
    });
    REQUIRE_MESSAGE(started.ok(), started.error().message);
    http = std::move(started).value();
  }
  ~Fixture() {
    signer.release();
    http->stop();
    api.drain();
  }

  server_test::HttpResult call(const std::string& method, const std::string& file,
                               const std::string& body = "",
                               const std::vector<std::string>& headers = {}) {
    return server_test::https(method,
                              "http://" + http->local_address() + "/v2/" + sim.gun() +
                                  "/_trust/tuf/" + file,
                              "", body, headers);
  }
  server_test::HttpResult publish(std::initializer_list<const char*> roles) {
    server_test::Multipart m;
    for (const char* role : roles) m.part(role, sim.files.at(role));
    return call("POST", "", m.finish(), {m.content_type()});
  }
  // max_queued_writes 0 admits a write only while the worker waits for work, which it does
  // again just after it answered the previous write (or once it has started): until then a
  // write is answered 503, so this one is sent again.
  server_test::HttpResult publish_when_idle(std::initializer_list<const char*> roles) {
    server_test::HttpResult r;
    for (int i = 0; i < 1000; ++i) {
      r = publish(roles);
      if (r.status != 503) break;
      std::this_thread::yield();
    }
    return r;
  }
  void next_targets() {
    sim.targets.version += 1;
    sim.add_target("t" + std::to_string(sim.targets.version), "content");
    sim.publish();
  }
};

TEST_CASE("with the signer stalled and the work queue full, writes get 503 and reads go on") {
  Fixture f;
  REQUIRE(f.publish_when_idle({"root", "targets", "snapshot"}).status == 200);

  f.signer.stall(f.sim.timestamp_key);
  f.next_targets();
  server_test::HttpResult stalled;
  std::thread writer([&] { stalled = f.publish_when_idle({"targets"}); });
  if (!f.signer.wait_stalled()) {  // the one worker waits for the signer
    writer.join();
    FAIL("the publish never reached the signer: " << stalled.status << " " << stalled.body);
  }

  const auto refused = f.call("POST", "snapshot.key");
  CHECK(refused.status == 503);
  auto error = server_test::notary_error(refused.body);
  CHECK(error.has_value());
  if (error) CHECK(error->code == "UNAVAILABLE");
  CHECK(f.call("DELETE", "").status == 503);
  // Reads are answered meanwhile, from what is stored.
  const auto ts = f.call("GET", "timestamp.json");
  CHECK(ts.status == 200);
  CHECK(tuf::parse_timestamp(ts.body).value().content.version == 1);

  f.signer.release();
  writer.join();
  CHECK_MESSAGE(stalled.status == 200, stalled.body);
  CHECK(tuf::parse_timestamp(f.call("GET", "timestamp.json").body).value().content.version == 2);
  // The queue takes writes again.
  f.next_targets();
  CHECK(f.publish_when_idle({"targets"}).status == 200);
}

}  // namespace
}  // namespace vouch::server
