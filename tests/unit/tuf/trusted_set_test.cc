// TrustedSet and the update workflow (tuf/trusted_set.h, tuf/updater.h).
//
// Part 1 runs the workflow over the real Notary 0.7 repositories in tests/data/notary (every
// version the server held), at the time they were generated. Part 2 has one attack per rule,
// python-tuf style: an in-memory repository (RepoSimulator) served by MemorySource, changed
// and re-signed in a line or two. Tests assert on Reason, never on message text.

#include "tuf/trusted_set.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "keys/crypto.h"
#include "keys/root_certificate.h"
#include "tests/support/check_macros.h"
#include "tests/support/memory_source.h"
#include "tests/support/repo_simulator.h"
#include "tuf/updater.h"

namespace vouch::tuf {
namespace {

using std::chrono::hours;
using testing::MemoryCache;
using testing::MemorySource;
using testing::RepoSimulator;

constexpr hours kDay{24};

// ======================================================================================
// Part 1: the real Notary repositories.
// ======================================================================================

const std::filesystem::path kNotary = std::filesystem::path(VOUCH_TEST_DATA) / "notary";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json::Value& manifest() {
  static const json::Value m = json::parse(read_file(kNotary / "manifest.json")).value();
  return m;
}

const std::string& str(const json::Value& obj, std::string_view key) {
  return obj.find(key)->as_string();
}

TimePoint generated_at() { return parse_rfc3339(str(manifest(), "generated_at")).value(); }

// "targets/qa.json" under `base` -> "targets/qa".
std::string role_of_path(const std::filesystem::path& rel) {
  std::string s = rel.generic_string();
  return s.substr(0, s.size() - 5);
}

// What a Notary server holding this repository serves: every current file and every version.
MemorySource notary_server(const json::Value& repo) {
  MemorySource server;
  const auto dir = kNotary / str(repo, "dir") / "server";
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "current")) {
    if (!e.is_regular_file()) continue;
    server.put(role_of_path(std::filesystem::relative(e.path(), dir / "current")),
               read_file(e.path()));
  }
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "versions")) {
    if (!e.is_regular_file()) continue;
    const auto rel = std::filesystem::relative(e.path(), dir / "versions");
    const std::string role = rel.parent_path().generic_string();
    const std::int64_t version = std::stoll(e.path().stem().string());
    server.put_version(role, version, read_file(e.path()));
  }
  return server;
}

// Notary's client cache (<trustdir>/tuf/<gun>/metadata) as a MemoryCache.
MemoryCache notary_client_cache(const json::Value& repo) {
  MemoryCache cache;
  const auto dir = kNotary / str(repo, "dir") / "client";
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    cache.files[role_of_path(std::filesystem::relative(e.path(), dir))] = read_file(e.path());
  }
  return cache;
}

std::string sha256_hex(const Hashes& hashes) { return hex_encode(hashes.at("sha256")); }

// Every target `notary list` printed is found, in the role Notary named, with its digest.
void check_notary_list(const TrustedSet& trusted, const json::Value& repo) {
  const auto& list = repo.find("notary_list")->find("targets")->as_array();
  REQUIRE_FALSE(list.empty());
  for (const auto& t : list) {
    INFO(str(t, "name"));
    auto found = trusted.find_target(str(t, "name"));
    REQUIRE(found.has_value());
    CHECK(found->role == str(t, "role"));
    CHECK(sha256_hex(found->meta.hashes) == str(t, "digest_sha256_hex"));
    CHECK(found->meta.length == t.find("size")->as_int());
    CHECK(found->signers.size() >= 1);
  }
}

TEST_CASE(
    "Notary repositories: from 1.root.json through every root version to the current "
    "targets and delegations, with the TrustedSet API") {
  for (const auto& repo : manifest().find("repositories")->as_array()) {
    const std::string gun = str(repo, "gun");
    INFO(gun);
    MemorySource server = notary_server(repo);
    auto trusted = TrustedSet::bootstrap(gun, server.versions.at("root").at(1),
                                         RootOrigin::kFirstUse, {}, generated_at());
    REQUIRE_OK(trusted);
    const std::int64_t current_root =
        repo.find("roles")->find("root")->find("current_version")->as_int();
    for (std::int64_t v = 2; v <= current_root; ++v) {
      REQUIRE_OK(trusted->update_root(server.versions.at("root").at(v)));
    }
    CHECK(trusted->root().content.version == current_root);
    CHECK(trusted->root_rotations() == static_cast<std::size_t>(current_root - 1));
    REQUIRE_OK(trusted->update_timestamp(server.current.at("timestamp")));
    REQUIRE_OK(trusted->update_snapshot(server.current.at("snapshot")));
    REQUIRE_OK(trusted->update_targets(server.current.at("targets")));
    for (const auto& d : repo.find("delegations")->as_array()) {
      REQUIRE_OK(
          trusted->update_delegated_targets(str(d, "name"), server.current.at(str(d, "name"))));
      CHECK(trusted->targets(str(d, "name"))->signers.at(0).id() ==
            str(d.find("keys")->as_array().at(0), "key_id"));
    }
    for (const auto& [role, info] : repo.find("roles")->as_object()) {
      CHECK(trusted->versions().at(role) == info.find("current_version")->as_int());
    }
    check_notary_list(*trusted, repo);
  }
}

TEST_CASE("Notary repositories: refresh() over a server holding every version") {
  for (const auto& repo : manifest().find("repositories")->as_array()) {
    const std::string gun = str(repo, "gun");
    INFO(gun);
    MemorySource server = notary_server(repo);
    MemoryCache cache;
    cache.files["root"] = server.versions.at("root").at(1);
    auto trusted = refresh(gun, server, &cache, generated_at());
    REQUIRE_OK(trusted);
    check_notary_list(*trusted, repo);
    CHECK(trusted->failed_roles().empty());
    // The cache now holds what Notary's own client cached.
    MemoryCache notary_cache = notary_client_cache(repo);
    for (const auto& [role, bytes] : notary_cache.files) {
      INFO(role);
      CHECK(cache.files.at(role) == bytes);
    }
    // A second run downloads only the root probe and the timestamp.
    server.log.clear();
    REQUIRE_OK(refresh(gun, server, &cache, generated_at()));
    const std::int64_t next_root =
        repo.find("roles")->find("root")->find("current_version")->as_int() + 1;
    CHECK(server.log == std::vector<std::string>{"root@" + std::to_string(next_root), "timestamp"});
  }
}

TEST_CASE(
    "Notary repositories: Notary's own client cache is a valid starting point, and "
    "the timestamp expires 14 days later") {
  for (const auto& repo : manifest().find("repositories")->as_array()) {
    const std::string gun = str(repo, "gun");
    INFO(gun);
    MemorySource server = notary_server(repo);
    MemoryCache cache = notary_client_cache(repo);
    REQUIRE_OK(refresh(gun, server, &cache, generated_at()));
    CHECK(server.fetched("snapshot#") == 0);
    CHECK(server.fetched("targets#") == 0);
    const TimePoint later =
        parse_rfc3339(str(*repo.find("roles")->find("timestamp"), "expires")).value() +
        std::chrono::seconds(1);
    CHECK_REASON(refresh(gun, server, &cache, later), Reason::kExpired);
  }
}

