// vouch-verifier: the admission verifier daemon (issue 6). Kubernetes admission webhook
// (validating and mutating), POST /v1/verify and gRPC Verify, all deciding with
// verifier/decide.h under a team policy that is reloaded on SIGHUP and when its file changes.
//
// The only place that reads the config file, flags and environment (STYLE "config"); see
// verifier/README.md for every key and flag.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <prometheus/registry.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/config_file.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/net/admin_server.h"
#include "common/net/http_server.h"
#include "common/net/signals.h"
#include "common/net/tls.h"
#include "keys/secret.h"
#include "keys/secret_file.h"
#include "verifier/grpc_api.h"
#include "verifier/http_api.h"
#include "verifier/metrics.h"
#include "verifier/notary_source.h"
#include "verifier/policy_reloader.h"
#include "verifier/service.h"
#include "verifier/trust_cache.h"
#include "common/work_queue.h"

namespace fs = std::filesystem;
using namespace vouch;
using namespace vouch::verifier;

namespace {

struct Config {
  // server
  std::string listen = "0.0.0.0:8443";
  std::string tls_cert_file, tls_key_file, client_ca_file;
  long long io_threads = 2, workers = 8, max_queued = 256;
  // grpc
  std::string grpc_listen, grpc_cert_file, grpc_key_file, grpc_client_ca_file;
  // metrics
  std::string metrics_listen = "127.0.0.1:9090";
  // policy
  std::string policy_file;
  long long policy_poll_ms = 5'000;
  // trust
  long long max_age_ms = 60'000, refresh_after_ms = 30'000, error_ttl_ms = 2'000;
  long long fetch_threads = 4, connect_timeout_ms = 5'000, request_timeout_ms = 10'000;
  long long max_entries = 4096;
  std::string state_dir;
  // admission
  long long deadline_ms = 5'000, max_images = 256, max_body_bytes = 4LL << 20;
  long long decision_cache_entries = 10'000;
  bool mutate_keep_tag = true, verify_unchanged_images = true;
  // logging
  std::string log_level = "info", log_format = "text";
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "vouch-verifier: %s\n", message.c_str());
  std::fflush(stderr);
  std::exit(1);
}

std::string read_text(const fs::path& p, std::size_t max) {
  auto text = read_file_bounded(p, max);
  if (!text) die(text.error().message);
  return std::move(*text);
}

// Strict reading of the config file (common/config_file.h): every section and key is known
// and typed (a misspelt key must not silently leave a default in place).
void load_config(const fs::path& path, Config& c) {
  auto file = ConfigFile::load(path);
  if (!file) die(file.error().message);
  const ConfigSection root = file->root();
  root.only_keys({"server", "grpc", "metrics", "policy", "trust", "admission", "logging"});
  root.section("server").get_only_keys({
      {"listen", &c.listen},
      ConfigKey::path("tls_cert_file", &c.tls_cert_file),
      ConfigKey::path("tls_key_file", &c.tls_key_file),
      ConfigKey::path("client_ca_file", &c.client_ca_file),
      {"io_threads", &c.io_threads, 1},
      {"workers", &c.workers, 1},
      {"max_queued", &c.max_queued, 0},
  });
  root.section("grpc").get_only_keys({
      {"listen", &c.grpc_listen},
      ConfigKey::path("tls_cert_file", &c.grpc_cert_file),
      ConfigKey::path("tls_key_file", &c.grpc_key_file),
      ConfigKey::path("client_ca_file", &c.grpc_client_ca_file),
  });
  root.section("metrics").get_only_keys({{"listen", &c.metrics_listen}});
  root.section("policy").get_only_keys({
      ConfigKey::path("file", &c.policy_file),
      {"poll_ms", &c.policy_poll_ms, 0},
  });
  root.section("trust").get_only_keys({
      {"max_age_ms", &c.max_age_ms, 0},
      {"refresh_after_ms", &c.refresh_after_ms, 0},
      {"error_ttl_ms", &c.error_ttl_ms, 0},
      {"fetch_threads", &c.fetch_threads, 1},
      {"connect_timeout_ms", &c.connect_timeout_ms, 1},
      {"request_timeout_ms", &c.request_timeout_ms, 1},
      {"max_entries", &c.max_entries, 1},
      ConfigKey::path("state_dir", &c.state_dir),
  });
  root.section("admission").get_only_keys({
      {"deadline_ms", &c.deadline_ms, 1},
      {"max_images", &c.max_images, 1},
      {"max_body_bytes", &c.max_body_bytes, 1024},
      {"decision_cache_entries", &c.decision_cache_entries, 0},
      {"mutate_keep_tag", &c.mutate_keep_tag},
      {"verify_unchanged_images", &c.verify_unchanged_images},
  });
  root.section("logging").get_only_keys({{"level", &c.log_level}, {"format", &c.log_format}});
  if (auto st = file->status(); !st) die(st.error().message);
}

