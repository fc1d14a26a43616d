// Interop of vouch-signer with the real Notary 0.7 (Debian packages notary, notary-server,
// notary-signer), in both directions:
//   1. the real notary-server, configured with trust_service.type = remote, uses vouch-signer
//      over mutual TLS for its timestamp (and later snapshot) keys, and the real notary CLI
//      inits, publishes, adds a target, publishes and lists a repository through it; the
//      server's periodic health check of the signer ("Overall": KeyManagement + Signer)
//      passes;
//   2. vouch's RemoteSigner uses the real notary-signer.
// Skipped only when the notary binaries are missing (scripts/install-deps.sh installs them, so
// these run in CI): the case then prints "SKIPPED: ..." and ctest reports it skipped
// (SKIP_REGULAR_EXPRESSION in CMakeLists.txt), as the shell interop tests do with exit 77.
// VOUCH_NOTARY_BIN_DIR overrides where the binaries are looked for (default /usr/bin).

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "keys/private_key.h"
#include "signer/remote_signer.h"
#include "tests/integration/signer_test_util.h"

using namespace vouch;
using namespace vouch::signer;
using namespace vouch::signer_test;
using keys::KeyType;

namespace {

constexpr const char* kVouchSigner = VOUCH_SIGNER_BIN;
std::string notary_bin(const char* name) {
  const char* dir = std::getenv("VOUCH_NOTARY_BIN_DIR");
  return std::string(dir != nullptr && *dir != '\0' ? dir : "/usr/bin") + "/" + name;
}
const std::string kNotaryServer = notary_bin("notary-server");
const std::string kNotarySigner = notary_bin("notary-signer");
const std::string kNotary = notary_bin("notary");

bool have(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

void stop(Process& p) {
  p.signal(SIGTERM);
  if (!p.wait(std::chrono::seconds(30))) {
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(10));
  }
}

// The TLS material every process here uses: one CA, Go-friendly certificates (IP SANs).
struct Tls {
  explicit Tls(const TempDir& dir) {
    write_file(dir / "ca.pem", pki.ca_pem(), 0644);
    ca = dir / "ca.pem";
    signer = write_issued(dir, "signer", pki.issue("signer", true));
    server = write_issued(dir, "server", pki.issue("notary-server", true));
    client_issued = pki.issue("notary-server-client", false);
    client = write_issued(dir, "client", client_issued);
  }
  Pki pki;
  std::string ca;
  std::pair<std::string, std::string> signer, server, client;
  Issued client_issued;
};

}  // namespace

TEST_SUITE_BEGIN("interop");  // ctest label

