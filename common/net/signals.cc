#include "common/net/signals.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "common/log.h"

namespace vouch::net {

class SignalWatcher::Impl {
 public:
  SignalWatcherOptions options;
  int signal_fd = -1;
  int event_fd = -1;
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  int shutdown_sig = 0;
  bool stopped = false;
  std::deque<int> simulated;
  std::function<void()> reload_cb;
  std::function<void(int)> shutdown_cb;

  ~Impl() {
    stop();
    if (signal_fd >= 0) ::close(signal_fd);
    if (event_fd >= 0) ::close(event_fd);
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      stopped = true;
    }
    cv.notify_all();
    wake();
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
    if (thread.joinable()) thread.detach();  // stop() from a callback: the thread ends itself
  }

  void wake() const {
    const std::uint64_t one = 1;
    // A full counter (impossible in practice) still leaves the fd readable.
    [[maybe_unused]] auto n = ::write(event_fd, &one, sizeof(one));
  }

  void handle(int sig) {
    if (sig == SIGHUP) {
      std::function<void()> cb;
      {
        std::lock_guard lock(mu);
        cb = reload_cb;
      }
      log::get("signals")->info("SIGHUP: reloading");
      if (cb) {
        try {
          cb();
        } catch (const std::exception& e) {
          log::get("signals")->error("reload callback threw: {}", e.what());
        } catch (...) {
          log::get("signals")->error("reload callback threw");
        }
      }
      return;
    }
    if (sig != SIGTERM && sig != SIGINT) return;
    std::function<void(int)> cb;
    {
      std::lock_guard lock(mu);
      if (shutdown_sig != 0) {
        if (options.exit_on_second_shutdown_signal) {
          // The operator insists: no drain, no destructors.
          std::_Exit(128 + sig);
        }
        return;
      }
      shutdown_sig = sig;
      cb = shutdown_cb;
    }
    cv.notify_all();
    log::get("signals")->info("{}: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (cb) {
      try {
        cb(sig);
      } catch (const std::exception& e) {
        log::get("signals")->error("shutdown callback threw: {}", e.what());
      } catch (...) {
        log::get("signals")->error("shutdown callback threw");
      }
    }
  }

  void run() {
    pollfd fds[2] = {{signal_fd, POLLIN, 0}, {event_fd, POLLIN, 0}};
    for (;;) {
      int r = ::poll(fds, 2, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        log::get("signals")->error("poll: {}", std::strerror(errno));
        return;
      }
      if (fds[1].revents & POLLIN) {
        std::uint64_t count = 0;
        [[maybe_unused]] auto n = ::read(event_fd, &count, sizeof(count));
        std::deque<int> batch;
        {
          std::lock_guard lock(mu);
          if (stopped) return;
          batch.swap(simulated);
        }
        for (int sig : batch) handle(sig);
      }
      if (fds[0].revents & POLLIN) {
        signalfd_siginfo info{};
        auto n = ::read(signal_fd, &info, sizeof(info));
        if (n == static_cast<ssize_t>(sizeof(info))) handle(static_cast<int>(info.ssi_signo));
      }
      {
        std::lock_guard lock(mu);
        if (stopped) return;
      }
    }
  }
};

SignalWatcher::SignalWatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SignalWatcher::~SignalWatcher() = default;

Result<std::unique_ptr<SignalWatcher>> SignalWatcher::start(SignalWatcherOptions options) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    return make_error(Reason::kInternal, std::string("pthread_sigmask: ") + std::strerror(err));
  }
  if (options.ignore_sigpipe) std::signal(SIGPIPE, SIG_IGN);
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->signal_fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (impl->signal_fd < 0) {
    return make_error(Reason::kInternal, std::string("signalfd: ") + std::strerror(errno));
  }
  impl->event_fd = ::eventfd(0, EFD_CLOEXEC);
  if (impl->event_fd < 0) {
    return make_error(Reason::kInternal, std::string("eventfd: ") + std::strerror(errno));
  }
  try {
    impl->thread = std::thread([p = impl.get()] { p->run(); });
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("signal thread: ") + e.what());
  }
  return std::unique_ptr<SignalWatcher>(new SignalWatcher(std::move(impl)));
}

void SignalWatcher::stop() { impl_->stop(); }

void SignalWatcher::on_reload(std::function<void()> callback) {
  std::lock_guard lock(impl_->mu);
  impl_->reload_cb = std::move(callback);
}

void SignalWatcher::on_shutdown(std::function<void(int)> callback) {
  std::lock_guard lock(impl_->mu);
  impl_->shutdown_cb = std::move(callback);
}

int SignalWatcher::wait_for_shutdown() {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->shutdown_sig != 0 || impl_->stopped; });
  return impl_->shutdown_sig;
}

int SignalWatcher::shutdown_signal() const {
  std::lock_guard lock(impl_->mu);
  return impl_->shutdown_sig;
}

void SignalWatcher::simulate(int signal) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->simulated.push_back(signal);
  }
  impl_->wake();
}

}  // namespace vouch::net
