// Repository's read cache against writers that overtake a slow reader: a reader that missed
// the cache and read version N from the store must not put N back after a publish stored
// N + 1, nor put back a file that a deletion removed meanwhile. A store that holds one read
// after it has read (PausingStore) makes each interleaving happen every time.

#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/repository_test_util.h"

namespace vouch::server {
namespace {

using testing::parts_of;
using testing::RepoSimulator;

// A MetaStore over another that, once armed for a role, holds the next get_current of that
// role after it has read from the inner store, until release(). Everything else passes
// through.
class PausingStore final : public MetaStore {
 public:
  explicit PausingStore(MetaStore& inner) : inner_(inner) {}

  void arm(std::string role) {
    std::lock_guard lock(mu_);
    armed_role_ = std::move(role);
    paused_ = released_ = false;
  }
  // Waits until the armed read has read and is held.
  void wait_paused() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return paused_; });
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

  Result<StoredFile> get_current(std::string_view gun, std::string_view role) override {
    auto result = inner_.get_current(gun, role);
    std::unique_lock lock(mu_);
    if (armed_role_ && *armed_role_ == role) {
      armed_role_.reset();
      paused_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    return result;
  }
  Status update_many(std::string_view gun, std::span<const NewFile> files) override {
    return inner_.update_many(gun, files);
  }
  Result<StoredFile> get_version(std::string_view gun, std::string_view role,
                                 std::int64_t version) override {
    return inner_.get_version(gun, role, version);
  }
  Result<StoredFile> get_checksum(std::string_view gun, std::string_view role,
                                  std::string_view sha256_hex) override {
    return inner_.get_checksum(gun, role, sha256_hex);
  }
  Result<std::vector<RoleVersion>> list_roles(std::string_view gun) override {
    return inner_.list_roles(gun);
  }
  Status delete_gun(std::string_view gun) override { return inner_.delete_gun(gun); }
  Result<std::vector<Change>> get_changes(std::string_view change_id, int records,
                                          std::string_view filter_gun) override {
    return inner_.get_changes(change_id, records, filter_gun);
  }
  Status check_health() override { return inner_.check_health(); }

 private:
  MetaStore& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::string> armed_role_;
  bool paused_ = false;
  bool released_ = false;
};

// Version 1 of the simulator's repository in the store, and a Repository over it whose cache
// is still cold (the publish went through another Repository).
struct Fixture {
  RepoSimulator sim;
  FixedClock clock{sim.now()};
  MemoryStore inner{clock};
  PausingStore store{inner};
  Repository repo{store, sim.signer, clock};

  Fixture() {
    Repository seeder{inner, sim.signer, clock};
    auto st = seeder.publish(sim.gun(), parts_of(sim, {"root", "targets", "snapshot"}));
    REQUIRE_MESSAGE(st.ok(), st.error().message);
  }

  tuf::UpdateStatus publish_targets(std::int64_t version) {
    sim.add_target("t" + std::to_string(version), "content");
    sim.targets.version = version;
    sim.publish();
    return repo.publish(sim.gun(), parts_of(sim, {"targets"}));
  }
};

TEST_CASE("a cold-cache reader overtaken by a publish does not put the older version back") {
  Fixture f;
  f.store.arm("targets");
  std::int64_t reader_saw = 0;
  std::thread reader([&] {
    auto got = f.repo.get_current(f.sim.gun(), "targets");
    if (got) reader_saw = (*got)->version;
  });
  f.store.wait_paused();  // the reader holds version 1, read from the store
  auto st = f.publish_targets(2);
  REQUIRE_MESSAGE(st.ok(), st.error().message);
  f.store.release();
  reader.join();
  CHECK(reader_saw >= 1);

  CHECK(f.repo.get_current(f.sim.gun(), "targets").value()->version == 2);
  // The next publish validates against version 2, not a stale 1.
  st = f.publish_targets(3);
  CHECK_MESSAGE(st.ok(), st.error().message);
  CHECK(f.repo.get_current(f.sim.gun(), "targets").value()->version == 3);
  CHECK(f.repo.get_current(f.sim.gun(), "timestamp").value()->version == 3);
}

TEST_CASE("a cold-cache reader overtaken by a deletion does not resurrect deleted files") {
  Fixture f;
  f.store.arm("targets");
  std::thread reader([&] { (void)f.repo.get_current(f.sim.gun(), "targets"); });
  f.store.wait_paused();
  REQUIRE(f.repo.delete_repository(f.sim.gun()).ok());
  f.store.release();
  reader.join();

  CHECK(f.repo.get_current(f.sim.gun(), "targets").error().reason == Reason::kNotFound);
  // The GUN starts over from version 1.
  f.sim.add_target("again", "content");
  f.sim.publish();
  auto st = f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"}));
  CHECK_MESSAGE(st.ok(), st.error().message);
  CHECK(*f.repo.get_current(f.sim.gun(), "targets").value()->bytes == f.sim.files.at("targets"));
}

TEST_CASE("a reader overtaken by a deletion and a new publish does not put the old file back") {
  Fixture f;
  f.store.arm("snapshot");
  std::thread reader([&] { (void)f.repo.get_current(f.sim.gun(), "snapshot"); });
  f.store.wait_paused();
  REQUIRE(f.repo.delete_repository(f.sim.gun()).ok());
  // Version 1 again, with other bytes.
  f.sim.add_target("again", "content");
  f.sim.publish();
  auto st = f.repo.publish(f.sim.gun(), parts_of(f.sim, {"root", "targets", "snapshot"}));
  REQUIRE_MESSAGE(st.ok(), st.error().message);
  f.store.release();
  reader.join();
  CHECK(*f.repo.get_current(f.sim.gun(), "snapshot").value()->bytes == f.sim.files.at("snapshot"));
}

}  // namespace
}  // namespace vouch::server
