// The decision function (verifier/decide.h) over real signed repositories: RepoSimulator
// builds and signs them, MemorySource serves them, and the trust data is verified by the same
// tuf::refresh / load_delegations_for the verifier runs. Tests assert on verdicts, codes,
// reasons and structured fields; sentences are only checked to name what they must name.

#include "verifier/decide.h"

#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "keys/crypto.h"
#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tests/support/memory_source.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/verifier/verifier_test_util.h"
#include "tuf/updater.h"

namespace vouch::verifier {
namespace {

using std::chrono::hours;
using testing::json_str;
using testing::public_pem;
using vouch::testing::MemorySource;
using vouch::testing::RepoSimulator;

constexpr std::string_view kGun = "registry.example.com/prod/app";
const std::string kImage = std::string(kGun) + ":1.0";

std::string sha256_of(std::string_view content) { return keys::sha256_hex(as_bytes(content)); }

// A repository on a trust server, as the verifier sees it.
struct Repo {
  RepoSimulator sim{std::string(kGun)};
  MemorySource server;

  Repo() { server.publish(sim.files); }

  TimePoint now() const { return sim.now(); }

  keys::PublicKey new_key(keys::KeyType type = keys::KeyType::kEcdsa) {
    return sim.signer.create_key("", "", type).value();
  }

  // Delegates `role` to `keys` (threshold 1) for `paths`, with empty metadata.
  void delegate(const std::string& role, const std::vector<keys::PublicKey>& ks,
                std::vector<std::string> paths = {""}) {
    sim.delegate_to(role, ks, std::move(paths));
  }

  // `role` lists `tag` as the manifest `content`.
  void sign(const std::string& role, const std::string& tag, std::string_view content) {
    sim.role_of(role).targets[tag] = tuf::FileMeta::of(as_bytes(content));
  }

  // Signs every role with the keys its parent lists and serves the result.
  void publish() {
    ++sim.targets.version;
    ++sim.snapshot.version;
    ++sim.timestamp.version;
    sim.publish();
    server.publish(sim.files);
  }

  // Regenerates snapshot and timestamp over files signed by hand, and serves them.
  void reseal() {
    ++sim.snapshot.version;
    ++sim.timestamp.version;
    sim.seal();
    server.publish(sim.files);
  }

  // What the verifier does for a tag: refresh, then load the delegations that may list it.
  Result<tuf::TrustedSet> fetch_for(const std::string& tag) {
    tuf::RefreshOptions opts;
    opts.load_all_delegations = false;
    opts.use_cache_when_unavailable = false;
    auto set = tuf::refresh(kGun, server, nullptr, now(), opts);
    if (!set) return std::move(set).error();
    VOUCH_RETURN_IF_ERROR(tuf::load_delegations_for(*set, tag, server, nullptr));
    return set;
  }

  // For a reference with only a digest: every delegation.
  Result<tuf::TrustedSet> fetch_all() {
    tuf::RefreshOptions opts;
    opts.use_cache_when_unavailable = false;
    return tuf::refresh(kGun, server, nullptr, now(), opts);
  }
};

// A policy for the repository's registry, written as JSON.
struct PolicyText {
  std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> teams;
  std::vector<std::string> rules;
  std::string unmatched = "deny";

  PolicyText& member(const std::string& team, const std::string& name,
                     std::vector<std::string> pems) {
    teams[team].emplace_back(name, std::move(pems));
    return *this;
  }
  PolicyText& member(const std::string& team, const std::string& name, const keys::PublicKey& key) {
    return member(team, name, std::vector<std::string>{public_pem(key)});
  }
  PolicyText& rule(std::string json) {
    rules.push_back(std::move(json));
    return *this;
  }

  Policy build() const {
    std::string text = R"({"unmatched": ")" + unmatched + R"(", "teams": {)";
    bool first_team = true;
    for (const auto& [team, members] : teams) {
      if (!first_team) text += ", ";
      first_team = false;
      text += json_str(team) + R"(: {"members": [)";
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i != 0) text += ", ";
        text += R"({"name": )" + json_str(members[i].first) + R"(, "keys": [)";
        for (std::size_t k = 0; k < members[i].second.size(); ++k) {
          if (k != 0) text += ", ";
          text += json_str(members[i].second[k]);
        }
        text += "]}";
      }
      text += "]}";
    }
    text +=
        R"(}, "trust": [{"prefix": "registry.example.com", "server": "https://notary.example.com",
               "tofu": true}], "rules": [)";
    for (std::size_t i = 0; i < rules.size(); ++i) text += (i != 0 ? ", " : "") + rules[i];
    text += "]}";
    auto p = Policy::parse(text, PolicyFormat::kJson);
    REQUIRE_MESSAGE(p.ok(), p.error().message);
    return std::move(*p);
  }
};