TEST_CASE("Notary repositories: pinning the root certificate IDs from the manifest") {
  for (const auto& repo : manifest().find("repositories")->as_array()) {
    const std::string gun = str(repo, "gun");
    INFO(gun);
    MemorySource server = notary_server(repo);
    RefreshOptions pinned;
    pinned.pinning.disable_tofu = true;
    for (const auto& id : repo.find("root_key_ids")->as_array()) {
      pinned.pinning.certs[gun].push_back(id.as_string());
    }
    REQUIRE_OK(refresh(gun, server, nullptr, generated_at(), pinned));

    RefreshOptions wrong;
    wrong.pinning.certs[gun] = {std::string(64, 'a')};
    CHECK_REASON(refresh(gun, server, nullptr, generated_at(), wrong), Reason::kBadCertificate);

    RefreshOptions no_tofu;
    no_tofu.pinning.disable_tofu = true;
    auto refused = refresh(gun, server, nullptr, generated_at(), no_tofu);
    CHECK_REASON(refused, Reason::kBadCertificate);
    CHECK(refused.error().code == Code::kFailedPrecondition);
  }
}

// ======================================================================================
// Part 2: attacks against an in-memory repository, one rule per test.
// ======================================================================================

// A repository and the server that serves it.
struct Repo {
  RepoSimulator sim;
  MemorySource server;

  Repo() { server.publish(sim.files); }
  TimePoint now() const { return sim.now(); }

  // Re-signs every role and serves the result (versions unchanged unless bumped). An unchanged
  // root keeps its bytes: a server never replaces a published root version (Notary refuses
  // it), while re-signing would give new bytes (ECDSA signatures are randomized).
  void publish() {
    const std::string old_root = sim.files["root"];
    sim.publish();
    auto old = parse_root(old_root);
    if (old && json::canonical(to_json(sim.root)) == old->canonical_signed) {
      sim.files["root"] = old_root;
      reseal();
    } else {
      server.publish(sim.files);
    }
  }
  // Bumps targets, snapshot and timestamp, then publishes.
  void publish_next() {
    ++sim.targets.version;
    ++sim.snapshot.version;
    ++sim.timestamp.version;
    publish();
  }
  // Regenerates snapshot and timestamp over the current files without re-signing the others
  // (for files signed by hand).
  void reseal() {
    sim.seal();
    server.publish(sim.files);
  }

  // A new root key as Notary makes them (self-signed certificate, CN = GUN), held by the
  // simulator's signer.
  keys::PublicKey new_root_key(TimePoint not_after = {}) {
    auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
    if (not_after == TimePoint{}) not_after = now() + kDay * 3650;
    auto cert = keys::make_root_certificate(priv, sim.gun(), now() - hours(1), not_after).value();
    sim.signer.add_key(std::move(priv));
    return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(cert.pem())).value();
  }

  // Publishes root version+1 with root keys `keys` (threshold `threshold`), signed by
  // `signers`, then reseals snapshot and timestamp.
  void rotate_root(const std::vector<keys::PublicKey>& keys, std::int64_t threshold,
                   const std::vector<keys::PublicKey>& signers) {
    ++sim.root.version;
    RoleKeys rk{{}, threshold};
    for (const auto& k : keys) {
      sim.root.keys.emplace(k.id(), k);
      rk.keyids.push_back(k.id());
    }
    sim.root.roles["root"] = rk;
    sim.files["root"] = sim.sign(to_json(sim.root), signers);
    reseal();
  }

  TrustedSet trust(TimePoint at, const TrustPinning& pinning = {},
                   RootOrigin origin = RootOrigin::kTrustedBefore, UpdateLimits limits = {},
                   const std::string& root_bytes = {}) {
    auto set =
        TrustedSet::bootstrap(sim.gun(), root_bytes.empty() ? sim.files.at("root") : root_bytes,
                              origin, pinning, at, std::move(limits));
    REQUIRE_OK(set);
    return std::move(*set);
  }
  TrustedSet trust() { return trust(now()); }

  // Loads timestamp, snapshot and targets as served now; the first error.
  Status load_top(TrustedSet& t) {
    VOUCH_RETURN_IF_ERROR(t.update_timestamp(server.current.at("timestamp")));
    VOUCH_RETURN_IF_ERROR(t.update_snapshot(server.current.at("snapshot")));
    return t.update_targets(server.current.at("targets"));
  }
};

TEST_CASE("a simulated repository loads completely, and targets are found") {
  Repo repo;
  repo.sim.add_target("app:1.0", "payload");
  repo.sim.add_delegation("targets/releases", {""});
  repo.sim.delegated["targets/releases"].targets["app:2.0"] =
      FileMeta::of(as_bytes(std::string("release")));
  repo.publish();
  TrustedSet t = repo.trust();
  REQUIRE_OK(repo.load_top(t));
  REQUIRE_OK(
      t.update_delegated_targets("targets/releases", repo.server.current.at("targets/releases")));
  auto app1 = t.find_target("app:1.0");
  REQUIRE(app1);
  CHECK(app1->role == "targets");
  CHECK(app1->signers.size() == 1);
  CHECK(app1->signers[0].id() == repo.sim.targets_key.id());
  auto app2 = t.find_target("app:2.0");
  REQUIRE(app2);
  CHECK(app2->role == "targets/releases");
  CHECK_FALSE(t.find_target("app:3.0"));
}

TEST_CASE("refresh() runs the workflow and persists each verified file") {
  Repo repo;
  repo.sim.add_target("app:1.0", "payload");
  repo.sim.add_delegation("targets/releases", {""});
  repo.publish();
  MemoryCache cache;
  auto t = refresh(repo.sim.gun(), repo.server, &cache, repo.now());
  REQUIRE_OK(t);
  CHECK(repo.server.log == std::vector<std::string>{"root", "root@2", "timestamp", "snapshot#",
                                                    "targets#", "targets/releases#"});
  CHECK(cache.stored ==
        std::vector<std::string>{"root", "timestamp", "snapshot", "targets", "targets/releases"});
  CHECK(cache.files == repo.sim.files);
  // A cache that cannot be written does not fail the update (Notary logs and goes on).
  MemoryCache broken;
  broken.fail_stores = true;
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &broken, repo.now()));
}

// ---- Rollback ----

TEST_CASE("rollback: an older timestamp than one trusted before is refused") {
  Repo repo;
  const std::string old_ts = repo.sim.files["timestamp"];
  repo.publish_next();
  MemoryCache cache;
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &cache, repo.now()));
  // The server (or a man in the middle) serves the old timestamp again.
  repo.server.current["timestamp"] = old_ts;
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kRollback);
  // Directly: a floor from the cached copy.
  TrustedSet t = repo.trust();
  REQUIRE(t.note_previous("timestamp", repo.sim.files["timestamp"]).value() == 2);
  CHECK_REASON(t.update_timestamp(old_ts), Reason::kRollback);
  // The same version again is accepted (Notary's VerifyVersion: not lower).
  REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
}

TEST_CASE("rollback: within one set, a second timestamp may not be older") {
  Repo repo;
  const std::string old_ts = repo.sim.files["timestamp"];
  repo.publish_next();
  TrustedSet t = repo.trust();
  REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
  CHECK_REASON(t.update_timestamp(old_ts), Reason::kRollback);
}

