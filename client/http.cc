#include "client/http.h"

#include <curl/curl.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "common/encoding.h"
#include "common/log.h"
#include "keys/crypto.h"

#ifndef VOUCH_VERSION
#define VOUCH_VERSION "0"
#endif

namespace vouch::client {
namespace {

// curl_global_init is not thread-safe in every libcurl build; do it exactly once, never clean
// up (process lifetime), so that several clients on several threads are fine.
CURLcode global_init() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view text, std::string_view keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || keep.find(ch) != std::string_view::npos) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

// Header lines handed to libcurl; wiped before they are freed because one may carry a token or
// credentials.
struct SlistDeleter {
  void operator()(curl_slist* list) const {
    for (curl_slist* p = list; p != nullptr; p = p->next) {
      if (p->data != nullptr) OPENSSL_cleanse(p->data, std::strlen(p->data));
    }
    curl_slist_free_all(list);
  }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool append(Slist& list, const char* line) {
  curl_slist* next = curl_slist_append(list.get(), line);
  if (next == nullptr) return false;
  (void)list.release();
  list.reset(next);
  return true;
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

struct CurlFree {
  void operator()(char* p) const { curl_free(p); }
};
using CurlString = std::unique_ptr<char, CurlFree>;

// One response being received.
struct Transfer {
  std::size_t max_length = 0;
  std::size_t max_error_body = 0;
  unsigned status = 0;
  std::vector<HttpHeader> headers;
  std::optional<std::uint64_t> content_length;
  std::string body;
  bool too_large = false;
  bool truncated = false;

  bool success() const { return status >= 200 && status < 300; }
};

constexpr std::size_t kMaxHeaders = 256;

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * count;
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    // A new response begins (after a 100 Continue, or a proxy's CONNECT answer).
    t->status = 0;
    t->headers.clear();
    t->content_length.reset();
    const auto sp = line.find(' ');
    if (sp != std::string_view::npos && line.size() >= sp + 4) {
      unsigned status = 0;
      const char* begin = line.data() + sp + 1;
      auto [ptr, ec] = std::from_chars(begin, begin + 3, status);
      if (ec == std::errc() && ptr == begin + 3) t->status = status;
    }
    return len;
  }
  if (line.empty()) {
    // End of a header block: refuse an announced body that is too large before reading it.
    if (t->success() && t->content_length && *t->content_length > t->max_length) {
      t->too_large = true;
      return 0;  // aborts the transfer
    }
    return len;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return len;  // not a header line
  if (t->headers.size() >= kMaxHeaders) return len;
  std::string_view name = line.substr(0, colon);
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "Content-Length")) {
    std::uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec == std::errc() && ptr == value.data() + value.size()) t->content_length = n;
  }
  t->headers.push_back(HttpHeader{std::string(name), std::string(value)});
  return len;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * count;
  const std::size_t limit = t->success() ? t->max_length : t->max_error_body;
  if (len > limit - t->body.size()) {
    // Never buffer more than the limit: the transfer stops here (endless-data protection).
    if (t->success()) {
      t->too_large = true;
    } else {
      t->body.append(data, limit - t->body.size());
      t->truncated = true;
    }
    return 0;  // CURLE_WRITE_ERROR
  }
  t->body.append(data, len);
  return len;
}

// One challenge of a WWW-Authenticate header (RFC 7235): scheme and auth-params.
struct Challenge {
  std::string scheme;  // lowercase
  std::map<std::string, std::string> params;  // names lowercase
};

bool is_tchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (is_unreserved(u)) return true;
  return std::string_view("!#$%&'*+^`|").find(c) != std::string_view::npos;
}

