// Teams from signed rosters (policy.h teams_from, verifier/roster_teams.h): the policy's
// validation of teams_from and "<org>/<team>" rules, and a verified roster's teams merged
// into the policy.

#include "verifier/roster_teams.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "common/encoding.h"
#include "keys/private_key.h"
#include "tests/unit/verifier/daemon_test_util.h"
#include "tests/unit/verifier/verifier_test_util.h"
#include "tuf/json.h"

namespace vouch::verifier {
namespace {

namespace json = tuf::json;
using testing::json_str;
using testing::public_pem;

const std::string kPin(64, 'a');

struct Keys {
  keys::PublicKey alice = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value().public_key();
  keys::PublicKey bob = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value().public_key();
};
const Keys& test_keys() {
  static const Keys k;
  return k;
}

// teams_from acme's roster, inline team qa (alice), and rules over both.
std::string policy_json(const std::string& require, const std::string& teams_from = "") {
  const std::string from =
      teams_from.empty()
          ? R"({"roster": "vouch.example.com/_roster/acme", "server": "https://vouch.example.com",
               "root_keys": [")" + kPin + R"("]})"
          : teams_from;
  return R"({"teams_from": )" + from + R"(,
    "teams": {"qa": {"members": [{"name": "alice", "keys": [)" +
         json_str(public_pem(test_keys().alice)) + R"(]}]}},
    "trust": [{"prefix": "registry.example.com", "server": "https://notary.example.com",
               "root_keys": [")" + kPin + R"("]}],
    "rules": [{"pattern": "registry.example.com/**", "require": )" + require + "}]}";
}

Result<Policy> parse(const std::string& text) { return Policy::parse(text, PolicyFormat::kJson); }

tuf::Roster roster_of(const std::string& org,
                      const std::vector<std::pair<std::string, keys::PublicKey>>& ops) {
  json::Array members;
  for (const auto& [name, key] : ops) {
    json::Object k;
    k.set("keyid", key.id());
    k.set("keytype", keys::to_string(key.type()));
    k.set("public", base64_encode(key.public_bytes()));
    json::Object m;
    m.set("name", name);
    m.set("kind", "user");
    m.set("keys", json::Array{std::move(k)});
    members.emplace_back(std::move(m));
  }
  json::Object team;
  team.set("name", "ops");
  team.set("members", std::move(members));
  json::Object doc;
  doc.set("org", org);
  doc.set("generated_at", "2026-12-08T03:00:00Z");
  doc.set("teams", json::Array{std::move(team)});
  return tuf::parse_roster(doc).value();
}

TEST_CASE("teams_from: rules may name <org>/<team> of a roster org, beside inline teams") {
  auto p = parse(policy_json(R"({"any-of": ["acme/ops", "qa"], "min-signers": 3})"));
  REQUIRE(p.ok());
  REQUIRE(p->rosters().size() == 1);
  CHECK(p->rosters()[0].org == "acme");
  CHECK(p->rosters()[0].section.prefix == "vouch.example.com/_roster/acme");
  CHECK(p->roster_for("acme/ops") == &p->rosters()[0]);
  CHECK(p->roster_for("qa") == nullptr);
  // A list works too.
  CHECK(parse(policy_json(R"({"any-of": ["acme/ops"]})",
                          "[" + std::string(R"({"roster": "v.io/_roster/acme", "server": "https://v.io", "tofu": true})") + "]"))
            .ok());
}

TEST_CASE("teams_from: bad entries are refused with their path") {
  auto unknown_org = parse(policy_json(R"({"any-of": ["beta/ops"]})"));
  REQUIRE_FALSE(unknown_org.ok());
  CHECK(unknown_org.error().message.find("unknown team \"beta/ops\"") != std::string::npos);
  auto not_roster = parse(policy_json(R"({"any-of": ["qa"]})",
                                      R"({"roster": "v.io/acme/app", "server": "https://v.io", "tofu": true})"));
  REQUIRE_FALSE(not_roster.ok());
  CHECK(not_roster.error().message.find("teams_from.roster") != std::string::npos);
  auto no_pin = parse(policy_json(R"({"any-of": ["qa"]})",
                                  R"({"roster": "v.io/_roster/acme", "server": "https://v.io"})"));
  REQUIRE_FALSE(no_pin.ok());
  CHECK(no_pin.error().message.find("no root pin") != std::string::npos);
  auto twice = parse(policy_json(
      R"({"any-of": ["qa"]})",
      R"([{"roster": "v.io/_roster/acme", "server": "https://v.io", "tofu": true},
          {"roster": "w.io/_roster/acme", "server": "https://w.io", "tofu": true}])"));
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().reason == Reason::kDuplicateKey);
}

TEST_CASE("rosters_needed: the rosters of the matched rule's teams") {
  auto p = parse(policy_json(R"({"any-of": ["acme/ops"]})")).value();
  auto img = parse_image_ref("registry.example.com/app:v1").value();
  auto needed = rosters_needed(p, img);
  REQUIRE(needed.size() == 1);
  CHECK(needed[0]->org == "acme");
  CHECK(roster_ref(*needed[0]).gun() == "vouch.example.com/_roster/acme");
  auto inline_only = parse(policy_json(R"({"any-of": ["qa"]})")).value();
  CHECK(rosters_needed(inline_only, img).empty());
}

TEST_CASE("a roster's teams join the policy as <org>/<team>; a key of another member is refused") {
  const Policy p = parse(policy_json(R"({"any-of": ["acme/ops"]})")).value();
  const auto& k = test_keys();
  auto teams = roster_policy_teams(roster_of("acme", {{"bob", k.bob}, {"alice", k.alice}}), p);
  REQUIRE(teams.ok());
  const Policy merged = p.with_teams(std::move(*teams), "+acme:7");
  CHECK(merged.version() == p.version() + "+acme:7");
  REQUIRE(merged.team("acme/ops") != nullptr);
  auto names = merged.member_names("acme/ops");
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"alice", "bob"});
  const auto& owners = merged.owners_of(k.bob.canonical_id());
  REQUIRE(owners.size() == 1);
  CHECK(owners[0].team == "acme/ops");
  CHECK(owners[0].member == "bob");
  // alice's inline key listed for "mallory" in the roster: one key, one person.
  auto conflict = roster_policy_teams(roster_of("acme", {{"mallory", k.alice}}), p);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().reason == Reason::kConflict);
}

// A roster repository served by FakeServer (TOFU in the policy), fetched through TrustCache as
// the daemon and verify-image do.
TEST_CASE("rosters through the trust cache: new versions apply, rollback and expiry deny") {
  using std::chrono::hours;
  const std::string gun = "vouch.example.com/_roster/acme";
  testing::FakeServer server;
  testing::Repo& repo = server.add(gun);
  const auto& k = test_keys();
  auto carry = [&](const tuf::Roster& roster) {
    repo.sim.targets.targets.clear();
    repo.sim.targets.targets.emplace(std::string(tuf::kRosterTarget),
                                     tuf::roster_target_meta(roster));
  };
  carry(roster_of("acme", {{"alice", k.alice}, {"bob", k.bob}}));
  repo.publish();
  const auto v1_files = repo.sim.files;
  FixedClock clock(repo.sim.now());
  TrustCacheOptions options;
  options.max_age = std::chrono::milliseconds(0);  // every decision fetches
  options.fetch_threads = 1;
  TrustCache cache(server.factory(), clock, options);
  const std::string from =
      R"({"roster": ")" + gun + R"(", "server": "https://vouch.example.com", "tofu": true})";
  const Policy policy = parse(policy_json(R"({"any-of": ["acme/ops"]})", from)).value();
  const auto needed = rosters_needed(policy, parse_image_ref("registry.example.com/a:1").value());
  RosterTeamsCache rosters;
  auto names = [](const Policy& p) {
    auto n = p.member_names("acme/ops");
    std::sort(n.begin(), n.end());
    return n;
  };

  auto v1 = rosters.resolve(policy, needed, cache, testing::far_deadline());
  REQUIRE_MESSAGE(v1.ok(), v1.error().message);
  CHECK(names(**v1) == std::vector<std::string>{"alice", "bob"});
  // Unchanged trust data: the same built policy.
  auto again = rosters.resolve(policy, needed, cache, testing::far_deadline());
  REQUIRE(again.ok());

  // v2 without bob applies on the next fetch.
  server.with_lock([&] {
    carry(roster_of("acme", {{"alice", k.alice}}));
    repo.publish();
  });
  auto v2 = rosters.resolve(policy, needed, cache, testing::far_deadline());
  REQUIRE_MESSAGE(v2.ok(), v2.error().message);
  CHECK(names(**v2) == std::vector<std::string>{"alice"});
  CHECK((*v2)->version() != (*v1)->version());

  SUBCASE("a server that serves roster v1 again is refused") {
    server.with_lock([&] { repo.server.publish(v1_files); });
    auto replay = rosters.resolve(policy, needed, cache, testing::far_deadline());
    REQUIRE_FALSE(replay.ok());
    CHECK(replay.error().reason == Reason::kRollback);
    CHECK(replay.error().message.find("roster " + gun) != std::string::npos);
  }
  SUBCASE("an expired roster denies, with no fallback to the one fetched before") {
    clock.advance(hours(24 * 15));  // past the timestamp's 14 days
    auto expired = rosters.resolve(policy, needed, cache, testing::far_deadline());
    REQUIRE_FALSE(expired.ok());
    CHECK(expired.error().reason == Reason::kExpired);
  }
  SUBCASE("targets that carry no roster are refused") {
    server.with_lock([&] {
      repo.sim.targets.targets.clear();
      repo.publish();
    });
    auto none = rosters.resolve(policy, needed, cache, testing::far_deadline());
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().reason == Reason::kBadPath);
  }
}

}  // namespace
}  // namespace vouch::verifier