TEST_CASE("rollback: an older snapshot than one trusted before is refused") {
  Repo repo;
  const std::string old_snapshot = repo.sim.files["snapshot"];
  repo.publish_next();
  const std::string new_snapshot = repo.sim.files["snapshot"];
  // A fresh timestamp that points at the old snapshot (a compromised timestamp key).
  ++repo.sim.timestamp.version;
  repo.sim.files["snapshot"] = old_snapshot;
  repo.sim.timestamp.meta["snapshot"] = FileMeta::of(as_bytes(old_snapshot));
  repo.sim.files["timestamp"] =
      repo.sim.sign(to_json(repo.sim.timestamp), {repo.sim.timestamp_key});
  TrustedSet t = repo.trust();
  REQUIRE(t.note_previous("snapshot", new_snapshot).value() == 2);
  REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
  CHECK_REASON(t.update_snapshot(old_snapshot), Reason::kRollback);
}

TEST_CASE(
    "rollback: older targets and delegations than trusted before are refused, also "
    "through refresh()") {
  Repo repo;
  repo.sim.add_delegation("targets/releases", {""});
  repo.publish();
  MemoryCache cache;
  const auto v1 = repo.sim.files;
  ++repo.sim.delegated["targets/releases"].version;
  repo.publish_next();
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &cache, repo.now()));
  SUBCASE("targets") { repo.sim.files["targets"] = v1.at("targets"); }
  SUBCASE("delegation") { repo.sim.files["targets/releases"] = v1.at("targets/releases"); }
  // A freshly signed snapshot and timestamp over the old file (compromised online keys).
  ++repo.sim.snapshot.version;
  ++repo.sim.timestamp.version;
  repo.reseal();
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kRollback);
}

// ---- Freeze ----

TEST_CASE("freeze: expired timestamp, snapshot, targets or root at the reference time") {
  Repo repo;
  SUBCASE("timestamp (14 days)") {
    TrustedSet t = repo.trust(repo.now() + kDay * 15);
    CHECK_REASON(t.update_timestamp(repo.sim.files["timestamp"]), Reason::kExpired);
    CHECK(t.timestamp() == nullptr);
  }
  SUBCASE("snapshot") {
    repo.sim.snapshot.expires = Expiry::at(repo.now() - hours(1));
    repo.publish();
    TrustedSet t = repo.trust();
    REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
    CHECK_REASON(t.update_snapshot(repo.sim.files["snapshot"]), Reason::kExpired);
  }
  SUBCASE("targets") {
    repo.sim.targets.expires = Expiry::at(repo.now() - hours(1));
    repo.publish();
    TrustedSet t = repo.trust();
    CHECK_REASON(repo.load_top(t), Reason::kExpired);
    CHECK(t.targets() == nullptr);
  }
  SUBCASE("root metadata") {
    repo.sim.root.expires = Expiry::at(repo.now() - hours(1));
    repo.publish();
    TrustedSet t = repo.trust();  // a trusted root may have expired (TUF 5.2) ...
    CHECK_REASON(t.check_final_root(), Reason::kExpired);  // ... but not the final one
    CHECK_REASON(t.update_timestamp(repo.sim.files["timestamp"]), Reason::kExpired);
  }
  SUBCASE("root certificate, while the root metadata is still valid") {
    const TimePoint later = repo.now() + kDay * 3651;  // the certificate lasts 10 years
    repo.sim.root.expires = Expiry::at(later + kDay * 365);
    repo.sim.timestamp.expires = Expiry::at(later + kDay);
    repo.publish();
    TrustedSet t = repo.trust(later);
    CHECK_REASON(t.check_final_root(), Reason::kExpired);
  }
}

TEST_CASE(
    "freeze: an expired root is fine while walking the chain; only the final root "
    "must be valid") {
  Repo repo;
  repo.sim.root.expires = Expiry::at(repo.now() - hours(1));
  repo.publish();
  const std::string expired_v1 = repo.sim.files["root"];
  repo.sim.root.expires = Expiry::at(repo.now() + kDay * 365);
  repo.rotate_root({repo.sim.root_key}, 1, {repo.sim.root_key});
  TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, {}, expired_v1);
  REQUIRE_OK(t.update_root(repo.sim.files["root"]));
  REQUIRE_OK(repo.load_top(t));
}

TEST_CASE("freeze: an expired delegation is left out, and the rest of the repository loads") {
  Repo repo;
  repo.sim.add_delegation("targets/releases", {""});
  repo.sim.delegated["targets/releases"].expires = Expiry::at(repo.now() - hours(1));
  repo.sim.delegated["targets/releases"].targets["app"] = FileMeta::of(as_bytes(std::string("x")));
  repo.publish();
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now());
  REQUIRE_OK(t);
  CHECK(t->targets("targets/releases") == nullptr);
  REQUIRE(t->failed_roles().count("targets/releases") == 1);
  CHECK(t->failed_roles().at("targets/releases").reason == Reason::kExpired);
  CHECK_FALSE(t->find_target("app"));
}

// ---- Mix-and-match ----

TEST_CASE("mix-and-match: files from another snapshot do not match the listed hashes") {
  Repo repo;
  // Version 2 changes content but no length, so only the hashes tell the files apart.
  repo.sim.add_target("app", "one");
  repo.sim.add_delegation("targets/releases", {""});
  repo.sim.delegated["targets/releases"].targets["rel"] =
      FileMeta::of(as_bytes(std::string("one")));
  repo.publish();
  const auto v1 = repo.sim.files;
  repo.sim.add_target("app", "two");
  repo.sim.delegated["targets/releases"].targets["rel"] =
      FileMeta::of(as_bytes(std::string("two")));
  ++repo.sim.delegated["targets/releases"].version;
  repo.publish_next();
  for (const auto& [role, bytes] : v1) {
    REQUIRE(bytes.size() == repo.sim.files.at(role).size());
  }
  TrustedSet t = repo.trust();
  SUBCASE("snapshot from another timestamp") {
    REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
    CHECK_REASON(t.update_snapshot(v1.at("snapshot")), Reason::kHashMismatch);
  }
  SUBCASE("targets from another snapshot") {
    REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
    REQUIRE_OK(t.update_snapshot(repo.sim.files["snapshot"]));
    CHECK_REASON(t.update_targets(v1.at("targets")), Reason::kHashMismatch);
  }
  SUBCASE("delegation from another snapshot, through refresh()") {
    repo.server.tamper["targets/releases"] = v1.at("targets/releases");  // a man in the middle
    CHECK_REASON(refresh(repo.sim.gun(), repo.server, nullptr, repo.now()), Reason::kHashMismatch);
  }
}

TEST_CASE("mix-and-match: a shorter file than listed is a length mismatch") {
  Repo repo;
  TrustedSet t = repo.trust();
  REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
  std::string snapshot = repo.sim.files["snapshot"];
  snapshot.pop_back();
  CHECK_REASON(t.update_snapshot(snapshot), Reason::kLengthMismatch);
}

TEST_CASE(
    "a snapshot that lists another root than the trusted one is refused (withheld "
    "root update)") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  repo.rotate_root({repo.sim.root_key}, 1, {repo.sim.root_key});
  repo.server.versions["root"].erase(2);  // the server hides 2.root.json
  repo.server.current["root"] = v1;
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now(), {});
  CHECK_REASON(t, Reason::kHashMismatch);
}

