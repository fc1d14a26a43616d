// The real vouch-verifier binary against the real vouch-server (TLS, RocksDB, the embedded key
// store, --insecure-no-auth), over HTTPS and gRPC with mutual TLS, as a cluster and a CI tool
// would use it:
//  - a repository with delegations is built and signed by RepoSimulator and published through
//    the server's Notary API (the server holds the timestamp key);
//  - the policy pins the repository's root key and trusts the server's CA;
//  - AdmissionReviews for a Deployment: a team member's signature admits, a non-member's
//    denies with the team named, a member's tag in an expired delegation, an unsigned tag and
//    a tampered digest deny, /mutate pins the
//    image to the signed digest; /v1/verify and gRPC Verify give the same decision;
//  - SIGHUP reloads a changed policy, and keeps the old one when the new file is bad;
//  - with the trust server down, the same image is denied (fail closed);
//  - metrics and probes on the admin port; SIGTERM exits 0; a bad policy at start exits 1.
// verify_image_with_policy_file() (what `vouch verify-image` calls) is checked against the same
// server. The verifier runs with trust max_age 0 so that every decision fetches from the server.
// Nothing here measures time: waits poll with a generous guard.

#include <doctest/doctest.h>

#include <grpcpp/grpcpp.h>

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/encoding.h"
#include "keys/crypto.h"
#include "proto/verifier.grpc.pb.h"
#include "tests/integration/server_test_util.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/verifier/verifier_test_util.h"
#include "tuf/metadata.h"
#include "verifier/policy.h"
#include "verifier/verify_image.h"

using namespace vouch;
using namespace vouch::server_test;
using testing::RepoSimulator;
using verifier::testing::json_str;
using verifier::testing::public_pem;

namespace {

namespace bj = boost::json;

constexpr const char* kServerBinary = VOUCH_SERVER_BIN;
constexpr const char* kVerifierBinary = VOUCH_VERIFIER_BIN;
const std::string kGun = "registry.example.com/prod/app";

const std::map<std::string, std::string> kServerEnv = {
    {"VOUCH_SERVER_KEY_PASSPHRASE", "server key store passphrase"}};

std::string server_config(const ServerTls& tls) {
  return R"({
  "server": {"http_addr": "127.0.0.1:0", "tls_cert_file": ")" + tls.cert_file +
         R"(", "tls_key_file": ")" + tls.key_file + R"("},
  "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
  "storage": {"backend": "rocksdb", "db_url": "db"},
  "logging": {"level": "info"}
})";
}

std::string sha256_of(std::string_view s) { return keys::sha256_hex(as_bytes(s)); }

// The repository: targets/releases signed by alice (a member of team qa), targets/mallory by
// mallory (nobody's member).
struct Repository {
  RepoSimulator sim{kGun, SystemClock::instance().now()};
  keys::PublicKey alice = sim.add_delegation("targets/releases", {""});
  keys::PublicKey mallory = sim.add_delegation("targets/mallory", {""});
  // carol is in team qa, but her delegation's metadata expires 3 s after the publish (the
  // server refuses metadata that has expired already).
  keys::PublicKey carol = sim.add_delegation("targets/stale", {""});
  TimePoint stale_expires;

