#pragma once

// Helpers for the vouch-server integration tests: the real vouch-server binary as a child
// process (config file, TLS from a test CA, RocksDB in a temporary directory), HTTPS through
// libcurl, a raw TLS client for what libcurl will not send (lying Content-Length, oversized
// chunked bodies, half-sent requests), Notary's multipart publish body and error JSON, and
// Docker registry tokens (ES256 JWTs with an x5c chain) minted with OpenSSL.
// Header-only; link CURL::libcurl, OpenSSL::SSL, vouch_tuf. Builds on signer_test_util.h
// (TempDir, Pki, Process, wait_until). Every socket read has a 20 s guard (SO_RCVTIMEO) so a
// broken server fails a test instead of hanging it; no assertion depends on time.

#include <curl/curl.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/ecdsa.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "keys/public_key.h"
#include "tests/integration/signer_test_util.h"
#include "tuf/json.h"

namespace vouch::server_test {

using signer_test::fixture_failure;
using signer_test::Process;
using signer_test::TempDir;
namespace fs = std::filesystem;
namespace json = tuf::json;

// ---- HTTPS through libcurl ------------------------------------------------------------------

struct HttpResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string raw_headers;
  std::string error;

  // The value of the last header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const {
    std::string found;
    std::size_t pos = 0;
    while (pos < raw_headers.size()) {
      std::size_t end = raw_headers.find("\r\n", pos);
      if (end == std::string::npos) end = raw_headers.size();
      const std::string_view line(raw_headers.data() + pos, end - pos);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos && colon == name.size() &&
          std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        std::string_view v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        found = std::string(v);
      }
      pos = end + 2;
    }
    return found;
  }
};

inline std::size_t curl_append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