TEST_CASE("the real notary-server and notary CLI publish through vouch-signer") {
  if (!have(kNotaryServer) || !have(kNotary)) {
    MESSAGE("SKIPPED: " << kNotaryServer << " or " << kNotary
                        << " is missing (install the Debian package notary; "
                           "scripts/install-deps.sh does)");
    return;
  }
  TempDir dir("vouch-signer-interop");
  Tls tls(dir);

  // vouch-signer with mutual TLS, its key database in the temp dir.
  write_file(dir / "signer.json", R"({
    "server": {"grpc_addr": "127.0.0.1:0", "http_addr": "127.0.0.1:0",
               "tls_cert_file": "signer.pem", "tls_key_file": "signer.key",
               "client_ca_file": "ca.pem"},
    "storage": {"backend": "rocksdb", "db_path": "signer.db", "default_alias": "interop",
                "kdf": {"memory_kib": 1024, "iterations": 1, "parallelism": 1}},
    "logging": {"level": "info"}
  })");
  const std::string ready = dir / "signer.ready";
  Process signer(kVouchSigner, {"--config", dir / "signer.json", "--ready-file", ready},
                 {{"NOTARY_SIGNER_INTEROP", "interop passphrase"}}, dir / "signer.out",
                 dir / "signer.err");
  REQUIRE_MESSAGE(
      wait_until([&] { return read_ready_file(ready).has_value() || !signer.running(); },
                 std::chrono::seconds(90)),
      signer.err());
  auto ports = read_ready_file(ready);
  REQUIRE_MESSAGE(ports.has_value(), signer.err());

  // notary-server, trust service remote -> vouch-signer.
  const int http_port = free_port();
  write_file(dir / "server.json", R"({
    "server": {"http_addr": "127.0.0.1:)" +
                                      std::to_string(http_port) + R"(",
               "tls_cert_file": ")" + tls.server.first +
                                      R"(",
               "tls_key_file": ")" + tls.server.second +
                                      R"("},
    "trust_service": {"type": "remote", "hostname": "127.0.0.1",
                      "port": ")" + std::to_string(ports->grpc) +
                                      R"(",
                      "key_algorithm": "ecdsa",
                      "tls_ca_file": ")" +
                                      tls.ca + R"(",
                      "tls_client_cert": ")" +
                                      tls.client.first + R"(",
                      "tls_client_key": ")" +
                                      tls.client.second + R"("},
    "storage": {"backend": "memory"},
    "logging": {"level": "info"}
  })");
  const auto server_started = std::chrono::steady_clock::now();
  Process server(kNotaryServer, {"-config", dir / "server.json", "-logf", "logfmt"}, {},
                 dir / "server.out", dir / "server.err");
  REQUIRE_MESSAGE(
      wait_until([&] {
        return https_get(http_port, "/_notary_server/health", tls.pki.ca_pem()).find(" 200 ") !=
                   std::string::npos ||
               !server.running();
      }),
      server.err());
  REQUIRE_MESSAGE(server.running(), server.err());

  // The notary CLI, never reading a terminal.
  fs::create_directories(dir.path() / "home");
  write_file(dir / "client.json", "{}");
  const std::map<std::string, std::string> env = {
      {"HOME", dir / "home"},
      {"NOTARY_ROOT_PASSPHRASE", "interop root passphrase"},
      {"NOTARY_TARGETS_PASSPHRASE", "interop targets passphrase"},
      {"NOTARY_SNAPSHOT_PASSPHRASE", "interop snapshot passphrase"},
  };
  const std::string url = "https://127.0.0.1:" + std::to_string(http_port);
  const std::string gun = "example.com/vouch/interop";
  auto notary = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"-c", dir / "client.json", "-d",  dir / "trust", "-s",
                                    url,  "--tlscacert",       tls.ca};
    all.insert(all.end(), args.begin(), args.end());
    auto [rc, out] = run(kNotary, all, env, dir);
    INFO("notary ", args[0], ":\n", out, "\nnotary-server log:\n", server.err(),
         "\nvouch-signer log:\n", signer.err());
    REQUIRE(rc == 0);
    return out;
  };
  write_file(dir / "payload-1", "hello from vouch-signer interop\n");
  write_file(dir / "payload-2", "second target, server-managed snapshot\n");

  notary({"init", gun});
  notary({"publish", gun});
  notary({"add", gun, "hello.txt", dir / "payload-1"});
  notary({"publish", gun});
  std::string list = notary({"list", gun});
  CHECK(list.find("hello.txt") != std::string::npos);
  // Hand the snapshot key to the server (CreateKey for role snapshot in vouch-signer), then
  // publish again: now the server signs both snapshot and timestamp through vouch-signer.
  notary({"key", "rotate", gun, "snapshot", "-r"});
  notary({"add", gun, "second.txt", dir / "payload-2"});
  notary({"publish", gun});
  list = notary({"list", gun});
  CHECK(list.find("hello.txt") != std::string::npos);
  CHECK(list.find("second.txt") != std::string::npos);

  // The timestamp and snapshot keys in the published root are vouch-signer's.
  const std::string root = read_file(dir / ("trust/tuf/" + gun + "/metadata/root.json"));
  REQUIRE_FALSE(root.empty());
  RemoteSignerOptions ro;
  ro.target = "127.0.0.1:" + std::to_string(ports->grpc);
  ro.tls_ca_pem = tls.pki.ca_pem();
  ro.tls_client_cert_pem = tls.client_issued.cert_pem;
  ro.tls_client_key_pem = keys::SecretString(tls.client_issued.key_pem);
  auto remote = std::move(RemoteSigner::create(std::move(ro))).value();
  const std::string err = signer.err();
  int ts_keys = 0, snap_keys = 0;
  std::size_t pos = 0;
  while ((pos = err.find("rpc=CreateKey", pos)) != std::string::npos) {
    const std::string line = err.substr(pos, err.find('\n', pos) - pos);
    pos += 1;
    const auto k = line.find("key_id=");
    if (k == std::string::npos) continue;
    const std::string id = line.substr(k + 7, 64);
    auto role = remote->key_role(id);
    REQUIRE(role.ok());
    if (root.find(id) == std::string::npos) continue;
    if (*role == "timestamp") ++ts_keys;
    if (*role == "snapshot") ++snap_keys;
    CHECK(line.find("cn=notary-server-client") != std::string::npos);
  }
  CHECK(ts_keys == 1);
  CHECK(snap_keys == 1);
  CHECK(err.find("sign key_id=") != std::string::npos);
  CHECK(err.find("cn=notary-server-client") != std::string::npos);

  // notary-server's periodic signer health check ("Overall" = KeyManagement + Signer) runs
  // every 10 s; once it has run, the server must still report healthy.
  wait_until(
      [&] { return std::chrono::steady_clock::now() - server_started > std::chrono::seconds(12); },
      std::chrono::seconds(30));
  CHECK(https_get(http_port, "/_notary_server/health", tls.pki.ca_pem()).find(" 200 ") !=
        std::string::npos);
  CHECK(server.err().find("Trust not fully operational") == std::string::npos);

  stop(server);
  stop(signer);
}

