// bench_verifier: the repositories, the policy and the load of the verifier decision benchmark
// (bench/bench_verifier.sh starts the servers and vouch-verifier and runs this).
//
//   bench_verifier publish --ca FILE --targets N --policy-out FILE
//                          --trust NAME=URL=PREFIX [--trust ...]
//                          --repos NAME:PATH:COUNT [--repos ...]
//
//     For each --repos, COUNT repositories PREFIX/PATH-0000, PREFIX/PATH-0001, ... (PREFIX of
//     the trust server NAME) are made and published to that server over Notary's HTTP API, as
//     `docker trust sign` lays them out: root (an ecdsa-x509 certificate with CN = GUN),
//     targets holding only the delegation targets/releases (all paths), targets/releases with
//     N targets v0000, v0001, ... signed by the key of team member "ci", and snapshot; the
//     server's timestamp key (GET .../timestamp.key) is the root's timestamp key. Each
//     repository has its own root, targets and snapshot keys; the "ci" key is the same for all.
//     Every served targets/releases.json is read back and compared with what was sent.
//     The policy written to --policy-out: team "release" (members ci and alice, alice's key
//     signs nothing); one trust section per server and first component of a --repos PATH
//     (prefix PREFIX/warm for PATH warm/app: the server, --ca as its TLS CA, and the root key
//     IDs of the repositories published under it pinned), so that each section pins only its
//     own set; and one rule per server, "PREFIX/**", requiring any-of [release] in role
//     targets/releases. Private keys live in this process only; nothing secret is written or
//     printed.
//
//   bench_verifier load --url https://HOST:PORT --ca FILE --kind pod|verify --images FILE
//                       (--once [--gap-ms MS] | --connections C --seconds S [--warmup S])
//                       [--pid PID]
//
//     Each line of --images is one request: for kind pod, the images (space-separated) of one
//     Pod, sent as an AdmissionReview v1 CREATE to POST /validate (a fresh uid per request);
//     for kind verify, one image, sent to POST /v1/verify. Every answer must be HTTP 200 with
//     "allowed":true, else it counts as an error. Requests go over keep-alive HTTPS
//     connections (TLS verified against --ca), opened before the clock starts.
//       --once         every line once, in order, one at a time on one connection, --gap-ms
//                      (default 20) apart so that the verifier is idle between requests. Per
//                      request: its latency, and the verifier's CPU time from the start of the
//                      request to the start of the next one (the sum over its threads of
//                      /proc/PID/task/*/schedstat, nanoseconds: a request is shorter than a
//                      clock tick).
//       --connections  C connections, one thread each, each sending its next request as soon
//                      as the previous answer is in (closed loop), cycling through the lines
//                      (thread k starts at line k), for S seconds after --warmup seconds
//                      (default 0) of the same load that is not recorded. The verifier's CPU
//                      time over the recorded part is utime + stime from /proc/PID/stat.
//     Prints one JSON line: requests, errors, first_error, seconds, rps, p50_us, p90_us,
//     p99_us, max_us, mean_us, cpu_us_per_req (with --pid); with --once also latency_us and
//     cpu_us, per request in line order. Percentiles are nearest-rank. Exit status 0 when it
//     ran (check "errors"), 1 on a usage or setup error. Nothing here judges a timing.

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "client/http.h"
#include "client/remote.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "keys/private_key.h"
#include "tests/support/repo_simulator.h"
#include "tuf/json.h"
#include "tuf/metadata.h"

namespace fs = std::filesystem;
namespace bj = boost::json;
using namespace vouch;
using Steady = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "bench_verifier: %s\n", message.c_str());
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r.ok()) die(what + ": " + r.error().message);
  return std::move(r).value();
}

void must(const Status& s, const std::string& what) {
  if (!s.ok()) die(what + ": " + s.error().message);
}

// The whole of a small file (a /proc entry, a PEM bundle, a request list); false if it cannot
// be read. Plain read(2): /proc files report no size.
bool slurp(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[65536];
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return n == 0;
}

std::string read_text(const fs::path& p) {
  std::string text;
  if (!slurp(p.string(), text)) die("cannot read " + p.string());
  return text;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

long to_long(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || v < 0) die(what + ": not a number: " + text);
  return v;
}