// Parses every challenge of one header value. Lenient the way clients must be (servers differ
// in spacing and quoting), but never reads past the value.
std::vector<Challenge> parse_challenges(std::string_view v) {
  std::vector<Challenge> out;
  std::size_t pos = 0;
  auto skip_ws = [&] {
    while (pos < v.size() && (v[pos] == ' ' || v[pos] == '\t')) ++pos;
  };
  auto read_token = [&] {
    const std::size_t start = pos;
    while (pos < v.size() && is_tchar(v[pos])) ++pos;
    return v.substr(start, pos - start);
  };
  while (pos < v.size()) {
    while (pos < v.size() && (v[pos] == ' ' || v[pos] == '\t' || v[pos] == ',')) ++pos;
    const std::string_view scheme = read_token();
    if (scheme.empty()) break;
    Challenge c;
    for (char ch : scheme) c.scheme.push_back(lower(ch));
    skip_ws();
    for (;;) {
      const std::size_t save = pos;
      const std::string_view name = read_token();
      skip_ws();
      if (name.empty() || pos >= v.size() || v[pos] != '=') {
        pos = save;  // the start of the next challenge (or the end)
        break;
      }
      ++pos;
      skip_ws();
      std::string value;
      if (pos < v.size() && v[pos] == '"') {
        ++pos;
        while (pos < v.size() && v[pos] != '"') {
          if (v[pos] == '\\' && pos + 1 < v.size()) ++pos;
          value.push_back(v[pos++]);
        }
        if (pos < v.size()) ++pos;  // closing quote
      } else {
        while (pos < v.size() && v[pos] != ',' && v[pos] != ' ' && v[pos] != '\t') {
          value.push_back(v[pos++]);
        }
      }
      std::string key;
      for (char ch : name) key.push_back(lower(ch));
      c.params.emplace(std::move(key), std::move(value));
      skip_ws();
      if (pos < v.size() && v[pos] == ',') {
        ++pos;
        skip_ws();
        continue;
      }
      break;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string param(const Challenge& c, const std::string& name) {
  auto it = c.params.find(name);
  return it == c.params.end() ? std::string() : it->second;
}

Error unauthenticated(std::string message) {
  return make_error(Code::kUnauthenticated, Reason::kNone, std::move(message));
}

enum class Method { kGet, kPost, kPut, kPatch, kDelete };

const char* method_name(Method m) {
  switch (m) {
    case Method::kGet: return "GET";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kPatch: return "PATCH";
    case Method::kDelete: return "DELETE";
  }
  return "GET";
}

struct RequestSpec {
  Method method = Method::kGet;
  std::string url;
  std::string_view body;            // POST, PUT, PATCH
  std::string content_type;         // POST with a body
  std::size_t max_length = 0;
};

RequestSpec bodiless(Method method, std::string url, std::size_t max_length) {
  RequestSpec req;
  req.method = method;
  req.url = std::move(url);
  req.max_length = max_length;
  return req;
}

bool is_https(std::string_view origin) { return origin.substr(0, 8) == "https://"; }

Status check_readable(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(Code::kFailedPrecondition, Reason::kIo,
                      std::string(what) + " " + path + ": " + std::strerror(errno));
  }
  return ok_status();
}

}  // namespace

Result<BasicCredentials> parse_notary_auth(std::string_view value) {
  auto decoded = base64_decode(trim(value));
  if (!decoded) {
    return make_error(Reason::kMalformed, "NOTARY_AUTH is not base64 of <username>:<password>");
  }
  Bytes& plain = *decoded;
  const std::string_view text = as_string_view(plain);
  const auto colon = text.find(':');
  Result<BasicCredentials> result =
      make_error(Reason::kMalformed, "NOTARY_AUTH must be base64 of <username>:<password>");
  if (colon == 0) {
    result = make_error(Reason::kMalformed, "NOTARY_AUTH has an empty username");
  } else if (colon != std::string_view::npos) {
    BasicCredentials creds;
    creds.username = std::string(text.substr(0, colon));
    creds.password = keys::SecretString(trim(text.substr(colon + 1)));
    result = std::move(creds);
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  return result;
}

std::string default_user_agent() { return std::string("vouch/") + VOUCH_VERSION; }

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::string encode_multipart(std::span<const FormFile> files, std::string_view boundary) {
  auto quote = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '\\' || c == '"') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  };
  std::size_t total = boundary.size() + 8;
  for (const auto& f : files) total += f.data.size() + f.name.size() + f.filename.size() + 160;
  std::string body;
  body.reserve(total);
  bool first = true;
  for (const auto& f : files) {
    // Go's Writer: the first delimiter has no leading CRLF; later ones close the previous part.
    body += first ? "--" : "\r\n--";
    first = false;
    body += boundary;
    body += "\r\nContent-Disposition: form-data; name=\"";
    body += quote(f.name);
    body += "\"; filename=\"";
    body += quote(f.filename);
    body += "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    body += f.data;
  }
  body += first ? "--" : "\r\n--";
  body += boundary;
  body += "--\r\n";
  return body;
}

