// Repository's per-GUN cache of the parsed current root: a publish hands the remembered root
// to the validator (tuf::ValidationOptions::parsed_root_hint) instead of having it decode the
// stored root's keys again. The validator returns the hint itself as ValidatedUpdate::root
// when it used it, and the repository remembers whatever root the update leaves in force, so
// the identity of Repository::current_root() across publishes shows whether the stored root
// was parsed again.

#include <doctest/doctest.h>

#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/repository_test_util.h"

namespace vouch::server {
namespace {

using testing::parts_of;
using testing::RepoSimulator;

// Re-signs targets and a snapshot over it (the root's bytes stay as published: re-signing it
// would change them, ECDSA signatures being randomized).
void resign_targets_and_snapshot(RepoSimulator& sim) {
  sim.files["targets"] = sim.sign(tuf::to_json(sim.targets), sim.keys_for("targets"));
  sim.snapshot.meta["targets"] = tuf::FileMeta::of(as_bytes(sim.files.at("targets")));
  sim.files["snapshot"] = sim.sign(tuf::to_json(sim.snapshot), sim.keys_for("snapshot"));
}

struct Fixture {
  RepoSimulator sim;
  FixedClock clock{sim.now()};
  MemoryStore store{clock};
  Repository repo{store, sim.signer, clock};

  void publish(std::initializer_list<const char*> roles) {
    auto st = repo.publish(sim.gun(), parts_of(sim, roles));
    REQUIRE_MESSAGE(st.ok(), st.error().message);
  }
};

TEST_CASE("publishes reuse the parsed root until the root changes") {
  Fixture f;
  CHECK(f.repo.current_root(f.sim.gun()).error().reason == Reason::kNotFound);
  f.publish({"root", "targets", "snapshot"});
  auto first = f.repo.current_root(f.sim.gun()).value();
  CHECK(first->content.version == 1);
  CHECK(*first->bytes == f.sim.files.at("root"));

  // Publishes that do not touch the root validate against the remembered one: the same object
  // comes back, so the stored root was not parsed again.
  for (std::int64_t v = 2; v <= 4; ++v) {
    f.sim.add_target("t" + std::to_string(v), "content");
    f.sim.targets.version = v;
    f.sim.snapshot.version = v;
    resign_targets_and_snapshot(f.sim);
    f.publish({"targets", "snapshot"});
    CHECK(f.repo.current_root(f.sim.gun()).value().get() == first.get());
  }
  // Reads that need the root (server keys) use it too.
  CHECK(f.repo.get_or_create_key(f.sim.gun(), "timestamp").value().id() ==
        f.sim.timestamp_key.id());
  CHECK(f.repo.current_root(f.sim.gun()).value().get() == first.get());

  // A new root replaces it, and is then reused in turn.
  f.sim.root.version = 2;
  f.sim.files["root"] = f.sim.sign(tuf::to_json(f.sim.root), {f.sim.root_key});
  f.publish({"root"});
  auto second = f.repo.current_root(f.sim.gun()).value();
  CHECK(second.get() != first.get());
  CHECK(second->content.version == 2);
  CHECK(*second->bytes == f.sim.files.at("root"));
  f.sim.targets.version = 5;
  f.sim.files["targets"] = f.sim.sign(tuf::to_json(f.sim.targets), {f.sim.targets_key});
  f.publish({"targets"});
  CHECK(f.repo.current_root(f.sim.gun()).value().get() == second.get());

  // Deleting the repository forgets it.
  REQUIRE(f.repo.delete_repository(f.sim.gun()).ok());
  CHECK(f.repo.current_root(f.sim.gun()).error().reason == Reason::kNotFound);
}

TEST_CASE("a remembered root is never used once the stored root has other bytes") {
  Fixture f;
  f.publish({"root", "targets", "snapshot"});
  auto cached = f.repo.current_root(f.sim.gun()).value();

  // Another writer (not this Repository) stores root version 2 behind the cache's back.
  f.sim.root.version = 2;
  f.sim.root.expires = tuf::Expiry::at(f.sim.now() + std::chrono::hours(24 * 30));
  f.sim.files["root"] = f.sim.sign(tuf::to_json(f.sim.root), {f.sim.root_key});
  const std::vector<NewFile> files = {
      {"root", 2, std::make_shared<const std::string>(f.sim.files.at("root"))}};
  REQUIRE(f.store.update_many(f.sim.gun(), files).ok());

  auto now = f.repo.current_root(f.sim.gun()).value();
  CHECK(now.get() != cached.get());
  CHECK(now->content.version == 2);
  CHECK(*now->bytes == f.sim.files.at("root"));
  // And it is the one remembered from then on.
  CHECK(f.repo.current_root(f.sim.gun()).value().get() == now.get());
}

TEST_CASE("the cache is per GUN and can be turned off") {
  Fixture f;
  f.publish({"root", "targets", "snapshot"});
  auto cached = f.repo.current_root(f.sim.gun()).value();
  CHECK(f.repo.current_root("example.com/other").error().reason == Reason::kNotFound);
  CHECK(f.repo.current_root(f.sim.gun()).value().get() == cached.get());

  RepositoryOptions off;
  off.max_cached_roots = 0;
  Repository uncached{f.store, f.sim.signer, f.clock, off};
  auto x = uncached.current_root(f.sim.gun()).value();
  auto y = uncached.current_root(f.sim.gun()).value();
  CHECK(x.get() != y.get());
  CHECK(*x->bytes == *y->bytes);
}

}  // namespace
}  // namespace vouch::server
