// The Beast-free parts of http_server.h: request/response helpers, percent-decoding, reason
// phrases. Kept out of http_server.cc so that they compile in a second, not a minute.
#include "common/net/http_server.h"

#include <openssl/crypto.h>

#include <memory>
#include <utility>

#include "common/work_queue.h"

namespace vouch::net {

std::string_view Request::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

std::string_view Request::query() const {
  std::string_view t = target;
  std::size_t q = t.find('?');
  return q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
}

Response Response::text(unsigned status, std::string body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.add("Content-Type", std::string(content_type));
  return r;
}

Response Response::shared(unsigned status, std::shared_ptr<const std::string> body,
                          std::string_view content_type) {
  Response r;
  r.status = status;
  r.shared_body = std::move(body);
  r.headers.add("Content-Type", std::string(content_type));
  return r;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

Result<std::string> percent_decode_path(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '\0') return make_error(Reason::kMalformed, "NUL in path");
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 2 >= raw.size()) {
      return make_error(Reason::kMalformed, "truncated percent-escape in path");
    }
    int hi = hex_value(raw[i + 1]);
    int lo = hex_value(raw[i + 2]);
    if (hi < 0 || lo < 0) return make_error(Reason::kMalformed, "bad percent-escape in path");
    auto byte = static_cast<char>(hi * 16 + lo);
    if (byte == '/') return make_error(Reason::kMalformed, "encoded '/' in path");
    if (byte == '\0') return make_error(Reason::kMalformed, "encoded NUL in path");
    out.push_back(byte);
    i += 2;
  }
  return out;
}

std::optional<std::string> form_decode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      const int hi = hex_value(raw[i + 1]);
      const int lo = hex_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  if (out.find('\0') != std::string::npos) {
    OPENSSL_cleanse(out.data(), out.size());  // it may have been a secret (a form's password)
    return std::nullopt;
  }
  return out;
}

Handler route_to_workers(std::function<bool(const Request&)> match,
                         std::function<Response(Request&)> handle, WorkQueue& workers,
                         std::function<Response()> busy, Handler next) {
  return [match = std::move(match), handle = std::move(handle), &workers, busy = std::move(busy),
          next = std::move(next)](Request&& request, Responder responder) {
    if (!match(request)) {
      next(std::move(request), std::move(responder));
      return;
    }
    auto job = std::make_shared<std::pair<Request, Responder>>(std::move(request),
                                                               std::move(responder));
    if (!workers.post([handle, job] { job->second.respond(handle(job->first)); })) {
      job->second.respond(busy());
    }
  };
}

bool for_each_form_pair(std::string_view text,
                        const std::function<bool(std::string& name, std::string& value)>& fn) {
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name || !value) {
      if (value && !value->empty()) OPENSSL_cleanse(value->data(), value->size());
      return false;
    }
    const bool go_on = fn(*name, *value);
    if (!value->empty()) OPENSSL_cleanse(value->data(), value->size());
    if (!go_on) return false;
  }
  return true;
}

std::string_view status_reason(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

}  // namespace vouch::net
