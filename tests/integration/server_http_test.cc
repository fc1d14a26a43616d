// The real vouch-server binary over real HTTPS (RocksDB in a temporary directory, the embedded
// key store): every way a request can be refused, each answered with the status code and the
// error JSON notary-server sends ({"errors":[{"code","message","detail"}]}, REFERENCE §1.1,
// Notary's server/errors/errors.go), and after each barrage the server still runs and still
// serves the repository published first, unchanged and verifiable.
//
// Transport limits (413, 431, 400, slow clients) come from common/net's HTTP server; the
// config sets small limits and timeouts (server.max_publish_bytes, server.*_timeout_seconds)
// so that they can be crossed quickly. Nothing here measures time: a slow client is only
// expected to be disconnected eventually.

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "keys/root_certificate.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

using namespace vouch;
using namespace vouch::server_test;
using testing::RepoSimulator;

namespace {

constexpr const char* kBinary = VOUCH_SERVER_BIN;
const std::string kGun = "example.com/vouch/http-test";
constexpr long long kMaxPublish = 64 * 1024;

// Notary's messages (server/errors/errors.go and docker/distribution's errcode).
constexpr const char* kMsgNotFound = "You have requested metadata that does not exist.";
constexpr const char* kMsgInvalidRole = "The role you are attempting to operate on is invalid.";
constexpr const char* kMsgMalformedJson = "JSON sent by the client could not be parsed by the server";
constexpr const char* kMsgVersion = "A newer version of metadata is already available.";
constexpr const char* kMsgInvalidUpdate = "Update sent by the client is invalid.";
constexpr const char* kMsgMalformedUpload = "The body of your request is malformed.";
constexpr const char* kMsgInvalidGun = "The server does not support actions on images of this name.";
constexpr const char* kMsgNoFilename = "No file/role name provided.";
constexpr const char* kMsgUnsupported = "The operation is unsupported.";
constexpr const char* kMsgUnauthorized = "authentication required";

// Checks status, content type and error body; returns the error for further checks.
NotaryError check_error(const HttpResult& r, long status, const std::string& code,
                        const std::string& message = "") {
  INFO("body: " << r.body << " curl: " << r.error);
  CHECK(r.code == CURLE_OK);
  CHECK(r.status == status);
  CHECK(r.header("Content-Type").rfind("application/json", 0) == 0);
  auto e = notary_error(r.body);
  REQUIRE(e.has_value());
  CHECK(e->code == code);
  if (!message.empty()) CHECK(e->message == message);
  return *e;
}

// INVALID_UPDATE with the validation error the notary client decodes:
// detail {"Name": "<name>", "Error": {"Msg": ...}}.
void check_invalid_update(const HttpResult& r, const std::string& name) {
  const NotaryError e = check_error(r, 400, "INVALID_UPDATE", kMsgInvalidUpdate);
  REQUIRE(e.detail.has_value());
  const json::Value* n = e.detail->find("Name");
  REQUIRE(n != nullptr);
  REQUIRE(n->is_string());
  CHECK(n->as_string() == name);
  const json::Value* inner = e.detail->find("Error");
  REQUIRE(inner != nullptr);
  const json::Value* msg = inner->find("Msg");
  REQUIRE(msg != nullptr);
  CHECK(msg->is_string());
}

void check_transport_error(const std::optional<TlsClient::Response>& r, int status,
                           const std::string& code) {
  REQUIRE(r.has_value());
  INFO("response: " << r->head << r->body);
  CHECK(r->status == status);
  CHECK(r->has_header("content-type: application/json"));
  auto e = notary_error(r->body);
  REQUIRE(e.has_value());
  CHECK(e->code == code);
}

// The "server" section's limits: a small body limit and short timeouts, so that the tests
// cross them quickly.
std::string fast_limits() {
  return R"("max_publish_bytes": )" + std::to_string(kMaxPublish) + R"(,
             "header_timeout_seconds": 2, "body_timeout_seconds": 2, "idle_timeout_seconds": 2)";
}

std::string server_config(const ServerTls& tls, const std::string& extra_sections = "",
                          const std::string& limits = fast_limits()) {
  return R"({
  "server": {"http_addr": "127.0.0.1:0", "tls_cert_file": ")" + tls.cert_file +
         R"(", "tls_key_file": ")" + tls.key_file + R"(",
             )" + limits + R"(},
  "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "logging": {"level": "info"})" +
         extra_sections + "\n}\n";
}

const std::map<std::string, std::string> kEnv = {
    {"VOUCH_SERVER_KEY_PASSPHRASE", "server key store passphrase"}};

std::string tuf_path(const std::string& gun, const std::string& file = "") {
  return "/v2/" + gun + "/_trust/tuf/" + file;
}

// The value of the sample `name` (with its labels as serialized, e.g. x{a="b"}) in
// Prometheus text, or -1 if absent.
double metric_value(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const auto at = text.find(key);
  return at == std::string::npos ? -1 : std::atof(text.c_str() + at + key.size());
}

// A running vouch-server with Docker registry token auth (its own token CA and minter), in
// `dir`/auth.
struct TokenServer {
  TokenServer(const TempDir& dir, const ServerTls& server_tls,
              const std::string& limits = fast_limits())
      : tls(server_tls) {
    const std::string server_dir = dir / "auth";
    fs::create_directories(server_dir);
    signer_test::write_file(server_dir + "/token-ca.pem", token_pki.ca_pem(), 0644);
    server = std::make_unique<ServerProcess>(
        kBinary, server_dir,
        server_config(tls, R"(,
  "auth": {"type": "token", "options": {"realm": ")" + realm + R"(", "service": ")" + service +
                                R"(", "issuer": ")" + issuer +
                                R"(", "rootcertbundle": "token-ca.pem"}})",
                      limits),
        std::vector<std::string>{}, kEnv);
    REQUIRE_MESSAGE(server->port() > 0, server->log());
  }

  std::string token(const std::string& gun, const std::vector<std::string>& actions,
                    bool expired = false) const {
    return minter.mint(TokenMinter::claims(issuer, service, gun, actions, expired));
  }
  HttpResult call(const std::string& method, const std::string& path,
                  const std::optional<std::string>& bearer, const std::string& body = "",
                  std::vector<std::string> headers = {}) const {
    if (bearer) headers.push_back("Authorization: Bearer " + *bearer);
    return https(method, server->url(path), tls.ca_file, body, headers);
  }

  const ServerTls& tls;
  const std::string realm = "https://auth.vouch.test/token";
  const std::string service = "notary.vouch.test";
  const std::string issuer = "auth.vouch.test";
  signer_test::Pki token_pki{"vouch token test CA"};
  const TokenMinter minter{token_pki};
  std::unique_ptr<ServerProcess> server;
};