TEST_CASE(
    "a repository that changes between two requests still loads one consistent set "
    "(files fetched by checksum)") {
  Repo repo;
  repo.sim.add_target("app", "one");
  repo.publish();
  const std::string old_ts = repo.sim.files["timestamp"];
  repo.sim.add_target("app2", "two");
  repo.publish_next();
  // We got the timestamp just before the publish; everything after it is new.
  repo.server.current["timestamp"] = old_ts;
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now());
  REQUIRE_OK(t);
  CHECK(t->versions().at("targets") == 1);
  CHECK(t->find_target("app"));
  CHECK_FALSE(t->find_target("app2"));
}

// ---- Endless data ----

TEST_CASE("endless data: a file longer than its parent lists is refused before parsing") {
  Repo repo;
  TrustedSet t = repo.trust();
  REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
  // Trailing whitespace keeps the JSON valid: only the length check can catch it.
  CHECK_REASON(t.update_snapshot(repo.sim.files["snapshot"] + "   "), Reason::kTooLarge);
  REQUIRE_OK(t.update_snapshot(repo.sim.files["snapshot"]));
  CHECK_REASON(t.update_targets(repo.sim.files["targets"] + std::string(1 << 20, ' ')),
               Reason::kTooLarge);
}

TEST_CASE("endless data: named caps for what nothing lists, and over listed lengths") {
  Repo repo;
  UpdateLimits small;
  SUBCASE("root") {
    small.max_root_bytes = 100;
    CHECK_REASON(TrustedSet::bootstrap(repo.sim.gun(), repo.sim.files["root"],
                                       RootOrigin::kTrustedBefore, {}, repo.now(), small),
                 Reason::kTooLarge);
    RefreshOptions opts;
    opts.limits = small;
    CHECK_REASON(refresh(repo.sim.gun(), repo.server, nullptr, repo.now(), opts),
                 Reason::kTooLarge);
    CHECK(repo.server.too_large == 1);  // the source stopped reading, too
  }
  SUBCASE("timestamp") {
    small.max_timestamp_bytes = 100;
    TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, small);
    CHECK_REASON(t.update_timestamp(repo.sim.files["timestamp"]), Reason::kTooLarge);
  }
  SUBCASE("targets above the cap even when the snapshot lists it") {
    small.max_targets_bytes = 100;
    TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, small);
    CHECK_REASON(repo.load_top(t), Reason::kTooLarge);
    RefreshOptions opts;
    opts.limits = small;
    CHECK_REASON(refresh(repo.sim.gun(), repo.server, nullptr, repo.now(), opts),
                 Reason::kTooLarge);
    CHECK(repo.server.fetched("targets#") == 0);  // refused before asking
  }
  SUBCASE("a server sending more than the listed length") {
    repo.server.tamper["targets"] = repo.sim.files["targets"] + std::string(4096, ' ');
    CHECK_REASON(refresh(repo.sim.gun(), repo.server, nullptr, repo.now()), Reason::kTooLarge);
    CHECK(repo.server.too_large == 1);
  }
}

// ---- Signatures ----

TEST_CASE("wrong keys: each role must be signed by the keys its parent names") {
  Repo repo;
  TrustedSet t = repo.trust();
  SUBCASE("timestamp signed with the snapshot key") {
    repo.sim.files["timestamp"] =
        repo.sim.sign(to_json(repo.sim.timestamp), {repo.sim.snapshot_key});
    CHECK_REASON(t.update_timestamp(repo.sim.files["timestamp"]), Reason::kThresholdNotMet);
  }
  SUBCASE("snapshot signed with the timestamp key") {
    repo.sim.files["snapshot"] =
        repo.sim.sign(to_json(repo.sim.snapshot), {repo.sim.timestamp_key});
    repo.sim.timestamp.meta["snapshot"] = FileMeta::of(as_bytes(repo.sim.files["snapshot"]));
    repo.sim.files["timestamp"] =
        repo.sim.sign(to_json(repo.sim.timestamp), {repo.sim.timestamp_key});
    REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
    CHECK_REASON(t.update_snapshot(repo.sim.files["snapshot"]), Reason::kThresholdNotMet);
  }
  SUBCASE("targets signed with the root key") {
    repo.sim.files["targets"] = repo.sim.sign(to_json(repo.sim.targets), {repo.sim.root_key});
    repo.reseal();
    CHECK_REASON(repo.load_top(t), Reason::kThresholdNotMet);
  }
  SUBCASE("a delegation signed with the targets key") {
    repo.sim.add_delegation("targets/releases", {""});
    repo.publish();
    TrustedSet fresh = repo.trust();
    repo.sim.files["targets/releases"] =
        repo.sim.sign(to_json(repo.sim.delegated["targets/releases"]), {repo.sim.targets_key});
    repo.reseal();
    REQUIRE_OK(repo.load_top(fresh));
    CHECK_REASON(
        fresh.update_delegated_targets("targets/releases", repo.sim.files["targets/releases"]),
        Reason::kThresholdNotMet);
    CHECK(fresh.failed_roles().at("targets/releases").reason == Reason::kThresholdNotMet);
  }
  SUBCASE("a tampered file: the signature no longer covers it") {
    auto doc = json::parse(repo.sim.files["targets"]).value();
    doc.as_object().find("signed")->as_object().set("version", std::int64_t{7});
    std::vector<SignatureEntry> sigs = parse_targets(repo.sim.files["targets"])->signatures;
    repo.sim.files["targets"] = serialize_envelope(*doc.find("signed"), sigs);
    repo.reseal();
    CHECK_REASON(repo.load_top(t), Reason::kThresholdNotMet);
  }
}

TEST_CASE("threshold: distinct keys count, repeated signatures do not") {
  Repo repo;
  const keys::PublicKey second = repo.sim.signer.create_key("", "", keys::KeyType::kEcdsa).value();
  repo.sim.root.keys.emplace(second.id(), second);
  repo.sim.root.roles["targets"] = {{repo.sim.targets_key.id(), second.id()}, 2};
  repo.publish();
  TrustedSet t = repo.trust();
  SUBCASE("one of two") { CHECK_REASON(repo.load_top(t), Reason::kThresholdNotMet); }
  SUBCASE("one signature, repeated") {
    auto m = parse_targets(repo.sim.files["targets"]).value();
    m.signatures.push_back(m.signatures.front());
    repo.sim.files["targets"] = serialize_envelope(to_json(m.content), m.signatures);
    repo.reseal();
    CHECK_REASON(repo.load_top(t), Reason::kThresholdNotMet);
  }
  SUBCASE("two of two, and both are reported as signers") {
    repo.sim.files["targets"] =
        repo.sim.sign(to_json(repo.sim.targets), {repo.sim.targets_key, second});
    repo.reseal();
    REQUIRE_OK(repo.load_top(t));
    CHECK(t.targets()->signers.size() == 2);
  }
}

TEST_CASE("threshold: a root signed by fewer of its own keys than its threshold") {
  Repo repo;
  const keys::PublicKey second = repo.new_root_key();
  repo.rotate_root({repo.sim.root_key, second}, 2, {repo.sim.root_key});
  CHECK_REASON(TrustedSet::bootstrap(repo.sim.gun(), repo.sim.files["root"], RootOrigin::kFirstUse,
                                     {}, repo.now()),
               Reason::kThresholdNotMet);
}

