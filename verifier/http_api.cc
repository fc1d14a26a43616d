#include "verifier/http_api.h"

#include <boost/json.hpp>

#include <exception>
#include <utility>

#include "common/log.h"

namespace vouch::verifier {
namespace {

namespace bj = boost::json;

std::shared_ptr<spdlog::logger> logger() { return log::get("verifier.http"); }

constexpr std::string_view kJson = "application/json";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

net::Response json_response(unsigned status, std::string body) {
  return net::Response::text(status, std::move(body), kJson);
}

// {"error": {"code": "<reason>", "message": "..."}}. `message` must be fit for the peer.
net::Response error_response(unsigned status, std::string_view code, std::string_view message) {
  bj::object e{{"code", code}, {"message", message}};
  return json_response(status, bj::serialize(bj::object{{"error", std::move(e)}}));
}

// The peer sees the message only for problems of its own input; everything else is generic.
net::Response from_error(const Error& error) {
  const unsigned status = error_status(error);
  if (status >= 500) {
    logger()->error("request failed: code={} reason={} detail={}", to_string(error.code),
                    to_string(error.reason), error.message);
    return error_response(status, to_string(error.reason),
                          status == 503 ? "the verifier is not ready" : "internal error");
  }
  return error_response(status, to_string(error.reason), error.message);
}

std::string_view endpoint_of(std::string_view path) {
  if (path == "/validate") return "validate";
  if (path == "/mutate") return "mutate";
  if (path == "/v1/verify") return "verify";
  return "other";
}

bool is_json_content(const net::Request& request) {
  const std::string_view type = request.headers.get_or("Content-Type", "");
  const std::string_view media = type.substr(0, type.find(';'));
  return net::iequals(media, "application/json");
}

bj::array strings(const std::vector<std::string>& items) {
  bj::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

}  // namespace

unsigned error_status(const Error& error) {
  if (error.reason == Reason::kTooLarge) return 413;
  static constexpr std::pair<Code, unsigned> kStatus[] = {
      {Code::kInvalidArgument, 400}, {Code::kOutOfRange, 400}, {Code::kNotFound, 404},
      {Code::kFailedPrecondition, 503}, {Code::kUnavailable, 503},
      {Code::kResourceExhausted, 503}, {Code::kDeadlineExceeded, 504}};
  for (const auto& [code, status] : kStatus) {
    if (code == error.code) return status;
  }
  return 500;
}

std::string decision_json(const Decision& d) {
  bj::object o;
  o["image"] = d.image;
  if (!d.tag.empty()) o["tag"] = d.tag;
  o["allowed"] = d.admitted();
  o["verdict"] = to_string(d.verdict);
  o["code"] = to_string(d.code);
  o["mode"] = to_string(d.mode);
  o["rule"] = d.rule;
  o["pattern"] = d.pattern;
  o["gun"] = d.gun;
  o["digest"] = d.digest;
  o["length"] = d.length;
  o["message"] = d.message;
  o["policy_version"] = d.policy_version;
  o["trust_version"] = d.trust_version;
  bj::array signers;
  for (const auto& s : d.signers) {
    signers.push_back(bj::object{{"role", s.role},
                                 {"key_id", s.key_id},
                                 {"member", s.member},
                                 {"teams", strings(s.teams)},
                                 {"counted", s.counted},
                                 {"note", s.note}});
  }
  o["signers"] = std::move(signers);
  bj::array requirements;
  for (const auto& r : d.requirements) {
    requirements.push_back(bj::object{
        {"requirement", r.requirement}, {"met", r.met}, {"members", strings(r.members)}});
  }
  o["requirements"] = std::move(requirements);
  bj::array issues;
  for (const auto& i : d.role_issues) {
    issues.push_back(
        bj::object{{"role", i.role}, {"reason", to_string(i.reason)}, {"message", i.message}});
  }
  o["role_issues"] = std::move(issues);
  if (d.trust_error) {
    o["trust_error"] = bj::object{{"code", to_string(d.trust_error->code)},
                                  {"reason", to_string(d.trust_error->reason)}};
  }
  return bj::serialize(o);
}

HttpApi::HttpApi(Verifier& verifier, HttpApiOptions options, VerifierMetrics* metrics)
    : verifier_(verifier),
      options_(std::move(options)),
      metrics_(metrics),
      workers_(options_.workers, options_.max_queued, "http", "verifier") {}

HttpApi::~HttpApi() { stop(); }

void HttpApi::stop() { workers_.stop(); }

std::uint64_t HttpApi::body_limit(const net::Request& head) const {
  if (head.method != "POST") return 0;
  const std::string_view path = head.path();
  if (path == "/validate" || path == "/mutate") return options_.admission.max_body_bytes;
  if (path == "/v1/verify") return options_.max_verify_body_bytes;
  return 0;
}

void HttpApi::handle(net::Request&& request, net::Responder responder) {
  const auto arrived = std::chrono::steady_clock::now();
  const std::string_view path = request.path();
  // Probes are answered inline: they must not queue behind slow decisions.
  if (request.method == "GET" && (path == "/healthz" || path == "/readyz")) {
    responder.respond(serve(request, arrived));
    return;
  }
  const Deadline deadline = arrived + verifier_.options().deadline;
  Answer answer = dispatch(request, deadline, /*now_only=*/true);
  if (answer.now) {
    responder.respond(std::move(*answer.now));
    return;
  }
  // std::function needs copyable callables; the responder is move-only.
  auto resp = std::make_shared<net::Responder>(std::move(responder));
  const bool queued = workers_.post([later = std::move(answer.later), resp] {
    resp->respond(later());
  });
  if (!queued) {
    if (metrics_ != nullptr) metrics_->request(endpoint_of(path), 503, 0);
    logger()->warn("busy: request refused path={}", std::string(path));
    resp->respond(error_response(503, "unavailable", "the verifier is busy, try again"));
  }
}

net::Response HttpApi::serve(const net::Request& request, Deadline deadline) {
  Answer answer = dispatch(request, deadline, /*now_only=*/false);
  return answer.now ? std::move(*answer.now) : answer.later();
}

HttpApi::Answer HttpApi::dispatch(const net::Request& request, Deadline deadline,
                                  bool now_only) {
  const auto started = std::chrono::steady_clock::now();
  const std::string_view path = request.path();
  std::optional<net::Response> response;
  try {
    if (path == "/healthz" || path == "/readyz") {
      if (request.method != "GET" && request.method != "HEAD") {
        response = error_response(405, "method_not_allowed", "use GET");
        response->headers.set("Allow", "GET, HEAD");
      } else if (path == "/readyz" && !verifier_.ready()) {
        response = net::Response::text(503, "not ready: no policy loaded\n");
      } else {
        response = net::Response::text(200, "ok\n");
      }
      return std::move(*response);
    }
    if (path == "/validate" || path == "/mutate" || path == "/v1/verify") {
      if (request.method != "POST") {
        response = error_response(405, "method_not_allowed", "use POST");
        response->headers.set("Allow", "POST");
      } else if (!is_json_content(request)) {
        response = error_response(415, "unsupported_media_type",
                                  "the body must be application/json");
      } else {
        Answer answer = path == "/v1/verify"
                            ? serve_verify(request, deadline, now_only)
                            : serve_review(request, path == "/mutate", deadline, now_only);
        if (answer.now) {
          response = std::move(answer.now);
        } else {
          // Counted when the worker has answered; a throw there is answered like one here.
          const std::string_view endpoint = endpoint_of(path);
          return Answer([this, endpoint, started, work = std::move(answer.later)] {
                    net::Response r;
                    try {
                      r = work();
                    } catch (const std::exception& e) {
                      logger()->error("unexpected exception endpoint={}: {}",
                                      std::string(endpoint), e.what());
                      r = error_response(500, "internal", "internal error");
                    } catch (...) {
                      logger()->error("unexpected exception endpoint={}", std::string(endpoint));
                      r = error_response(500, "internal", "internal error");
                    }
                    if (metrics_ != nullptr) {
                      metrics_->request(endpoint, r.status, seconds_since(started));
                    }
                    return r;
                  });
        }
      }
    } else {
      response = error_response(404, "not_found", "no such endpoint");
    }
  } catch (const std::exception& e) {
    logger()->error("unexpected exception path={}: {}", std::string(path), e.what());
    response = error_response(500, "internal", "internal error");
  } catch (...) {
    logger()->error("unexpected exception path={}", std::string(path));
    response = error_response(500, "internal", "internal error");
  }
  if (metrics_ != nullptr) {
    metrics_->request(endpoint_of(path), response->status, seconds_since(started));
  }
  return std::move(*response);
}

HttpApi::Answer HttpApi::serve_review(const net::Request& request, bool mutate,
                                      Deadline deadline, bool now_only) {
  auto parsed = parse_admission_review(request.body, options_.admission);
  if (!parsed) {
    logger()->info("malformed AdmissionReview from {}: {}", request.remote_address,
                   parsed.error().message);
    return from_error(parsed.error());
  }
  auto review = std::make_shared<const AdmissionRequest>(std::move(*parsed));
  std::shared_ptr<const RequestPlan> plan = verifier_.plan(*review);
  auto decide = [this, review, plan, mutate, deadline] {
    return json_response(200,
                         encode_admission_review(verifier_.review(*review, *plan, mutate, deadline)));
  };
  if (now_only && !verifier_.decidable_now(*plan)) return Answer(std::move(decide));
  return decide();
}

HttpApi::Answer HttpApi::serve_verify(const net::Request& request, Deadline deadline,
                                      bool now_only) {
  if (request.body.size() > options_.max_verify_body_bytes) {
    return from_error(make_error(Reason::kTooLarge,
                                 "the body is larger than " +
                                     std::to_string(options_.max_verify_body_bytes) + " bytes"));
  }
  // Boost.JSON, as every HTTP/JSON API (issue 13, item 7): {"image": "...", "namespace": ...}.
  bj::parse_options parse_options;
  parse_options.max_depth = 4;
  bj::error_code ec;
  const bj::value doc =
      bj::parse(bj::string_view(request.body.data(), request.body.size()), ec, {}, parse_options);
  if (ec) {
    return error_response(400, "malformed", "the body is not JSON (" + ec.message() + ")");
  }
  if (!doc.is_object()) {
    return error_response(400, "malformed", "the body must be a JSON object");
  }
  std::string image;
  RequestContext context;
  context.source = "api";
  for (const auto& member : doc.get_object()) {
    const std::string key(member.key());
    const bj::value& value = member.value();
    if (key == "image" && value.is_string()) {
      image = std::string(value.get_string());
    } else if (key == "namespace" && (value.is_string() || value.is_null())) {
      if (value.is_string()) context.namespace_name = std::string(value.get_string());
    } else if (key == "image" || key == "namespace") {
      return error_response(400, "malformed", "\"" + key + "\" must be a string");
    } else {
      return error_response(400, "malformed", "unknown field \"" + key + "\"");
    }
  }
  if (image.empty()) return error_response(400, "malformed", "\"image\" is required");
  const std::string images[] = {std::move(image)};
  std::shared_ptr<const RequestPlan> plan = verifier_.plan(images);
  auto decide = [this, plan, context = std::move(context), deadline]() -> net::Response {
    const auto decisions = verifier_.verify_all(*plan, context, deadline);
    const Result<Decision>& decision = decisions.front();
    if (!decision) {
      // Not ready, or the caller's reference does not parse (its own input: say why).
      if (decision.error().code == Code::kFailedPrecondition) return from_error(decision.error());
      return error_response(400, to_string(decision.error().reason), decision.error().message);
    }
    return json_response(200, decision_json(*decision));
  };
  if (now_only && !verifier_.decidable_now(*plan)) return Answer(std::move(decide));
  return decide();
}

}  // namespace vouch::verifier