std::string escape_path(std::string_view text, bool keep_slash) {
  return percent_encode(text, keep_slash ? ":@/" : ":@");
}

Result<std::string> url_origin(std::string_view url) {
  for (char c : url) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      return make_error(Reason::kMalformed, "URL contains a space or control character");
    }
  }
  // libcurl's parser is lenient the way browsers are ("https:///x" names host "x"); a trust
  // server URL must be written out: scheme, "://", then the authority.
  const auto sep = url.find("://");
  if (sep == std::string_view::npos || sep + 3 >= url.size() || url[sep + 3] == '/') {
    return make_error(Reason::kMalformed,
                      "not an absolute http(s) URL: " + std::string(url.substr(0, 256)));
  }
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) return make_error(Reason::kInternal, "curl_url failed");
  const std::string text(url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return make_error(Reason::kMalformed, "not an absolute URL: " + text.substr(0, 256));
  }
  auto part = [&](CURLUPart which, unsigned flags) -> std::optional<std::string> {
    char* raw = nullptr;
    if (curl_url_get(u.get(), which, &raw, flags) != CURLUE_OK || raw == nullptr) {
      return std::nullopt;
    }
    CurlString owned(raw);
    return std::string(owned.get());
  };
  auto scheme = part(CURLUPART_SCHEME, 0);
  if (!scheme || (*scheme != "http" && *scheme != "https")) {
    return make_error(Reason::kMalformed, "URL must use http or https: " + text.substr(0, 256));
  }
  if (part(CURLUPART_USER, 0) || part(CURLUPART_PASSWORD, 0)) {
    // Never echo the URL: it holds a secret.
    return make_error(Reason::kMalformed,
                      "URL must not contain user information; use NOTARY_AUTH for credentials");
  }
  auto host = part(CURLUPART_HOST, 0);
  if (!host || host->empty()) {
    return make_error(Reason::kMalformed, "URL has no host: " + text.substr(0, 256));
  }
  for (char& c : *host) c = lower(c);  // host names are case-insensitive
  auto port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  return *scheme + "://" + *host + ":" + port.value_or(*scheme == "https" ? "443" : "80");
}

class HttpClient::Impl {
 public:
  Impl(HttpOptions options, std::optional<BasicCredentials> credentials, CURL* handle)
      : options_(std::move(options)), credentials_(std::move(credentials)), curl_(handle) {}
  ~Impl() { curl_easy_cleanup(curl_); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  Result<HttpResponse> execute(const RequestSpec& req);
  bool has_credentials() const { return credentials_.has_value(); }

  HttpOptions options_;
  CredentialsPrompt prompt_;
  // set_refresh_token: the realm origin and the token.
  std::string refresh_origin_;
  std::optional<keys::SecretString> refresh_token_;
  // set_origin_authorization: origin -> Authorization value.
  std::map<std::string, keys::SecretString, std::less<>> preset_;

 private:
  Result<HttpResponse> perform(const RequestSpec& req, std::string_view origin,
                               const keys::SecretString* authorization);
  Result<keys::SecretString> fetch_token(const Challenge& challenge, std::string_view origin);
  Result<keys::SecretString> refresh_token_grant(const Challenge& challenge,
                                                 std::string_view realm_origin);
  Result<keys::SecretString> parse_token_answer(HttpResponse& resp, std::string_view realm_origin);
  keys::SecretString basic_authorization() const;
  Error transport_error(CURLcode rc, const char* detail, std::string_view origin) const;
  // With no credentials: asks prompt_ (once per client). True when credentials are now held.
  Result<bool> ask_credentials(std::string_view origin);

  std::optional<BasicCredentials> credentials_;
  bool prompted_ = false;
  CURL* curl_;
  // (realm, service, scope) -> token, for the life of the client.
  std::map<std::string, keys::SecretString, std::less<>> tokens_;
  // origin -> the Authorization value the server last accepted there.
  std::map<std::string, keys::SecretString, std::less<>> accepted_;
};

keys::SecretString HttpClient::Impl::basic_authorization() const {
  keys::SecretString plain(credentials_->username);
  plain.push_back(':');
  for (char c : credentials_->password.view()) plain.push_back(c);
  std::string encoded = base64_encode(plain.bytes());
  keys::SecretString out("Basic ");
  for (char c : encoded) out.push_back(c);
  wipe(encoded);
  return out;
}

Error HttpClient::Impl::transport_error(CURLcode rc, const char* detail,
                                        std::string_view origin) const {
  std::string what = (detail != nullptr && *detail != '\0') ? detail : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return make_error(Code::kUnavailable, Reason::kUnavailable,
                        "trust server " + std::string(origin) + " timed out: " + what);
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      return make_error(Code::kFailedPrecondition, Reason::kBadCertificate,
                        "TLS configuration for " + std::string(origin) + ": " + what);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return make_error(Reason::kMalformed, "bad URL for " + std::string(origin) + ": " + what);
    case CURLE_OUT_OF_MEMORY:
      return make_error(Reason::kInternal, "libcurl: " + what);
    default:
      return make_error(Code::kUnavailable, Reason::kUnavailable,
                        "cannot reach trust server " + std::string(origin) + ": " + what);
  }
}