// ---- Root rotation ----

TEST_CASE("root rotation: cross-signed rotations are followed, version by version") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  const keys::PublicKey k2 = repo.new_root_key();
  const keys::PublicKey k3 = repo.new_root_key();
  repo.rotate_root({k2}, 1, {repo.sim.root_key, k2});  // v2: old and new sign
  repo.rotate_root({k3}, 1, {k2, k3});                 // v3
  repo.rotate_root({k3}, 1, {k3});                     // v4: same key, signs alone
  MemoryCache cache;
  cache.files["root"] = v1;
  auto t = refresh(repo.sim.gun(), repo.server, &cache, repo.now());
  REQUIRE_OK(t);
  CHECK(t->root().content.version == 4);
  CHECK(t->root_rotations() == 3);
  CHECK(cache.files["root"] == repo.sim.files["root"]);
  CHECK(repo.server.fetched("root@5") == 1);
  CHECK(repo.server.fetched("root") == 0);  // the cached root anchors trust
}

TEST_CASE("root rotation under pinned root keys: strict by default, followed with anchor_only") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  const keys::PublicKey k2 = repo.new_root_key();
  const keys::PublicKey attacker = repo.new_root_key();
  TrustPinning pinning;
  pinning.certs[repo.sim.gun()] = {repo.sim.root_key.id()};
  pinning.disable_tofu = true;
  repo.rotate_root({k2}, 1, {repo.sim.root_key, k2});  // v2: cross-signed, as `key rotate`

  SUBCASE("strict: the pin applies to every root, so v2 is refused") {
    TrustedSet t = repo.trust(repo.now(), pinning, RootOrigin::kFirstUse, {}, v1);
    CHECK_REASON(t.update_root(repo.sim.files["root"]), Reason::kBadCertificate);
  }
  SUBCASE("anchor_only: v1 satisfies the pin, v2 is trusted through the chain") {
    pinning.anchor_only = true;
    TrustedSet t = repo.trust(repo.now(), pinning, RootOrigin::kFirstUse, {}, v1);
    REQUIRE_OK(t.update_root(repo.sim.files["root"]));
    CHECK(t.root().content.version == 2);
    REQUIRE_OK(t.check_final_root());
    // v2, anchored before, bootstraps a later run; a v2 never anchored does not.
    REQUIRE_OK(TrustedSet::bootstrap(repo.sim.gun(), repo.sim.files["root"],
                                     RootOrigin::kTrustedBefore, pinning, repo.now()));
    CHECK_REASON(TrustedSet::bootstrap(repo.sim.gun(), repo.sim.files["root"],
                                       RootOrigin::kFirstUse, pinning, repo.now()),
                 Reason::kBadCertificate);
    // A v3 that the v2 keys did not sign is still refused.
    repo.rotate_root({attacker}, 1, {attacker});
    CHECK_REASON(t.update_root(repo.sim.files["root"]), Reason::kThresholdNotMet);
  }
}

TEST_CASE("root rotation: a new root not signed by the trusted root keys is refused") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  const keys::PublicKey attacker = repo.new_root_key();
  // Valid by itself (new key, signs itself), but not cross-signed by the old key.
  repo.rotate_root({attacker}, 1, {attacker});
  TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, {}, v1);
  CHECK_REASON(t.update_root(repo.sim.files["root"]), Reason::kThresholdNotMet);
  CHECK(t.root().content.version == 1);
  MemoryCache cache;
  cache.files["root"] = v1;
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kThresholdNotMet);
  CHECK(cache.files["root"] == v1);
}

TEST_CASE("root rotation: the new root must also satisfy its own threshold") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  const keys::PublicKey k2 = repo.new_root_key();
  repo.rotate_root({k2}, 1, {repo.sim.root_key});  // old key signs, new one does not
  TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, {}, v1);
  CHECK_REASON(t.update_root(repo.sim.files["root"]), Reason::kThresholdNotMet);
}

TEST_CASE("root rotation: versions must go up by exactly one") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  repo.rotate_root({repo.sim.root_key}, 1, {repo.sim.root_key});
  const std::string v2 = repo.sim.files["root"];
  repo.rotate_root({repo.sim.root_key}, 1, {repo.sim.root_key});
  const std::string v3 = repo.sim.files["root"];
  TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, {}, v1);
  CHECK_REASON(t.update_root(v3), Reason::kBadVersion);  // skip
  CHECK_REASON(t.update_root(v1), Reason::kRollback);    // replay
  REQUIRE_OK(t.update_root(v2));
  CHECK_REASON(t.update_root(v2), Reason::kRollback);
  // Through refresh(): the server serves version 3 as 2.root.json.
  repo.server.put_version("root", 2, v3);
  MemoryCache cache;
  cache.files["root"] = v1;
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kBadVersion);
}

TEST_CASE("root rotation: at most max_root_rotations versions in one update") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  for (int i = 0; i < 3; ++i) repo.rotate_root({repo.sim.root_key}, 1, {repo.sim.root_key});
  MemoryCache cache;
  cache.files["root"] = v1;
  RefreshOptions opts;
  opts.limits.max_root_rotations = 2;
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now(), opts), Reason::kTooLarge);
  opts.limits.max_root_rotations = 3;
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &cache, repo.now(), opts));
}

TEST_CASE("root rotation: not after the timestamp is loaded") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  repo.rotate_root({repo.sim.root_key}, 1, {repo.sim.root_key});
  TrustedSet t = repo.trust(repo.now(), {}, RootOrigin::kTrustedBefore, {}, v1);
  REQUIRE_OK(t.update_timestamp(repo.sim.files["timestamp"]));
  auto st = t.update_root(repo.sim.files["root"]);
  CHECK_REASON(st, Reason::kBadRole);
  CHECK(st.error().code == Code::kFailedPrecondition);
}

// ---- Trust pinning and TOFU ----