// One request, verifying the server against `ca_file`. The path is sent exactly as given
// (no dot-segment removal), so tests can send "..".
inline HttpResult https(const std::string& method, const std::string& url,
                        const std::string& ca_file, const std::string& body = "",
                        const std::vector<std::string>& headers = {}) {
  static CurlGlobal global;
  HttpResult result;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) fixture_failure("curl_easy_init failed");
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, curl_append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.raw_headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || !body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (list != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  result.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.error = error;
  if (list != nullptr) curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

// ---- Notary's wire formats ------------------------------------------------------------------

// A publish body as the notary client builds it: one part per role, named "files", with the
// role as file name.
struct Multipart {
  std::string boundary = "vouch-test-boundary-8d2c1f";
  std::string body;

  Multipart& part(const std::string& filename, const std::string& bytes) {
    body += "--" + boundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"files\"; filename=\"" + filename + "\"\r\n";
    body += "Content-Type: application/octet-stream\r\n\r\n";
    body += bytes;
    body += "\r\n";
    return *this;
  }
  std::string finish() const { return body + "--" + boundary + "--\r\n"; }
  std::string content_type() const { return "Content-Type: multipart/form-data; boundary=" + boundary; }
};

// The one error of a Notary error body {"errors":[{"code","message","detail"}]}.
struct NotaryError {
  std::string code;
  std::string message;
  std::optional<json::Value> detail;
};

// nullopt unless `body` is exactly Notary's error JSON with one error carrying a string code
// and message.
inline std::optional<NotaryError> notary_error(const std::string& body) {
  auto doc = json::parse(body);
  if (!doc || !doc->is_object() || doc->as_object().size() != 1) return std::nullopt;
  const json::Value* errors = doc->find("errors");
  if (errors == nullptr || !errors->is_array() || errors->as_array().size() != 1) return std::nullopt;
  const json::Value& e = errors->as_array().front();
  if (!e.is_object()) return std::nullopt;
  const json::Value* code = e.find("code");
  const json::Value* message = e.find("message");
  if (code == nullptr || !code->is_string() || message == nullptr || !message->is_string()) {
    return std::nullopt;
  }
  NotaryError out{code->as_string(), message->as_string(), std::nullopt};
  if (const json::Value* d = e.find("detail")) out.detail = *d;
  return out;
}

// A TUF key JSON ({"keytype","keyval":{"private":null,"public":base64}}), as GET <role>.key
// answers.
inline std::optional<keys::PublicKey> key_from_json(const std::string& body) {
  auto doc = json::parse(body);
  if (!doc || !doc->is_object()) return std::nullopt;
  const json::Value* type = doc->find("keytype");
  const json::Value* keyval = doc->find("keyval");
  if (type == nullptr || !type->is_string() || keyval == nullptr || !keyval->is_object()) {
    return std::nullopt;
  }
  const json::Value* pub = keyval->find("public");
  if (pub == nullptr || !pub->is_string()) return std::nullopt;
  auto t = keys::parse_key_type(type->as_string());
  auto raw = base64_decode(pub->as_string());
  if (!t || !raw) return std::nullopt;
  auto key = keys::PublicKey::from_tuf(*t, *raw);
  if (!key) return std::nullopt;
  return *key;
}

// ---- a raw TLS client -----------------------------------------------------------------------

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// A blocking TLS 1.2+ connection to 127.0.0.1:port, the server verified against `ca_pem`.
class TlsClient {
 public:
  struct Response {
    int status = 0;
    std::string head;
    std::string body;
    bool has_header(std::string_view needle) const {
      std::string h = head, n(needle);
      for (auto* s : {&h, &n}) {
        for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return h.find(n) != std::string::npos;
    }
  };

  TlsClient(int port, const std::string& ca_pem) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) fixture_failure("socket failed");
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      fixture_failure("connect to vouch-server failed");
    }
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION);
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (ca == nullptr) fixture_failure("bad CA PEM");
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set1_host(ssl_.get(), "127.0.0.1");
    SSL_set_fd(ssl_.get(), fd_);
    if (SSL_connect(ssl_.get()) != 1) {
      ERR_clear_error();
      fixture_failure("TLS handshake with vouch-server failed");
    }
  }
  ~TlsClient() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // True if every byte was written (false once the server has closed the connection).
  bool send(std::string_view data) {
    while (!data.empty()) {
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 16384));
      const int n = SSL_write(ssl_.get(), data.data(), chunk);
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one Content-Length-framed response; nullopt if the connection ends first.
  std::optional<Response> read_response() {
    std::size_t end = 0;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    r.head = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    if (r.head.size() >= 12) r.status = std::atoi(r.head.c_str() + 9);
    std::size_t length = 0;
    std::string lower = r.head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const auto at = lower.find("\r\ncontent-length:"); at != std::string::npos) {
      length = std::strtoul(lower.c_str() + at + 17, nullptr, 10);
    }
    while (buffer_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // True when the server has closed the connection (close_notify, EOF or reset) and sent
  // nothing more. False if data arrived, or the 20 s guard ran out.
  bool closed_by_peer() {
    char c = 0;
    const int n = SSL_read(ssl_.get(), &c, 1);
    if (n > 0) {
      buffer_.push_back(c);
      return false;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    const int saved_errno = errno;
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN) return true;
    if (err == SSL_ERROR_SYSCALL) return saved_errno != EAGAIN && saved_errno != EWOULDBLOCK;
    return err == SSL_ERROR_SSL;
  }

 private:
  bool fill() {
    char buf[16384];
    const int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string buffer_;
};

// ---- the vouch-server process ---------------------------------------------------------------

// TLS material for servers and their clients: a CA, a server certificate for
// 127.0.0.1/localhost, written to `dir` as ca.pem, server.pem, server.key.
struct ServerTls {
  explicit ServerTls(const TempDir& dir) : ca_file(dir / "ca.pem") {
    signer_test::write_file(ca_file, pki.ca_pem(), 0644);
    std::tie(cert_file, key_file) = signer_test::write_issued(dir, "server", pki.issue("vouch-server", true));
  }
  signer_test::Pki pki{"vouch server test CA"};
  std::string ca_file, cert_file, key_file;
};

// A running vouch-server: started from a config file written into its own directory under
// `dir`, HTTPS on a port it picks itself (port 0; read from its "listening on" line).
class ServerProcess {
 public:
  // `config` is the JSON config; `args` extra flags; `env` extra environment.
  ServerProcess(const std::string& binary, const std::string& dir, const std::string& config,
                const std::vector<std::string>& args,
                const std::map<std::string, std::string>& env)
      : dir_(dir) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    const std::string config_file = dir_ + "/server.json";
    signer_test::write_file(config_file, config, 0600);
    std::vector<std::string> all = {"--config", config_file};
    all.insert(all.end(), args.begin(), args.end());
    process_ = std::make_unique<Process>(binary, all, env, dir_ + "/server.out",
                                         dir_ + "/server.err");
    signer_test::wait_until([&] { return listening_port() > 0 || !process_->running(); },
                            std::chrono::seconds(90));
    port_ = listening_port();
  }

  // 0 if the server is not (yet) listening.
  int port() const { return port_; }
  Process& process() { return *process_; }
  bool running() { return process_->running(); }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string log() const { return process_->out() + process_->err(); }

  // SIGTERM, then waits for the exit; returns the exit status (nullopt if it did not stop).
  std::optional<int> stop() {
    process_->signal(SIGTERM);
    return process_->wait(std::chrono::seconds(60));
  }

 private:
  int listening_port() const {
    const std::string out = process_->out();
    const auto at = out.find("listening on ");
    if (at == std::string::npos || out.find('\n', at) == std::string::npos) return 0;
    const auto colon = out.rfind(':', out.find('\n', at));
    return colon == std::string::npos ? 0 : std::atoi(out.c_str() + colon + 1);
  }

  std::string dir_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// ---- Docker registry tokens -----------------------------------------------------------------

// A token service's signing key: an EC P-256 leaf issued by `pki`'s CA (the CA certificate is
// the server's rootcertbundle). Tokens are ES256 JWTs carrying the leaf in "x5c".
class TokenMinter {
 public:
  explicit TokenMinter(signer_test::Pki& pki) {
    const signer_test::Issued leaf = pki.issue("token signer", false);
    BIO* kb = BIO_new_mem_buf(leaf.key_pem.data(), static_cast<int>(leaf.key_pem.size()));
    key_.reset(PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr));
    BIO_free(kb);
    BIO* cb = BIO_new_mem_buf(leaf.cert_pem.data(), static_cast<int>(leaf.cert_pem.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    if (!key_ || cert == nullptr) fixture_failure("cannot read the token signer");
    const int len = i2d_X509(cert, nullptr);
    Bytes der(static_cast<std::size_t>(len));
    unsigned char* p = der.data();
    i2d_X509(cert, &p);
    X509_free(cert);
    leaf_b64_ = base64_encode(der);
  }

  // A signed token: `claims` as given, header {"alg":"ES256","typ":"JWT","x5c":[leaf]}.
  std::string mint(const json::Object& claims) const {
    json::Object header;
    header.set("alg", "ES256");
    header.set("typ", "JWT");
    header.set("x5c", json::Array{leaf_b64_});
    const std::string input = base64url_encode(as_bytes(json::canonical(header))) + "." +
                              base64url_encode(as_bytes(json::canonical(claims)));
    return input + "." + base64url_encode(es256(input));
  }

  // Claims for `access` entries ({type, name, actions}) valid from a minute ago for ten
  // minutes (or, with `expired`, that ran out an hour ago).
  static json::Object claims(const std::string& issuer, const std::string& audience,
                             const std::string& gun, const std::vector<std::string>& actions,
                             bool expired = false) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    json::Object c;
    c.set("iss", issuer);
    c.set("sub", "test-user");
    c.set("aud", audience);
    c.set("iat", std::int64_t{now - (expired ? 7200 : 60)});
    c.set("nbf", std::int64_t{now - (expired ? 7200 : 60)});
    c.set("exp", std::int64_t{expired ? now - 3600 : now + 600});
    c.set("jti", "test-" + std::to_string(now));
    json::Array a;
    for (const auto& s : actions) a.emplace_back(s);
    json::Object entry;
    entry.set("type", "repository");
    entry.set("name", gun);
    entry.set("actions", std::move(a));
    c.set("access", json::Array{json::Value(std::move(entry))});
    return c;
  }

 private:
  Bytes es256(const std::string& input) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1) {
      fixture_failure("EVP_DigestSign failed");
    }
    Bytes der(len);
    if (EVP_DigestSign(ctx, der.data(), &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1) {
      fixture_failure("EVP_DigestSign failed");
    }
    EVP_MD_CTX_free(ctx);
    const unsigned char* p = der.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
    if (sig == nullptr) fixture_failure("bad ECDSA signature");
    Bytes raw(64);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32);
    ECDSA_SIG_free(sig);
    return raw;
  }

  signer_test::KeyPtr key_;
  std::string leaf_b64_;
};

}  // namespace vouch::server_test
