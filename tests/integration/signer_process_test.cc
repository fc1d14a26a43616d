// The real vouch-signer binary as a child process: it refuses to start half-working (wrong or
// missing passphrase, no client CA), serves with mutual TLS, writes one audit line per
// signature, exposes metrics and probes on its HTTP port, drains on SIGTERM, and rotates
// passphrase aliases online (through its control socket) and offline, and backs its key
// database up while serving (`backup`) and restores it into a new directory (`restore`).

#include <doctest/doctest.h>

#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "keys/crypto.h"
#include "signer/remote_signer.h"
#include "tests/integration/signer_test_util.h"

using namespace vouch;
using namespace vouch::signer;
using namespace vouch::signer_test;
using keys::KeyType;

namespace {

constexpr const char* kBinary = VOUCH_SIGNER_BIN;

// A TLS setup and a config file for one signer, with cheap Argon2 costs unless asked.
class Setup {
 public:
  explicit Setup(bool default_kdf = false) {
    server_ = write_issued(dir_, "server", pki_.issue("vouch-signer", true));
    client_issued_ = pki_.issue("vouch-server", false);
    client_ = write_issued(dir_, "client", client_issued_);
    write_file(dir_ / "ca.pem", pki_.ca_pem(), 0644);
    write_config(true, default_kdf);
  }

  // Paths are relative to the config file, as in Notary.
  void write_config(bool with_client_ca, bool default_kdf = false) {
    std::string server = R"("grpc_addr": "127.0.0.1:0", "http_addr": "127.0.0.1:0",
      "tls_cert_file": "server.pem", "tls_key_file": "server.key")";
    if (with_client_ca) server += R"(, "client_ca_file": "ca.pem")";
    std::string storage = R"("backend": "rocksdb", "db_path": "keys.db", "default_alias": "prod")";
    if (!default_kdf)
      storage += R"(, "kdf": {"memory_kib": 64, "iterations": 1, "parallelism": 1})";
    write_file(config(), "{\"server\": {" + server + "}, \"storage\": {" + storage +
                             "}, \"logging\": {\"level\": \"info\"}}\n");
  }

  std::string config() const { return dir_ / "signer.json"; }
  std::string ready() const { return dir_ / "ready.json"; }

  // Starts the daemon; returns it once its ready file appears (or it exits).
  std::unique_ptr<Process> start(const std::map<std::string, std::string>& env,
                                 const std::vector<std::string>& extra = {}) {
    std::error_code ec;
    fs::remove(ready(), ec);
    std::vector<std::string> args = {"--config", config(), "--ready-file", ready()};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string base = dir_ / ("signer-" + std::to_string(++runs_));
    auto p = std::make_unique<Process>(
        kBinary, args, env, base + ".out", base + ".err",
        std::vector<std::string>{"VOUCH_SIGNER_PROD", "NOTARY_SIGNER_PROD",
                                 "NOTARY_SIGNER_DEFAULT_ALIAS"});
    wait_until([&] { return read_ready_file(ready()).has_value() || !p->running(); },
               std::chrono::seconds(90));
    return p;
  }

  std::unique_ptr<RemoteSigner> remote(int port) const {
    RemoteSignerOptions o;
    o.target = "127.0.0.1:" + std::to_string(port);
    o.tls_ca_pem = pki_.ca_pem();
    o.tls_client_cert_pem = client_issued_.cert_pem;
    o.tls_client_key_pem = keys::SecretString(client_issued_.key_pem);
    auto r = RemoteSigner::create(std::move(o));
    REQUIRE(r.ok());
    return std::move(r).value();
  }

  TempDir dir_;
  Pki pki_;
  Issued client_issued_;
  std::pair<std::string, std::string> server_, client_;
  int runs_ = 0;
};

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

void stop(Process& p) {
  p.signal(SIGTERM);
  auto st = p.wait(std::chrono::seconds(60));
  REQUIRE(st.has_value());
  CHECK(*st == 0);
}

}  // namespace

