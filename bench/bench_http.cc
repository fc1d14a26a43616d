// HttpServer throughput and server CPU per request: a GET of a cached ~1 KB body (a timestamp
// served from the read cache, DESIGN "Read"), keep-alive, on loopback.
//
//   bench_http [--seconds N] [--connections N] [--io-threads N] [--body BYTES] [--tls]
//              [--client wrk|builtin]
//
// The server runs in this process; the load generator runs in a child process (wrk when it is
// on PATH, else a small built-in keep-alive client, plain HTTP only), so getrusage(SELF) is the
// server's CPU alone. Prints requests/s and µs of server CPU (user+sys) per request; the CPU
// figure is the one to compare (STACK §1b: Beast 16.7 µs plain / 33.4 µs TLS on this box).
// Run by hand; tests never time anything.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/net/http_server.h"

namespace {

struct Args {
  int seconds = 5;
  int connections = 64;
  unsigned io_threads = 2;
  std::size_t body = 1024;
  bool tls = false;
  std::string client = "auto";
};

struct Cpu {
  double user = 0;
  double sys = 0;
};

Cpu cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return {tv(ru.ru_utime), tv(ru.ru_stime)};
}

bool on_path(const char* name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string p = path;
  std::size_t start = 0;
  while (start <= p.size()) {
    std::size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string candidate = p.substr(start, end - start) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

// A self-signed P-256 certificate for 127.0.0.1 in a temp dir.
std::pair<std::string, std::string> make_cert(const std::filesystem::path& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("bench"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_set_pubkey(x, key);
  X509_sign(x, key, EVP_sha256());
  std::string cert = (dir / "bench.crt").string();
  std::string key_file = (dir / "bench.key").string();
  FILE* f = std::fopen(cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return {cert, key_file};
}

// The built-in client: `connections` blocking keep-alive connections, one thread each, for
// `seconds`. Runs in the child process.
[[noreturn]] void builtin_client(std::uint16_t port, const Args& args, const std::string& path) {
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n";
  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < args.connections; ++i) {
    threads.emplace_back([&] {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return;
      std::string buf;
      char chunk[16384];
      while (!stop.load(std::memory_order_relaxed)) {
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) break;
        // Read one response: header, then Content-Length bytes.
        std::size_t need = 0;
        bool ok = true;
        for (;;) {
          std::size_t end = buf.find("\r\n\r\n");
          if (end != std::string::npos && need == 0) {
            std::size_t cl = buf.find("Content-Length: ");
            std::size_t len = cl == std::string::npos ? 0 : std::strtoul(&buf[cl + 16], nullptr, 10);
            need = end + 4 + len;
          }
          if (need != 0 && buf.size() >= need) {
            buf.erase(0, need);
            break;
          }
          ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
          if (n <= 0) {
            ok = false;
            break;
          }
          buf.append(chunk, static_cast<std::size_t>(n));
        }
        if (!ok) break;
        done.fetch_add(1, std::memory_order_relaxed);
      }
      ::close(fd);
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("builtin client: %ld requests\n", done.load());
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--seconds") args.seconds = std::atoi(next().c_str());
    else if (a == "--connections") args.connections = std::atoi(next().c_str());
    else if (a == "--io-threads") args.io_threads = static_cast<unsigned>(std::atoi(next().c_str()));
    else if (a == "--body") args.body = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--tls") args.tls = true;
    else if (a == "--client") args.client = next();
    else {
      std::fprintf(stderr, "usage: %s [--seconds N] [--connections N] [--io-threads N] "
                           "[--body BYTES] [--tls] [--client wrk|builtin]\n", argv[0]);
      return 2;
    }
  }
  if (args.client == "auto") args.client = on_path("wrk") ? "wrk" : "builtin";
  if (args.tls && args.client == "builtin") {
    std::fprintf(stderr, "--tls needs wrk (the built-in client speaks plain HTTP)\n");
    return 2;
  }

  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("vouch-bench-http-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  // The cached bytes: shared, never copied per request.
  auto body = std::make_shared<const std::string>(args.body, 'x');
  vouch::net::HttpServerOptions options;
  options.io_threads = args.io_threads;
  options.max_body_bytes = 0;
  if (args.tls) {
    auto [cert, key] = make_cert(dir);
    options.tls.cert_file = cert;
    options.tls.key_file = key;
  }
  auto server = vouch::net::HttpServer::start(
      options, [body](vouch::net::Request&&, vouch::net::Responder responder) {
        auto r = vouch::net::Response::shared(200, body, "application/json");
        r.headers.add("Cache-Control", "public, max-age=300, s-maxage=300, must-revalidate");
        responder.respond(std::move(r));
      });
  if (!server) {
    std::fprintf(stderr, "start: %s\n", server.error().message.c_str());
    return 1;
  }
  const std::uint16_t port = (*server)->port();
  const std::string path = "/v2/docker.io/library/app/_trust/tuf/timestamp.json";
  const std::string url =
      std::string(args.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port) + path;

  const Cpu cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  pid_t child = ::fork();
  if (child == 0) {
    if (args.client == "wrk") {
      std::string c = "-c" + std::to_string(args.connections);
      std::string d = "-d" + std::to_string(args.seconds) + "s";
      ::execlp("wrk", "wrk", "-t2", c.c_str(), d.c_str(), url.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    builtin_client(port, args, path);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Cpu cpu1 = cpu_seconds();
  const double user = cpu1.user - cpu0.user;
  const double sys = cpu1.sys - cpu0.sys;
  const double cpu = user + sys;
  const auto stats = (*server)->stats();
  (*server)->stop();
  std::filesystem::remove_all(dir);

  const double requests = static_cast<double>(stats.requests);
  std::printf("\nserver: %s, %u io threads, %zu-byte body, client %s, %d connections\n",
              args.tls ? "TLS" : "plain", args.io_threads, args.body, args.client.c_str(),
              args.connections);
  const double per = requests > 0 ? 1e6 / requests : 0.0;
  std::printf("requests %.0f in %.2f s = %.0f req/s; server CPU %.2f s = %.2f us/request "
              "(user %.2f, kernel %.2f)\n",
              requests, wall, requests / wall, cpu, cpu * per, user * per, sys * per);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
