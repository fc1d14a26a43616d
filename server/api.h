#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net/http_server.h"
#include "server/auth.h"
#include "server/repository.h"

namespace prometheus {
class Registry;
}

namespace vouch {
class WorkQueue;  // common/work_queue.h
}

namespace vouch::server {

// A repository change that succeeded (publish, delete, key rotation), for the audit log.
struct WriteEvent {
  enum class Kind : std::uint8_t { kPublish, kDelete, kRotateKey };
  Kind kind = Kind::kPublish;
  std::string gun;
  // Who: the authorizer's subject (a token's "sub"); "" without authentication.
  std::string actor;
  std::string source;  // the client address
  // kPublish: each role published -> its version ("targets" -> "3"); kRotateKey: "role" and
  // "key_id" of the new key. Never a secret.
  std::map<std::string, std::string> detail;
};

struct ApiOptions {
  // Cache-Control max-age for current metadata (<role>.json) and for consistent (by version or
  // checksum) metadata; Notary's caching.max_age defaults. 0 -> "max-age=0, no-cache, no-store".
  std::chrono::seconds current_max_age{300};
  std::chrono::seconds consistent_max_age{30 * 24 * 3600};
  // repositories.gun_prefixes: when non-empty, only GUNs starting with one of these are served
  // (POST elsewhere: 400 INVALID_GUN; GET/DELETE elsewhere: 404), as Notary does.
  std::vector<std::string> gun_prefixes;
  // Largest accepted publish body (Notary's clients cap any metadata at 100 MiB).
  std::uint64_t max_publish_bytes = 100u << 20;
  // Longest GUN accepted (Notary's SQL schema: 255).
  std::size_t max_gun_bytes = 255;
  // Threads for publishes, deletes and key operations (they fsync and may call a remote signer),
  // so that the HTTP io threads never block on them, and how many such requests may wait for
  // a thread; beyond that a write is answered 503 UNAVAILABLE at once (a slow or unreachable
  // signer then costs a bounded queue, not unbounded memory and latency). Defaults 2 and 256.
  // server.worker_threads and server.max_queued_writes in the config.
  unsigned worker_threads = 2;
  std::size_t max_queued_writes = 256;
  // A queue to use instead (e.g. shared with Repository's background re-signing; it must
  // outlive the NotaryApi); worker_threads and max_queued_writes are then ignored. nullptr:
  // the NotaryApi makes its own.
  WorkQueue* workers = nullptr;
  // Whether the remote signer is reachable (must not block), reported by /readyz: when it
  // returns false, /readyz still answers 200 (reads are served) with {"signer":"unavailable"}
  // (degraded: publishes and key operations fail). Empty: nothing to report (local keys).
  std::function<bool()> signer_reachable;
  // Called after every successful publish, delete and key rotation, on the worker thread that
  // ran it, before the answer is sent. Must not throw. Empty: nothing.
  std::function<void(const WriteEvent&)> on_write;
  // What GET /v2/ (the registry API's version check, which `docker login` probes) asks of the
  // authorizer. true: registry:catalog:*, as notary-server does (auth.type "token"). false: no
  // access, so any valid token passes and a request without one gets the 401 challenge, as a
  // registry's /v2/ does (auth.type "accounts": `docker login <vouch-server>` then succeeds for
  // every user whose password the token service accepts, not only system administrators).
  bool ping_needs_catalog = true;
};

// Notary's v1 HTTP API (REFERENCE §1.1) over a Repository: routes, Notary's error JSON and
// status codes, cache headers, authorization per route. Health and metrics endpoints are
// served too (/_notary_server/health, /healthz, /readyz, /metrics). /readyz and
// /_notary_server/health answer 503 when storage fails; /readyz also reports an unreachable
// signer (200, degraded).
//
// handle() is the net::Handler; it answers reads inline from the Repository's cache and hands
// writes to a worker pool. Thread-safe.
class NotaryApi {
 public:
  NotaryApi(Repository& repository, const Authorizer& authorizer, ApiOptions options,
            std::shared_ptr<prometheus::Registry> registry);
  ~NotaryApi();
  NotaryApi(const NotaryApi&) = delete;
  NotaryApi& operator=(const NotaryApi&) = delete;

  void handle(net::Request&& request, net::Responder responder);

  // The per-request body limit for net::HttpServerOptions::body_limit: publishes may carry up
  // to max_publish_bytes, every other request no body at all.
  std::uint64_t body_limit(const net::Request& head) const;

  // For net::HttpServerOptions::check_head, called before a request's body is read. A publish
  // (POST /v2/<gun>/_trust/tuf/) is routed and authorized here from its header alone: an
  // invalid or unserved GUN (400 INVALID_GUN) or a refused authorization (401/403, with the
  // challenge) is answered without a byte of the body being read or buffered, and counted in
  // the request metrics as handle() would count it. Anything else passes (nullopt); handle()
  // authorizes again once the body is in (the token cache makes that cheap). Thread-safe.
  std::optional<net::Response> check_head(const net::Request& head) const;

  // Where /metrics reads the HTTP server's own figures (bodies in flight and their bytes,
  // open connections, the server's refusals: vouch_server_http_*). Until it is set those
  // metrics stay 0. Thread-safe; may be called while requests are being served.
  void set_transport_stats(std::function<net::HttpServerStats()> source);

  // Waits for queued writes to finish and stops the work queue (for a clean shutdown); writes
  // that arrive afterwards are answered 503.
  void drain();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Notary's error JSON ({"errors":[{"code","message"}]}) for the answers the HTTP server gives
// on its own, before a request reaches NotaryApi (net::HttpServerOptions::error_response):
// 413 -> MALFORMED_UPLOAD (as the API's own 413), 400 and 431 -> MALFORMED_UPLOAD with the
// status's reason phrase as message (a request that is not valid HTTP, or whose header is too
// large), 503 -> UNAVAILABLE, anything else -> UNKNOWN. Never throws.
net::Response transport_error_response(unsigned status);

}  // namespace vouch::server
