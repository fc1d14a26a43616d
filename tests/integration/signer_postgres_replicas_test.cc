// Two real vouch-signer processes on one PostgreSQL database (storage.backend "postgres",
// issue 16 item 3), over mutual TLS as in production, and vouch-server using them:
//  - the timestamp key vouch-server gets through signer A is served and used by signer B: the
//    server, restarted against B, publishes timestamps signed with it;
//  - a passphrase-alias rotation run through A (rotate-passphrase over A's control socket)
//    re-encrypts the shared records, and B signs with a key it never held in memory (it
//    unlocks the new alias on demand);
//  - CreateKey for one (GUN, role, algorithm) sent to both signers at once yields one key.
// PostgreSQL is the test's own (tests/support/postgres.h), one fresh database.

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "signer/remote_signer.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/postgres.h"
#include "tests/support/repo_simulator.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

using namespace vouch;
using namespace vouch::server_test;
using testing::RepoSimulator;

namespace {

constexpr const char* kServerBinary = VOUCH_SERVER_BIN;
constexpr const char* kSignerBinary = VOUCH_SIGNER_BIN;
const std::string kGun = "example.com/vouch/pg-signers";

// The TLS material both signers and their clients share, in <dir>/pki.
struct SharedPki {
  explicit SharedPki(const TempDir& dir) : path(dir / "pki") {
    fs::create_directories(path);
    signer_test::write_file(path + "/ca.pem", pki.ca_pem(), 0644);
    const auto server = pki.issue("vouch-signer", true);
    signer_test::write_file(path + "/signer.pem", server.cert_pem, 0644);
    signer_test::write_file(path + "/signer.key", server.key_pem, 0600);
    client = pki.issue("vouch-server", false);
    signer_test::write_file(path + "/client.pem", client.cert_pem, 0644);
    signer_test::write_file(path + "/client.key", client.key_pem, 0600);
  }
  std::string path;
  signer_test::Pki pki{"vouch signer test CA"};
  signer_test::Issued client;
};

// One vouch-signer on the shared database, with its own port, control socket and logs.
class PgSigner {
 public:
  PgSigner(const TempDir& dir, const std::string& name, const SharedPki& pki,
           vouch::test::Postgres& pg, const std::string& database)
      : dir_(dir / name), pki_(pki), port_(signer_test::free_port()) {
    fs::create_directories(dir_);
    signer_test::write_file(
        config(),
        R"({"server": {"grpc_addr": "127.0.0.1:)" + std::to_string(port_) + R"(",
             "tls_cert_file": ")" + pki.path + R"(/signer.pem", "tls_key_file": ")" + pki.path +
            R"(/signer.key", "client_ca_file": ")" + pki.path + R"(/ca.pem",
             "control_socket": "control.sock"},
  "storage": {"backend": "postgres", "default_alias": "prod",
              "postgres": {"dsn": ")" + pg.dsn(database) + R"(", "password_file": ")" +
            pg.password_file().string() + R"(", "pool_size": 4},
              "kdf": {"memory_kib": 64, "iterations": 1, "parallelism": 1}},
  "logging": {"level": "info"}})");
  }

  bool start() {
    std::error_code ec;
    fs::remove(ready(), ec);
    process_ = std::make_unique<Process>(
        kSignerBinary, std::vector<std::string>{"--config", config(), "--ready-file", ready()},
        env(), dir_ + "/signer.out", dir_ + "/signer.err",
        std::vector<std::string>{"VOUCH_SIGNER_PROD", "VOUCH_SIGNER_NEXT",
                                 "NOTARY_SIGNER_DEFAULT_ALIAS"});
    signer_test::wait_until(
        [&] { return signer_test::read_ready_file(ready()).has_value() || !process_->running(); },
        std::chrono::seconds(90));
    return signer_test::read_ready_file(ready()).has_value() && process_->running();
  }

  // `vouch-signer rotate-passphrase` with this signer's config (online, through its socket).
  std::pair<int, std::string> rotate(const std::string& alias) {
    Process p(kSignerBinary,
              {"rotate-passphrase", "--config", config(), "--new-alias", alias}, env(),
              dir_ + "/rotate.out", dir_ + "/rotate.err");
    auto st = p.wait(std::chrono::seconds(120));
    return {st.value_or(-1), p.out() + p.err()};
  }

  std::string log() const { return process_ ? process_->err() : ""; }

  std::string trust_service() const {
    return R"({"type": "remote", "hostname": "127.0.0.1", "port": ")" + std::to_string(port_) +
           R"(", "tls_ca_file": ")" + pki_.path + R"(/ca.pem", "tls_client_cert": ")" +
           pki_.path + R"(/client.pem", "tls_client_key": ")" + pki_.path +
           R"(/client.key", "key_algorithm": "ecdsa"})";
  }

  std::unique_ptr<signer::RemoteSigner> client() const {
    signer::RemoteSignerOptions o;
    o.target = "127.0.0.1:" + std::to_string(port_);
    o.tls_ca_pem = pki_.pki.ca_pem();
    o.tls_client_cert_pem = pki_.client.cert_pem;
    o.tls_client_key_pem = keys::SecretString(pki_.client.key_pem);
    auto r = signer::RemoteSigner::create(std::move(o));
    REQUIRE(r.ok());
    return std::move(r).value();
  }

 private:
  static std::map<std::string, std::string> env() {
    return {{"NOTARY_SIGNER_PROD", "signer test passphrase"},
            {"NOTARY_SIGNER_NEXT", "the next passphrase"}};
  }
  std::string config() const { return dir_ + "/signer.json"; }
  std::string ready() const { return dir_ + "/ready.json"; }

  std::string dir_;
  const SharedPki& pki_;
  int port_;
  std::unique_ptr<Process> process_;
};

