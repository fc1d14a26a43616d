#pragma once

// The gRPC interface of vouch-verifier: vouch.verifier.v1.Verifier/Verify
// (proto/verifier.proto), the same decision as POST /v1/verify, plus grpc.health.v1.Health
// (SERVING once a policy is loaded).
//
// Transport: plaintext, TLS (server certificate), or mutual TLS (client certificates verified
// against a CA and required). Handlers never block gRPC's threads: each call is handed to the
// WorkQueue it is given, with the deadline min(the call's deadline, arrival +
// VerifierOptions::deadline). Errors, one table: a reference that does not parse ->
// INVALID_ARGUMENT with the reason (the caller's own input); no policy -> FAILED_PRECONDITION;
// queue full -> RESOURCE_EXHAUSTED; anything unexpected -> INTERNAL "internal error" (details
// only in the log).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "keys/secret.h"
#include "verifier/metrics.h"
#include "verifier/service.h"
#include "common/work_queue.h"

namespace vouch::verifier {

struct GrpcApiOptions {
  // host:port; port 0 picks a free port (see port()).
  std::string listen = "127.0.0.1:0";
  // PEM certificate chain and key: both empty = plaintext.
  std::string tls_cert_pem;
  keys::SecretString tls_key_pem;
  // PEM CAs for client certificates: set = mutual TLS (a client certificate is required).
  std::string client_ca_pem;
  // Largest request message. Default 64 KiB (a reference is at most 1 KiB).
  int max_receive_message_bytes = 64 * 1024;
};

class GrpcApi {
 public:
  // `verifier`, `workers` and `metrics` (optional) must outlive the server. Errors:
  // kInvalidArgument (only one of certificate and key, or a client CA without TLS),
  // kUnavailable (cannot listen).
  static Result<std::unique_ptr<GrpcApi>> start(GrpcApiOptions options, Verifier& verifier,
                                                WorkQueue& workers,
                                                VerifierMetrics* metrics = nullptr);
  ~GrpcApi();  // shutdown(0)
  GrpcApi(const GrpcApi&) = delete;
  GrpcApi& operator=(const GrpcApi&) = delete;

  std::uint16_t port() const;
  // Updates the health status (SERVING when ready).
  void set_ready(bool ready);
  // Stops accepting calls, waits up to `grace` for running ones, cancels the rest.
  // Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  struct Impl;

 private:
  explicit GrpcApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::verifier