// A running vouch-server (no auth) with a valid repository for kGun published through its
// API: the simulator's root lists the server's own timestamp key.
struct Fixture {
  TempDir dir{"vouch-server-http-test"};
  ServerTls tls{dir};
  std::unique_ptr<ServerProcess> server;
  RepoSimulator sim{kGun, SystemClock::instance().now()};
  // What the server must go on serving: role -> bytes.
  std::map<std::string, std::string> good;

  Fixture() {
    server = std::make_unique<ServerProcess>(kBinary, dir / "insecure", server_config(tls),
                                             std::vector<std::string>{"--insecure-no-auth"}, kEnv);
    REQUIRE_MESSAGE(server->port() > 0, server->log());
    publish_good();
  }

  HttpResult get(const std::string& path) { return https("GET", server->url(path), tls.ca_file); }
  HttpResult request(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::vector<std::string>& headers = {}) {
    return https(method, server->url(path), tls.ca_file, body, headers);
  }
  HttpResult publish(const Multipart& m, const std::string& gun = kGun) {
    return request("POST", tuf_path(gun), m.finish(), {m.content_type()});
  }
  HttpResult publish_parts(const std::vector<std::pair<std::string, std::string>>& parts) {
    Multipart m;
    for (const auto& [role, bytes] : parts) m.part(role, bytes);
    return publish(m);
  }

  void publish_good() {
    const HttpResult key = get(tuf_path(kGun, "timestamp.key"));
    REQUIRE_MESSAGE(key.status == 200, key.body);
    auto ts_key = key_from_json(key.body);
    REQUIRE(ts_key.has_value());
    sim.use_timestamp_key(*ts_key);
    sim.add_target("hello", "hello world");
    sim.publish();
    const HttpResult r = publish_parts({{"root", sim.files.at("root")},
                                  {"targets", sim.files.at("targets")},
                                  {"snapshot", sim.files.at("snapshot")}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    remember_good();
  }

  void remember_good() {
    for (const char* role : {"root", "targets", "snapshot"}) good[role] = sim.files.at(role);
  }

  // The server is up and serves the last good repository: the same bytes, and a timestamp
  // signed by the key the root names that lists the served snapshot.
  void check_still_serving() {
    REQUIRE_MESSAGE(server->running(), server->log());
    CHECK(get("/_notary_server/health").status == 200);
    for (const auto& [role, bytes] : good) {
      const HttpResult r = get(tuf_path(kGun, role + ".json"));
      CHECK_MESSAGE(r.status == 200, role);
      CHECK_MESSAGE(r.body == bytes, role);
    }
    const HttpResult ts = get(tuf_path(kGun, "timestamp.json"));
    REQUIRE(ts.status == 200);
    auto timestamp = tuf::parse_timestamp(ts.body);
    REQUIRE(timestamp.ok());
    auto root = tuf::parse_root(good.at("root")).value();
    CHECK(tuf::verify_signatures(*timestamp, root.content.keys,
                                 root.content.roles.at("timestamp"), "timestamp")
              .ok());
    CHECK(timestamp->content.meta.at("snapshot").check(as_bytes(good.at("snapshot"))).ok());
    // The key store's passphrase never shows up in the server's output.
    CHECK(server->log().find(kEnv.at("VOUCH_SERVER_KEY_PASSPHRASE")) == std::string::npos);
  }

  std::string post_head(const std::string& extra) const {
    return "POST " + tuf_path(kGun) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
           "Content-Type: multipart/form-data; boundary=b\r\n" + extra + "\r\n";
  }
};

// A new root key: a self-signed certificate with CN = gun, held by the simulator's signer.
keys::PublicKey new_root_key(RepoSimulator& sim) {
  auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  auto cert = keys::make_root_certificate(priv, sim.gun(), sim.now() - std::chrono::hours(1),
                                          sim.now() + std::chrono::hours(24 * 365))
                  .value();
  sim.signer.add_key(std::move(priv));
  return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(cert.pem())).value();
}

// Re-signs targets and a snapshot over it. The root keeps the bytes the server stored
// (re-signing it would change them: ECDSA signatures are randomized).
void resign_targets_and_snapshot(RepoSimulator& sim) {
  sim.files["targets"] = sim.sign(tuf::to_json(sim.targets), sim.keys_for("targets"));
  sim.snapshot.meta["targets"] = tuf::FileMeta::of(as_bytes(sim.files.at("targets")));
  sim.files["snapshot"] = sim.sign(tuf::to_json(sim.snapshot), sim.keys_for("snapshot"));
}

// `file` with its first signature's bytes replaced (same key ID, same length).
std::string corrupt_signature(const std::string& file) {
  auto doc = json::parse(file).value();
  auto& sigs = doc.as_object().find("signatures")->as_array();
  REQUIRE_FALSE(sigs.empty());
  auto& sig = sigs.front().as_object();
  Bytes raw = base64_decode(sig.find("sig")->as_string()).value();
  for (auto& b : raw) b = static_cast<std::uint8_t>(b ^ 0x5a);
  sig.set("sig", base64_encode(raw));
  return json::canonical(doc);
}

}  // namespace