Result<HttpResponse> HttpClient::Impl::perform(const RequestSpec& req, std::string_view origin,
                                               const keys::SecretString* authorization) {
  CURL* h = curl_;
  // Forget the previous request's options; live connections and TLS sessions stay cached.
  curl_easy_reset(h);
  Transfer t;
  t.max_length = req.max_length;
  t.max_error_body = options_.max_error_body;
  std::array<char, CURL_ERROR_SIZE> error{};
  bool ok = true;
  auto set = [&](CURLoption opt, auto value) {
    ok = ok && curl_easy_setopt(h, opt, value) == CURLE_OK;
  };
  set(CURLOPT_URL, req.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_ERRORBUFFER, error.data());
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!options_.ca_file.empty()) {
    set(CURLOPT_CAINFO, options_.ca_file.c_str());
    // Exclusive: the system's CA directory must not add trust (Notary's ExclusiveRootPools).
    set(CURLOPT_CAPATH, static_cast<const char*>(nullptr));
  }
  if (!options_.cert_file.empty()) {
    set(CURLOPT_SSLCERT, options_.cert_file.c_str());
    set(CURLOPT_SSLCERTTYPE, "PEM");
    set(CURLOPT_SSLKEY, options_.key_file.c_str());
    set(CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (options_.insecure_skip_verify) {
    set(CURLOPT_SSL_VERIFYPEER, 0L);
    set(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  switch (req.method) {
    case Method::kGet:
      set(CURLOPT_HTTPGET, 1L);
      break;
    case Method::kPost:
      set(CURLOPT_POST, 1L);
      set(CURLOPT_POSTFIELDS, req.body.data() != nullptr ? req.body.data() : "");
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      break;
    case Method::kPut:
    case Method::kPatch:
      set(CURLOPT_POST, 1L);
      set(CURLOPT_POSTFIELDS, req.body.data() != nullptr ? req.body.data() : "");
      set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      set(CURLOPT_CUSTOMREQUEST, method_name(req.method));
      break;
    case Method::kDelete:
      set(CURLOPT_CUSTOMREQUEST, "DELETE");
      break;
  }
  Slist headers;
  // No "Expect: 100-continue" round trip before a body.
  ok = ok && append(headers, "Expect:");
  if (!req.content_type.empty()) {
    ok = ok && append(headers, ("Content-Type: " + req.content_type).c_str());
  }
  if (authorization != nullptr) {
    keys::SecretString line("Authorization: ");
    for (char c : authorization->view()) line.push_back(c);
    line.push_back('\0');
    ok = ok && append(headers, line.view().data());
  }
  set(CURLOPT_HTTPHEADER, headers.get());
  if (!ok) return make_error(Reason::kInternal, "cannot configure libcurl for " + std::string(origin));

  const CURLcode rc = curl_easy_perform(h);
  // The header list goes away with this function: libcurl must not keep a pointer to it.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  if (t.too_large) {
    log::get("client")->debug("{} {}: body over {} bytes, aborted", method_name(req.method),
                            origin, req.max_length);
    return make_error(Reason::kTooLarge, "response from " + std::string(origin) +
                                             " is larger than " + std::to_string(req.max_length) +
                                             " bytes");
  }
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.truncated)) {
    return transport_error(rc, error.data(), origin);
  }
  log::get("client")->debug("{} {} -> {}", method_name(req.method), origin, t.status);
  HttpResponse r;
  r.status = t.status;
  r.headers = std::move(t.headers);
  r.body = std::move(t.body);
  r.body_truncated = t.truncated;
  return r;
}

