#include <doctest/doctest.h>

#include "tests/support/repo_simulator.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace vouch::tuf {
namespace {

using testing::RepoSimulator;
using namespace std::chrono_literals;

// The root role's keys and threshold from a simulator's root.
Status verify_role(RepoSimulator& repo, const std::string& role) {
  auto root = parse_root(repo.files.at("root")).value();
  const auto& rk = root.content.roles.at(role);
  if (role == "targets") {
    return verify_signatures(parse_targets(repo.files.at(role)).value(), root.content.keys, rk, role);
  }
  if (role == "snapshot") {
    return verify_signatures(parse_snapshot(repo.files.at(role)).value(), root.content.keys, rk, role);
  }
  if (role == "timestamp") {
    return verify_signatures(parse_timestamp(repo.files.at(role)).value(), root.content.keys, rk, role);
  }
  return verify_root_self(root);
}

TEST_CASE("a freshly signed repository parses, verifies and re-serializes byte-identically") {
  RepoSimulator repo;
  repo.add_target("v1.0", "hello");
  repo.add_target("ünïcode <&> \"quoted\" \\", "world");
  repo.publish();
  for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
    INFO(role);
    CHECK(verify_role(repo, role).ok());
  }
  auto root = parse_root(repo.files.at("root")).value();
  CHECK(*root.bytes == repo.files.at("root"));
  CHECK(serialize_envelope(to_json(root.content), root.signatures) == repo.files.at("root"));
  auto targets = parse_targets(repo.files.at("targets")).value();
  CHECK(targets.content.targets.size() == 2);
  CHECK(serialize_envelope(to_json(targets.content), targets.signatures) ==
        repo.files.at("targets"));
  auto snapshot = parse_snapshot(repo.files.at("snapshot")).value();
  CHECK(snapshot.content.meta.at("targets").check(as_bytes(repo.files.at("targets"))).ok());
  auto ts = parse_timestamp(repo.files.at("timestamp")).value();
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(repo.files.at("snapshot"))).ok());
  CHECK(ts.signatures.at(0).method_text == "eddsa");
  CHECK(root.content.keys.at(repo.root_key.id()).type() == keys::KeyType::kEcdsaX509);
}

