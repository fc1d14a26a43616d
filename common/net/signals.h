#pragma once

// Signal handling for daemons (STACK §8: SIGTERM = graceful drain, SIGHUP = reload certs and
// config). Signals are blocked in every thread and read synchronously by one watcher thread
// (signalfd), so callbacks run in ordinary thread context: they may lock, allocate, log and
// call HttpServer::stop() or reload_tls() (never from a real signal handler).
//
// Use from main.cc, before any other thread is started (threads inherit the signal mask):
//
//   int main(int argc, char** argv) {
//     auto signals = vouch::net::SignalWatcher::start();   // first: blocks the signals
//     if (!signals) { fmt::print(stderr, "...: {}\n", signals.error().message); return 1; }
//     ... parse config, start servers (their threads inherit the blocked mask) ...
//     (*signals)->on_reload([&] { if (auto s = server->reload_tls(); !s) log->warn(...); });
//     int sig = (*signals)->wait_for_shutdown();   // blocks until SIGTERM or SIGINT
//     log->info("signal {}: draining", sig);
//     server->stop();                              // graceful drain
//     return 0;
//   }
//
// A second SIGTERM/SIGINT while the process is already shutting down exits at once with
// status 128+signal (the operator's "I mean it"), unless disabled in the options.

#include <functional>
#include <memory>

#include "common/result.h"

namespace vouch::net {

struct SignalWatcherOptions {
  // Exit immediately (std::_Exit(128 + sig)) on a second shutdown signal. Default true.
  bool exit_on_second_shutdown_signal = true;
  // Ignore SIGPIPE process-wide (writes to a closed socket then fail with EPIPE instead of
  // killing the process). Default true.
  bool ignore_sigpipe = true;
};

class SignalWatcher {
 public:
  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (pthread_sigmask) and starts the
  // watcher thread. Call once, from main(), before starting other threads. kInternal if the
  // OS refuses (signalfd/eventfd/pthread_sigmask failure).
  static Result<std::unique_ptr<SignalWatcher>> start(SignalWatcherOptions options = {});

  // Stops the watcher thread (the signals stay blocked). Idempotent.
  ~SignalWatcher();
  void stop();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Called on the watcher thread for each SIGHUP. Replaces any earlier callback. Thread-safe.
  void on_reload(std::function<void()> callback);
  // Called on the watcher thread for the first SIGTERM/SIGINT (after which
  // wait_for_shutdown() returns). Replaces any earlier callback. Thread-safe.
  void on_shutdown(std::function<void(int signal)> callback);

  // Blocks until a shutdown signal arrives (or has arrived) and returns its number; returns 0
  // if stop() was called first. Any number of threads may wait.
  int wait_for_shutdown();
  // Non-blocking: the shutdown signal received so far, or 0.
  int shutdown_signal() const;

  // For tests: delivers `signal` to the watcher as if the process had received it (the
  // process-directed kill(getpid(), sig) works too, since every thread blocks it).
  void simulate(int signal);

  class Impl;

 private:
  explicit SignalWatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::net
