#include "common/net/grpc_calls.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security_constants.h>
#include <openssl/crypto.h>

#include <thread>
#include <vector>

namespace vouch::net {

std::shared_ptr<grpc::ServerCredentials> tls_server_credentials(std::string_view cert_pem,
                                                                std::string_view key_pem,
                                                                std::string_view client_ca_pem,
                                                                ClientCertificates clients) {
  grpc::SslServerCredentialsOptions ssl(
      clients == ClientCertificates::kRequired
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  ssl.pem_root_certs = std::string(client_ca_pem);
  ssl.pem_key_cert_pairs.push_back({std::string(key_pem), std::string(cert_pem)});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(ssl);
  OPENSSL_cleanse(ssl.pem_key_cert_pairs[0].private_key.data(),
                  ssl.pem_key_cert_pairs[0].private_key.size());
  return creds;
}

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
