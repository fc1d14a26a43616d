#include "server/api.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <charconv>
#include <memory>

#include "common/log.h"
#include "common/net/multipart.h"
#include "common/work_queue.h"
#include "tuf/gun.h"
#include "tuf/json.h"
#include "tuf/metadata.h"

namespace vouch::server {
namespace {

using net::Request;
using net::Responder;
using net::Response;
namespace json = tuf::json;

// The operations Notary names in its metrics and logs (server/server.go), plus ours.
enum class Op : std::uint8_t {
  kPing, kPublish, kGetRole, kGetRoleByHash, kGetRoleByVersion, kGetKey, kRotateKey,
  kDelete, kChangefeed, kHealth, kMetrics, kNotFound, kCount
};
constexpr std::array<const char*, static_cast<std::size_t>(Op::kCount)> kOpNames = {
    "MainHandler", "UpdateTUF", "GetRole", "GetRoleByHash", "GetRoleByVersion", "GetKey",
    "RotateKey", "DeleteTUF", "Changefeed", "Health", "Metrics", "NotFound"};

// Notary's error table (server/errors/errors.go): code, HTTP status, message.
struct ApiError {
  const char* code;
  unsigned status;
  const char* message;
};
constexpr ApiError kNoFilename{"NO_FILENAME", 400, "No file/role name provided."};
constexpr ApiError kInvalidRole{"INVALID_ROLE", 400,
                                "The role you are attempting to operate on is invalid."};
constexpr ApiError kMalformedJson{"MALFORMED_JSON", 400,
                                  "JSON sent by the client could not be parsed by the server"};
constexpr ApiError kUpdating{"UPDATING", 500,
                             "An error has occurred while updating the TUF repository."};
constexpr ApiError kOldVersion{"VERSION", 400, "A newer version of metadata is already available."};
constexpr ApiError kMetadataNotFound{"METADATA_NOT_FOUND", 404,
                                     "You have requested metadata that does not exist."};
constexpr ApiError kInvalidUpdate{"INVALID_UPDATE", 400, "Update sent by the client is invalid."};
constexpr ApiError kMalformedUpload{"MALFORMED_UPLOAD", 400, "The body of your request is malformed."};
constexpr ApiError kTooLargeUpload{"MALFORMED_UPLOAD", 413, "The body of your request is too large."};
constexpr ApiError kInvalidGun{"INVALID_GUN", 400,
                               "The server does not support actions on images of this name."};
constexpr ApiError kInvalidParams{"INVALID_PARAMETERS", 400, "The parameters provided are not valid."};
constexpr ApiError kNoCryptoService{"NO_CRYPTOSERVICE", 500,
                                    "The server does not have a signing service configured."};
constexpr ApiError kUnknown{"UNKNOWN", 500, "Unknown error"};
constexpr ApiError kUnauthorized{"UNAUTHORIZED", 401, "authentication required"};
constexpr ApiError kDenied{"DENIED", 403, "requested access to the resource is denied"};
constexpr ApiError kMethodNotAllowed{"UNSUPPORTED", 405, "The operation is unsupported."};
constexpr ApiError kUnavailable{"UNAVAILABLE", 503, "service unavailable"};
// The "Reason" of a 404's detail for a GUN outside repositories.gun_prefixes (vouch's own).
constexpr const char* kGunNotServed = "GUN_NOT_SERVED";

Response error_response(const ApiError& e, const json::Value* detail = nullptr) {
  json::Object err;
  err.set("code", e.code);
  err.set("message", e.message);
  if (detail != nullptr) err.set("detail", *detail);
  json::Array errors;
  errors.emplace_back(std::move(err));
  json::Object body;
  body.set("errors", std::move(errors));
  return Response::text(e.status, json::canonical(body), "application/json; charset=utf-8");
}

// notary-server's 401 detail: the access records the route asked for (docker/distribution
// auth.Access serialized by Go: {"Type","Class","Name","Action"}), notary utils/http.go doAuth.
json::Value access_detail(std::string_view gun, const std::vector<Access>& actions) {
  json::Array records;
  for (const Access a : actions) {
    json::Object r;
    const bool catalog = a == Access::kCatalog;
    r.set("Type", catalog ? "registry" : "repository");
    r.set("Class", "");
    r.set("Name", catalog ? std::string("catalog") : std::string(gun));
    r.set("Action", a == Access::kPull ? "pull" : a == Access::kPush ? "push" : "*");
    records.emplace_back(std::move(r));
  }
  return records;
}

// The answer to a request for a GUN outside repositories.gun_prefixes, with Notary's codes
// (400 INVALID_GUN to a publish, 404 METADATA_NOT_FOUND otherwise) and a detail that says
// so: a string for INVALID_GUN, as Notary's ("Require GUNs with prefix: ..."), and for the
// 404, where Notary sends none, {"Reason":"GUN_NOT_SERVED","Msg":...} so that a client can
// tell it from a role that does not exist (client/remote.cc reads it). `gun` has passed
// gun_valid: bounded, no control characters.
Response gun_not_served(bool publish, std::string_view gun,
                        const std::vector<std::string>& prefixes) {
  std::string msg = "repository \"" + std::string(gun) +
                    "\" is not served here; this server serves only GUNs starting with ";
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    msg += (i == 0 ? "\"" : ", \"") + prefixes[i] + "\"";
  }
  if (publish) {
    const json::Value detail(std::move(msg));
    return error_response(kInvalidGun, &detail);
  }
  json::Object detail;
  detail.set("Reason", kGunNotServed);
  detail.set("Msg", std::move(msg));
  const json::Value d(std::move(detail));
  return error_response(kMetadataNotFound, &d);
}

// A publish error in Notary's terms (REFERENCE §1.1: INVALID_UPDATE carries a
// validation.SerializableError the notary client decodes and prints).
Response publish_error(const tuf::UpdateError& error) {
  switch (error.error_class) {
    case tuf::UpdateErrorClass::kMalformedUpload: return error_response(kMalformedUpload);
    case tuf::UpdateErrorClass::kTooLarge: return error_response(kTooLargeUpload);
    case tuf::UpdateErrorClass::kMalformedJson: return error_response(kMalformedJson);
    case tuf::UpdateErrorClass::kInvalidRole: return error_response(kInvalidRole);
    case tuf::UpdateErrorClass::kOldVersion: return error_response(kOldVersion);
    case tuf::UpdateErrorClass::kBadRoot:
    case tuf::UpdateErrorClass::kBadTargets:
    case tuf::UpdateErrorClass::kBadSnapshot:
    case tuf::UpdateErrorClass::kBadHierarchy:
    case tuf::UpdateErrorClass::kValidation: {
      json::Object inner;
      inner.set("Msg", error.message);
      if (error.error_class == tuf::UpdateErrorClass::kBadHierarchy) {
        inner.set("Missing", error.missing);
      }
      json::Object detail;
      detail.set("Name", std::string(tuf::to_string(error.error_class)));
      detail.set("Error", std::move(inner));
      const json::Value d(std::move(detail));
      return error_response(kInvalidUpdate, &d);
    }
    case tuf::UpdateErrorClass::kInternal: break;
  }
  return error_response(kUpdating);
}

std::string cache_control(std::chrono::seconds max_age, bool must_revalidate) {
  if (max_age.count() <= 0) return "max-age=0, no-cache, no-store";
  std::string v = "public, max-age=" + std::to_string(max_age.count()) +
                  ", s-maxage=" + std::to_string(max_age.count());
  if (must_revalidate) v += ", must-revalidate";
  return v;
}

bool is_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  }
  return true;
}