  void publish_to(ServerProcess& server, const ServerTls& tls) {
    const std::string base = server.url("/v2/" + kGun + "/_trust/tuf/");
    const HttpResult key = https("GET", base + "timestamp.key", tls.ca_file);
    REQUIRE_MESSAGE(key.status == 200, key.body);
    auto ts_key = key_from_json(key.body);
    REQUIRE(ts_key.has_value());
    sim.use_timestamp_key(*ts_key);
    sim.role_of("targets/releases").targets["1.0"] = tuf::FileMeta::of(as_bytes("manifest 1.0"));
    sim.role_of("targets/mallory").targets["evil"] = tuf::FileMeta::of(as_bytes("evil manifest"));
    sim.role_of("targets/stale").targets["old-1"] = tuf::FileMeta::of(as_bytes("old manifest"));
    stale_expires = SystemClock::instance().now() + std::chrono::seconds(3);
    sim.role_of("targets/stale").expires = tuf::Expiry::at(stale_expires);
    sim.publish();
    Multipart m;
    for (const char* role :
         {"root", "targets", "targets/releases", "targets/mallory", "targets/stale", "snapshot"}) {
      m.part(role, sim.files.at(role));
    }
    const HttpResult r = https("POST", base, tls.ca_file, m.finish(), {m.content_type()});
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
};

// The policy file's text: team qa, the trust section for registry.example.com on `server`
// (its CA, the repository's root key pinned), one rule for registry.example.com/prod/*.
std::string policy_text(const std::string& server_url, const std::string& ca_pem,
                        const std::string& root_key_id,
                        const std::vector<std::pair<std::string, keys::PublicKey>>& qa) {
  std::string members;
  for (const auto& [name, key] : qa) {
    if (!members.empty()) members += ", ";
    members += R"({"name": )" + json_str(name) + R"(, "keys": [)" + json_str(public_pem(key)) + "]}";
  }
  return R"({"teams": {"qa": {"members": [)" + members + R"(]}},
  "trust": [{"prefix": "registry.example.com", "server": )" + json_str(server_url) +
         R"(, "tls_ca": )" + json_str(ca_pem) + R"(, "root_keys": [")" + root_key_id + R"("]}],
  "rules": [{"name": "production", "pattern": "registry.example.com/prod/*",
             "require": {"all-of": ["qa"]}}]})";
}

std::string policy_version(const std::string& text) {
  auto p = verifier::Policy::parse(text, verifier::PolicyFormat::kJson);
  REQUIRE_MESSAGE(p.ok(), p.error().message);
  return p->version();
}

// A running vouch-verifier; ports read from its stdout.
class VerifierProcess {
 public:
  VerifierProcess(const std::string& dir, const std::string& config) : dir_(dir) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    const std::string config_file = dir_ + "/verifier.json";
    signer_test::write_file(config_file, config, 0600);
    process_ = std::make_unique<Process>(kVerifierBinary, std::vector<std::string>{"--config", config_file},
                                         std::map<std::string, std::string>{}, dir_ + "/verifier.out",
                                         dir_ + "/verifier.err");
    signer_test::wait_until(
        [&] { return number_after("listening on 127.0.0.1:") > 0 || !process_->running(); },
        std::chrono::seconds(90));
    port_ = number_after("listening on 127.0.0.1:");
    metrics_port_ = number_after("metrics on port ");
    grpc_port_ = number_after("grpc on port ");
  }

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  int grpc_port() const { return grpc_port_; }
  Process& process() { return *process_; }
  std::string log() const { return process_->out() + process_->err(); }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  int number_after(const std::string& prefix) const {
    const std::string out = process_->out();
    const auto at = out.find(prefix);
    if (at == std::string::npos || out.find('\n', at) == std::string::npos) return 0;
    return std::atoi(out.c_str() + at + prefix.size());
  }

  std::string dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0, metrics_port_ = 0, grpc_port_ = 0;
};

std::string deployment_review(const std::string& uid, const std::string& image,
                              const std::string& init_image) {
  return R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
    "uid": ")" + uid + R"(", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
    "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
    "namespace": "prod", "operation": "CREATE", "userInfo": {"username": "ci"},
    "object": {"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": "web", "namespace": "prod"},
      "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": ")" + image + R"("}],
                 "initContainers": [{"name": "init", "image": ")" + init_image + R"("}]}}}},
    "dryRun": false}})";
}

struct Answer {
  bool allowed = false;
  std::string uid;
  std::string message;
  std::string patch;  // decoded
};

