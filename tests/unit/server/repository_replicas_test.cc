// Several Repository objects on one store, as several vouch-server replicas on one PostgreSQL
// (issue 16 item 2; server/README.md "Running several replicas"): a publish through one is
// served by the others after their next sync_changes, a deletion too; a publish validates
// against the store, not a stale cache; replicas racing to re-sign a due timestamp produce one
// new version and the loser serves the winner's file. The replicas share one MemoryStore (a
// real store; the PostgreSQL side is covered by tests/interop/vouch_server_replicas.sh).

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/repository_test_util.h"
#include "tuf/metadata.h"

namespace vouch::server {
namespace {

using testing::parts_of;
using testing::RepoSimulator;

// The shared store as one replica sees it: every call goes to `store`; before_update (if set)
// runs once, right before the next update_many, to let another replica commit in between
// (the interleaving of a race between two processes, made deterministic). While `down`, reads
// fail as PgStore's do when the database is unreachable.
class ReplicaView final : public MetaStore {
 public:
  explicit ReplicaView(MetaStore& store) : store_(store) {}
  std::function<void()> before_update;
  bool down = false;

  Status update_many(std::string_view gun, std::span<const NewFile> files) override {
    if (auto hook = std::exchange(before_update, nullptr)) hook();
    return store_.update_many(gun, files);
  }
  Result<StoredFile> get_current(std::string_view gun, std::string_view role) override {
    if (down) return make_error(Reason::kUnavailable, "postgres: connection refused");
    return store_.get_current(gun, role);
  }
  Result<StoredFile> get_version(std::string_view gun, std::string_view role,
                                 std::int64_t version) override {
    return store_.get_version(gun, role, version);
  }
  Result<StoredFile> get_checksum(std::string_view gun, std::string_view role,
                                  std::string_view sha256_hex) override {
    return store_.get_checksum(gun, role, sha256_hex);
  }
  Result<std::vector<RoleVersion>> list_roles(std::string_view gun) override {
    return store_.list_roles(gun);
  }
  Status delete_gun(std::string_view gun) override { return store_.delete_gun(gun); }
  Result<std::vector<Change>> get_changes(std::string_view change_id, int records,
                                          std::string_view filter_gun) override {
    return store_.get_changes(change_id, records, filter_gun);
  }
  Status check_health() override { return store_.check_health(); }

 private:
  MetaStore& store_;
};

RepositoryOptions shared_options(PendingKeyStore& pending) {
  RepositoryOptions o;
  o.store_is_shared = true;
  o.pending_keys = &pending;
  return o;
}

// Two replicas (a and b) on one store, signing with the simulator's signer (the keys are
// shared, as with a remote signer).
struct Replicas {
  RepoSimulator sim;
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  ReplicaView view_a{store};
  ReplicaView view_b{store};
  MemoryPendingKeyStore pending;  // as PgStore::pending_keys(), one for both
  Repository a{view_a, sim.signer, clock, shared_options(pending)};
  Repository b{view_b, sim.signer, clock, shared_options(pending)};

  std::int64_t served_version(Repository& r, const char* role) {
    auto f = r.get_current(sim.gun(), role);
    REQUIRE(f.ok());
    return (*f)->version;
  }
  // The next targets version, signed by the simulator (not yet published).
  void next_targets(const std::string& target) {
    sim.add_target(target, target);
    ++sim.targets.version;
    sim.publish();
  }
};

TEST_CASE("a publish through one replica is served by another after its next sync") {
  Replicas r;
  REQUIRE(r.a.sync_changes().ok());
  REQUIRE(r.b.sync_changes().ok());
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"root", "targets", "snapshot"})).ok());
  // b caches version 1 of every role.
  for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
    CHECK(r.served_version(r.b, role) == 1);
  }

  r.next_targets("two");
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"targets"})).ok());
  auto read = r.b.sync_changes();
  REQUIRE(read.ok());
  CHECK(*read >= 1);
  CHECK(r.served_version(r.b, "targets") == 2);
  CHECK(r.served_version(r.b, "snapshot") == 2);
  CHECK(r.served_version(r.b, "timestamp") == 2);
  CHECK(*r.b.get_current(r.sim.gun(), "targets").value()->bytes == r.sim.files.at("targets"));

  // Nothing new: nothing read, nothing changes.
  read = r.b.sync_changes();
  REQUIRE(read.ok());
  CHECK(*read == 0);
  CHECK(r.served_version(r.b, "timestamp") == 2);

  // A deletion through a: b no longer serves the GUN.
  REQUIRE(r.a.delete_repository(r.sim.gun()).ok());
  REQUIRE(r.b.sync_changes().ok());
  auto gone = r.b.get_current(r.sim.gun(), "targets");
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().reason == Reason::kNotFound);
}

TEST_CASE("the first sync invalidates what was cached before it") {
  Replicas r;
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(r.served_version(r.b, "targets") == 1);
  r.next_targets("two");
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"targets"})).ok());
  // b never synced: its position is unknown, so everything it cached is suspect.
  REQUIRE(r.b.sync_changes().ok());
  CHECK(r.served_version(r.b, "targets") == 2);
}

