#pragma once

// The admin port of every daemon: Prometheus metrics and Kubernetes probes (STACK §8), on an
// HttpServer of its own with one io thread, separate from the service port.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"

namespace prometheus {
class Registry;
}

namespace vouch::net {

struct AdminServerOptions {
  std::string listen = "127.0.0.1:0";   // host:port; port 0 picks a free port
  std::string tls_cert_file, tls_key_file;  // both empty -> plain HTTP
};

// Serves GET /metrics (Prometheus text format 0.0.4 from `registry`, Content-Type
// "text/plain; version=0.0.4"), GET /healthz (200 while the process runs) and GET /readyz
// (200 if ready() returns true, else 503) on its own thread.
//
// Details: HEAD is accepted wherever GET is; any other method on these paths -> 405; any other
// path -> 404; request bodies are refused (limit 0 -> 413). `ready` is called on the admin
// thread for each /readyz request and must be fast and thread-safe; a null `ready` means
// always ready; a throwing `ready` counts as not ready. A null `registry` serves an empty
// /metrics. Bodies are short plain text ("ok", "not ready").
// Errors from start(): as HttpServer::start (address, bind, TLS files); setting only one of
// tls_cert_file / tls_key_file is kInvalidArgument.
class AdminServer {
 public:
  static Result<std::unique_ptr<AdminServer>> start(const AdminServerOptions& options,
                                                    std::shared_ptr<prometheus::Registry> registry,
                                                    std::function<bool()> ready);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  std::uint16_t port() const;
  void stop();  // idempotent; also in the destructor

  class Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vouch::net