// A PEM "PUBLIC KEY" block of `key`, as `docker trust key generate` writes NAME.pub.
std::string public_pem(const keys::PublicKey& key) {
  const std::string b64 = base64_encode(key.spki_der());
  std::string out = "-----BEGIN PUBLIC KEY-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END PUBLIC KEY-----\n";
}

// ------------------------------------------------------------------------------- publish

struct TrustServer {
  std::string name, url, prefix;
  // Trust section prefix (PREFIX/<first component of a --repos PATH>) -> the root key IDs of
  // the repositories published under it.
  std::map<std::string, std::vector<std::string>> root_key_ids;
};

struct RepoSet {
  std::string server, path;
  long count = 0;
};

constexpr const char* kRole = "targets/releases";

// One repository: made, published to `remote`, and read back. Returns the root key ID.
std::string publish_one(const std::string& gun, long targets, const keys::SecretBytes& member_der,
                        const keys::PublicKey& member, client::HttpClient& http,
                        const std::string& url) {
  auto remote = must(client::NotaryRemote::create(url, gun, http), gun);
  const keys::PublicKey ts_key = must(remote.get_key("timestamp"), gun + ": GET timestamp.key");

  testing::RepoSimulator sim(gun, SystemClock::instance().now());
  sim.signer.add_key(must(keys::PrivateKey::from_der(member_der.span()), "member key"));
  sim.use_timestamp_key(ts_key);
  sim.targets.delegations.keys.emplace(member.id(), member);
  sim.targets.delegations.roles.push_back({kRole, {member.id()}, 1, {""}});
  tuf::Targets releases;
  releases.expires = sim.targets.expires;
  for (long i = 0; i < targets; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "v%04ld", i);
    releases.targets[name] =
        tuf::FileMeta::of(as_bytes(std::string("manifest of ") + gun + ":" + name));
  }
  sim.delegated[kRole] = std::move(releases);
  sim.publish();

  std::vector<client::MetadataUpload> files;
  for (const char* role : {"root", "targets", kRole, "snapshot"}) {
    files.push_back({role, sim.files.at(role)});
  }
  must(remote.publish(files), gun + ": publish");
  const std::string served =
      must(remote.fetch(kRole, std::nullopt, 64u << 20), gun + ": GET targets/releases.json");
  if (served != sim.files.at(kRole)) die(gun + ": the server does not serve what it was given");
  return sim.root_key.id();
}

