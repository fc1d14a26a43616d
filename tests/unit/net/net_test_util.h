#pragma once

// Helpers for the vouch_net tests: a temporary directory, a tiny PKI made with OpenSSL's API
// (no CLI), a raw-socket HTTP client for the cases libcurl hides (pipelining, half-sent
// headers, early 413), and a libcurl wrapper for plain, TLS and mTLS requests.

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vouch::net::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/vouch-net-XXXXXX";
    char* p = ::mkdtemp(tmpl.data());
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// --- a tiny PKI ------------------------------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

struct KeyAndCert {
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  std::unique_ptr<X509, X509Free> cert;

  std::string cert_pem() const {
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), cert.get());
    return bio_text(bio.get());
  }
  std::string key_pem() const {
    std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    return bio_text(bio.get());
  }
  // Writes <dir>/<name>.crt and <dir>/<name>.key; returns {cert path, key path}.
  std::pair<std::string, std::string> write(const TempDir& dir, const std::string& name) const {
    std::string c = dir.file(name + ".crt");
    std::string k = dir.file(name + ".key");
    write_file(c, cert_pem());
    write_file(k, key_pem());
    return {c, k};
  }

 private:
  static std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
  }
};

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("X509V3_EXT_conf_nid failed");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (self-signed when null). A CA when `ca`;
// otherwise a leaf for 127.0.0.1/localhost usable for both server and client auth.
inline KeyAndCert make_cert(const std::string& cn, const KeyAndCert* issuer, bool ca) {
  KeyAndCert out;
  out.key.reset(EVP_EC_gen("P-256"));
  if (!out.key) throw std::runtime_error("EVP_EC_gen failed");
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("vouch-test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  X509_set_pubkey(x, out.key.get());
  if (ca) {
    add_ext(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, issuer_cert, NID_key_usage, "critical,digitalSignature");
    add_ext(x, issuer_cert, NID_ext_key_usage, "serverAuth,clientAuth");
    add_ext(x, issuer_cert, NID_subject_alt_name,
            "DNS:localhost,IP:127.0.0.1,URI:spiffe://vouch.test/ns/test");
  }
  EVP_PKEY* signing_key = issuer ? issuer->key.get() : out.key.get();
  if (X509_sign(x, signing_key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  return out;
}

// Two independent CAs, each with a server leaf and a client leaf, written to a temp dir.
struct Pki {
  TempDir dir;
  KeyAndCert ca1 = make_cert("Test CA 1", nullptr, true);
  KeyAndCert ca2 = make_cert("Test CA 2", nullptr, true);
  KeyAndCert server1 = make_cert("server-one", &ca1, false);
  KeyAndCert server2 = make_cert("server-two", &ca2, false);
  KeyAndCert client1 = make_cert("client-one", &ca1, false);
  KeyAndCert client2 = make_cert("client-two", &ca2, false);
  std::string ca1_file, ca2_file;
  std::pair<std::string, std::string> server1_files, server2_files, client1_files, client2_files;

  Pki() {
    ca1_file = dir.file("ca1.crt");
    write_file(ca1_file, ca1.cert_pem());
    ca2_file = dir.file("ca2.crt");
    write_file(ca2_file, ca2.cert_pem());
    server1_files = server1.write(dir, "server1");
    server2_files = server2.write(dir, "server2");
    client1_files = client1.write(dir, "client1");
    client2_files = client2.write(dir, "client2");
  }
};

// --- raw socket client -----------------------------------------------------------------------

// A blocking TCP client to 127.0.0.1. Every receive has a 20 s guard (SO_RCVTIMEO) so a broken
// server fails the test instead of hanging it; no assertion depends on time.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error(std::string("connect failed: ") + std::strerror(err));
    }
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // True if all bytes were written (false once the server has closed and reset).
  bool send(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

  struct Response {
    int status = 0;
    std::string status_line;
    std::map<std::string, std::string> headers;  // lowercased names
    std::string body;
    std::string raw_head;
  };

  // Reads one response (Content-Length framed, or to EOF without it). nullopt on EOF/error
  // before a complete head.
  std::optional<Response> read_response(bool head_request = false) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    Response r;
    r.raw_head = buffer_.substr(0, end + 4);
    buffer_.erase(0, end + 4);
    std::size_t line_end = r.raw_head.find("\r\n");
    r.status_line = r.raw_head.substr(0, line_end);
    if (r.status_line.size() >= 12) r.status = std::atoi(r.status_line.c_str() + 9);
    std::size_t pos = line_end + 2;
    while (pos < r.raw_head.size() - 2) {
      std::size_t e = r.raw_head.find("\r\n", pos);
      std::string line = r.raw_head.substr(pos, e - pos);
      std::size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = e + 2;
    }
    if (r.status / 100 == 1 || head_request) return r;
    auto cl = r.headers.find("content-length");
    if (cl != r.headers.end()) {
      std::size_t len = std::stoul(cl->second);
      while (buffer_.size() < len) {
        if (!fill()) return std::nullopt;
      }
      r.body = buffer_.substr(0, len);
      buffer_.erase(0, len);
    } else {
      while (fill()) {
      }
      r.body = std::move(buffer_);
      buffer_.clear();
    }
    return r;
  }

  // True when the server has closed the connection (EOF or reset) and nothing else arrived.
  bool closed_by_peer() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n == 0) return true;
    if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) return true;
    if (n > 0) buffer_.push_back(c);
    return false;
  }

  int fd() const { return fd_; }

 private:
  bool fill() {
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
};

// --- libcurl ---------------------------------------------------------------------------------

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

struct CurlResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string headers;  // raw header block(s)
  std::string error;
};

struct CurlOptions {
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

inline std::size_t curl_append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

inline CurlResult curl_request(const std::string& url, const CurlOptions& options = {}) {
  static CurlGlobal global;
  CurlResult result;
  CURL* curl = curl_easy_init();
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, curl_append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, curl_append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, options.method.c_str());
  if (options.method == "POST" || !options.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, options.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(options.body.size()));
  }
  if (options.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_slist* list = nullptr;
  for (const auto& h : options.headers) list = curl_slist_append(list, h.c_str());
  if (list) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (!options.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, options.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, options.key_file.c_str());
  }
  result.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  result.error = error;
  if (list) curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return result;
}

}  // namespace vouch::net::testing
