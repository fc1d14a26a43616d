#pragma once

// An asynchronous HTTP/1.1 server (Boost.Beast + Asio underneath, hidden behind a pimpl so
// that only http_server.cc pays Beast's compile time). One server type serves the metadata
// server, the admission webhook and the admin (metrics/health) port.
//
// Threading model: `io_threads` threads each run an event loop of their own; every connection
// is assigned to one of them (round-robin at accept) and stays there, so a connection's reads,
// writes, timers and handler calls never race and a request is served without a thread
// hand-off. The handler is called on the connection's io thread. A fast handler answers inline (respond() before returning); a slow one
// (a publish that fsyncs, a remote signer call) moves its Responder to a worker and returns at
// once; respond() may then be called from any thread.
//
// Pipelining: a client may send several requests without waiting. The server keeps reading
// (up to `max_pipelined_requests` unanswered requests per connection; then it stops reading
// until one is answered), calls the handler for each, and writes the responses strictly in
// request order, whatever order the handlers answer in.
//
// Limits (REFERENCE §9: Notary had no body limit and no read timeouts): every size and time a
// peer controls is bounded by a named option below. Violations are answered by the server
// itself, never reach the handler, and close the connection:
//   header larger than max_header_bytes                 -> 431
//   body larger than the request's limit                -> 413 (from Content-Length before any
//                                                          body byte is read; for a chunked body
//                                                          as soon as the limit is crossed)
//   syntax error, bad Content-Length/Transfer-Encoding  -> 400
//   request bodies in flight over max_body_bytes_in_flight -> 503 + Retry-After (from
//                                                          Content-Length before any body
//                                                          byte is read; for a chunked body
//                                                          as soon as it would cross the budget)
//   timeouts (TLS handshake, header, body, idle, write) -> the connection is closed silently
// Memory is spent on a body only after the head has passed `check_head` (e.g. authorization)
// and the body limit, and only within the server-wide budget. A peer address with
// max_connections_per_client connections open gets its next connection closed at accept.
//
// Response headers the server owns: Date, Content-Length and Connection are always set by the
// server (a handler's own values for them are ignored); no Server header is sent. Header names
// or values containing CR, LF or NUL are dropped (and logged), so a handler cannot split a
// response.
//
// Errors never leak: a handler that throws, or drops its Responder without answering, produces
// a 500 with a generic body (from `error_response`), and the exception text is logged only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/headers.h"
#include "common/net/tls.h"
#include "common/result.h"

namespace vouch {
class WorkQueue;  // common/work_queue.h
}

namespace vouch::net {

// A parsed request, owned by the handler.
struct Request {
  std::string method;  // the method token exactly as sent ("GET", "POST", ...); case-sensitive
  std::string target;  // the raw request-target, e.g. "/v2/a%2Fb/_trust/tuf/?x=1" (not decoded)
  Headers headers;
  std::string body;    // the complete body (de-chunked); empty for a bodyless request
  unsigned version = 11;       // 10 for HTTP/1.0, 11 for HTTP/1.1
  bool keep_alive = true;      // what the client asked for (HTTP/1.1 default, Connection header)
  std::string remote_address;  // peer IP address as text ("127.0.0.1", "::1")
  std::uint16_t remote_port = 0;
  bool tls = false;            // true if the request came over TLS
  // The share of max_body_bytes_in_flight that `body` holds. It is given back when the last
  // copy of this pointer is destroyed: a handler that keeps the body (or copies of it) past
  // the Request moves this along with it. Null for a bodyless request.
  std::shared_ptr<const void> body_budget;
  // Client certificate of an mTLS peer, verified against `client_ca_file` (empty when the
  // connection is plain, the server requests no client certificate, or the peer sent none).
  // Same for every request of one connection.
  std::shared_ptr<const PeerCertificate> peer_certificate;

  // The raw path: target up to (not including) '?'. Not percent-decoded: routers match on
  // the raw path and decode each captured segment with percent_decode_path().
  std::string_view path() const;
  // The raw query: target after the first '?', empty if none. Not decoded.
  std::string_view query() const;
};

// A response. The body is either owned (`body`) or shared (`shared_body`, served without a
// copy: cached metadata bytes). If shared_body is set, `body` is ignored.
struct Response {
  unsigned status = 200;
  Headers headers;  // Content-Type, Cache-Control, ... (not Date/Content-Length/Connection)
  std::string body;
  std::shared_ptr<const std::string> shared_body;
  // Set to close the connection after this response (e.g. after a protocol error).
  bool close = false;

  // The bytes that will be sent as the body.
  std::string_view body_view() const { return shared_body ? *shared_body : body; }