int cmd_publish(int argc, char** argv) {
  std::string ca, policy_out;
  long targets = -1;
  std::vector<TrustServer> servers;
  std::vector<RepoSet> sets;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die(a + " needs a value (see the comment at the top of the source)");
    const std::string v = argv[++i];
    if (a == "--ca") {
      ca = v;
    } else if (a == "--policy-out") {
      policy_out = v;
    } else if (a == "--targets") {
      targets = to_long(v, a);
    } else if (a == "--trust") {
      const auto parts = split(v, '=');
      if (parts.size() != 3) die("--trust NAME=URL=PREFIX");
      servers.push_back({parts[0], parts[1], parts[2], {}});
    } else if (a == "--repos") {
      const auto parts = split(v, ':');
      if (parts.size() != 3) die("--repos NAME:PATH:COUNT");
      sets.push_back({parts[0], parts[1], to_long(parts[2], a)});
    } else {
      die("unknown option " + a);
    }
  }
  if (ca.empty() || policy_out.empty() || targets < 1 || servers.empty() || sets.empty()) {
    die("usage: publish --ca FILE --targets N --policy-out FILE --trust NAME=URL=PREFIX... "
        "--repos NAME:PATH:COUNT...");
  }
  for (const auto& s : sets) {
    if (std::none_of(servers.begin(), servers.end(),
                     [&](const TrustServer& t) { return t.name == s.server; })) {
      die("--repos names an unknown server: " + s.server);
    }
  }

  auto member_key = must(keys::PrivateKey::generate(keys::KeyType::kEcdsa), "member key");
  const keys::PublicKey member = member_key.public_key();
  const keys::SecretBytes member_der = member_key.to_pkcs8_der();
  auto alice_key = must(keys::PrivateKey::generate(keys::KeyType::kEcdsa), "alice's key");

  // One thread per trust server, each with its own HTTP client (not thread-safe).
  std::vector<std::thread> threads;
  std::mutex out_mu;
  for (TrustServer& server : servers) {
    threads.emplace_back([&, srv = &server] {
      client::HttpOptions options;
      options.ca_file = ca;
      auto http = must(client::HttpClient::create(options), "HTTP client");
      const auto t0 = Steady::now();
      long n = 0;
      for (const RepoSet& set : sets) {
        if (set.server != srv->name) continue;
        for (long i = 0; i < set.count; ++i, ++n) {
          char suffix[32];
          std::snprintf(suffix, sizeof suffix, "-%04ld", i);
          const std::string gun = srv->prefix + "/" + set.path + suffix;
          const std::string section = srv->prefix + "/" + set.path.substr(0, set.path.find('/'));
          srv->root_key_ids[section].push_back(
              publish_one(gun, targets, member_der, member, http, srv->url));
        }
      }
      const double secs = std::chrono::duration<double>(Steady::now() - t0).count();
      std::lock_guard<std::mutex> lock(out_mu);
      std::fprintf(stderr, "bench_verifier: published %ld repositories of %ld targets to %s in %.1f s\n",
                   n, targets, srv->name.c_str(), secs);
    });
  }
  for (auto& t : threads) t.join();

  const std::string ca_pem = read_text(ca);
  bj::object policy;
  policy["version"] = 1;
  policy["unmatched"] = "deny";
  bj::array members;
  members.push_back(bj::object{{"name", "ci"}, {"keys", bj::array{bj::value(public_pem(member))}}});
  members.push_back(bj::object{
      {"name", "alice"}, {"keys", bj::array{bj::value(public_pem(alice_key.public_key()))}}});
  policy["teams"] = bj::object{{"release", bj::object{{"members", std::move(members)}}}};
  bj::array trust, rules;
  for (const TrustServer& s : servers) {
    for (const auto& [prefix, key_ids] : s.root_key_ids) {
      bj::array ids;
      for (const auto& id : key_ids) ids.push_back(bj::value(id));
      trust.push_back(bj::object{{"prefix", prefix}, {"server", s.url}, {"tls_ca", ca_pem},
                                 {"root_keys", std::move(ids)}});
    }
    rules.push_back(bj::object{
        {"name", s.name},
        {"pattern", s.prefix + "/**"},
        {"require", bj::object{{"any-of", bj::array{"release"}}, {"roles", bj::array{kRole}}}}});
  }
  policy["trust"] = std::move(trust);
  policy["rules"] = std::move(rules);
  std::ofstream out(policy_out, std::ios::binary | std::ios::trunc);
  out << bj::serialize(policy) << "\n";
  out.close();
  if (!out) die("cannot write " + policy_out);
  return 0;
}

// ------------------------------------------------------------------------------- load

struct Url {
  std::string host, port;
};

Url parse_url(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) die("--url must be https://HOST:PORT");
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find('/') != std::string::npos) {
    die("--url must be https://HOST:PORT");
  }
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

std::string json_escape(const std::string& s) {
  return bj::serialize(bj::value(s));  // a JSON string literal, quotes included
}

// One request line, split around the uid so that each request gets its own.
struct RequestTemplate {
  std::string head;  // up to the uid (or the whole request when there is none)
  std::string tail;
  bool has_uid = false;
};