bool is_digits(std::string_view s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// What a metadata file name asks for: <role>.json, <role>.<sha256>.json, <version>.<role>.json.
struct FileRequest {
  Op op = Op::kGetRole;
  std::string role;
  std::int64_t version = 0;
  std::string checksum;
};

std::optional<FileRequest> parse_file_name(std::string_view name) {
  constexpr std::string_view kJson = ".json";
  if (name.size() <= kJson.size() || name.substr(name.size() - kJson.size()) != kJson) {
    return std::nullopt;
  }
  name.remove_suffix(kJson.size());
  FileRequest r;
  if (tuf::is_valid_role_name(name)) {
    r.role = std::string(name);
    return r;
  }
  // <version>.<role>
  if (const auto dot = name.find('.'); dot != std::string_view::npos) {
    const auto head = name.substr(0, dot);
    const auto rest = name.substr(dot + 1);
    if (is_digits(head) && tuf::is_valid_role_name(rest)) {
      r.op = Op::kGetRoleByVersion;
      r.role = std::string(rest);
      std::from_chars(head.data(), head.data() + head.size(), r.version);
      return r;
    }
  }
  // <role>.<checksum>: Notary's route accepts 64, 96 or 128 hex digits; only SHA-256 is stored.
  if (const auto dot = name.rfind('.'); dot != std::string_view::npos) {
    const auto role = name.substr(0, dot);
    const auto sum = name.substr(dot + 1);
    if ((sum.size() == 64 || sum.size() == 96 || sum.size() == 128) && is_hex(sum) &&
        tuf::is_valid_role_name(role)) {
      r.op = Op::kGetRoleByHash;
      r.role = std::string(role);
      r.checksum = std::string(sum);
      for (auto& c : r.checksum) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return r;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

struct NotaryApi::Impl {
  Impl(Repository& r, const Authorizer& a, ApiOptions o, std::shared_ptr<prometheus::Registry> reg)
      : repository(r), authorizer(a), options(std::move(o)), registry(std::move(reg)),
        own_workers(options.workers != nullptr
                        ? nullptr
                        : std::make_unique<WorkQueue>(options.worker_threads,
                                                      options.max_queued_writes, "writes",
                                                      "server")),
        workers(options.workers != nullptr ? *options.workers : *own_workers),
        current_cache_control(cache_control(options.current_max_age, true)),
        consistent_cache_control(cache_control(options.consistent_max_age, false)) {
    if (!registry) registry = std::make_shared<prometheus::Registry>();
    auto& requests = prometheus::BuildCounter()
                         .Name("vouch_server_http_requests_total")
                         .Help("HTTP requests by Notary operation and status code")
                         .Register(*registry);
    auto& latency = prometheus::BuildHistogram()
                        .Name("vouch_server_http_request_duration_seconds")
                        .Help("HTTP request latency by Notary operation")
                        .Register(*registry);
    auto& publish_family = prometheus::BuildCounter()
                               .Name("vouch_server_publishes_total")
                               .Help("Publishes (POST /v2/<gun>/_trust/tuf/) by outcome")
                               .Register(*registry);
    for (std::size_t i = 1; i < kOutcomeNames.size(); ++i) {
      publishes[i] = &publish_family.Add({{"outcome", kOutcomeNames[i]}});
    }
    auth_failures = &prometheus::BuildCounter()
                         .Name("vouch_server_auth_failures_total")
                         .Help("Requests refused by authentication, by reason")
                         .Register(*registry);
    auto& backend_family = prometheus::BuildCounter()
                               .Name("vouch_server_backend_errors_total")
                               .Help("Internal errors of the metadata store and the signer")
                               .Register(*registry);
    backend_errors[0] = &backend_family.Add({{"backend", "storage"}});
    backend_errors[1] = &backend_family.Add({{"backend", "signer"}});
    cache_entries = &prometheus::BuildGauge()
                         .Name("vouch_server_cache_entries")
                         .Help("Current metadata files held in the in-memory cache")
                         .Register(*registry)
                         .Add({});
    auto& cache_family = prometheus::BuildCounter()
                             .Name("vouch_server_cache_lookups_total")
                             .Help("Lookups of current metadata in the in-memory cache")
                             .Register(*registry);
    cache_hits = &cache_family.Add({{"result", "hit"}});
    cache_misses = &cache_family.Add({{"result", "miss"}});
    body_bytes_in_flight =
        &prometheus::BuildGauge()
             .Name("vouch_server_http_body_bytes_in_flight")
             .Help("Request body bytes reserved from server.max_body_bytes_in_flight")
             .Register(*registry)
             .Add({});
    bodies_in_flight = &prometheus::BuildGauge()
                            .Name("vouch_server_http_bodies_in_flight")
                            .Help("Request bodies being read or held by a handler")
                            .Register(*registry)
                            .Add({});
    connections_open = &prometheus::BuildGauge()
                            .Name("vouch_server_http_connections_open")
                            .Help("Open client connections")
                            .Register(*registry)
                            .Add({});
    auto& rejections = prometheus::BuildCounter()
                           .Name("vouch_server_http_transport_rejections_total")
                           .Help("Requests or connections the HTTP layer refused by itself")
                           .Register(*registry);
    for (std::size_t i = 0; i < kTransportRejections.size(); ++i) {
      transport_rejections[i] = &rejections.Add({{"reason", kTransportRejections[i]}});
    }
    for (std::size_t i = 0; i < kOpNames.size(); ++i) {
      for (std::size_t c = 0; c < kStatuses.size(); ++c) {
        counters[i][c] = &requests.Add({{"operation", kOpNames[i]}, {"code", kStatusNames[c]}});
      }
      histograms[i] = &latency.Add({{"operation", kOpNames[i]}},
                                   prometheus::Histogram::BucketBoundaries{
                                       0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                       0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
    }
  }

  // The HTTP server's own figures, refreshed on each scrape of /metrics.
  void update_transport_metrics() {
    std::lock_guard lock(transport_mu);
    if (!transport_stats) return;
    const net::HttpServerStats st = transport_stats();
    body_bytes_in_flight->Set(static_cast<double>(st.body_bytes_in_flight));
    bodies_in_flight->Set(static_cast<double>(st.bodies_in_flight));
    connections_open->Set(static_cast<double>(st.connections_open));
    const std::array<std::uint64_t, kTransportRejections.size()> now = {
        st.rejected_busy, st.rejected_by_head_check, st.rejected_client_connections,
        st.rejected_body_too_large, st.rejected_header_too_large, st.rejected_bad_request,
        st.timeouts};
    for (std::size_t i = 0; i < now.size(); ++i) {
      if (now[i] > transport_seen[i]) {
        transport_rejections[i]->Increment(static_cast<double>(now[i] - transport_seen[i]));
        transport_seen[i] = now[i];
      }
    }
  }

  static constexpr std::array<const char*, 7> kTransportRejections = {
      "budget_exhausted", "refused_before_body", "client_connection_limit", "body_too_large",
      "header_too_large", "bad_request", "timeout"};

  // The status codes the API and the HTTP layer answer with, each a pre-resolved counter per
  // operation; anything else is counted as "other" (the last entry).
  static constexpr std::array<unsigned, 11> kStatuses = {200, 400, 401, 403, 404, 405,
                                                         413, 431, 500, 503, 0};
  static constexpr std::array<const char*, kStatuses.size()> kStatusNames = {
      "200", "400", "401", "403", "404", "405", "413", "431", "500", "503", "other"};
  static constexpr std::size_t status_index(unsigned status) {
    for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
      if (kStatuses[i] == status) return i;
    }
    return kStatuses.size() - 1;
  }

  // Publish outcomes (vouch_server_publishes_total{outcome}).
  enum class Outcome : std::uint8_t {
    kFromStatus, kPublished, kInvalid, kOldVersion, kTooLarge, kUnauthorized, kError, kCount
  };
  static constexpr std::array<const char*, static_cast<std::size_t>(Outcome::kCount)>
      kOutcomeNames = {"", "published", "invalid", "old_version", "too_large", "unauthorized",
                       "error"};
  static Outcome outcome_of(unsigned status) {
    switch (status) {
      case 200: return Outcome::kPublished;
      case 401:
      case 403: return Outcome::kUnauthorized;
      case 413: return Outcome::kTooLarge;
      default: return status / 100 == 4 ? Outcome::kInvalid : Outcome::kError;
    }
  }

  // Where an internal error came from (vouch_server_backend_errors_total{backend}).
  enum class Backend : std::uint8_t { kStorage, kSigner };

  // Records the request's metrics.
  // A publish's outcome is derived from its status unless given.
  void record(Op op, std::chrono::steady_clock::time_point start, unsigned status,
              Outcome outcome = Outcome::kFromStatus) const {
    const auto i = static_cast<std::size_t>(op);
    counters[i][status_index(status)]->Increment();
    histograms[i]->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (op == Op::kPublish) {
      if (outcome == Outcome::kFromStatus) outcome = outcome_of(status);
      publishes[static_cast<std::size_t>(outcome)]->Increment();
    }
  }

  // Answers and records the request's metrics.
  void finish(Op op, std::chrono::steady_clock::time_point start, Responder& responder,
              Response response, Outcome outcome = Outcome::kFromStatus) {
    record(op, start, response.status, outcome);
    responder.respond(std::move(response));
  }

  bool gun_allowed(std::string_view gun) const {
    if (options.gun_prefixes.empty()) return true;
    for (const auto& p : options.gun_prefixes) {
      if (gun.substr(0, p.size()) == p) return true;
    }
    return false;
  }

  // The answer to a valid GUN that gun_allowed refuses, logged (one line: an operator sees
  // why a client's requests fail).
  Response refuse_unserved(std::string_view method, std::string_view gun) const {
    log::get("server")->info("{} for GUN {}: not served (repositories.gun_prefixes)", method,
                             gun);
    return gun_not_served(method == "POST", gun, options.gun_prefixes);
  }

  // GUNs as Notary's route takes them ([^*]+), minus what could alias or escape (tuf/gun.h).
  bool gun_valid(std::string_view gun) const {
    return tuf::validate_gun(gun, options.max_gun_bytes).ok();
  }

  // nullopt if the request may do `actions` on `gun`; else the 401/403 answer.
  // `*subject` (if not null) receives who the request authenticated as.
  std::optional<Response> refusal(const Request& request, std::string_view gun,
                                  const std::vector<Access>& actions,
                                  std::string* subject = nullptr) const {
    std::string challenge;
    auto st = authorizer.authorize(request, gun, actions, &challenge, subject);
    if (st) return std::nullopt;
    // Refusals are the cold path: the child is looked up by label here.
    auth_failures->Add({{"reason", std::string(to_string(st.error().reason))}}).Increment();
    const bool denied = st.error().code == Code::kPermissionDenied;
    const json::Value detail = access_detail(gun, actions);
    Response r = error_response(denied ? kDenied : kUnauthorized, denied ? nullptr : &detail);
    if (!challenge.empty()) r.headers.set("WWW-Authenticate", std::move(challenge));
    return r;
  }

  // Authorizes; on refusal answers 401/403 and returns false.
  bool authorize(Op op, std::chrono::steady_clock::time_point start, const Request& request,
                 Responder& responder, std::string_view gun, std::vector<Access> actions,
                 std::string* subject = nullptr) {
    auto refused = refusal(request, gun, actions, subject);
    if (!refused) return true;
    finish(op, start, responder, std::move(*refused));
    return false;
  }

  std::optional<Response> check_head(const Request& head) const;

  void count_backend_error(const Error& e, Backend backend) const {
    if (e.reason == Reason::kUnavailable || e.code == Code::kUnavailable) backend = Backend::kSigner;
    backend_errors[static_cast<std::size_t>(backend)]->Increment();
  }

  Response metadata_response(std::shared_ptr<const std::string> bytes, TimePoint created,
                             std::string_view sha256_hex, const std::string& cache) {
    Response r = Response::shared(200, std::move(bytes), "application/json");
    r.headers.set("Cache-Control", cache);
    r.headers.set("Last-Modified", format_http_date(created));
    if (!sha256_hex.empty()) r.headers.set("ETag", "\"" + std::string(sha256_hex) + "\"");
    return r;
  }

  // Logs an internal error, counts it against its backend and answers `api`. An unreachable
  // peer (kUnavailable) is the remote signer; anything else the store, unless the call says
  // it was the signer (key operations).
  Response internal_error(std::string_view what, const Error& e, const ApiError& api = kUnknown,
                          Backend backend = Backend::kStorage) {
    count_backend_error(e, backend);
    log::get("server")->error("{}: {} ({})", what, e.message, to_string(e.reason));
    return error_response(api);
  }

  // Runs fn(responder) on a worker. A full queue answers 503 at once; a task that throws
  // answers 500 (net::Responder's destructor), logged by the queue.
  template <typename F>
  void run_on_worker(Op op, std::chrono::steady_clock::time_point start, Responder responder,
                     F&& fn) {
    auto shared = std::make_shared<Responder>(std::move(responder));
    auto task = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
    if (!workers.post([shared, task] { (*task)(*shared); })) {
      log::get("server")->warn("{}: work queue full, answering 503",
                               kOpNames[static_cast<std::size_t>(op)]);
      finish(op, start, *shared, error_response(kUnavailable));
    }
  }

  // Reports a successful write to options.on_write.
  void report_write(WriteEvent::Kind kind, std::string gun, std::string actor, std::string source,
                    std::map<std::string, std::string> detail = {}) const {
    if (!options.on_write) return;
    options.on_write(WriteEvent{kind, std::move(gun), std::move(actor), std::move(source),
                                std::move(detail)});
  }

  void handle(Request&& request, Responder responder);
  void handle_tuf(Request&& request, Responder responder, std::string gun, std::string_view tail,
                  std::chrono::steady_clock::time_point start);
  void handle_changefeed(const Request& request, Responder& responder, std::string_view gun,
                         std::chrono::steady_clock::time_point start);
  void publish(Request&& request, Responder responder, std::string gun,
               std::chrono::steady_clock::time_point start, std::string actor);

  Repository& repository;
  const Authorizer& authorizer;
  ApiOptions options;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<WorkQueue> own_workers;
  WorkQueue& workers;
  std::string current_cache_control;
  std::string consistent_cache_control;
  std::array<std::array<prometheus::Counter*, kStatuses.size()>, kOpNames.size()> counters{};
  std::array<prometheus::Counter*, kOutcomeNames.size()> publishes{};
  prometheus::Family<prometheus::Counter>* auth_failures = nullptr;
  std::array<prometheus::Counter*, 2> backend_errors{};
  prometheus::Gauge* cache_entries = nullptr;
  prometheus::Counter* cache_hits = nullptr;
  prometheus::Counter* cache_misses = nullptr;
  Repository::CacheStats cache_seen;  // guarded by transport_mu
  std::array<prometheus::Histogram*, kOpNames.size()> histograms{};
  prometheus::Gauge* body_bytes_in_flight = nullptr;
  prometheus::Gauge* bodies_in_flight = nullptr;
  prometheus::Gauge* connections_open = nullptr;
  std::array<prometheus::Counter*, kTransportRejections.size()> transport_rejections{};
  std::mutex transport_mu;  // guards the two below
  std::function<net::HttpServerStats()> transport_stats;
  std::array<std::uint64_t, kTransportRejections.size()> transport_seen{};
};

std::optional<Response> NotaryApi::Impl::check_head(const Request& head) const {
  if (head.method != "POST") return std::nullopt;
  const auto start = std::chrono::steady_clock::now();
  // The publish route of handle(): /v2/<gun>/_trust/tuf/ with nothing after it.
  auto decoded = net::percent_decode_path(head.path());
  if (!decoded) return std::nullopt;  // handle() answers 404; the body limit is 0
  const std::string_view path = *decoded;
  constexpr std::string_view kV2 = "/v2/";
  constexpr std::string_view kTuf = "/_trust/tuf/";
  if (!path.starts_with(kV2) || !path.ends_with(kTuf) ||
      path.size() <= kV2.size() + kTuf.size()) {
    return std::nullopt;
  }
  const std::string_view gun = path.substr(kV2.size(), path.size() - kV2.size() - kTuf.size());
  std::optional<Response> answer;
  if (!gun_valid(gun)) {
    answer = error_response(kInvalidGun);
  } else if (!gun_allowed(gun)) {
    answer = refuse_unserved(head.method, gun);
  } else {
    answer = refusal(head, gun, {Access::kPush, Access::kPull});
  }
  if (answer) record(Op::kPublish, start, answer->status);
  return answer;
}

void NotaryApi::Impl::handle(Request&& request, Responder responder) {
  const auto start = std::chrono::steady_clock::now();
  auto decoded = net::percent_decode_path(request.path());
  if (!decoded) {
    finish(Op::kNotFound, start, responder, error_response(kMetadataNotFound));
    return;
  }
  const std::string_view path = *decoded;
  // The fixed endpoints below are read-only (notary-server routes them for GET only).
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  const bool fixed = path == "/_notary_server/health" || path == "/healthz" ||
                     path == "/readyz" || path == "/metrics" || path == "/v2/" || path == "/v2";
  if (fixed && !is_get) {
    finish(path.starts_with("/v2") ? Op::kPing : path == "/metrics" ? Op::kMetrics : Op::kHealth,
           start, responder, error_response(kMethodNotAllowed));
    return;
  }

  if (path == "/_notary_server/health" || path == "/healthz" || path == "/readyz") {
    const bool live_only = path == "/healthz";
    Status st = live_only ? Status{} : repository.health();
    if (st) {
      // Degraded, not unready: reads need no signature.
      const bool signer_down =
          path == "/readyz" && options.signer_reachable && !options.signer_reachable();
      finish(Op::kHealth, start, responder,
             Response::text(200, signer_down ? R"({"signer":"unavailable"})" : "{}",
                            "application/json"));
    } else {
      count_backend_error(st.error(), Backend::kStorage);
      log::get("server")->warn("health check failed: {}", st.error().message);
      finish(Op::kHealth, start, responder,
             Response::text(503, R"({"storage":"unhealthy"})", "application/json"));
    }
    return;
  }
  if (path == "/metrics") {
    update_transport_metrics();
    const Repository::CacheStats cache = repository.cache_stats();
    cache_entries->Set(static_cast<double>(cache.entries));
    {
      std::lock_guard lock(transport_mu);  // the scrape's deltas, as for the transport's
      if (cache.hits > cache_seen.hits) cache_hits->Increment(static_cast<double>(cache.hits - cache_seen.hits));
      if (cache.misses > cache_seen.misses) {
        cache_misses->Increment(static_cast<double>(cache.misses - cache_seen.misses));
      }
      cache_seen = cache;
    }
    prometheus::TextSerializer serializer;
    finish(Op::kMetrics, start, responder,
           Response::text(200, serializer.Serialize(registry->Collect()),
                          "text/plain; version=0.0.4"));
    return;
  }
  if (path == "/v2/" || path == "/v2") {
    // notary-server asks for registry:catalog:* on every route without a GUN, the ping included;
    // a registry (and vouch-server with its own token service) only for a valid token.
    std::vector<Access> needs;
    if (options.ping_needs_catalog) needs.push_back(Access::kCatalog);
    if (!authorize(Op::kPing, start, request, responder, "", std::move(needs))) return;
    finish(Op::kPing, start, responder, Response::text(200, "{}", "application/json"));
    return;
  }
  constexpr std::string_view kV2 = "/v2/";
  if (path.substr(0, kV2.size()) != kV2) {
    finish(Op::kNotFound, start, responder, error_response(kMetadataNotFound));
    return;
  }
  const std::string_view rest = path.substr(kV2.size());
  constexpr std::string_view kFeed = "_trust/changefeed";
  if (rest == kFeed) {
    handle_changefeed(request, responder, "", start);
    return;
  }
  constexpr std::string_view kGunFeed = "/_trust/changefeed";
  if (rest.size() > kGunFeed.size() && rest.substr(rest.size() - kGunFeed.size()) == kGunFeed) {
    handle_changefeed(request, responder, rest.substr(0, rest.size() - kGunFeed.size()), start);
    return;
  }
  constexpr std::string_view kTuf = "/_trust/tuf/";
  const auto pos = rest.rfind(kTuf);
  if (pos == std::string_view::npos || pos == 0) {
    finish(Op::kNotFound, start, responder, error_response(kMetadataNotFound));
    return;
  }
  std::string gun(rest.substr(0, pos));
  const std::string tail(rest.substr(pos + kTuf.size()));
  handle_tuf(std::move(request), std::move(responder), std::move(gun), tail, start);
}

void NotaryApi::Impl::handle_tuf(Request&& request, Responder responder, std::string gun,
                                 std::string_view tail,
                                 std::chrono::steady_clock::time_point start) {
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  if (!gun_valid(gun)) {
    finish(Op::kNotFound, start, responder,
           error_response(request.method == "POST" ? kInvalidGun : kMetadataNotFound));
    return;
  }
  if (!gun_allowed(gun)) {
    finish(Op::kNotFound, start, responder, refuse_unserved(request.method, gun));
    return;
  }

  if (tail.empty()) {
    if (request.method == "POST") {
      std::string actor;
      if (!authorize(Op::kPublish, start, request, responder, gun, {Access::kPush, Access::kPull},
                     &actor)) {
        return;
      }
      publish(std::move(request), std::move(responder), std::move(gun), start, std::move(actor));
    } else if (request.method == "DELETE") {
      std::string actor;
      if (!authorize(Op::kDelete, start, request, responder, gun, {Access::kAll}, &actor)) return;
      run_on_worker(Op::kDelete, start, std::move(responder),
                    [this, gun = std::move(gun), start, actor = std::move(actor),
                     source = request.remote_address](Responder& reply) {
        auto st = repository.delete_repository(gun);
        if (!st) {
          finish(Op::kDelete, start, reply, internal_error("delete " + gun, st.error(), kUpdating));
          return;
        }
        log::get("server")->info("deleted repository {}", gun);
        report_write(WriteEvent::Kind::kDelete, gun, actor, source);
        finish(Op::kDelete, start, reply, Response::text(200, "", "text/plain"));
      });
    } else {
      finish(Op::kNotFound, start, responder, error_response(kMethodNotAllowed));
    }
    return;
  }

  constexpr std::string_view kKey = ".key";
  if (tail.size() > kKey.size() && tail.substr(tail.size() - kKey.size()) == kKey) {
    const std::string role(tail.substr(0, tail.size() - kKey.size()));
    if (role != tuf::kTimestampRole && role != tuf::kSnapshotRole) {
      finish(Op::kGetKey, start, responder, error_response(kInvalidRole));
      return;
    }
    const bool rotate = request.method == "POST";
    if (!rotate && !is_get) {
      finish(Op::kGetKey, start, responder, error_response(kMethodNotAllowed));
      return;
    }
    const Op op = rotate ? Op::kRotateKey : Op::kGetKey;
    std::string actor;
    if (!authorize(op, start, request, responder, gun,
                   rotate ? std::vector<Access>{Access::kAll}
                          : std::vector<Access>{Access::kPush, Access::kPull},
                   &actor)) {
      return;
    }
    run_on_worker(op, start, std::move(responder),
                  [this, gun = std::move(gun), role, rotate, op, start, actor = std::move(actor),
                   source = request.remote_address](Responder& reply) {
      auto key = rotate ? repository.rotate_key(gun, role) : repository.get_or_create_key(gun, role);
      if (!key) {
        finish(op, start, reply,
               internal_error("key " + role + " for " + gun, key.error(), kNoCryptoService,
                              Backend::kSigner));
        return;
      }
      if (rotate) {
        report_write(WriteEvent::Kind::kRotateKey, gun, actor, source,
                     {{"role", role}, {"key_id", key->id()}});
      }
      finish(op, start, reply,
             Response::text(200, json::canonical(tuf::to_json(*key)), "application/json"));
    });
    return;
  }

  if (!is_get) {
    finish(Op::kNotFound, start, responder, error_response(kMethodNotAllowed));
    return;
  }
  const auto file = parse_file_name(tail);
  if (!file) {
    finish(Op::kNotFound, start, responder, error_response(kMetadataNotFound));
    return;
  }
  if (!authorize(file->op, start, request, responder, gun, {Access::kPull})) return;
  if (file->op == Op::kGetRole) {
    auto served = repository.get_current(gun, file->role);
    if (!served) {
      // kUnavailable: the store (nothing cached) or the signer (an expired timestamp) is
      // unreachable; 503 tells the client to retry.
      finish(file->op, start, responder,
             served.error().reason == Reason::kNotFound
                 ? error_response(kMetadataNotFound)
                 : internal_error("get " + gun + " " + file->role, served.error(),
                                  served.error().reason == Reason::kUnavailable ? kUnavailable
                                                                                : kUnknown));
      return;
    }
    const auto& f = **served;
    finish(file->op, start, responder,
           metadata_response(f.bytes, f.created, f.sha256_hex, current_cache_control));
    return;
  }
  auto stored = file->op == Op::kGetRoleByVersion
                    ? repository.get_version(gun, file->role, file->version)
                    : repository.get_checksum(gun, file->role, file->checksum);
  if (!stored) {
    finish(file->op, start, responder,
           stored.error().reason == Reason::kNotFound
               ? error_response(kMetadataNotFound)
               : internal_error("get " + gun + " " + file->role, stored.error()));
    return;
  }
  finish(file->op, start, responder,
         metadata_response(stored->bytes, stored->created, stored->sha256_hex,
                           consistent_cache_control));
}

void NotaryApi::Impl::publish(Request&& request, Responder responder, std::string gun,
                              std::chrono::steady_clock::time_point start, std::string actor) {
  const auto content_type = request.headers.get("Content-Type");
  auto form = net::parse_multipart_form(content_type.value_or(""), request.body);
  if (!form) {
    finish(Op::kPublish, start, responder,
           error_response(form.error().reason == Reason::kTooLarge ? kTooLargeUpload : kMalformedUpload));
    return;
  }
  std::vector<tuf::UploadPart> parts;
  parts.reserve(form->size());
  for (const auto& part : *form) {
    if (!part.has_filename || part.filename.empty()) {
      finish(Op::kPublish, start, responder, error_response(kNoFilename));
      return;
    }
    std::string_view role = part.filename;
    constexpr std::string_view kJson = ".json";
    if (role.size() > kJson.size() && role.substr(role.size() - kJson.size()) == kJson) {
      role.remove_suffix(kJson.size());
    }
    if (!tuf::is_valid_role_name(role)) {
      finish(Op::kPublish, start, responder, error_response(kInvalidRole));
      return;
    }
    parts.push_back({std::string(role), std::make_shared<const std::string>(part.body)});
  }
  if (parts.empty()) {
    finish(Op::kPublish, start, responder, error_response(kNoFilename));
    return;
  }
  // The parts copy the body: they hold its share of the server's body budget until done.
  run_on_worker(Op::kPublish, start, std::move(responder),
                [this, gun = std::move(gun), parts = std::move(parts),
                 budget = std::move(request.body_budget), start, actor = std::move(actor),
                 source = request.remote_address](Responder& reply) {
    auto st = repository.publish(gun, parts);
    if (!st) {
      const tuf::UpdateErrorClass cls = st.error().error_class;
      const bool old_version = cls == tuf::UpdateErrorClass::kOldVersion;
      if (cls == tuf::UpdateErrorClass::kInternal) {
        count_backend_error(st.error(), Backend::kStorage);
        log::get("server")->error("publish {}: {}", gun, st.error().message);
      } else {
        log::get("server")->info("publish {} rejected ({}): {}", gun, tuf::to_string(cls),
                                 st.error().message);
      }
      // The database is unreachable (not the signer, whose outage stays Notary's UPDATING):
      // nothing was written, and the client may retry once it is back.
      const bool store_down = cls == tuf::UpdateErrorClass::kInternal &&
                              st.error().reason == Reason::kUnavailable && !repository.health();
      finish(Op::kPublish, start, reply,
             store_down ? error_response(kUnavailable) : publish_error(st.error()),
             old_version ? Outcome::kOldVersion : Outcome::kFromStatus);
      return;
    }
    std::string roles;
    for (const auto& p : parts) roles.append(roles.empty() ? "" : ",").append(p.role);
    log::get("server")->info("published {} ({})", gun, roles);
    if (options.on_write) {
      // The versions, from the metadata the validator has just accepted.
      std::map<std::string, std::string> versions;
      for (const auto& p : parts) {
        auto doc = json::parse(*p.bytes);
        const json::Value* signed_part = doc ? doc->find("signed") : nullptr;
        const json::Value* v = signed_part != nullptr ? signed_part->find("version") : nullptr;
        versions[p.role] = v != nullptr && v->is_int() ? std::to_string(v->as_int()) : "?";
      }
      report_write(WriteEvent::Kind::kPublish, gun, actor, source, std::move(versions));
    }
    finish(Op::kPublish, start, reply, Response::text(200, "", "text/plain"));
  });
}

void NotaryApi::Impl::handle_changefeed(const Request& request, Responder& responder,
                                        std::string_view gun,
                                        std::chrono::steady_clock::time_point start) {
  if (request.method != "GET") {
    finish(Op::kChangefeed, start, responder, error_response(kMethodNotAllowed));
    return;
  }
  if (!gun.empty() && !gun_valid(gun)) {
    finish(Op::kChangefeed, start, responder, error_response(kMetadataNotFound));
    return;
  }
  if (!gun.empty() && !gun_allowed(gun)) {
    finish(Op::kChangefeed, start, responder, refuse_unserved(request.method, gun));
    return;
  }
  if (!authorize(Op::kChangefeed, start, request, responder, gun,
                 gun.empty() ? std::vector<Access>{Access::kCatalog}
                             : std::vector<Access>{Access::kPull})) {
    return;
  }
  const std::string_view change_id = query_param(request.query(), "change_id").value_or("0");
  int records = 0;
  if (auto r = query_param(request.query(), "records"); r && !r->empty()) {
    auto [p, ec] = std::from_chars(r->data(), r->data() + r->size(), records);
    if (ec != std::errc() || p != r->data() + r->size()) {
      finish(Op::kChangefeed, start, responder, error_response(kInvalidParams));
      return;
    }
  }
  auto changes = repository.changes(change_id, records, gun);
  if (!changes) {
    finish(Op::kChangefeed, start, responder,
           changes.error().code == Code::kInvalidArgument
               ? error_response(kInvalidParams)
               : internal_error("changefeed", changes.error()));
    return;
  }
  json::Array list;
  list.reserve(changes->size());
  for (const auto& c : *changes) {
    json::Object o;
    o.set("ID", std::to_string(c.id));
    o.set("CreatedAt", format_rfc3339(c.created));
    o.set("GUN", c.gun);
    o.set("Version", c.version);
    o.set("SHA256", c.sha256_hex);
    o.set("Category", std::string(to_string(c.category)));
    list.emplace_back(std::move(o));
  }
  json::Object body;
  body.set("count", static_cast<std::int64_t>(list.size()));
  body.set("records", std::move(list));
  finish(Op::kChangefeed, start, responder,
         Response::text(200, json::canonical(body), "application/json"));
}

net::Response transport_error_response(unsigned status) {
  try {
    switch (status) {
      case 413: return error_response(kTooLargeUpload);
      case 400:
      case 431: {
        ApiError e = kMalformedUpload;
        e.status = status;
        const std::string message(net::status_reason(status));
        e.message = message.c_str();
        return error_response(e);
      }
      case 503: return error_response(kUnavailable);
      default: {
        ApiError e = kUnknown;
        e.status = status;
        return error_response(e);
      }
    }
  } catch (...) {
    return Response::text(status, "", "application/json; charset=utf-8");
  }
}

NotaryApi::NotaryApi(Repository& repository, const Authorizer& authorizer, ApiOptions options,
                     std::shared_ptr<prometheus::Registry> registry)
    : impl_(std::make_unique<Impl>(repository, authorizer, std::move(options), std::move(registry))) {}

NotaryApi::~NotaryApi() = default;

void NotaryApi::handle(net::Request&& request, net::Responder responder) {
  impl_->handle(std::move(request), std::move(responder));
}

std::uint64_t NotaryApi::body_limit(const net::Request& head) const {
  if (head.method == "POST") {
    const auto path = head.path();
    constexpr std::string_view kTuf = "/_trust/tuf/";
    if (path.size() > kTuf.size() && path.substr(path.size() - kTuf.size()) == kTuf) {
      return impl_->options.max_publish_bytes;
    }
  }
  return 0;
}

void NotaryApi::set_transport_stats(std::function<net::HttpServerStats()> source) {
  std::lock_guard lock(impl_->transport_mu);
  impl_->transport_stats = std::move(source);
}

std::optional<net::Response> NotaryApi::check_head(const net::Request& head) const {
  return impl_->check_head(head);
}

void NotaryApi::drain() { impl_->workers.stop(); }

}  // namespace vouch::server