vouch::test::Postgres& test_postgres() {
  auto pg = vouch::test::Postgres::shared();
  REQUIRE_MESSAGE(pg.ok(), "PostgreSQL for the tests: " << pg.error().message);
  return **pg;
}

std::string fresh_database(vouch::test::Postgres& pg) {
  auto db = pg.create_database();
  REQUIRE_MESSAGE(db.ok(), db.error().message);
  return *db;
}

std::unique_ptr<ServerProcess> start_server(const TempDir& dir, const ServerTls& tls,
                                            const PgSigner& signer) {
  const std::string config = R"({
  "server": {"http_addr": "127.0.0.1:0", "tls_cert_file": ")" + tls.cert_file +
                             R"(", "tls_key_file": ")" + tls.key_file + R"("},
  "trust_service": )" + signer.trust_service() + R"(,
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "logging": {"level": "info"}
})";
  auto server = std::make_unique<ServerProcess>(kServerBinary, dir / "server", config,
                                                std::vector<std::string>{"--insecure-no-auth"},
                                                std::map<std::string, std::string>{});
  REQUIRE_MESSAGE(server->port() > 0, server->log());
  return server;
}

HttpResult request(ServerProcess& server, const ServerTls& tls, const std::string& method,
                   const std::string& file, const std::string& body = "",
                   const std::vector<std::string>& headers = {}) {
  return https(method, server.url("/v2/" + kGun + "/_trust/tuf/" + file), tls.ca_file, body,
               headers);
}

HttpResult publish(ServerProcess& server, const ServerTls& tls,
                   const std::vector<std::pair<std::string, std::string>>& parts) {
  Multipart m;
  for (const auto& [role, bytes] : parts) m.part(role, bytes);
  return request(server, tls, "POST", "", m.finish(), {m.content_type()});
}

// The served timestamp verifies under `root` and is signed by exactly `key`.
void check_timestamp(ServerProcess& server, const ServerTls& tls,
                     const tuf::Metadata<tuf::Root>& root, const keys::PublicKey& key,
                     std::int64_t min_version) {
  auto ts = tuf::parse_timestamp(request(server, tls, "GET", "timestamp.json").body);
  REQUIRE(ts.ok());
  CHECK(tuf::verify_signatures(*ts, root.content.keys, root.content.roles.at("timestamp"),
                               "timestamp")
            .ok());
  REQUIRE(ts->signatures.size() == 1);
  CHECK(ts->signatures.front().keyid == key.id());
  CHECK(ts->content.version >= min_version);
}

}  // namespace

TEST_SUITE_BEGIN("integration");