Result<bool> HttpClient::Impl::ask_credentials(std::string_view origin) {
  if (credentials_) return true;
  if (!prompt_ || prompted_) return false;
  prompted_ = true;
  auto entered = prompt_(origin);
  if (!entered) {
    if (entered.error().reason == Reason::kNoPassphrase &&
        entered.error().code != Code::kCancelled) {
      return false;
    }
    return std::move(entered).error();
  }
  if (entered->username.empty()) return false;
  credentials_ = std::move(*entered);
  return true;
}

Result<keys::SecretString> HttpClient::Impl::fetch_token(const Challenge& challenge,
                                                         std::string_view origin) {
  const std::string realm = param(challenge, "realm");
  const std::string service = param(challenge, "service");
  const std::string scope = param(challenge, "scope");
  auto realm_origin = url_origin(realm);
  if (!realm_origin) {
    return unauthenticated("trust server " + std::string(origin) +
                           " asked for a token from an unusable realm: " +
                           realm_origin.error().message);
  }
  if (realm.find('#') != std::string::npos) {
    return unauthenticated("token realm of " + std::string(origin) + " has a fragment");
  }
  if (!credentials_ && refresh_token_ && *realm_origin == refresh_origin_) {
    return refresh_token_grant(challenge, *realm_origin);
  }
  // docker/distribution fetchTokenWithBasicAuth: the query in url.Values order (sorted keys).
  std::string url = realm;
  char sep = realm.find('?') == std::string::npos ? '?' : '&';
  auto add = [&](std::string_view name, std::string_view value) {
    url.push_back(sep);
    sep = '&';
    url += name;
    url.push_back('=');
    url += percent_encode(value, "");
  };
  if (credentials_) add("account", credentials_->username);
  if (!scope.empty()) add("scope", scope);
  if (!service.empty()) add("service", service);

  std::optional<keys::SecretString> basic;
  if (credentials_) {
    if (!is_https(*realm_origin)) {
      return unauthenticated("refusing to send the NOTARY_AUTH credentials over plain HTTP to " +
                             *realm_origin);
    }
    basic = basic_authorization();
  }
  const RequestSpec req = bodiless(Method::kGet, std::move(url), options_.max_token_response);
  auto resp = perform(req, *realm_origin, basic ? &*basic : nullptr);
  if (!resp) return std::move(resp).error().wrap("token service");
  if (resp->status == 401 || resp->status == 403) {
    if (!credentials_) {
      // Anonymous was refused: ask for credentials (once) and try again with them.
      VOUCH_ASSIGN_OR_RETURN(const bool entered, ask_credentials(*realm_origin));
      if (entered) return fetch_token(challenge, origin);
    }
    return unauthenticated(
        credentials_ ? "the token service " + *realm_origin +
                           " refused the credentials in NOTARY_AUTH"
                     : "the token service " + *realm_origin +
                           " requires credentials: set NOTARY_AUTH to the base64 of "
                           "<username>:<password>");
  }
  if (resp->status >= 500) {
    return make_error(Code::kUnavailable, Reason::kUnavailable,
                      "token service " + *realm_origin + " answered HTTP " +
                          std::to_string(resp->status));
  }
  if (resp->status < 200 || resp->status >= 300) {
    return unauthenticated("token service " + *realm_origin + " answered HTTP " +
                           std::to_string(resp->status));
  }
  return parse_token_answer(*resp, *realm_origin);
}

