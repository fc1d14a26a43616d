#include "server/replica_sync.h"

#include <algorithm>

#include "common/log.h"

namespace vouch::server {

ReplicaSync::ReplicaSync(Repository& repository, ReplicaSyncOptions options)
    : repository_(repository),
      interval_(std::max(options.max_staleness / 2, std::chrono::milliseconds(10))),
      thread_([this] { run(); }) {}

ReplicaSync::~ReplicaSync() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ReplicaSync::run() {
  auto logger = log::get("server");
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto read = repository_.sync_changes();
    // One line per outage and one per recovery, not one per poll.
    if (!read && healthy_.exchange(false)) {
      logger->warn("replica sync: cannot read the changefeed ({}); serving the cache as it is",
                   read.error().message);
    } else if (read && !healthy_.exchange(true)) {
      logger->info("replica sync: changefeed readable again ({} changes caught up)", *read);
    }
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace vouch::server