  // Convenience constructors.
  static Response text(unsigned status, std::string body,
                       std::string_view content_type = "text/plain; charset=utf-8");
  static Response shared(unsigned status, std::shared_ptr<const std::string> body,
                         std::string_view content_type);
};

namespace detail {
class ConnectionBase;
}

// The one-shot reply channel of one request. Move-only. respond() may be called from any
// thread, at most once: later calls are ignored (and logged at debug). Destroying a Responder
// that has not responded sends a 500 (generic body), so a lost Responder never hangs a client.
// Responding after the connection has gone (peer closed, timeout, server stopped) is a no-op.
// Responding does not block: the response is queued on the connection's event loop.
class Responder {
 public:
  Responder() = default;  // an empty Responder (respond() is a no-op)
  Responder(Responder&& other) noexcept;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  void respond(Response response);
  // True until respond() has been called (false for a moved-from or default-built Responder).
  bool pending() const { return pending_; }

 private:
  friend class detail::ConnectionBase;
  Responder(std::weak_ptr<detail::ConnectionBase> connection, std::uint64_t sequence)
      : connection_(std::move(connection)), sequence_(sequence), pending_(true) {}

  // Weak: a Responder held by a worker never keeps a closed connection (or a stopped server's
  // io_context) alive.
  std::weak_ptr<detail::ConnectionBase> connection_;
  std::uint64_t sequence_ = 0;
  bool pending_ = false;
};

// The request handler. Called once per request on an io thread; must not block for long
// (hand the Responder to a worker instead). Exceptions are caught by the server (logged; the
// Responder's destructor then answers 500 if it had not answered).
using Handler = std::function<void(Request&& request, Responder responder)>;

// Decides the body limit of one request from its header, before any body byte is read.
// `head` has everything but the body. Return the maximum body size in bytes (0 = no body
// allowed). Called on an io thread, must be fast and must not throw (a throw counts as 0).
using BodyLimitFn = std::function<std::uint64_t(const Request& head)>;

// Decides a request from its head alone, before any body byte is read (e.g. authorization
// from the Authorization header, so that nobody spends the server's memory anonymously).
// Called on an io thread for every request whose header announces a body (Content-Length > 0
// or chunked), after the 400 framing checks and before the body limit is applied. Return a
// Response to answer with it at once: the body is never read and the connection is closed
// after the response. Return nullopt to go on. Must be fast and must not throw (a throw
// answers 500).
using HeadCheckFn = std::function<std::optional<Response>(const Request& head)>;

// Builds the response the server sends on its own (400, 413, 431, 500, 503), so that a
// service can answer in its own error format (Notary's {"errors":[...]}). Must not throw.
// The default is a short text/plain reason phrase.
using ErrorResponseFn = std::function<Response(unsigned status)>;

struct HttpServerOptions {
  // Where to listen, "host:port": "127.0.0.1:4443", "0.0.0.0:443", "[::1]:0", ":8080" (all
  // addresses). Port 0 picks a free port (see HttpServer::port()). Host names are resolved once
  // at start and the first address is used.
  std::string listen = "127.0.0.1:0";
  // Event-loop threads (one io_context each). 0 means 1. Default 2.
  unsigned io_threads = 2;

  // TLS: when tls.cert_file is empty the server speaks plain HTTP. TLS >= 1.2 always.
  // If tls.client_ca_file is set the server requests a client certificate verified against it
  // (and refuses the handshake without one when tls.require_client_cert is true).
  TlsServerConfig tls;

  // Maximum bytes of the request line plus header fields (Beast counts the whole header).
  // Larger -> 431. Default 8 KiB.
  std::uint32_t max_header_bytes = 8 * 1024;
  // Body limit for requests for which `body_limit` is unset. Default 64 KiB.
  std::uint64_t max_body_bytes = 64 * 1024;
  // Optional per-request body limit (e.g. 100 MiB for POST /v2/<gun>/_trust/tuf/, 0 for GETs).
  // Overrides max_body_bytes when set.
  BodyLimitFn body_limit;
  // Optional: refuses a request from its head before its body is read (see HeadCheckFn).
  HeadCheckFn check_head;
  // Server-wide budget for request bodies being read or still held by handlers (see
  // Request::body_budget). A body announced by Content-Length reserves its whole length
  // before the first byte is read; a chunked body reserves as it grows. A request that does
  // not fit is answered 503 with `Retry-After: busy_retry_after` and the connection closed;
  // the others are unaffected. 0 = no budget. Default 256 MiB.
  std::uint64_t max_body_bytes_in_flight = 256u << 20;
  // Retry-After of that 503 (whole seconds). Default 1 s.
  std::chrono::seconds busy_retry_after{1};