TEST_SUITE_BEGIN("integration");  // ctest label

TEST_CASE(
    "vouch-signer serves with mTLS, audits every signature, exposes metrics, drains on SIGTERM") {
  Setup s(/*default_kdf=*/true);  // the real Argon2id costs, once
  auto p = s.start({{"NOTARY_SIGNER_PROD", "a production passphrase"}});
  auto ports = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports.has_value(), p->err());
  CHECK(ports->http > 0);

  auto remote = s.remote(ports->grpc);
  REQUIRE(remote->check_health().ok());
  auto pub = remote->create_key("example.com/app", "timestamp", KeyType::kEcdsa);
  REQUIRE_MESSAGE(pub.ok(), (pub.ok() ? "" : pub.error().message));
  const Bytes content = bytes(R"({"_type":"Timestamp","expires":"2030-01-01T00:00:00Z"})");
  auto sig = remote->sign(*pub, content);
  REQUIRE(sig.ok());

  // One audit line: key ID, SHA-256 of the content, the caller's certificate identity.
  const std::string digest = keys::sha256_hex(content);
  CHECK(wait_until([&] { return p->err().find("sha256=" + digest) != std::string::npos; }));
  const std::string err = p->err();
  const auto at = err.find("sign key_id=" + pub->id());
  REQUIRE(at != std::string::npos);
  const std::string line = err.substr(at, err.find('\n', at) - at);
  CHECK(line.find("sha256=" + digest) != std::string::npos);
  CHECK(line.find("cn=vouch-server") != std::string::npos);
  CHECK(line.find("san=vouch-server") != std::string::npos);
  CHECK(line.find("code=OK") != std::string::npos);
  // Never the content, never a secret.
  CHECK(err.find("Timestamp") == std::string::npos);
  CHECK(err.find("a production passphrase") == std::string::npos);

  const std::string metrics = http_get(ports->http, "/metrics");
  CHECK(metrics.find("200 OK") != std::string::npos);
  CHECK(metrics.find(R"(vouch_signer_rpcs_total{code="OK",method="Sign"} 1)") != std::string::npos);
  CHECK(http_get(ports->http, "/readyz").find("200") != std::string::npos);
  CHECK(http_get(ports->http, "/healthz").find("200") != std::string::npos);

  stop(*p);
  CHECK(p->err().find("stopped") != std::string::npos);
  CHECK_FALSE(tcp_connectable(ports->grpc));

  // Restart: the key is still there and signs (decrypted from disk).
  auto p2 = s.start({{"VOUCH_SIGNER_PROD", "a production passphrase"}});
  auto ports2 = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports2.has_value(), p2->err());
  auto remote2 = s.remote(ports2->grpc);
  CHECK(remote2->sign(*pub, content).ok());
  stop(*p2);
}

TEST_CASE("vouch-signer refuses to start with a wrong passphrase, naming the alias") {
  Setup s;
  {
    auto p = s.start({{"NOTARY_SIGNER_PROD", "right one"}});
    auto ports = read_ready_file(s.ready());
    REQUIRE_MESSAGE(ports.has_value(), p->err());
    REQUIRE(s.remote(ports->grpc)->create_key("g", "timestamp", KeyType::kEd25519).ok());
    stop(*p);
  }
  auto p = s.start({{"NOTARY_SIGNER_PROD", "wrong one"}});
  auto st = p->wait(std::chrono::seconds(60));
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  const std::string err = p->err();
  CHECK(err.find("refusing to start") != std::string::npos);
  CHECK(err.find("wrong passphrase for alias 'prod'") != std::string::npos);
  CHECK(err.find("NOTARY_SIGNER_PROD") != std::string::npos);
  CHECK(err.find("wrong one") == std::string::npos);
  CHECK_FALSE(read_ready_file(s.ready()).has_value());
}

