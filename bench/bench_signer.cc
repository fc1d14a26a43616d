// bench_signer: Sign operations per second through gRPC + mutual TLS, for ecdsa (P-256) and
// ed25519, against
//   - the raw signing rate of the library on this machine (keys::PrivateKey::sign, OpenSSL),
//   - vouch-signer (this build), and
//   - the real notary-signer (/usr/bin/notary-signer, memory backend) when it is installed,
// printing a side-by-side table with ratios.
//
// Method: each signer runs as a child process with a throwaway PKI made here. A callback-API
// gRPC client keeps --inflight Sign calls outstanding on one channel for --seconds per run;
// runs alternate between the signers (vouch ecdsa, notary ecdsa, vouch ed25519, ...) for
// --rounds rounds, and the median of each is reported. "server CPU/op" is the signer
// process's user+system CPU time (from /proc) divided by the operations it served; on a
// shared machine it is the steadier figure. Both signers log one line per signature (vouch's
// audit line; notary-signer at level info) so that they do comparable work.
//
// Usage: bench_signer [--seconds 3] [--rounds 3] [--inflight 16] [--content 512]
//                     [--vouch-signer PATH] [--notary-signer PATH|none] [--json PATH]
//
// --json PATH also writes every run (not only the medians) as JSON, for bench/suite.py:
//   {"inflight": N, "seconds": S, "rounds": R, "content": BYTES, "runs": [{"signer": NAME,
//    "algo": "ecdsa"|"ed25519", "round": I, "ops_per_s": X, "server_cpu_us_per_op": Y,
//    "client_cpu_us_per_op": Z, "errors": E}, ...]}

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "keys/private_key.h"
#include "proto/signer.grpc.pb.h"
#include "signer/remote_signer.h"
#include "tests/integration/signer_test_util.h"

using namespace vouch;
using namespace vouch::signer_test;
using keys::KeyType;

namespace {

struct Options {
  double seconds = 3;
  int rounds = 3;
  int inflight = 16;
  std::size_t content = 512;
  std::string vouch_signer = VOUCH_SIGNER_BIN;
  std::string notary_signer = "/usr/bin/notary-signer";
  std::string json;
};

double cpu_seconds_of(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  // Fields after the command name (which is in parentheses and may hold spaces).
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> f;
  std::string cur;
  for (std::size_t i = close + 2; i < stat.size(); ++i) {
    if (stat[i] == ' ') {
      f.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(stat[i]);
    }
  }
  if (f.size() < 13) return 0;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime, stime
}

double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct RunResult {
  double ops_per_s = 0;
  double server_cpu_us_per_op = 0;
  double client_cpu_us_per_op = 0;
  long errors = 0;
};

// Keeps `inflight` Sign calls outstanding for `seconds`.
class Load {
 public:
  Load(::proto::Signer::Stub& stub, std::string key_id, std::string content, int inflight)
      : stub_(stub), inflight_(inflight) {
    req_.mutable_keyid()->set_id(std::move(key_id));
    req_.set_content(std::move(content));
  }

  RunResult run(double seconds, pid_t server_pid) {
    done_ = 0;
    errors_ = 0;
    stop_ = false;
    active_ = inflight_;
    const double server_cpu0 = cpu_seconds_of(server_pid);
    const double client_cpu0 = self_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inflight_; ++i) issue();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop_ = true;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return active_ == 0; });
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double ops = static_cast<double>(done_.load());
    RunResult r;
    r.ops_per_s = ops / elapsed;
    r.server_cpu_us_per_op = ops > 0 ? (cpu_seconds_of(server_pid) - server_cpu0) * 1e6 / ops : 0;
    r.client_cpu_us_per_op = ops > 0 ? (self_cpu_seconds() - client_cpu0) * 1e6 / ops : 0;
    r.errors = errors_.load();
    return r;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    ::proto::Signature resp;
  };
  void issue() {
    auto* call = new Call;
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stub_.async()->Sign(&call->ctx, &req_, &call->resp, [this, call](grpc::Status s) {
      delete call;
      if (s.ok()) {
        ++done_;
      } else if (++errors_ == 1) {
        std::fprintf(stderr, "bench_signer: Sign failed: %d %s\n", static_cast<int>(s.error_code()),
                     s.error_message().c_str());
      }
      if (!stop_.load()) {
        issue();
      } else {
        std::lock_guard lock(mu_);
        if (--active_ == 0) cv_.notify_all();
      }
    });
  }

  ::proto::Signer::Stub& stub_;
  ::proto::SignatureRequest req_;
  int inflight_;
  std::atomic<long> done_{0}, errors_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
};

// One signer under test: its process, a channel with mutual TLS, and a key per algorithm.
struct Target {
  std::string name;
  std::unique_ptr<Process> process;
  int port = 0;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::proto::Signer::Stub> stub;
  std::map<KeyType, std::string> key_ids;
};