Answer review(const VerifierProcess& v, const ServerTls& tls, const std::string& endpoint,
              const std::string& body) {
  const HttpResult r = https("POST", v.url(endpoint), tls.ca_file, body,
                             {"Content-Type: application/json"});
  INFO("curl: " << r.error << " body: " << r.body);
  REQUIRE(r.code == CURLE_OK);
  REQUIRE(r.status == 200);
  const bj::value doc = bj::parse(r.body);
  const bj::object& resp = doc.at("response").as_object();
  Answer a;
  a.allowed = resp.at("allowed").as_bool();
  a.uid = std::string(resp.at("uid").as_string());
  if (const auto* status = resp.if_contains("status")) {
    a.message = std::string(status->at("message").as_string());
  }
  if (const auto* patch = resp.if_contains("patch")) {
    auto raw = base64_decode(std::string(patch->as_string()));
    REQUIRE(raw.ok());
    a.patch = std::string(as_string_view(*raw));
  }
  return a;
}

bj::value verify(const VerifierProcess& v, const ServerTls& tls, const std::string& image) {
  const HttpResult r = https("POST", v.url("/v1/verify"), tls.ca_file,
                             R"({"image": ")" + image + R"(", "namespace": "prod"})",
                             {"Content-Type: application/json"});
  INFO("curl: " << r.error << " body: " << r.body);
  REQUIRE(r.code == CURLE_OK);
  REQUIRE(r.status == 200);
  return bj::parse(r.body);
}

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

std::string verifier_config(const ServerTls& tls, const signer_test::Issued& verifier_cert,
                            const std::string& dir) {
  const std::string cert = dir + "/verifier.pem";
  const std::string key = dir + "/verifier.key";
  signer_test::write_file(cert, verifier_cert.cert_pem, 0644);
  signer_test::write_file(key, verifier_cert.key_pem, 0600);
  return R"({
  "server": {"listen": "127.0.0.1:0", "tls_cert_file": ")" + cert + R"(", "tls_key_file": ")" + key + R"("},
  "grpc": {"listen": "127.0.0.1:0", "tls_cert_file": ")" + cert + R"(", "tls_key_file": ")" + key +
         R"(", "client_ca_file": ")" + tls.ca_file + R"("},
  "metrics": {"listen": "127.0.0.1:0"},
  "policy": {"file": "policy.json", "poll_ms": 0},
  "trust": {"max_age_ms": 0, "refresh_after_ms": 0, "error_ttl_ms": 0,
            "connect_timeout_ms": 5000, "request_timeout_ms": 20000},
  "admission": {"deadline_ms": 60000},
  "logging": {"level": "info"}
})";
}

}  // namespace

