// Repository with a signer that stalls on one repository's key (a slow or unreachable remote
// signer, held on a gate the test opens): a publish waiting for that signature holds up no
// other GUN, not even one whose name hashes into the same slot as the stalled one (the old
// striped lock array), and a read of the stalled GUN's timestamp that is due for re-signing
// is served the still-valid one at once while the re-signing waits in the background.
//
// Nothing here measures time: each wait that could hang on a broken build has a generous
// guard (kGuard) that then opens the gate, so the test fails instead of hanging.

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "common/work_queue.h"
#include "server/repository.h"
#include "server/storage/memory_store.h"
#include "tests/support/repo_simulator.h"
#include "tests/unit/server/repository_test_util.h"
#include "tests/unit/server/stalling_signer.h"

namespace vouch::server {
namespace {

using namespace std::chrono_literals;
using testing::parts_of;
using testing::RepoSimulator;
using testing::StallingSigner;

constexpr auto kGuard = testing::kStallGuard;

// Runs `fn` on a thread and reports whether it finished before the signer was released; a
// stuck `fn` is let go after kGuard (by releasing the signer), so the test fails, not hangs.
bool finishes_while_stalled(StallingSigner& signer, const std::function<void()>& fn) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread t([&] {
    fn();
    std::lock_guard lock(mu);
    done = true;
    cv.notify_all();
  });
  bool in_time;
  {
    std::unique_lock lock(mu);
    in_time = cv.wait_for(lock, kGuard, [&] { return done; });
  }
  if (!in_time) signer.release();
  t.join();
  return in_time;
}

// A GUN other than `gun` whose std::hash falls into the same one of 64 slots: under the old
// striped lock it shared `gun`'s mutex.
std::string same_stripe_as(const std::string& gun) {
  const auto slot = std::hash<std::string_view>{}(gun) % 64;
  for (int i = 0;; ++i) {
    std::string other = "example.com/other/" + std::to_string(i);
    if (std::hash<std::string_view>{}(other) % 64 == slot) return other;
  }
}

tuf::UpdateStatus publish_next_targets(Repository& repo, RepoSimulator& sim) {
  sim.targets.version += 1;
  sim.add_target("t" + std::to_string(sim.targets.version), "content");
  sim.publish();
  return repo.publish(sim.gun(), parts_of(sim, {"targets"}));
}

struct Fixture {
  RepoSimulator a{"example.com/stalled"};
  RepoSimulator b{same_stripe_as("example.com/stalled"), a.now()};
  StallingSigner signer{{&a.signer, &b.signer}};
  FixedClock clock{a.now()};
  MemoryStore store{clock};
  WorkQueue background{1, 16, "test"};
  Repository repo{store, signer, clock, options()};

  RepositoryOptions options() {
    RepositoryOptions o;
    o.run_in_background = [this](std::function<void()> task) {
      return background.post(std::move(task));
    };
    return o;
  }

  Fixture() {
    for (RepoSimulator* sim : {&a, &b}) {
      auto st = repo.publish(sim->gun(), parts_of(*sim, {"root", "targets", "snapshot"}));
      REQUIRE_MESSAGE(st.ok(), st.error().message);
    }
  }
  ~Fixture() {
    signer.release();
    background.stop();
  }
};

TEST_CASE("a publish waiting for the signer holds up no other repository") {
  Fixture f;
  f.signer.stall(f.a.timestamp_key);
  tuf::UpdateStatus stalled_publish;
  std::thread stalled([&] { stalled_publish = publish_next_targets(f.repo, f.a); });
  REQUIRE(f.signer.wait_stalled());

  tuf::UpdateStatus other;
  CHECK(finishes_while_stalled(f.signer, [&] { other = publish_next_targets(f.repo, f.b); }));
  CHECK_MESSAGE(other.ok(), other.error().message);
  // Reads of the stalled repository are served meanwhile.
  CHECK(f.repo.get_current(f.a.gun(), "timestamp").value()->version == 1);
  CHECK(f.repo.get_current(f.a.gun(), "targets").value()->version == 1);

  f.signer.release();
  stalled.join();
  CHECK_MESSAGE(stalled_publish.ok(), stalled_publish.error().message);
  CHECK(f.repo.get_current(f.a.gun(), "timestamp").value()->version == 2);
}

TEST_CASE("a timestamp due for re-signing is served at once while the signer stalls") {
  Fixture f;
  // Within refresh_ahead (1 day) of the 14-day expiry: due, still valid.
  f.clock.advance(std::chrono::hours(24 * 13 + 12));
  f.signer.stall(f.a.timestamp_key);
  std::int64_t served = 0;
  CHECK(finishes_while_stalled(f.signer, [&] {
    auto ts = f.repo.get_current(f.a.gun(), "timestamp");
    if (ts) served = (*ts)->version;
  }));
  CHECK(served == 1);
  // The re-signing waits on a worker; once the signer answers, readers get version 2.
  REQUIRE(f.signer.wait_stalled());
  f.signer.release();
  f.background.stop();
  CHECK(f.repo.get_current(f.a.gun(), "timestamp").value()->version == 2);
}

}  // namespace
}  // namespace vouch::server
