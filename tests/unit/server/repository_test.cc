#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "keys/crypto.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/repository_test_util.h"
#include "tuf/verify.h"

namespace vouch::server {
namespace {

using namespace std::chrono_literals;
using testing::parts_of;
using testing::RepoSimulator;

// A repository whose server signs with the simulator's signer (so it holds the timestamp and
// snapshot keys the simulator's root lists).
struct Fixture {
  RepoSimulator sim;
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  Repository repo{store, sim.signer, clock};
};

tuf::Metadata<tuf::Timestamp> current_timestamp(Repository& repo, const std::string& gun) {
  auto ts = repo.get_current(gun, "timestamp").value();
  return tuf::parse_timestamp(*ts->bytes).value();
}

TEST_CASE("publish stores the uploaded bytes and a server-signed timestamp over the snapshot") {
  Fixture f;
  f.sim.add_target("v1", "one");
  f.sim.publish();
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());

  // The uploaded bytes are served as they were.
  CHECK(*f.repo.get_current(f.sim.gun(), "targets").value()->bytes == f.sim.files.at("targets"));
  CHECK(*f.repo.get_current(f.sim.gun(), "root").value()->bytes == f.sim.files.at("root"));

  auto ts = current_timestamp(f.repo, f.sim.gun());
  CHECK(ts.content.version == 1);
  auto root = tuf::parse_root(f.sim.files.at("root")).value();
  CHECK(tuf::verify_signatures(ts, root.content.keys, root.content.roles.at("timestamp"),
                               "timestamp")
            .ok());
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(f.sim.files.at("snapshot"))).ok());
  CHECK(ts.content.expires.time == f.sim.now() + std::chrono::hours(24 * 14));

  // Served files carry what the HTTP layer needs.
  auto served = f.repo.get_current(f.sim.gun(), "snapshot").value();
  CHECK(served->version == 1);
  CHECK(served->sha256_hex == keys::sha256_hex(as_bytes(f.sim.files.at("snapshot"))));
}

TEST_CASE("without an uploaded snapshot the server generates one when it holds the key") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  f.sim.add_target("v2", "two");
  f.sim.targets.version = 2;
  f.sim.publish();
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"targets"})).ok());
  auto snap = tuf::parse_snapshot(*f.repo.get_current(f.sim.gun(), "snapshot").value()->bytes).value();
  CHECK(snap.content.version == 2);
  CHECK(snap.content.meta.at("targets").check(as_bytes(f.sim.files.at("targets"))).ok());
  auto ts = current_timestamp(f.repo, f.sim.gun());
  CHECK(ts.content.version == 2);
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(*f.repo.get_current(f.sim.gun(), "snapshot")
                                                           .value()
                                                           ->bytes))
            .ok());
}

TEST_CASE("rejected uploads change nothing") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  const auto before = f.repo.get_current(f.sim.gun(), "timestamp").value();

  // A client-sent timestamp is refused: the timestamp is the server's.
  auto st = f.repo.publish(f.sim.gun(), parts_of(f.sim, {"timestamp"}));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().error_class == tuf::UpdateErrorClass::kInvalidRole);

  // The same versions again are old versions.
  st = f.repo.publish(f.sim.gun(), parts_of(f.sim, {"targets", "snapshot"}));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().error_class == tuf::UpdateErrorClass::kOldVersion);

  // Targets signed by the wrong key.
  f.sim.targets.version = 2;
  f.sim.files["targets"] = f.sim.sign(tuf::to_json(f.sim.targets), {f.sim.snapshot_key});
  st = f.repo.publish(f.sim.gun(), parts_of(f.sim, {"targets"}));
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().error_class == tuf::UpdateErrorClass::kBadTargets);

  CHECK(f.repo.get_current(f.sim.gun(), "timestamp").value()->bytes == before->bytes);
}

template <typename R>
constexpr bool kExposesStore = requires(R& r) { r.store(); };

TEST_CASE("the change feed and the health check are the repository's, not the store's") {
  // The HTTP layer talks to the service only: there is no way around it to the store.
  static_assert(!kExposesStore<Repository>);
  Fixture f;
  CHECK(f.repo.health().ok());
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  REQUIRE(f.repo.delete_repository(f.sim.gun()).ok());

  auto all = f.repo.changes("0", 0, "");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].gun == f.sim.gun());
  CHECK((*all)[0].category == Change::Category::kUpdate);
  CHECK((*all)[1].category == Change::Category::kDeletion);
  // Paging and the GUN filter are the store's: one record after the first, none elsewhere.
  auto next = f.repo.changes(std::to_string((*all)[0].id), 1, f.sim.gun());
  REQUIRE(next.ok());
  REQUIRE(next->size() == 1);
  CHECK((*next)[0].id == (*all)[1].id);
  CHECK(f.repo.changes("0", 0, "other/gun")->empty());
  CHECK(f.repo.changes("not-a-number", 0, "").error().code == Code::kInvalidArgument);
}

TEST_CASE("an expiring timestamp is re-signed once, however many readers ask") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(current_timestamp(f.repo, f.sim.gun()).content.version == 1);

  // Not yet due: the same file.
  f.clock.advance(std::chrono::hours(24 * 12));
  CHECK(current_timestamp(f.repo, f.sim.gun()).content.version == 1);

  // Expired: every concurrent reader gets version 2, and only one version 2 is made.
  f.clock.advance(std::chrono::hours(24 * 3));
  std::vector<std::thread> readers;
  std::atomic<int> version2{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] {
      auto ts = f.repo.get_current(f.sim.gun(), "timestamp");
      if (ts && tuf::parse_timestamp(*(*ts)->bytes).value().content.version == 2) ++version2;
    });
  }
  for (auto& t : readers) t.join();
  CHECK(version2 == 8);
  auto ts = current_timestamp(f.repo, f.sim.gun());
  CHECK(ts.content.version == 2);
  CHECK(ts.content.expires.time == f.clock.now() + std::chrono::hours(24 * 14));
  CHECK_FALSE(f.store.get_version(f.sim.gun(), "timestamp", 3).ok());
  // The refreshed timestamp still names the current snapshot.
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(f.sim.files.at("snapshot"))).ok());
}