RequestTemplate make_template(const std::string& kind, const std::vector<std::string>& images,
                              const Url& url) {
  std::string path, body_head, body_tail;
  bool has_uid = false;
  if (kind == "verify") {
    if (images.size() != 1) die("kind verify takes one image per line");
    path = "/v1/verify";
    body_head = "{\"image\":" + json_escape(images[0]) + ",\"namespace\":\"bench\"}";
  } else {
    path = "/validate";
    has_uid = true;
    std::string containers;
    for (std::size_t i = 0; i < images.size(); ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "c%02zu", i);
      if (i > 0) containers += ",";
      containers += std::string("{\"name\":\"") + name + "\",\"image\":" + json_escape(images[i]) +
                    ",\"imagePullPolicy\":\"IfNotPresent\",\"ports\":[{\"containerPort\":8080,"
                    "\"protocol\":\"TCP\"}],\"resources\":{\"limits\":{\"cpu\":\"500m\","
                    "\"memory\":\"256Mi\"}},\"terminationMessagePath\":\"/dev/termination-log\","
                    "\"terminationMessagePolicy\":\"File\"}";
    }
    body_head =
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
        "\"uid\":\"";
    body_tail =
        "\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
        "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
        "\"requestKind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
        "\"name\":\"bench\",\"namespace\":\"bench\",\"operation\":\"CREATE\","
        "\"userInfo\":{\"username\":\"system:serviceaccount:kube-system:replicaset-controller\","
        "\"groups\":[\"system:serviceaccounts\",\"system:authenticated\"]},"
        "\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"bench\","
        "\"namespace\":\"bench\",\"labels\":{\"app\":\"bench\"}},\"spec\":{\"containers\":[" +
        containers +
        "],\"restartPolicy\":\"Always\",\"serviceAccountName\":\"default\"}},"
        "\"dryRun\":false,\"options\":{\"apiVersion\":\"meta.k8s.io/v1\",\"kind\":"
        "\"CreateOptions\"}}}";
  }
  const std::string head = "POST " + path + " HTTP/1.1\r\nHost: " + url.host + ":" + url.port +
                           "\r\nContent-Type: application/json\r\nContent-Length: ";
  RequestTemplate t;
  t.has_uid = has_uid;
  if (!has_uid) {
    t.head = head + std::to_string(body_head.size()) + "\r\n\r\n" + body_head;
  } else {
    // The uid has a fixed width (16 hex digits), so the length is known in advance.
    t.head = head + std::to_string(body_head.size() + 16 + body_tail.size()) + "\r\n\r\n" +
             body_head;
    t.tail = body_tail;
  }
  return t;
}

std::string build_request(const RequestTemplate& t, std::uint64_t uid) {
  if (!t.has_uid) return t.head;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(uid));
  std::string r;
  r.reserve(t.head.size() + 16 + t.tail.size());
  r += t.head;
  r += hex;
  r += t.tail;
  return r;
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

std::string ssl_error() {
  char buf[256];
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  return buf;
}

// One keep-alive HTTPS/1.1 connection with blocking I/O; answers must carry Content-Length.
class Connection {
 public:
  Connection(SSL_CTX* ctx, const Url& url) : ctx_(ctx), url_(url) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool open(std::string& err) {
    close();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &res) != 0 || res == nullptr) {
      err = "cannot resolve " + url_.host;
      return false;
    }
    fd_ = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    const bool connected = fd_ >= 0 && ::connect(fd_, res->ai_addr, res->ai_addrlen) == 0;
    freeaddrinfo(res);
    if (!connected) {
      err = "connect: " + std::string(std::strerror(errno));
      close();
      return false;
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl_.reset(SSL_new(ctx_));
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
    if (X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str()) != 1) {
      SSL_set1_host(ssl_.get(), url_.host.c_str());
      // SSL_set_tlsext_host_name without its macro's C cast.
      SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url_.host.c_str()));
    }
    SSL_set_fd(ssl_.get(), fd_);
    if (SSL_connect(ssl_.get()) != 1) {
      err = "TLS handshake: " + ssl_error();
      close();
      return false;
    }
    return true;
  }

  bool is_open() const { return ssl_ != nullptr; }

  void close() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends `request` and reads one answer; status and body out. False on an I/O or protocol
  // error (the connection is closed then).
  bool roundtrip(const std::string& request, unsigned& status, std::string& body,
                 std::string& err) {
    if (!is_open() && !open(err)) return false;
    if (SSL_write(ssl_.get(), request.data(), static_cast<int>(request.size())) <= 0) {
      err = "write: " + ssl_error();
      close();
      return false;
    }
    buf_.clear();
    std::size_t header_end = std::string::npos;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!read_some(err)) return false;
    }
    const std::string head = buf_.substr(0, header_end + 2);
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) {
      err = "not an HTTP answer";
      close();
      return false;
    }
    status = static_cast<unsigned>(std::atoi(head.c_str() + 9));
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto cl = lower.find("\r\ncontent-length:");
    if (cl == std::string::npos) {
      err = "answer without Content-Length";
      close();
      return false;
    }
    const std::size_t length = std::strtoul(lower.c_str() + cl + 17, nullptr, 10);
    const bool close_after = lower.find("\r\nconnection: close") != std::string::npos;
    while (buf_.size() < header_end + 4 + length) {
      if (!read_some(err)) return false;
    }
    body.assign(buf_, header_end + 4, length);
    if (close_after) close();
    return true;
  }

 private:
  bool read_some(std::string& err) {
    char chunk[16384];
    const int n = SSL_read(ssl_.get(), chunk, sizeof chunk);
    if (n <= 0) {
      err = "read: connection closed or " + ssl_error();
      close();
      return false;
    }
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  SSL_CTX* ctx_;
  Url url_;
  int fd_ = -1;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string buf_;
};