std::string require_rule(const std::string& require, const std::string& extra = "") {
  return R"({"name": "prod", "pattern": "registry.example.com/prod/*", "require": )" + require +
         extra + "}";
}

// The verifier's flow for one reference: match, fetch (what the rule needs), decide.
Decision verify(const Policy& policy, Repo& repo, const std::string& image) {
  auto ref = parse_image_ref(image);
  REQUIRE_MESSAGE(ref.ok(), ref.error().message);
  const Rule* rule = policy.match(*ref);
  auto trust = ref->has_tag() ? repo.fetch_for(ref->tag) : repo.fetch_all();
  if (!trust) return decide(policy, *ref, rule, trust.error());
  return decide(policy, *ref, rule, &*trust);
}

bool mentions(const Decision& d, std::string_view text) {
  return d.message.find(text) != std::string::npos;
}

const RequirementStatus* requirement(const Decision& d, std::string_view name) {
  for (const auto& r : d.requirements) {
    if (r.requirement == name) return &r;
  }
  return nullptr;
}

TEST_CASE("a member of the required team signs the tag: allow, with the digest and who") {
  Repo repo;
  const auto alice = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();

  const Decision d = verify(policy, repo, kImage);
  CHECK_MESSAGE(d.verdict == Verdict::kAllow, d.message);
  CHECK(d.code == DecisionCode::kSigned);
  CHECK(d.admitted());
  CHECK(d.digest == "sha256:" + sha256_of("manifest v1"));
  CHECK(d.length == static_cast<std::int64_t>(std::string("manifest v1").size()));
  CHECK(d.rule == "prod");
  CHECK(d.gun == kGun);
  CHECK(d.image == kImage);
  CHECK(d.policy_version == policy.version());
  CHECK(d.trust_version > 0);
  REQUIRE(d.signers.size() == 1);
  CHECK(d.signers[0].role == "targets/releases");
  CHECK(d.signers[0].key_id == alice.canonical_id());
  CHECK(d.signers[0].member == "alice");
  CHECK(d.signers[0].teams == std::vector<std::string>{"qa"});
  CHECK(d.signers[0].counted);
  const RequirementStatus* qa = requirement(d, "team qa");
  REQUIRE(qa != nullptr);
  CHECK(qa->met);
  CHECK(qa->members == std::vector<std::string>{"alice"});
  CHECK(mentions(d, "alice"));
}

TEST_CASE("a signer who is no member does not count") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto mallory = repo.new_key();
  repo.delegate("targets/releases", {mallory});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();

  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kRequirementsNotMet);
  REQUIRE(d.signers.size() == 1);
  CHECK(d.signers[0].member.empty());
  CHECK_FALSE(d.signers[0].counted);
  CHECK(d.signers[0].key_id == mallory.canonical_id());
  CHECK_FALSE(requirement(d, "team qa")->met);
  CHECK(mentions(d, "qa"));
  CHECK(mentions(d, mallory.canonical_id().substr(0, 12)));
  // What the digest would have been is still reported for diagnosis, but nothing counted.
  CHECK(d.digest.empty());
}

TEST_CASE("a member removed from the delegation no longer counts, even with her signature") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto carol = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();
  REQUIRE(verify(policy, repo, kImage).verdict == Verdict::kAllow);

  // The owner replaces alice's key by carol's. The role file still carries a valid signature
  // by alice's key next to carol's, but the delegation no longer lists her key.
  auto& releases = repo.sim.targets.delegations.roles[0];
  releases.keyids = {carol.id()};
  repo.sim.targets.delegations.keys.erase(alice.id());
  repo.sim.targets.delegations.keys.emplace(carol.id(), carol);
  ++repo.sim.targets.version;
  repo.sim.files["targets"] = repo.sim.sign(tuf::to_json(repo.sim.targets), {repo.sim.targets_key});
  ++repo.sim.delegated["targets/releases"].version;
  repo.sim.files["targets/releases"] =
      repo.sim.sign(tuf::to_json(repo.sim.delegated["targets/releases"]), {alice, carol});
  repo.reseal();

  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kRequirementsNotMet);
  REQUIRE(d.signers.size() == 1);
  CHECK(d.signers[0].key_id == carol.canonical_id());
  for (const auto& s : d.signers) CHECK(s.key_id != alice.canonical_id());
}

TEST_CASE("an expired delegation never counts, and the deny names it") {
  Repo repo;
  const auto alice = repo.new_key();
  repo.delegate("targets/ops", {alice});
  repo.sign("targets/ops", "1.0", "manifest v1");
  repo.sim.delegated["targets/ops"].expires = tuf::Expiry::at(repo.now() - hours(1));
  repo.publish();
  const Policy policy = PolicyText()
                            .member("ops", "alice", alice)
                            .rule(require_rule(R"({"all-of": ["ops"]})"))
                            .build();

  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kNotSigned);
  CHECK(d.signers.empty());
  REQUIRE(d.role_issues.size() == 1);
  CHECK(d.role_issues[0].role == "targets/ops");
  CHECK(d.role_issues[0].reason == Reason::kExpired);
  CHECK(mentions(d, "targets/ops"));
  CHECK(mentions(d, "expired"));
}

TEST_CASE("roles that count disagree on the digest: deny, naming both") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto bob = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.delegate("targets/security", {bob});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.sign("targets/security", "1.0", "manifest v1 (other build)");
  repo.publish();
  const Policy policy = PolicyText()
                            .member("qa", "alice", alice)
                            .member("sec", "bob", bob)
                            .rule(require_rule(R"({"all-of": ["qa", "sec"]})"))
                            .build();
  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kDigestConflict);
  CHECK(mentions(d, "targets/releases"));
  CHECK(mentions(d, "targets/security"));
  CHECK(mentions(d, sha256_of("manifest v1")));
  CHECK(mentions(d, sha256_of("manifest v1 (other build)")));
}

TEST_CASE("a role that does not count may list another digest without effect") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto mallory = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.delegate("targets/mallory", {mallory});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.sign("targets/mallory", "1.0", "evil manifest");
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();
  const Decision d = verify(policy, repo, kImage);
  CHECK_MESSAGE(d.verdict == Verdict::kAllow, d.message);
  CHECK(d.digest == "sha256:" + sha256_of("manifest v1"));
  REQUIRE(d.signers.size() == 2);
}

TEST_CASE("digest references must match the signed digest") {
  Repo repo;
  const auto alice = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.sign("targets/releases", "2.0", "manifest v2");
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();
  const std::string v1 = sha256_of("manifest v1");
  const std::string v2 = sha256_of("manifest v2");
  const std::string name(kGun);

  SUBCASE("name@digest of a signed target") {
    const Decision d = verify(policy, repo, name + "@sha256:" + v1);
    CHECK_MESSAGE(d.verdict == Verdict::kAllow, d.message);
    CHECK(d.digest == "sha256:" + v1);
    REQUIRE(d.signers.size() == 1);
    CHECK(d.signers[0].member == "alice");
  }
  SUBCASE("name:tag@digest, digest of that tag") {
    const Decision d = verify(policy, repo, name + ":1.0@sha256:" + v1);
    CHECK_MESSAGE(d.verdict == Verdict::kAllow, d.message);
  }
  SUBCASE("name:tag@digest, digest of another tag") {
    const Decision d = verify(policy, repo, name + ":1.0@sha256:" + v2);
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.code == DecisionCode::kDigestMismatch);
    CHECK(mentions(d, v2));
    CHECK(mentions(d, v1));
  }
  SUBCASE("name@digest that nobody signed") {
    const Decision d = verify(policy, repo, name + "@sha256:" + sha256_of("unsigned"));
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.code == DecisionCode::kNotSigned);
  }
  SUBCASE("sha512 digests are compared with the targets' sha512 hashes") {
    const auto meta = tuf::FileMeta::of(as_bytes(std::string("manifest v1")));
    const std::string v1_512 = hex_encode(meta.hashes.at("sha512"));
    CHECK(verify(policy, repo, name + "@sha512:" + v1_512).verdict == Verdict::kAllow);
    CHECK(verify(policy, repo, name + ":2.0@sha512:" + v1_512).code ==
          DecisionCode::kDigestMismatch);
  }
  SUBCASE("sha384 cannot be checked") {
    const Decision d = verify(policy, repo, name + "@sha384:" + std::string(96, 'a'));
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.code == DecisionCode::kUnsupportedDigest);
  }
}

TEST_CASE("decide_image: a digest is judged as each tag that carries it, under that tag's rule") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto bob = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "release-1", "manifest v1");
  repo.sign("targets/releases", "nightly-1", "manifest nightly");
  repo.publish();
  const std::string name(kGun);
  const Policy policy =
      PolicyText()
          .member("qa", "alice", alice)
          .member("sec", "bob", bob)
          .rule(R"({"name": "releases", "pattern": "registry.example.com/prod/*:release-*",
                    "require": {"all-of": ["qa"]}})")
          .rule(R"({"name": "hotfix", "pattern": "registry.example.com/prod/*:hotfix-*",
                    "require": {"all-of": ["sec"]}})")
          .rule(R"({"name": "rest", "pattern": "registry.example.com/prod/**", "deny": true})")
          .build();
  auto judge = [&](const std::string& image) {
    auto ref = parse_image_ref(image);
    REQUIRE(ref.ok());
    CHECK(needs_trust(policy, *ref));
    auto trust = repo.fetch_all();
    REQUIRE(trust.ok());
    return decide_image(policy, *ref, &*trust);
  };
  const std::string v1 = "@sha256:" + sha256_of("manifest v1");

  SUBCASE("the release tag's rule admits its digest") {
    const Decision d = judge(name + v1);
    CHECK_MESSAGE(d.verdict == Verdict::kAllow, d.message);
    CHECK(d.rule == "releases");
    CHECK(d.tag == "release-1");
    CHECK(d.image == name + v1);
    CHECK(mentions(d, "release-1"));
  }
  SUBCASE("the nightly tag's rule denies its digest") {
    const Decision d = judge(name + "@sha256:" + sha256_of("manifest nightly"));
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.code == DecisionCode::kRuleDenies);
    CHECK(d.rule == "rest");
    CHECK(d.tag == "nightly-1");
  }
  SUBCASE("one of several tags admitted is enough, and it is named") {
    repo.sign("targets/releases", "hotfix-1", "manifest v1");  // needs sec: denied as a tag
    repo.publish();
    const Decision d = judge(name + v1);
    CHECK_MESSAGE(d.verdict == Verdict::kAllow, d.message);
    CHECK(d.tag == "release-1");
  }
  SUBCASE("none admitted: the deny names every tag judged") {
    repo.sign("targets/releases", "hotfix-1", "manifest nightly");
    repo.publish();
    const Decision d = judge(name + "@sha256:" + sha256_of("manifest nightly"));
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.tag == "hotfix-1");  // the first in name order
    CHECK(mentions(d, "hotfix-1"));
    CHECK(mentions(d, "nightly-1"));
  }
  SUBCASE("a digest no tag carries: the rule for the name alone") {
    const Decision d = judge(name + "@sha256:" + sha256_of("nobody"));
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.rule == "rest");
    CHECK(d.tag.empty());
  }
  SUBCASE("name:tag@digest is judged by its tag and must match the digest") {
    auto trust = repo.fetch_all();
    REQUIRE(trust.ok());
    auto ref = parse_image_ref(name + ":release-1" + v1);
    REQUIRE(ref.ok());
    CHECK(decide_image(policy, *ref, &*trust).verdict == Verdict::kAllow);
    auto other = parse_image_ref(name + ":nightly-1" + v1);
    REQUIRE(other.ok());
    CHECK(decide_image(policy, *other, &*trust).code == DecisionCode::kRuleDenies);
    auto wrong = parse_image_ref(name + ":release-1@sha256:" + sha256_of("manifest nightly"));
    REQUIRE(wrong.ok());
    CHECK(decide_image(policy, *wrong, &*trust).code == DecisionCode::kDigestMismatch);
  }
  SUBCASE("without trust data the tags are unknown: deny, even under an allow for the name") {
    const Policy lenient =
        PolicyText()
            .member("qa", "alice", alice)
            .rule(R"({"name": "releases", "pattern": "registry.example.com/prod/*:release-*",
                      "require": {"all-of": ["qa"]}})")
            .rule(R"({"name": "rest", "pattern": "registry.example.com/prod/**", "allow": true})")
            .build();
    auto ref = parse_image_ref(name + v1);
    REQUIRE(ref.ok());
    REQUIRE(needs_trust(lenient, *ref));
    const Decision d =
        decide_image(lenient, *ref, make_error(Reason::kUnavailable, "server down"));
    CHECK(d.verdict == Verdict::kDeny);
    CHECK(d.code == DecisionCode::kTrustUnavailable);
    // A tag is judged by its rule alone: "rest" admits it without trust data.
    auto tagged = parse_image_ref(name + ":dev");
    REQUIRE(tagged.ok());
    CHECK_FALSE(needs_trust(lenient, *tagged));
  }
}

TEST_CASE("all-of: one person counts for one team unless allow-same-member says otherwise") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto bob = repo.new_key();
  const auto carol = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  // alice is in qa and security; bob in qa only; carol in security only.
  auto policy_with = [&](const std::string& require) {
    return PolicyText()
        .member("qa", "alice", alice)
        .member("qa", "bob", bob)
        .member("security", "alice", alice)
        .member("security", "carol", carol)
        .rule(require_rule(require))
        .build();
  };
  const Policy strict = policy_with(R"({"all-of": ["qa", "security"]})");
  const Policy same =
      policy_with(R"({"all-of": ["qa", "security"], "allow-same-member": true})");

  const Decision alone = verify(strict, repo, kImage);
  CHECK(alone.verdict == Verdict::kDeny);
  CHECK(alone.code == DecisionCode::kRequirementsNotMet);
  REQUIRE(alone.requirements.size() == 2);
  CHECK(alone.requirements[0].met != alone.requirements[1].met);  // alice stands for one team
  CHECK(mentions(alone, "one person counts for one team"));
  CHECK_MESSAGE(verify(same, repo, kImage).verdict == Verdict::kAllow, "opt-out");

  // bob (qa only) signs too: alice must stand for security, whatever the order of teams or
  // signers. A greedy pick of alice for qa would leave security empty.
  repo.delegate("targets/bob", {bob});
  repo.sign("targets/bob", "1.0", "manifest v1");
  repo.publish();
  const Decision both = verify(strict, repo, kImage);
  CHECK_MESSAGE(both.verdict == Verdict::kAllow, both.message);
  const Decision reversed = verify(policy_with(R"({"all-of": ["security", "qa"]})"), repo, kImage);
  CHECK_MESSAGE(reversed.verdict == Verdict::kAllow, reversed.message);
}

TEST_CASE("assign_distinct_members: a maximum matching of members to teams") {
  using Sets = std::map<std::string, std::set<std::string>>;
  CHECK(assign_distinct_members({"a", "b"}, Sets{{"a", {"x", "y"}}, {"b", {"x"}}}).size() == 2);
  CHECK(assign_distinct_members({"a", "b"}, Sets{{"a", {"x"}}, {"b", {"x"}}}).size() == 1);
  CHECK(assign_distinct_members({"a", "b"}, Sets{{"a", {"x"}}}).size() == 1);
  const auto three = assign_distinct_members(
      {"a", "b", "c"}, Sets{{"a", {"x", "y"}}, {"b", {"x", "z"}}, {"c", {"x"}}});
  REQUIRE(three.size() == 3);
  CHECK(three.at("c") == "x");
  CHECK(three.at("a") == "y");
  CHECK(three.at("b") == "z");
}

TEST_CASE("all-of: one team without a signature is named in the deny") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto bob = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  const Policy policy = PolicyText()
                            .member("qa", "alice", alice)
                            .member("sec", "bob", bob)
                            .rule(require_rule(R"({"all-of": ["qa", "sec"]})"))
                            .build();
  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kRequirementsNotMet);
  REQUIRE(d.requirements.size() == 2);
  CHECK(d.requirements[0].requirement == "team qa");
  CHECK(d.requirements[0].met);
  CHECK(d.requirements[1].requirement == "team sec");
  CHECK_FALSE(d.requirements[1].met);
  CHECK(mentions(d, "team sec"));
  // The digest that alice signed is reported although the image is denied.
  CHECK(d.digest == "sha256:" + sha256_of("manifest v1"));

  // any-of the same teams is satisfied by alice alone.
  const Policy any = PolicyText()
                         .member("qa", "alice", alice)
                         .member("sec", "bob", bob)
                         .rule(require_rule(R"({"any-of": ["qa", "sec"]})"))
                         .build();
  CHECK(verify(any, repo, kImage).verdict == Verdict::kAllow);

  // bob signs in his own delegation: now all-of is met.
  repo.delegate("targets/security", {bob});
  repo.sign("targets/security", "1.0", "manifest v1");
  repo.publish();
  const Decision both = verify(policy, repo, kImage);
  CHECK_MESSAGE(both.verdict == Verdict::kAllow, both.message);
  CHECK(both.requirements[1].members == std::vector<std::string>{"bob"});
}

TEST_CASE("min-signers counts distinct members, not keys or roles") {
  Repo repo;
  const auto alice1 = repo.new_key();
  const auto alice2 = repo.new_key(keys::KeyType::kEd25519);
  const auto bob = repo.new_key();
  // Both of alice's keys sign targets/releases, and alice signs targets/alice too.
  repo.delegate("targets/releases", {alice1, alice2});
  repo.delegate("targets/alice", {alice2});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.sign("targets/alice", "1.0", "manifest v1");
  repo.publish();
  PolicyText text;
  text.member("qa", "alice", std::vector<std::string>{public_pem(alice1), public_pem(alice2)})
      .member("qa", "bob", bob)
      .rule(require_rule(R"({"all-of": ["qa"], "min-signers": 2})"));
  const Policy policy = text.build();

  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kRequirementsNotMet);
  std::size_t counted = 0;
  for (const auto& s : d.signers) counted += s.counted ? 1u : 0u;
  CHECK(counted == 3);  // three signatures (two keys, two roles) ...
  const RequirementStatus* two = requirement(d, "at least 2 distinct signers from team qa");
  REQUIRE(two != nullptr);
  CHECK_FALSE(two->met);
  CHECK(two->members == std::vector<std::string>{"alice"});  // ... by one member

  // bob signs too: two members.
  repo.delegate("targets/bob", {bob});
  repo.sign("targets/bob", "1.0", "manifest v1");
  repo.publish();
  const Decision ok = verify(policy, repo, kImage);
  CHECK_MESSAGE(ok.verdict == Verdict::kAllow, ok.message);
  CHECK(requirement(ok, "at least 2 distinct signers from team qa")->members ==
        std::vector<std::string>{"alice", "bob"});
}

TEST_CASE("warn and audit mode admit with a warning; the evaluation is the same") {
  Repo repo;
  const auto alice = repo.new_key();
  const auto mallory = repo.new_key();
  repo.delegate("targets/releases", {mallory});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  for (const std::string mode : {"warn", "audit"}) {
    CAPTURE(mode);
    const Policy policy =
        PolicyText()
            .member("qa", "alice", alice)
            .rule(require_rule(R"({"all-of": ["qa"]})", R"(, "mode": ")" + mode + "\""))
            .build();
    const Decision d = verify(policy, repo, kImage);
    CHECK(d.verdict == Verdict::kWarn);
    CHECK(d.admitted());
    CHECK(d.code == DecisionCode::kRequirementsNotMet);
    CHECK(to_string(d.mode) == mode);
    CHECK(mentions(d, "team qa"));
    CHECK(mentions(d, mode));
  }
  // A warn rule that is satisfied is a plain allow.
  repo.delegate("targets/alice", {alice});
  repo.sign("targets/alice", "1.0", "manifest v1");
  repo.publish();
  const Policy warn = PolicyText()
                          .member("qa", "alice", alice)
                          .rule(require_rule(R"({"all-of": ["qa"]})", R"(, "mode": "warn")"))
                          .build();
  CHECK(verify(warn, repo, kImage).verdict == Verdict::kAllow);
}

TEST_CASE("images that match no rule are denied unless the policy says otherwise") {
  Repo repo;
  const auto alice = repo.new_key();
  PolicyText text;
  text.member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})"));
  const Policy policy = text.build();
  const std::string other = "registry.example.com/dev/app:1.0";
  const Decision d = verify(policy, repo, other);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kNoRule);
  CHECK(d.rule.empty());
  CHECK(mentions(d, "registry.example.com/dev/app:1.0"));

  text.unmatched = "allow";
  const Decision allowed = verify(text.build(), repo, other);
  CHECK(allowed.verdict == Verdict::kAllow);
  CHECK(allowed.code == DecisionCode::kNoRule);
}

TEST_CASE("allow and deny rules answer without trust data") {
  const Policy policy =
      PolicyText()
          .rule(R"({"name": "hub", "pattern": "docker.io/library/*", "allow": true})")
          .rule(R"({"name": "banned", "pattern": "docker.io/library/bad", "deny": true})")
          .rule(R"({"name": "soft", "pattern": "docker.io/x/*", "deny": true, "mode": "audit"})")
          .build();
  const Error unreachable = make_error(Reason::kUnavailable, "trust server unreachable");
  auto run = [&](const std::string& image) {
    const ImageRef ref = parse_image_ref(image).value();
    return decide(policy, ref, policy.match(ref), unreachable);
  };
  const Decision nginx = run("nginx");
  CHECK(nginx.verdict == Verdict::kAllow);
  CHECK(nginx.code == DecisionCode::kRuleAllows);
  CHECK(nginx.rule == "hub");
  CHECK(nginx.digest.empty());
  const Decision bad = run("bad:1");
  CHECK(bad.verdict == Verdict::kDeny);
  CHECK(bad.code == DecisionCode::kRuleDenies);
  CHECK(mentions(bad, "banned"));
  CHECK(run("x/y").verdict == Verdict::kWarn);
}

TEST_CASE("fail closed: no trust data, or trust data of another repository") {
  Repo repo;
  const auto alice = repo.new_key();
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();

  repo.server.unavailable = true;
  const Decision down = verify(policy, repo, kImage);
  CHECK(down.verdict == Verdict::kDeny);
  CHECK(down.code == DecisionCode::kTrustUnavailable);
  REQUIRE(down.trust_error);
  CHECK(down.trust_error->reason == Reason::kUnavailable);
  CHECK(mentions(down, std::string(kGun)));
  repo.server.unavailable = false;

  // Expired trust data: the timestamp is past its expiry at the reference time.
  repo.sim.timestamp.expires = tuf::Expiry::at(repo.now() - hours(1));
  repo.publish();
  const Decision stale = verify(policy, repo, kImage);
  CHECK(stale.code == DecisionCode::kTrustUnavailable);
  REQUIRE(stale.trust_error);
  CHECK(stale.trust_error->reason == Reason::kExpired);

  // A verified set for another GUN must not answer for this one.
  RepoSimulator other_sim("registry.example.com/prod/other");
  MemorySource other_server;
  other_server.publish(other_sim.files);
  const auto ref = parse_image_ref(kImage).value();
  auto other = tuf::refresh(other_sim.gun(), other_server, nullptr, other_sim.now());
  REQUIRE(other.ok());
  REQUIRE(other->gun() != kGun);
  const Decision wrong = decide(policy, ref, policy.match(ref), &*other);
  CHECK(wrong.verdict == Verdict::kDeny);
  CHECK(wrong.code == DecisionCode::kTrustUnavailable);

  // In warn mode the same failure is admitted with a warning.
  const Policy warn = PolicyText()
                          .member("qa", "alice", alice)
                          .rule(require_rule(R"({"all-of": ["qa"]})", R"(, "mode": "warn")"))
                          .build();
  const Decision warned =
      decide(warn, ref, warn.match(ref), make_error(Reason::kUnavailable, "down"));
  CHECK(warned.verdict == Verdict::kWarn);
  CHECK(warned.code == DecisionCode::kTrustUnavailable);
}

TEST_CASE("roles: only the listed roles count, and a missing one is never replaced") {
  Repo repo;
  const auto alice = repo.new_key();
  // The repository admin holds the targets key and is a member of team ops; the tag is signed
  // in "targets" only, and targets/releases does not exist (Connaisseur PR #2151).
  repo.sign("targets", "1.0", "manifest v1");
  repo.publish();
  const std::string admin_pem = public_pem(repo.sim.targets_key);
  PolicyText text;
  text.member("ops", "admin", std::vector<std::string>{admin_pem})
      .member("ops", "alice", alice)
      .rule(require_rule(R"({"any-of": ["ops"], "roles": ["targets/releases"]})"));
  const Policy policy = text.build();
  const Decision d = verify(policy, repo, kImage);
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kNotSigned);
  REQUIRE(d.role_issues.size() == 1);
  CHECK(d.role_issues[0].role == "targets/releases");
  CHECK(d.role_issues[0].reason == Reason::kNotFound);
  CHECK(mentions(d, "targets/releases"));
  REQUIRE(d.signers.size() == 1);
  CHECK(d.signers[0].role == "targets");
  CHECK(d.signers[0].member == "admin");
  CHECK_FALSE(d.signers[0].counted);

  // Without the restriction, the admin's signature in "targets" counts (his key is listed).
  PolicyText any_role;
  any_role.member("ops", "admin", std::vector<std::string>{admin_pem})
      .rule(require_rule(R"({"any-of": ["ops"]})"));
  CHECK(verify(any_role.build(), repo, kImage).verdict == Verdict::kAllow);

  // alice signs in targets/releases: the listed role counts.
  repo.delegate("targets/releases", {alice});
  repo.sign("targets/releases", "1.0", "manifest v1");
  repo.publish();
  const Decision ok = verify(policy, repo, kImage);
  CHECK_MESSAGE(ok.verdict == Verdict::kAllow, ok.message);
}

TEST_CASE("delegation paths are honoured: a tag outside a role's paths is not signed by it") {
  Repo repo;
  const auto alice = repo.new_key();
  repo.delegate("targets/releases", {alice}, {"release-"});
  repo.sign("targets/releases", "1.0", "manifest v1");        // outside its paths: ignored
  repo.sign("targets/releases", "release-1", "manifest r1");  // inside
  repo.publish();
  const Policy policy =
      PolicyText().member("qa", "alice", alice).rule(require_rule(R"({"all-of": ["qa"]})")).build();
  const Decision outside = verify(policy, repo, kImage);
  CHECK(outside.verdict == Verdict::kDeny);
  CHECK(outside.code == DecisionCode::kNotSigned);
  const Decision inside = verify(policy, repo, std::string(kGun) + ":release-1");
  CHECK_MESSAGE(inside.verdict == Verdict::kAllow, inside.message);
  // A role the rule lists whose paths do not cover the tag is reported as such.
  const Policy listed =
      PolicyText()
          .member("qa", "alice", alice)
          .rule(require_rule(R"({"all-of": ["qa"], "roles": ["targets/releases"]})"))
          .build();
  const Decision d = verify(listed, repo, kImage);
  REQUIRE(d.role_issues.size() == 1);
  CHECK(d.role_issues[0].reason == Reason::kBadPath);
}

TEST_CASE("member certificates: the same key as the bare key, counted only while valid") {
  Repo repo;
  auto make_member = [&](const std::string& name, TimePoint not_after) {
    auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
    auto cert = keys::make_root_certificate(priv, name, repo.now() - hours(48), not_after).value();
    const keys::PublicKey plain = repo.sim.signer.add_key(std::move(priv));
    return std::make_pair(plain, cert);
  };
  const auto [carol, carol_cert] = make_member("carol", repo.now() + hours(24 * 365));
  const auto [dave, dave_cert] = make_member("dave", repo.now() - hours(1));
  // carol's delegation lists her certificate (as `notary delegation add` with a cert does);
  // the policy lists her bare key. dave's delegation lists his bare key, the policy his
  // certificate, which has expired.
  const auto carol_x509 =
      keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(carol_cert.pem())).value();
  repo.delegate("targets/carol", {carol_x509});
  repo.delegate("targets/dave", {dave});
  repo.sign("targets/carol", "1.0", "manifest v1");
  repo.sign("targets/dave", "2.0", "manifest v2");
  repo.publish();
  PolicyText text;
  text.member("qa", "carol", carol)
      .member("qa", "dave", std::vector<std::string>{dave_cert.pem()})
      .rule(require_rule(R"({"all-of": ["qa"]})"));
  const Policy policy = text.build();

  const Decision c = verify(policy, repo, kImage);
  CHECK_MESSAGE(c.verdict == Verdict::kAllow, c.message);
  REQUIRE(c.signers.size() == 1);
  CHECK(c.signers[0].member == "carol");
  CHECK(c.signers[0].key_id == carol.canonical_id());

  const Decision d = verify(policy, repo, std::string(kGun) + ":2.0");
  CHECK(d.verdict == Verdict::kDeny);
  CHECK(d.code == DecisionCode::kRequirementsNotMet);
  REQUIRE(d.signers.size() == 1);
  CHECK(d.signers[0].member == "dave");
  CHECK_FALSE(d.signers[0].counted);
  CHECK(d.signers[0].note.find("expired") != std::string::npos);
  CHECK(mentions(d, "expired"));
  CHECK(mentions(d, dave.canonical_id().substr(0, 12)));
}

}  // namespace
}  // namespace vouch::verifier