TEST_CASE("while the store cannot be read, a replica serves what it cached, superseded or not") {
  Replicas r;
  REQUIRE(r.a.sync_changes().ok());
  REQUIRE(r.b.sync_changes().ok());
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(r.served_version(r.b, "targets") == 1);
  CHECK(r.served_version(r.b, "timestamp") == 1);
  r.next_targets("two");
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"targets"})).ok());
  REQUIRE(r.b.sync_changes().ok());  // b knows its files are superseded

  r.view_b.down = true;
  CHECK(r.served_version(r.b, "targets") == 1);
  CHECK(r.served_version(r.b, "timestamp") == 1);
  auto never_cached = r.b.get_current(r.sim.gun(), "snapshot");
  REQUIRE_FALSE(never_cached.ok());
  CHECK(never_cached.error().reason == Reason::kUnavailable);

  r.view_b.down = false;
  CHECK(r.served_version(r.b, "targets") == 2);
  CHECK(r.served_version(r.b, "snapshot") == 2);
}

TEST_CASE("a publish validates against the store, not a replica's stale cache") {
  Replicas r;
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(r.served_version(r.b, "snapshot") == 1);  // b caches version 1
  CHECK(r.served_version(r.b, "targets") == 1);

  r.next_targets("two");
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"targets"})).ok());
  // The client saw version 2 (through a) and publishes version 3 through b, which has not
  // synced yet: b must build on the stored snapshot 2, not on its cached snapshot 1.
  r.next_targets("three");
  auto st = r.b.publish(r.sim.gun(), parts_of(r.sim, {"targets"}));
  REQUIRE_MESSAGE(st.ok(), st.error().message);
  CHECK(r.store.get_current(r.sim.gun(), "targets").value().version == 3);
  CHECK(r.store.get_current(r.sim.gun(), "snapshot").value().version == 3);
  CHECK(r.served_version(r.b, "targets") == 3);
}

TEST_CASE("replicas racing for one version: one winner, the loser gets Notary's old version") {
  Replicas r;
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"root", "targets", "snapshot"})).ok());
  r.next_targets("two");
  const auto for_a = parts_of(r.sim, {"targets"});
  // Another client's targets version 2, with other content, through b.
  RepoSimulator& sim = r.sim;
  sim.add_target("other", "other");
  sim.publish();
  const auto for_b = parts_of(sim, {"targets"});
  // b validates first, a commits while b is signing, then b's write meets the version rule.
  tuf::UpdateStatus a_result;
  r.view_b.before_update = [&] { a_result = r.a.publish(r.sim.gun(), for_a); };
  auto b_result = r.b.publish(r.sim.gun(), for_b);
  REQUIRE(a_result.ok());
  REQUIRE_FALSE(b_result.ok());
  CHECK(b_result.error().error_class == tuf::UpdateErrorClass::kOldVersion);
  CHECK(r.store.get_current(r.sim.gun(), "targets").value().bytes->compare(*for_a[0].bytes) == 0);
  CHECK(r.store.get_current(r.sim.gun(), "timestamp").value().version == 2);
}

TEST_CASE("replicas racing to re-sign an expired timestamp: one new version, both serve it") {
  Replicas r;
  REQUIRE(r.a.publish(r.sim.gun(), parts_of(r.sim, {"root", "targets", "snapshot"})).ok());
  CHECK(r.served_version(r.b, "timestamp") == 1);
  r.clock.advance(std::chrono::hours(24 * 15));  // the timestamp (14 days) has expired

  // a re-signs while b is signing its own version 2: b loses the version race.
  std::shared_ptr<const ServedFile> from_a;
  r.view_b.before_update = [&] { from_a = r.a.get_current(r.sim.gun(), "timestamp").value(); };
  auto from_b = r.b.get_current(r.sim.gun(), "timestamp");
  REQUIRE_MESSAGE(from_b.ok(), from_b.error().message);
  REQUIRE(from_a != nullptr);
  CHECK(from_a->version == 2);
  CHECK((*from_b)->version == 2);
  CHECK(*(*from_b)->bytes == *from_a->bytes);
  CHECK_FALSE(r.store.get_version(r.sim.gun(), "timestamp", 3).ok());
  // And b keeps serving it.
  CHECK(*r.b.get_current(r.sim.gun(), "timestamp").value()->bytes == *from_a->bytes);
}

}  // namespace
}  // namespace vouch::server

namespace vouch::server {
namespace {

TEST_CASE("server keys: one pending key per GUN and role for every replica") {
  Replicas r;
  const std::string gun = "example.com/vouch/new";
  auto from_a = r.a.get_or_create_key(gun, "timestamp");
  auto from_b = r.b.get_or_create_key(gun, "timestamp");
  REQUIRE(from_a.ok());
  REQUIRE(from_b.ok());
  CHECK(from_a->id() == from_b->id());

  // A rotation through b hands out one new pending key, which a hands out too.
  auto rotated = r.b.rotate_key(gun, "timestamp");
  REQUIRE(rotated.ok());
  auto again = r.a.rotate_key(gun, "timestamp");
  REQUIRE(again.ok());
  CHECK(again->id() == rotated->id());
  CHECK(r.a.get_or_create_key(gun, "timestamp")->id() == rotated->id());

  // Deleting the GUN through a forgets it for b too.
  REQUIRE(r.a.delete_repository(gun).ok());
  CHECK(r.pending.get(gun, "timestamp").value() == std::nullopt);
}

}  // namespace
}  // namespace vouch::server