TEST_CASE("vouch-verifier with vouch-server: admission, APIs, reload, fail closed, shutdown") {
  TempDir dir{"vouch-verifier-process-test"};
  ServerTls tls{dir};
  auto server = std::make_unique<ServerProcess>(kServerBinary, dir / "server", server_config(tls),
                                                std::vector<std::string>{"--insecure-no-auth"},
                                                kServerEnv);
  REQUIRE_MESSAGE(server->port() > 0, server->log());
  Repository repo;
  repo.publish_to(*server, tls);

  const std::string server_url = "https://127.0.0.1:" + std::to_string(server->port());
  const std::string vdir = dir / "verifier";
  fs::create_directories(vdir);
  const std::string policy_file = vdir + "/policy.json";
  const std::string policy_v1 =
      policy_text(server_url, tls.pki.ca_pem(), repo.sim.root_key.id(),
                  {{"alice", repo.alice}, {"carol", repo.carol}});
  signer_test::write_file(policy_file, policy_v1, 0644);
  const signer_test::Issued verifier_cert = tls.pki.issue("vouch-verifier", true);
  VerifierProcess v(vdir, verifier_config(tls, verifier_cert, vdir));
  REQUIRE_MESSAGE(v.port() > 0, v.log());
  REQUIRE_MESSAGE(v.metrics_port() > 0, v.log());
  REQUIRE_MESSAGE(v.grpc_port() > 0, v.log());

  const std::string good = kGun + ":1.0";
  const std::string digest = "sha256:" + sha256_of("manifest 1.0");

  SUBCASE("admission over HTTPS") {
    const Answer allowed = review(v, tls, "/validate", deployment_review("uid-1", good, good));
    CHECK_MESSAGE(allowed.allowed, allowed.message);
    CHECK(allowed.uid == "uid-1");
    CHECK(allowed.patch.empty());

    const Answer evil = review(v, tls, "/validate", deployment_review("uid-2", kGun + ":evil", good));
    CHECK_FALSE(evil.allowed);
    CHECK(evil.uid == "uid-2");
    CHECK(has(evil.message, "image " + kGun + ":evil (container web)"));
    CHECK(has(evil.message, "qa"));
    CHECK_FALSE(has(evil.message, kGun + ":1.0"));

    const Answer unknown = review(v, tls, "/validate", deployment_review("uid-3", good, kGun + ":9.9"));
    CHECK_FALSE(unknown.allowed);
    CHECK(has(unknown.message, kGun + ":9.9 (container init)"));

    const std::string tampered = kGun + ":1.0@sha256:" + sha256_of("tampered manifest");
    const Answer bad_digest = review(v, tls, "/validate", deployment_review("uid-4", tampered, good));
    CHECK_FALSE(bad_digest.allowed);
    CHECK(has(bad_digest.message, tampered));

    const Answer mutated = review(v, tls, "/mutate", deployment_review("uid-5", good, good));
    CHECK_MESSAGE(mutated.allowed, mutated.message);
    const bj::value ops = bj::parse(mutated.patch);
    REQUIRE(ops.as_array().size() == 4);
    CHECK(ops.at(1).at("op").as_string() == "replace");
    CHECK(ops.at(1).at("path").as_string() == "/spec/template/spec/containers/0/image");
    // The tag stays (admission.mutate_keep_tag defaults to true): the validating webhook,
    // which sees this reference, judges it under the tag's rule.
    CHECK(ops.at(1).at("value").as_string() == good + "@" + digest);
    CHECK(ops.at(3).at("path").as_string() == "/spec/template/spec/initContainers/0/image");

    // A team member's tag in a delegation whose metadata has expired since: not signed, and
    // the deny says why. (Waits for the expiry; nothing depends on how long anything took.)
    while (SystemClock::instance().now() <= repo.stale_expires) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const Answer expired = review(v, tls, "/validate", deployment_review("uid-6", good, kGun + ":old-1"));
    CHECK_FALSE(expired.allowed);
    CHECK(has(expired.message, kGun + ":old-1 (container init)"));
    CHECK(has(expired.message, "targets/stale"));
    CHECK(has(expired.message, "expired"));

    // A malformed review is a 400, and the verifier keeps serving.
    const HttpResult bad = https("POST", v.url("/validate"), tls.ca_file, "{\"request\": 1}",
                                 {"Content-Type: application/json"});
    CHECK(bad.status == 400);
    CHECK(v.process().running());
  }

  SUBCASE("/v1/verify and gRPC Verify give the webhook's decision") {
    const bj::value d = verify(v, tls, good);
    CHECK(d.at("allowed").as_bool());
    CHECK(d.at("code").as_string() == "signed");
    CHECK(d.at("digest").as_string() == digest);
    CHECK(d.at("rule").as_string() == "production");
    CHECK(d.at("policy_version").as_string() == policy_version(policy_v1));
    const bj::value e = verify(v, tls, kGun + ":evil");
    CHECK_FALSE(e.at("allowed").as_bool());
    CHECK(e.at("code").as_string() == "requirements_not_met");

    // What `vouch verify-image <ref> --policy <file>` runs: the same decision, in process.
    auto one_shot = verifier::verify_image_with_policy_file(good, policy_file);
    REQUIRE_MESSAGE(one_shot.ok(), one_shot.error().message);
    CHECK_MESSAGE(one_shot->admitted(), one_shot->message);
    CHECK(one_shot->digest == digest);
    auto one_shot_evil = verifier::verify_image_with_policy_file(kGun + ":evil", policy_file);
    REQUIRE(one_shot_evil.ok());
    CHECK(one_shot_evil->code == verifier::DecisionCode::kRequirementsNotMet);

    const signer_test::Issued client = tls.pki.issue("ci", false);
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.pki.ca_pem();
    ssl.pem_cert_chain = client.cert_pem;
    ssl.pem_private_key = client.key_pem;
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(v.grpc_port()),
                                       grpc::SslCredentials(ssl));
    auto stub = vouch::verifier::v1::Verifier::NewStub(channel);
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      vouch::verifier::v1::VerifyRequest req;
      req.set_image(good);
      vouch::verifier::v1::VerifyResponse resp;
      const grpc::Status s = stub->Verify(&ctx, req, &resp);
      REQUIRE_MESSAGE(s.ok(), s.error_message());
      CHECK(resp.allowed());
      CHECK(resp.digest() == digest);
      CHECK(resp.code() == "signed");
      REQUIRE(resp.signers_size() == 1);
      CHECK(resp.signers(0).member() == "alice");
    }
    {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      vouch::verifier::v1::VerifyRequest req;
      req.set_image("registry.example.com/NOT/valid");
      vouch::verifier::v1::VerifyResponse resp;
      CHECK(stub->Verify(&ctx, req, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    }
    {
      // Mutual TLS: a client without a certificate is refused.
      grpc::SslCredentialsOptions anonymous;
      anonymous.pem_root_certs = tls.pki.ca_pem();
      auto stranger = vouch::verifier::v1::Verifier::NewStub(grpc::CreateChannel(
          "127.0.0.1:" + std::to_string(v.grpc_port()), grpc::SslCredentials(anonymous)));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      vouch::verifier::v1::VerifyRequest req;
      req.set_image(good);
      vouch::verifier::v1::VerifyResponse resp;
      CHECK_FALSE(stranger->Verify(&ctx, req, &resp).ok());
    }
  }

  SUBCASE("SIGHUP reloads a changed policy and keeps the old one when the new file is bad") {
    CHECK_FALSE(verify(v, tls, kGun + ":evil").at("allowed").as_bool());

    // A broken file: refused, the policy in force stays.
    signer_test::write_file(policy_file, "{\"teams\": ", 0644);
    v.process().signal(SIGHUP);
    REQUIRE(signer_test::wait_until([&] { return has(v.log(), "policy not loaded (SIGHUP)"); }));
    const bj::value still = verify(v, tls, good);
    CHECK(still.at("allowed").as_bool());
    CHECK(still.at("policy_version").as_string() == policy_version(policy_v1));

    // mallory joins qa.
    const std::string policy_v2 = policy_text(server_url, tls.pki.ca_pem(), repo.sim.root_key.id(),
                                              {{"alice", repo.alice}, {"mallory", repo.mallory}});
    signer_test::write_file(policy_file, policy_v2, 0644);
    v.process().signal(SIGHUP);
    const std::string v2 = policy_version(policy_v2);
    REQUIRE(signer_test::wait_until([&] {
      return verify(v, tls, good).at("policy_version").as_string() == v2;
    }));
    const bj::value now = verify(v, tls, kGun + ":evil");
    CHECK(now.at("allowed").as_bool());
    CHECK(now.at("signers").at(0).at("member").as_string() == "mallory");
  }

  SUBCASE("the trust server down: denied (fail closed); metrics and probes") {
    REQUIRE(review(v, tls, "/validate", deployment_review("uid-a", good, good)).allowed);
    REQUIRE(server->stop() == std::optional<int>(0));
    const Answer down = review(v, tls, "/validate", deployment_review("uid-b", good, good));
    CHECK_FALSE(down.allowed);
    CHECK(has(down.message, "could not be verified"));
    const bj::value d = verify(v, tls, good);
    CHECK_FALSE(d.at("allowed").as_bool());
    CHECK(d.at("code").as_string() == "trust_unavailable");
    CHECK(d.at("trust_error").at("reason").as_string() == "unavailable");

    const std::string metrics = signer_test::http_get(v.metrics_port(), "/metrics");
    CHECK(has(metrics, "200 OK"));
    CHECK(has(metrics, "vouch_verifier_decisions_total{"));
    CHECK(has(metrics, "code=\"trust_unavailable\""));
    CHECK(has(metrics, "vouch_verifier_trust_fetch_errors_total"));
    CHECK(has(metrics, "vouch_verifier_decision_duration_seconds_bucket"));
    CHECK(has(metrics, "vouch_verifier_trust_cache_total{result=\"miss\"}"));
    CHECK(has(metrics, "vouch_verifier_policy_loaded 1"));
    CHECK(has(signer_test::http_get(v.metrics_port(), "/readyz"), "200 OK"));
    CHECK(has(signer_test::http_get(v.metrics_port(), "/healthz"), "200 OK"));
    // One structured line per decision.
    CHECK(has(v.log(), "decision source=admission namespace=prod object=Deployment/web"));
  }

  // SIGTERM: a clean exit.
  v.process().signal(SIGTERM);
  const auto status = v.process().wait(std::chrono::seconds(60));
  CHECK_MESSAGE(status == std::optional<int>(0), v.log());
  CHECK(has(v.log(), "stopped"));
}