Result<keys::SecretString> HttpClient::Impl::parse_token_answer(HttpResponse& resp,
                                                                std::string_view realm_origin) {
  const std::string realm_text(realm_origin);
  // docker/distribution's token answer is an API answer: Boost.JSON (issue 13, item 7), which
  // takes any JSON the Go client takes (numbers with fractions included). The body is bounded
  // by max_token_response.
  boost::json::parse_options limits;
  limits.max_depth = 8;
  boost::json::error_code ec;
  boost::json::value doc =
      boost::json::parse(boost::json::string_view(resp.body.data(), resp.body.size()), ec, {},
                         limits);
  wipe(resp.body);
  boost::json::object* object = ec ? nullptr : doc.if_object();
  if (object == nullptr) {
    return unauthenticated("token service " + realm_text + " answered with malformed JSON");
  }
  // distribution: "access_token" is equivalent to "token" and wins when both are present.
  auto non_empty = [object](std::string_view key) -> boost::json::string* {
    boost::json::value* v = object->if_contains(key);
    boost::json::string* s = v == nullptr ? nullptr : v->if_string();
    return s == nullptr || s->empty() ? nullptr : s;
  };
  boost::json::string* token = non_empty("access_token");
  if (token == nullptr) token = non_empty("token");
  if (token == nullptr) {
    return unauthenticated("token service " + realm_text + " gave no token");
  }
  const std::string_view text(token->data(), token->size());
  if (text.size() > options_.max_token_bytes) {
    return unauthenticated("token from " + realm_text + " is too long");
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      return unauthenticated("token from " + realm_text + " has characters a header cannot carry");
    }
  }
  keys::SecretString bearer("Bearer ");
  for (char c : text) bearer.push_back(c);
  std::fill(token->begin(), token->end(), '\0');
  return bearer;
}

// docker/distribution's OAuth2 refresh (session.go fetchTokenWithOAuth): a form POST to the
// realm. The form holds the refresh token, so it is built in a SecretString and wiped.
Result<keys::SecretString> HttpClient::Impl::refresh_token_grant(const Challenge& challenge,
                                                                 std::string_view realm_origin) {
  if (!is_https(realm_origin)) {
    return unauthenticated("refusing to send the stored login over plain HTTP to " +
                           std::string(realm_origin));
  }
  keys::SecretString form("grant_type=refresh_token&client_id=vouch&refresh_token=");
  std::string escaped = percent_encode(refresh_token_->view(), "");
  for (char c : escaped) form.push_back(c);
  wipe(escaped);
  for (const char* name : {"service", "scope"}) {
    const std::string value = param(challenge, name);
    if (value.empty()) continue;
    for (char c : "&" + std::string(name) + "=" + percent_encode(value, "")) form.push_back(c);
  }
  RequestSpec req = bodiless(Method::kPost, param(challenge, "realm"), options_.max_token_response);
  req.body = form.view();
  req.content_type = "application/x-www-form-urlencoded";
  auto resp = perform(req, realm_origin, nullptr);
  if (!resp) return std::move(resp).error().wrap("token service");
  if (resp->status == 401 || resp->status == 400 || resp->status == 403) {
    return unauthenticated("the token service " + std::string(realm_origin) +
                           " refused the stored login (expired or revoked): run `vouch login` "
                           "again");
  }
  if (resp->status == 429) {
    return make_error(Code::kResourceExhausted, Reason::kThrottled,
                      "token service " + std::string(realm_origin) + " throttles this client");
  }
  if (resp->status >= 500) {
    return make_error(Code::kUnavailable, Reason::kUnavailable,
                      "token service " + std::string(realm_origin) + " answered HTTP " +
                          std::to_string(resp->status));
  }
  if (resp->status < 200 || resp->status >= 300) {
    return unauthenticated("token service " + std::string(realm_origin) + " answered HTTP " +
                           std::to_string(resp->status));
  }
  return parse_token_answer(*resp, realm_origin);
}

