#pragma once

// Verifier: the service behind every interface of vouch-verifier (the admission webhook, POST
// /v1/verify, gRPC Verify). It turns an image reference into a Decision by calling decide()
// (verifier/decide.h) with the policy in force and the trust data from the TrustCache, and an
// AdmissionRequest into an AdmissionResponse. Interfaces differ only in how they decode their
// input and encode this output.
//
// Policy. Held as std::shared_ptr<const Policy> and replaced atomically (set_policy): a
// request takes the pointer once and decides every image it carries under that one policy,
// so a reload never drops or splits a request. Until a policy is set the verifier is not
// ready, and every decision is a deny (kFailedPrecondition).
//
// Decision cache. decide() is pure, so its result is cached under (policy version, normalized
// reference, trust data generation): the generation names one verified TrustedSet (its
// versions and reference time), and a new fetch or a new policy simply misses. Decisions that
// need no trust data (allow/deny rules, unmatched images) are cached under (policy version,
// reference). Decisions made without trust data because it could not be obtained are not
// cached. A decision is made at the TrustCache's clock's now (member certificates are judged
// then, not when the trust data was fetched) and is served from the cache only before its
// valid_until. Bounded; least recently used entries go first.
//
// Logging. One line per image decision at the boundary, on the "verifier.decision" logger:
//   decision source=admission namespace=prod object=Deployment/web operation=CREATE
//     image=registry.example.com/prod/web:1.2 verdict=deny code=requirements_not_met
//     rule=production digest=sha256:... cached=false reason="..."
// Values that may contain spaces or quotes are quoted and escaped; the facade escapes control
// characters. Warn-mode denials log at warn level, enforced denials at info.
//
// Thread-safe: any number of threads may call verify(), verify_all() and review()
// concurrently with set_policy().

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "verifier/admission.h"
#include "verifier/decide.h"
#include "verifier/metrics.h"
#include "verifier/policy.h"
#include "verifier/roster_teams.h"
#include "verifier/trust_cache.h"

namespace vouch::verifier {

struct VerifierOptions {
  // Longest time one request may spend obtaining trust data, measured from its arrival. Keep
  // it below the webhook's timeoutSeconds (default 10 s) minus the time to answer. Default
  // 5 s. Interfaces apply it; the library takes explicit deadlines.
  std::chrono::milliseconds deadline{5'000};
  // Decisions kept in the decision cache. Default 10,000; 0 disables it.
  std::size_t decision_cache_entries = 10'000;
  // The webhook's mutation: rewrite a verified "name:tag" to "name:tag@sha256:<digest>"
  // (default: the validating webhook, which runs after the mutating one, then judges the tag
  // under the tag's rule and checks the digest; containerd pulls by digest either way), or
  // without keep_tag to "name@sha256:<digest>" (then judged as the tags that carry the
  // digest, decide.h).
  bool mutate_keep_tag = true;
  // UPDATE: verify every image of the new object (default true: a policy that tightened
  // applies to every object that changes, and an image admitted under an old policy is not
  // grandfathered in), or with false only the images that are not already in the old object
  // (the earlier behaviour: re-verifying unchanged images can block e.g. a finalizer removal
  // once a policy tightens, at the price of letting an object keep images the policy now
  // refuses).
  bool verify_unchanged_images = true;
};

// One image of a request, parsed, matched and given its trust section once (Verifier::plan),
// so that deciding it, checking whether it can be decided now, and pinning it for /mutate
// repeat none of that work.
struct ImagePlan {
  std::string text;        // the reference as written
  Result<ImageRef> image;  // parse_image_ref(text)
  // needs_trust(policy, image), and then the trust section that covers the image's GUN
  // (nullptr: none does, and the decision says so).
  bool needs_trust = false;
  const TrustSection* section = nullptr;
};

// The images of one request, planned under one policy, which the plan keeps alive: a request
// handed to a worker carries its plan, and is decided under that policy even if it is
// replaced in between. Immutable once made.
struct RequestPlan {
  std::shared_ptr<const Policy> policy;  // nullptr: no policy was loaded
  std::vector<ImagePlan> images;         // in the order given
};

// Who asks, for logs.
struct RequestContext {
  std::string source;  // "admission", "api", "grpc", "cli"
  std::string namespace_name;
  std::string object;  // "Deployment/web"
  std::string operation;
};

class Verifier {
 public:
  // `trust` and `metrics` (optional) must outlive the verifier.
  explicit Verifier(TrustCache& trust, VerifierOptions options = {},
                    VerifierMetrics* metrics = nullptr);

  // Replaces the policy (nullptr: not ready). Requests already running keep the policy they
  // took. Thread-safe.
  void set_policy(std::shared_ptr<const Policy> policy);
  std::shared_ptr<const Policy> policy() const;
  bool ready() const { return policy() != nullptr; }

