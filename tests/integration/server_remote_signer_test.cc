// vouch-server with vouch-signer as its remote trust service (trust_service.type = "remote",
// notary-server's config shape), both real binaries over mutual TLS on loopback:
//  - the timestamp key the server hands out is a key the signer holds, and every timestamp
//    the server publishes is signed by it and verifies under the published root;
//  - POST snapshot.key makes a new server-managed snapshot key in the signer; after a root
//    that lists it, the server signs snapshots with it;
//  - with the signer stopped, reads of what is stored keep working, and operations that need
//    a new signature fail with Notary's 5xx error JSON (the server does not crash); once the
//    signer is back (same port, same key database), the next publish works at once;
//  - /readyz reports the signer's outage (200, degraded) and its return.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "signer/remote_signer.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

using namespace vouch;
using namespace vouch::server_test;
using testing::RepoSimulator;

namespace {

constexpr const char* kServerBinary = VOUCH_SERVER_BIN;
constexpr const char* kSignerBinary = VOUCH_SIGNER_BIN;
const std::string kGun = "example.com/vouch/remote-signer";

// One vouch-signer with its own PKI and a key database that outlives restarts, listening on
// a fixed loopback port so that the server finds it again after a restart.
class Signer {
 public:
  explicit Signer(const TempDir& dir) : dir_(dir / "signer"), port_(signer_test::free_port()) {
    fs::create_directories(dir_);
    signer_test::write_file(dir_ + "/ca.pem", pki_.ca_pem(), 0644);
    const auto server = pki_.issue("vouch-signer", true);
    signer_test::write_file(dir_ + "/signer.pem", server.cert_pem, 0644);
    signer_test::write_file(dir_ + "/signer.key", server.key_pem, 0600);
    client_ = pki_.issue("vouch-server", false);
    signer_test::write_file(dir_ + "/client.pem", client_.cert_pem, 0644);
    signer_test::write_file(dir_ + "/client.key", client_.key_pem, 0600);
    signer_test::write_file(
        config(),
        R"({"server": {"grpc_addr": "127.0.0.1:)" + std::to_string(port_) + R"(",
             "tls_cert_file": "signer.pem", "tls_key_file": "signer.key",
             "client_ca_file": "ca.pem"},
  "storage": {"backend": "rocksdb", "db_path": "keys.db", "default_alias": "prod",
              "kdf": {"memory_kib": 64, "iterations": 1, "parallelism": 1}},
  "logging": {"level": "info"}})");
  }

  // Starts the daemon and waits for its ready file; false if it did not come up.
  bool start() {
    std::error_code ec;
    fs::remove(ready(), ec);
    const std::string base = dir_ + "/run-" + std::to_string(++runs_);
    process_ = std::make_unique<Process>(
        kSignerBinary, std::vector<std::string>{"--config", config(), "--ready-file", ready()},
        std::map<std::string, std::string>{{"NOTARY_SIGNER_PROD", "signer test passphrase"}},
        base + ".out", base + ".err",
        std::vector<std::string>{"VOUCH_SIGNER_PROD", "NOTARY_SIGNER_DEFAULT_ALIAS"});
    signer_test::wait_until(
        [&] { return signer_test::read_ready_file(ready()).has_value() || !process_->running(); },
        std::chrono::seconds(90));
    return signer_test::read_ready_file(ready()).has_value() && process_->running();
  }

  // SIGTERM; true if it exited cleanly.
  bool stop() {
    process_->signal(SIGTERM);
    auto st = process_->wait(std::chrono::seconds(60));
    return st.has_value() && *st == 0;
  }

  std::string log() const { return process_ ? process_->err() : ""; }
  int port() const { return port_; }

  // The trust_service section that points vouch-server at this signer.
  std::string trust_service() const {
    return R"({"type": "remote", "hostname": "127.0.0.1", "port": ")" + std::to_string(port_) +
           R"(", "tls_ca_file": ")" + dir_ + R"(/ca.pem", "tls_client_cert": ")" + dir_ +
           R"(/client.pem", "tls_client_key": ")" + dir_ + R"(/client.key", "key_algorithm": "ecdsa"})";
  }

  // A client of our own, with the server's client certificate, to ask what the signer holds.
  std::unique_ptr<signer::RemoteSigner> client() const {
    signer::RemoteSignerOptions o;
    o.target = "127.0.0.1:" + std::to_string(port_);
    o.tls_ca_pem = pki_.ca_pem();
    o.tls_client_cert_pem = client_.cert_pem;
    o.tls_client_key_pem = keys::SecretString(client_.key_pem);
    auto r = signer::RemoteSigner::create(std::move(o));
    REQUIRE(r.ok());
    return std::move(r).value();
  }

 private:
  std::string config() const { return dir_ + "/signer.json"; }
  std::string ready() const { return dir_ + "/ready.json"; }

  std::string dir_;
  int port_;
  signer_test::Pki pki_{"vouch signer test CA"};
  signer_test::Issued client_;
  std::unique_ptr<Process> process_;
  int runs_ = 0;
};