TEST_CASE("trust pinning: certificate IDs, patterns, priority, and TOFU") {
  Repo repo;
  const std::string gun = repo.sim.gun();
  const std::string id = repo.sim.root_key.id();
  auto bootstrap = [&](const TrustPinning& p, RootOrigin origin = RootOrigin::kFirstUse) {
    return TrustedSet::bootstrap(gun, repo.sim.files["root"], origin, p, repo.now());
  };
  TrustPinning p;
  SUBCASE("TOFU by default") { REQUIRE_OK(bootstrap(p)); }
  SUBCASE("TOFU disabled: the first root is refused, a root trusted before is not") {
    p.disable_tofu = true;
    auto r = bootstrap(p);
    CHECK_REASON(r, Reason::kBadCertificate);
    CHECK(r.error().code == Code::kFailedPrecondition);
    REQUIRE_OK(bootstrap(p, RootOrigin::kTrustedBefore));
  }
  SUBCASE("the pinned ID") {
    p.certs[gun] = {id};
    p.disable_tofu = true;
    REQUIRE_OK(bootstrap(p));
  }
  SUBCASE("another ID, also for a root trusted before") {
    p.certs[gun] = {std::string(64, '0')};
    CHECK_REASON(bootstrap(p), Reason::kBadCertificate);
    CHECK_REASON(bootstrap(p, RootOrigin::kTrustedBefore), Reason::kBadCertificate);
  }
  SUBCASE("a pattern; the longest pattern wins") {
    p.certs["example.com/*"] = {std::string(64, '0')};
    p.certs["example.com/vouch/*"] = {id};
    REQUIRE_OK(bootstrap(p));
  }
  SUBCASE("an exact GUN wins over a pattern") {
    p.certs["example.com/*"] = {id};
    p.certs[gun] = {std::string(64, '0')};
    CHECK_REASON(bootstrap(p), Reason::kBadCertificate);
  }
  SUBCASE("a certs entry wins over a CA entry") {
    p.certs[gun] = {id};
    p.ca["example.com/"] = {};
    REQUIRE_OK(bootstrap(p));
  }
  SUBCASE("an empty list pins to nothing") {
    p.certs[gun] = {};
    CHECK_REASON(bootstrap(p), Reason::kBadCertificate);
  }
  SUBCASE("the root key's canonical ID: only with certs_match_canonical_id (not Notary's)") {
    const std::string canonical = repo.sim.root_key.canonical_id();
    REQUIRE(canonical != id);
    p.certs[gun] = {canonical};
    p.disable_tofu = true;
    CHECK_REASON(bootstrap(p), Reason::kBadCertificate);
    p.certs_match_canonical_id = true;
    REQUIRE_OK(bootstrap(p));
    p.certs[gun] = {id};  // the certificate ID still pins too
    REQUIRE_OK(bootstrap(p));
    p.certs["example.com/*"] = {canonical};  // and a canonical ID in a pattern
    p.certs.erase(gun);
    REQUIRE_OK(bootstrap(p));
  }
  SUBCASE("a refusal names the pinning as the caller calls it, and the canonical IDs") {
    p.certs[gun] = {std::string(64, '0')};
    p.certs_match_canonical_id = true;
    p.certs_source = "root_keys of the trust section for \"example.com\"";
    auto r = bootstrap(p);
    CHECK_REASON(r, Reason::kBadCertificate);
    CHECK(r.error().message.find(p.certs_source) != std::string::npos);
    CHECK(r.error().message.find(repo.sim.root_key.canonical_id()) != std::string::npos);
    CHECK(r.error().message.find("config entry") == std::string::npos);
  }
  SUBCASE("a root certificate for another GUN never counts") {
    CHECK_REASON(TrustedSet::bootstrap("example.com/other", repo.sim.files["root"],
                                       RootOrigin::kFirstUse, p, repo.now()),
                 Reason::kBadCertificate);
  }
}

TEST_CASE("trust pinning: after the first root, rotations stay within the pinning") {
  Repo repo;
  const std::string v1 = repo.sim.files["root"];
  const keys::PublicKey k2 = repo.new_root_key();
  repo.rotate_root({k2}, 1, {repo.sim.root_key, k2});
  TrustPinning p;
  p.certs[repo.sim.gun()] = {repo.sim.root_key.id()};
  TrustedSet t = repo.trust(repo.now(), p, RootOrigin::kTrustedBefore, {}, v1);
  CHECK_REASON(t.update_root(repo.sim.files["root"]), Reason::kBadCertificate);
  p.certs[repo.sim.gun()].push_back(k2.id());
  TrustedSet t2 = repo.trust(repo.now(), p, RootOrigin::kTrustedBefore, {}, v1);
  REQUIRE_OK(t2.update_root(repo.sim.files["root"]));
}

// A CA (OpenSSL) that issues Notary-style root certificates.
template <auto Fn>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<&EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<&X509_free>>;
using BioPtr = std::unique_ptr<BIO, Free<&BIO_free_all>>;

