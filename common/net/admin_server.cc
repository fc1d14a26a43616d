#include "common/net/admin_server.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "common/log.h"
#include "common/net/http_server.h"

namespace vouch::net {

class AdminServer::Impl {
 public:
  std::unique_ptr<HttpServer> server;
};

namespace {

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";

Response plain(unsigned status, std::string body) {
  return Response::text(status, std::move(body), kTextContentType);
}

}  // namespace

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() { stop(); }

std::uint16_t AdminServer::port() const { return impl_->server->port(); }

void AdminServer::stop() { impl_->server->stop(); }

Result<std::unique_ptr<AdminServer>> AdminServer::start(
    const AdminServerOptions& options, std::shared_ptr<prometheus::Registry> registry,
    std::function<bool()> ready) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "admin server: set both tls_cert_file and tls_key_file, or neither");
  }
  HttpServerOptions http;
  http.listen = options.listen;
  http.io_threads = 1;
  http.tls.cert_file = options.tls_cert_file;
  http.tls.key_file = options.tls_key_file;
  http.max_body_bytes = 0;  // probes and scrapes carry no body
  http.max_header_bytes = 8 * 1024;
  http.header_timeout = std::chrono::seconds(5);
  http.idle_timeout = std::chrono::seconds(30);
  http.max_connections = 64;
  http.drain_timeout = std::chrono::seconds(2);
  http.log_component = "admin";

  auto handler = [registry = std::move(registry), ready = std::move(ready)](
                     Request&& request, Responder responder) {
    const std::string_view path = request.path();
    const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
    if (!known) {
      responder.respond(plain(404, "not found\n"));
      return;
    }
    if (request.method != "GET" && request.method != "HEAD") {
      Response r = plain(405, "method not allowed\n");
      r.headers.add("Allow", "GET, HEAD");
      responder.respond(std::move(r));
      return;
    }
    if (path == "/healthz") {
      responder.respond(plain(200, "ok\n"));
      return;
    }
    if (path == "/readyz") {
      bool is_ready = true;
      if (ready) {
        try {
          is_ready = ready();
        } catch (...) {
          is_ready = false;
        }
      }
      responder.respond(is_ready ? plain(200, "ok\n") : plain(503, "not ready\n"));
      return;
    }
    std::string body;
    if (registry) {
      try {
        body = prometheus::TextSerializer().Serialize(registry->Collect());
      } catch (const std::exception& e) {
        log::get("admin")->error("metrics serialization failed: {}", e.what());
        responder.respond(plain(500, "internal error\n"));
        return;
      }
    }
    Response r = Response::text(200, std::move(body), kMetricsContentType);
    r.headers.add("Cache-Control", "no-store");
    responder.respond(std::move(r));
  };

  VOUCH_ASSIGN_OR_RETURN(auto server, HttpServer::start(std::move(http), std::move(handler)));
  auto impl = std::make_unique<Impl>();
  impl->server = std::move(server);
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

}  // namespace vouch::net
