#pragma once

// The notary-signer gRPC API over a KeyStore, and the server that hosts it.
//
// Transport rules (STYLE "Errors"): each handler decodes, calls one KeyStore function and
// encodes; every Error goes through error_to_status(), the one table of this boundary, and a
// catch-all answers INTERNAL. The peer sees a fixed text per outcome, never Error::message;
// the details go to the log.
//
// Threading: handlers run inline on gRPC's callback threads (callback API, no thread per
// RPC, no lock around signing: see KeyStore).

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "keys/secret.h"
#include "signer/key_store.h"

namespace prometheus {
class Registry;
}

namespace vouch::signer {

// Default bound on SignatureRequest.content (Notary metadata is small; 4 MiB leaves room for
// a large targets file). Larger content -> INVALID_ARGUMENT.
inline constexpr std::size_t kDefaultMaxContentBytes = 4 * 1024 * 1024;

// The one Error -> gRPC status table of the signer. Messages are fixed per outcome:
//   kNotFound (kUnknownKey, kNotFound)        NOT_FOUND          "key not found"
//   kInvalidArgument + kUnsupportedAlgorithm  INVALID_ARGUMENT   "unsupported algorithm"
//   kInvalidArgument + kTooLarge              INVALID_ARGUMENT   "content too large"
//   kInvalidArgument (other)                  INVALID_ARGUMENT   "invalid argument"
//   kDeadlineExceeded                         DEADLINE_EXCEEDED  "deadline exceeded"
//   kCancelled                                CANCELLED          "cancelled"
//   kResourceExhausted                        RESOURCE_EXHAUSTED "resource exhausted"
//   kUnavailable                              UNAVAILABLE        "unavailable"
//   anything else (kInternal, kDataLoss, kPermissionDenied from a key that cannot be
//   unlocked, ...)                            INTERNAL           "internal error"
grpc::Status error_to_status(const Error& error);

// Notary's health-check service names (notary:const.go); vouch-signer reports both SERVING
// while it serves, and notary-server's "Overall" check asks for both.
inline constexpr const char* kHealthKeyManagement = "grpc.health.v1.Health.KeyManagement";
inline constexpr const char* kHealthSigner = "grpc.health.v1.Health.Signer";

struct SignerServerOptions {
  // host:port for the gRPC listener ("127.0.0.1:0" picks a free port; see port()).
  std::string listen = "127.0.0.1:0";
  // PEM server certificate (chain) and private key. Required.
  std::string tls_cert_pem;
  keys::SecretString tls_key_pem;
  // PEM CA certificates that client certificates must chain to. Required: mutual TLS is
  // mandatory; a client without a valid certificate fails the handshake. gRPC's TLS stack
  // negotiates TLS 1.2 or 1.3 only.
  std::string client_ca_pem;
  // Bound on SignatureRequest.content. Messages beyond max_content_bytes + 64 KiB (or
  // max_receive_message_bytes if larger) are refused by gRPC itself with RESOURCE_EXHAUSTED
  // before they are read; those in between get INVALID_ARGUMENT from the handler.
  std::size_t max_content_bytes = kDefaultMaxContentBytes;
  std::size_t max_receive_message_bytes = 0;  // 0: 2 * max_content_bytes + 64 KiB
  // Optional Unix domain socket for the local SignerAdmin service (proto/signer_admin.proto),
  // created with mode 0600; empty: no control socket. A stale socket file is replaced.
  std::string control_socket;
};

// Hosts KeyManagement, Signer and grpc.health.v1.Health on one TLS port, and optionally
// SignerAdmin on a Unix socket. `store` and `registry` must outlive the server.
class SignerServer {
 public:
  // Errors: kInvalidArgument (missing TLS material or client CA), kUnavailable (cannot bind
  // the address or the socket), kInternal (metrics registration).
  static Result<std::unique_ptr<SignerServer>> start(
      SignerServerOptions options, KeyStore& store, std::shared_ptr<prometheus::Registry> registry);
  ~SignerServer();  // shutdown(0)
  SignerServer(const SignerServer&) = delete;
  SignerServer& operator=(const SignerServer&) = delete;

  std::uint16_t port() const;
  // True from start until shutdown() begins.
  bool serving() const;
  // Marks both health services NOT_SERVING, stops accepting new RPCs, waits up to `grace`
  // for in-flight RPCs, then cancels the rest. Idempotent; thread-safe.
  void shutdown(std::chrono::milliseconds grace);

  struct Impl;

 private:
  explicit SignerServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::signer