TEST_CASE("envelope layout: Notary's, signed first, then signatures") {
  RepoSimulator repo;
  const std::string& ts = repo.files.at("timestamp");
  CHECK(ts.rfind(R"({"signed":{"_type":"Timestamp","expires":")", 0) == 0);
  CHECK(ts.find(R"(},"signatures":[{"keyid":")") != std::string::npos);
  CHECK(ts.find(R"(,"method":"eddsa","sig":")") != std::string::npos);
  auto header = parse_header(ts).value();
  CHECK(header.type == RoleType::kTimestamp);
  CHECK(header.version == 1);
}

TEST_CASE("negative: a tampered signature does not count") {
  RepoSimulator repo;
  auto targets = parse_targets(repo.files.at("targets")).value();
  targets.signatures.at(0).sig.at(5) ^= 0x01;
  auto root = parse_root(repo.files.at("root")).value();
  auto st = verify_signatures(targets, root.content.keys, root.content.roles.at("targets"), "targets");
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().reason == Reason::kThresholdNotMet);
}

TEST_CASE("negative: tampered content no longer matches its signature") {
  RepoSimulator repo;
  std::string bytes = repo.files.at("targets");
  const auto pos = bytes.find("\"version\":1");
  REQUIRE(pos != std::string::npos);
  bytes.replace(pos, 11, "\"version\":2");
  auto targets = parse_targets(bytes).value();
  auto root = parse_root(repo.files.at("root")).value();
  CHECK(verify_signatures(targets, root.content.keys, root.content.roles.at("targets"), "targets")
            .error()
            .reason == Reason::kThresholdNotMet);
}

TEST_CASE("negative: the wrong method for the key does not count") {
  RepoSimulator repo;
  auto targets = parse_targets(repo.files.at("targets")).value();
  targets.signatures.at(0).method = keys::SigMethod::kEddsa;
  auto root = parse_root(repo.files.at("root")).value();
  CHECK(verify_signatures(targets, root.content.keys, root.content.roles.at("targets"), "targets")
            .error()
            .reason == Reason::kThresholdNotMet);
  // Directly at the key level the reason is explicit.
  CHECK(repo.targets_key.verify(keys::SigMethod::kEddsa, as_bytes(targets.canonical_signed),
                                targets.signatures.at(0).sig)
            .error()
            .reason == Reason::kWrongMethod);
}

TEST_CASE("negative: a signature by a key the role does not list does not count") {
  RepoSimulator repo;
  // targets.json signed by the snapshot key: a valid signature, by the wrong key.
  repo.files["targets"] = repo.sign(to_json(repo.targets), {repo.snapshot_key});
  CHECK(verify_role(repo, "targets").error().reason == Reason::kThresholdNotMet);
}

TEST_CASE("threshold: distinct keys count, repeated signatures count once") {
  RepoSimulator repo;
  auto second = repo.signer.create_key(repo.gun(), "targets", keys::KeyType::kEcdsa).value();
  repo.root.keys.emplace(second.id(), second);
  repo.root.roles["targets"] = {{repo.targets_key.id(), second.id()}, 2};
  repo.publish();
  auto root = parse_root(repo.files.at("root")).value();
  const auto& rk = root.content.roles.at("targets");

  // Signed by one key only: 1 of 2.
  auto one = parse_targets(repo.files.at("targets")).value();
  CHECK(verify_signatures(one, root.content.keys, rk, "targets").error().reason ==
        Reason::kThresholdNotMet);

  // The same signature twice is still one key.
  auto dup = one;
  dup.signatures.push_back(dup.signatures.at(0));
  CHECK(verify_signatures(dup, root.content.keys, rk, "targets").error().reason ==
        Reason::kThresholdNotMet);

  // Both keys: threshold met.
  auto both = parse_targets(repo.sign(to_json(repo.targets), {repo.targets_key, second})).value();
  CHECK(verify_signatures(both, root.content.keys, rk, "targets").ok());

}

TEST_CASE("threshold: one key under two IDs (X.509 and plain) counts once") {
  RepoSimulator repo;
  auto plain = keys::PublicKey::from_spki_der(repo.root_key.spki_der()).value();
  REQUIRE(plain.id() == repo.root_key.canonical_id());
  REQUIRE(plain.id() != repo.root_key.id());
  repo.root.keys.emplace(plain.id(), plain);
  repo.root.roles["root"] = {{repo.root_key.id(), plain.id()}, 2};
  repo.files["root"] = repo.sign(to_json(repo.root), {repo.root_key, plain});
  auto root = parse_root(repo.files.at("root")).value();
  REQUIRE(root.signatures.size() == 2);
  CHECK(verify_root_self(root).error().reason == Reason::kThresholdNotMet);
}

TEST_CASE("negative: threshold below 1 is malformed") {
  RepoSimulator repo;
  auto root = parse_root(repo.files.at("root")).value();
  RoleKeys rk = root.content.roles.at("targets");
  rk.threshold = 0;
  auto targets = parse_targets(repo.files.at("targets")).value();
  CHECK(verify_signatures(targets, root.content.keys, rk, "targets").error().reason ==
        Reason::kMalformed);
}

TEST_CASE("negative: duplicate JSON keys are rejected, even where the signature covers them") {
  RepoSimulator repo;
  std::string bytes = repo.files.at("targets");
  const auto pos = bytes.find("\"version\":1");
  bytes.insert(pos, "\"version\":1,");
  CHECK(parse_targets(bytes).error().reason == Reason::kDuplicateKey);
}

TEST_CASE("negative: expiry") {
  RepoSimulator repo;
  auto ts = parse_timestamp(repo.files.at("timestamp")).value();
  CHECK(check_not_expired(ts.content.expires, repo.now(), "timestamp").ok());
  CHECK(check_not_expired(ts.content.expires, ts.content.expires.time, "timestamp").ok());
  CHECK(check_not_expired(ts.content.expires, repo.now() + 15 * 24h, "timestamp").error().reason ==
        Reason::kExpired);
}

TEST_CASE("negative: versions must be non-negative integers") {
  RepoSimulator repo;
  repo.modify_and_resign("targets", [](json::Object& s) { s.set("version", -1); });
  CHECK(parse_targets(repo.files.at("targets")).error().reason == Reason::kBadVersion);
  repo.modify_and_resign("targets", [](json::Object& s) { s.set("version", "2"); });
  CHECK(parse_targets(repo.files.at("targets")).error().reason == Reason::kMalformed);
  std::string bytes = repo.files.at("snapshot");
  const auto pos = bytes.find("\"version\":1");
  CHECK(parse_snapshot(bytes.replace(pos, 11, "\"version\":1.0")).error().reason ==
        Reason::kNotInteger);
}

TEST_CASE("negative: structure") {
  RepoSimulator repo;
  CHECK(parse_root(repo.files.at("targets")).error().reason == Reason::kWrongType);
  CHECK(parse_root("[]").error().reason == Reason::kMalformed);
  CHECK(parse_root(R"({"signed":{}})").error().reason == Reason::kMalformed);

  repo.modify_and_resign("root", [](json::Object& s) {
    auto& roles = s.find("roles")->as_object();
    roles.erase("snapshot");
  });
  CHECK(parse_root(repo.files.at("root")).error().reason == Reason::kBadRole);

  RepoSimulator r2;
  r2.modify_and_resign("root", [&](json::Object& s) {
    // A key listed under an ID that is not its own.
    auto& ks = s.find("keys")->as_object();
    json::Value k = *ks.find(r2.targets_key.id());
    ks.set(std::string(64, 'a'), k);
  });
  CHECK(parse_root(r2.files.at("root")).error().reason == Reason::kMalformed);

  RepoSimulator r3;
  r3.modify_and_resign("root", [&](json::Object& s) {
    auto& ks = s.find("keys")->as_object();
    ks.find(r3.targets_key.id())->as_object().find("keyval")->as_object().set("private", "AAAA");
  });
  CHECK(parse_root(r3.files.at("root")).error().reason == Reason::kMalformed);

  RepoSimulator r4;
  r4.modify_and_resign("timestamp", [](json::Object& s) {
    s.find("meta")->as_object().set("targets", *s.find("meta")->as_object().find("snapshot"));
  });
  CHECK(parse_timestamp(r4.files.at("timestamp")).error().reason == Reason::kMalformed);
}

TEST_CASE("FileMeta::check catches length and hash mismatches") {
  const auto meta = FileMeta::of(as_bytes("payload"));
  CHECK(meta.check(as_bytes("payload")).ok());
  CHECK(meta.check(as_bytes("payloaD")).error().reason == Reason::kHashMismatch);
  CHECK(meta.check(as_bytes("payload!")).error().reason == Reason::kLengthMismatch);
  FileMeta no_hashes = meta;
  no_hashes.hashes.clear();
  CHECK(no_hashes.check(as_bytes("payload")).error().reason == Reason::kHashMismatch);
  FileMeta only_md5 = meta;
  only_md5.hashes = {{"md5", Bytes(16)}};
  CHECK(only_md5.check(as_bytes("payload")).error().reason == Reason::kHashMismatch);
}

TEST_CASE("delegations: names, parents and prefix paths") {
  CHECK(is_delegation_role("targets/releases"));
  CHECK(is_delegation_role("targets/a/b-c_d"));
  for (const char* bad : {"targets", "targets/", "targets//a", "targets/a/", "targets/./a",
                          "targets/../root", "targets/A", "targets/a b", "root", "releases"}) {
    INFO(bad);
    CHECK_FALSE(is_delegation_role(bad));
  }
  CHECK_FALSE(is_delegation_role("targets/" + std::string(250, 'a')));
  CHECK(is_valid_role_name("timestamp"));
  CHECK(parent_role("targets/a/b") == "targets/a");
  CHECK(parent_role("targets/a") == "targets");
  CHECK(parent_role("targets").empty());
  CHECK(path_allowed({""}, "anything"));
  CHECK(path_allowed({"qa/", "dev/"}, "dev/x"));
  CHECK_FALSE(path_allowed({"qa/"}, "prod/x"));
  CHECK_FALSE(path_allowed({}, "x"));
  CHECK(restrict_paths({"qa/"}, {"qa/a", "prod/b", "q"}) == std::vector<std::string>{"qa/a"});
}

TEST_CASE("delegated targets: parsed, listed and verified against the parent's keys") {
  RepoSimulator repo;
  auto key = repo.add_delegation("targets/releases", {""});
  repo.delegated["targets/releases"].targets["v2"] = FileMeta::of(as_bytes("v2"));
  repo.publish();
  auto targets = parse_targets(repo.files.at("targets")).value();
  const auto* role = targets.content.delegations.find("targets/releases");
  REQUIRE(role != nullptr);
  CHECK(role->paths == std::vector<std::string>{""});
  auto rel = parse_targets(repo.files.at("targets/releases")).value();
  CHECK(verify_signatures(rel, targets.content.delegations.keys, RoleKeys{role->keyids, role->threshold},
                          "targets/releases")
            .ok());
  CHECK(rel.content.targets.count("v2") == 1);
  auto snapshot = parse_snapshot(repo.files.at("snapshot")).value();
  CHECK(snapshot.content.meta.at("targets/releases")
            .check(as_bytes(repo.files.at("targets/releases")))
            .ok());
  CHECK(key.type() == keys::KeyType::kEcdsa);
}

TEST_CASE("delegations: null keyids and roles (Go's nil slices, as notary 0.7 writes them)") {
  // `notary delegation remove <gun> targets/carol <its last key>` publishes "keyids": null.
  const std::string text =
      R"({"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[)"
      R"({"keyids":null,"name":"targets/carol","paths":[""],"threshold":1},)"
      R"({"keyids":[],"name":"targets/dave","paths":null,"threshold":1}]},)"
      R"("expires":"2030-01-01T00:00:00Z","targets":{},"version":3},"signatures":[]})";
  auto targets = parse_targets(text);
  REQUIRE_MESSAGE(targets.ok(), (targets.ok() ? "" : targets.error().message));
  const auto* carol = targets->content.delegations.find("targets/carol");
  REQUIRE(carol != nullptr);
  CHECK(carol->keyids.empty());
  CHECK(carol->threshold == 1);
  // Signatures are checked over the canonical form of what was signed: null stays null.
  CHECK(targets->canonical_signed.find(R"("keyids":null,"name":"targets/carol")") !=
        std::string::npos);

  const std::string no_roles =
      R"({"signed":{"_type":"Targets","delegations":{"keys":{},"roles":null},)"
      R"("expires":"2030-01-01T00:00:00Z","targets":{},"version":1},"signatures":[]})";
  auto none = parse_targets(no_roles);
  REQUIRE(none.ok());
  CHECK(none->content.delegations.roles.empty());

  const std::string bad =
      R"({"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[)"
      R"({"keyids":"abc","name":"targets/x","paths":[""],"threshold":1}]},)"
      R"("expires":"2030-01-01T00:00:00Z","targets":{},"version":1},"signatures":[]})";
  CHECK(parse_targets(bad).error().reason == Reason::kMalformed);
}

}  // namespace
}  // namespace vouch::tuf