struct Fixture {
  TempDir dir{"vouch-server-remote-signer-test"};
  ServerTls tls{dir};
  Signer signer{dir};
  std::unique_ptr<ServerProcess> server;

  Fixture() {
    REQUIRE_MESSAGE(signer.start(), signer.log());
    const std::string config = R"({
  "server": {"http_addr": "127.0.0.1:0", "tls_cert_file": ")" + tls.cert_file +
                               R"(", "tls_key_file": ")" + tls.key_file + R"("},
  "trust_service": )" + signer.trust_service() + R"(,
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "logging": {"level": "info"}
})";
    server = std::make_unique<ServerProcess>(kServerBinary, dir / "server", config,
                                             std::vector<std::string>{"--insecure-no-auth"},
                                             std::map<std::string, std::string>{});
    REQUIRE_MESSAGE(server->port() > 0, server->log());
  }

  HttpResult request(const std::string& method, const std::string& file,
                     const std::string& body = "", const std::vector<std::string>& headers = {}) {
    return https(method, server->url("/v2/" + kGun + "/_trust/tuf/" + file), tls.ca_file, body,
                 headers);
  }
  HttpResult publish(const std::vector<std::pair<std::string, std::string>>& parts) {
    Multipart m;
    for (const auto& [role, bytes] : parts) m.part(role, bytes);
    return request("POST", "", m.finish(), {m.content_type()});
  }
  keys::PublicKey key(const std::string& method, const std::string& role) {
    const HttpResult r = request(method, role + ".key");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto k = key_from_json(r.body);
    REQUIRE(k.has_value());
    return *k;
  }
};

// The served `role` file verifies under `root` and is signed by exactly `key`.
template <typename T>
void check_signed_by(const tuf::Metadata<T>& meta, const tuf::Metadata<tuf::Root>& root,
                     const std::string& role, const keys::PublicKey& key) {
  CHECK(tuf::verify_signatures(meta, root.content.keys, root.content.roles.at(role), role).ok());
  REQUIRE(meta.signatures.size() == 1);
  CHECK(meta.signatures.front().keyid == key.id());
}

void check_server_error(const HttpResult& r, const std::string& code) {
  INFO("body: " << r.body);
  CHECK(r.status >= 500);
  CHECK(r.status <= 599);
  auto e = notary_error(r.body);
  REQUIRE(e.has_value());
  CHECK(e->code == code);
  // Internal error text never reaches the client.
  CHECK(r.body.find("127.0.0.1") == std::string::npos);
  CHECK(r.body.find("UNAVAILABLE") == std::string::npos);
}

}  // namespace

TEST_SUITE_BEGIN("integration");

