// The roster format (tuf/roster.h): a strict, bounded parser whose errors name the entry.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "keys/private_key.h"
#include "tuf/roster.h"

namespace vouch::tuf {
namespace {

struct Keys {
  keys::PublicKey a = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value().public_key();
  keys::PublicKey b = keys::PrivateKey::generate(keys::KeyType::kEd25519).value().public_key();
};

const Keys& test_keys() {
  static const Keys k;
  return k;
}

json::Value key_json(const keys::PublicKey& key) {
  json::Object o;
  o.set("keyid", key.id());
  o.set("keytype", keys::to_string(key.type()));
  o.set("public", base64_encode(key.public_bytes()));
  return o;
}

json::Value member_json(std::string name, std::string kind, json::Array keys) {
  json::Object o;
  o.set("name", std::move(name));
  o.set("kind", std::move(kind));
  o.set("keys", std::move(keys));
  return o;
}

json::Value team_json(std::string name, json::Array members) {
  json::Object o;
  o.set("name", std::move(name));
  o.set("members", std::move(members));
  return o;
}

// acme: ops = {alice (key a)}, ci = {acme/builder (key b), alice (key a)}.
json::Value good_doc() {
  const auto& k = test_keys();
  json::Object o;
  o.set("org", "acme");
  o.set("generated_at", "2026-12-08T03:00:00Z");
  o.set("teams",
        json::Array{team_json("ops", {member_json("alice", "user", {key_json(k.a)})}),
                    team_json("ci", {member_json("acme/builder", "service_account",
                                                 {key_json(k.b)}),
                                     member_json("alice", "user", {key_json(k.a)})})});
  return o;
}

// The member object at teams[t].members[m] of `doc`.
json::Object& member_at(json::Value& doc, std::size_t t, std::size_t m) {
  auto& team = doc.as_object().find("teams")->as_array()[t].as_object();
  return team.find("members")->as_array()[m].as_object();
}

Error parse_error(const json::Value& doc, const RosterLimits& limits = {}) {
  auto r = parse_roster(doc, limits);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

TEST_CASE("a valid roster parses, and to_json writes the same document back") {
  const json::Value doc = good_doc();
  auto r = parse_roster(doc);
  REQUIRE(r.ok());
  CHECK(r->org == "acme");
  REQUIRE(r->teams.size() == 2);
  REQUIRE(r->find_team("ci") != nullptr);
  CHECK(r->find_team("ci")->members[0].kind == RosterMemberKind::kServiceAccount);
  CHECK(r->find_team("nope") == nullptr);
  const auto owners = r->key_owners();
  CHECK(owners.at(test_keys().a.id()) == "alice");
  CHECK(owners.at(test_keys().b.id()) == "acme/builder");
  CHECK(to_json(*r) == doc);
  auto again = parse_roster_text(json::canonical(doc));
  REQUIRE(again.ok());
  CHECK(to_json(*again) == doc);
}

TEST_CASE("roster_from_listing builds the document from accounts, asking each member's keys once") {
  const auto& k = test_keys();
  std::map<std::string, int> asked;
  const std::map<std::string, std::vector<std::string>> members{
      {"ops", {"alice"}}, {"ci", {"acme/builder", "alice"}}};
  auto members_of = [&](const std::string& team) -> Result<std::vector<std::string>> {
    auto it = members.find(team);
    return it == members.end() ? std::vector<std::string>{} : it->second;
  };
  auto keys_of = [&](const std::string& member) -> Result<std::vector<keys::PublicKey>> {
    ++asked[member];
    return std::vector<keys::PublicKey>{member == "alice" ? k.a : k.b};
  };
  auto r = roster_from_listing("acme", "2026-12-08T03:00:00Z", {"ops", "ci"}, members_of, keys_of);
  REQUIRE(r.ok());
  CHECK(to_json(*r) == good_doc());
  CHECK(asked == std::map<std::string, int>{{"acme/builder", 1}, {"alice", 1}});

  // A listing that makes no valid roster is refused as parse_roster refuses it; a lookup's
  // error is returned as it is.
  auto bad = roster_from_listing("acme", "2026-12-08T03:00:00Z", {"Bad Team"}, members_of,
                                 keys_of);
  CHECK_FALSE(bad.ok());
  auto failing = [](const std::string&) -> Result<std::vector<keys::PublicKey>> {
    return make_error(Reason::kIo, "listing failed");
  };
  auto err = roster_from_listing("acme", "2026-12-08T03:00:00Z", {"ops"}, members_of, failing);
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().reason == Reason::kIo);
}

TEST_CASE("a key listed under two members is refused, naming the entry") {
  json::Value doc = good_doc();
  // bob in ci also lists alice's key.
  auto& ci = doc.as_object().find("teams")->as_array()[1].as_object();
  ci.find("members")->as_array().push_back(member_json("bob", "user", {key_json(test_keys().a)}));
  const Error e = parse_error(doc);
  CHECK(e.reason == Reason::kConflict);
  CHECK(e.code == Code::kInvalidArgument);
  CHECK(e.message.find("teams[1] \"ci\": members[2] \"bob\": keys[0]") != std::string::npos);
  CHECK(e.message.find("\"alice\"") != std::string::npos);
}

TEST_CASE("an unknown key type is refused, naming the entry") {
  json::Value doc = good_doc();
  auto& key = member_at(doc, 0, 0).find("keys")->as_array()[0].as_object();
  key.set("keytype", "dsa");
  const Error e = parse_error(doc);
  CHECK(e.reason == Reason::kUnsupportedAlgorithm);
  CHECK(e.message.find("teams[0] \"ops\": members[0] \"alice\": keys[0]: unknown keytype \"dsa\"") !=
        std::string::npos);
}

TEST_CASE("key material must be the stated type and ID") {
  SUBCASE("wrong keytype for the material") {
    json::Value doc = good_doc();
    member_at(doc, 0, 0).find("keys")->as_array()[0].as_object().set("keytype", "ed25519");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
  }
  SUBCASE("wrong keyid") {
    json::Value doc = good_doc();
    member_at(doc, 0, 0).find("keys")->as_array()[0].as_object().set("keyid", test_keys().b.id());
    CHECK(parse_error(doc).reason == Reason::kMalformed);
  }
  SUBCASE("not base64") {
    json::Value doc = good_doc();
    member_at(doc, 0, 0).find("keys")->as_array()[0].as_object().set("public", "hello!");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
  }
}

TEST_CASE("structure is strict") {
  SUBCASE("unknown field") {
    json::Value doc = good_doc();
    member_at(doc, 0, 0).set("admin", true);
    const Error e = parse_error(doc);
    CHECK(e.reason == Reason::kMalformed);
    CHECK(e.message.find("unknown field \"admin\"") != std::string::npos);
  }
  SUBCASE("missing field") {
    json::Value doc = good_doc();
    doc.as_object().erase("generated_at");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
  }
  SUBCASE("bad time") {
    json::Value doc = good_doc();
    doc.as_object().set("generated_at", "yesterday");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
  }
  SUBCASE("unknown kind") {
    json::Value doc = good_doc();
    member_at(doc, 0, 0).set("kind", "robot");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
  }
  SUBCASE("user name with a slash, service account without") {
    json::Value doc = good_doc();
    member_at(doc, 0, 0).set("name", "a/b");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
    json::Value doc2 = good_doc();
    member_at(doc2, 1, 0).set("name", "builder");
    CHECK(parse_error(doc2).reason == Reason::kMalformed);
  }
  SUBCASE("team listed twice") {
    json::Value doc = good_doc();
    doc.as_object().find("teams")->as_array().push_back(team_json("ops", {}));
    CHECK(parse_error(doc).reason == Reason::kDuplicateKey);
  }
  SUBCASE("member listed twice in a team") {
    json::Value doc = good_doc();
    auto& ops = doc.as_object().find("teams")->as_array()[0].as_object();
    ops.find("members")->as_array().push_back(member_json("alice", "user", {}));
    CHECK(parse_error(doc).reason == Reason::kDuplicateKey);
  }
  SUBCASE("a member's kind differs between teams") {
    json::Value doc = good_doc();
    member_at(doc, 1, 1).set("kind", "service_account");
    member_at(doc, 1, 1).set("name", "alice/x");
    // alice/x now owns alice's key: a conflict between two members.
    CHECK(parse_error(doc).reason == Reason::kConflict);
  }
  SUBCASE("wrong JSON types") {
    json::Value doc = good_doc();
    doc.as_object().set("teams", "ops");
    CHECK(parse_error(doc).reason == Reason::kMalformed);
    CHECK(parse_roster(json::Value(json::Array{})).error().reason == Reason::kMalformed);
  }
}

TEST_CASE("counts, sizes and depth are bounded") {
  const json::Value doc = good_doc();
  RosterLimits limits;
  SUBCASE("teams") {
    limits.max_teams = 1;
    CHECK(parse_error(doc, limits).reason == Reason::kTooLarge);
  }
  SUBCASE("members") {
    limits.max_members_per_team = 1;
    CHECK(parse_error(doc, limits).reason == Reason::kTooLarge);
  }
  SUBCASE("keys per member") {
    limits.max_keys_per_member = 0;
    CHECK(parse_error(doc, limits).reason == Reason::kTooLarge);
  }
  SUBCASE("key entries") {
    limits.max_key_entries = 2;
    CHECK(parse_error(doc, limits).reason == Reason::kTooLarge);
  }
  SUBCASE("public bytes") {
    limits.max_public_bytes = 10;
    CHECK(parse_error(doc, limits).reason == Reason::kTooLarge);
  }
  SUBCASE("document bytes") {
    limits.max_bytes = 100;
    CHECK(parse_error(doc, limits).reason == Reason::kTooLarge);
    CHECK(parse_roster_text(json::canonical(doc), limits).error().reason == Reason::kTooLarge);
  }
  SUBCASE("depth") {
    std::string deep(20, '[');
    deep += std::string(20, ']');
    CHECK(parse_roster_text(deep).error().reason == Reason::kTooDeep);
  }
}

TEST_CASE("a roster travels in the targets role's custom field, bound to its hashes") {
  auto roster = parse_roster(good_doc()).value();
  Targets targets;
  targets.targets.emplace(std::string(kRosterTarget), roster_target_meta(roster));
  auto back = roster_from_targets(targets, "acme");
  REQUIRE(back.ok());
  CHECK(to_json(*back) == good_doc());

  SUBCASE("another org's roster") {
    CHECK(roster_from_targets(targets, "other").error().reason == Reason::kMalformed);
  }
  SUBCASE("custom edited without the hashes") {
    auto& meta = targets.targets.begin()->second;
    meta.custom->as_object().set("org", "acmf");
    CHECK(roster_from_targets(targets, "").error().reason == Reason::kHashMismatch);
  }
  SUBCASE("no custom") {
    targets.targets.begin()->second.custom.reset();
    CHECK(roster_from_targets(targets, "acme").error().reason == Reason::kMalformed);
  }
  SUBCASE("a second target") {
    targets.targets.emplace("other", FileMeta::of(as_bytes("x")));
    CHECK(roster_from_targets(targets, "acme").error().reason == Reason::kBadPath);
  }
  SUBCASE("no target") {
    targets.targets.clear();
    CHECK(roster_from_targets(targets, "acme").error().reason == Reason::kBadPath);
  }
}

TEST_CASE("diff_rosters lists membership changes, not times or order") {
  const Roster before = parse_roster(good_doc()).value();
  CHECK(diff_rosters(&before, before).empty());
  json::Value doc = good_doc();
  doc.as_object().set("generated_at", "2027-01-01T00:00:00Z");
  auto& ci = doc.as_object().find("teams")->as_array()[1].as_object();
  ci.find("members")->as_array().pop_back();  // alice leaves ci
  const Roster after = parse_roster(doc).value();
  const auto lines = diff_rosters(&before, after);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "- key ci/alice " + test_keys().a.id() + " (ecdsa)");
  CHECK(lines[1] == "- member ci/alice (user)");
  CHECK(diff_rosters(nullptr, after).size() == 6);
}

// The fuzz seeds carry keys and key IDs made by openssl and Python
// (tests/data/roster/make_fuzz_seeds.py): our parser must agree with them.
TEST_CASE("the fuzz seeds made by a third party parse as their names say") {
  const std::filesystem::path dir =
      std::filesystem::path(VOUCH_TEST_DATA) / ".." / "fuzz" / "corpus" / "fuzz_roster";
  auto read = [&](const char* name) {
    std::ifstream in(dir / name);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  for (const char* name : {"valid", "valid-certificate", "valid-empty"}) {
    CAPTURE(name);
    CHECK(parse_roster_text(read(name)).ok());
  }
  auto cert = parse_roster_text(read("valid-certificate")).value();
  CHECK(cert.teams[0].members[0].keys[0].key.type() == keys::KeyType::kEcdsaX509);
  CHECK(parse_roster_text(read("key-under-two-members")).error().reason == Reason::kConflict);
  CHECK(parse_roster_text(read("unknown-keytype")).error().reason ==
        Reason::kUnsupportedAlgorithm);
  CHECK(parse_roster_text(read("unknown-field")).error().reason == Reason::kMalformed);
  CHECK_FALSE(parse_roster_text(read("not-json")).ok());
}

TEST_CASE("roster GUNs") {
  CHECK(roster_gun_org("vouch.example.com/_roster/acme") == "acme");
  CHECK(roster_gun_org("localhost:4443/_roster/acme") == "acme");
  CHECK(roster_gun_org("vouch.example.com/_roster/acme/x") == "");
  CHECK(roster_gun_org("vouch.example.com/_rosterx/acme") == "");
  CHECK(roster_gun_org("_roster/acme") == "");
  CHECK(roster_gun_org("vouch.example.com/acme/app") == "");
  CHECK(roster_gun_org("vouch.example.com/_roster/") == "");
}

}  // namespace
}  // namespace vouch::tuf
