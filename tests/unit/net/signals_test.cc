#include "common/net/signals.h"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <future>
#include <thread>

namespace vouch::net {
namespace {

// Signals are delivered with simulate(): a real kill() would reach whichever thread of this
// test process does not block the signal (doctest runs many cases in one process).
TEST_CASE("signals: reload and shutdown callbacks, wait_for_shutdown") {
  auto watcher = SignalWatcher::start();
  REQUIRE_MESSAGE(watcher.ok(), watcher.error().message);
  SignalWatcher& w = **watcher;
  std::promise<void> reloaded;
  w.on_reload([&] { reloaded.set_value(); });
  std::promise<int> shutdown;
  w.on_shutdown([&](int sig) { shutdown.set_value(sig); });
  CHECK(w.shutdown_signal() == 0);

  w.simulate(SIGHUP);
  reloaded.get_future().get();
  CHECK(w.shutdown_signal() == 0);

  std::future<int> waited = std::async(std::launch::async, [&] { return w.wait_for_shutdown(); });
  w.simulate(SIGTERM);
  CHECK(shutdown.get_future().get() == SIGTERM);
  CHECK(waited.get() == SIGTERM);
  CHECK(w.shutdown_signal() == SIGTERM);
  CHECK(w.wait_for_shutdown() == SIGTERM);  // returns at once afterwards
  w.stop();
  w.stop();
}

TEST_CASE("signals: stop() releases waiters - callbacks that throw are contained") {
  SignalWatcherOptions options;
  options.exit_on_second_shutdown_signal = false;
  auto watcher = SignalWatcher::start(options);
  REQUIRE(watcher.ok());
  SignalWatcher& w = **watcher;
  std::promise<void> threw;
  w.on_reload([&] {
    threw.set_value();
    throw std::runtime_error("reload failed");
  });
  w.simulate(SIGHUP);
  threw.get_future().get();
  std::atomic<int> calls{0};
  std::promise<void> second;
  w.on_shutdown([&](int) {
    if (++calls == 1) second.set_value();
  });
  w.simulate(SIGINT);
  second.get_future().get();
  w.simulate(SIGTERM);  // second shutdown signal: ignored when exiting is disabled
  CHECK(w.wait_for_shutdown() == SIGINT);

  auto other = SignalWatcher::start(options);
  REQUIRE(other.ok());
  std::future<int> waited =
      std::async(std::launch::async, [&] { return (*other)->wait_for_shutdown(); });
  (*other)->stop();
  CHECK(waited.get() == 0);
}

}  // namespace
}  // namespace vouch::net