// utime + stime of a process (all threads, exited ones included), in seconds.
double proc_cpu_seconds(long pid) {
  std::string text;
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const auto paren = slurp(path, text) ? text.rfind(')') : std::string::npos;
  if (paren == std::string::npos) die("cannot read " + path);
  // The fields after the command name: state (field 3) ... utime (14), stime (15).
  const auto fields = split(text.substr(paren + 2), ' ');
  if (fields.size() < 13) die("unexpected " + path);
  const double ticks = std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Time on CPU of every live thread of a process, in seconds (scheduler nanoseconds).
double proc_cpu_seconds_precise(long pid) {
  double total = 0;
  std::error_code ec;
  std::string text;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    if (slurp((task.path() / "schedstat").string(), text)) {
      total += static_cast<double>(std::strtoull(text.c_str(), nullptr, 10)) / 1e9;
    }
  }
  return total;
}

bool answer_ok(unsigned status, const std::string& body) {
  return status == 200 && body.find("\"allowed\":true") != std::string::npos;
}

struct Stats {
  std::vector<double> lat_us;
  std::uint64_t errors = 0;
  std::string first_error;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

int cmd_load(int argc, char** argv) {
  std::string url_text, ca, kind = "pod", images_file;
  bool once = false;
  long connections = 0, gap_ms = 20, pid = 0;
  double seconds = 0, warmup = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--once") {
      once = true;
      continue;
    }
    if (i + 1 >= argc) die(a + " needs a value (see the comment at the top of the source)");
    const std::string v = argv[++i];
    if (a == "--url") {
      url_text = v;
    } else if (a == "--ca") {
      ca = v;
    } else if (a == "--kind") {
      kind = v;
    } else if (a == "--images") {
      images_file = v;
    } else if (a == "--connections") {
      connections = to_long(v, a);
    } else if (a == "--seconds") {
      seconds = std::strtod(v.c_str(), nullptr);
    } else if (a == "--warmup") {
      warmup = std::strtod(v.c_str(), nullptr);
    } else if (a == "--gap-ms") {
      gap_ms = to_long(v, a);
    } else if (a == "--pid") {
      pid = to_long(v, a);
    } else {
      die("unknown option " + a);
    }
  }
  if (url_text.empty() || ca.empty() || images_file.empty() || (kind != "pod" && kind != "verify") ||
      (!once && (connections < 1 || seconds <= 0))) {
    die("usage: load --url https://HOST:PORT --ca FILE --kind pod|verify --images FILE "
        "(--once | --connections C --seconds S) [--pid PID]");
  }
  const Url url = parse_url(url_text);
  std::vector<RequestTemplate> templates;
  for (const std::string& line : split(read_text(images_file), '\n')) {
    std::vector<std::string> images;
    for (std::string& w : split(line, ' ')) {
      if (!w.empty()) images.push_back(std::move(w));
    }
    if (!images.empty()) templates.push_back(make_template(kind, images, url));
  }
  if (templates.empty()) die(images_file + ": no requests");

  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1) {
    die("TLS context with " + ca + ": " + ssl_error());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);

  bj::object out;
  Stats total;
  double elapsed = 0, cpu = 0;
  if (once) {
    Connection conn(ctx.get(), url);
    std::string err;
    if (!conn.open(err)) die(err);
    bj::array lat, cpus;
    std::uint64_t uid = 1;
    std::string body;
    const auto t_start = Steady::now();
    double cpu_prev = pid > 0 ? proc_cpu_seconds_precise(pid) : 0;
    const double stat0 = pid > 0 ? proc_cpu_seconds(pid) : 0;
    for (std::size_t i = 0; i < templates.size(); ++i) {
      const std::string request = build_request(templates[i], uid++);
      unsigned status = 0;
      const auto t0 = Steady::now();
      const bool io_ok = conn.roundtrip(request, status, body, err);
      const auto t1 = Steady::now();
      const double us = std::chrono::duration<double, std::micro>(t1 - t0).count();
      if (!io_ok || !answer_ok(status, body)) {
        ++total.errors;
        if (total.first_error.empty()) {
          total.first_error = io_ok ? "HTTP " + std::to_string(status) + ": " + body.substr(0, 400)
                                    : err;
        }
      }
      total.lat_us.push_back(us);
      lat.push_back(us);
      // The request's CPU: from its start to the start of the next, after an idle gap.
      std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
      if (pid > 0) {
        const double now_cpu = proc_cpu_seconds_precise(pid);
        cpus.push_back((now_cpu - cpu_prev) * 1e6);
        cpu_prev = now_cpu;
      }
    }
    elapsed = std::chrono::duration<double>(Steady::now() - t_start).count();
    if (pid > 0) {
      out["cpu_us"] = std::move(cpus);
      out["cpu_stat_total_us"] = (proc_cpu_seconds(pid) - stat0) * 1e6;
    }
    out["latency_us"] = std::move(lat);
  } else {
    const auto n = static_cast<std::size_t>(connections);
    std::vector<std::unique_ptr<Connection>> conns;
    for (std::size_t k = 0; k < n; ++k) {
      conns.push_back(std::make_unique<Connection>(ctx.get(), url));
      std::string err;
      if (!conns.back()->open(err)) die(err);
    }
    std::vector<Stats> stats(n);
    std::atomic<std::uint64_t> next_uid{1};
    auto run_phase = [&](double secs, bool record) {
      const auto end = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                          std::chrono::duration<double>(secs));
      std::vector<std::thread> threads;
      for (std::size_t k = 0; k < n; ++k) {
        threads.emplace_back([&, k] {
          Connection& conn = *conns[k];
          Stats& st = stats[k];
          std::string body, err;
          std::size_t line = k % templates.size();
          while (Steady::now() < end) {
            const std::string request = build_request(templates[line], next_uid++);
            line = (line + 1) % templates.size();
            unsigned status = 0;
            const auto t0 = Steady::now();
            const bool io_ok = conn.roundtrip(request, status, body, err);
            const auto t1 = Steady::now();
            if (!record) continue;
            if (!io_ok || !answer_ok(status, body)) {
              ++st.errors;
              if (st.first_error.empty()) {
                st.first_error = io_ok ? "HTTP " + std::to_string(status) + ": " +
                                             body.substr(0, 400)
                                       : err;
              }
            }
            st.lat_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
          }
        });
      }
      for (auto& t : threads) t.join();
    };
    if (warmup > 0) run_phase(warmup, false);
    const double cpu0 = pid > 0 ? proc_cpu_seconds(pid) : 0;
    const auto t_start = Steady::now();
    run_phase(seconds, true);
    elapsed = std::chrono::duration<double>(Steady::now() - t_start).count();
    if (pid > 0) cpu = proc_cpu_seconds(pid) - cpu0;
    for (auto& st : stats) {
      total.lat_us.insert(total.lat_us.end(), st.lat_us.begin(), st.lat_us.end());
      total.errors += st.errors;
      if (total.first_error.empty()) total.first_error = st.first_error;
    }
  }

  std::vector<double> sorted = total.lat_us;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : sorted) sum += v;
  const auto count = static_cast<double>(sorted.size());
  out["requests"] = sorted.size();
  out["errors"] = total.errors;
  out["first_error"] = total.first_error;
  out["seconds"] = elapsed;
  out["rps"] = elapsed > 0 ? count / elapsed : 0.0;
  out["p50_us"] = percentile(sorted, 50);
  out["p90_us"] = percentile(sorted, 90);
  out["p99_us"] = percentile(sorted, 99);
  out["max_us"] = sorted.empty() ? 0.0 : sorted.back();
  out["mean_us"] = sorted.empty() ? 0.0 : sum / count;
  if (!once && pid > 0) out["cpu_us_per_req"] = sorted.empty() ? 0.0 : cpu * 1e6 / count;
  std::printf("%s\n", bj::serialize(out).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "publish") return cmd_publish(argc, argv);
  if (cmd == "load") return cmd_load(argc, argv);
  die("usage: bench_verifier publish|load ... (see the comment at the top of the source)");
}
