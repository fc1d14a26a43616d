// Publishing a signed team roster (server/roster_upload.h): an ordinary TUF repository whose
// targets must carry a roster that parses, for the org its GUN names.

#include <doctest/doctest.h>

#include "common/encoding.h"
#include "keys/private_key.h"
#include "server/repository.h"
#include "server/roster_upload.h"
#include "server/storage/memory_store.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/repository_test_util.h"
#include "tuf/roster.h"

namespace vouch::server {
namespace {

using testing::parts_of;
using testing::RepoSimulator;

constexpr const char* kGun = "vouch.example.com/_roster/acme";

struct Fixture {
  RepoSimulator sim{kGun};
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  Repository repo{store, sim.signer, clock};
  keys::PublicKey alice = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value().public_key();
  keys::PublicKey bob = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value().public_key();

  // {"org": org, "teams": [{"name": "ops", "members": [name -> key, ...]}]}
  tuf::json::Value doc(const std::string& org,
                       const std::vector<std::pair<std::string, keys::PublicKey>>& members) {
    tuf::json::Array ms;
    for (const auto& [name, key] : members) {
      tuf::json::Object k;
      k.set("keyid", key.id());
      k.set("keytype", keys::to_string(key.type()));
      k.set("public", base64_encode(key.public_bytes()));
      tuf::json::Object m;
      m.set("name", name);
      m.set("kind", "user");
      m.set("keys", tuf::json::Array{std::move(k)});
      ms.emplace_back(std::move(m));
    }
    tuf::json::Object team;
    team.set("name", "ops");
    team.set("members", std::move(ms));
    tuf::json::Object d;
    d.set("org", org);
    d.set("generated_at", "2026-12-08T03:00:00Z");
    d.set("teams", tuf::json::Array{std::move(team)});
    return d;
  }

  // Puts `document` into the simulator's targets as the roster target (the hashes are those of
  // the document, whether or not it parses as a roster) and signs.
  void carry(const tuf::json::Value& document) {
    tuf::FileMeta meta = tuf::FileMeta::of(as_bytes(tuf::json::canonical(document)));
    meta.custom = document;
    sim.targets.targets.clear();
    sim.targets.targets.emplace(std::string(tuf::kRosterTarget), std::move(meta));
    sim.publish();
  }

  tuf::UpdateStatus publish_all() {
    return repo.publish(kGun, parts_of(sim, {"root", "targets", "snapshot"}));
  }
};

TEST_CASE("a roster repository publishes like any repository when it carries a valid roster") {
  Fixture f;
  f.carry(f.doc("acme", {{"alice", f.alice}, {"bob", f.bob}}));
  REQUIRE(f.publish_all().ok());
  auto served = f.repo.get_current(kGun, "targets").value();
  auto targets = tuf::parse_targets(*served->bytes).value();
  auto roster = tuf::roster_from_targets(targets.content, "acme");
  REQUIRE(roster.ok());
  CHECK(roster->key_owners().at(f.bob.id()) == "bob");

  SUBCASE("and so v2 with a member removed") {
    f.sim.targets.version = 2;
    f.carry(f.doc("acme", {{"alice", f.alice}}));
    REQUIRE(f.repo.publish(kGun, parts_of(f.sim, {"targets"})).ok());
  }
  SUBCASE("an invalid roster in v2 is refused and v1 stays") {
    f.sim.targets.version = 2;
    f.carry(f.doc("acme", {{"alice", f.alice}, {"bob", f.alice}}));
    auto st = f.repo.publish(kGun, parts_of(f.sim, {"targets"}));
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().error_class == tuf::UpdateErrorClass::kBadTargets);
    CHECK(st.error().reason == Reason::kConflict);
    CHECK(st.error().message.find("members[1] \"bob\"") != std::string::npos);
    CHECK(f.repo.get_current(kGun, "targets").value()->bytes == served->bytes);
  }
}

TEST_CASE("a roster repository refuses targets without a valid roster of its org") {
  Fixture f;
  SUBCASE("no roster at all") {
    f.sim.publish();
  }
  SUBCASE("another org's roster") {
    f.carry(f.doc("other", {{"alice", f.alice}}));
  }
  SUBCASE("an unknown key type") {
    auto d = f.doc("acme", {{"alice", f.alice}});
    auto& team = d.as_object().find("teams")->as_array()[0].as_object();
    auto& member = team.find("members")->as_array()[0].as_object();
    member.find("keys")->as_array()[0].as_object().set("keytype", "dsa");
    f.carry(d);
  }
  SUBCASE("a second target beside the roster") {
    f.carry(f.doc("acme", {{"alice", f.alice}}));
    f.sim.add_target("extra", "x");
    f.sim.publish();
  }
  auto st = f.publish_all();
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().error_class == tuf::UpdateErrorClass::kBadTargets);
  CHECK(f.repo.get_current(kGun, "targets").error().reason == Reason::kNotFound);
}

TEST_CASE("a roster repository has no delegations") {
  Fixture f;
  f.carry(f.doc("acme", {{"alice", f.alice}}));
  f.sim.add_delegation("targets/extra", {""});
  f.sim.publish();
  auto st = f.repo.publish(kGun, parts_of(f.sim, {"root", "targets", "targets/extra", "snapshot"}));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().reason == Reason::kBadRole);
}

TEST_CASE("other repositories are not rosters") {
  CHECK(check_roster_update("vouch.example.com/acme/app", tuf::ValidatedUpdate{}).ok());
}

}  // namespace
}  // namespace vouch::server