TEST_CASE("vouch-signer refuses to start without a passphrase for its alias") {
  Setup s;
  auto p = s.start({});
  auto st = p->wait(std::chrono::seconds(60));
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  CHECK(p->err().find("no passphrase for alias 'prod'") != std::string::npos);
  CHECK(p->err().find("VOUCH_SIGNER_PROD") != std::string::npos);
}

TEST_CASE("vouch-signer refuses to start without a client CA (mutual TLS is mandatory)") {
  Setup s;
  s.write_config(/*with_client_ca=*/false);
  auto p = s.start({{"NOTARY_SIGNER_PROD", "x"}});
  auto st = p->wait(std::chrono::seconds(60));
  REQUIRE(st.has_value());
  CHECK(*st == 1);
  CHECK(p->err().find("mutual TLS is mandatory") != std::string::npos);
}

TEST_CASE("vouch-signer refuses an unsupported storage backend and a bad config") {
  Setup s;
  write_file(s.config(), R"({
    "storage": {"backend": "mysql", "db_path": "x", "default_alias": "prod"},
    "server": {"tls_cert_file": "server.pem", "tls_key_file": "server.key",
               "client_ca_file": "ca.pem"}})");
  auto [rc, out] = run(kBinary, {"--config", s.config()}, {{"NOTARY_SIGNER_PROD", "x"}}, s.dir_);
  CHECK(rc == 1);
  CHECK(out.find("storage.backend \"mysql\" is not supported") != std::string::npos);
  write_file(s.config(), "{not json");
  std::tie(rc, out) = run(kBinary, {"--config", s.config()}, {}, s.dir_);
  CHECK(rc == 1);
  CHECK(out.find("not valid JSON") != std::string::npos);
}

TEST_CASE("passphrase rotation: online through the running daemon, then offline") {
  Setup s;
  const std::map<std::string, std::string> env = {{"NOTARY_SIGNER_PROD", "old passphrase"},
                                                  {"NOTARY_SIGNER_NEXT", "new passphrase"}};
  auto p = s.start(env);
  auto ports = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports.has_value(), p->err());
  auto remote = s.remote(ports->grpc);
  std::vector<keys::PublicKey> pubs;
  for (int i = 0; i < 5; ++i) {
    pubs.push_back(*remote->create_key("g" + std::to_string(i), "timestamp", KeyType::kEcdsa));
  }
  // Online: the command finds the daemon's control socket; the passphrase of "next" comes
  // from the daemon's own environment (nothing secret is given to the command).
  auto [rc, out] = run(
      kBinary, {"--config", s.config(), "rotate-passphrase", "--new-alias", "next"}, {}, s.dir_);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.find("rotated 5 of 5 keys to alias next (online") != std::string::npos);
  for (const auto& pub : pubs) CHECK(remote->sign(pub, bytes("after rotation")).ok());
  // New keys now use the new alias too.
  pubs.push_back(*remote->create_key("g-new", "timestamp", KeyType::kEd25519));
  // An alias the daemon has no passphrase for is refused with a clear message.
  std::tie(rc, out) = run(
      kBinary, {"--config", s.config(), "rotate-passphrase", "--new-alias", "nope"}, {}, s.dir_);
  CHECK(rc == 1);
  CHECK(out.find("no passphrase for alias nope") != std::string::npos);
  stop(*p);

  // The old passphrase is no longer needed.
  write_file(s.config(),
             read_file(s.config()).replace(read_file(s.config()).find("\"prod\""), 6, "\"next\""));
  auto p2 = s.start({{"NOTARY_SIGNER_NEXT", "new passphrase"}});
  auto ports2 = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports2.has_value(), p2->err());
  auto remote2 = s.remote(ports2->grpc);
  for (const auto& pub : pubs) CHECK(remote2->sign(pub, bytes("after restart")).ok());
  stop(*p2);

  // Offline: no daemon; the command opens the database with its own environment.
  std::tie(rc, out) =
      run(kBinary, {"--config", s.config(), "rotate-passphrase", "--new-alias", "third"},
          {{"NOTARY_SIGNER_NEXT", "new passphrase"}, {"VOUCH_SIGNER_THIRD", "third pass"}}, s.dir_);
  CHECK_MESSAGE(rc == 0, out);
  CHECK(out.find("rotated 6 of 6 keys to alias third (offline)") != std::string::npos);
  auto p3 = s.start({{"VOUCH_SIGNER_THIRD", "third pass"}}, {"--default-alias", "third"});
  auto ports3 = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports3.has_value(), p3->err());
  auto remote3 = s.remote(ports3->grpc);
  for (const auto& pub : pubs) CHECK(remote3->sign(pub, bytes("after offline rotation")).ok());
  stop(*p3);
}