std::string to_pem(X509* x) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  REQUIRE(PEM_write_bio_X509(bio.get(), x) == 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// Validity [from - 1 day, from + days], independent of the machine's clock.
X509Ptr make_cert(const std::string& cn, X509* issuer, EVP_PKEY* subject_key, EVP_PKEY* signing_key,
                  bool ca, TimePoint from, int days) {
  const auto secs = [](TimePoint t) {
    return static_cast<std::time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 42);
  REQUIRE(ASN1_TIME_set(X509_getm_notBefore(x.get()), secs(from - kDay)) != nullptr);
  REQUIRE(ASN1_TIME_set(X509_getm_notAfter(x.get()), secs(from + kDay * days)) != nullptr);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(x.get(), subject_key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, ca ? "critical,keyCertSign" : "critical,digitalSignature");
  REQUIRE(X509_sign(x.get(), signing_key, EVP_sha256()) > 0);
  return x;
}

struct TestCa {
  PkeyPtr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  X509Ptr cert;
  TimePoint from;
  TestCa(const std::string& cn, TimePoint valid_from)
      : cert(make_cert(cn, nullptr, key.get(), key.get(), true, valid_from, 3650)),
        from(valid_from) {}
  keys::Certificate certificate() const {
    return keys::Certificate::from_pem(to_pem(cert.get())).value();
  }

  // A root key for `repo` issued by this CA; the simulator's signer holds its private key.
  keys::PublicKey issue_root_key(Repo& repo) const {
    auto priv = keys::PrivateKey::generate(keys::KeyType::kEcdsa).value();
    const Bytes& spki = priv.public_key().spki_der();
    const unsigned char* p = spki.data();
    PkeyPtr pub(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    REQUIRE(pub != nullptr);
    X509Ptr leaf = make_cert(repo.sim.gun(), cert.get(), pub.get(), key.get(), false, from, 365);
    repo.sim.signer.add_key(std::move(priv));
    return keys::PublicKey::from_tuf(keys::KeyType::kEcdsaX509, as_bytes(to_pem(leaf.get())))
        .value();
  }
};

TEST_CASE("trust pinning: a CA per GUN prefix, the longest prefix winning") {
  Repo repo;
  const TestCa ca("Vouch Test Root CA", repo.now());
  const TestCa other("Some Other CA", repo.now());
  // Replace the self-signed root key by one the CA issued.
  const keys::PublicKey issued = ca.issue_root_key(repo);
  repo.sim.root.keys.erase(repo.sim.root_key.id());
  repo.sim.root_key = issued;
  repo.sim.root.keys.emplace(issued.id(), issued);
  repo.sim.root.roles["root"] = {{issued.id()}, 1};
  repo.publish();
  TrustPinning p;
  p.disable_tofu = true;
  auto bootstrap = [&](TimePoint at) {
    return TrustedSet::bootstrap(repo.sim.gun(), repo.sim.files["root"], RootOrigin::kFirstUse, p,
                                 at);
  };
  SUBCASE("issued by the pinned CA") {
    p.ca["example.com/"] = {ca.certificate()};
    auto t = bootstrap(repo.now());
    REQUIRE_OK(t);
    REQUIRE_OK(repo.load_top(*t));  // the final-root check verifies the chain at that time
  }
  SUBCASE("the longest prefix selects the other CA") {
    p.ca["example.com/"] = {ca.certificate()};
    p.ca["example.com/vouch/"] = {other.certificate()};
    CHECK_REASON(bootstrap(repo.now()), Reason::kBadCertificate);
  }
  SUBCASE("a bundle with several CAs") {
    p.ca["example.com/vouch/"] = {other.certificate(), ca.certificate()};
    REQUIRE_OK(bootstrap(repo.now()));
  }
  SUBCASE("a self-signed root key does not satisfy a CA pin") {
    Repo plain;
    p.ca["example.com/"] = {ca.certificate()};
    CHECK_REASON(TrustedSet::bootstrap(plain.sim.gun(), plain.sim.files["root"],
                                       RootOrigin::kFirstUse, p, plain.now()),
                 Reason::kBadCertificate);
  }
  SUBCASE("the leaf has expired at the reference time: refused as the final root") {
    p.ca["example.com/"] = {ca.certificate()};
    auto t = bootstrap(repo.now() + kDay * 400);
    REQUIRE_OK(t);
    CHECK_REASON(t->check_final_root(), Reason::kExpired);
  }
}

TEST_CASE("Certificate::issued_by: the chain to a pinned CA, with and without a time") {
  Repo repo;
  const TestCa ca("Vouch Test Root CA", repo.now());
  const TestCa other("Some Other CA", repo.now());
  const keys::PublicKey issued = ca.issue_root_key(repo);
  const keys::Certificate& leaf = *issued.certificate();
  const keys::Certificate ca_cert = ca.certificate();
  const keys::Certificate other_cert = other.certificate();
  CHECK(leaf.issued_by({&ca_cert}, repo.now()));
  CHECK(leaf.issued_by({&other_cert, &ca_cert}, repo.now()));
  CHECK_FALSE(leaf.issued_by({&other_cert}, repo.now()));
  CHECK_FALSE(leaf.issued_by({}, repo.now()));
  // The leaf is valid for 365 days: past that only the time-less check accepts it.
  CHECK_FALSE(leaf.issued_by({&ca_cert}, repo.now() + kDay * 400));
  CHECK(leaf.issued_by({&ca_cert}, std::nullopt));
  // A CA is an anchor, not a leaf: it is not issued by the leaf.
  CHECK_FALSE(ca_cert.issued_by({&leaf}, repo.now()));
}

// ---- Delegations ----

TEST_CASE("delegations: paths are restricted down the chain; targets outside are ignored") {
  Repo repo;
  repo.sim.add_delegation("targets/qa", {"qa/"});
  repo.sim.add_delegation("targets/qa/sub", {"", "prod/", "qa/sub/"});
  const auto meta = FileMeta::of(as_bytes(std::string("x")));
  repo.sim.delegated["targets/qa"].targets["qa/app"] = meta;
  repo.sim.delegated["targets/qa"].targets["prod/app"] = meta;     // outside "qa/"
  repo.sim.delegated["targets/qa/sub"].targets["prod/db"] = meta;  // "prod/" is not within "qa/"
  repo.sim.delegated["targets/qa/sub"].targets["qa/sub/x"] = meta;
  repo.sim.delegated["targets/qa/sub"].targets["qa/other"] = meta;  // "" was dropped
  repo.publish();
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now());
  REQUIRE_OK(t);
  CHECK(t->targets("targets/qa/sub")->paths == std::vector<std::string>{"qa/sub/"});
  CHECK(t->find_target("qa/app")->role == "targets/qa");
  CHECK_FALSE(t->find_target("prod/app"));
  CHECK_FALSE(t->find_target("prod/db"));
  CHECK(t->find_target("qa/sub/x")->role == "targets/qa/sub");
  CHECK_FALSE(t->find_target("qa/other"));
  CHECK(t->find_all_targets("prod/app").empty());
}

TEST_CASE("delegations: a role the snapshot does not list is not loaded") {
  Repo repo;
  repo.sim.add_delegation("targets/qa", {""});
  repo.publish();
  repo.sim.files.erase("targets/qa");  // delegated, never published
  repo.reseal();
  repo.server.current.erase("targets/qa");
  TrustedSet t = repo.trust();
  REQUIRE_OK(repo.load_top(t));
  CHECK(t.expected_meta("targets/qa") == nullptr);
  CHECK_REASON(t.update_delegated_targets("targets/qa", ""), Reason::kNotFound);
  auto r = refresh(repo.sim.gun(), repo.server, nullptr, repo.now());
  REQUIRE_OK(r);
  CHECK(repo.server.fetched("targets/qa#") == 0);
  CHECK(r->failed_roles().empty());
}

TEST_CASE("delegations: hostile and out-of-place role names are refused") {
  Repo repo;
  repo.sim.add_delegation("targets/qa", {""});
  repo.publish();
  TrustedSet t = repo.trust();
  REQUIRE_OK(repo.load_top(t));
  for (const std::string& bad :
       std::vector<std::string>{"targets/../root", "targets/qa/..", "targets/./qa", "targets//qa",
                                "targets/qa/", "targets/QA", "targets/q a", "targets/qa%2f..",
                                std::string("targets/qa\0x", 12), "../targets/qa", "/targets/qa",
                                "targets/", "targets/" + std::string(300, 'a'), "root.json", ""}) {
    INFO(bad);
    CHECK_REASON(t.update_delegated_targets(bad, repo.sim.files["targets/qa"]), Reason::kBadRole);
    CHECK_REASON(t.note_previous(bad, repo.sim.files["targets/qa"]), Reason::kBadRole);
  }
  for (const std::string base : {"root", "timestamp", "snapshot", "targets"}) {
    CHECK_REASON(t.update_delegated_targets(base, repo.sim.files["targets/qa"]), Reason::kBadRole);
  }
  CHECK(t.failed_roles().empty());  // hostile names are not even remembered
  // A role its parent does not delegate to.
  CHECK_REASON(t.update_delegated_targets("targets/other", repo.sim.files["targets/qa"]),
               Reason::kBadRole);
  // A grandchild whose parent is not loaded.
  CHECK_REASON(t.update_delegated_targets("targets/qa/x", repo.sim.files["targets/qa"]),
               Reason::kBadRole);
}

TEST_CASE("delegations: targets metadata delegating to a non-child role is refused") {
  Repo repo;
  repo.sim.add_delegation("targets/qa", {""});
  repo.publish();
  repo.sim.modify_and_resign("targets", [](json::Object& s) {
    auto& roles = s.find("delegations")->as_object().find("roles")->as_array();
    roles[0].as_object().set("name", "targets/qa/deep");
  });
  repo.reseal();
  TrustedSet t = repo.trust();
  CHECK_REASON(repo.load_top(t), Reason::kBadRole);
}

TEST_CASE("delegations: max_delegated_roles bounds the tree") {
  Repo repo;
  for (int i = 0; i < 4; ++i) repo.sim.add_delegation("targets/d" + std::to_string(i), {""});
  repo.publish();
  RefreshOptions opts;
  opts.limits.max_delegated_roles = 3;
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, nullptr, repo.now(), opts), Reason::kTooLarge);
  opts.limits.max_delegated_roles = 4;
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, nullptr, repo.now(), opts));
}