  const VerifierOptions& options() const { return options_; }

  // Decides one image reference (as written; parsed and normalized here). Errors: the
  // reference does not parse (parse_image_ref's kMalformed, kTooLarge,
  // kUnsupportedAlgorithm); no policy is loaded (Code kFailedPrecondition, Reason
  // kUnavailable). Every other problem is a deny inside the Decision (trust data unavailable
  // or too slow: kTrustUnavailable).
  Result<Decision> verify(std::string_view image, const RequestContext& context,
                          Deadline deadline);

  // Several references under one policy and one deadline: the trust data of all of them is
  // requested first, so that fetches for different GUNs run in parallel. Results in input
  // order; equal inputs are decided once.
  std::vector<Result<Decision>> verify_all(std::span<const std::string> images,
                                           const RequestContext& context, Deadline deadline);

  // Answers an AdmissionReview: CREATE and UPDATE of a workload (admission.h) are allowed
  // when every image checked is admitted (kAllow or kWarn); DELETE and CONNECT are allowed
  // unchecked; a kind vouch does not inspect is denied (the webhook's rules should not send
  // it). A denied response carries status 403 with one sentence per denied image ("image
  // <ref> (containers a, b): <decision message>"), or status 500 when no policy is loaded.
  // Warn-mode admissions add a warning per image; audit-mode ones are only logged. With
  // `mutate`, every image admitted with code kSigned whose text differs from its pinned form
  // ("name:tag@sha256:<digest>", or "name@sha256:<digest>" without mutate_keep_tag or
  // without a tag; pinned_reference()) is rewritten by a JSON Patch. On UPDATE the images
  // checked are all of them, or with verify_unchanged_images false those not in the old
  // object.
  AdmissionResponse review(const AdmissionRequest& request, bool mutate, Deadline deadline);

  // Plans `images` (each parsed, matched and given its trust section once) under the policy in
  // force. plan(request) plans the images that review() checks (distinct, in order; DELETE
  // and CONNECT, and kinds vouch does not inspect, have none). Thread-safe; changes nothing.
  std::shared_ptr<const RequestPlan> plan(std::span<const std::string> images) const;
  std::shared_ptr<const RequestPlan> plan(const AdmissionRequest& request) const;

  // The same as verify_all() and review(), on a plan made by plan() (the plan's policy, not the
  // one in force now, decides). `plan` must have been made for `request`.
  std::vector<Result<Decision>> verify_all(const RequestPlan& plan, const RequestContext& context,
                                           Deadline deadline);
  AdmissionResponse review(const AdmissionRequest& request, const RequestPlan& plan,
                           bool mutate, Deadline deadline);

  // Whether deciding `plan` would answer without waiting for a trust server: every image is
  // decided by policy alone, does not parse, or has its trust data cached (TrustCache::ready).
  // Interfaces then answer on the connection's thread instead of handing the request (with its
  // plan) to a worker, which was a third of the cost of a cached decision. A cache lookup per
  // image; changes nothing.
  bool decidable_now(const RequestPlan& plan) const;

  // Decision cache statistics (tests, metrics).
  struct CacheStats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::size_t entries = 0;
  };
  CacheStats cache_stats() const;

 private:
  // The distinct images of `request` that review() checks, in order.
  std::vector<std::string> images_to_check(const AdmissionRequest& request) const;
  Result<Decision> decide_one(const Policy& policy, const ImagePlan& image,
                              const RequestContext& context, Deadline deadline);
  // A cached decision that is still valid at `now` (Decision::valid_until).
  std::optional<Decision> cache_get(const std::string& key, TimePoint now);
  void cache_put(const std::string& key, const Decision& decision);
  void log_decision(const RequestContext& context, std::string_view input,
                    const Result<Decision>& result, bool cached) const;

  TrustCache& trust_;
  VerifierOptions options_;
  VerifierMetrics* metrics_;
  RosterTeamsCache roster_teams_;  // teams_from (issue 15)

  mutable std::mutex policy_mu_;
  std::shared_ptr<const Policy> policy_;

  mutable std::mutex cache_mu_;
  std::list<std::pair<std::string, Decision>> lru_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, Decision>>::iterator> index_;
  CacheStats cache_stats_;
};

// The digest reference an admitted, signed image is rewritten to ("name@sha256:<hex>", or
// "name:tag@sha256:<hex>" with keep_tag), or "" when `decision` does not allow pinning
// (denied, or not kSigned, or no digest).
std::string pinned_reference(const Decision& decision, const ImageRef& image, bool keep_tag);

}  // namespace vouch::verifier
