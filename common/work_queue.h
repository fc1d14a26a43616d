#pragma once

// A fixed pool of worker threads with a bounded queue, for blocking work that must stay off
// network io threads: the verifier's trust fetches (verifier/trust_cache.h) and the requests
// that wait for them (its HTTP and gRPC handlers); vouch-server's publishes, deletions and key
// operations (fsync, remote signing; server/api.cc).
//
// Tasks run in submission order on any worker. A full queue refuses new tasks instead of
// growing: the caller answers "busy" (the verifier fails closed, the server answers 503)
// rather than queueing work that would miss its deadline anyway. Tasks should not throw; an
// exception that escapes one is caught, logged and dropped, and the worker goes on.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vouch {

class WorkQueue {
 public:
  // Starts `threads` workers (0 means 1). At most `max_queued` tasks wait for a worker
  // (0 means none may wait: a task is accepted only when a worker is idle). `name` starts
  // this queue's log lines, written to the logger of `log_component` (log::get).
  WorkQueue(unsigned threads, std::size_t max_queued, std::string name,
            std::string log_component = "common");
  // stop().
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `task`. False (and `task` is dropped unrun) when the queue is full or stopped.
  // Thread-safe; may be called from a task.
  bool post(std::function<void()> task);

  // Stops accepting tasks, lets the workers finish every task already queued, and joins
  // them. Idempotent. Must not be called from a task (it would wait for itself).
  void stop();

  // Tasks queued or running.
  std::size_t load() const;

 private:
  void run();

  const std::size_t max_queued_;
  const std::string name_;
  const std::string log_component_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::size_t idle_ = 0;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace vouch