TEST_CASE("delegations: Notary's lookup order and role priority") {
  Repo repo;
  const auto a = FileMeta::of(as_bytes(std::string("from a/x")));
  const auto b = FileMeta::of(as_bytes(std::string("from b")));
  const auto top = FileMeta::of(as_bytes(std::string("from targets")));
  repo.sim.add_delegation("targets/a", {""});
  repo.sim.add_delegation("targets/b", {""});
  repo.sim.add_delegation("targets/a/x", {""});
  repo.sim.delegated["targets/a/x"].targets["tag"] = a;
  repo.sim.delegated["targets/b"].targets["tag"] = b;
  repo.sim.targets.targets["tag"] = top;
  repo.sim.delegated["targets/a/x"].targets["delegated-only"] = a;
  repo.sim.delegated["targets/b"].targets["delegated-only"] = b;
  repo.publish();
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now());
  REQUIRE_OK(t);
  // Loading is pre-order depth-first (Notary downloadTargets).
  CHECK(repo.server.log == std::vector<std::string>{"root", "root@2", "timestamp", "snapshot#",
                                                    "targets#", "targets/a#", "targets/a/x#",
                                                    "targets/b#"});
  CHECK(t->find_target("tag")->role == "targets");
  // Breadth-first (Notary WalkTargets): targets/b answers before targets/a/x; a pre-order
  // depth-first search would answer targets/a/x.
  CHECK(t->find_target("delegated-only")->role == "targets/b");
  // Role priority (docker: {"targets/releases", "targets"}): each subtree in turn.
  const std::vector<std::string> a_first = {"targets/a", "targets"};
  CHECK(t->find_target("tag", a_first)->role == "targets/a/x");
  const std::vector<std::string> b_first = {"targets/b", "targets/a"};
  CHECK(t->find_target("delegated-only", b_first)->role == "targets/b");
  // All of them, in walk order, each with its signers.
  auto all = t->find_all_targets("tag");
  REQUIRE(all.size() == 3);
  CHECK(all[0].role == "targets");
  CHECK(all[1].role == "targets/b");
  CHECK(all[2].role == "targets/a/x");
  CHECK(all[2].meta == a);
  CHECK(all[2].signers.size() == 1);
}

TEST_CASE("delegations: loaded on demand for one target name") {
  Repo repo;
  repo.sim.add_delegation("targets/qa", {"qa/"});
  repo.sim.add_delegation("targets/releases", {"releases/"});
  repo.sim.delegated["targets/releases"].targets["releases/app"] =
      FileMeta::of(as_bytes(std::string("app")));
  repo.publish();
  RefreshOptions opts;
  opts.load_all_delegations = false;
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now(), opts);
  REQUIRE_OK(t);
  CHECK_FALSE(t->find_target("releases/app"));
  REQUIRE_OK(load_delegations_for(*t, "releases/app", repo.server, nullptr));
  CHECK(t->find_target("releases/app")->role == "targets/releases");
  CHECK(repo.server.fetched("targets/qa#") == 0);
}

TEST_CASE("delegations: a signer beyond the threshold is still reported") {
  Repo repo;
  repo.sim.add_delegation("targets/team", {""});
  const keys::PublicKey k2 = repo.sim.signer.create_key("", "", keys::KeyType::kEd25519).value();
  repo.sim.targets.delegations.keys.emplace(k2.id(), k2);
  repo.sim.targets.delegations.roles[0].keyids.push_back(k2.id());
  repo.sim.delegated["targets/team"].targets["tag"] = FileMeta::of(as_bytes(std::string("d")));
  repo.publish();  // signs with both keys the delegation lists
  auto t = refresh(repo.sim.gun(), repo.server, nullptr, repo.now());
  REQUIRE_OK(t);
  auto m = t->find_target("tag");
  REQUIRE(m);
  CHECK(m->threshold == 1);
  REQUIRE(m->signers.size() == 2);
  CHECK(m->signers[0].id() != m->signers[1].id());
}

// ---- Cache and availability ----

TEST_CASE("cache: the cached root anchors trust; a broken one is fatal") {
  Repo repo;
  MemoryCache cache;
  cache.files["root"] = repo.sim.files["root"];
  cache.files["root"].back() = ' ';
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kMalformed);
  cache.files["root"] = repo.sim.files["targets"];
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kWrongType);
}

TEST_CASE(
    "cache: files matching the listed hashes are used instead of downloads; stale ones "
    "only as rollback floors") {
  Repo repo;
  MemoryCache cache;
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &cache, repo.now()));
  repo.server.log.clear();
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &cache, repo.now()));
  CHECK(repo.server.log == std::vector<std::string>{"root@2", "timestamp"});
  repo.publish_next();
  repo.server.log.clear();
  auto t = refresh(repo.sim.gun(), repo.server, &cache, repo.now());
  REQUIRE_OK(t);
  CHECK(repo.server.log ==
        std::vector<std::string>{"root@2", "timestamp", "snapshot#", "targets#"});
  CHECK(t->versions().at("targets") == 2);
}

TEST_CASE("availability: an unreachable server falls back to a valid cache, if allowed") {
  Repo repo;
  MemoryCache cache;
  REQUIRE_OK(refresh(repo.sim.gun(), repo.server, &cache, repo.now()));
  repo.server.unavailable = true;
  CHECK_REASON(refresh(repo.sim.gun(), repo.server, &cache, repo.now()), Reason::kUnavailable);
  // The root probe fails first; with it answered, the timestamp is what is unavailable.
  repo.server.unavailable = false;
  struct Flaky : MemorySource {
    Result<std::string> fetch(std::string_view role, std::optional<std::int64_t> version,
                              std::size_t max) override {
      if (role == "timestamp") return make_error(Reason::kUnavailable, "down");
      return MemorySource::fetch(role, version, max);
    }
  } flaky;
  flaky.publish(repo.sim.files);
  REQUIRE_OK(refresh(repo.sim.gun(), flaky, &cache, repo.now()));
  RefreshOptions strict;
  strict.use_cache_when_unavailable = false;
  CHECK_REASON(refresh(repo.sim.gun(), flaky, &cache, repo.now(), strict), Reason::kUnavailable);
  // An expired cached timestamp is no fallback.
  CHECK_REASON(refresh(repo.sim.gun(), flaky, &cache, repo.now() + kDay * 15), Reason::kExpired);
}

TEST_CASE("order: each role needs the one before it") {
  Repo repo;
  TrustedSet t = repo.trust();
  for (auto st : {t.update_snapshot(repo.sim.files["snapshot"]),
                  t.update_targets(repo.sim.files["targets"])}) {
    CHECK_REASON(st, Reason::kBadRole);
    CHECK(st.error().code == Code::kFailedPrecondition);
  }
  REQUIRE_OK(repo.load_top(t));
  CHECK_REASON(t.update_timestamp(repo.sim.files["timestamp"]), Reason::kBadRole);
  CHECK_REASON(t.update_snapshot(repo.sim.files["snapshot"]), Reason::kBadRole);
  CHECK_REASON(t.update_targets(repo.sim.files["targets"]), Reason::kBadRole);
  CHECK_REASON(t.note_previous("root", repo.sim.files["root"]), Reason::kBadRole);
}

TEST_CASE("rollback floors: garbage in the cache gives no floor; set_floor keeps the highest") {
  Repo repo;
  TrustedSet t = repo.trust();
  CHECK_FALSE(t.note_previous("timestamp", "{}").ok());
  CHECK_FALSE(t.note_previous("timestamp", repo.sim.files["snapshot"]).ok());
  t.set_floor("timestamp", 5);
  t.set_floor("timestamp", 3);
  CHECK_REASON(t.update_timestamp(repo.sim.files["timestamp"]), Reason::kRollback);
}

}  // namespace
}  // namespace vouch::tuf