TEST_CASE("vouch-server signs through vouch-signer: keys, timestamps, snapshot rotation, outage") {
  Fixture f;
  auto signer_client = f.signer.client();

  // The timestamp key comes from the signer, and stays the same on the next GET.
  const keys::PublicKey ts_key = f.key("GET", "timestamp");
  CHECK(f.key("GET", "timestamp").id() == ts_key.id());
  auto held = signer_client->public_key(ts_key.canonical_id());
  REQUIRE_MESSAGE(held.ok(), held.error().message);
  CHECK(held->id() == ts_key.id());
  CHECK(signer_client->key_role(ts_key.canonical_id()).value() == "timestamp");

  // Publish a repository whose root lists it.
  RepoSimulator sim(kGun, SystemClock::instance().now());
  sim.use_timestamp_key(ts_key);
  sim.add_target("app", "v1");
  sim.publish();
  HttpResult r = f.publish({{"root", sim.files.at("root")},
                            {"targets", sim.files.at("targets")},
                            {"snapshot", sim.files.at("snapshot")}});
  REQUIRE_MESSAGE(r.status == 200, (r.body + f.server->log()));
  auto root_v1 = tuf::parse_root(sim.files.at("root")).value();
  {
    auto ts = tuf::parse_timestamp(f.request("GET", "timestamp.json").body);
    REQUIRE(ts.ok());
    check_signed_by(*ts, root_v1, "timestamp", ts_key);
    CHECK(ts->content.meta.at("snapshot").check(as_bytes(sim.files.at("snapshot"))).ok());
  }

  // Rotate the snapshot key to a server-managed one: a new key in the signer, then a root
  // (version 2, signed by the same root key) that lists it. The server signs the snapshot.
  const keys::PublicKey snap_key = f.key("POST", "snapshot");
  CHECK(signer_client->key_role(snap_key.canonical_id()).value() == "snapshot");
  CHECK(f.key("GET", "snapshot").id() == snap_key.id());  // the pending key
  sim.root.keys.erase(sim.snapshot_key.id());
  sim.root.keys.emplace(snap_key.id(), snap_key);
  sim.root.roles["snapshot"] = {{snap_key.id()}, 1};
  sim.root.version = 2;
  sim.files["root"] = sim.sign(tuf::to_json(sim.root), {sim.root_key});
  r = f.publish({{"root", sim.files.at("root")}});
  REQUIRE_MESSAGE(r.status == 200, (r.body + f.server->log()));
  auto root_v2 = tuf::parse_root(sim.files.at("root")).value();
  CHECK(f.key("GET", "snapshot").id() == snap_key.id());  // now the one the root lists
  const HttpResult snap_v2 = f.request("GET", "snapshot.json");
  {
    auto snap = tuf::parse_snapshot(snap_v2.body);
    REQUIRE(snap.ok());
    CHECK(snap->content.version == 2);
    check_signed_by(*snap, root_v2, "snapshot", snap_key);
    CHECK(snap->content.meta.at("root").check(as_bytes(sim.files.at("root"))).ok());
    auto ts = tuf::parse_timestamp(f.request("GET", "timestamp.json").body);
    REQUIRE(ts.ok());
    check_signed_by(*ts, root_v2, "timestamp", ts_key);
    CHECK(ts->content.meta.at("snapshot").check(as_bytes(snap_v2.body)).ok());
  }

  // Targets alone: the server makes snapshot 3 with the signer's snapshot key.
  sim.add_target("app", "v2");
  sim.targets.version = 2;
  sim.files["targets"] = sim.sign(tuf::to_json(sim.targets), sim.keys_for("targets"));
  r = f.publish({{"targets", sim.files.at("targets")}});
  REQUIRE_MESSAGE(r.status == 200, (r.body + f.server->log()));
  const HttpResult snap_v3 = f.request("GET", "snapshot.json");
  {
    auto snap = tuf::parse_snapshot(snap_v3.body);
    REQUIRE(snap.ok());
    CHECK(snap->content.version == 3);
    check_signed_by(*snap, root_v2, "snapshot", snap_key);
    CHECK(snap->content.meta.at("targets").check(as_bytes(sim.files.at("targets"))).ok());
  }
  const std::string timestamp_before = f.request("GET", "timestamp.json").body;

  const auto readyz = [&] { return https("GET", f.server->url("/readyz"), f.tls.ca_file); };
  CHECK(readyz().body == "{}");

  // The signer goes away.
  REQUIRE_MESSAGE(f.signer.stop(), f.signer.log());
  // /readyz says so, and stays 200: reads are still served (degraded).
  signer_test::wait_until([&] { return readyz().body.find("unavailable") != std::string::npos; },
                          std::chrono::seconds(60));
  {
    const HttpResult degraded = readyz();
    CHECK(degraded.status == 200);
    CHECK(degraded.body == R"({"signer":"unavailable"})");
  }
  // Reads of what is stored need no signature.
  for (const auto& [file, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"root.json", sim.files.at("root")},
                                                        {"targets.json", sim.files.at("targets")},
                                                        {"snapshot.json", snap_v3.body},
                                                        {"timestamp.json", timestamp_before},
                                                        {"1.root.json", ""}}) {
    const HttpResult got = f.request("GET", file);
    CHECK_MESSAGE(got.status == 200, file);
    if (!bytes.empty()) CHECK_MESSAGE(got.body == bytes, file);
  }
  // What needs a new signature or key fails with Notary's error, not a crash.
  sim.add_target("app", "v3");
  sim.targets.version = 3;
  sim.files["targets"] = sim.sign(tuf::to_json(sim.targets), sim.keys_for("targets"));
  check_server_error(f.publish({{"targets", sim.files.at("targets")}}), "UPDATING");
  check_server_error(f.request("POST", "timestamp.key"), "NO_CRYPTOSERVICE");
  check_server_error(f.request("GET", "timestamp.key"), "NO_CRYPTOSERVICE");
  CHECK(f.server->running());
  {
    INFO("the outage shows in the metrics as signer errors, not storage errors");
    const std::string m = https("GET", f.server->url("/metrics"), f.tls.ca_file).body;
    auto value = [&](const std::string& sample) {
      const auto at = m.find("\n" + sample + " ");
      return at == std::string::npos ? -1.0 : std::atof(m.c_str() + at + sample.size() + 2);
    };
    CHECK(value(R"(vouch_server_backend_errors_total{backend="signer"})") >= 3);
    CHECK(value(R"(vouch_server_backend_errors_total{backend="storage"})") == 0);
    CHECK(value(R"(vouch_server_publishes_total{outcome="error"})") == 1);
  }
  CHECK(f.request("GET", "timestamp.json").body == timestamp_before);

  // The signer comes back on the same port with the same keys: the very next publish works
  // (the server reconnects on demand instead of waiting out gRPC's reconnect backoff, which
  // had grown during the outage), and /readyz is clear again.
  REQUIRE_MESSAGE(f.signer.start(), f.signer.log());
  const HttpResult again = f.publish({{"targets", sim.files.at("targets")}});
  REQUIRE_MESSAGE(again.status == 200, (again.body + f.server->log()));
  CHECK(readyz().body == "{}");
  {
    auto snap_bytes = f.request("GET", "snapshot.json").body;
    auto snap = tuf::parse_snapshot(snap_bytes);
    REQUIRE(snap.ok());
    CHECK(snap->content.version == 4);
    check_signed_by(*snap, root_v2, "snapshot", snap_key);
    auto ts = tuf::parse_timestamp(f.request("GET", "timestamp.json").body);
    REQUIRE(ts.ok());
    check_signed_by(*ts, root_v2, "timestamp", ts_key);
    CHECK(ts->content.meta.at("snapshot").check(as_bytes(snap_bytes)).ok());
  }
  CHECK(f.key("GET", "timestamp").id() == ts_key.id());

  REQUIRE(f.server->stop() == std::optional<int>(0));
  CHECK(f.signer.stop());
  // No secret in either log.
  CHECK(f.server->log().find("signer test passphrase") == std::string::npos);
  CHECK(f.signer.log().find("signer test passphrase") == std::string::npos);
}

TEST_CASE("vouch-server's config file: a wrong type or a repeated key stops the start, naming it") {
  TempDir dir;
  const std::string config = dir / "server.json";
  struct Case {
    const char* text;
    const char* names;
  };
  const Case cases[] = {
      {R"({"server": {"worker_threads": 0}})", "server.worker_threads"},
      {R"({"server": {"worker_threads": 257}})", "server.worker_threads"},
      {R"({"trust_service": {"key_dir": true}})", "trust_service.key_dir"},
      {R"({"auth": {"options": {"realm": []}}})", "auth.options.realm"},
      {R"({"repositories": {"gun_prefixes": ["a/", 1]}})", "repositories.gun_prefixes"},
      {R"({"storage": {"backend": "memory", "backend": "rocksdb"}})",
       "\"backend\" is given twice"},
      {R"({"server": )", "not valid JSON"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    signer_test::write_file(config, c.text);
    auto [rc, out] = signer_test::run(kServerBinary, {"--config", config, "--insecure-no-auth"},
                                      {}, dir);
    CHECK(rc == 1);
    CHECK_MESSAGE(out.find(c.names) != std::string::npos, out);
    CHECK(out.find(config) != std::string::npos);
  }
}

TEST_SUITE_END();
