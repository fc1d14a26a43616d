// The real vouch-server over HTTPS, restarted so that its read cache is cold, with readers
// of every GUN racing publishes to it: no reader ever sees a repository go back to an older
// timestamp, and afterwards every GUN serves exactly what was published last and takes the
// next publish (a read that put an older version back into the cache would make that publish
// fail with VERSION). The deterministic interleavings are in
// tests/unit/server/repository_cache_race_test.cc; this is the same race, end to end.

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"
#include "tuf/metadata.h"

using namespace vouch;
using namespace vouch::server_test;
using testing::RepoSimulator;

namespace {

constexpr const char* kBinary = VOUCH_SERVER_BIN;
constexpr int kGuns = 8;
constexpr int kReadersPerGun = 3;
constexpr int kRounds = 3;
constexpr int kPublishesPerRound = 3;

const std::map<std::string, std::string> kEnv = {
    {"VOUCH_SERVER_KEY_PASSPHRASE", "server key store passphrase"}};

std::string server_config(const ServerTls& tls) {
  return R"({
  "server": {"http_addr": "127.0.0.1:0", "tls_cert_file": ")" + tls.cert_file +
         R"(", "tls_key_file": ")" + tls.key_file + R"("},
  "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "logging": {"level": "warning"}
}
)";
}

std::string tuf_path(const std::string& gun, const std::string& file = "") {
  return "/v2/" + gun + "/_trust/tuf/" + file;
}

std::int64_t timestamp_version(const std::string& bytes) {
  auto ts = tuf::parse_timestamp(bytes);
  return ts ? ts->content.version : -1;
}

struct Stress {
  TempDir dir{"vouch-server-cache-stress"};
  ServerTls tls{dir};
  std::unique_ptr<ServerProcess> server;
  std::vector<std::unique_ptr<RepoSimulator>> repos;

  void start() {
    server = std::make_unique<ServerProcess>(kBinary, dir / "server", server_config(tls),
                                             std::vector<std::string>{"--insecure-no-auth"}, kEnv);
    REQUIRE_MESSAGE(server->port() > 0, server->log());
  }
  void restart() {
    REQUIRE(server->stop() == std::optional<int>(0));
    start();
  }
  HttpResult call(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::vector<std::string>& headers = {}) {
    return https(method, server->url(path), tls.ca_file, body, headers);
  }
  HttpResult publish(RepoSimulator& sim, std::initializer_list<const char*> roles) {
    Multipart m;
    for (const char* role : roles) m.part(role, sim.files.at(role));
    return call("POST", tuf_path(sim.gun()), m.finish(), {m.content_type()});
  }
  // The next targets and snapshot versions (the root keeps the bytes the server stored).
  HttpResult publish_next(RepoSimulator& sim) {
    sim.targets.version += 1;
    sim.add_target("t" + std::to_string(sim.targets.version), "content");
    sim.files["targets"] = sim.sign(tuf::to_json(sim.targets), sim.keys_for("targets"));
    sim.snapshot.version += 1;
    sim.snapshot.meta["targets"] = tuf::FileMeta::of(as_bytes(sim.files.at("targets")));
    sim.files["snapshot"] = sim.sign(tuf::to_json(sim.snapshot), sim.keys_for("snapshot"));
    return publish(sim, {"targets", "snapshot"});
  }
};

}  // namespace

TEST_SUITE_BEGIN("integration");

TEST_CASE("vouch-server: cold-cache readers racing publishes never see or keep an older version") {
  Stress s;
  s.start();
  for (int g = 0; g < kGuns; ++g) {
    auto sim = std::make_unique<RepoSimulator>("example.com/stress/" + std::to_string(g),
                                               SystemClock::instance().now());
    const HttpResult key = s.call("GET", tuf_path(sim->gun(), "timestamp.key"));
    REQUIRE_MESSAGE(key.status == 200, key.body);
    auto ts_key = key_from_json(key.body);
    REQUIRE(ts_key.has_value());
    sim->use_timestamp_key(*ts_key);
    sim->publish();
    const HttpResult r = s.publish(*sim, {"root", "targets", "snapshot"});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    s.repos.push_back(std::move(sim));
  }

  std::int64_t expected_timestamp = 1;
  for (int round = 0; round < kRounds; ++round) {
    CAPTURE(round);
    s.restart();  // an empty cache over the stored repositories
    std::atomic<int> publishers_left{kGuns};
    std::atomic<int> bad_reads{0}, went_back{0}, failed_publishes{0};
    std::vector<std::thread> threads;
    for (int g = 0; g < kGuns; ++g) {
      RepoSimulator& sim = *s.repos[static_cast<std::size_t>(g)];
      for (int r = 0; r < kReadersPerGun; ++r) {
        threads.emplace_back([&, r] {
          std::int64_t last = 0;
          do {
            const char* role = r == 0 ? "timestamp.json" : r == 1 ? "targets.json" : "snapshot.json";
            const HttpResult got = s.call("GET", tuf_path(sim.gun(), role));
            if (got.status != 200) ++bad_reads;
            if (r == 0) {
              const std::int64_t v = timestamp_version(got.body);
              if (v < last) ++went_back;
              last = v;
            }
          } while (publishers_left.load() > 0);
        });
      }
      threads.emplace_back([&] {
        for (int p = 0; p < kPublishesPerRound; ++p) {
          if (s.publish_next(sim).status != 200) ++failed_publishes;
        }
        --publishers_left;
      });
    }
    for (auto& t : threads) t.join();
    CHECK(bad_reads == 0);
    CHECK(went_back == 0);
    REQUIRE(failed_publishes == 0);
    expected_timestamp += kPublishesPerRound;

    // Every GUN serves its last publish, and the cache agrees with the store.
    for (auto& sim : s.repos) {
      CAPTURE(sim->gun());
      CHECK(s.call("GET", tuf_path(sim->gun(), "targets.json")).body == sim->files.at("targets"));
      CHECK(s.call("GET", tuf_path(sim->gun(), "snapshot.json")).body == sim->files.at("snapshot"));
      const HttpResult ts = s.call("GET", tuf_path(sim->gun(), "timestamp.json"));
      CHECK(timestamp_version(ts.body) == expected_timestamp);
      CHECK(ts.body == s.call("GET", tuf_path(sim->gun(), std::to_string(expected_timestamp) +
                                                              ".timestamp.json"))
                           .body);
    }
  }
  // And each takes the next publish.
  for (auto& sim : s.repos) {
    const HttpResult r = s.publish_next(*sim);
    CHECK_MESSAGE(r.status == 200, r.body);
  }
  CHECK(s.server->stop() == std::optional<int>(0));
}

TEST_SUITE_END();
