#pragma once

// ReplicaSync: keeps one vouch-server replica's cache of current files coherent with the
// other replicas on the same database (issue 16 item 2; server/README.md "Running several
// replicas"). A thread that calls Repository::sync_changes every max_staleness / 2, so that a
// publish acknowledged by any replica is served by this one at most about max_staleness later
// (one interval plus one changefeed query), while the database answers.
//
// The changefeed is commit-ordered (MetaStore::get_changes), so polling it from the last id
// seen misses nothing: after the database was unreachable, the next successful poll resumes
// where the last one stopped. While it is unreachable nothing is invalidated and the cache
// keeps serving what it holds (no replica can publish meanwhile; a replica cut off alone from
// the database serves what it had, see the README).
//
// Thread-safety: the object is used from its owner's thread (construct, healthy(),
// destroy); the thread it runs touches only the Repository, which is thread-safe.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/repository.h"

namespace vouch::server {

struct ReplicaSyncOptions {
  // The bound on how long a publish through another replica may go unseen here. Default 1 s
  // (storage.postgres.cache_max_staleness_ms). The changefeed is read every half of it;
  // values below 20 ms are taken as 20 ms.
  std::chrono::milliseconds max_staleness{1000};
};

class ReplicaSync {
 public:
  // Starts the thread; the first poll runs at once. `repository` must outlive this object.
  ReplicaSync(Repository& repository, ReplicaSyncOptions options = {});
  // Stops the thread (waiting for a poll in progress to end).
  ~ReplicaSync();
  ReplicaSync(const ReplicaSync&) = delete;
  ReplicaSync& operator=(const ReplicaSync&) = delete;

  // The poll interval in use (max_staleness / 2, at least 10 ms).
  std::chrono::milliseconds interval() const { return interval_; }
  // False while the last poll failed (the database is unreachable), true once one succeeds.
  bool healthy() const { return healthy_.load(); }

 private:
  void run();

  Repository& repository_;
  const std::chrono::milliseconds interval_;
  std::atomic<bool> healthy_{true};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace vouch::server