TEST_CASE("two vouch-signers on one PostgreSQL serve the same keys, rotation and creation") {
  vouch::test::Postgres& pg = test_postgres();
  const std::string database = fresh_database(pg);
  TempDir dir{"vouch-pg-signers-test"};
  SharedPki pki(dir);
  ServerTls tls(dir);
  PgSigner a(dir, "signer-a", pki, pg, database);
  PgSigner b(dir, "signer-b", pki, pg, database);
  REQUIRE_MESSAGE(a.start(), a.log());
  REQUIRE_MESSAGE(b.start(), b.log());
  auto client_a = a.client();
  auto client_b = b.client();

  // vouch-server on signer A: its timestamp key is created through A.
  auto server = start_server(dir, tls, a);
  const HttpResult key_reply = request(*server, tls, "GET", "timestamp.key");
  REQUIRE_MESSAGE(key_reply.status == 200, key_reply.body);
  const keys::PublicKey ts_key = key_from_json(key_reply.body).value();
  // B knows it: same record in the database.
  auto held = client_b->public_key(ts_key.canonical_id());
  REQUIRE_MESSAGE(held.ok(), held.error().message);
  CHECK(held->id() == ts_key.id());
  CHECK(client_b->key_role(ts_key.canonical_id()).value() == "timestamp");

  RepoSimulator sim(kGun, SystemClock::instance().now());
  sim.use_timestamp_key(ts_key);
  sim.add_target("app", "v1");
  sim.publish();
  HttpResult r = publish(*server, tls,
                         {{"root", sim.files.at("root")},
                          {"targets", sim.files.at("targets")},
                          {"snapshot", sim.files.at("snapshot")}});
  REQUIRE_MESSAGE(r.status == 200, (r.body + server->log()));
  const auto root = tuf::parse_root(sim.files.at("root")).value();
  check_timestamp(*server, tls, root, ts_key, 1);

  // The same server restarted against signer B: B signs the next timestamp with the key
  // created through A.
  REQUIRE(server->stop() == 0);
  server.reset();
  server = start_server(dir, tls, b);
  sim.add_target("app", "v2");
  sim.targets.version = 2;
  sim.files["targets"] = sim.sign(tuf::to_json(sim.targets), sim.keys_for("targets"));
  sim.snapshot.version = 2;
  sim.seal();
  r = publish(*server, tls,
              {{"targets", sim.files.at("targets")}, {"snapshot", sim.files.at("snapshot")}});
  REQUIRE_MESSAGE(r.status == 200, (r.body + server->log() + b.log()));
  check_timestamp(*server, tls, root, ts_key, 2);

  // A key created through A that B has never used, then an alias rotation through A.
  auto other = client_a->create_key("example.com/other", "snapshot", keys::KeyType::kEcdsa);
  REQUIRE_MESSAGE(other.ok(), other.error().message);
  const auto [rc, out] = a.rotate("next");
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("to alias next") != std::string::npos);
  // B reads the record, now under alias "next", and signs with it.
  const Bytes msg = {'h', 'e', 'l', 'l', 'o'};
  auto sig = client_b->sign(*other, msg);
  REQUIRE_MESSAGE(sig.ok(), ((sig.ok() ? std::string() : sig.error().message) + b.log()));
  CHECK(other->verify(sig->method, msg, sig->bytes).ok());
  CHECK(b.log().find("unlocked alias next") != std::string::npos);

  // CreateKey for one triple sent to both signers at once: one key.
  std::vector<std::string> ids(8);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < ids.size(); ++t) {
    threads.emplace_back([&, t] {
      auto& c = t % 2 == 0 ? client_a : client_b;
      auto k = c->create_key("example.com/concurrent", "timestamp", keys::KeyType::kEcdsa);
      if (k) ids[t] = k->id();
    });
  }
  for (auto& th : threads) th.join();
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 1);
  CHECK_FALSE(ids[0].empty());
}

TEST_CASE("vouch-signer on PostgreSQL: migrate, and what it refuses at start") {
  vouch::test::Postgres& pg = test_postgres();
  const std::string database = fresh_database(pg);
  TempDir dir{"vouch-pg-signer-cli-test"};
  const std::string dsn = pg.dsn(database);
  const std::string password_file = pg.password_file().string();
  // run(args): exit status and output of vouch-signer.
  const auto run = [&](std::vector<std::string> args) {
    static int n = 0;
    const std::string base = dir / ("run-" + std::to_string(++n));
    Process p(kSignerBinary, std::move(args), {{"NOTARY_SIGNER_PROD", "p"}}, base + ".out",
              base + ".err");
    auto st = p.wait(std::chrono::seconds(60));
    return std::make_pair(st.value_or(-1), p.out() + p.err());
  };
  const std::vector<std::string> pg_flags = {"--storage", "postgres", "--pg-dsn", dsn,
                                             "--pg-password-file", password_file};
  auto with = [&](std::vector<std::string> head) {
    head.insert(head.end(), pg_flags.begin(), pg_flags.end());
    return head;
  };

  auto [rc, out] = run(with({"migrate"}));
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.find("schema version 0 -> 1") != std::string::npos);
  std::tie(rc, out) = run(with({"migrate"}));
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.find("(up to date)") != std::string::npos);

  // backup/restore copy a RocksDB database: refused on PostgreSQL, saying what to use.
  std::tie(rc, out) = run(with({"backup", dir / "backup"}));
  CHECK(rc != 0);
  CHECK(out.find("pg_dump") != std::string::npos);
  // No dsn; a password in the dsn; a wrong password: each stops the start with one clear line.
  std::tie(rc, out) = run({"migrate", "--storage", "postgres"});
  CHECK(rc != 0);
  CHECK(out.find("needs storage.postgres.dsn") != std::string::npos);
  std::tie(rc, out) = run({"migrate", "--storage", "postgres", "--pg-dsn", dsn + " password=x"});
  CHECK(rc != 0);
  CHECK(out.find("put it in password_file") != std::string::npos);
  signer_test::write_file(dir / "wrong-password", "not-the-password\n");
  std::tie(rc, out) = run({"migrate", "--storage", "postgres", "--pg-dsn", dsn,
                           "--pg-password-file", dir / "wrong-password"});
  CHECK(rc != 0);
  CHECK(out.find("password authentication failed") != std::string::npos);
  CHECK(out.find("not-the-password") == std::string::npos);
}