TEST_CASE("vouch's RemoteSigner uses the real notary-signer") {
  if (!have(kNotarySigner)) {
    MESSAGE("SKIPPED: " << kNotarySigner << " is missing (install the Debian package notary)");
    return;
  }
  TempDir dir("vouch-notary-signer-interop");
  Tls tls(dir);
  const int port = free_port();
  write_file(dir / "signer.json", R"({
    "server": {"grpc_addr": "127.0.0.1:)" +
                                      std::to_string(port) + R"(",
               "tls_cert_file": ")" + tls.signer.first +
                                      R"(",
               "tls_key_file": ")" + tls.signer.second +
                                      R"(",
               "client_ca_file": ")" + tls.ca +
                                      R"("},
    "storage": {"backend": "memory", "default_alias": "interop"},
    "logging": {"level": "info"}
  })");
  Process signer(kNotarySigner, {"-config", dir / "signer.json", "-logf", "logfmt"},
                 {{"NOTARY_SIGNER_INTEROP", "interop passphrase"}}, dir / "signer.out",
                 dir / "signer.err");
  REQUIRE_MESSAGE(wait_until([&] { return tcp_connectable(port) || !signer.running(); }),
                  signer.err());
  REQUIRE_MESSAGE(signer.running(), signer.err());

  RemoteSignerOptions ro;
  ro.target = "127.0.0.1:" + std::to_string(port);
  ro.tls_ca_pem = tls.pki.ca_pem();
  ro.tls_client_cert_pem = tls.client_issued.cert_pem;
  ro.tls_client_key_pem = keys::SecretString(tls.client_issued.key_pem);
  auto remote = std::move(RemoteSigner::create(std::move(ro))).value();

  CHECK(wait_until([&] { return remote->check_health().ok(); }, std::chrono::seconds(30)));
  for (KeyType t : {KeyType::kEcdsa, KeyType::kEd25519}) {
    CAPTURE(keys::to_string(t));
    auto pub = remote->create_key("example.com/vouch/interop", "timestamp", t);
    REQUIRE_MESSAGE(pub.ok(), (pub.ok() ? "" : pub.error().message));
    CHECK(pub->type() == t);
    auto again = remote->public_key(pub->id());
    REQUIRE(again.ok());
    CHECK(*again == *pub);
    CHECK(*remote->key_role(pub->id()) == "timestamp");
    const Bytes msg = bytes(R"({"_type":"Timestamp","version":2})");
    auto sig = remote->sign(*pub, msg);  // verified by RemoteSigner and again here
    REQUIRE_MESSAGE(sig.ok(), (sig.ok() ? "" : sig.error().message));
    CHECK(pub->verify(sig->method, msg, sig->bytes).ok());
    CHECK(remote->delete_key(pub->id()).ok());
  }
  // notary-signer cannot create RSA keys; it answers UNKNOWN, which RemoteSigner reports as
  // an unsupported algorithm.
  auto rsa = remote->create_key("example.com/vouch/interop", "timestamp", KeyType::kRsa);
  REQUIRE_FALSE(rsa.ok());
  CHECK(rsa.error().reason == Reason::kUnsupportedAlgorithm);
  // Unknown key IDs.
  CHECK(remote->public_key(std::string(64, 'a')).error().reason == Reason::kUnknownKey);
  auto ghost = keys::PrivateKey::generate(KeyType::kEcdsa);
  REQUIRE(ghost.ok());
  CHECK(remote->sign(ghost->public_key(), bytes("x")).error().reason == Reason::kUnknownKey);

  stop(signer);
}

TEST_SUITE_END();
