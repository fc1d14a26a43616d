// WorkQueue: the bounded, exception-safe worker pool shared by vouch-server and
// vouch-verifier. Workers are held on a gate the test opens, so "busy" is a fact, not a race.

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common/work_queue.h"

namespace vouch {
namespace {

// Tasks wait on it until open(); started() counts those that reached it.
class Gate {
 public:
  void wait() {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_started(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_ >= n; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  bool open_ = false;
};

TEST_CASE("a full queue refuses tasks instead of growing, and runs every accepted one") {
  Gate gate;
  std::atomic<int> ran{0};
  WorkQueue q(2, 3, "test");
  for (int i = 0; i < 2; ++i) REQUIRE(q.post([&] { gate.wait(); ++ran; }));
  gate.wait_started(2);  // both workers busy
  for (int i = 0; i < 3; ++i) CHECK(q.post([&] { ++ran; }));
  CHECK(q.load() == 5);
  CHECK_FALSE(q.post([&] { ++ran; }));  // the fourth waiting task is refused
  gate.open();
  q.stop();
  CHECK(ran == 5);
  CHECK_FALSE(q.post([&] { ++ran; }));  // stopped
}

TEST_CASE("max_queued 0 accepts a task only when a worker is idle") {
  Gate gate;
  WorkQueue q(1, 0, "test");
  // Refused until the worker has started and waits for work.
  while (!q.post([&] { gate.wait(); })) std::this_thread::yield();
  gate.wait_started(1);
  CHECK_FALSE(q.post([] {}));
  gate.open();
}

TEST_CASE("a task that throws is logged and dropped; the worker goes on") {
  std::atomic<int> ran{0};
  WorkQueue q(1, 8, "test");
  REQUIRE(q.post([] { throw std::runtime_error("boom"); }));
  REQUIRE(q.post([] { throw 42; }));
  REQUIRE(q.post([&] { ++ran; }));
  q.stop();
  CHECK(ran == 1);
}

}  // namespace
}  // namespace vouch
