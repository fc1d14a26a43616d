#include "common/net/grpc_calls.h"

#include <grpc/grpc.h>

#include <thread>
#include <vector>

namespace vouch::net {

void InflightCalls::enter() {
  std::lock_guard lock(mu_);
  ++inflight_;
}

void InflightCalls::leave() {
  {
    std::lock_guard lock(mu_);
    --inflight_;
  }
  cv_.notify_all();
}

bool InflightCalls::wait_idle(std::chrono::system_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return inflight_ == 0; });
}

void CountedReactor::OnDone() {
  calls_.leave();
  delete this;
}

void shutdown_servers(std::initializer_list<grpc::Server*> servers, InflightCalls& calls,
                      std::chrono::system_clock::time_point deadline) {
  std::vector<std::thread> stoppers;
  for (grpc::Server* s : servers) {
    if (s != nullptr) stoppers.emplace_back([s, deadline] { s->Shutdown(deadline); });
  }
  (void)calls.wait_idle(deadline);
  for (grpc::Server* s : servers) {
    if (s != nullptr) grpc_server_cancel_all_calls(s->c_server());
  }
  for (auto& t : stoppers) t.join();
}

}  // namespace vouch::net