Result<HttpResponse> HttpClient::Impl::execute(const RequestSpec& req) {
  VOUCH_ASSIGN_OR_RETURN(const std::string origin, url_origin(req.url));
  if (auto it = preset_.find(origin); it != preset_.end()) {
    if (!is_https(origin)) {
      return unauthenticated("refusing to send the stored login over plain HTTP to " + origin);
    }
    return perform(req, origin, &it->second);
  }
  const keys::SecretString* sent = nullptr;
  if (auto it = accepted_.find(origin); it != accepted_.end()) sent = &it->second;
  VOUCH_ASSIGN_OR_RETURN(HttpResponse response, perform(req, origin, sent));
  if (response.status != 401) return response;

  std::vector<Challenge> challenges;
  for (const auto& h : response.headers) {
    if (!iequals(h.name, "WWW-Authenticate")) continue;
    for (auto& c : parse_challenges(h.value)) challenges.push_back(std::move(c));
  }
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }

  if (bearer != nullptr) {
    if (param(*bearer, "realm").empty()) {
      return unauthenticated("trust server " + origin + " sent a Bearer challenge without a realm");
    }
    const std::string key = param(*bearer, "realm") + '\n' + param(*bearer, "service") + '\n' +
                            param(*bearer, "scope");
    // A token cached for this scope that is not the one just refused: try it first.
    if (auto it = tokens_.find(key);
        it != tokens_.end() && (sent == nullptr || sent->view() != it->second.view())) {
      keys::SecretString cached = it->second.copy();
      VOUCH_ASSIGN_OR_RETURN(response, perform(req, origin, &cached));
      if (response.status != 401) {
        accepted_.insert_or_assign(origin, std::move(cached));
        return response;
      }
    }
    // No token, or a refused (expired, revoked) one: ask the realm once.
    const bool had_credentials = credentials_.has_value();
    VOUCH_ASSIGN_OR_RETURN(keys::SecretString token, fetch_token(*bearer, origin));
    tokens_.insert_or_assign(key, token.copy());
    VOUCH_ASSIGN_OR_RETURN(response, perform(req, origin, &token));
    const auto realm = url_origin(param(*bearer, "realm"));
    // A stored login is who the user is: a token of theirs that lacks the scope is the
    // answer, not a reason to ask for another identity.
    const bool logged_in = refresh_token_ && realm && *realm == refresh_origin_;
    if (response.status == 401 && !had_credentials && !credentials_ && !logged_in) {
      // An anonymous token that does not grant the scope (a push, a private repository): ask
      // for credentials (once) and fetch a token with them.
      VOUCH_ASSIGN_OR_RETURN(const bool entered,
                             ask_credentials(realm ? std::string_view(*realm) : origin));
      if (entered) {
        VOUCH_ASSIGN_OR_RETURN(token, fetch_token(*bearer, origin));
        tokens_.insert_or_assign(key, token.copy());
        VOUCH_ASSIGN_OR_RETURN(response, perform(req, origin, &token));
      }
    }
    if (response.status != 401) accepted_.insert_or_assign(origin, std::move(token));
    return response;
  }

  if (basic != nullptr && !credentials_) {
    VOUCH_ASSIGN_OR_RETURN(const bool entered, ask_credentials(origin));
    (void)entered;
  }
  if (basic != nullptr && credentials_) {
    if (!is_https(origin)) {
      return unauthenticated("refusing to send the NOTARY_AUTH credentials over plain HTTP to " +
                             origin);
    }
    keys::SecretString auth = basic_authorization();
    if (sent != nullptr && sent->view() == auth.view()) return response;  // already refused
    VOUCH_ASSIGN_OR_RETURN(response, perform(req, origin, &auth));
    if (response.status != 401) accepted_.insert_or_assign(origin, std::move(auth));
  }
  return response;
}