TEST_SUITE_BEGIN("integration");

TEST_CASE("vouch-server HTTPS: body, header and time limits answer in Notary's terms") {
  Fixture f;
  const std::string ca = f.tls.pki.ca_pem();
  const int port = f.server->port();

  {
    INFO("a lying Content-Length far over the limit: 413 before any body byte");
    TlsClient c(port, ca);
    REQUIRE(c.send(f.post_head("Content-Length: 1000000000\r\n")));
    check_transport_error(c.read_response(), 413, "MALFORMED_UPLOAD");
    CHECK(c.closed_by_peer());
  }
  {
    INFO("an honest body over the limit, through libcurl: 413");
    Multipart m;
    m.part("targets", std::string(static_cast<std::size_t>(kMaxPublish) + 1, 'x'));
    check_error(f.publish(m), 413, "MALFORMED_UPLOAD");
  }
  {
    INFO("a chunked body that grows over the limit: 413");
    TlsClient c(port, ca);
    REQUIRE(c.send(f.post_head("Transfer-Encoding: chunked\r\n")));
    const std::string chunk = "2000\r\n" + std::string(0x2000, 'y') + "\r\n";
    for (long long sent = 0; sent <= kMaxPublish; sent += 0x2000) {
      if (!c.send(chunk)) break;  // the server may answer and close as soon as it can tell
    }
    c.send("0\r\n\r\n");
    check_transport_error(c.read_response(), 413, "MALFORMED_UPLOAD");
  }
  {
    INFO("a Content-Length shorter than the body: the rest is a bad request");
    TlsClient c(port, ca);
    REQUIRE(c.send(f.post_head("Content-Length: 5\r\n") + "xxxxx" + "this is no request\r\n\r\n"));
    auto first = c.read_response();
    check_transport_error(first, 400, "MALFORMED_UPLOAD");
    CHECK(notary_error(first->body)->message == kMsgMalformedUpload);
    check_transport_error(c.read_response(), 400, "MALFORMED_UPLOAD");
    CHECK(c.closed_by_peer());
  }
  {
    INFO("both Transfer-Encoding and Content-Length (request smuggling): 400");
    TlsClient c(port, ca);
    REQUIRE(c.send(f.post_head("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n"));
    check_transport_error(c.read_response(), 400, "MALFORMED_UPLOAD");
  }
  {
    INFO("a body where none is allowed (GET): 413");
    TlsClient c(port, ca);
    REQUIRE(c.send("GET " + tuf_path(kGun, "root.json") +
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n0123456789"));
    check_transport_error(c.read_response(), 413, "MALFORMED_UPLOAD");
  }
  {
    INFO("an oversized header: 431");
    TlsClient c(port, ca);
    c.send("GET " + tuf_path(kGun, "root.json") + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " +
           std::string(20 * 1024, 'h') + "\r\n\r\n");
    check_transport_error(c.read_response(), 431, "MALFORMED_UPLOAD");
    CHECK(c.closed_by_peer());
  }
  {
    INFO("an oversized header through libcurl: 431");
    const HttpResult r = f.request("GET", tuf_path(kGun, "root.json"), "",
                                   {"X-Pad: " + std::string(20 * 1024, 'h')});
    check_error(r, 431, "MALFORMED_UPLOAD");
  }
  {
    INFO("garbage instead of a request line: 400");
    TlsClient c(port, ca);
    REQUIRE(c.send("\x01\x02 not http at all\r\n\r\n"));
    check_transport_error(c.read_response(), 400, "MALFORMED_UPLOAD");
  }
  {
    INFO("a client that sends half a header and stalls is disconnected");
    TlsClient c(port, ca);
    REQUIRE(c.send("GET " + tuf_path(kGun, "root.json") + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    CHECK(c.closed_by_peer());
  }
  {
    INFO("a client that sends half a body and stalls is disconnected");
    TlsClient c(port, ca);
    REQUIRE(c.send(f.post_head("Content-Length: 1000\r\n") + "--b\r\n"));
    CHECK(c.closed_by_peer());
  }
  {
    INFO("a client that connects and never sends is disconnected");
    TlsClient c(port, ca);
    CHECK(c.closed_by_peer());
  }
  {
    INFO("a keep-alive connection that idles after a response is disconnected");
    TlsClient c(port, ca);
    REQUIRE(c.send("GET /_notary_server/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(c.closed_by_peer());
  }

  f.check_still_serving();
}

TEST_CASE("vouch-server HTTPS: rejected publishes, each with Notary's code and detail") {
  Fixture f;
  RepoSimulator& sim = f.sim;
  const std::string targets_v1 = sim.files.at("targets");

  // A good second version first, so that there is something to roll back from.
  sim.add_target("second", "two");
  sim.targets.version = 2;
  sim.snapshot.version = 2;
  resign_targets_and_snapshot(sim);
  HttpResult ok = f.publish_parts({{"targets", sim.files.at("targets")},
                             {"snapshot", sim.files.at("snapshot")}});
  REQUIRE_MESSAGE(ok.status == 200, ok.body);
  CHECK(ok.body.empty());
  f.remember_good();
  const std::string timestamp_before = f.get(tuf_path(kGun, "timestamp.json")).body;
  const std::string targets_v2 = sim.files.at("targets");

  {

    INFO("a part that is not JSON: MALFORMED_JSON");
    check_error(f.publish_parts({{"targets", "{\"signed\": not json"}}), 400, "MALFORMED_JSON",
                kMsgMalformedJson);
  }
  {
    INFO("duplicate JSON keys, outside or inside the signed part: MALFORMED_JSON");
    std::string outer = targets_v2;
    outer.insert(1, "\"signed\":{},");
    check_error(f.publish_parts({{"targets", outer}}), 400, "MALFORMED_JSON", kMsgMalformedJson);
    std::string inner = targets_v2;
    const auto at = inner.find("\"_type\":\"Targets\"");
    REQUIRE(at != std::string::npos);
    inner.insert(at, "\"_type\":\"Targets\",");
    check_error(f.publish_parts({{"targets", inner}}), 400, "MALFORMED_JSON", kMsgMalformedJson);
  }
  {
    INFO("a client-sent timestamp: INVALID_ROLE (the timestamp is the server's)");
    check_error(f.publish_parts({{"timestamp", sim.files.at("timestamp")}}), 400, "INVALID_ROLE",
                kMsgInvalidRole);
  }
  {
    INFO("a part whose content is another role's: INVALID_UPDATE");
    check_invalid_update(f.publish_parts({{"snapshot", targets_v2}}), "ErrBadSnapshot");
    check_invalid_update(f.publish_parts({{"targets", sim.files.at("root")}}), "ErrBadTargets");
    check_invalid_update(f.publish_parts({{"root", targets_v2}}), "ErrBadRoot");
  }
  {
    INFO("an unknown or invalid role name: INVALID_ROLE");
    check_error(f.publish_parts({{"releases", targets_v2}}), 400, "INVALID_ROLE", kMsgInvalidRole);
    check_error(f.publish_parts({{"targets/../root", targets_v2}}), 400, "INVALID_ROLE",
                kMsgInvalidRole);
    check_error(f.publish_parts({{"Targets", targets_v2}}), 400, "INVALID_ROLE", kMsgInvalidRole);
  }
  {
    INFO("a delegation that nothing delegates: INVALID_UPDATE ErrBadTargets");
    check_invalid_update(f.publish_parts({{"targets/releases", targets_v2}}), "ErrBadTargets");
  }
  {
    INFO("a part without a file name: NO_FILENAME; a body that is not multipart");
    Multipart m;
    m.body = "--" + m.boundary + "\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n" +
             targets_v2 + "\r\n";
    check_error(f.publish(m), 400, "NO_FILENAME", kMsgNoFilename);
    check_error(f.request("POST", tuf_path(kGun), targets_v2, {"Content-Type: application/json"}),
                400, "MALFORMED_UPLOAD", kMsgMalformedUpload);
  }
  {
    INFO("versions that roll back, or repeat: VERSION");
    check_error(f.publish_parts({{"targets", targets_v1}}), 400, "VERSION", kMsgVersion);
    check_error(f.publish_parts({{"targets", targets_v2}, {"snapshot", sim.files.at("snapshot")}}), 400,
                "VERSION", kMsgVersion);
    // A snapshot that lists exactly what is stored, but at an old version.
    tuf::Snapshot old = sim.snapshot;
    old.version = 1;
    check_error(f.publish_parts({{"snapshot", sim.sign(tuf::to_json(old), sim.keys_for("snapshot"))}}),
                400, "VERSION", kMsgVersion);
  }
  {
    INFO("a snapshot that does not match the stored bytes: INVALID_UPDATE ErrBadSnapshot");
    // A wrong length for the stored targets.
    sim.modify_and_resign("snapshot", [](json::Object& signed_part) {
      signed_part.set("version", std::int64_t{3});
      auto& meta = signed_part.find("meta")->as_object().find("targets")->as_object();
      meta.set("length", meta.find("length")->as_int() + 1);
    });
    check_invalid_update(f.publish_parts({{"snapshot", sim.files.at("snapshot")}}), "ErrBadSnapshot");
    // Hashes of targets bytes that were never uploaded.
    sim.targets.version = 3;
    sim.snapshot.version = 3;
    sim.add_target("never", "uploaded");
    resign_targets_and_snapshot(sim);
    check_invalid_update(f.publish_parts({{"snapshot", sim.files.at("snapshot")}}), "ErrBadSnapshot");
  }

  {
    INFO("a signature that does not verify: INVALID_UPDATE ErrBadTargets");
    sim.targets.version = 3;
    resign_targets_and_snapshot(sim);
    check_invalid_update(f.publish_parts({{"targets", corrupt_signature(sim.files.at("targets"))},
                                    {"snapshot", sim.files.at("snapshot")}}),
                         "ErrBadTargets");
    // Signed by a key the root does not list for targets.
    check_invalid_update(
        f.publish_parts({{"targets", sim.sign(tuf::to_json(sim.targets), {sim.snapshot_key})}}),
        "ErrBadTargets");
  }
  {
    INFO("a root not signed by the previous root: INVALID_UPDATE ErrBadRoot");
    const keys::PublicKey fresh = new_root_key(sim);
    sim.root.keys.erase(sim.root_key.id());
    sim.root.keys.emplace(fresh.id(), fresh);
    sim.root.roles["root"] = {{fresh.id()}, 1};
    sim.root.version = 2;
    check_invalid_update(f.publish_parts({{"root", sim.sign(tuf::to_json(sim.root), {fresh})}}),
                         "ErrBadRoot");
  }
  // Nothing of the above changed what is served.
  CHECK(f.get(tuf_path(kGun, "timestamp.json")).body == timestamp_before);
  f.check_still_serving();
}

TEST_CASE("vouch-server HTTPS: invalid GUNs, unknown routes and wrong methods") {
  Fixture f;

  {

    INFO("invalid GUNs: 404 METADATA_NOT_FOUND to reads, 400 INVALID_GUN to publishes");
    const std::vector<std::string> bad = {
        "example.com/a*b",           // '*' is outside Notary's GUN pattern
        "example.com/%01control",    // a control character
        "example.com/%7f",           // DEL
        "example.com/../escape",     // dot segments
        "example.com/%2e%2e/escape",
        "example.com/./x",
        "example.com//double",       // an empty segment
        "example.com/bad%ffutf8",    // not UTF-8 (the client's rule, now the server's too)
        "example.com/%ed%a0%80",     // a UTF-16 surrogate encoded as UTF-8
        std::string(256, 'g'),       // longer than 255 bytes
    };
    Multipart m;
    m.part("targets", f.good.at("targets"));
    for (const auto& gun : bad) {
      INFO("gun: " << gun);
      check_error(f.get(tuf_path(gun, "root.json")), 404, "METADATA_NOT_FOUND", kMsgNotFound);
      check_error(f.get(tuf_path(gun, "timestamp.key")), 404, "METADATA_NOT_FOUND", kMsgNotFound);
      check_error(f.publish(m, gun), 400, "INVALID_GUN", kMsgInvalidGun);
      check_error(f.request("DELETE", tuf_path(gun)), 404, "METADATA_NOT_FOUND", kMsgNotFound);
      check_error(f.get("/v2/" + gun + "/_trust/changefeed"), 404, "METADATA_NOT_FOUND",
                  kMsgNotFound);
    }
    // 255 bytes is still a GUN: the publish gets past the GUN check to the upload itself.
    Multipart empty;
    empty.body = "--" + empty.boundary + "\r\nContent-Disposition: form-data; name=\"files\"\r\n\r\n{}\r\n";
    check_error(f.publish(empty, std::string(255, 'g')), 400, "NO_FILENAME", kMsgNoFilename);
    // An empty GUN matches no route; an encoded '/' is refused before routing.
    check_error(f.get("/v2//_trust/tuf/root.json"), 404, "METADATA_NOT_FOUND", kMsgNotFound);
    check_error(f.publish(m, ""), 404, "METADATA_NOT_FOUND", kMsgNotFound);
    check_error(f.get("/v2/example.com%2Fvouch/_trust/tuf/root.json"), 404, "METADATA_NOT_FOUND",
                kMsgNotFound);
  }
  {
    INFO("unknown routes and files: 404 METADATA_NOT_FOUND");
    for (const std::string& path : std::vector<std::string>{
         "/", "/v1/", "/v3/" + kGun + "/_trust/tuf/root.json", "/v2/" + kGun,
          "/v2/" + kGun + "/_trust/", "/v2/" + kGun + "/_trust/tuf/root.txt",
          "/v2/" + kGun + "/_trust/tuf/releases.json", "/v2/" + kGun + "/_trust/tuf/root",
          "/v2/" + kGun + "/_trust/tuf/0x1.root.json",
          "/v2/" + kGun + "/_trust/tuf/root." + std::string(63, 'a') + ".json",
          "/v2/" + kGun + "/_trust/tuf/targets/releases.json",  // not delegated: no file
          "/v2/" + kGun + "/_trust/tuf/99.root.json",
          "/v2/" + kGun + "/_trust/tuf/root." + std::string(64, 'a') + ".json",
          "/v2/example.com/unknown/_trust/tuf/root.json",
          "/_notary_server/healthz"}) {
      INFO("path: " << path);
      check_error(f.get(path), 404, "METADATA_NOT_FOUND", kMsgNotFound);
    }
    // Keys exist only for the server-held roles.
    check_error(f.get(tuf_path(kGun, "targets.key")), 400, "INVALID_ROLE", kMsgInvalidRole);
    check_error(f.get(tuf_path(kGun, "root.key")), 400, "INVALID_ROLE", kMsgInvalidRole);
  }
  {
    INFO("wrong methods: 405 UNSUPPORTED");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"PUT", tuf_path(kGun)},
        {"GET", tuf_path(kGun)},
        {"PATCH", tuf_path(kGun)},
        {"DELETE", tuf_path(kGun, "root.json")},
        {"POST", tuf_path(kGun, "root.json")},
        {"PUT", tuf_path(kGun, "targets.json")},
        {"DELETE", tuf_path(kGun, "timestamp.key")},
        {"PUT", tuf_path(kGun, "snapshot.key")},
        {"POST", "/v2/" + kGun + "/_trust/changefeed"},
        {"DELETE", "/v2/_trust/changefeed"},
        {"POST", "/v2/"},
        {"DELETE", "/_notary_server/health"},
        {"POST", "/metrics"},
    };
    for (const auto& [method, path] : cases) {
      INFO(method << " " << path);
      check_error(f.request(method, path), 405, "UNSUPPORTED", kMsgUnsupported);
    }
  }

  f.check_still_serving();
}

TEST_CASE("vouch-server HTTPS with token auth: challenges, refused tokens, open health") {
  TempDir dir("vouch-server-auth-test");
  ServerTls tls(dir);
  TokenServer ts(dir, tls);
  ServerProcess& server = *ts.server;
  const TokenMinter& minter = ts.minter;
  const std::string& realm = ts.realm;
  const std::string& service = ts.service;
  const std::string& issuer = ts.issuer;

  auto call = [&](const std::string& method, const std::string& path,
                  const std::optional<std::string>& token, const std::string& body = "",
                  std::vector<std::string> headers = {}) {
    return ts.call(method, path, token, body, std::move(headers));
  };
  auto token = [&](const std::string& gun, const std::vector<std::string>& actions,
                   bool expired = false) { return ts.token(gun, actions, expired); };
  const std::string challenge_prefix =
      "Bearer realm=\"" + realm + "\",service=\"" + service + "\",scope=";
  // A 401 with Notary's body (the access records as detail) and the challenge.
  auto check_challenge = [&](const HttpResult& r, const std::string& scope,
                             const std::string& error = "") {
    const NotaryError e = check_error(r, 401, "UNAUTHORIZED", kMsgUnauthorized);
    std::string expected = challenge_prefix + "\"" + scope + "\"";
    if (!error.empty()) expected += ",error=\"" + error + "\"";
    CHECK(r.header("WWW-Authenticate") == expected);
    REQUIRE(e.detail.has_value());
    REQUIRE(e.detail->is_array());
    CHECK_FALSE(e.detail->as_array().empty());
  };

  {

    INFO("without a token: 401 with the scope each route needs");
    check_challenge(call("GET", "/v2/", std::nullopt), "registry:catalog:*");
    check_challenge(call("GET", tuf_path(kGun, "root.json"), std::nullopt),
                    "repository:" + kGun + ":pull");
    Multipart m;
    m.part("targets", "{}");
    const HttpResult post = call("POST", tuf_path(kGun), std::nullopt, m.finish(), {m.content_type()});
    check_challenge(post, "repository:" + kGun + ":push,pull");
    // The detail lists the access records, as notary-server's does.
    const auto detail = notary_error(post.body)->detail;
    REQUIRE(detail.has_value());
    REQUIRE(detail->as_array().size() == 2);
    CHECK(detail->as_array()[0].find("Type")->as_string() == "repository");
    CHECK(detail->as_array()[0].find("Name")->as_string() == kGun);
    CHECK(detail->as_array()[0].find("Action")->as_string() == "push");
    CHECK(detail->as_array()[1].find("Action")->as_string() == "pull");
    // Deleting and rotating keys need "*" (notary-server's DeleteTUF and RotateKey).
    check_challenge(call("DELETE", tuf_path(kGun), std::nullopt), "repository:" + kGun + ":*");
    check_challenge(call("POST", tuf_path(kGun, "timestamp.key"), std::nullopt),
                    "repository:" + kGun + ":*");
    check_challenge(call("GET", tuf_path(kGun, "timestamp.key"), std::nullopt),
                    "repository:" + kGun + ":push,pull");
    check_challenge(call("GET", "/v2/_trust/changefeed", std::nullopt), "registry:catalog:*");
    // Health and metrics need no token.
    CHECK(call("GET", "/_notary_server/health", std::nullopt).status == 200);
    CHECK(call("GET", "/metrics", std::nullopt).status == 200);
  }
  {
    INFO("tokens that are not acceptable: 401 invalid_token");
    const std::string scope = "repository:" + kGun + ":pull";
    std::string bad_sig = token(kGun, {"pull"});
    bad_sig[bad_sig.size() - 5] = bad_sig[bad_sig.size() - 5] == 'A' ? 'B' : 'A';
    check_challenge(call("GET", tuf_path(kGun, "root.json"), bad_sig), scope, "invalid_token");
    check_challenge(call("GET", tuf_path(kGun, "root.json"), token(kGun, {"pull"}, true)), scope,
                    "invalid_token");
    check_challenge(call("GET", tuf_path(kGun, "root.json"), std::string("not.a.jwt")), scope,
                    "invalid_token");
    // Signed by a key whose certificate the bundle does not vouch for.
    signer_test::Pki rogue("vouch token test CA");
    const TokenMinter rogue_minter(rogue);
    check_challenge(call("GET", tuf_path(kGun, "root.json"),
                         rogue_minter.mint(TokenMinter::claims(issuer, service, kGun, {"pull"}))),
                    scope, "invalid_token");
    // For another service.
    check_challenge(call("GET", tuf_path(kGun, "root.json"),
                         minter.mint(TokenMinter::claims(issuer, "other.service", kGun, {"pull"}))),
                    scope, "invalid_token");
  }
  {
    INFO("valid tokens without the access: 401 insufficient_scope (as notary-server)");
    Multipart m;
    m.part("targets", "{}");
    check_challenge(call("POST", tuf_path(kGun), token(kGun, {"pull"}), m.finish(), {m.content_type()}),
                    "repository:" + kGun + ":push,pull", "insufficient_scope");
    check_challenge(call("GET", tuf_path(kGun, "root.json"), token("example.com/other", {"pull", "push"})),
                    "repository:" + kGun + ":pull", "insufficient_scope");
    check_challenge(call("DELETE", tuf_path(kGun), token(kGun, {"push", "pull"})),
                    "repository:" + kGun + ":*", "insufficient_scope");
    check_challenge(call("GET", "/v2/", token(kGun, {"pull"})), "registry:catalog:*",
                    "insufficient_scope");
  }
  {
    INFO("the right token publishes and reads");
    const std::string push = token(kGun, {"push", "pull"});
    const HttpResult key = call("GET", tuf_path(kGun, "timestamp.key"), push);
    REQUIRE_MESSAGE(key.status == 200, key.body);
    auto ts_key = key_from_json(key.body);
    REQUIRE(ts_key.has_value());
    RepoSimulator sim(kGun, SystemClock::instance().now());
    sim.use_timestamp_key(*ts_key);
    sim.publish();
    Multipart m;
    m.part("root", sim.files.at("root")).part("targets", sim.files.at("targets"));
    m.part("snapshot", sim.files.at("snapshot"));
    const HttpResult r = call("POST", tuf_path(kGun), push, m.finish(), {m.content_type()});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const HttpResult got = call("GET", tuf_path(kGun, "targets.json"), token(kGun, {"pull"}));
    CHECK(got.status == 200);
    CHECK(got.body == sim.files.at("targets"));
    CHECK(call("GET", tuf_path(kGun, "targets.json"), std::nullopt).status == 401);
    CHECK(call("DELETE", tuf_path(kGun), token(kGun, {"*"})).status == 200);
    CHECK(call("GET", tuf_path(kGun, "targets.json"), token(kGun, {"pull"})).status == 404);
  }

  {
    INFO("what an operator needs to see: refusals by reason, publishes by outcome, statuses");
    const std::string m = call("GET", "/metrics", std::nullopt).body;
    auto value = [&](const std::string& sample) { return metric_value(m, sample); };
    CHECK(value(R"(vouch_server_auth_failures_total{reason="no_credentials"})") == 8);
    CHECK(value(R"(vouch_server_auth_failures_total{reason="wrong_audience"})") == 1);
    CHECK(value(R"(vouch_server_auth_failures_total{reason="expired"})") == 1);
    CHECK(value(R"(vouch_server_auth_failures_total{reason="bad_signature"})") == 1);
    CHECK(value(R"(vouch_server_auth_failures_total{reason="insufficient_scope"})") == 4);
    CHECK(value(R"(vouch_server_auth_failures_total{reason="wrong_issuer"})") == -1);
    CHECK(value(R"(vouch_server_publishes_total{outcome="published"})") == 1);
    CHECK(value(R"(vouch_server_publishes_total{outcome="unauthorized"})") == 2);
    CHECK(value(R"(vouch_server_publishes_total{outcome="invalid"})") == 0);
    CHECK(value(R"(vouch_server_http_requests_total{code="401",operation="UpdateTUF"})") == 2);
    CHECK(value(R"(vouch_server_http_requests_total{code="200",operation="UpdateTUF"})") == 1);
    CHECK(value(R"(vouch_server_http_requests_total{code="404",operation="GetRole"})") == 1);
    CHECK(value(R"(vouch_server_http_request_duration_seconds_count{operation="UpdateTUF"})") == 3);
    CHECK(value(R"(vouch_server_cache_lookups_total{result="hit"})") >= 1);
    CHECK(value(R"(vouch_server_backend_errors_total{backend="storage"})") == 0);
    CHECK(value("vouch_server_http_bodies_in_flight") == 0);
    CHECK(value(R"(vouch_server_http_transport_rejections_total{reason="refused_before_body"})") == 2);
  }

  CHECK(call("GET", "/_notary_server/health", std::nullopt).status == 200);
  CHECK(server.running());
}

// Resident and peak resident memory of a process, from /proc/<pid>/status, in KiB.
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return 0;
}

// Resets the peak (VmHWM) to the current RSS (Linux proc(5): clear_refs "5").
void reset_peak_rss(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
}

TEST_CASE("vouch-server with token auth: anonymous uploads are refused from the header, "
          "bodies share one budget") {
  TempDir dir("vouch-server-budget-test");
  ServerTls tls(dir);
  constexpr long long kMiB = 1 << 20;
  constexpr long long kBudget = 256 * kMiB;  // the default, set explicitly
  constexpr long long kAnnounced = 100 * kMiB;  // Notary's largest publish (the default limit)
  constexpr int kFlood = 64;
  // Long timeouts: no client here is expected to be cut off by a timer.
  TokenServer ts(dir, tls, R"("max_body_bytes_in_flight": )" + std::to_string(kBudget) + R"(,
             "max_connections_per_client": 1024,
             "header_timeout_seconds": 60, "body_timeout_seconds": 60, "idle_timeout_seconds": 60)");
  const std::string ca = tls.pki.ca_pem();
  const int port = ts.server->port();
  const pid_t pid = ts.server->process().pid();
  const std::string push = ts.token(kGun, {"push", "pull"});

  // A repository to read, published with a token.
  const HttpResult key = ts.call("GET", tuf_path(kGun, "timestamp.key"), push);
  REQUIRE_MESSAGE(key.status == 200, key.body);
  RepoSimulator sim(kGun, SystemClock::instance().now());
  sim.use_timestamp_key(*key_from_json(key.body));
  sim.publish();
  auto publish_sim = [&] {
    Multipart m;
    m.part("root", sim.files.at("root")).part("targets", sim.files.at("targets"));
    m.part("snapshot", sim.files.at("snapshot"));
    return ts.call("POST", tuf_path(kGun), push, m.finish(), {m.content_type()});
  };
  REQUIRE(publish_sim().status == 200);
  // A next version of targets (and a snapshot over it), as a legitimate publisher sends.
  auto publish_next = [&](const std::string& target) {
    sim.add_target(target, target);
    sim.targets.version += 1;
    sim.snapshot.version += 1;
    resign_targets_and_snapshot(sim);
    Multipart m;
    m.part("targets", sim.files.at("targets")).part("snapshot", sim.files.at("snapshot"));
    return ts.call("POST", tuf_path(kGun), push, m.finish(), {m.content_type()});
  };
  auto post_head = [&](long long length, const std::string& auth) {
    return "POST " + tuf_path(kGun) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
           "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: " +
           std::to_string(length) + "\r\n" + auth + "\r\n";
  };

  // Bodies holding budget, from /metrics.
  auto in_flight = [&] {
    return metric_value(ts.call("GET", "/metrics", std::nullopt).body,
                        "vouch_server_http_bodies_in_flight");
  };

  const long rss_before = status_kib(pid, "VmRSS");
  reset_peak_rss(pid);
  {
    INFO("64 concurrent anonymous 100 MiB uploads: each 401 from its header, nothing buffered");
    std::vector<std::unique_ptr<TlsClient>> flood;
    for (int i = 0; i < kFlood; ++i) flood.push_back(std::make_unique<TlsClient>(port, ca));
    // All 64 announce 100 MiB and start sending before any answer is read.
    for (auto& c : flood) c->send(post_head(kAnnounced, "") + std::string(16 * 1024, 'x'));
    for (auto& c : flood) {
      auto r = c->read_response();
      REQUIRE(r.has_value());  // before the fix: the server waits for 100 MiB that never come
      CHECK(r->status == 401);
      CHECK(r->has_header("www-authenticate: bearer realm="));
      CHECK(notary_error(r->body)->code == "UNAUTHORIZED");
      CHECK(c->closed_by_peer());
    }
  }
  const long rss_flood_peak = status_kib(pid, "VmHWM");
  const long growth_kib = rss_flood_peak - rss_before;
  MESSAGE("vouch-server RSS before the anonymous flood: " << rss_before << " KiB; peak during "
          "64 x 100 MiB anonymous uploads: " << rss_flood_peak << " KiB (+" << growth_kib
          << " KiB)");
  // 64 connections' TLS state and read buffers: far from one announced body, let alone 64.
  // (Under ThreadSanitizer every allocation carries shadow memory, so RSS says nothing there.)
#if !defined(__SANITIZE_THREAD__)
  CHECK(growth_kib * 1024 < 32 * kMiB);
#endif

  {
    INFO("64 slow anonymous clients (half a header each) do not stop reads or a publish");
    std::vector<std::unique_ptr<TlsClient>> slow;
    for (int i = 0; i < kFlood; ++i) {
      slow.push_back(std::make_unique<TlsClient>(port, ca));
      REQUIRE(slow.back()->send("POST " + tuf_path(kGun) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    }
    const HttpResult got = ts.call("GET", tuf_path(kGun, "targets.json"), push);
    CHECK(got.status == 200);
    CHECK(got.body == sim.files.at("targets"));
    const HttpResult pub = publish_next("during-slow");
    CHECK_MESSAGE(pub.status == 200, pub.body);
  }
  {
    INFO("authorized bodies beyond the budget: 503 with Retry-After, before the body is read");
    // Two authorized 100 MiB uploads in progress hold 200 of the 256 MiB.
    std::vector<std::unique_ptr<TlsClient>> held;
    for (int i = 0; i < 2; ++i) {
      held.push_back(std::make_unique<TlsClient>(port, ca));
      REQUIRE(held.back()->send(post_head(kAnnounced, "Authorization: Bearer " + push + "\r\n") +
                                "--b\r\n"));
    }
    REQUIRE(signer_test::wait_until([&] { return in_flight() == 2; }));  // both heads read
    // The third does not fit; the server tells it when to come back.
    TlsClient third(port, ca);
    REQUIRE(third.send(post_head(kAnnounced, "Authorization: Bearer " + push + "\r\n")));
    const auto busy = third.read_response();
    REQUIRE(busy.has_value());
    CHECK(busy->status == 503);
    CHECK(busy->has_header("retry-after: 1"));
    CHECK(notary_error(busy->body)->code == "UNAVAILABLE");
    // Reads and a small publish still fit.
    CHECK(ts.call("GET", tuf_path(kGun, "root.json"), push).status == 200);
    const HttpResult pub = publish_next("during-budget");
    CHECK_MESSAGE(pub.status == 200, pub.body);
    // The held uploads end: their share comes back.
    held.clear();
    CHECK(signer_test::wait_until([&] { return in_flight() == 0; }));
  }
  const long rss_peak = status_kib(pid, "VmHWM");
  MESSAGE("vouch-server peak RSS over the whole test after the reset: " << rss_peak << " KiB");
  CHECK((rss_peak - rss_before) * 1024 < kBudget);
  CHECK(ts.server->running());
}

TEST_CASE("vouch-server refuses plain HTTP with token auth on a non-loopback address") {
  TempDir dir("vouch-server-plain-test");
  signer_test::Pki token_pki("vouch token test CA");
  signer_test::write_file(dir / "token-ca.pem", token_pki.ca_pem(), 0644);
  auto config = [](const std::string& addr) {
    return R"({
  "server": {"http_addr": ")" + addr + R"("},
  "trust_service": {"type": "local"},
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "auth": {"type": "token", "options": {"realm": "https://auth.test/token", "service": "s",
           "issuer": "i", "rootcertbundle": "../token-ca.pem"}}
})";
  };
  {
    INFO("all interfaces, no TLS: one clear line and a non-zero exit");
    ServerProcess s(kBinary, dir / "any", config("0.0.0.0:0"), {}, kEnv);
    CHECK(s.port() == 0);
    const auto status = s.process().wait(std::chrono::seconds(60));
    REQUIRE(status.has_value());
    CHECK(*status != 0);
    const std::string err = s.process().err();
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(err.find("clear text") != std::string::npos);
    CHECK(err.find("--insecure-plain-http") != std::string::npos);
  }
  {
    INFO("the flag allows it; loopback needs no flag");
    ServerProcess flagged(kBinary, dir / "flagged", config("0.0.0.0:0"),
                          {"--insecure-plain-http"}, kEnv);
    CHECK_MESSAGE(flagged.port() > 0, flagged.log());
    CHECK(flagged.stop() == 0);
    ServerProcess loopback(kBinary, dir / "loopback", config("127.0.0.1:0"), {}, kEnv);
    CHECK_MESSAGE(loopback.port() > 0, loopback.log());
    CHECK(loopback.stop() == 0);
  }
}

TEST_CASE("vouch-server HTTPS: the changefeed lists publishes and deletions") {
  Fixture f;
  const HttpResult first = f.get("/v2/" + kGun + "/_trust/changefeed?change_id=0&records=10");
  REQUIRE_MESSAGE(first.status == 200, first.body);
  CHECK(first.header("Content-Type").rfind("application/json", 0) == 0);
  auto doc = json::parse(first.body);
  REQUIRE(doc.ok());
  const json::Value* records = doc->find("records");
  REQUIRE(records != nullptr);
  REQUIRE(records->is_array());
  REQUIRE(doc->find("count") != nullptr);
  CHECK(doc->find("count")->as_int() == static_cast<std::int64_t>(records->as_array().size()));
  // The publish made one change: the timestamp the server signed for it (Notary records
  // timestamp updates), for our GUN.
  REQUIRE_FALSE(records->as_array().empty());
  const json::Value& change = records->as_array().back();
  CHECK(change.find("GUN")->as_string() == kGun);
  CHECK(change.find("Category")->as_string() == "update");
  CHECK(change.find("SHA256")->as_string().size() == 64);
  CHECK(change.find("Version")->as_int() >= 1);
  const std::string id = change.find("ID")->as_string();

  // Deleting the repository is a change too; paging on from the last ID shows only it.
  REQUIRE(f.request("DELETE", tuf_path(kGun)).status == 200);
  const HttpResult next = f.get("/v2/_trust/changefeed?change_id=" + id + "&records=10");
  REQUIRE_MESSAGE(next.status == 200, next.body);
  auto later = json::parse(next.body);
  REQUIRE(later.ok());
  const auto& list = later->find("records")->as_array();
  REQUIRE(list.size() == 1);
  CHECK(list.front().find("GUN")->as_string() == kGun);
  CHECK(list.front().find("Category")->as_string() == "deletion");
}

TEST_SUITE_END();