TEST_CASE("an expiring server-held snapshot is re-signed with a new timestamp") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  f.clock.advance(std::chrono::hours(24 * 365 * 3 + 24));
  auto snap = tuf::parse_snapshot(*f.repo.get_current(f.sim.gun(), "snapshot").value()->bytes).value();
  CHECK(snap.content.version == 2);
  CHECK_FALSE(snap.content.expires.expired_at(f.clock.now()));
  auto ts = current_timestamp(f.repo, f.sim.gun());
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(*snap.bytes)).ok());
}

TEST_CASE("reseal re-signs timestamp and server-held snapshot a gap ahead, whatever expiry") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  // Fresh: a re-signing on read would change nothing; reseal changes both.
  auto version = f.repo.reseal(f.sim.gun(), 1'000'000);
  REQUIRE_MESSAGE(version.ok(), (version.ok() ? "" : version.error().message));
  CHECK(*version == 1'000'001);
  auto snap =
      tuf::parse_snapshot(*f.repo.get_current(f.sim.gun(), "snapshot").value()->bytes).value();
  CHECK(snap.content.version == 1'000'001);
  CHECK(snap.content.meta.at("targets").check(as_bytes(f.sim.files.at("targets"))).ok());
  auto ts = current_timestamp(f.repo, f.sim.gun());
  CHECK(ts.content.version == 1'000'001);
  CHECK(ts.content.meta.at("snapshot").check(as_bytes(*snap.bytes)).ok());
  auto root = tuf::parse_root(f.sim.files.at("root")).value();
  CHECK(tuf::verify_signatures(ts, root.content.keys, root.content.roles.at("timestamp"),
                               "timestamp")
            .ok());
  // Stored, not only cached; later re-signings count on from there.
  CHECK(f.store.get_current(f.sim.gun(), "timestamp").value().version == 1'000'001);
  f.clock.advance(std::chrono::hours(24 * 14));
  CHECK(current_timestamp(f.repo, f.sim.gun()).content.version == 1'000'002);

  CHECK(f.repo.reseal(f.sim.gun(), 0).error().reason == Reason::kBadVersion);
  CHECK(f.repo.reseal("example.com/none", 10).error().reason == Reason::kNotFound);
}

TEST_CASE("server keys: get-or-create is stable, rotate reuses the pending key") {
  Fixture f;
  const std::string gun = "example.com/other";
  auto k1 = f.repo.get_or_create_key(gun, "timestamp").value();
  auto k2 = f.repo.get_or_create_key(gun, "timestamp").value();
  CHECK(k1.id() == k2.id());
  // No root lists k1 yet: it is still pending, and a rotation hands it out again.
  CHECK(f.repo.rotate_key(gun, "timestamp").value().id() == k1.id());
  CHECK(f.repo.get_or_create_key(gun, "targets").error().reason == Reason::kBadRole);

  // With a published root, the key the root lists (and the server holds) is the answer.
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(f.repo.get_or_create_key(f.sim.gun(), "timestamp").value().id() ==
        f.sim.timestamp_key.id());
}

TEST_CASE("rotating a key mints one pending key until a root lists it") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  const std::size_t held = f.sim.signer.size();
  // A rotation never answers the key the current root lists.
  auto k1 = f.repo.rotate_key(f.sim.gun(), "timestamp").value();
  CHECK(k1.id() != f.sim.timestamp_key.id());
  // Repeated rotations (POST timestamp.key) return the same pending key and mint no more.
  for (int i = 0; i < 5; ++i) {
    CHECK(f.repo.rotate_key(f.sim.gun(), "timestamp").value().id() == k1.id());
  }
  CHECK(f.sim.signer.size() == held + 1);
  // Per role: the snapshot gets its own pending key.
  auto s1 = f.repo.rotate_key(f.sim.gun(), "snapshot").value();
  CHECK(s1.id() != k1.id());
  CHECK(f.repo.rotate_key(f.sim.gun(), "snapshot").value().id() == s1.id());
  CHECK(f.sim.signer.size() == held + 2);

  // Once a published root lists the pending key, the next rotation makes a new one.
  f.sim.use_timestamp_key(k1);
  f.sim.root.version = 2;
  f.sim.targets.version = 2;
  f.sim.snapshot.version = 2;
  f.sim.publish();
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(f.repo.get_or_create_key(f.sim.gun(), "timestamp").value().id() == k1.id());
  auto k2 = f.repo.rotate_key(f.sim.gun(), "timestamp").value();
  CHECK(k2.id() != k1.id());
  CHECK(f.repo.rotate_key(f.sim.gun(), "timestamp").value().id() == k2.id());
}

TEST_CASE("delete removes the repository and its cached files") {
  Fixture f;
  REQUIRE(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
  REQUIRE(f.repo.get_current(f.sim.gun(), "targets").ok());
  REQUIRE(f.repo.delete_repository(f.sim.gun()).ok());
  CHECK(f.repo.get_current(f.sim.gun(), "targets").error().reason == Reason::kNotFound);
  CHECK(f.repo.get_current(f.sim.gun(), "timestamp").error().reason == Reason::kNotFound);
  // And it can be created again from scratch.
  CHECK(f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"})).ok());
}

}  // namespace
}  // namespace vouch::server
