#include "verifier/service.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "common/log.h"
#include "common/strings.h"

namespace vouch::verifier {
namespace {

std::shared_ptr<spdlog::logger> decision_logger() { return log::get("verifier.decision"); }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A log value: bare when it is a simple token, else quoted with '"' and '\' escaped.
std::string kv(std::string_view value) {
  const bool bare = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
    return c == ' ' || c == '"' || c == '\\' || c == '=' || static_cast<unsigned char>(c) < 0x20;
  });
  if (bare) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string pinned_reference(const Decision& decision, const ImageRef& image, bool keep_tag) {
  if (decision.verdict == Verdict::kDeny || decision.code != DecisionCode::kSigned) return "";
  if (decision.digest.rfind("sha256:", 0) != 0) return "";
  std::string out = image.name();
  if (keep_tag && image.has_tag()) out += ":" + image.tag;
  return out + "@" + decision.digest;
}

Verifier::Verifier(TrustCache& trust, VerifierOptions options, VerifierMetrics* metrics)
    : trust_(trust), options_(std::move(options)), metrics_(metrics) {}

void Verifier::set_policy(std::shared_ptr<const Policy> policy) {
  std::lock_guard lock(policy_mu_);
  policy_ = std::move(policy);
}

std::shared_ptr<const Policy> Verifier::policy() const {
  std::lock_guard lock(policy_mu_);
  return policy_;
}

std::optional<Decision> Verifier::cache_get(const std::string& key, TimePoint now) {
  std::lock_guard lock(cache_mu_);
  auto it = index_.find(key);
  if (it != index_.end() && it->second->second.valid_until &&
      now >= *it->second->second.valid_until) {
    // A member certificate expired (or became valid) since: decide again.
    lru_.erase(it->second);
    index_.erase(it);
    it = index_.end();
  }
  if (it == index_.end()) {
    ++cache_stats_.misses;
    return std::nullopt;
  }
  ++cache_stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void Verifier::cache_put(const std::string& key, const Decision& decision) {
  if (options_.decision_cache_entries == 0) return;
  std::lock_guard lock(cache_mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->second = decision;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(key, decision);
  index_.emplace(key, lru_.begin());
  while (lru_.size() > options_.decision_cache_entries) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

Verifier::CacheStats Verifier::cache_stats() const {
  std::lock_guard lock(cache_mu_);
  CacheStats s = cache_stats_;
  s.entries = lru_.size();
  return s;
}

void Verifier::log_decision(const RequestContext& context, std::string_view input,
                            const Result<Decision>& result, bool cached) const {
  auto log = decision_logger();
  const std::string head = "decision source=" + kv(context.source) +
                           " namespace=" + kv(context.namespace_name) +
                           " object=" + kv(context.object) + " operation=" + kv(context.operation);
  if (!result) {
    log->info("{} image={} verdict=deny code=invalid_reference reason={}", head, kv(input),
              kv(result.error().message));
    return;
  }
  const Decision& d = *result;
  const std::string line = head + " image=" + kv(d.image) + " verdict=" +
                           std::string(to_string(d.verdict)) + " code=" +
                           std::string(to_string(d.code)) + " mode=" +
                           std::string(to_string(d.mode)) + " rule=" + kv(d.rule) +
                           " digest=" + kv(d.digest) + " trust_version=" +
                           std::to_string(d.trust_version) +
                           " cached=" + (cached ? "true" : "false") + " reason=" + kv(d.message);
  if (d.verdict == Verdict::kWarn) {
    log->warn("{}", line);
  } else {
    log->info("{}", line);
  }
}

std::shared_ptr<const RequestPlan> Verifier::plan(std::span<const std::string> images) const {
  auto out = std::make_shared<RequestPlan>();
  out->policy = policy();
  out->images.reserve(images.size());
  for (const std::string& text : images) {
    ImagePlan& p = out->images.emplace_back(ImagePlan{text, parse_image_ref(text)});
    if (!out->policy || !p.image) continue;
    p.needs_trust = needs_trust(*out->policy, *p.image);
    if (p.needs_trust) p.section = out->policy->trust_for(p.image->gun());
  }
  return out;
}

std::shared_ptr<const RequestPlan> Verifier::plan(const AdmissionRequest& request) const {
  const bool checked = (request.operation == "CREATE" || request.operation == "UPDATE") &&
                       request.workload;
  return plan(checked ? images_to_check(request) : std::vector<std::string>());
}

Result<Decision> Verifier::decide_one(const Policy& policy, const ImagePlan& plan,
                                      const RequestContext& context, Deadline deadline) {
  const auto started = std::chrono::steady_clock::now();
  if (!plan.image) {
    Result<Decision> failed = plan.image.error();
    log_decision(context, plan.text, failed, false);
    if (metrics_ != nullptr) metrics_->invalid_reference(seconds_since(started));
    return failed;
  }
  const ImageRef& image = *plan.image;
  std::string key = policy.version() + '\n' + image.str() + '\n';

  std::shared_ptr<const TrustData> data;
  Result<const tuf::TrustedSet*> trust = static_cast<const tuf::TrustedSet*>(nullptr);
  bool cacheable = true;
  if (plan.needs_trust) {
    if (plan.section == nullptr) {
      trust = make_error(Reason::kNotFound,
                         "no trust section of the policy covers " + image.gun());
      cacheable = false;
    } else {
      auto got = trust_.get(*plan.section, image, deadline);
      if (got) {
        data = std::move(*got);
        trust = &data->set;
        key += std::to_string(data->generation);
      } else {
        trust = std::move(got).error();
        cacheable = false;
      }
    }
  }

  // Teams from signed rosters (teams_from): fetched like trust data; a roster that cannot be
  // had denies like missing trust data.
  const Policy* deciding = &policy;
  std::shared_ptr<const Policy> with_rosters;
  if (plan.needs_trust && trust.ok()) {
    auto resolved = roster_teams_.resolve(policy, rosters_needed(policy, image), trust_, deadline);
    if (!resolved) {
      trust = std::move(resolved).error();
      cacheable = false;
    } else if (*resolved) {
      with_rosters = std::move(*resolved);
      deciding = with_rosters.get();
      key = with_rosters->version() + key.substr(policy.version().size());
    }
  }

  // The decision's time: trust data is reused for a while, certificates are judged now.
  const TimePoint now = trust_.clock().now();
  bool cached = false;
  Decision decision;
  if (cacheable && options_.decision_cache_entries > 0) {
    if (auto hit = cache_get(key, now)) {
      decision = std::move(*hit);
      cached = true;
    }
    if (metrics_ != nullptr) metrics_->decision_cache(cached);
  }
  if (!cached) {
    decision = decide_image(*deciding, image, trust, now);
    if (cacheable) cache_put(key, decision);
  }
  Result<Decision> out = std::move(decision);
  log_decision(context, plan.text, out, cached);
  if (metrics_ != nullptr) metrics_->decision(*out, seconds_since(started));
  return out;
}

namespace {

Error no_policy() {
  return make_error(Code::kFailedPrecondition, Reason::kUnavailable,
                    "vouch-verifier has no policy loaded yet");
}

}  // namespace

Result<Decision> Verifier::verify(std::string_view image, const RequestContext& context,
                                  Deadline deadline) {
  const std::string text(image);
  const auto planned = plan(std::span<const std::string>(&text, 1));
  if (!planned->policy) return no_policy();
  return decide_one(*planned->policy, planned->images.front(), context, deadline);
}

std::vector<Result<Decision>> Verifier::verify_all(const RequestPlan& plan,
                                                   const RequestContext& context,
                                                   Deadline deadline) {
  std::vector<Result<Decision>> out;
  out.reserve(plan.images.size());
  if (!plan.policy) {
    for (std::size_t i = 0; i < plan.images.size(); ++i) out.emplace_back(no_policy());
    return out;
  }
  // Start every fetch first, so that GUNs are fetched in parallel (one image: nothing to
  // overlap).
  if (plan.images.size() > 1) {
    for (const ImagePlan& image : plan.images) {
      if (image.section != nullptr) trust_.prefetch(*image.section, *image.image);
    }
  }
  std::map<std::string_view, std::size_t> seen;
  for (std::size_t i = 0; i < plan.images.size(); ++i) {
    auto [it, inserted] = seen.emplace(plan.images[i].text, i);
    if (!inserted) {
      out.push_back(out[it->second]);
      continue;
    }
    out.push_back(decide_one(*plan.policy, plan.images[i], context, deadline));
  }
  return out;
}

std::vector<Result<Decision>> Verifier::verify_all(std::span<const std::string> images,
                                                   const RequestContext& context,
                                                   Deadline deadline) {
  return verify_all(*plan(images), context, deadline);
}

std::vector<std::string> Verifier::images_to_check(const AdmissionRequest& request) const {
  // All of them, or on UPDATE those not already in the old object.
  std::set<std::string_view> unchanged;
  if (request.operation == "UPDATE" && !options_.verify_unchanged_images) {
    unchanged.insert(request.old_images.begin(), request.old_images.end());
  }
  std::vector<std::string> to_check;
  std::set<std::string_view> seen;
  for (const auto& c : request.images) {
    if (unchanged.count(c.image) != 0) continue;
    if (seen.insert(c.image).second) to_check.push_back(c.image);
  }
  return to_check;
}

bool Verifier::decidable_now(const RequestPlan& plan) const {
  for (const ImagePlan& image : plan.images) {
    if (image.section != nullptr && !trust_.ready(*image.section, *image.image)) return false;
  }
  return true;
}

AdmissionResponse Verifier::review(const AdmissionRequest& request, bool mutate,
                                   Deadline deadline) {
  return review(request, *plan(request), mutate, deadline);
}

AdmissionResponse Verifier::review(const AdmissionRequest& request, const RequestPlan& plan,
                                   bool mutate, Deadline deadline) {
  AdmissionResponse response;
  response.uid = request.uid;
  if (request.operation != "CREATE" && request.operation != "UPDATE") {
    response.allowed = true;
    return response;
  }
  if (!request.workload) {
    response.allowed = false;
    response.status_code = 403;
    response.message = "vouch-verifier does not inspect objects of kind " +
                       (request.group.empty() ? "" : request.group + "/") + request.kind +
                       ": remove it from the webhook's rules";
    return response;
  }
  if (!plan.policy) {
    response.allowed = false;
    response.status_code = 500;
    response.status_reason = "InternalError";
    response.message = "vouch-verifier has no policy loaded yet";
    return response;
  }

  RequestContext context;
  context.source = "admission";
  context.namespace_name = request.namespace_name;
  context.object = request.kind + "/" + request.name;
  context.operation = request.operation;
  // Every image of one review is decided under the one policy its plan holds.
  const std::vector<Result<Decision>> results = verify_all(plan, context, deadline);

  // One sentence per denied image, naming its containers; the pinned reference of each
  // admitted, signed image.
  std::vector<std::string> denials;
  std::map<std::string_view, std::string> pinned;
  for (std::size_t i = 0; i < plan.images.size(); ++i) {
    const std::string& text = plan.images[i].text;
    std::vector<std::string> containers;
    for (const auto& c : request.images) {
      if (c.image == text) {
        containers.push_back(c.container.empty() ? std::string(to_string(c.kind)) : c.container);
      }
    }
    const std::string where = "image " + text + " (" +
                              (containers.size() == 1 ? "container " : "containers ") +
                              join(containers, ", ") + ")";
    const Result<Decision>& r = results[i];
    if (!r) {
      denials.push_back(where + ": not a valid image reference: " + r.error().message);
      continue;
    }
    const Decision& d = *r;
    if (d.verdict == Verdict::kDeny) {
      denials.push_back(where + ": " + d.message);
      continue;
    }
    if (d.verdict == Verdict::kWarn && d.mode == Mode::kWarn) {
      response.warnings.push_back(where + ": " + d.message);
    }
    if (mutate) {
      // A decision (not an error) means the reference parsed.
      std::string to = pinned_reference(d, *plan.images[i].image, options_.mutate_keep_tag);
      if (!to.empty() && to != text) pinned.emplace(text, std::move(to));
    }
  }
  std::vector<ImagePatch> patches;
  for (const auto& c : request.images) {
    auto it = pinned.find(c.image);
    if (it != pinned.end()) patches.push_back({c.pointer, c.image, it->second});
  }
  if (!denials.empty()) {
    response.allowed = false;
    response.status_code = 403;
    response.status_reason = "Forbidden";
    response.message = join(denials, "; ");
    return response;
  }
  response.allowed = true;
  if (mutate && !patches.empty()) response.patch = json_patch(patches);
  return response;
}

}  // namespace vouch::verifier
