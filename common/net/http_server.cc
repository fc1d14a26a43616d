// The only translation unit that includes Beast and Asio (STACK §1: 40-60 s per Beast+SSL TU).
//
// Design notes:
// - Each connection is a Connection<Stream> (Stream = tcp::socket or ssl::stream<tcp::socket>)
//   that lives on one single-threaded io_context, so its members need no locks.
// - Beast's parser is driven by hand (put() over our own flat_buffer, our own async_read_some)
//   instead of http::async_read: that is what lets us answer 413 from Content-Length before
//   any body byte is read, send 100 Continue, keep reading pipelined requests while earlier
//   ones are still being handled, and apply separate idle/header/body deadlines.
// - Responses are serialized by hand into one reused string per slot and written with a
//   gather write (head + body), so a shared body is never copied and several ready pipelined
//   responses leave in one write. Beast's serializer would allocate a fields container per
//   response for nothing.
// - Deadlines use one lazily re-armed timer per connection: moving a deadline later is a
//   store; only moving it earlier touches the timer queue.
#include "common/net/http_server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/log.h"

namespace vouch::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;
using error_code = boost::system::error_code;

namespace {

constexpr SteadyTime kNever = SteadyTime::max();
// Upper bound on the lingering close (draining what a client still sends after our final
// response, so that its kernel does not turn our FIN into a RST that eats the response).
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr std::size_t kMaxLingerBytes = 64 * 1024;
// Bytes asked for per read.
constexpr std::size_t kReadChunk = 16 * 1024;
// Ready responses gathered into one write.
constexpr std::size_t kMaxBatch = 16;

SteadyTime steady_now() { return std::chrono::steady_clock::now(); }

// "Date:" value, formatted once per second per thread.
std::string_view http_date_now() {
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached;
  auto now = std::chrono::system_clock::now();
  auto sec = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (sec != cached_second) {
    cached_second = sec;
    cached = format_http_date(
        std::chrono::time_point_cast<std::chrono::microseconds>(
            std::chrono::sys_seconds(std::chrono::seconds(sec))));
  }
  return cached;
}

bool header_safe(std::string_view s) {
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool server_owned_header(std::string_view name) {
  return iequals(name, "Date") || iequals(name, "Content-Length") ||
         iequals(name, "Connection") || iequals(name, "Transfer-Encoding") ||
         iequals(name, "Server") || iequals(name, "Keep-Alive");
}

bool status_has_body(unsigned status) {
  return !(status / 100 == 1 || status == 204 || status == 304);
}

Response default_error_response(unsigned status) {
  std::string body(status_reason(status));
  body.push_back('\n');
  return Response::text(status, std::move(body));
}

struct ListenAddress {
  std::string host;
  std::string port;
};

Result<ListenAddress> split_listen(std::string_view listen) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "listen address must be host:port: " + std::string(listen));
  }
  std::string_view host = listen.substr(0, colon);
  std::string_view port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "IPv6 listen address must be bracketed: " + std::string(listen));
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "bad port in listen address: " + std::string(listen));
  }
  return ListenAddress{host.empty() ? std::string("0.0.0.0") : std::string(host),
                       std::string(port)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Shared state: owned by the server and by every connection, so that a connection (kept alive
// by a handler that still holds a Responder) never outlives the io_context it uses.

namespace detail {

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  // Both may be called from any thread.
  virtual void deliver(std::uint64_t sequence, Response&& response) = 0;
  virtual void deliver_error(std::uint64_t sequence, unsigned status) = 0;
  // Both may be called from any thread; they post to the connection's loop.
  virtual void request_drain() = 0;
  virtual void request_close() = 0;

 protected:
  Responder make_responder(std::uint64_t sequence) {
    return Responder(weak_from_this(), sequence);
  }
};

}  // namespace detail

namespace {

struct Stats {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> rejected_header_too_large{0};
  std::atomic<std::uint64_t> rejected_body_too_large{0};
  std::atomic<std::uint64_t> rejected_bad_request{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> handler_exceptions{0};
  std::atomic<std::uint64_t> rejected_busy{0};
  std::atomic<std::uint64_t> rejected_by_head_check{0};
  std::atomic<std::uint64_t> rejected_client_connections{0};
};

// The server-wide budget for request bodies (HttpServerOptions::max_body_bytes_in_flight).
// Shared by the server and every reservation, so that a handler may hold a body past stop().
struct BodyBudget {
  explicit BodyBudget(std::uint64_t l) : limit(l) {}
  const std::uint64_t limit;  // 0 = unlimited (still counted, for the stats)
  std::atomic<std::uint64_t> reserved{0};
  std::atomic<std::uint64_t> holders{0};

  bool try_add(std::uint64_t n) {
    std::uint64_t cur = reserved.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && (n > limit || cur > limit - n)) return false;
    } while (!reserved.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
    return true;
  }
};

// One request's share of the budget, given back when the last holder lets go (the connection
// while it reads the body, then the Request handed to the handler, see Request::body_budget).
class BodyReservation {
 public:
  explicit BodyReservation(std::shared_ptr<BodyBudget> budget) : budget_(std::move(budget)) {
    budget_->holders.fetch_add(1, std::memory_order_relaxed);
  }
  ~BodyReservation() {
    budget_->reserved.fetch_sub(bytes_, std::memory_order_relaxed);
    budget_->holders.fetch_sub(1, std::memory_order_relaxed);
  }
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;

  // Grows the share to `total` bytes; false (and unchanged) if the budget cannot cover it.
  bool grow_to(std::uint64_t total) {
    if (total <= bytes_) return true;
    if (!budget_->try_add(total - bytes_)) return false;
    bytes_ = total;
    return true;
  }

 private:
  std::shared_ptr<BodyBudget> budget_;
  std::uint64_t bytes_ = 0;
};

// Each io thread runs an io_context of its own and every connection lives on exactly one of
// them, so a connection's handlers are serialized without a strand and a request is served
// without any cross-thread hand-off (measured: a shared io_context with per-connection strands
// woke the other thread through the reactor's eventfd on most completions).
using LoopExecutor = asio::io_context::executor_type;

std::vector<std::unique_ptr<asio::io_context>> make_contexts(unsigned n) {
  std::vector<std::unique_ptr<asio::io_context>> out;
  for (unsigned i = 0; i < std::max(1u, n); ++i) {
    out.push_back(std::make_unique<asio::io_context>(1));  // concurrency hint: one thread
  }
  return out;
}

struct Shared : std::enable_shared_from_this<Shared> {
  Shared(HttpServerOptions opts, Handler h)
      : options(std::move(opts)),
        handler(std::move(h)),
        contexts(make_contexts(options.io_threads)),
        acceptor(contexts.front()->get_executor()),
        accept_retry(acceptor.get_executor()),
        log(log::get(options.log_component)),
        budget(std::make_shared<BodyBudget>(options.max_body_bytes_in_flight)) {
    if (!options.error_response) options.error_response = default_error_response;
  }

  HttpServerOptions options;
  Handler handler;
  // Declared before every I/O object so that they are destroyed last. The acceptor and its
  // retry timer live on the first context.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::size_t next_context = 0;  // round-robin for new connections (acceptor handlers only)
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::shared_ptr<spdlog::logger> log;
  Stats stats;
  std::shared_ptr<BodyBudget> budget;

  struct Registered {
    std::weak_ptr<detail::ConnectionBase> connection;
    std::string client;  // peer IP address, the key of per_client
  };

  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  std::unordered_map<detail::ConnectionBase*, Registered> connections;
  // Open connections per peer address (only when max_connections_per_client is set).
  std::unordered_map<std::string, std::size_t> per_client;
  std::shared_ptr<asio::ssl::context> tls_ctx;
  bool stopping = false;
  bool stopped = false;  // io threads joined: nothing may be posted any more
  bool accept_paused = false;

  Response error_response(unsigned status) const {
    try {
      Response r = options.error_response(status);
      r.status = status;
      return r;
    } catch (...) {
      return default_error_response(status);
    }
  }

  void do_accept();
  void on_accept(const error_code& ec, LoopExecutor loop, tcp::socket socket);
  void on_connection_closed(detail::ConnectionBase* c);
};

// ---------------------------------------------------------------------------------------------

template <class Stream>
class Connection final : public detail::ConnectionBase {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  // Plain.
  // `loop` is the executor the socket was accepted onto.
  Connection(std::shared_ptr<Shared> shared, LoopExecutor loop, tcp::socket socket)
    requires(!kTls)
      : shared_(std::move(shared)),
        loop_(std::move(loop)),
        stream_(std::move(socket)),
        timer_(loop_) {}
  // TLS: the context is kept alive by the connection (reload_tls() swaps the server's).
  Connection(std::shared_ptr<Shared> shared, LoopExecutor loop, tcp::socket socket,
             std::shared_ptr<asio::ssl::context> ctx)
    requires(kTls)
      : shared_(std::move(shared)),
        loop_(std::move(loop)),
        tls_ctx_(std::move(ctx)),
        stream_(std::move(socket), *tls_ctx_),
        timer_(loop_) {}

  void start() {
    // The connection keeps itself alive until close_now(): a Responder is only a weak
    // reference, and a connection waiting for its handler may have no I/O outstanding.
    self_ = shared_from_this_typed();
    error_code ec;
    auto ep = lowest().remote_endpoint(ec);
    if (!ec) {
      remote_address_ = ep.address().to_string();
      remote_port_ = ep.port();
    }
    auto self = shared_from_this_typed();
    asio::dispatch(loop_, [self] { self->on_start(); });
  }

  void deliver(std::uint64_t sequence, Response&& response) override {
    if (loop_.running_in_this_thread()) {  // answered inline by the handler
      on_deliver(sequence, std::move(response));
      return;
    }
    auto self = shared_from_this_typed();
    // Under the lock so that nothing is posted once stop() has declared the io_context done.
    std::lock_guard lock(shared_->mu);
    if (shared_->stopped) return;
    asio::post(loop_, [self, sequence, r = std::move(response)]() mutable {
      self->on_deliver(sequence, std::move(r));
    });
  }

  void deliver_error(std::uint64_t sequence, unsigned status) override {
    deliver(sequence, shared_->error_response(status));
  }

  void request_drain() override {
    auto self = shared_from_this_typed();
    asio::post(loop_, [self] { self->begin_drain(); });
  }

  void request_close() override {
    auto self = shared_from_this_typed();
    asio::post(loop_, [self] { self->close_now(); });
  }

 private:
  void begin_drain() {
    if (closed_ || shutting_down_) return;
    closing_ = true;
    if (!handshake_done_ || (pending_.empty() && !in_request_)) {
      graceful_close();
      return;
    }
    // Requests already received finish; the last response says "Connection: close".
  }

  struct Slot {
    std::uint64_t sequence = 0;
    bool ready = false;
    bool send_continue = false;  // 100 Continue owed before the final response
    bool continue_sent = false;
    bool head_only = false;      // HEAD request: no body bytes
    bool request_keep_alive = true;
    unsigned request_version = 11;
    Response response;
    std::string head;  // serialized status line + headers, built when written
  };

  std::shared_ptr<Connection> shared_from_this_typed() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }

  tcp::socket& lowest() { return beast::get_lowest_layer(stream_); }
  const HttpServerOptions& opts() const { return shared_->options; }

  // --- start and TLS handshake -----------------------------------------------------------

  void on_start() {
    if (closed_) return;
    if constexpr (kTls) {
      set_read_deadline(steady_now() + opts().handshake_timeout);
      auto self = shared_from_this_typed();
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self](const error_code& ec) { self->on_handshake(ec); });
    } else {
      handshake_done_ = true;
      if (closing_) {  // drained before it started
        graceful_close();
        return;
      }
      start_read();
    }
  }

  void on_handshake(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      shared_->stats.tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
      shared_->log->debug("TLS handshake with {} failed: {}", remote_address_, ec.message());
      close_now();
      return;
    }
    handshake_done_ = true;
    if constexpr (kTls) {
      if (auto cert = peer_certificate(stream_.native_handle())) {
        peer_cert_ = std::make_shared<const PeerCertificate>(std::move(cert).value());
      }
    }
    if (closing_) {
      graceful_close();
      return;
    }
    set_read_deadline(kNever);
    start_read();
  }

  // --- reading ---------------------------------------------------------------------------

  bool want_read() const {
    if (closed_ || shutting_down_ || reading_ || read_eof_ || paused_) return false;
    if (closing_ && !in_request_) return false;
    return true;
  }

  void start_read() {
    if (!want_read()) return;
    if (!parser_) {
      // Waiting for the first byte of a request: the idle timeout applies only when the
      // client is the one expected to talk (no response outstanding).
      set_read_deadline(pending_.empty() ? steady_now() + opts().idle_timeout : kNever);
    }
    reading_ = true;
    auto self = shared_from_this_typed();
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self](const error_code& ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (shutting_down_) {  // graceful_close() cancelled this read
      finish_graceful_close();
      return;
    }
    if (ec) {
      on_read_error(ec);
      return;
    }
    buffer_.commit(n);
    process_buffer();
    start_read();
  }

  void on_read_error(const error_code& ec) {
    if (ec != asio::error::eof && ec != asio::ssl::error::stream_truncated &&
        ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
      shared_->log->debug("read from {}: {}", remote_address_, ec.message());
    }
    read_eof_ = true;
    // A request cut off in the middle will never be answered: drop the connection.
    if (in_request_ || (parser_ && parser_->got_some()) || pending_.empty()) {
      close_now();
      return;
    }
    // Half-closed client: answer what it sent, then close.
    closing_ = true;
  }

  // Parses whatever is buffered; may complete several pipelined requests.
  void process_buffer() {
    while (!closed_ && !shutting_down_) {
      if (!parser_) {
        if (buffer_.size() == 0) return;
        if (closing_) {  // no new requests once closing; what the client sent is dropped
          buffer_.consume(buffer_.size());
          return;
        }
        if (pending_.size() >= std::max<std::size_t>(1, opts().max_pipelined_requests)) {
          paused_ = true;
          return;
        }
        parser_.emplace();
        parser_->header_limit(opts().max_header_bytes);
        parser_->body_limit(boost::none);  // decided per request once the header is known
        header_deadline_set_ = false;
      }
      error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      // A chunked body takes its share of the budget as it grows (at most one read beyond).
      if (in_request_ && reservation_ && parser_->chunked() &&
          !reservation_->grow_to(parser_->get().body().size())) {
        reject(pending_.back(), 503);
        return;
      }
      if (ec == http::error::need_more) {
        if (!parser_->is_header_done() && !header_deadline_set_) {
          header_deadline_set_ = true;
          set_read_deadline(steady_now() + opts().header_timeout);
        }
        return;
      }
      if (ec) {
        on_parse_error(ec);
        return;
      }
      if (parser_->is_header_done() && !in_request_) {
        if (!on_header()) return;
      }
      if (parser_->is_done()) {
        on_request_complete();
        continue;
      }
      if (buffer_.size() == 0) return;
    }
  }

  // The header is complete: build the request head, decide the body limit, answer 413 early.
  // Returns false if the request was rejected.
  bool on_header() {
    in_request_ = true;
    auto& msg = parser_->get();
    Request& req = current_;
    req = Request{};
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.headers.reserve(static_cast<std::size_t>(std::distance(msg.begin(), msg.end())));
    for (const auto& field : msg) {
      req.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    req.version = msg.version();
    req.keep_alive = msg.keep_alive();
    req.remote_address = remote_address_;
    req.remote_port = remote_port_;
    req.tls = kTls;
    req.peer_certificate = peer_cert_;

    Slot& slot = pending_.emplace_back();
    slot.sequence = next_sequence_++;
    slot.head_only = req.method == "HEAD";
    slot.request_keep_alive = req.keep_alive;
    slot.request_version = req.version;

    // RFC 9112 §6.1/6.3: a request whose Transfer-Encoding does not end in chunked has no
    // determinable length, and one with both Transfer-Encoding and Content-Length is a
    // smuggling attempt. Beast would read the first as bodyless.
    if (req.headers.contains("Transfer-Encoding") &&
        (!parser_->chunked() || req.headers.contains("Content-Length"))) {
      shared_->stats.rejected_bad_request.fetch_add(1, std::memory_order_relaxed);
      reject(slot, 400);
      return false;
    }

    if (!parser_->is_done() && opts().check_head) {  // a body follows: decide before reading it
      std::optional<Response> refusal;
      try {
        refusal = opts().check_head(req);
      } catch (...) {
        refusal = shared_->error_response(500);
      }
      if (refusal) {
        shared_->stats.rejected_by_head_check.fetch_add(1, std::memory_order_relaxed);
        reject_with(slot, std::move(*refusal));
        return false;
      }
    }

    std::uint64_t limit = opts().max_body_bytes;
    if (opts().body_limit) {
      try {
        limit = opts().body_limit(req);
      } catch (...) {
        limit = 0;
      }
    }
    const auto length = parser_->content_length();
    if (length && *length > limit) {
      reject(slot, 413);
      return false;
    }
    parser_->body_limit(limit);
    parser_->eager(true);
    if (!parser_->is_done()) {
      // A body follows: its memory comes out of the server-wide budget first.
      reservation_ = std::make_shared<BodyReservation>(shared_->budget);
      if (length && !reservation_->grow_to(*length)) {
        reject(slot, 503);
        return false;
      }
      set_read_deadline(steady_now() + opts().body_timeout);
      auto expect = req.headers.get("Expect");
      if (expect && iequals(*expect, "100-continue") && req.version >= 11) {
        slot.send_continue = true;
        maybe_write();
      }
    } else {
      set_read_deadline(kNever);
    }
    return true;
  }

  void on_request_complete() {
    current_.body = std::move(parser_->get().body());
    current_.body_budget = std::move(reservation_);
    parser_.reset();
    in_request_ = false;
    Slot& slot = pending_.back();
    if (!slot.continue_sent) slot.send_continue = false;  // the body came without waiting
    const std::uint64_t sequence = slot.sequence;
    if (!current_.keep_alive) closing_ = true;
    set_read_deadline(kNever);  // the server's turn; start_read() sets the next deadline
    shared_->stats.requests.fetch_add(1, std::memory_order_relaxed);
    Request request = std::move(current_);
    try {
      shared_->handler(std::move(request), make_responder(sequence));
    } catch (const std::exception& e) {
      shared_->stats.handler_exceptions.fetch_add(1, std::memory_order_relaxed);
      shared_->log->error("handler threw: {}", e.what());
    } catch (...) {
      shared_->stats.handler_exceptions.fetch_add(1, std::memory_order_relaxed);
      shared_->log->error("handler threw a non-standard exception");
    }
  }

  void on_parse_error(const error_code& ec) {
    unsigned status = 400;
    if (ec == http::error::header_limit) {
      status = 431;
      shared_->stats.rejected_header_too_large.fetch_add(1, std::memory_order_relaxed);
    } else if (ec == http::error::body_limit) {
      status = 413;
    } else {
      shared_->stats.rejected_bad_request.fetch_add(1, std::memory_order_relaxed);
      shared_->log->debug("bad request from {}: {}", remote_address_, ec.message());
    }
    if (!in_request_) {
      Slot& slot = pending_.emplace_back();
      slot.sequence = next_sequence_++;
    }
    reject(pending_.back(), status);
  }

  // Answers the request in `slot` (the one being read) with an error and closes afterwards.
  void reject(Slot& slot, unsigned status) {
    if (status == 413) {
      shared_->stats.rejected_body_too_large.fetch_add(1, std::memory_order_relaxed);
    }
    Response response = shared_->error_response(status);
    if (status == 503) {
      shared_->stats.rejected_busy.fetch_add(1, std::memory_order_relaxed);
      response.headers.set("Retry-After", std::to_string(opts().busy_retry_after.count()));
    }
    reject_with(slot, std::move(response));
  }

  // Answers the request in `slot` (the one being read) with `response`, without reading (more
  // of) its body, and closes afterwards.
  void reject_with(Slot& slot, Response response) {
    reservation_.reset();
    parser_.reset();
    in_request_ = false;
    closing_ = true;
    buffer_.consume(buffer_.size());
    set_read_deadline(kNever);
    slot.send_continue = false;
    slot.response = std::move(response);
    slot.response.close = true;
    slot.ready = true;
    maybe_write();
  }

  // --- responding ------------------------------------------------------------------------

  void on_deliver(std::uint64_t sequence, Response&& response) {
    if (closed_ || shutting_down_ || pending_.empty()) return;
    const std::uint64_t first = pending_.front().sequence;
    if (sequence < first || sequence - first >= pending_.size()) return;
    Slot& slot = pending_[static_cast<std::size_t>(sequence - first)];
    if (slot.ready) return;
    slot.response = std::move(response);
    slot.ready = true;
    maybe_write();
  }

  void serialize_head(Slot& slot, bool close) {
    const Response& r = slot.response;
    std::string& h = slot.head;
    h.clear();
    h.reserve(256);
    h.append("HTTP/1.1 ");
    char num[16];
    auto [end, ec] = std::to_chars(num, num + sizeof(num), r.status);
    (void)ec;
    h.append(num, end);
    h.push_back(' ');
    h.append(status_reason(r.status));
    h.append("\r\n");
    for (const Header& field : r.headers) {
      if (server_owned_header(field.name)) continue;
      if (field.name.empty() || !header_safe(field.name) || !header_safe(field.value)) {
        shared_->log->warn("dropping response header with CR, LF or NUL");
        continue;
      }
      h.append(field.name);
      h.append(": ");
      h.append(field.value);
      h.append("\r\n");
    }
    h.append("Date: ");
    h.append(http_date_now());
    h.append("\r\n");
    if (status_has_body(r.status)) {
      h.append("Content-Length: ");
      auto [e2, ec2] = std::to_chars(num, num + sizeof(num), r.body_view().size());
      (void)ec2;
      h.append(num, e2);
      h.append("\r\n");
    }
    if (close) {
      h.append("Connection: close\r\n");
    } else if (slot.request_version < 11) {
      h.append("Connection: keep-alive\r\n");
    }
    h.append("\r\n");
  }

  void maybe_write() {
    if (writing_ || closed_ || shutting_down_) return;
    write_buffers_.clear();
    write_count_ = 0;
    write_closes_ = false;
    for (std::size_t i = 0; i < pending_.size() && write_count_ < kMaxBatch; ++i) {
      Slot& slot = pending_[i];
      if (!slot.ready) {
        if (slot.send_continue && !slot.continue_sent) {
          slot.continue_sent = true;
          static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          write_buffers_.emplace_back(kContinue.data(), kContinue.size());
        }
        break;
      }
      const bool last = i + 1 == pending_.size() && !in_request_;
      const bool close = slot.response.close || !slot.request_keep_alive || (closing_ && last);
      serialize_head(slot, close);
      write_buffers_.emplace_back(slot.head.data(), slot.head.size());
      std::string_view body = slot.response.body_view();
      if (!slot.head_only && status_has_body(slot.response.status) && !body.empty()) {
        write_buffers_.emplace_back(body.data(), body.size());
      }
      ++write_count_;
      if (close) {
        write_closes_ = true;
        break;
      }
    }
    if (write_buffers_.empty()) return;
    writing_ = true;
    set_write_deadline(steady_now() + opts().write_timeout);
    auto self = shared_from_this_typed();
    asio::async_write(stream_, write_buffers_,
                      [self](const error_code& ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(const error_code& ec) {
    writing_ = false;
    set_write_deadline(kNever);
    if (closed_) return;
    if (ec) {
      shared_->log->debug("write to {}: {}", remote_address_, ec.message());
      close_now();
      return;
    }
    for (std::size_t i = 0; i < write_count_; ++i) pending_.pop_front();
    write_count_ = 0;
    if (write_closes_) {
      graceful_close();
      return;
    }
    if (pending_.empty() && closing_ && !in_request_) {
      graceful_close();
      return;
    }
    if (paused_ && pending_.size() < std::max<std::size_t>(1, opts().max_pipelined_requests)) {
      paused_ = false;
      process_buffer();
    }
    maybe_write();
    if (pending_.empty() && !parser_ && reading_) {
      // Waiting for the client's next request: now the idle timeout applies.
      set_read_deadline(steady_now() + opts().idle_timeout);
    }
    start_read();
  }

  // --- closing ---------------------------------------------------------------------------

  // Sends what must be sent to end the connection cleanly, then closes.
  void graceful_close() {
    if (closed_ || shutting_down_) return;
    shutting_down_ = true;
    pending_.clear();
    parser_.reset();
    reservation_.reset();
    const auto linger = std::min(kMaxLinger, opts().write_timeout);
    set_read_deadline(steady_now() + linger);
    set_write_deadline(kNever);
    if (reading_) {
      // No write is outstanding here (we close after the last write completes, or when
      // nothing is pending), so cancel() only ends the read, whose handler continues below.
      error_code ignored;
      lowest().cancel(ignored);
      return;
    }
    finish_graceful_close();
  }

  void finish_graceful_close() {
    if (closed_) return;
    if constexpr (kTls) {
      if (!handshake_done_) {
        close_now();
        return;
      }
      // Sends close_notify and waits (bounded by the read deadline) for the peer's.
      auto self = shared_from_this_typed();
      stream_.async_shutdown([self](const error_code&) { self->close_now(); });
    } else {
      error_code ignored;
      lowest().shutdown(tcp::socket::shutdown_send, ignored);
      linger_read();
    }
  }

  void linger_read() {
    if (closed_) return;
    if (lingered_ >= kMaxLingerBytes) {
      close_now();
      return;
    }
    auto self = shared_from_this_typed();
    buffer_.consume(buffer_.size());
    lowest().async_read_some(buffer_.prepare(kReadChunk),
                             [self](const error_code& ec, std::size_t n) {
                               if (ec) {
                                 self->close_now();
                                 return;
                               }
                               self->lingered_ += n;
                               self->linger_read();
                             });
  }

  void close_now() {
    if (closed_) return;
    auto keep = std::move(self_);  // released when this function returns
    closed_ = true;
    shutting_down_ = true;
    error_code ignored;
    timer_.cancel();
    lowest().close(ignored);
    pending_.clear();
    parser_.reset();
    reservation_.reset();
    shared_->on_connection_closed(this);
  }

  // --- deadlines -------------------------------------------------------------------------

  void set_read_deadline(SteadyTime t) {
    read_deadline_ = t;
    rearm();
  }
  void set_write_deadline(SteadyTime t) {
    write_deadline_ = t;
    rearm();
  }

  void rearm() {
    if (closed_) return;
    SteadyTime next = std::min(read_deadline_, write_deadline_);
    if (next == kNever) return;  // an armed timer will find nothing due and stay quiet
    if (timer_armed_ && timer_expiry_ <= next) return;  // it fires early and re-evaluates
    timer_armed_ = true;
    timer_expiry_ = next;
    const std::uint64_t generation = ++timer_generation_;
    timer_.expires_at(next);
    auto self = shared_from_this_typed();
    timer_.async_wait([self, generation](const error_code&) { self->on_timer(generation); });
  }

  void on_timer(std::uint64_t generation) {
    if (closed_ || generation != timer_generation_) return;
    timer_armed_ = false;
    SteadyTime now = steady_now();
    if (read_deadline_ <= now || write_deadline_ <= now) {
      if (!shutting_down_) {
        shared_->stats.timeouts.fetch_add(1, std::memory_order_relaxed);
        shared_->log->debug("closing connection from {}: timeout", remote_address_);
      }
      close_now();
      return;
    }
    rearm();
  }

  std::shared_ptr<Shared> shared_;
  LoopExecutor loop_;  // the executor of the io_context this connection lives on
  std::shared_ptr<Connection> self_;  // set from start() until close_now()
  std::shared_ptr<asio::ssl::context> tls_ctx_;  // before stream_: outlives it
  Stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  // The budget share of the body being read (null when none is).
  std::shared_ptr<BodyReservation> reservation_;
  Request current_;
  std::deque<Slot> pending_;
  std::vector<asio::const_buffer> write_buffers_;
  std::shared_ptr<const PeerCertificate> peer_cert_;
  std::string remote_address_;
  std::uint16_t remote_port_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::size_t write_count_ = 0;
  std::size_t lingered_ = 0;
  SteadyTime read_deadline_ = kNever;
  SteadyTime write_deadline_ = kNever;
  SteadyTime timer_expiry_ = kNever;
  std::uint64_t timer_generation_ = 0;
  bool timer_armed_ = false;
  bool handshake_done_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool write_closes_ = false;
  bool read_eof_ = false;
  bool in_request_ = false;  // header parsed, body still coming
  bool header_deadline_set_ = false;
  bool paused_ = false;      // pipelining limit reached
  bool closing_ = false;     // no new requests; close once the pending ones are answered
  bool shutting_down_ = false;
  bool closed_ = false;
};

using PlainConnection = Connection<tcp::socket>;
using TlsConnection = Connection<asio::ssl::stream<tcp::socket>>;

// ---------------------------------------------------------------------------------------------

void Shared::do_accept() {
  // New connections are spread round-robin over the io_contexts; the socket is created on its.
  auto loop = contexts[next_context++ % contexts.size()]->get_executor();
  acceptor.async_accept(loop, [self = shared_from_this(), loop](const error_code& ec,
                                                                    tcp::socket socket) {
    self->on_accept(ec, loop, std::move(socket));
  });
}

void Shared::on_accept(const error_code& ec, LoopExecutor loop, tcp::socket socket) {
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
    }
    // EMFILE, ENFILE, ENOBUFS, ECONNABORTED...: back off briefly instead of spinning.
    log->warn("accept: {}", ec.message());
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([self = shared_from_this()](const error_code& wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::string client;
  if (options.max_connections_per_client > 0) {
    auto ep = socket.remote_endpoint(ignored);
    if (!ignored) client = ep.address().to_string();
    std::size_t open = 0;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      auto it = per_client.find(client);
      if (it != per_client.end()) open = it->second;
    }
    if (open >= options.max_connections_per_client) {
      stats.rejected_client_connections.fetch_add(1, std::memory_order_relaxed);
      log->debug("closing a connection from {}: {} open from that address", client, open);
      socket.close(ignored);
      do_accept();
      return;
    }
  }

  std::shared_ptr<detail::ConnectionBase> connection;
  std::shared_ptr<asio::ssl::context> ctx;
  bool accept_more = true;
  {
    std::lock_guard lock(mu);
    if (stopping) return;  // the socket closes as it goes out of scope
    ctx = tls_ctx;
  }
  if (ctx) {
    connection = std::make_shared<TlsConnection>(shared_from_this(), loop, std::move(socket),
                                                ctx);
  } else {
    connection = std::make_shared<PlainConnection>(shared_from_this(), loop, std::move(socket));
  }
  {
    std::lock_guard lock(mu);
    // Checked again under the same lock as the registration, so that stop() either sees
    // this connection or this connection sees `stopping`.
    if (stopping) return;
    connections.emplace(connection.get(), Registered{connection, client});
    if (options.max_connections_per_client > 0) ++per_client[client];
    if (connections.size() >= std::max<std::size_t>(1, options.max_connections)) {
      accept_paused = true;
      accept_more = false;
    }
  }
  stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  if (ctx) {
    std::static_pointer_cast<TlsConnection>(connection)->start();
  } else {
    std::static_pointer_cast<PlainConnection>(connection)->start();
  }
  if (accept_more) do_accept();
}

void Shared::on_connection_closed(detail::ConnectionBase* c) {
  bool resume = false;
  {
    std::lock_guard lock(mu);
    if (auto it = connections.find(c); it != connections.end()) {
      if (options.max_connections_per_client > 0) {
        auto pc = per_client.find(it->second.client);
        if (pc != per_client.end() && --pc->second == 0) per_client.erase(pc);
      }
      connections.erase(it);
    }
    if (accept_paused && !stopping &&
        connections.size() < std::max<std::size_t>(1, options.max_connections)) {
      accept_paused = false;
      resume = true;
    }
  }
  cv.notify_all();
  if (resume) {
    asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->do_accept(); });
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Responder

Responder::Responder(Responder&& other) noexcept
    : connection_(std::move(other.connection_)),
      sequence_(other.sequence_),
      pending_(std::exchange(other.pending_, false)) {}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (pending_) {
      if (auto c = connection_.lock()) c->deliver_error(sequence_, 500);
    }
    connection_ = std::move(other.connection_);
    sequence_ = other.sequence_;
    pending_ = std::exchange(other.pending_, false);
  }
  return *this;
}

Responder::~Responder() {
  if (!pending_) return;
  pending_ = false;
  if (auto c = connection_.lock()) {
    try {
      c->deliver_error(sequence_, 500);
    } catch (...) {  // a destructor must not throw (bad_alloc while queueing)
    }
  }
}

void Responder::respond(Response response) {
  if (!pending_) {
    log::get("http")->debug("Responder::respond called twice or on an empty Responder");
    return;
  }
  pending_ = false;
  if (auto c = connection_.lock()) c->deliver(sequence_, std::move(response));
  connection_.reset();
}

// ---------------------------------------------------------------------------------------------
// HttpServer

class HttpServer::Impl {
 public:
  std::shared_ptr<Shared> shared;
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::endpoint bound;
  std::mutex stop_mu;
  bool stopped = false;

  ~Impl() { stop(); }

  void stop() {
    std::lock_guard stop_lock(stop_mu);
    if (stopped) return;
    stopped = true;
    std::vector<std::shared_ptr<detail::ConnectionBase>> live;
    {
      std::lock_guard lock(shared->mu);
      shared->stopping = true;
      for (auto& [ptr, entry] : shared->connections) {
        if (auto c = entry.connection.lock()) live.push_back(std::move(c));
      }
    }
    // Drains are queued before the listener closes, so anything that observes the closed
    // listener and then answers a request is ordered after the drain on that loop.
    for (auto& c : live) c->request_drain();
    live.clear();
    asio::post(shared->acceptor.get_executor(), [s = shared] {
      error_code ignored;
      s->acceptor.close(ignored);
      s->accept_retry.cancel();
    });
    {
      std::unique_lock lock(shared->mu);
      shared->cv.wait_for(lock, shared->options.drain_timeout,
                          [&] { return shared->connections.empty(); });
      for (auto& [ptr, entry] : shared->connections) {
        if (auto c = entry.connection.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) c->request_close();
    live.clear();
    for (auto& w : work) w.reset();
    work.clear();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
    threads.clear();
    {
      std::lock_guard lock(shared->mu);
      shared->stopped = true;
    }
    // Handlers posted between the threads' end and `stopped` (late Responders) run here, on
    // closed connections, and release them.
    for (auto& ctx : shared->contexts) {
      ctx->restart();
      ctx->run();
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::stop() { impl_->stop(); }

std::uint16_t HttpServer::port() const { return impl_->bound.port(); }

std::string HttpServer::local_address() const {
  const tcp::endpoint& ep = impl_->bound;
  if (ep.address().is_v6()) {
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  }
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

HttpServerStats HttpServer::stats() const {
  const Stats& s = impl_->shared->stats;
  HttpServerStats out;
  out.connections_accepted = s.connections_accepted.load(std::memory_order_relaxed);
  out.requests = s.requests.load(std::memory_order_relaxed);
  out.rejected_header_too_large = s.rejected_header_too_large.load(std::memory_order_relaxed);
  out.rejected_body_too_large = s.rejected_body_too_large.load(std::memory_order_relaxed);
  out.rejected_bad_request = s.rejected_bad_request.load(std::memory_order_relaxed);
  out.timeouts = s.timeouts.load(std::memory_order_relaxed);
  out.tls_handshake_failures = s.tls_handshake_failures.load(std::memory_order_relaxed);
  out.handler_exceptions = s.handler_exceptions.load(std::memory_order_relaxed);
  out.rejected_busy = s.rejected_busy.load(std::memory_order_relaxed);
  out.rejected_by_head_check = s.rejected_by_head_check.load(std::memory_order_relaxed);
  out.rejected_client_connections = s.rejected_client_connections.load(std::memory_order_relaxed);
  out.body_bytes_in_flight = impl_->shared->budget->reserved.load(std::memory_order_relaxed);
  out.bodies_in_flight = impl_->shared->budget->holders.load(std::memory_order_relaxed);
  std::lock_guard lock(impl_->shared->mu);
  out.connections_open = impl_->shared->connections.size();
  return out;
}

namespace {

Result<std::shared_ptr<asio::ssl::context>> make_asio_context(const TlsServerConfig& config) {
  VOUCH_ASSIGN_OR_RETURN(SslCtxPtr ctx, make_server_ssl_ctx(config));
  // asio::ssl::context takes ownership of the SSL_CTX.
  return std::make_shared<asio::ssl::context>(ctx.release());
}

}  // namespace

Status HttpServer::reload_tls() {
  const TlsServerConfig& config = impl_->shared->options.tls;
  if (!config.enabled()) {
    return make_error(Code::kFailedPrecondition, Reason::kMalformed,
                      "reload_tls: the server was started without TLS");
  }
  try {
    VOUCH_ASSIGN_OR_RETURN(auto ctx, make_asio_context(config));
    std::lock_guard lock(impl_->shared->mu);
    impl_->shared->tls_ctx = std::move(ctx);
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("reload_tls: ") + e.what());
  }
  return ok_status();
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options,
                                                      Handler handler) {
  if (!handler) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed, "HttpServer needs a handler");
  }
  VOUCH_ASSIGN_OR_RETURN(ListenAddress listen, split_listen(options.listen));
  if (!options.tls.enabled() && !options.tls.key_file.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "TLS key file given without a certificate file");
  }
  try {
    std::shared_ptr<asio::ssl::context> tls;
    if (options.tls.enabled()) {
      VOUCH_ASSIGN_OR_RETURN(tls, make_asio_context(options.tls));
    }
    auto impl = std::make_unique<Impl>();
    impl->shared = std::make_shared<Shared>(std::move(options), std::move(handler));
    Shared& shared = *impl->shared;
    shared.tls_ctx = std::move(tls);

    error_code ec;
    tcp::endpoint endpoint;
    const auto port = static_cast<std::uint16_t>(std::stoul(listen.port));
    auto address = asio::ip::make_address(listen.host, ec);
    if (!ec) {
      endpoint = tcp::endpoint(address, port);
    } else {
      tcp::resolver resolver(*shared.contexts.front());
      auto results = resolver.resolve(listen.host, listen.port, ec);
      if (ec || results.empty()) {
        return make_error(Code::kInvalidArgument, Reason::kUnavailable,
                          "cannot resolve listen host " + listen.host + ": " +
                              (ec ? ec.message() : std::string("no address")));
      }
      endpoint = results.begin()->endpoint();
    }
    auto fail = [&](std::string_view what) {
      return make_error(Code::kUnavailable, Reason::kIo,
                        "listen " + shared.options.listen + ": " + std::string(what) + ": " +
                            ec.message());
    };
    shared.acceptor.open(endpoint.protocol(), ec);
    if (ec) return fail("socket");
    shared.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return fail("SO_REUSEADDR");
    shared.acceptor.bind(endpoint, ec);
    if (ec) return fail("bind");
    shared.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen");
    impl->bound = shared.acceptor.local_endpoint(ec);
    if (ec) return fail("local address");

    for (auto& ctx : shared.contexts) impl->work.emplace_back(ctx->get_executor());
    shared.do_accept();
    for (auto& ctx : shared.contexts) {
      impl->threads.emplace_back([s = impl->shared.get(), c = ctx.get()] {
        for (;;) {
          try {
            c->run();
            return;
          } catch (const std::exception& e) {
            // Nothing in our handlers throws; this is a library failure (e.g. bad_alloc).
            s->log->error("io thread: {}", e.what());
          }
        }
      });
    }
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("HttpServer::start: ") + e.what());
  }
}

}  // namespace vouch::net
