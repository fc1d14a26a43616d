#include "common/work_queue.h"

#include <exception>
#include <utility>

#include "common/log.h"

namespace vouch {

WorkQueue::WorkQueue(unsigned threads, std::size_t max_queued, std::string name,
                     std::string log_component)
    : max_queued_(max_queued), name_(std::move(name)), log_component_(std::move(log_component)) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

WorkQueue::~WorkQueue() { stop(); }

bool WorkQueue::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    // Tasks beyond the idle workers wait in the queue; the bound applies to those.
    const std::size_t waiting = queue_.size() + 1;
    if (waiting > idle_ && waiting - idle_ > max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::size_t WorkQueue::load() const {
  std::lock_guard lock(mu_);
  return queue_.size() + running_;
}

void WorkQueue::run() {
  std::unique_lock lock(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping and drained
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      log::get(log_component_)->error("{}: task threw: {}", name_, e.what());
    } catch (...) {
      log::get(log_component_)->error("{}: task threw", name_);
    }
    // Destroy what the task captured before taking the lock again.
    task = nullptr;
    lock.lock();
    --running_;
  }
}

}  // namespace vouch