Result<HttpClient> HttpClient::create(HttpOptions options,
                                      std::optional<BasicCredentials> credentials) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return make_error(Code::kInvalidArgument, Reason::kMalformed,
                      "either pass both the TLS client certificate and its key, or neither");
  }
  if (!options.ca_file.empty()) VOUCH_RETURN_IF_ERROR(check_readable(options.ca_file, "CA file"));
  if (!options.cert_file.empty()) {
    VOUCH_RETURN_IF_ERROR(check_readable(options.cert_file, "TLS client certificate"));
    VOUCH_RETURN_IF_ERROR(check_readable(options.key_file, "TLS client key"));
  }
  if (credentials && credentials->username.empty()) {
    return make_error(Reason::kMalformed, "credentials with an empty username");
  }
  if (global_init() != CURLE_OK) return make_error(Reason::kInternal, "curl_global_init failed");
  CURL* handle = curl_easy_init();
  if (handle == nullptr) return make_error(Reason::kInternal, "curl_easy_init failed");
  return HttpClient(std::make_unique<Impl>(std::move(options), std::move(credentials), handle));
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

const HttpOptions& HttpClient::options() const { return impl_->options_; }
bool HttpClient::has_credentials() const { return impl_->has_credentials(); }
void HttpClient::set_credentials_prompt(CredentialsPrompt prompt) {
  impl_->prompt_ = std::move(prompt);
}

Result<HttpResponse> HttpClient::get(std::string_view url, std::size_t max_length) {
  return impl_->execute(bodiless(Method::kGet, std::string(url), max_length));
}

Result<HttpResponse> HttpClient::post_multipart(std::string_view url,
                                                std::span<const FormFile> files,
                                                std::size_t max_length) {
  for (const auto& f : files) {
    for (std::string_view s : {std::string_view(f.name), std::string_view(f.filename)}) {
      if (s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        return make_error(Reason::kMalformed, "form field names cannot hold CR, LF or NUL");
      }
    }
  }
  // Go's randomBoundary: 30 random bytes in hex. A boundary that occurs in the data (odds of
  // 2^-240 per position) is simply drawn again.
  std::string boundary;
  for (int attempt = 0;; ++attempt) {
    std::array<std::uint8_t, 30> random{};
    VOUCH_RETURN_IF_ERROR(keys::random_bytes(random));
    boundary = hex_encode(random);
    bool clash = false;
    for (const auto& f : files) clash = clash || f.data.find(boundary) != std::string_view::npos;
    if (!clash) break;
    if (attempt == 3) return make_error(Reason::kInternal, "no usable multipart boundary");
  }
  const std::string body = encode_multipart(files, boundary);
  RequestSpec req = bodiless(Method::kPost, std::string(url), max_length);
  req.body = body;
  req.content_type = "multipart/form-data; boundary=" + boundary;
  return impl_->execute(req);
}

Result<HttpResponse> HttpClient::post_empty(std::string_view url, std::size_t max_length) {
  return impl_->execute(bodiless(Method::kPost, std::string(url), max_length));
}

Result<HttpResponse> HttpClient::del(std::string_view url, std::size_t max_length) {
  return impl_->execute(bodiless(Method::kDelete, std::string(url), max_length));
}

Result<HttpResponse> HttpClient::send(std::string_view method, std::string_view url,
                                      std::string_view body, std::string_view content_type,
                                      std::size_t max_length) {
  static constexpr std::pair<std::string_view, Method> kMethods[] = {
      {"GET", Method::kGet},   {"POST", Method::kPost},     {"PUT", Method::kPut},
      {"PATCH", Method::kPatch}, {"DELETE", Method::kDelete}};
  for (const auto& [name, m] : kMethods) {
    if (name != method) continue;
    if (!body.empty() && (m == Method::kGet || m == Method::kDelete)) {
      return make_error(Code::kInvalidArgument, Reason::kMalformed,
                        std::string(method) + " requests carry no body here");
    }
    RequestSpec req = bodiless(m, std::string(url), max_length);
    req.body = body;
    req.content_type = std::string(content_type);
    return impl_->execute(req);
  }
  return make_error(Code::kInvalidArgument, Reason::kMalformed,
                    "unsupported HTTP method " + std::string(method.substr(0, 16)));
}

void HttpClient::set_refresh_token(std::string realm_origin, keys::SecretString token) {
  impl_->refresh_origin_ = std::move(realm_origin);
  impl_->refresh_token_ = std::move(token);
}

void HttpClient::set_origin_authorization(std::string origin, keys::SecretString value) {
  impl_->preset_.insert_or_assign(std::move(origin), std::move(value));
}

}  // namespace vouch::client
