// The Verifier service (verifier/service.h) over a real signed repository served by a fake
// trust server: admission reviews (allow, deny with the one sentence per image, warn and audit
// modes, UPDATE of unchanged images, kinds not inspected, no policy, deadlines), the digest
// patch of /mutate, the decision cache; the HTTP API's routes and errors
// (verifier/http_api.h); and policy reloading that keeps the old policy on a bad file
// (verifier/policy_reloader.h).

#include "verifier/service.h"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "keys/private_key.h"
#include "keys/x509.h"
#include "tests/unit/verifier/daemon_test_util.h"
#include "verifier/http_api.h"
#include "verifier/policy_reloader.h"
#include "verifier/verify_image.h"

namespace vouch::verifier {
namespace {

namespace bj = boost::json;
using testing::far_deadline;
using testing::FakeServer;
using testing::PolicyText;
using testing::Repo;
using testing::sha256_of;

const std::string kGun = "registry.example.com/prod/app";

std::string require_rule(const std::string& name, const std::string& pattern,
                         const std::string& mode = "enforce") {
  return R"({"name": ")" + name + R"(", "pattern": ")" + pattern +
         R"(", "require": {"all-of": ["qa"]}, "mode": ")" + mode + R"("})";
}

struct Fixture {
  FakeServer server;
  Repo& repo = server.add(kGun);
  keys::PublicKey alice = repo.new_key();
  keys::PublicKey mallory = repo.new_key();
  FixedClock clock{repo.sim.now()};
  TrustCache cache{server.factory(), clock, [] {
                     TrustCacheOptions o;
                     o.fetch_threads = 2;
                     return o;
                   }()};
  PolicyText policy_text = PolicyText()
                               .member("qa", "alice", alice)
                               .rule(require_rule("prod", "registry.example.com/prod/*"))
                               .rule(require_rule("warned", "registry.example.com/prod/app:warn-*",
                                                  "warn"))
                               .rule(require_rule("audited",
                                                  "registry.example.com/prod/app:audit-*", "audit"))
                               .rule(R"({"name": "library", "pattern": "docker.io/library/*",
                                         "allow": true})");

  explicit Fixture(VerifierOptions options = {}) : verifier(cache, options) {
    repo.delegate("targets/releases", {alice});
    repo.delegate("targets/mallory", {mallory});
    repo.sign("targets/releases", "1.0", "manifest 1.0");
    repo.sign("targets/mallory", "evil", "evil manifest");
    repo.publish();
    verifier.set_policy(policy_text.build());
  }

  Verifier verifier;

  std::string digest_of_1() const { return "sha256:" + sha256_of("manifest 1.0"); }
};

struct Container {
  std::string list;  // containers | initContainers | ephemeralContainers
  std::string name;
  std::string image;
};

std::string pod_review(const std::vector<Container>& containers, const std::string& op = "CREATE",
                       const std::vector<Container>& old = {}) {
  auto spec = [](const std::vector<Container>& cs) {
    std::map<std::string, std::string> lists;
    for (const auto& c : cs) {
      std::string& l = lists[c.list];
      if (!l.empty()) l += ", ";
      l += R"({"name": ")" + c.name + R"(", "image": ")" + c.image + R"("})";
    }
    std::string out = "{";
    for (const auto& [name, items] : lists) {
      if (out.size() > 1) out += ", ";
      out += "\"" + name + "\": [" + items + "]";
    }
    return out + "}";
  };
  std::string body = R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "uid-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
      "namespace": "prod", "operation": ")" + op + R"(",
      "object": {"metadata": {"name": "web"}, "spec": )" + spec(containers) + "}";
  if (!old.empty()) body += R"(, "oldObject": {"metadata": {"name": "web"}, "spec": )" + spec(old) + "}";
  return body + "}}";
}

AdmissionRequest parse(const std::string& body) {
  auto r = parse_admission_review(body);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  return *r;
}

// The decoded JSON Patch operations of a response.
bj::array patch_ops(const AdmissionResponse& r) {
  REQUIRE(r.patch.has_value());
  return bj::parse(*r.patch).as_array();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

TEST_CASE("a tag signed by a team member is admitted; /mutate pins it to the signed digest") {
  Fixture f;
  const auto request = parse(pod_review({{"containers", "app", kGun + ":1.0"}}));

  const AdmissionResponse validated = f.verifier.review(request, false, far_deadline());
  CHECK_MESSAGE(validated.allowed, validated.message);
  CHECK(validated.uid == "uid-1");
  CHECK_FALSE(validated.patch.has_value());
  CHECK(validated.warnings.empty());

  const AdmissionResponse mutated = f.verifier.review(request, true, far_deadline());
  CHECK(mutated.allowed);
  const bj::array ops = patch_ops(mutated);
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].at("op").as_string() == "test");
  CHECK(ops[0].at("value").as_string() == kGun + ":1.0");
  CHECK(ops[1].at("op").as_string() == "replace");
  CHECK(ops[1].at("path").as_string() == "/spec/containers/0/image");
  // The tag stays (mutate_keep_tag, default): /validate judges it under the tag's rule.
  CHECK(ops[1].at("value").as_string() == kGun + ":1.0@" + f.digest_of_1());
}

TEST_CASE("mutate_keep_tag false drops the tag; a pinned image is not patched") {
  VerifierOptions options;
  options.mutate_keep_tag = false;
  Fixture f(options);
  const AdmissionResponse dropped =
      f.verifier.review(parse(pod_review({{"containers", "app", kGun + ":1.0"}})), true,
                        far_deadline());
  REQUIRE(dropped.allowed);
  CHECK(patch_ops(dropped)[1].at("value").as_string() == kGun + "@" + f.digest_of_1());

  const AdmissionResponse already = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + "@" + f.digest_of_1()}})), true,
      far_deadline());
  CHECK_MESSAGE(already.allowed, already.message);
  CHECK_FALSE(already.patch.has_value());
}

TEST_CASE("an image already pinned as name:tag@digest is not patched") {
  Fixture f;
  const AdmissionResponse already = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + ":1.0@" + f.digest_of_1()}})), true,
      far_deadline());
  CHECK_MESSAGE(already.allowed, already.message);
  CHECK_FALSE(already.patch.has_value());
}

// The README's example policy, rule form by rule form: what /mutate writes, /validate (which
// runs after it) judges under the same rule, with the same answer. Both mutation forms:
// name:tag@digest (the default) and name@digest (judged as the tags carrying the digest).
TEST_CASE("mutate then validate: every rule form of the README's policy keeps its rule") {
  const std::string prod = "registry.example.com/prod/api";
  const std::string staging = "registry.example.com/staging/app";
  for (const bool keep_tag : {true, false}) {
    CAPTURE(keep_tag);
    FakeServer server;
    Repo& prod_repo = server.add(prod);
    Repo& staging_repo = server.add(staging);
    const auto alice = prod_repo.new_key();
    const auto bob = prod_repo.new_key();
    prod_repo.delegate("targets/releases", {alice, bob});
    prod_repo.sign("targets/releases", "2.1", "api 2.1");
    prod_repo.publish();
    const auto carol = staging_repo.new_key();  // (each simulator signs with its own keys)
    staging_repo.delegate("targets/releases", {carol});
    staging_repo.sign("targets/releases", "release-1", "app release-1");
    staging_repo.sign("targets/releases", "nightly-7", "app nightly-7");
    staging_repo.publish();
    FixedClock clock{prod_repo.sim.now()};
    TrustCache cache{server.factory(), clock, {}};
    VerifierOptions options;
    options.mutate_keep_tag = keep_tag;
    Verifier verifier(cache, options);
    verifier.set_policy(
        PolicyText()
            .member("qa", "alice", alice)
            .member("qa", "carol", carol)
            .member("security", "bob", bob)
            .rule(R"({"name": "production", "pattern": "registry.example.com/prod/**",
                      "require": {"all-of": ["qa", "security"], "min-signers": 2,
                                  "roles": ["targets/releases"]}})")
            .rule(R"({"name": "staging", "pattern": "registry.example.com/staging/*:release-*",
                      "require": {"any-of": ["qa"]}, "mode": "warn"})")
            .rule(R"({"name": "nightly", "pattern": "registry.example.com/staging/**",
                      "deny": true})")
            .rule(R"({"name": "addons", "pattern": "registry.k8s.io/**", "allow": true})")
            .build());

    struct Case {
      std::string image;
      std::string rule;
      bool admitted;
      bool pinned;
    };
    const std::vector<Case> cases = {
        {prod + ":2.1", "production", true, true},
        {staging + ":release-1", "staging", true, true},
        {staging + ":release-2", "staging", true, false},  // unsigned: warned, not pinned
        {staging + ":nightly-7", "nightly", false, false},
        {"registry.k8s.io/pause:3.9", "addons", true, false},
        {"ghcr.io/someone/tool:1", "", false, false},  // no rule: unmatched (deny)
    };
    for (const Case& c : cases) {
      CAPTURE(c.image);
      const AdmissionResponse mutated =
          verifier.review(parse(pod_review({{"containers", "c", c.image}})), true, far_deadline());
      CHECK_MESSAGE(mutated.allowed == c.admitted, mutated.message);
      CHECK(mutated.patch.has_value() == c.pinned);
      std::string written = c.image;
      if (mutated.patch) written = std::string(patch_ops(mutated)[1].at("value").as_string());
      CAPTURE(written);
      if (c.pinned) {
        const std::string digest_part = written.substr(written.find('@'));
        CHECK(written == (keep_tag ? c.image : c.image.substr(0, c.image.rfind(':'))) +
                             digest_part);
      }
      const AdmissionResponse validated =
          verifier.review(parse(pod_review({{"containers", "c", written}})), false,
                          far_deadline());
      CHECK_MESSAGE(validated.allowed == c.admitted, validated.message);
      auto decision = verifier.verify(written, {}, far_deadline());
      REQUIRE(decision.ok());
      CHECK_MESSAGE(decision->rule == c.rule, decision->message);
      if (c.pinned && !keep_tag) {
        // The digest alone was judged as the tag that carries it, and the decision says which.
        CHECK(decision->tag == c.image.substr(c.image.rfind(':') + 1));
      }
    }
  }
}

TEST_CASE("a digest reference cannot evade a stricter tag rule, nor lose a looser one") {
  FakeServer server;
  Repo& repo = server.add(kGun);
  const auto alice = repo.new_key();
  const auto bob = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "release-1", "release one");
  repo.sign("targets/releases", "dev-1", "dev one");
  repo.publish();
  FixedClock clock{repo.sim.now()};
  TrustCache cache{server.factory(), clock, {}};
  Verifier verifier(cache);
  verifier.set_policy(PolicyText()
                          .member("qa", "alice", alice)
                          .member("security", "bob", bob)
                          .rule(R"({"name": "releases", "pattern": "registry.example.com/prod/*:release-*",
                                    "require": {"all-of": ["qa", "security"]}})")
                          .rule(R"({"name": "others", "pattern": "registry.example.com/prod/*",
                                    "require": {"any-of": ["qa"]}})")
                          .build());
  // release-1 is signed by qa only: its tag rule wants security too, and so does its digest.
  auto by_tag = verifier.verify(kGun + ":release-1", {}, far_deadline());
  REQUIRE(by_tag.ok());
  CHECK(by_tag->verdict == Verdict::kDeny);
  auto by_digest =
      verifier.verify(kGun + "@sha256:" + sha256_of("release one"), {}, far_deadline());
  REQUIRE(by_digest.ok());
  CHECK_MESSAGE(by_digest->verdict == Verdict::kDeny, by_digest->message);
  CHECK(by_digest->rule == "releases");
  CHECK(by_digest->tag == "release-1");
  CHECK(contains(by_digest->message, "release-1"));

  // dev-1's digest is judged as dev-1, under the looser rule.
  auto dev = verifier.verify(kGun + "@sha256:" + sha256_of("dev one"), {}, far_deadline());
  REQUIRE(dev.ok());
  CHECK_MESSAGE(dev->verdict == Verdict::kAllow, dev->message);
  CHECK(dev->rule == "others");
  CHECK(dev->tag == "dev-1");
}

TEST_CASE("member certificates are judged at the decision's time, not the fetch's") {
  FakeServer server;
  Repo& repo = server.add(kGun);
  auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  const auto cert = keys::make_root_certificate(priv, "carol", repo.sim.now() - std::chrono::hours(1),
                                                repo.sim.now() + std::chrono::hours(1))
                        .value();
  const keys::PublicKey carol = repo.sim.signer.add_key(std::move(priv));
  repo.delegate("targets/releases", {carol});
  repo.sign("targets/releases", "1.0", "manifest 1.0");
  repo.publish();
  FixedClock clock{repo.sim.now()};
  TrustCacheOptions cache_options;
  // Trust data fetched now stays in use for hours, without background refreshes.
  cache_options.max_age = std::chrono::hours(10);
  cache_options.refresh_after = std::chrono::hours(10);
  TrustCache cache{server.factory(), clock, cache_options};
  Verifier verifier(cache);
  PolicyText text;
  text.teams["qa"].emplace_back("carol", cert.pem());
  text.rule(require_rule("prod", "registry.example.com/prod/*"));
  verifier.set_policy(text.build());

  auto before = verifier.verify(kGun + ":1.0", {}, far_deadline());
  REQUIRE(before.ok());
  CHECK_MESSAGE(before->verdict == Verdict::kAllow, before->message);
  REQUIRE(before->valid_until.has_value());

  clock.advance(std::chrono::hours(2));  // carol's certificate has expired; the data has not
  auto after = verifier.verify(kGun + ":1.0", {}, far_deadline());
  REQUIRE(after.ok());
  CHECK(after->verdict == Verdict::kDeny);
  CHECK(after->code == DecisionCode::kRequirementsNotMet);
  CHECK(contains(after->message, "expired"));
  CHECK(cache.stats().fetches == 1);  // judged on the same trust data
}

TEST_CASE("denials: one sentence per denied image, naming its containers") {
  Fixture f;
  SUBCASE("signed by someone who is no member") {
    const AdmissionResponse r = f.verifier.review(
        parse(pod_review({{"containers", "app", kGun + ":evil"}})), false, far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK(r.status_code == 403);
    CHECK(contains(r.message, "image " + kGun + ":evil (container app)"));
    CHECK(contains(r.message, "qa"));
  }
  SUBCASE("a tag nobody signed") {
    const AdmissionResponse r = f.verifier.review(
        parse(pod_review({{"containers", "app", kGun + ":9.9"}})), true, far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK(contains(r.message, kGun + ":9.9"));
    CHECK_FALSE(r.patch.has_value());
  }
  SUBCASE("a digest that is not the signed one") {
    const AdmissionResponse r = f.verifier.review(
        parse(pod_review({{"containers", "app", kGun + ":1.0@sha256:" + sha256_of("tampered")}})),
        false, far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK(contains(r.message, "container app"));
  }
  SUBCASE("one bad image among good ones denies the pod, and only it is named") {
    const AdmissionResponse r = f.verifier.review(
        parse(pod_review({{"containers", "app", kGun + ":1.0"},
                          {"containers", "sidecar", kGun + ":evil"},
                          {"initContainers", "init", kGun + ":evil"},
                          {"ephemeralContainers", "debug", "docker.io/library/busybox:1"}})),
        true, far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK_FALSE(r.patch.has_value());
    CHECK(contains(r.message, "image " + kGun + ":evil (containers sidecar, init)"));
    CHECK_FALSE(contains(r.message, kGun + ":1.0"));
    CHECK_FALSE(contains(r.message, "busybox"));
  }
  SUBCASE("an image that is not a reference") {
    const AdmissionResponse r = f.verifier.review(
        parse(pod_review({{"containers", "app", "Registry.Example.com/UPPER:1"}})), false,
        far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK(contains(r.message, "not a valid image reference"));
  }
  SUBCASE("an image no rule matches") {
    const AdmissionResponse r = f.verifier.review(
        parse(pod_review({{"containers", "app", "quay.io/other/thing:1"}})), false, far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK(contains(r.message, "quay.io/other/thing:1"));
  }
}

TEST_CASE("the same image in several containers is decided once and patched everywhere") {
  Fixture f;
  const AdmissionResponse r = f.verifier.review(
      parse(pod_review({{"containers", "a", kGun + ":1.0"},
                        {"containers", "b", kGun + ":1.0"},
                        {"initContainers", "c", kGun + ":1.0"}})),
      true, far_deadline());
  REQUIRE(r.allowed);
  const bj::array ops = patch_ops(r);
  REQUIRE(ops.size() == 6);
  CHECK(ops[1].at("path").as_string() == "/spec/containers/0/image");
  CHECK(ops[3].at("path").as_string() == "/spec/containers/1/image");
  CHECK(ops[5].at("path").as_string() == "/spec/initContainers/0/image");
  CHECK(f.server.sources_made() == 1);
  // One decision (and one cache miss) for the three containers.
  CHECK(f.verifier.cache_stats().misses == 1);
}

TEST_CASE("warn mode admits with a warning; audit mode admits silently") {
  Fixture f;
  const AdmissionResponse warned = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + ":warn-1"}})), true, far_deadline());
  CHECK(warned.allowed);
  REQUIRE(warned.warnings.size() == 1);
  CHECK(contains(warned.warnings[0], kGun + ":warn-1"));
  CHECK(contains(warned.warnings[0], "not enforced"));
  CHECK_FALSE(warned.patch.has_value());

  const AdmissionResponse audited = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + ":audit-1"}})), false, far_deadline());
  CHECK(audited.allowed);
  CHECK(audited.warnings.empty());
}

TEST_CASE("UPDATE checks every image by default; only new ones when told so") {
  // ":evil" was in the object already (admitted under an earlier, looser policy).
  const std::string body = pod_review({{"containers", "app", kGun + ":evil"},
                                       {"containers", "new", kGun + ":1.0"}},
                                      "UPDATE", {{"containers", "app", kGun + ":evil"}});
  {
    Fixture f;  // the policy in force applies to the whole object
    const AdmissionResponse r = f.verifier.review(parse(body), false, far_deadline());
    CHECK_FALSE(r.allowed);
    CHECK(contains(r.message, kGun + ":evil"));
  }
  {
    VerifierOptions options;
    options.verify_unchanged_images = false;
    Fixture f(options);
    const AdmissionResponse r = f.verifier.review(parse(body), false, far_deadline());
    CHECK_MESSAGE(r.allowed, r.message);
  }
}

TEST_CASE("DELETE is not checked; kinds vouch does not inspect are denied; no policy is a 500") {
  Fixture f;
  auto del = parse(R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "d", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                  "operation": "DELETE"}})");
  const AdmissionResponse deleted = f.verifier.review(del, false, far_deadline());
  CHECK(deleted.allowed);
  CHECK(deleted.uid == "d");

  auto cm = parse(R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "c", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
                  "operation": "CREATE", "object": {"data": {}}}})");
  const AdmissionResponse config_map = f.verifier.review(cm, false, far_deadline());
  CHECK_FALSE(config_map.allowed);
  CHECK(contains(config_map.message, "ConfigMap"));

  f.verifier.set_policy(nullptr);
  CHECK_FALSE(f.verifier.ready());
  const AdmissionResponse none = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + ":1.0"}})), false, far_deadline());
  CHECK_FALSE(none.allowed);
  CHECK(none.status_code == 500);
}

TEST_CASE("trust data that does not arrive by the deadline is a deny (fail closed)") {
  Fixture f;
  f.server.close_gate();
  const AdmissionResponse r = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + ":1.0"}})), false,
      std::chrono::steady_clock::now());
  CHECK_FALSE(r.allowed);
  CHECK(contains(r.message, "did not answer in time"));
  f.server.open_gate();
  f.cache.wait_idle();
  // The fetch went on: the next review is decided from the cache.
  const AdmissionResponse later = f.verifier.review(
      parse(pod_review({{"containers", "app", kGun + ":1.0"}})), false,
      std::chrono::steady_clock::now());
  CHECK_MESSAGE(later.allowed, later.message);
}

TEST_CASE("decisions are cached per policy version, reference and trust data") {
  Fixture f;
  RequestContext ctx;
  auto first = f.verifier.verify(kGun + ":1.0", ctx, far_deadline());
  REQUIRE(first.ok());
  CHECK(first->verdict == Verdict::kAllow);
  auto second = f.verifier.verify(kGun + ":1.0", ctx, far_deadline());
  REQUIRE(second.ok());
  CHECK(second->digest == first->digest);
  CHECK(f.verifier.cache_stats().hits == 1);
  CHECK(f.verifier.cache_stats().misses == 1);

  // A new policy is a new version: decided again.
  f.verifier.set_policy(PolicyText(f.policy_text).rule(R"({"pattern": "quay.io/x/*", "deny": true})").build());
  auto third = f.verifier.verify(kGun + ":1.0", ctx, far_deadline());
  REQUIRE(third.ok());
  CHECK(third->policy_version != first->policy_version);
  CHECK(f.verifier.cache_stats().misses == 2);

  // Invalid references are errors, not decisions.
  auto bad = f.verifier.verify("", ctx, far_deadline());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().reason == Reason::kMalformed);
}

// ---- the HTTP API ---------------------------------------------------------------------------

net::Request post(const std::string& path, const std::string& body,
                  const std::string& content_type = "application/json") {
  net::Request r;
  r.method = "POST";
  r.target = path;
  r.body = body;
  r.headers.add("Content-Type", content_type);
  return r;
}

net::Request get(const std::string& path) {
  net::Request r;
  r.method = "GET";
  r.target = path;
  return r;
}

TEST_CASE("decidable_now: true only when no trust server must be asked; asking starts nothing") {
  Fixture f;
  const std::string tag = kGun + ":1.0";
  const RequestContext ctx{"api", "prod", "", ""};
  struct Now {
    Verifier& v;
    bool operator()(const std::string& image) const {
      return v.decidable_now(*v.plan(std::span<const std::string>(&image, 1)));
    }
    bool operator()(const AdmissionRequest& request) const {
      return v.decidable_now(*v.plan(request));
    }
  } decidable_now{f.verifier};
  CHECK_FALSE(decidable_now(tag));
  CHECK(decidable_now(std::string("nginx:1.25")));            // an allow rule
  CHECK(decidable_now(std::string("quay.io/other/thing:1")));  // no rule: denied at once
  CHECK(decidable_now(std::string("Not A Reference")));        // refused at once
  const AdmissionRequest pod =
      parse(pod_review({{"containers", "app", tag}, {"initContainers", "lib", "nginx:1.25"}}));
  CHECK_FALSE(decidable_now(pod));
  AdmissionRequest del = pod;
  del.operation = "DELETE";
  CHECK(decidable_now(del));
  // Asking fetched nothing and counted no lookup.
  CHECK(f.cache.stats().fetches == 0);
  CHECK(f.cache.stats().misses == 0);

  REQUIRE(f.verifier.verify(tag, ctx, far_deadline()).ok());
  CHECK(f.cache.stats().fetches == 1);
  CHECK(decidable_now(tag));
  CHECK(decidable_now(pod));
  // A digest reference needs every delegation, which a tag's fetch did not load.
  CHECK_FALSE(decidable_now(kGun + "@" + f.digest_of_1()));

  // Without a policy every answer is immediate (not ready).
  f.verifier.set_policy(nullptr);
  CHECK(decidable_now(kGun + ":2.0"));
}

TEST_CASE("a request's plan keeps the policy it was made under, and parses each image once") {
  Fixture f;
  const std::string tag = kGun + ":1.0";
  const AdmissionRequest pod = parse(pod_review(
      {{"containers", "app", tag}, {"initContainers", "lib", "nginx:1.25"}, {"containers", "x", tag}}));
  std::shared_ptr<const RequestPlan> plan = f.verifier.plan(pod);
  REQUIRE(plan->policy != nullptr);
  REQUIRE(plan->images.size() == 2);  // distinct images, in order
  CHECK(plan->images[0].text == tag);
  REQUIRE(plan->images[0].image.ok());
  CHECK(plan->images[0].needs_trust);
  CHECK(plan->images[0].section != nullptr);
  CHECK(plan->images[1].text == "nginx:1.25");
  CHECK_FALSE(plan->images[1].needs_trust);  // an allow rule

  // The policy is replaced (here: removed) after planning, as a reload between a request's
  // arrival and its worker would: the request is still decided under its plan's policy.
  f.verifier.set_policy(nullptr);
  const AdmissionResponse planned = f.verifier.review(pod, *plan, false, far_deadline());
  CHECK_MESSAGE(planned.allowed, planned.message);
  const AdmissionResponse now = f.verifier.review(pod, false, far_deadline());
  CHECK_FALSE(now.allowed);  // no policy in force: not ready
  CHECK(now.status_code == 500);
}

TEST_CASE("HTTP API: routes, the decision JSON, and errors") {
  Fixture f;
  HttpApi api(f.verifier);

  SUBCASE("POST /v1/verify answers the decision") {
    const net::Response r =
        api.serve(post("/v1/verify", R"({"image": ")" + kGun + R"(:1.0", "namespace": "prod"})"),
                  far_deadline());
    CHECK(r.status == 200);
    CHECK(r.headers.get_or("Content-Type", "") == "application/json");
    const bj::value d = bj::parse(r.body);
    CHECK(d.at("allowed").as_bool());
    CHECK(d.at("verdict").as_string() == "allow");
    CHECK(d.at("code").as_string() == "signed");
    CHECK(d.at("digest").as_string() == f.digest_of_1());
    CHECK(d.at("rule").as_string() == "prod");
    CHECK(d.at("image").as_string() == kGun + ":1.0");
    REQUIRE(d.at("signers").as_array().size() == 1);
    CHECK(d.at("signers").at(0).at("member").as_string() == "alice");
    CHECK(d.at("requirements").at(0).at("met").as_bool());

    const net::Response denied =
        api.serve(post("/v1/verify", R"({"image": ")" + kGun + R"(:evil"})"), far_deadline());
    CHECK(denied.status == 200);
    const bj::value dd = bj::parse(denied.body);
    CHECK_FALSE(dd.at("allowed").as_bool());
    CHECK(dd.at("code").as_string() == "requirements_not_met");
  }
  SUBCASE("bad /v1/verify bodies are 400 with the reason") {
    for (const std::string& body : {std::string("not json"), std::string("[1]"),
                                   std::string(R"({"image": 5})"),
                                   std::string(R"({"image": "a:1", "extra": 1})"),
                                   std::string(R"({"namespace": "x"})"),
                                   std::string(R"({"image": "registry.example.com/UPPER:1"})")}) {
      CAPTURE(body);
      const net::Response r = api.serve(post("/v1/verify", body), far_deadline());
      CHECK(r.status == 400);
      CHECK(bj::parse(r.body).at("error").at("message").as_string().size() > 0);
    }
  }
  SUBCASE("/validate and /mutate answer AdmissionReviews; malformed ones are 400") {
    const std::string body = pod_review({{"containers", "app", kGun + ":1.0"}});
    const net::Response v = api.serve(post("/validate", body), far_deadline());
    CHECK(v.status == 200);
    const bj::value vr = bj::parse(v.body);
    CHECK(vr.at("response").at("uid").as_string() == "uid-1");
    CHECK(vr.at("response").at("allowed").as_bool());
    CHECK(vr.at("response").as_object().if_contains("patch") == nullptr);

    const net::Response m = api.serve(post("/mutate", body), far_deadline());
    CHECK(m.status == 200);
    const bj::value mr = bj::parse(m.body);
    CHECK(mr.at("response").at("patchType").as_string() == "JSONPatch");
    auto raw = base64_decode(std::string(mr.at("response").at("patch").as_string()));
    REQUIRE(raw.ok());
    CHECK(contains(as_string_view(*raw), kGun + ":1.0@" + f.digest_of_1()));

    const net::Response bad = api.serve(post("/validate", R"({"apiVersion": "v1"})"), far_deadline());
    CHECK(bad.status == 400);
    CHECK(bj::parse(bad.body).at("error").at("code").as_string() == "malformed");
  }
  SUBCASE("methods, media types, unknown paths, probes") {
    CHECK(api.serve(get("/validate"), far_deadline()).status == 405);
    CHECK(api.serve(get("/v1/verify"), far_deadline()).headers.get_or("Allow", "") == "POST");
    CHECK(api.serve(post("/validate", "{}", "text/plain"), far_deadline()).status == 415);
    CHECK(api.serve(get("/nope"), far_deadline()).status == 404);
    CHECK(api.serve(get("/healthz"), far_deadline()).status == 200);
    CHECK(api.serve(get("/readyz"), far_deadline()).status == 200);
    f.verifier.set_policy(nullptr);
    CHECK(api.serve(get("/readyz"), far_deadline()).status == 503);
    CHECK(api.serve(get("/healthz"), far_deadline()).status == 200);
    const net::Response not_ready =
        api.serve(post("/v1/verify", R"({"image": "docker.io/library/nginx:1"})"), far_deadline());
    CHECK(not_ready.status == 503);
  }
  SUBCASE("body limits per route") {
    CHECK(api.body_limit(post("/validate", "")) == AdmissionLimits().max_body_bytes);
    CHECK(api.body_limit(post("/v1/verify", "")) == HttpApiOptions().max_verify_body_bytes);
    CHECK(api.body_limit(get("/validate")) == 0);
    CHECK(api.body_limit(post("/other", "")) == 0);
  }
}

TEST_CASE("error_status: one table from Error to HTTP status") {
  CHECK(error_status(make_error(Reason::kMalformed, "")) == 400);
  CHECK(error_status(make_error(Reason::kTooLarge, "")) == 413);
  CHECK(error_status(make_error(Code::kFailedPrecondition, Reason::kUnavailable, "")) == 503);
  CHECK(error_status(make_error(Reason::kInternal, "")) == 500);
}

// ---- policy reloading -----------------------------------------------------------------------

struct PolicyDir {
  PolicyDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vouch-policy-test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~PolicyDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  // Replaces the file as a ConfigMap update does: a new file renamed over the old one.
  void write(const std::string& name, const std::string& text) {
    const auto tmp = path / (name + ".new");
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << text;
    }
    std::filesystem::rename(tmp, path / name);
  }
  std::filesystem::path path;
};

TEST_CASE("policy reload: a valid file replaces the policy, a bad one is refused and the old kept") {
  Fixture f;
  f.verifier.set_policy(nullptr);
  PolicyDir dir;
  const auto file = dir.path / "policy.json";
  dir.write("policy.json", f.policy_text.text());
  PolicyReloader reloader(file, f.verifier, f.clock);

  REQUIRE(reloader.reload("startup").ok());
  REQUIRE(f.verifier.ready());
  const std::string v1 = f.verifier.policy()->version();
  CHECK(reloader.version() == v1);
  CHECK_FALSE(reloader.reload_if_changed());

  dir.write("policy.json", R"({"rules": [{"pattern": "docker.io/*", "allow": tru}]})");
  CHECK(reloader.reload_if_changed());
  CHECK(f.verifier.policy()->version() == v1);
  auto bad = reloader.reload("SIGHUP");
  REQUIRE_FALSE(bad.ok());
  CHECK(f.verifier.policy()->version() == v1);

  PolicyText changed = f.policy_text;
  changed.unmatched = "allow";
  dir.write("policy.json", changed.text());
  CHECK(reloader.reload_if_changed());
  CHECK(f.verifier.policy()->version() != v1);
  CHECK(f.verifier.policy()->unmatched() == RuleAction::kAllow);

  // YAML by extension.
  dir.write("policy.yaml", "unmatched: allow\nrules: []\n");
  auto yaml = load_policy_file(dir.path / "policy.yaml");
  REQUIRE_MESSAGE(yaml.ok(), yaml.error().message);
  CHECK(yaml->unmatched() == RuleAction::kAllow);
  auto missing = load_policy_file(dir.path / "missing.json");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().reason == Reason::kIo);
}

TEST_CASE("verify_image: one decision with a one-shot fetch, as `vouch verify-image` runs it") {
  FakeServer server;
  Repo& repo = server.add(kGun);
  const auto alice = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest 1.0");
  repo.publish();
  FixedClock clock(repo.sim.now());
  const auto policy = PolicyText()
                          .member("qa", "alice", alice)
                          .rule(require_rule("prod", "registry.example.com/prod/*"))
                          .build();
  auto allowed = verify_image(*policy, kGun + ":1.0", server.factory(), clock);
  REQUIRE(allowed.ok());
  CHECK(allowed->verdict == Verdict::kAllow);
  CHECK(allowed->digest == "sha256:" + sha256_of("manifest 1.0"));

  auto unsigned_tag = verify_image(*policy, kGun + ":2.0", server.factory(), clock);
  REQUIRE(unsigned_tag.ok());
  CHECK(unsigned_tag->verdict == Verdict::kDeny);

  server.with_lock([&] { repo.server.unavailable = true; });
  auto down = verify_image(*policy, kGun + ":1.0", server.factory(), clock);
  REQUIRE(down.ok());
  CHECK(down->verdict == Verdict::kDeny);
  CHECK(down->code == DecisionCode::kTrustUnavailable);

  auto bad = verify_image(*policy, "registry.example.com/NOT/valid", server.factory(), clock);
  CHECK_FALSE(bad.ok());
}

}  // namespace
}  // namespace vouch::verifier
