#pragma once

// The HTTPS interface of vouch-verifier, on the common/net HttpServer (one port, TLS):
//
//   POST /validate    AdmissionReview v1 -> AdmissionReview v1 (ValidatingWebhookConfiguration)
//   POST /mutate      AdmissionReview v1 -> AdmissionReview v1 with a JSON Patch that pins
//                     each verified image to its digest (MutatingWebhookConfiguration)
//   POST /v1/verify   {"image": "<ref>", "namespace": "<ns>"} -> decision JSON (below)
//   GET  /healthz     200 "ok" while the process runs
//   GET  /readyz      200 "ok" once a policy is loaded, else 503
//
// A handler decodes, calls one Verifier function, and encodes. Decisions may wait for trust
// data, so handlers never run on the server's io threads: each request is handed to a
// WorkQueue of workers, with a deadline of arrival + VerifierOptions::deadline. A full queue
// answers 503 at once (the apiserver then applies the webhook's failurePolicy: Fail denies).
//
// Errors, one table (error_status): a body that is not what the endpoint takes -> 400 with a
// JSON {"error": {"code": "<reason>", "message": "..."}} naming the problem (the body is the
// caller's own input, so its problems may be described); kTooLarge -> 413; a verifier without
// a policy -> 503; anything unexpected -> 500 with a generic message (details only in the
// log). Unknown paths -> 404; known paths with another method -> 405 (with Allow). The server
// itself answers oversized bodies with 413 before the handler runs (body_limit()).
//
// Decision JSON (POST /v1/verify; also the shape of the gRPC response):
//   {"image": normalized reference, "allowed": bool, "verdict": "allow"|"deny"|"warn",
//    "code": DecisionCode name, "mode": "enforce"|"warn"|"audit", "rule": "...",
//    "pattern": "...", "gun": "...", "digest": "sha256:..." | "", "length": N,
//    "message": "...", "policy_version": "...", "trust_version": N,
//    "signers": [{"role", "key_id", "member", "teams": [...], "counted": bool, "note"}],
//    "requirements": [{"requirement", "met": bool, "members": [...]}],
//    "role_issues": [{"role", "reason", "message"}],
//    "trust_error": {"code": gRPC code name, "reason": Reason name} (only when set)}
// An image that does not parse is 400 {"error": {"code": "malformed", ...}}.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/http_server.h"
#include "common/result.h"
#include "verifier/admission.h"
#include "verifier/decide.h"
#include "verifier/metrics.h"
#include "verifier/service.h"
#include "common/work_queue.h"

namespace vouch::verifier {

struct HttpApiOptions {
  AdmissionLimits admission;
  // Body limit of POST /v1/verify. Default 16 KiB.
  std::size_t max_verify_body_bytes = 16 * 1024;
  // Worker threads and requests that may wait for one. Defaults 8 and 256.
  unsigned workers = 8;
  std::size_t max_queued = 256;
};

// The decision JSON above (JSON text).
std::string decision_json(const Decision& decision);

// The HTTP status for an Error (the table above).
unsigned error_status(const Error& error);

class HttpApi {
 public:
  // `verifier` and `metrics` (optional) must outlive the API.
  HttpApi(Verifier& verifier, HttpApiOptions options = {}, VerifierMetrics* metrics = nullptr);
  // stop().
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // For HttpServerOptions::body_limit: the body limit of a request from its head.
  std::uint64_t body_limit(const net::Request& head) const;

  // For net::HttpServer: answers on the calling (connection) thread what needs no trust
  // server (probes, bad requests, decisions from cached trust data: Verifier::decidable_now),
  // and hands every other request to a worker (or answers 503 when all are busy).
  void handle(net::Request&& request, net::Responder responder);

  // Serves one request synchronously on the calling thread (what a worker runs; tests call
  // it directly). Never throws.
  net::Response serve(const net::Request& request, Deadline deadline);

  // Lets queued requests finish and stops the workers. Call after the server has stopped
  // accepting requests. Idempotent.
  void stop();

 private:
  // A request's answer now, or (only with `now_only`, when the answer would wait for trust
  // data) the work that makes it later: the request already decoded and its images planned
  // (Verifier::plan), so a worker neither parses nor matches anything again.
  struct Answer {
    Answer(net::Response response) : now(std::move(response)) {}  // NOLINT: implicit on purpose
    explicit Answer(std::function<net::Response()> work) : later(std::move(work)) {}
    std::optional<net::Response> now;
    std::function<net::Response()> later;
  };
  Answer dispatch(const net::Request& request, Deadline deadline, bool now_only);
  Answer serve_review(const net::Request& request, bool mutate, Deadline deadline,
                      bool now_only);
  Answer serve_verify(const net::Request& request, Deadline deadline, bool now_only);

  Verifier& verifier_;
  HttpApiOptions options_;
  VerifierMetrics* metrics_;
  WorkQueue workers_;
};

}  // namespace vouch::verifier
