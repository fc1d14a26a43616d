#include "verifier/service.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "common/log.h"

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

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
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

Result<Decision> Verifier::decide_one(const Policy& policy, std::string_view text,
                                      const RequestContext& context, Deadline deadline) {
  const auto started = std::chrono::steady_clock::now();
  auto image = parse_image_ref(text);
  if (!image) {
    Result<Decision> failed = std::move(image).error();
    log_decision(context, text, failed, false);
    if (metrics_ != nullptr) metrics_->invalid_reference(seconds_since(started));
    return failed;
  }
  const std::string ref = image->str();

  std::shared_ptr<const TrustData> data;
  Result<const tuf::TrustedSet*> trust = static_cast<const tuf::TrustedSet*>(nullptr);
  std::string key = policy.version() + '\n' + ref + '\n';
  bool cacheable = true;
  if (needs_trust(policy, *image)) {
    const TrustSection* section = policy.trust_for(image->gun());
    if (section == nullptr) {
      trust = make_error(Reason::kNotFound,
                         "no trust section of the policy covers " + image->gun());
      cacheable = false;
    } else {
      auto got = trust_.get(*section, *image, deadline);
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
    decision = decide_image(policy, *image, trust, now);
    if (cacheable) cache_put(key, decision);
  }
  Result<Decision> out = std::move(decision);
  log_decision(context, text, out, cached);
  if (metrics_ != nullptr) metrics_->decision(*out, seconds_since(started));
  return out;
}

Result<Decision> Verifier::verify(std::string_view image, const RequestContext& context,
                                  Deadline deadline) {
  std::shared_ptr<const Policy> p = policy();
  if (!p) {
    return make_error(Code::kFailedPrecondition, Reason::kUnavailable,
                      "vouch-verifier has no policy loaded yet");
  }
  return decide_one(*p, image, context, deadline);
}

std::vector<Result<Decision>> Verifier::decide_many(const Policy& policy,
                                                    std::span<const std::string> images,
                                                    const RequestContext& context,
                                                    Deadline deadline) {
  // Start every fetch first, so that GUNs are fetched in parallel (one image: nothing to
  // overlap, and parsing and matching it twice is a tenth of a cached decision).
  for (const auto& text : images.size() > 1 ? images : std::span<const std::string>()) {
    auto image = parse_image_ref(text);
    if (!image) continue;
    if (!needs_trust(policy, *image)) continue;
    if (const TrustSection* section = policy.trust_for(image->gun())) {
      trust_.prefetch(*section, *image);
    }
  }
  std::vector<Result<Decision>> out;
  out.reserve(images.size());
  std::map<std::string_view, std::size_t> seen;
  for (std::size_t i = 0; i < images.size(); ++i) {
    auto [it, inserted] = seen.emplace(images[i], i);
    if (!inserted) {
      out.push_back(out[it->second]);
      continue;
    }
    out.push_back(decide_one(policy, images[i], context, deadline));
  }
  return out;
}

std::vector<Result<Decision>> Verifier::verify_all(std::span<const std::string> images,
                                                   const RequestContext& context,
                                                   Deadline deadline) {
  std::shared_ptr<const Policy> p = policy();
  if (!p) {
    std::vector<Result<Decision>> out;
    for (std::size_t i = 0; i < images.size(); ++i) {
      out.emplace_back(make_error(Code::kFailedPrecondition, Reason::kUnavailable,
                                  "vouch-verifier has no policy loaded yet"));
    }
    return out;
  }
  return decide_many(*p, images, context, deadline);
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

bool Verifier::decidable_now(const Policy& policy, std::string_view text) const {
  auto image = parse_image_ref(text);
  if (!image) return true;
  if (!needs_trust(policy, *image)) return true;
  const TrustSection* section = policy.trust_for(image->gun());
  return section == nullptr || trust_.ready(*section, *image);
}

bool Verifier::decidable_now(std::string_view image) const {
  std::shared_ptr<const Policy> p = policy();
  return !p || decidable_now(*p, image);
}

bool Verifier::decidable_now(const AdmissionRequest& request) const {
  if (request.operation != "CREATE" && request.operation != "UPDATE") return true;
  if (!request.workload) return true;
  std::shared_ptr<const Policy> p = policy();
  if (!p) return true;
  for (const std::string& image : images_to_check(request)) {
    if (!decidable_now(*p, image)) return false;
  }
  return true;
}

AdmissionResponse Verifier::review(const AdmissionRequest& request, bool mutate,
                                   Deadline deadline) {
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
  std::shared_ptr<const Policy> p = policy();
  if (!p) {
    response.allowed = false;
    response.status_code = 500;
    response.status_reason = "InternalError";
    response.message = "vouch-verifier has no policy loaded yet";
    return response;
  }

  const std::vector<std::string> to_check = images_to_check(request);
  RequestContext context;
  context.source = "admission";
  context.namespace_name = request.namespace_name;
  context.object = request.kind + "/" + request.name;
  context.operation = request.operation;
  // Every image of one review is decided under the one policy taken above.
  const std::vector<Result<Decision>> results = decide_many(*p, to_check, context, deadline);

  // One sentence per denied image, naming its containers; the pinned reference of each
  // admitted, signed image.
  std::vector<std::string> denials;
  std::map<std::string_view, std::string> pinned;
  for (std::size_t i = 0; i < to_check.size(); ++i) {
    std::vector<std::string> containers;
    for (const auto& c : request.images) {
      if (c.image == to_check[i]) {
        containers.push_back(c.container.empty() ? std::string(to_string(c.kind)) : c.container);
      }
    }
    const std::string where = "image " + to_check[i] + " (" +
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
      auto image = parse_image_ref(to_check[i]);
      std::string to = image ? pinned_reference(d, *image, options_.mutate_keep_tag) : "";
      if (!to.empty() && to != to_check[i]) pinned.emplace(to_check[i], std::move(to));
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
