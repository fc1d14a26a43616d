#pragma once

// A real HTTP(S) server (common/net/http_server.h) on 127.0.0.1 port 0 for the client's
// transport tests: each test sets the route, and every request is recorded. Header-only.

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/http.h"
#include "common/net/http_server.h"
#include "tests/unit/net/net_test_util.h"

namespace vouch::client::testing {

// What the server saw of one request.
struct Seen {
  std::string method;
  std::string target;
  std::string path;  // decoded
  std::string query;
  std::string body;
  net::Headers headers;
  std::uint16_t port = 0;
};

// An HTTP(S) server whose behaviour each test sets with a route. Records every request.
class TestServer {
 public:
  using Request = net::Request;
  using Responder = net::Responder;
  using Route = std::function<void(const Request&, Responder&)>;

  explicit TestServer(const net::testing::Pki* pki, Route route,
                      net::HttpServerOptions options = {})
      : route_(std::move(route)) {
    if (pki != nullptr) {
      options.tls.cert_file = pki->server1_files.first;
      options.tls.key_file = pki->server1_files.second;
    }
    options.max_body_bytes = 8u << 20;
    options.drain_timeout = std::chrono::milliseconds(2000);
    auto s = net::HttpServer::start(std::move(options), [this](Request&& req, Responder responder) {
      Seen seen;
      seen.method = req.method;
      seen.target = req.target;
      seen.path = net::percent_decode_path(req.path()).value_or("<bad path>");
      seen.query = std::string(req.query());
      seen.body = req.body;
      seen.headers = req.headers;
      seen.port = req.remote_port;
      Route current;
      {
        std::lock_guard lock(mu_);
        seen_.push_back(seen);
        current = route_;
      }
      current(req, responder);
    });
    REQUIRE_MESSAGE(s.ok(), s.error().message);
    server_ = std::move(s).value();
    base_ = std::string(pki != nullptr ? "https" : "http") + "://127.0.0.1:" +
            std::to_string(server_->port());
  }

  const std::string& base() const { return base_; }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  void clear() {
    std::lock_guard lock(mu_);
    seen_.clear();
  }
  void set_route(Route route) {
    std::lock_guard lock(mu_);
    route_ = std::move(route);
  }

 private:
  std::mutex mu_;
  Route route_;
  std::vector<Seen> seen_;
  std::unique_ptr<net::HttpServer> server_;
  std::string base_;
};

inline net::Response text(unsigned status, std::string body) {
  return net::Response::text(status, std::move(body), "application/json");
}

inline HttpClient make_client(const net::testing::Pki& pki,
                              std::optional<BasicCredentials> creds = std::nullopt,
                              HttpOptions options = {}) {
  options.ca_file = pki.ca1_file;
  auto c = HttpClient::create(std::move(options), std::move(creds));
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  return std::move(c).value();
}

inline std::string percent_decode_query_value(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(v[i] == '+' ? ' ' : v[i]);
    }
  }
  return out;
}

// A query string or form body (a=1&b=2, %XX and + decoded) as a map.
inline std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto pair = q.substr(0, amp);
    const auto eq = pair.find('=');
    out[std::string(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : percent_decode_query_value(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace vouch::client::testing