  // TLS handshake must complete within this time after accept. Default 10 s.
  std::chrono::milliseconds handshake_timeout{10'000};
  // Time from a request's first byte until its header is complete (slowloris). Default 10 s.
  std::chrono::milliseconds header_timeout{10'000};
  // Time to read a whole body after its header. Default 60 s (100 MiB at ~1.7 MB/s).
  std::chrono::milliseconds body_timeout{60'000};
  // Time a keep-alive connection may wait for the first byte of its next request (and a new
  // connection for its first request) while no response is pending. Default 60 s.
  std::chrono::milliseconds idle_timeout{60'000};
  // Time allowed for writing one batch of responses (a client that does not read). Default 60 s.
  std::chrono::milliseconds write_timeout{60'000};

  // Connections open at once. At the limit the server stops accepting (the kernel's backlog
  // holds new connections) until one closes. Default 10,000.
  std::size_t max_connections = 10'000;
  // Connections open at once from one peer IP address. A connection over the cap is closed
  // right after accept (nothing is read or sent), so one client cannot hold every slot of
  // max_connections. 0 = no cap. Default 0 (clients behind one NAT or proxy share an address;
  // each service picks its own value).
  std::size_t max_connections_per_client = 0;
  // Unanswered requests per connection before the server stops reading from it. Default 16.
  std::size_t max_pipelined_requests = 16;
  // stop(): how long in-flight requests may take to finish before connections are cut.
  // Default 30 s.
  std::chrono::milliseconds drain_timeout{30'000};

  // Optional: the server's own error responses (see ErrorResponseFn).
  ErrorResponseFn error_response;
  // Logger component name (log::get(...)). One line per server-side error; never per request.
  std::string log_component = "http";
};

// Counters of the server's own decisions, for metrics. Monotonic since start.
struct HttpServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_open = 0;  // a gauge
  std::uint64_t requests = 0;          // handed to the handler
  std::uint64_t rejected_header_too_large = 0;  // 431
  std::uint64_t rejected_body_too_large = 0;    // 413
  std::uint64_t rejected_bad_request = 0;       // 400
  std::uint64_t timeouts = 0;                   // connections closed by a timeout
  std::uint64_t tls_handshake_failures = 0;
  std::uint64_t handler_exceptions = 0;
  std::uint64_t rejected_busy = 0;               // 503: over max_body_bytes_in_flight
  std::uint64_t rejected_by_head_check = 0;      // answered by check_head, body unread
  std::uint64_t rejected_client_connections = 0; // closed at accept: max_connections_per_client
  std::uint64_t body_bytes_in_flight = 0;        // a gauge: budget reserved by bodies
  std::uint64_t bodies_in_flight = 0;            // a gauge: requests holding budget
};

class HttpServer {
 public:
  // Binds, listens and starts the io threads. Errors: bad listen address (kInvalidArgument /
  // kMalformed), bind failure (kUnavailable / kIo: port in use, permission), TLS files (see
  // tls.h). The handler must be set.
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options, Handler handler);

  // Stops (see stop()) and joins the threads.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (useful with port 0).
  std::uint16_t port() const;
  // "host:port" actually bound, e.g. "127.0.0.1:41234".
  std::string local_address() const;

  // Re-reads the TLS certificate, key and client CA from the files named in options.tls
  // (cert-manager rotation, SIGHUP). New connections use the new files; open connections keep
  // theirs. On error the old context stays in use and the error is returned. Thread-safe.
  // kFailedPrecondition if the server was started without TLS.
  Status reload_tls();

  // Graceful stop: closes the listener at once, closes idle keep-alive connections, lets
  // requests already received finish and their responses be written (each such connection is
  // then closed: the response says "Connection: close"), and after `drain_timeout` closes
  // whatever is left. Returns when every connection is closed and the io threads are joined.
  // Responders still held afterwards are no-ops. Idempotent; thread-safe; must not be called
  // from an io thread (i.e. from inside a handler), which would deadlock.
  void stop();

  HttpServerStats stats() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A handler that hands the requests `match` accepts to `workers`, off the io thread: there
// `handle` answers each (it may block: password hashing, a remote signer, synced writes) and
// may scrub the request afterwards. When the queue is full, `busy()` answers at once. Every
// other request goes to `next`. `workers` must outlive the handler; requests still queued
// when it stops are answered 500 by their dropped Responder.
Handler route_to_workers(std::function<bool(const Request&)> match,
                         std::function<Response(Request&)> handle, WorkQueue& workers,
                         std::function<Response()> busy, Handler next);

// Percent-decodes one raw path or path segment (RFC 3986). Rejects (Reason::kMalformed) a
// malformed escape ("%4", "%zz"), an encoded '/' ("%2F", "%2f": it would let a name alias a
// path boundary), and NUL (raw or "%00"). '+' is left as is (it means space only in queries).
// The result may be any other bytes, including invalid UTF-8: callers validate names.
Result<std::string> percent_decode_path(std::string_view raw);

// WHATWG URL "application/x-www-form-urlencoded" decoding of one query or form name or value,
// strict: '+' is a space, a '%' must start two hex digits, and NUL (raw or escaped) is refused
// (nullopt; the partial result is wiped, as values may be secrets). Any other bytes pass.
std::optional<std::string> form_decode(std::string_view raw);

// Splits a query or form body on '&' and decodes both sides of each "name=value" pair with
// form_decode (empty pairs are skipped; a pair without '=' has an empty value), calling
// fn(name, value) for each, in order; fn may move them out. What is left of `value` after fn
// is wiped (it may be a secret). Returns false at the first pair that does not decode or for
// which fn returns false, true after the last.
bool for_each_form_pair(std::string_view text,
                        const std::function<bool(std::string& name, std::string& value)>& fn);

// The standard reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view status_reason(unsigned status);

}  // namespace vouch::net
