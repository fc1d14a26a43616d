#pragma once

// What vouch-signer's and vouch-verifier's callback gRPC services share: their TLS
// credentials, counting the calls in flight (a unary reactor counts itself until gRPC is done
// with it), and a shutdown that stops new calls, waits for those in flight, then cuts idle
// connections. Library vouch_grpc_calls
// (only the gRPC daemons link it; the rest of common/net stays free of gRPC).

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <condition_variable>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace vouch::net {

enum class ClientCertificates { kNotRequested, kRequired };

// TLS server credentials from PEM text. kRequired: every client presents a certificate that
// `client_ca_pem` verifies (mutual TLS); kNotRequested ignores `client_ca_pem`. gRPC keeps its
// own copy of the key; the copy made on the way is wiped before returning.
std::shared_ptr<grpc::ServerCredentials> tls_server_credentials(std::string_view cert_pem,
                                                                std::string_view key_pem,
                                                                std::string_view client_ca_pem,
                                                                ClientCertificates clients);

// Thread-safe counter of calls whose answer may still be on its way.
class InflightCalls {
 public:
  void enter();
  void leave();
  // Waits until no call is in flight or `deadline` passes; true if none is.
  bool wait_idle(std::chrono::system_clock::time_point deadline);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inflight_ = 0;
};

// A unary reactor that counts itself in `calls` from construction until gRPC calls OnDone,
// then deletes itself (allocate with new; `calls` must outlive it).
class CountedReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CountedReactor(InflightCalls& calls) : calls_(calls) { calls_.enter(); }
  void OnDone() override;
  void OnCancel() override {}

 private:
  InflightCalls& calls_;
};

// grpc::Server::Shutdown(deadline) stops accepting calls at once but then waits until the
// deadline for every connection to go away, idle ones included. So: Shutdown each of
// `servers` (nullptr entries are skipped) on its own thread, wait for `calls` to finish up to
// `deadline`, cancel what is left, and return once every Shutdown has returned.
void shutdown_servers(std::initializer_list<grpc::Server*> servers, InflightCalls& calls,
                      std::chrono::system_clock::time_point deadline);

}  // namespace vouch::net
