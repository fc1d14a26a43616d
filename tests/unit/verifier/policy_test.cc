// The verifier's policy (verifier/policy.h, verifier/yaml_json.h): YAML and JSON documents
// giving one model, validation with the path of every bad field, rule matching and
// "most specific wins".

#include "verifier/policy.h"

#include <doctest/doctest.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "keys/private_key.h"
#include "keys/root_certificate.h"
#include "tests/unit/verifier/verifier_test_util.h"
#include "tuf/json.h"

namespace vouch::verifier {
namespace {

namespace json = tuf::json;
using testing::json_str;
using testing::public_pem;
using testing::yaml_block;

const TimePoint kNow{std::chrono::sys_days(std::chrono::year{2026} / 11 / 28).time_since_epoch()};
const std::string kRootKeyId(64, 'a');

struct Keys {
  keys::PrivateKey alice = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  keys::PrivateKey bob = keys::PrivateKey::generate(keys::KeyType::kEd25519).value();
  keys::PrivateKey carol = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
  std::string alice_pem = public_pem(alice.public_key());
  std::string bob_pem = public_pem(bob.public_key());
  // Carol's key as an X.509 certificate (as UCP client bundles hold them).
  keys::Certificate carol_cert =
      keys::make_root_certificate(carol, "carol", kNow - std::chrono::hours(24),
                                  kNow + std::chrono::hours(24 * 365))
          .value();
};

Keys& test_keys() {
  static Keys k;
  return k;
}

// A policy using every section, in YAML.
std::string full_yaml() {
  const Keys& k = test_keys();
  return "# every section of a policy\n"
         "version: 1\n"
         "unmatched: deny\n"
         "teams:\n"
         "  qa:\n"
         "    members:\n"
         "      - name: alice\n"
         "        keys:\n"
         "          - " +
         yaml_block(k.alice_pem, 12) +
         "      - name: carol\n"
         "        keys:\n"
         "          - " +
         yaml_block(k.carol_cert.pem(), 12) +
         "  sec:\n"
         "    members:\n"
         "      - name: bob\n"
         "        keys:\n"
         "          - " +
         yaml_block(k.bob_pem, 12) +
         "      - name: alice\n"
         "        keys:\n"
         "          - " +
         yaml_block(k.alice_pem, 12) +
         "trust:\n"
         "  - prefix: registry.example.com/\n"
         "    server: https://notary.example.com:4443\n"
         "    root_keys: [" +
         kRootKeyId +
         "]\n"
         "    credentials: {username: ci, password_env: NOTARY_PASSWORD}\n"
         "  - prefix: docker.io\n"
         "    server: 'https://notary.docker.io'\n"
         "    tofu: true\n"
         "rules:\n"
         "  - name: production\n"
         "    pattern: registry.example.com/prod/**\n"
         "    require:\n"
         "      all-of: [qa, sec]\n"
         "      min-signers: 2\n"
         "      roles: [targets/releases]\n"
         "    mode: enforce\n"
         "  - pattern: registry.example.com/dev/*\n"
         "    require:\n"
         "      any-of:\n"
         "        - qa\n"
         "    mode: warn\n"
         "  - pattern: docker.io/library/*\n"
         "    allow: true\n"
         "  - pattern: \"**\"\n"
         "    deny: true\n";
}

// The same policy in JSON, written independently.
std::string full_json() {
  const Keys& k = test_keys();
  return R"({
  "rules": [
    {"name": "production", "pattern": "registry.example.com/prod/**",
     "require": {"all-of": ["qa", "sec"], "min-signers": 2, "roles": ["targets/releases"]},
     "mode": "enforce"},
    {"pattern": "registry.example.com/dev/*", "require": {"any-of": ["qa"]}, "mode": "warn"},
    {"pattern": "docker.io/library/*", "allow": true},
    {"pattern": "**", "deny": true}
  ],
  "trust": [
    {"prefix": "registry.example.com/", "server": "https://notary.example.com:4443",
     "root_keys": [")" +
         kRootKeyId + R"("],
     "credentials": {"username": "ci", "password_env": "NOTARY_PASSWORD"}},
    {"prefix": "docker.io", "server": "https://notary.docker.io", "tofu": true}
  ],
  "teams": {
    "sec": {"members": [{"name": "bob", "keys": [)" +
         json_str(k.bob_pem) + R"(]},
                        {"name": "alice", "keys": [)" +
         json_str(k.alice_pem) + R"(]}]},
    "qa": {"members": [{"name": "alice", "keys": [)" +
         json_str(k.alice_pem) + R"(]},
                       {"name": "carol", "keys": [)" +
         json_str(k.carol_cert.pem()) + R"(]}]}
  },
  "unmatched": "deny",
  "version": 1
})";
}

// Everything the model holds, as text, to compare two models.
std::string describe(const Policy& p) {
  std::ostringstream out;
  out << "unmatched=" << to_string(p.unmatched()) << "\n";
  for (const Team& t : p.teams()) {
    out << "team " << t.name << "\n";
    for (const Member& m : t.members) {
      out << "  member " << m.name;
      for (const MemberKey& k : m.keys) {
        out << " key=" << k.id << "/" << keys::to_string(k.key.type());
        if (k.validity.not_after) out << " until " << format_rfc3339(*k.validity.not_after);
      }
      out << "\n";
    }
  }
  for (const TrustSection& t : p.trust()) {
    out << "trust " << t.prefix << " " << t.server << " tofu=" << t.tofu;
    for (const auto& id : t.root_keys) out << " pin=" << id;
    out << " ca=" << t.root_ca.size() << " tls=" << t.tls_ca.size();
    if (t.credentials) {
      out << " user=" << t.credentials->username << " env=" << t.credentials->password_env;
    }
    out << "\n";
  }
  for (const Rule& r : p.rules()) {
    out << "rule " << r.index << " " << r.name << " " << r.pattern << " " << to_string(r.action)
        << " " << to_string(r.mode);
    if (r.action == RuleAction::kRequire) {
      out << (r.require.combine == TeamsCombine::kAllOf ? " all-of" : " any-of");
      for (const auto& t : r.require.teams) out << " " << t;
      out << " min=" << r.require.min_signers;
      for (const auto& role : r.require.roles) out << " role=" << role;
    }
    out << "\n";
  }
  return out.str();
}

TEST_CASE("a YAML policy and its JSON translation give the same model and version") {
  auto from_yaml = Policy::parse(full_yaml(), PolicyFormat::kYaml);
  REQUIRE_MESSAGE(from_yaml.ok(), from_yaml.error().message);
  auto from_json = Policy::parse(full_json(), PolicyFormat::kJson);
  REQUIRE_MESSAGE(from_json.ok(), from_json.error().message);
  CHECK(describe(*from_yaml) == describe(*from_json));
  CHECK(from_yaml->version() == from_json->version());
  CHECK(from_yaml->version().size() == 64);

  const Policy& p = *from_yaml;
  const Keys& k = test_keys();
  REQUIRE(p.teams().size() == 2);
  const Team* qa = p.team("qa");
  REQUIRE(qa != nullptr);
  REQUIRE(qa->members.size() == 2);
  CHECK(qa->members[0].name == "alice");
  CHECK(qa->members[0].keys[0].id == k.alice.public_key().canonical_id());
  // A certificate member key: identified by the canonical ID of its key, valid for a period.
  const MemberKey& carol = qa->members[1].keys[0];
  CHECK(carol.key.type() == keys::KeyType::kEcdsaX509);
  CHECK(carol.id == k.carol.public_key().canonical_id());
  REQUIRE(carol.validity.not_after);
  CHECK(*carol.validity.not_after == k.carol_cert.not_after());
  // Alice is one person in two teams: her key has an owner entry per team.
  const auto& owners = p.owners_of(k.alice.public_key().canonical_id());
  REQUIRE(owners.size() == 2);
  CHECK(owners[0].member == "alice");
  CHECK(owners[1].member == "alice");
  CHECK(owners[0].team != owners[1].team);
  CHECK(p.owners_of(std::string(64, '0')).empty());
  CHECK(p.member_names("sec") == std::vector<std::string>{"bob", "alice"});

  REQUIRE(p.trust().size() == 2);
  CHECK(p.trust()[0].prefix == "registry.example.com");  // trailing '/' dropped
  REQUIRE(p.trust()[0].credentials);
  CHECK(p.trust()[0].credentials->password_env == "NOTARY_PASSWORD");
  REQUIRE(p.rules().size() == 4);
  CHECK(p.rules()[0].name == "production");
  CHECK(p.rules()[1].name == "registry.example.com/dev/*");  // the pattern by default
  CHECK(p.rules()[1].mode == Mode::kWarn);
  CHECK(p.rules()[1].require.combine == TeamsCombine::kAnyOf);
  CHECK(p.rules()[1].require.min_signers == 1);
  CHECK(p.rules()[0].require.roles == std::vector<std::string>{"targets/releases"});
  CHECK(p.rules()[2].action == RuleAction::kAllow);
  CHECK(p.rules()[3].action == RuleAction::kDeny);
}

TEST_CASE("the policy version changes with the content, not with formatting") {
  const std::string a = R"({"rules": [{"pattern": "a.io/x", "allow": true}]})";
  const std::string b = "rules:\n  - allow: true\n    pattern: a.io/x\n";
  const std::string c = R"({"rules": [{"pattern": "a.io/y", "allow": true}]})";
  auto pa = Policy::parse(a, PolicyFormat::kJson);
  auto pb = Policy::parse(b, PolicyFormat::kYaml);
  auto pc = Policy::parse(c, PolicyFormat::kJson);
  REQUIRE(pa.ok());
  REQUIRE(pb.ok());
  REQUIRE(pc.ok());
  CHECK(pa->version() == pb->version());
  CHECK(pa->version() != pc->version());
}

// ---- Validation: every problem names the field ----

// A valid policy to break one field at a time.
json::Value base_document() {
  const Keys& k = test_keys();
  const std::string text = R"({
    "teams": {
      "release": {"members": [{"name": "alice", "keys": [)" +
                           json_str(k.alice_pem) + R"(]}]},
      "sec": {"members": [{"name": "bob", "keys": [)" +
                           json_str(k.bob_pem) + R"(]}]}
    },
    "trust": [{"prefix": "registry.example.com", "server": "https://notary.example.com",
               "root_keys": [")" +
                           kRootKeyId + R"("]}],
    "rules": [
      {"pattern": "registry.example.com/prod/*", "require": {"all-of": ["release", "sec"]}},
      {"pattern": "registry.example.com/dev/*", "require": {"any-of": ["release"]}},
      {"pattern": "registry.example.com/test/*", "require": {"all-of": ["sec"]}},
      {"pattern": "**", "deny": true}
    ]
  })";
  return json::parse(text).value();
}

json::Object& obj(json::Value& v) { return v.as_object(); }
json::Value& field(json::Value& v, std::string_view key) { return *v.as_object().find(key); }
json::Value& item(json::Value& v, std::size_t i) { return v.as_array()[i]; }
json::Value& rule(json::Value& doc, std::size_t i) { return item(field(doc, "rules"), i); }
json::Value& req(json::Value& doc, std::size_t i) { return field(rule(doc, i), "require"); }
json::Value& trust0(json::Value& doc) { return item(field(doc, "trust"), 0); }
json::Value& member(json::Value& doc, std::string_view team, std::size_t i) {
  return item(field(field(field(doc, "teams"), team), "members"), i);
}

struct BadCase {
  std::string what;
  std::function<void(json::Value&)> edit;
  std::string path;
  Reason reason;
};

TEST_CASE("validation: each bad field is reported with its path and a reason") {
  const Keys& k = test_keys();
  const std::vector<BadCase> cases = {
      {"unknown team", [](json::Value& d) { obj(req(d, 2)).set("all-of", json::Array{"qa"}); },
       "rules[2].require.all-of[0]", Reason::kNotFound},
      {"misspelt field", [](json::Value& d) { obj(req(d, 0)).set("min_signers", 2); },
       "rules[0].require.min_signers", Reason::kMalformed},
      {"min-signers above the members",
       [](json::Value& d) { obj(req(d, 0)).set("min-signers", 3); }, "rules[0].require.min-signers",
       Reason::kMalformed},
      {"all-of teams that only one person could sign for",
       [](json::Value& d) {
         obj(member(d, "sec", 0)).set("name", "alice");
         obj(member(d, "sec", 0)).set("keys", json::Array{test_keys().alice_pem});
       },
       "rules[0].require.all-of", Reason::kMalformed},
      {"allow-same-member with any-of",
       [](json::Value& d) { obj(req(d, 1)).set("allow-same-member", true); },
       "rules[1].require.allow-same-member", Reason::kMalformed},
      {"allow-same-member as a string",
       [](json::Value& d) { obj(req(d, 0)).set("allow-same-member", "yes"); },
       "rules[0].require.allow-same-member", Reason::kWrongType},
      {"min-signers zero", [](json::Value& d) { obj(req(d, 0)).set("min-signers", 0); },
       "rules[0].require.min-signers", Reason::kMalformed},
      {"min-signers as a string", [](json::Value& d) { obj(req(d, 0)).set("min-signers", "2"); },
       "rules[0].require.min-signers", Reason::kWrongType},
      {"not a targets role",
       [](json::Value& d) {
         obj(req(d, 0)).set("roles", json::Array{"targets/releases", "releases"});
       },
       "rules[0].require.roles[1]", Reason::kBadRole},
      {"all-of and any-of",
       [](json::Value& d) { obj(req(d, 0)).set("any-of", json::Array{"sec"}); }, "rules[0].require",
       Reason::kMalformed},
      {"no teams", [](json::Value& d) { obj(req(d, 0)).set("all-of", json::Array{}); },
       "rules[0].require.all-of", Reason::kMalformed},
      {"a team twice",
       [](json::Value& d) {
         obj(req(d, 0)).set("all-of", json::Array{"sec", "sec"});
       },
       "rules[0].require.all-of[1]", Reason::kDuplicateKey},
      {"two actions", [](json::Value& d) { obj(rule(d, 1)).set("allow", true); }, "rules[1]",
       Reason::kMalformed},
      {"no action", [](json::Value& d) { obj(rule(d, 3)).erase("deny"); }, "rules[3]",
       Reason::kMalformed},
      {"deny: false", [](json::Value& d) { obj(rule(d, 3)).set("deny", false); }, "rules[3].deny",
       Reason::kMalformed},
      {"pattern without registry",
       [](json::Value& d) { obj(rule(d, 3)).set("pattern", "myorg/app"); }, "rules[3].pattern",
       Reason::kMalformed},
      {"pattern that matches nothing", [](json::Value& d) { obj(rule(d, 3)).set("pattern", "*"); },
       "rules[3].pattern", Reason::kMalformed},
      {"pattern with a bad character",
       [](json::Value& d) { obj(rule(d, 3)).set("pattern", "a.io/x y"); }, "rules[3].pattern",
       Reason::kMalformed},
      {"same pattern twice",
       [](json::Value& d) { obj(rule(d, 1)).set("pattern", "registry.example.com/prod/*"); },
       "rules[1].pattern", Reason::kDuplicateKey},
      {"same name twice",
       [](json::Value& d) {
         obj(rule(d, 0)).set("name", "r");
         obj(rule(d, 2)).set("name", "r");
       },
       "rules[2].name", Reason::kDuplicateKey},
      {"unknown mode", [](json::Value& d) { obj(rule(d, 1)).set("mode", "strict"); },
       "rules[1].mode", Reason::kMalformed},
      {"require without a trust section",
       [](json::Value& d) { obj(rule(d, 1)).set("pattern", "other.io/dev/*"); }, "rules[1].require",
       Reason::kNotFound},
      {"not a PEM key",
       [](json::Value& d) { obj(member(d, "sec", 0)).set("keys", json::Array{"not a key"}); },
       "teams.sec.members[0].keys[0]", Reason::kMalformed},
      {"a key as a number",
       [](json::Value& d) { obj(member(d, "sec", 0)).set("keys", json::Array{7}); },
       "teams.sec.members[0].keys[0]", Reason::kWrongType},
      {"one key, two people",
       [&](json::Value& d) {
         obj(member(d, "sec", 0)).set("keys", json::Array{k.bob_pem, k.alice_pem});
       },
       "teams.sec.members[0].keys[1]", Reason::kDuplicateKey},
      {"a member without keys",
       [](json::Value& d) { obj(member(d, "sec", 0)).set("keys", json::Array{}); },
       "teams.sec.members[0].keys", Reason::kMalformed},
      {"a member without a name", [](json::Value& d) { obj(member(d, "sec", 0)).erase("name"); },
       "teams.sec.members[0].name", Reason::kMalformed},
      {"a team without members",
       [](json::Value& d) { obj(field(field(d, "teams"), "sec")).set("members", json::Array{}); },
       "teams.sec.members", Reason::kMalformed},
      {"a bad team name",
       [](json::Value& d) {
         json::Value team = field(field(d, "teams"), "sec");
         obj(field(d, "teams")).set("-sec", std::move(team));
       },
       "teams.-sec", Reason::kMalformed},
      {"plain http", [](json::Value& d) { obj(trust0(d)).set("server", "http://notary"); },
       "trust[0].server", Reason::kMalformed},
      {"no root pin", [](json::Value& d) { obj(trust0(d)).erase("root_keys"); }, "trust[0]",
       Reason::kMalformed},
      {"a bad root key ID",
       [](json::Value& d) { obj(trust0(d)).set("root_keys", json::Array{"abc"}); },
       "trust[0].root_keys[0]", Reason::kMalformed},
      {"a bad root CA", [](json::Value& d) { obj(trust0(d)).set("root_ca", "garbage"); },
       "trust[0].root_ca", Reason::kMalformed},
      {"a bad TLS CA", [](json::Value& d) { obj(trust0(d)).set("tls_ca", "garbage"); },
       "trust[0].tls_ca", Reason::kMalformed},
      {"a username with a token",
       [](json::Value& d) {
         json::Object c;
         c.set("username", "ci");
         c.set("token_file", "/run/token");
         obj(trust0(d)).set("credentials", std::move(c));
       },
       "trust[0].credentials.username", Reason::kMalformed},
      {"a password without a username",
       [](json::Value& d) {
         json::Object c;
         c.set("password_file", "/run/pw");
         obj(trust0(d)).set("credentials", std::move(c));
       },
       "trust[0].credentials.username", Reason::kMalformed},
      {"a prefix twice",
       [](json::Value& d) {
         json::Value copy = trust0(d);
         obj(copy).set("prefix", "registry.example.com/");
         field(d, "trust").as_array().push_back(std::move(copy));
       },
       "trust[1].prefix", Reason::kDuplicateKey},
      {"strict_pinning as a string",
       [](json::Value& d) { obj(trust0(d)).set("strict_pinning", "yes"); },
       "trust[0].strict_pinning", Reason::kWrongType},
      {"version 2", [](json::Value& d) { obj(d).set("version", 2); }, "version",
       Reason::kBadVersion},
      {"unmatched: maybe", [](json::Value& d) { obj(d).set("unmatched", "maybe"); }, "unmatched",
       Reason::kMalformed},
      {"unknown top-level field", [](json::Value& d) { obj(d).set("rule", json::Array{}); }, "rule",
       Reason::kMalformed},
      {"rules as an object", [](json::Value& d) { obj(d).set("rules", json::Object{}); }, "rules",
       Reason::kWrongType},
      {"not an object", [](json::Value& d) { d = json::Array{}; }, "", Reason::kWrongType},
  };
  for (const BadCase& c : cases) {
    CAPTURE(c.what);
    json::Value doc = base_document();
    REQUIRE(check_policy(doc).empty());
    c.edit(doc);
    const auto problems = check_policy(doc);
    std::string listed;
    for (const auto& p : problems) listed += p.path + ": " + p.message + "\n";
    REQUIRE_MESSAGE(problems.size() == 1, problems.size() << " problems:\n" << listed);
    CHECK(problems[0].path == c.path);
    CHECK_MESSAGE(problems[0].reason == c.reason, problems[0].message);
    CHECK_FALSE(problems[0].message.empty());
    // Policy::from_json refuses it with the same reason.
    auto policy = Policy::from_json(doc);
    REQUIRE_FALSE(policy.ok());
    CHECK(policy.error().reason == c.reason);
  }
}

TEST_CASE("validation: all problems are reported, not just the first") {
  json::Value doc = base_document();
  obj(req(doc, 2)).set("all-of", json::Array{"qa"});
  obj(trust0(doc)).set("server", "ftp://x");
  obj(rule(doc, 3)).set("mode", "loud");
  const auto problems = check_policy(doc);
  REQUIRE(problems.size() == 3);
  CHECK(problems[0].path == "trust[0].server");
  CHECK(problems[1].path == "rules[2].require.all-of[0]");
  CHECK(problems[2].path == "rules[3].mode");
  // The error of a policy that does not load names each of them, not "and 2 more".
  auto policy = Policy::from_json(doc);
  REQUIRE_FALSE(policy.ok());
  for (const auto& p : problems) {
    CHECK_MESSAGE(policy.error().message.find(p.path + ": " + p.message) != std::string::npos,
                  policy.error().message);
  }
}

TEST_CASE("certificates and bare keys are the same member key") {
  const Keys& k = test_keys();
  const std::string carol_key = public_pem(k.carol.public_key());
  auto doc = [&](const std::string& members) {
    return json::parse(R"({"teams": {"qa": {"members": [)" + members + "]}}}").value();
  };
  // Carol listing her certificate and her bare key: one key, listed twice.
  auto twice = check_policy(doc(R"({"name": "carol", "keys": [)" + json_str(k.carol_cert.pem()) +
                                ", " + json_str(carol_key) + "]}"));
  REQUIRE(twice.size() == 1);
  CHECK(twice[0].path == "teams.qa.members[0].keys[1]");
  CHECK(twice[0].reason == Reason::kDuplicateKey);
  // Dave claiming the key behind Carol's certificate.
  auto shared = check_policy(doc(R"({"name": "carol", "keys": [)" + json_str(k.carol_cert.pem()) +
                                 R"(]}, {"name": "dave", "keys": [)" + json_str(carol_key) + "]}"));
  REQUIRE(shared.size() == 1);
  CHECK(shared[0].path == "teams.qa.members[1].keys[0]");
  CHECK(shared[0].reason == Reason::kDuplicateKey);
  // A public key file as `docker trust key generate` writes it, with its "role:" header.
  const std::string with_header =
      "-----BEGIN PUBLIC KEY-----\nrole: alice\n\n" + carol_key.substr(carol_key.find('\n') + 1);
  auto policy =
      Policy::from_json(doc(R"({"name": "carol", "keys": [)" + json_str(with_header) + "]}"));
  REQUIRE_MESSAGE(policy.ok(), policy.error().message);
  CHECK(policy->team("qa")->members[0].keys[0].id == k.carol.public_key().canonical_id());
}

// ---- YAML ----

TEST_CASE("YAML: scalars follow the YAML 1.2 core schema") {
  auto v = yaml_to_json(
      "a: 2\nb: '2'\nc: true\nd: yes\ne: ~\nf:\ng: 1.5\nh: -7\ni: \"x\"\nj: 99999999999999999999\n"
      "k: !!str 3\nl: +5\nm: +-5\nn: -+5\n");
  REQUIRE_MESSAGE(v.ok(), v.error().message);
  const json::Value& d = *v;
  CHECK(*d.find("a") == json::Value(2));
  CHECK(*d.find("b") == json::Value("2"));
  CHECK(*d.find("c") == json::Value(true));
  CHECK(*d.find("d") == json::Value("yes"));
  CHECK(d.find("e")->is_null());
  CHECK(d.find("f")->is_null());
  CHECK(*d.find("g") == json::Value("1.5"));
  CHECK(*d.find("h") == json::Value(-7));
  CHECK(*d.find("i") == json::Value("x"));
  CHECK(*d.find("j") == json::Value("99999999999999999999"));  // beyond int64: kept as text
  CHECK(*d.find("k") == json::Value("3"));
  CHECK(*d.find("l") == json::Value(5));
  CHECK(*d.find("m") == json::Value("+-5"));  // one sign at most
  CHECK(*d.find("n") == json::Value("-+5"));
}

TEST_CASE("YAML: anchors expand; bad documents are refused with a reason") {
  auto anchors = yaml_to_json("x: &k [1, 2]\ny: *k\n");
  REQUIRE(anchors.ok());
  CHECK(*anchors->find("y") == *anchors->find("x"));

  struct Bad {
    std::string text;
    Reason reason;
  };
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    const char prev = static_cast<char>(c - 1);
    laughs += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
              prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
              ", *" + prev + "]\n";
  }
  const std::vector<Bad> bad = {
      {"a: 1\na: 2\n", Reason::kDuplicateKey},
      {"a: [1\n", Reason::kMalformed},
      {"a: 1\n---\nb: 2\n", Reason::kMalformed},
      {"", Reason::kMalformed},
      {"# only a comment\n", Reason::kMalformed},
      {"a: !!binary aGVsbG8=\n", Reason::kMalformed},
      {"? [a, b]\n: c\n", Reason::kMalformed},
      {laughs, Reason::kTooLarge},
      {std::string(40, '[') + std::string(40, ']'), Reason::kTooDeep},
      {"a: b\xff"
       "c\n",
       Reason::kInvalidUtf8},  // a raw byte that is not UTF-8
  };
  for (const Bad& b : bad) {
    CAPTURE(b.text.substr(0, 60));
    auto r = yaml_to_json(b.text);
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().reason == b.reason, r.error().message);
  }
  // The same limits hold for a policy in either format.
  DocumentLimits small;
  small.max_bytes = 16;
  CHECK(
      Policy::parse("rules: []\n# padding padding\n", PolicyFormat::kYaml, small).error().reason ==
      Reason::kTooLarge);
  CHECK(Policy::parse(R"({"rules": [], "unmatched": "deny"})", PolicyFormat::kJson, small)
            .error()
            .reason == Reason::kTooLarge);
  CHECK(Policy::parse(R"({"rules": [], "rules": []})", PolicyFormat::kJson).error().reason ==
        Reason::kDuplicateKey);
}

// ---- Matching ----

Policy rules_policy(const std::vector<std::string>& patterns) {
  std::string text = R"({"rules": [)";
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    if (i != 0) text += ", ";
    text += R"({"name": "r)" + std::to_string(i) + R"(", "pattern": )" + json_str(patterns[i]) +
            R"(, "allow": true})";
  }
  auto p = Policy::parse(text + "]}", PolicyFormat::kJson);
  REQUIRE_MESSAGE(p.ok(), p.error().message);
  return std::move(*p);
}

std::string matched(const Policy& p, const std::string& image) {
  auto ref = parse_image_ref(image);
  REQUIRE_MESSAGE(ref.ok(), ref.error().message);
  const Rule* r = p.match(*ref);
  return r == nullptr ? "none" : r->name;
}

TEST_CASE("globs: * stays within a path component, ** crosses them, ? is one character") {
  CHECK(glob_match("a.io/*", "a.io/x", true));
  CHECK_FALSE(glob_match("a.io/*", "a.io/x/y", true));
  CHECK(glob_match("a.io/**", "a.io/x/y", true));
  CHECK(glob_match("a.io/**", "a.io/", true));
  CHECK(glob_match("a.io/*/app", "a.io/team/app", true));
  CHECK_FALSE(glob_match("a.io/*/app", "a.io/app", true));
  CHECK(glob_match("a.io/**/app", "a.io/x/y/app", true));
  CHECK(glob_match("a.io/ap?", "a.io/app", true));
  CHECK_FALSE(glob_match("a.io/ap?", "a.io/ap/", true));
  CHECK_FALSE(glob_match("a.io/ap?", "a.io/ap", true));
  CHECK(glob_match("**", "docker.io/library/nginx", true));
  CHECK_FALSE(glob_match("*", "docker.io/library/nginx", true));
  CHECK(glob_match("*", "x/y", false));
  CHECK(glob_match("release-*", "release-1.2", false));
  CHECK_FALSE(glob_match("release-*", "dev-1", false));
  CHECK(glob_match("", "", true));
  CHECK_FALSE(glob_match("a", "", true));
}

TEST_CASE("the most specific rule wins, by a documented order") {
  const Policy p = rules_policy({
      "**",                       // r0
      "a.io/prod/*",              // r1
      "a.io/prod/**",             // r2
      "a.io/prod/app",            // r3
      "a.io/prod/app:release-*",  // r4
      "a.io/*/app",               // r5
      "docker.io/library/*",      // r6
      "a.io/*",                   // r7
  });
  CHECK(matched(p, "a.io/prod/app:1.0") == "r3");        // exact name beats globs
  CHECK(matched(p, "a.io/prod/app:release-2") == "r4");  // same name, and a tag glob
  CHECK(matched(p, "a.io/prod/web") == "r1");            // * beats ** at equal prefix
  CHECK(matched(p, "a.io/prod/team/web") == "r2");
  CHECK(matched(p, "a.io/dev/app") == "r5");  // more literal characters
  CHECK(matched(p, "a.io/dev") == "r7");
  CHECK(matched(p, "nginx") == "r6");  // normalized before matching
  CHECK(matched(p, "b.io/x/y") == "r0");
  // A tag glob never matches a reference with only a digest.
  CHECK(matched(p, "a.io/prod/app@sha256:" + std::string(64, 'e')) == "r3");
  const Policy tagged = rules_policy({"a.io/app:*"});
  CHECK(matched(tagged, "a.io/app:v1") == "r0");
  CHECK(matched(tagged, "a.io/app@sha256:" + std::string(64, 'e')) == "none");
  // Registry ports are part of the name, not a tag glob.
  const Policy ports = rules_policy({"localhost:5000/**", "localhost:5000/app:v*"});
  CHECK(matched(ports, "localhost:5000/app:v2") == "r1");
  CHECK(matched(ports, "localhost:5000/app:latest") == "r0");
  CHECK(matched(ports, "localhost:5001/app") == "none");
}

TEST_CASE("names are compared first; a tag glob only ever adds specificity") {
  // Counting the tag glob's wildcards with the name's made the tag rule lose to its own name
  // glob, so it never applied.
  const Policy p = rules_policy({
      "example.com/**",             // r0
      "example.com/**:release-*",   // r1
      "example.com/**:release-1*",  // r2
      "example.com/prod/*",         // r3
      "example.com/prod/**:*",      // r4
  });
  CHECK(matched(p, "example.com/a/b:release-2") == "r1");
  CHECK(matched(p, "example.com/a/b:release-12") == "r2");  // the longer literal tag prefix
  CHECK(matched(p, "example.com/a/b:dev") == "r0");
  // A more specific name beats a tag glob on a less specific one.
  CHECK(matched(p, "example.com/prod/app:release-2") == "r3");
  CHECK(matched(p, "example.com/prod/x/app:dev") == "r4");
}

TEST_CASE("ties go to the earlier rule") {
  // Same literal prefix, no **, two wildcards and seven literal characters each.
  const Policy first = rules_policy({"a.io/*/a?", "a.io/*/?b"});
  CHECK(matched(first, "a.io/z/ab") == "r0");
  const Policy second = rules_policy({"a.io/*/?b", "a.io/*/a?"});
  CHECK(matched(second, "a.io/z/ab") == "r0");
  CHECK(matched(second, "a.io/z/xb") == "r0");
  CHECK(matched(second, "a.io/z/ax") == "r1");
}

TEST_CASE("unmatched images, trust sections and pinning") {
  auto p = Policy::parse(R"({
    "unmatched": "allow",
    "trust": [
      {"prefix": "a.io", "server": "https://n.a.io", "tofu": true},
      {"prefix": "a.io/secure/", "server": "https://n2.a.io", "root_keys": [")" +
                             kRootKeyId +
                             R"("]}
    ]})",
                         PolicyFormat::kJson);
  REQUIRE_MESSAGE(p.ok(), p.error().message);
  CHECK(p->unmatched() == RuleAction::kAllow);
  CHECK(p->match(parse_image_ref("a.io/x").value()) == nullptr);
  REQUIRE(p->trust_for("a.io/x") != nullptr);
  CHECK(p->trust_for("a.io/x")->server == "https://n.a.io");
  CHECK(p->trust_for("a.io/secure/app")->server == "https://n2.a.io");
  CHECK(p->trust_for("a.io/secure")->server == "https://n2.a.io");
  CHECK(p->trust_for("a.io/secureapp")->server == "https://n.a.io");  // path boundary
  CHECK(p->trust_for("a.iox/y") == nullptr);
  CHECK(p->trust_for("b.io/y") == nullptr);

  const tuf::TrustPinning pinned = p->trust_for("a.io/secure/app")->pinning_for("a.io/secure/app");
  CHECK(pinned.disable_tofu);
  CHECK(pinned.anchor_only);  // the pin anchors the root chain (strict_pinning: false)
  REQUIRE(pinned.certs.count("a.io/secure/app") == 1);
  CHECK(pinned.certs.at("a.io/secure/app") == std::vector<std::string>{kRootKeyId});
  const tuf::TrustPinning tofu = p->trust_for("a.io/x")->pinning_for("a.io/x");
  CHECK_FALSE(tofu.disable_tofu);
  CHECK(tofu.certs.empty());
  CHECK(tofu.ca.empty());

  auto deny_default = Policy::parse("{}", PolicyFormat::kJson);
  REQUIRE(deny_default.ok());
  CHECK(deny_default->unmatched() == RuleAction::kDeny);
}

}  // namespace
}  // namespace vouch::verifier
