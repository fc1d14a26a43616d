#include "verifier/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <exception>
#include <string>

#include "common/net/metric_families.h"

namespace vouch::verifier {
namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

}  // namespace

Result<std::unique_ptr<VerifierMetrics>> VerifierMetrics::create(prometheus::Registry& registry) {
  std::unique_ptr<VerifierMetrics> m(new VerifierMetrics());
  try {
    m->decisions_ = &net::counter_family(registry, "vouch_verifier_decisions_total",
                                         "Image decisions, by verdict, reason code and rule");
    m->decision_latency_ =
        &net::histogram_family(registry, "vouch_verifier_decision_duration_seconds",
                               "Time to decide one image, trust data fetch included")
             .Add({}, latency_buckets());
    auto& dcache = net::counter_family(registry, "vouch_verifier_decision_cache_total",
                                       "Decision cache lookups, by result");
    m->decision_cache_hit_ = &dcache.Add({{"result", "hit"}});
    m->decision_cache_miss_ = &dcache.Add({{"result", "miss"}});
    auto& tcache = net::counter_family(registry, "vouch_verifier_trust_cache_total",
                                       "Trust data cache lookups, by result");
    m->trust_hit_ = &tcache.Add({{"result", "hit"}});
    m->trust_miss_ = &tcache.Add({{"result", "miss"}});
    auto& fetches = net::counter_family(registry, "vouch_verifier_trust_fetches_total",
                                        "Trust data fetches from trust servers, by result");
    m->fetch_ok_ = &fetches.Add({{"result", "ok"}});
    m->fetch_error_ = &fetches.Add({{"result", "error"}});
    m->fetch_errors_ =
        &net::counter_family(registry, "vouch_verifier_trust_fetch_errors_total",
                             "Trust data fetches that failed (unreachable, invalid, expired)")
             .Add({});
    m->fetch_latency_ =
        &net::histogram_family(registry, "vouch_verifier_trust_fetch_duration_seconds",
                               "Time to fetch and verify one GUN's trust data")
             .Add({}, latency_buckets());
    m->requests_ = &net::counter_family(registry, "vouch_verifier_requests_total",
                                        "Requests served, by endpoint and status");
    m->request_latency_ =
        &net::histogram_family(registry, "vouch_verifier_request_duration_seconds",
                               "Time to answer one request, by endpoint");
    auto& reloads = net::counter_family(registry, "vouch_verifier_policy_reloads_total",
                                        "Policy loads and reloads, by result");
    m->reload_ok_ = &reloads.Add({{"result", "ok"}});
    m->reload_error_ = &reloads.Add({{"result", "error"}});
    m->policy_loaded_ =
        &net::gauge_family(registry, "vouch_verifier_policy_loaded", "1 once a policy is loaded")
             .Add({});
    m->policy_time_ =
        &net::gauge_family(registry, "vouch_verifier_policy_last_reload_timestamp_seconds",
                           "Unix time at which the policy in use was loaded")
             .Add({});
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("metrics: ") + e.what());
  }
  return m;
}

void VerifierMetrics::decision(const Decision& decision, double seconds) {
  decisions_
      ->Add({{"verdict", std::string(to_string(decision.verdict))},
             {"code", std::string(to_string(decision.code))},
             {"rule", decision.rule}})
      .Increment();
  decision_latency_->Observe(seconds);
}

void VerifierMetrics::invalid_reference(double seconds) {
  decisions_->Add({{"verdict", "deny"}, {"code", "invalid_reference"}, {"rule", ""}}).Increment();
  decision_latency_->Observe(seconds);
}

void VerifierMetrics::decision_cache(bool hit) {
  (hit ? decision_cache_hit_ : decision_cache_miss_)->Increment();
}

void VerifierMetrics::request(std::string_view endpoint, unsigned status, double seconds) {
  requests_->Add({{"endpoint", std::string(endpoint)}, {"status", std::to_string(status)}})
      .Increment();
  request_latency_->Add({{"endpoint", std::string(endpoint)}}, latency_buckets())
      .Observe(seconds);
}

void VerifierMetrics::policy_reload(bool ok, double unix_time) {
  if (ok) {
    reload_ok_->Increment();
    policy_loaded_->Set(1);
    policy_time_->Set(unix_time);
  } else {
    reload_error_->Increment();
  }
}

void VerifierMetrics::on_lookup(bool hit) { (hit ? trust_hit_ : trust_miss_)->Increment(); }

void VerifierMetrics::on_fetch(const Status& result, double seconds) {
  if (result) {
    fetch_ok_->Increment();
  } else {
    fetch_error_->Increment();
    fetch_errors_->Increment();
  }
  fetch_latency_->Observe(seconds);
}

}  // namespace vouch::verifier
