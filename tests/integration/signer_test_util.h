#pragma once

// Helpers for the signer's integration and interop tests (and bench/bench_signer.cc):
// a throwaway PKI made with OpenSSL's API, temporary directories, child processes started
// and stopped by their own PID, free loopback ports and a tiny HTTP/1.0 GET.
// Header-only; link OpenSSL::Crypto. Failures abort the test with a message (these are
// fixtures: a broken fixture is not a result).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vouch::signer_test {

namespace fs = std::filesystem;

[[noreturn]] inline void fixture_failure(const std::string& what) {
  std::fprintf(stderr, "signer test fixture: %s\n", what.c_str());
  std::abort();
}

// ---- files and directories ------------------------------------------------------------

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "vouch-signer-test") {
    std::string tmpl = (fs::temp_directory_path() / (prefix + ".XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) fixture_failure("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline void write_file(const std::string& path, const std::string& content, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) fixture_failure("cannot write " + path);
  }
  ::chmod(path.c_str(), mode);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- PKI --------------------------------------------------------------------------------

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

inline KeyPtr new_p256_key() {
  KeyPtr k(EVP_EC_gen("P-256"));
  if (!k) fixture_failure("EVP_EC_gen failed");
  return k;
}

inline std::string key_pem(EVP_PKEY* k) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return out;
}

inline std::string cert_pem(X509* c) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, c);
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(b);
  return out;
}

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) fixture_failure(std::string("bad extension ") + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

struct Issued {
  std::string cert_pem;
  std::string key_pem;
};

// A CA and the certificates it issues, valid from an hour ago for two days.
class Pki {
 public:
  explicit Pki(const std::string& cn = "vouch signer test CA") : key_(new_p256_key()) {
    cert_.reset(X509_new());
    X509_set_version(cert_.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_.get()), next_serial_++);
    set_validity(cert_.get());
    X509_NAME* name = X509_get_subject_name(cert_.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert_.get(), name);
    X509_set_pubkey(cert_.get(), key_.get());
    add_ext(cert_.get(), cert_.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert_.get(), cert_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert_.get(), cert_.get(), NID_subject_key_identifier, "hash");
    if (X509_sign(cert_.get(), key_.get(), EVP_sha256()) == 0) fixture_failure("CA sign failed");
  }

  std::string ca_pem() const { return cert_pem(cert_.get()); }

  // server: EKU serverAuth with SANs IP:127.0.0.1, DNS:localhost; client: EKU clientAuth.
  Issued issue(const std::string& cn, bool server) {
    KeyPtr key = new_p256_key();
    CertPtr cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), next_serial_++);
    set_validity(cert.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    X509_set_pubkey(cert.get(), key.get());
    add_ext(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(cert.get(), cert_.get(), NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
    add_ext(cert.get(), cert_.get(), NID_subject_alt_name,
            server ? "IP:127.0.0.1,DNS:localhost" : ("DNS:" + cn).c_str());
    add_ext(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid:always");
    if (X509_sign(cert.get(), key_.get(), EVP_sha256()) == 0) fixture_failure("sign failed");
    return {cert_pem(cert.get()), key_pem(key.get())};
  }

 private:
  static void set_validity(X509* c) {
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 2 * 24 * 3600);
  }
  KeyPtr key_;
  CertPtr cert_;
  long next_serial_ = 1;
};

// Writes <dir>/<name>.pem and <dir>/<name>.key; returns the two paths.
inline std::pair<std::string, std::string> write_issued(const TempDir& dir, const std::string& name,
                                                        const Issued& issued) {
  const std::string cert = dir / (name + ".pem");
  const std::string key = dir / (name + ".key");
  write_file(cert, issued.cert_pem, 0644);
  write_file(key, issued.key_pem, 0600);
  return {cert, key};
}

// ---- ports and HTTP ---------------------------------------------------------------------

// A port that was free on 127.0.0.1 a moment ago (for programs that cannot be given port 0).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fixture_failure("bind failed");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool tcp_connectable(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// Plain HTTP/1.0 GET on 127.0.0.1; returns the whole response (status line, headers, body),
// or "" if the connection fails.
inline std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// HTTPS/1.0 GET on 127.0.0.1 verifying the server against `ca_pem`; the whole response, or
// "" if the connection or handshake fails.
inline std::string https_get(int port, const std::string& path, const std::string& ca_pem) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BIO* cab = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  X509* ca = PEM_read_bio_X509(cab, nullptr, nullptr, nullptr);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  BIO_free(cab);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  BIO* bio = BIO_new_ssl_connect(ctx);
  BIO_set_conn_hostname(bio, addr.c_str());
  SSL* ssl = nullptr;
  BIO_get_ssl(bio, &ssl);
  SSL_set1_host(ssl, "127.0.0.1");
  std::string out;
  if (BIO_do_connect(bio) == 1 && BIO_do_handshake(bio) == 1) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    BIO_write(bio, req.data(), static_cast<int>(req.size()));
    char buf[4096];
    int n = 0;
    while ((n = BIO_read(bio, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  }
  BIO_free_all(bio);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

// ---- child processes --------------------------------------------------------------------

// A child process started with posix_spawn, stdout and stderr to files, stdin from
// /dev/null. The destructor sends SIGKILL to this PID (never by name) and reaps it.
class Process {
 public:
  // `env` entries "NAME=value" replace or extend the parent's environment; names listed in
  // `unset` are removed.
  Process(const std::string& program, const std::vector<std::string>& args,
          const std::map<std::string, std::string>& env, const std::string& out_file,
          const std::string& err_file, const std::vector<std::string>& unset = {})
      : out_file_(out_file), err_file_(err_file) {
    std::map<std::string, std::string> merged;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv(*e);
      const auto eq = kv.find('=');
      if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& u : unset) merged.erase(u);
    for (const auto& [k, v] : env) merged[k] = v;
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : merged) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings;
    argv_strings.push_back(program);
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // The child gets default signal dispositions and an empty mask, whatever ours are.
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const int rc = ::posix_spawn(&pid_, program.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) fixture_failure("cannot start " + program + ": " + std::strerror(rc));
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    poll();
    return !exited_;
  }
  void signal(int sig) {
    if (!exited_) ::kill(pid_, sig);
  }
  // Waits up to `limit` for the process to exit; returns its exit status (128+signal if
  // killed), or nullopt if it is still running.
  std::optional<int> wait(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (true) {
      poll();
      if (exited_) return status_;
      if (std::chrono::steady_clock::now() >= end) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string out() const { return read_file(out_file_); }
  std::string err() const { return read_file(err_file_); }

 private:
  void poll() {
    if (exited_) return;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
  }
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
  std::string out_file_, err_file_;
};

// Runs a program to completion (up to `limit`) and returns {exit status, stdout+stderr}.
inline std::pair<int, std::string> run(const std::string& program,
                                       const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env,
                                       const TempDir& dir,
                                       std::chrono::milliseconds limit = std::chrono::minutes(2)) {
  static int counter = 0;
  const std::string base = dir / ("run-" + std::to_string(++counter));
  Process p(program, args, env, base + ".out", base + ".err");
  auto st = p.wait(limit);
  if (!st) {
    p.signal(SIGKILL);
    p.wait(std::chrono::seconds(10));
    return {-1, p.out() + p.err() + "\n(timed out)"};
  }
  return {*st, p.out() + p.err()};
}

// Polls `pred` every 50 ms until true or `limit` passes.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return pred();
}

// ---- a vouch-signer child process ---------------------------------------------------------

struct SignerPorts {
  int grpc = 0;
  int http = 0;
};

// Reads the daemon's --ready-file ({"grpc_port":N,"http_port":M,"pid":P}).
inline std::optional<SignerPorts> read_ready_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  const std::string s = read_file(path);
  auto field = [&](const std::string& name) -> int {
    const auto at = s.find("\"" + name + "\":");
    if (at == std::string::npos) return -1;
    return std::atoi(s.c_str() + at + name.size() + 3);
  };
  SignerPorts p{field("grpc_port"), field("http_port")};
  if (p.grpc <= 0) return std::nullopt;
  return p;
}

}  // namespace vouch::signer_test