TEST_CASE("backup while serving, restore into a new directory: the keys still sign") {
  Setup s;
  const std::map<std::string, std::string> env = {{"NOTARY_SIGNER_PROD", "a passphrase"}};
  auto p = s.start(env);
  auto ports = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports.has_value(), p->err());
  auto remote = s.remote(ports->grpc);
  std::vector<keys::PublicKey> pubs;
  for (int i = 0; i < 3; ++i) {
    pubs.push_back(*remote->create_key("g" + std::to_string(i), "timestamp", KeyType::kEcdsa));
  }
  // The daemon holds the database (RocksDB's LOCK) while the backup copies it.
  const std::string backup_dir = s.dir_ / "backup";
  auto [rc, out] = run(kBinary, {"--config", s.config(), "backup", backup_dir}, {}, s.dir_);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(fs::exists(fs::path(backup_dir) / "vouch-signer-backup.json"));
  std::tie(rc, out) = run(kBinary, {"--config", s.config(), "backup", backup_dir}, {}, s.dir_);
  CHECK(rc == 1);
  CHECK(out.find("is not empty") != std::string::npos);
  // A key created after the backup is not in it.
  auto later = remote->create_key("g-later", "timestamp", KeyType::kEcdsa);
  REQUIRE(later.ok());
  stop(*p);

  // Restore refuses a database that exists, and a directory that is no backup.
  std::tie(rc, out) = run(kBinary, {"--config", s.config(), "restore", backup_dir}, env, s.dir_);
  CHECK(rc == 1);
  CHECK(out.find("is not empty") != std::string::npos);
  const std::string restored = s.dir_ / "restored.db";
  std::tie(rc, out) = run(
      kBinary, {"--config", s.config(), "--db-path", restored, "restore", s.dir_ / "keys.db"},
      env, s.dir_);
  CHECK(rc == 1);
  CHECK(out.find("not a complete vouch-signer backup") != std::string::npos);
  CHECK_FALSE(fs::exists(restored));
  // Restoring checks the passphrases as a start would.
  std::tie(rc, out) = run(kBinary,
                          {"--config", s.config(), "--db-path", restored, "restore", backup_dir},
                          {{"NOTARY_SIGNER_PROD", "a wrong passphrase"}}, s.dir_);
  CHECK(rc == 1);
  fs::remove_all(restored);
  std::tie(rc, out) = run(
      kBinary, {"--config", s.config(), "--db-path", restored, "restore", backup_dir}, env, s.dir_);
  REQUIRE_MESSAGE(rc == 0, out);
  CHECK(out.find("3 keys") != std::string::npos);

  auto p2 = s.start(env, {"--db-path", restored});
  auto ports2 = read_ready_file(s.ready());
  REQUIRE_MESSAGE(ports2.has_value(), p2->err());
  auto remote2 = s.remote(ports2->grpc);
  for (const auto& pub : pubs) CHECK(remote2->sign(pub, bytes("after restore")).ok());
  CHECK_FALSE(remote2->sign(*later, bytes("after restore")).ok());
  stop(*p2);
}

TEST_SUITE_END();
