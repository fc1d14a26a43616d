// GunLocks: one lock per GUN, and an entry only while someone holds or waits for it.

#include <doctest/doctest.h>

#include <thread>
#include <utility>
#include <vector>

#include "server/gun_locks.h"

namespace vouch::server {
namespace {

TEST_CASE("each GUN has its own lock, and the table forgets unused GUNs") {
  GunLocks locks;
  {
    GunLocks::Guard a = locks.lock("a");
    CHECK(a.owns());
    CHECK_FALSE(locks.try_lock("a").owns());  // held
    GunLocks::Guard b = locks.try_lock("b");  // another GUN is free
    CHECK(b.owns());
    CHECK(locks.size() == 2);
    GunLocks::Guard moved = std::move(a);
    CHECK(moved.owns());
    CHECK_FALSE(a.owns());  // a moved-from Guard holds nothing
    CHECK(locks.size() == 2);
  }
  CHECK(locks.size() == 0);
  CHECK(locks.try_lock("a").owns());
  CHECK(locks.size() == 0);
}

TEST_CASE("a waiter gets the lock when the holder lets go") {
  GunLocks locks;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        const GunLocks::Guard g = locks.lock("shared");
        ++counter;  // a data race (and a wrong sum) unless the lock excludes
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(counter == 4000);
  CHECK(locks.size() == 0);
}

}  // namespace
}  // namespace vouch::server