// ":8443" (Go's form) means every interface.
std::string listen_address(const std::string& addr) {
  return addr.rfind(':', 0) == 0 ? "0.0.0.0" + addr : addr;
}

// What stat() says about a file, to notice replaced certificates.
std::string file_identity(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// A private directory for the trust sections' CA bundles, removed at exit (also when die()
// exits: std::exit runs atexit handlers, not destructors).
fs::path g_runtime_dir;

void remove_runtime_dir() {
  if (g_runtime_dir.empty()) return;
  std::error_code ec;
  fs::remove_all(g_runtime_dir, ec);
  g_runtime_dir.clear();
}

fs::path make_runtime_dir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec) base = "/tmp";
  std::string tmpl = (base / "vouch-verifier.XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    die("cannot create a runtime directory in " + base.string() + ": " + std::strerror(errno));
  }
  g_runtime_dir = tmpl;
  std::atexit(remove_runtime_dir);
  return g_runtime_dir;
}

}  // namespace

int main(int argc, char** argv) {
  // First, before any thread exists: SIGTERM/SIGINT/SIGHUP are blocked everywhere and read
  // by one watcher thread.
  auto signals = net::SignalWatcher::start();
  if (!signals) die(signals.error().message);

  CLI::App app{"vouch-verifier: admission verifier for images signed with Notary v1 trust data"};
  std::string config_file;
  std::string f_listen, f_cert, f_key, f_client_ca, f_policy, f_metrics, f_grpc, f_grpc_cert,
      f_grpc_key, f_grpc_ca, f_level, f_format, f_state_dir;
  std::optional<long long> f_deadline, f_poll, f_max_age, f_refresh_after, f_error_ttl;
  app.add_option("-c,--config", config_file, "config file (JSON; see verifier/README.md)");
  app.add_option("--listen", f_listen, "HTTPS listen address host:port (server.listen)");
  app.add_option("--tls-cert", f_cert, "TLS certificate chain (server.tls_cert_file)");
  app.add_option("--tls-key", f_key, "TLS private key (server.tls_key_file)");
  app.add_option("--client-ca", f_client_ca,
                 "CA bundle for optional client certificates (server.client_ca_file)");
  app.add_option("--policy", f_policy, "policy file, YAML or JSON (policy.file)");
  app.add_option("--policy-poll-ms", f_poll,
                 "how often to check the policy file for changes; 0 = only on SIGHUP");
  app.add_option("--metrics-addr", f_metrics,
                 "metrics and health listen address (metrics.listen); \"\" = none");
  app.add_option("--grpc-addr", f_grpc, "gRPC listen address (grpc.listen); default none");
  app.add_option("--grpc-tls-cert", f_grpc_cert, "gRPC TLS certificate (grpc.tls_cert_file)");
  app.add_option("--grpc-tls-key", f_grpc_key, "gRPC TLS key (grpc.tls_key_file)");
  app.add_option("--grpc-client-ca", f_grpc_ca,
                 "gRPC client CA: require client certificates (grpc.client_ca_file)");
  app.add_option("--deadline-ms", f_deadline,
                 "longest wait for trust data per request (admission.deadline_ms)");
  app.add_option("--cache-max-age-ms", f_max_age, "longest use of fetched trust data (trust.max_age_ms)");
  app.add_option("--refresh-after-ms", f_refresh_after,
                 "age from which trust data is refreshed in the background (trust.refresh_after_ms)");
  app.add_option("--error-ttl-ms", f_error_ttl,
                 "how long a failed fetch answers for its GUN (trust.error_ttl_ms)");
  app.add_option("--state-dir", f_state_dir,
                 "directory that keeps each GUN's trust anchor across restarts (trust.state_dir)");
  app.add_option("--log-level", f_level, "trace|debug|info|warn|error (logging.level)");
  app.add_option("--log-format", f_format, "text | json (logging.format)");
  CLI11_PARSE(app, argc, argv);

  Config c;
  if (!config_file.empty()) load_config(config_file, c);
  bool metrics_flag_given = app.count("--metrics-addr") > 0;
  if (!f_listen.empty()) c.listen = f_listen;
  if (!f_cert.empty()) c.tls_cert_file = f_cert;
  if (!f_key.empty()) c.tls_key_file = f_key;
  if (!f_client_ca.empty()) c.client_ca_file = f_client_ca;
  if (!f_policy.empty()) c.policy_file = f_policy;
  if (f_poll) c.policy_poll_ms = *f_poll;
  if (metrics_flag_given) c.metrics_listen = f_metrics;
  if (!f_grpc.empty()) c.grpc_listen = f_grpc;
  if (!f_grpc_cert.empty()) c.grpc_cert_file = f_grpc_cert;
  if (!f_grpc_key.empty()) c.grpc_key_file = f_grpc_key;
  if (!f_grpc_ca.empty()) c.grpc_client_ca_file = f_grpc_ca;
  if (f_deadline) c.deadline_ms = *f_deadline;
  if (f_max_age) c.max_age_ms = *f_max_age;
  if (f_refresh_after) c.refresh_after_ms = *f_refresh_after;
  if (f_error_ttl) c.error_ttl_ms = *f_error_ttl;
  if (!f_state_dir.empty()) c.state_dir = f_state_dir;
  if (!f_level.empty()) c.log_level = f_level;
  if (!f_format.empty()) c.log_format = f_format;

  if (c.log_format != "text" && c.log_format != "json") die("logging.format must be text or json");
  log::init({c.log_format == "json" ? log::Format::kJson : log::Format::kText, c.log_level,
             nullptr});
  auto logger = log::get("verifier");

  if (c.policy_file.empty()) die("no policy: set policy.file or --policy");
  if (c.tls_cert_file.empty() || c.tls_key_file.empty()) {
    die("the webhook is served over HTTPS only: set server.tls_cert_file and server.tls_key_file "
        "(or --tls-cert/--tls-key)");
  }
  if (c.deadline_ms < 1 || c.max_age_ms < 0 || c.refresh_after_ms < 0 || c.error_ttl_ms < 0 ||
      c.policy_poll_ms < 0) {
    die("durations must not be negative (and deadline_ms must be positive)");
  }

  if (!c.state_dir.empty()) {
    // Fail at startup, not on the first fetch: an anchor that cannot be kept would let a
    // restart trust a new root silently.
    std::error_code ec;
    fs::create_directories(c.state_dir, ec);
    const fs::path probe = fs::path(c.state_dir) / ".vouch-verifier-write-test";
    std::ofstream(probe) << "ok";
    if (ec || !fs::exists(probe)) {
      die("trust.state_dir " + c.state_dir + " is not a writable directory" +
          (ec ? " (" + ec.message() + ")" : std::string()));
    }
    fs::remove(probe, ec);
  }
  const fs::path runtime_dir = make_runtime_dir();
  auto registry = std::make_shared<prometheus::Registry>();
  auto metrics = VerifierMetrics::create(*registry);
  if (!metrics) die(metrics.error().message);

  NotarySourceOptions source_options;
  source_options.ca_dir = runtime_dir;
  source_options.connect_timeout = std::chrono::milliseconds(c.connect_timeout_ms);
  source_options.request_timeout = std::chrono::milliseconds(c.request_timeout_ms);
  source_options.credentials = read_credentials;
  const SourceFactory sources = make_notary_source_factory(std::move(source_options));

  TrustCacheOptions cache_options;
  cache_options.max_age = std::chrono::milliseconds(c.max_age_ms);
  cache_options.refresh_after = std::chrono::milliseconds(c.refresh_after_ms);
  cache_options.error_ttl = std::chrono::milliseconds(c.error_ttl_ms);
  cache_options.fetch_threads = static_cast<unsigned>(c.fetch_threads);
  cache_options.max_entries = static_cast<std::size_t>(c.max_entries);
  cache_options.state_dir = c.state_dir;
  const Clock& clock = SystemClock::instance();
  TrustCache trust(sources, clock, cache_options, metrics->get());

  VerifierOptions verifier_options;
  verifier_options.deadline = std::chrono::milliseconds(c.deadline_ms);
  verifier_options.decision_cache_entries = static_cast<std::size_t>(c.decision_cache_entries);
  verifier_options.mutate_keep_tag = c.mutate_keep_tag;
  verifier_options.verify_unchanged_images = c.verify_unchanged_images;
  Verifier verifier(trust, verifier_options, metrics->get());

  // The policy must load at start: one clear line and exit 1 otherwise.
  PolicyReloader reloader(c.policy_file, verifier, clock, metrics->get());
  if (auto st = reloader.reload("startup"); !st) die(st.error().message);

  HttpApiOptions api_options;
  api_options.admission.max_images = static_cast<std::size_t>(c.max_images);
  api_options.admission.max_body_bytes = static_cast<std::size_t>(c.max_body_bytes);
  api_options.workers = static_cast<unsigned>(c.workers);
  api_options.max_queued = static_cast<std::size_t>(c.max_queued);
  HttpApi api(verifier, api_options, metrics->get());

  net::HttpServerOptions http;
  http.listen = listen_address(c.listen);
  http.io_threads = static_cast<unsigned>(c.io_threads);
  http.tls.cert_file = c.tls_cert_file;
  http.tls.key_file = c.tls_key_file;
  http.tls.client_ca_file = c.client_ca_file;
  http.body_limit = [&api](const net::Request& head) { return api.body_limit(head); };
  http.log_component = "verifier.http";
  auto server = net::HttpServer::start(
      http, [&api](net::Request&& r, net::Responder resp) { api.handle(std::move(r), std::move(resp)); });
  if (!server) die("listen " + http.listen + ": " + server.error().message);

  std::atomic<bool> draining{false};
  std::unique_ptr<net::AdminServer> admin;
  if (!c.metrics_listen.empty()) {
    net::AdminServerOptions ao;
    ao.listen = listen_address(c.metrics_listen);
    auto a = net::AdminServer::start(ao, registry, [&verifier, &draining] {
      return verifier.ready() && !draining.load();
    });
    if (!a) die("metrics listen " + ao.listen + ": " + a.error().message);
    admin = std::move(*a);
  }

  std::unique_ptr<WorkQueue> grpc_workers;
  std::unique_ptr<GrpcApi> grpc;
  if (!c.grpc_listen.empty()) {
    GrpcApiOptions go;
    go.listen = listen_address(c.grpc_listen);
    if (!c.grpc_cert_file.empty() || !c.grpc_key_file.empty()) {
      if (c.grpc_cert_file.empty() || c.grpc_key_file.empty()) {
        die("gRPC TLS needs both grpc.tls_cert_file and grpc.tls_key_file");
      }
      if (auto st = net::check_key_pair(c.grpc_cert_file, c.grpc_key_file); !st) {
        die("gRPC TLS: " + st.error().message);
      }
      go.tls_cert_pem = read_text(c.grpc_cert_file, 1u << 20);
      auto tls_key = keys::read_secret_file(c.grpc_key_file);
      if (!tls_key) die("gRPC TLS key: " + tls_key.error().message);
      go.tls_key_pem = std::move(*tls_key);
    }
    if (!c.grpc_client_ca_file.empty()) go.client_ca_pem = read_text(c.grpc_client_ca_file, 1u << 20);
    grpc_workers = std::make_unique<WorkQueue>(static_cast<unsigned>(c.workers),
                                               static_cast<std::size_t>(c.max_queued), "grpc",
                                               "verifier");
    auto g = GrpcApi::start(std::move(go), verifier, *grpc_workers, metrics->get());
    if (!g) die("gRPC listen " + c.grpc_listen + ": " + g.error().message);
    grpc = std::move(*g);
  }

  // Reloads: SIGHUP (policy and TLS certificate) and, every poll_ms, changed files.
  std::mutex reload_mu;
  std::string cert_identity = file_identity(c.tls_cert_file) + "|" + file_identity(c.tls_key_file);
  auto reload_tls = [&](const char* why) {
    if (auto st = (*server)->reload_tls(); !st) {
      logger->error("TLS certificate not reloaded ({}): {}", why, st.error().message);
    } else {
      logger->info("TLS certificate reloaded ({})", why);
    }
  };
  (*signals)->on_reload([&] {
    std::lock_guard lock(reload_mu);
    (void)reloader.reload("SIGHUP");
    reload_tls("SIGHUP");
    cert_identity = file_identity(c.tls_cert_file) + "|" + file_identity(c.tls_key_file);
    if (grpc) grpc->set_ready(verifier.ready());
  });
  std::mutex poll_mu;
  std::condition_variable poll_cv;
  bool poll_stop = false;
  std::thread poller;
  if (c.policy_poll_ms > 0) {
    poller = std::thread([&] {
      std::unique_lock lock(poll_mu);
      while (!poll_cv.wait_for(lock, std::chrono::milliseconds(c.policy_poll_ms),
                               [&] { return poll_stop; })) {
        std::lock_guard reload_lock(reload_mu);
        reloader.reload_if_changed();
        const std::string now = file_identity(c.tls_cert_file) + "|" + file_identity(c.tls_key_file);
        if (now != cert_identity) {
          cert_identity = now;
          reload_tls("certificate file changed");
        }
      }
    });
  }

  logger->info("vouch-verifier listening on {} (HTTPS), metrics port {}, gRPC port {}; policy {} "
               "version {}",
               (*server)->local_address(), admin ? std::to_string(admin->port()) : "off",
               grpc ? std::to_string(grpc->port()) : "off", c.policy_file, reloader.version());
  // For scripts and tests that start the daemon on port 0: the other ports first, so that
  // every port is known once "listening on" is printed.
  if (admin) std::printf("metrics on port %u\n", static_cast<unsigned>(admin->port()));
  if (grpc) std::printf("grpc on port %u\n", static_cast<unsigned>(grpc->port()));
  std::printf("listening on %s\n", (*server)->local_address().c_str());
  std::fflush(stdout);

  const int sig = (*signals)->wait_for_shutdown();
  logger->info("signal {}: draining", sig);
  draining = true;
  {
    std::lock_guard lock(poll_mu);
    poll_stop = true;
  }
  poll_cv.notify_all();
  if (poller.joinable()) poller.join();
  (*signals)->on_reload([] {});
  if (grpc) grpc->shutdown(std::chrono::seconds(10));
  (*server)->stop();
  api.stop();
  if (grpc_workers) grpc_workers->stop();
  trust.stop();
  if (admin) admin->stop();
  logger->info("stopped");
  return 0;
}