void connect(Target& t, const Pki& pki, const Issued& client) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = pki.ca_pem();
  ssl.pem_cert_chain = client.cert_pem;
  ssl.pem_private_key = client.key_pem;
  t.channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(t.port), grpc::SslCredentials(ssl));
  t.stub = ::proto::Signer::NewStub(t.channel);
  signer::RemoteSignerOptions o;
  o.target = "127.0.0.1:" + std::to_string(t.port);
  o.tls_ca_pem = pki.ca_pem();
  o.tls_client_cert_pem = client.cert_pem;
  o.tls_client_key_pem = keys::SecretString(client.key_pem);
  auto remote = std::move(signer::RemoteSigner::create(std::move(o))).value();
  if (!wait_until([&] { return remote->check_health().ok(); }, std::chrono::seconds(60))) {
    fixture_failure(t.name + " is not healthy");
  }
  for (KeyType type : {KeyType::kEcdsa, KeyType::kEd25519}) {
    auto pub = remote->create_key("example.com/bench", "timestamp", type);
    if (!pub) fixture_failure(t.name + ": CreateKey: " + pub.error().message);
    t.key_ids[type] = pub->id();
  }
}

// Raw library rate: keys::PrivateKey::sign in `threads` threads for `seconds`.
RunResult raw_rate(KeyType type, const std::string& content, int threads, double seconds) {
  auto key = std::move(keys::PrivateKey::generate(type)).value();
  std::atomic<bool> stop{false};
  std::atomic<long> ops{0};
  const double cpu0 = self_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) {
    ts.emplace_back([&] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (key.sign(as_bytes(content))) ++n;
      }
      ops += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : ts) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RunResult r;
  r.ops_per_s = static_cast<double>(ops.load()) / elapsed;
  r.server_cpu_us_per_op = (self_cpu_seconds() - cpu0) * 1e6 / static_cast<double>(ops.load());
  return r;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_signer: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seconds")
      opt.seconds = std::stod(next());
    else if (a == "--rounds")
      opt.rounds = std::stoi(next());
    else if (a == "--inflight")
      opt.inflight = std::stoi(next());
    else if (a == "--content")
      opt.content = static_cast<std::size_t>(std::stoul(next()));
    else if (a == "--vouch-signer")
      opt.vouch_signer = next();
    else if (a == "--notary-signer")
      opt.notary_signer = next();
    else if (a == "--json")
      opt.json = next();
    else {
      std::fprintf(
          stderr,
          "usage: bench_signer [--seconds S] [--rounds N] [--inflight N] [--content BYTES]\n"
          "                    [--vouch-signer PATH] [--notary-signer PATH|none] [--json PATH]\n");
      return 2;
    }
  }
  const std::string content(opt.content, 'x');
  TempDir dir("vouch-bench-signer");
  Pki pki;
  write_file(dir / "ca.pem", pki.ca_pem(), 0644);
  auto server = write_issued(dir, "server", pki.issue("signer", true));
  const Issued client = pki.issue("bench-client", false);

  std::vector<Target> targets;
  {
    Target t;
    t.name = "vouch-signer";
    write_file(dir / "vouch.json", R"({
      "server": {"grpc_addr": "127.0.0.1:0", "tls_cert_file": "server.pem",
                 "tls_key_file": "server.key", "client_ca_file": "ca.pem"},
      "storage": {"backend": "rocksdb", "db_path": "vouch.db", "default_alias": "bench"},
      "logging": {"level": "info"}})");
    const std::string ready = dir / "vouch.ready";
    t.process = std::make_unique<Process>(
        opt.vouch_signer,
        std::vector<std::string>{"--config", dir / "vouch.json", "--ready-file", ready},
        std::map<std::string, std::string>{{"VOUCH_SIGNER_BENCH", "bench passphrase"}},
        dir / "vouch.out", dir / "vouch.err");
    if (!wait_until([&] { return read_ready_file(ready).has_value() || !t.process->running(); },
                    std::chrono::seconds(90)) ||
        !read_ready_file(ready)) {
      fixture_failure("vouch-signer did not start:\n" + t.process->err());
    }
    t.port = read_ready_file(ready)->grpc;
    connect(t, pki, client);
    targets.push_back(std::move(t));
  }
  std::error_code ec;
  if (opt.notary_signer != "none" && fs::exists(opt.notary_signer, ec)) {
    Target t;
    t.name = "notary-signer";
    t.port = free_port();
    write_file(dir / "notary.json", R"({
      "server": {"grpc_addr": "127.0.0.1:)" +
                                        std::to_string(t.port) + R"(",
                 "tls_cert_file": ")" + server.first +
                                        R"(",
                 "tls_key_file": ")" + server.second +
                                        R"(",
                 "client_ca_file": ")" + (dir / "ca.pem") +
                                        R"("},
      "storage": {"backend": "memory", "default_alias": "bench"},
      "logging": {"level": "info"}})");
    t.process = std::make_unique<Process>(
        opt.notary_signer,
        std::vector<std::string>{"-config", dir / "notary.json", "-logf", "json"},
        std::map<std::string, std::string>{{"NOTARY_SIGNER_BENCH", "bench passphrase"}},
        dir / "notary.out", dir / "notary.err");
    if (!wait_until([&] { return tcp_connectable(t.port) || !t.process->running(); })) {
      fixture_failure("notary-signer did not start:\n" + t.process->err());
    }
    connect(t, pki, client);
    targets.push_back(std::move(t));
  } else {
    std::printf("notary-signer: not found (%s); comparing with the raw library rate only\n",
                opt.notary_signer.c_str());
  }

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("bench_signer: %d cores, %d in flight, %zu-byte content, %.1f s x %d rounds\n", cores,
              opt.inflight, opt.content, opt.seconds, opt.rounds);

  struct Row {
    std::map<std::string, std::vector<double>> ops, server_cpu, client_cpu;
    std::vector<double> raw1, rawn, raw_cpu;
  };
  std::map<KeyType, Row> rows;
  std::string runs_json;  // the "runs" array of --json
  for (int round = 0; round < opt.rounds; ++round) {
    for (KeyType type : {KeyType::kEcdsa, KeyType::kEd25519}) {
      Row& row = rows[type];
      const RunResult r1 = raw_rate(type, content, 1, opt.seconds / 2);
      const RunResult rn = raw_rate(type, content, cores, opt.seconds / 2);
      row.raw1.push_back(r1.ops_per_s);
      row.rawn.push_back(rn.ops_per_s);
      row.raw_cpu.push_back(r1.server_cpu_us_per_op);
      for (Target& t : targets) {
        Load load(*t.stub, t.key_ids[type], content, opt.inflight);
        const RunResult r = load.run(opt.seconds, t.process->pid());
        if (r.errors > 0) std::printf("  %s: %ld errors\n", t.name.c_str(), r.errors);
        row.ops[t.name].push_back(r.ops_per_s);
        row.server_cpu[t.name].push_back(r.server_cpu_us_per_op);
        row.client_cpu[t.name].push_back(r.client_cpu_us_per_op);
        char entry[320];
        std::snprintf(entry, sizeof entry,
                      "%s\n  {\"signer\": \"%s\", \"algo\": \"%s\", \"round\": %d, "
                      "\"ops_per_s\": %.1f, \"server_cpu_us_per_op\": %.2f, "
                      "\"client_cpu_us_per_op\": %.2f, \"errors\": %ld}",
                      runs_json.empty() ? "" : ",", t.name.c_str(),
                      std::string(keys::to_string(type)).c_str(), round + 1, r.ops_per_s,
                      r.server_cpu_us_per_op, r.client_cpu_us_per_op, r.errors);
        runs_json += entry;
        std::printf("  round %d %-7s %-13s %9.0f ops/s  server %6.1f us/op  client %6.1f us/op\n",
                    round + 1, std::string(keys::to_string(type)).c_str(), t.name.c_str(),
                    r.ops_per_s, r.server_cpu_us_per_op, r.client_cpu_us_per_op);
        std::fflush(stdout);
      }
    }
  }

  const bool have_notary = targets.size() > 1;
  std::printf("\nmedians of %d rounds\n", opt.rounds);
  std::printf("%-8s | %12s %12s %9s | %12s %10s %10s", "algo", "raw 1 thr/s", "raw all/s",
              "raw us/op", "vouch ops/s", "vouch us/op", "vouch/raw");
  if (have_notary)
    std::printf(" | %12s %10s %12s %12s", "notary ops/s", "notary us/op", "vouch/notary",
                "cpu n/v");
  std::printf("\n");
  for (KeyType type : {KeyType::kEcdsa, KeyType::kEd25519}) {
    Row& row = rows[type];
    const double raw1 = median(row.raw1), rawn = median(row.rawn);
    const double v = median(row.ops["vouch-signer"]);
    const double vcpu = median(row.server_cpu["vouch-signer"]);
    std::printf("%-8s | %12.0f %12.0f %9.1f | %12.0f %10.1f %9.1f%%",
                std::string(keys::to_string(type)).c_str(), raw1, rawn, median(row.raw_cpu), v,
                vcpu, 100.0 * v / rawn);
    if (have_notary) {
      const double n = median(row.ops["notary-signer"]);
      const double ncpu = median(row.server_cpu["notary-signer"]);
      std::printf(" | %12.0f %10.1f %11.2fx %11.2fx", n, ncpu, v / n, ncpu / vcpu);
    }
    std::printf("\n");
  }
  std::printf(
      "\nvouch/raw: gRPC+mTLS Sign rate as a share of the library's signing rate on all cores\n"
      "(client and server share the machine). us/op: server CPU per Sign. cpu n/v: notary-\n"
      "signer's CPU per Sign over vouch-signer's (> 1: vouch-signer is cheaper).\n");

  if (!opt.json.empty()) {
    char head[160];
    std::snprintf(head, sizeof head,
                  "{\"inflight\": %d, \"seconds\": %.2f, \"rounds\": %d, \"content\": %zu, "
                  "\"runs\": [",
                  opt.inflight, opt.seconds, opt.rounds, opt.content);
    write_file(opt.json, std::string(head) + runs_json + "\n]}\n", 0644);
  }

  for (Target& t : targets) {
    t.stub.reset();
    t.channel.reset();
    t.process->signal(SIGTERM);
    t.process->wait(std::chrono::seconds(30));
  }
  return 0;
}
