// common/net/grpc_calls.h: counting calls in flight and waiting for them.

#include "common/net/grpc_calls.h"

#include <doctest/doctest.h>

#include <thread>

namespace vouch::net {
namespace {

using std::chrono::system_clock;

TEST_CASE("InflightCalls: idle only when every call that entered has left") {
  InflightCalls calls;
  const auto past = system_clock::now() - std::chrono::seconds(1);
  CHECK(calls.wait_idle(past));
  calls.enter();
  calls.enter();
  CHECK_FALSE(calls.wait_idle(past));
  calls.leave();
  CHECK_FALSE(calls.wait_idle(past));
  calls.leave();
  CHECK(calls.wait_idle(past));
}

TEST_CASE("InflightCalls: a waiter wakes when the last call leaves") {
  InflightCalls calls;
  calls.enter();
  std::thread leaver([&calls] { calls.leave(); });
  // No deadline that could pass first: the wait ends only because the call left.
  CHECK(calls.wait_idle(system_clock::time_point::max()));
  leaver.join();
}

TEST_CASE("CountedReactor: counts itself until OnDone") {
  InflightCalls calls;
  const auto past = system_clock::now() - std::chrono::seconds(1);
  auto* reactor = new CountedReactor(calls);
  CHECK_FALSE(calls.wait_idle(past));
  reactor->OnDone();  // deletes it
  CHECK(calls.wait_idle(past));
}

TEST_CASE("shutdown_servers: no servers and no calls returns at once") {
  InflightCalls calls;
  shutdown_servers({nullptr}, calls, system_clock::now());
  CHECK(calls.wait_idle(system_clock::now()));
}

}  // namespace
}  // namespace vouch::net