TEST_CASE("vouch-verifier refuses to start without a valid policy") {
  TempDir dir{"vouch-verifier-process-test"};
  ServerTls tls{dir};
  const std::string vdir = dir / "verifier";
  fs::create_directories(vdir);
  signer_test::write_file(vdir + "/policy.json", R"({"rules": [{"pattern": "x", "allow": true}]})", 0644);
  VerifierProcess v(vdir, verifier_config(tls, tls.pki.issue("vouch-verifier", true), vdir));
  const auto status = v.process().wait(std::chrono::seconds(60));
  CHECK(status == std::optional<int>(1));
  CHECK(has(v.log(), "policy file"));
  CHECK(v.port() == 0);
}

// A verifier directory with an allow-all policy and a config, for the tests of what stops the
// start.
struct StartupFixture {
  TempDir dir{"vouch-verifier-process-test"};
  ServerTls tls{dir};
  std::string vdir = dir / "verifier";
  std::string config;

  StartupFixture() {
    fs::create_directories(vdir);
    signer_test::write_file(vdir + "/policy.json",
                            R"({"rules": [{"pattern": "registry.example.com/**", "allow": true}]})",
                            0644);
    config = verifier_config(tls, tls.pki.issue("vouch-verifier", true), vdir);
  }

  // The config with `members` put first into `section`.
  std::string config_with(const std::string& section, const std::string& members) const {
    std::string out = config;
    const std::string opening = "\"" + section + "\": {";
    out.replace(out.find(opening), opening.size(), opening + members);
    return out;
  }

  // Starts the verifier with `with_config`, checks that it stops with exit code 1 without
  // listening, and returns its log.
  std::string refused_start(const std::string& with_config) const {
    VerifierProcess v(vdir, with_config);
    const auto status = v.process().wait(std::chrono::seconds(60));
    CHECK(status == std::optional<int>(1));
    CHECK(v.port() == 0);
    return v.log();
  }
};

TEST_CASE("vouch-verifier refuses to start when trust.state_dir cannot keep anchors") {
  // A restart that could not read back the anchors would trust new roots silently: the
  // daemon stops at startup instead of on the first fetch.
  StartupFixture f;
  signer_test::write_file(f.vdir + "/not-a-directory", "x", 0644);
  const std::string log =
      f.refused_start(f.config_with("trust", R"("state_dir": "not-a-directory", )"));
  CHECK_MESSAGE(
      has(log, "trust.state_dir " + f.vdir + "/not-a-directory is not a writable directory"), log);
}

TEST_CASE("vouch-verifier refuses a config with an unknown key or a value out of range") {
  // Each section's keys are one table (common/config_file.h ConfigKey): a misspelt key and a
  // value below its minimum stop the start with the dotted key named.
  StartupFixture f;
  const std::string unknown = f.refused_start(f.config_with("admission", R"("deadline": 5, )"));
  CHECK_MESSAGE(has(unknown, "unknown key \"admission.deadline\""), unknown);
  const std::string small =
      f.refused_start(f.config_with("admission", R"("max_body_bytes": 1000, )"));
  CHECK_MESSAGE(has(small, "admission.max_body_bytes"), small);
}
