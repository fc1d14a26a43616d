#pragma once

// Prometheus metrics of vouch-verifier (names <app>_<thing>_<unit>, STACK §8):
//
//   vouch_verifier_decisions_total{verdict,code,rule}   counter: one per image decision
//       (verdict allow|deny|warn; code as decide.h's to_string(DecisionCode), or
//       "invalid_reference"; rule the rule's name, "" when none matched)
//   vouch_verifier_decision_duration_seconds            histogram: one image, trust fetch
//                                                        included
//   vouch_verifier_decision_cache_total{result}         counter: hit|miss
//   vouch_verifier_trust_cache_total{result}            counter: hit|miss (TrustCache lookups)
//   vouch_verifier_trust_fetches_total{result}          counter: ok|error
//   vouch_verifier_trust_fetch_errors_total             counter: fetches that failed
//   vouch_verifier_trust_fetch_duration_seconds         histogram
//   vouch_verifier_requests_total{endpoint,status}      counter: HTTP/gRPC requests
//       (endpoint validate|mutate|verify|grpc_verify|other; status the HTTP status or gRPC
//       code number)
//   vouch_verifier_request_duration_seconds{endpoint}   histogram
//   vouch_verifier_policy_reloads_total{result}         counter: ok|error
//   vouch_verifier_policy_loaded                        gauge: 1 once a policy is loaded
//   vouch_verifier_policy_last_reload_timestamp_seconds gauge: when the current policy was
//                                                        loaded (Unix time)
//
// Families with fixed labels have their children created up front; decisions_total and
// requests_total create children on first use (prometheus-cpp's Family::Add is thread-safe).
// Every member function is thread-safe.

#include <cstdint>
#include <memory>
#include <string_view>

#include "common/net/metric_families.h"  // prometheus forward declarations
#include "common/result.h"
#include "verifier/decide.h"
#include "verifier/trust_cache.h"

namespace vouch::verifier {

class VerifierMetrics final : public TrustCacheObserver {
 public:
  // Registers the families in `registry` (which must outlive this object). kInternal if
  // prometheus-cpp refuses (a name clash).
  static Result<std::unique_ptr<VerifierMetrics>> create(prometheus::Registry& registry);

  void decision(const Decision& decision, double seconds);
  void invalid_reference(double seconds);
  void decision_cache(bool hit);
  void request(std::string_view endpoint, unsigned status, double seconds);
  void policy_reload(bool ok, double unix_time);

  // TrustCacheObserver
  void on_lookup(bool hit) override;
  void on_fetch(const Status& result, double seconds) override;

 private:
  VerifierMetrics() = default;
  prometheus::Family<prometheus::Counter>* decisions_ = nullptr;
  prometheus::Histogram* decision_latency_ = nullptr;
  prometheus::Counter* decision_cache_hit_ = nullptr;
  prometheus::Counter* decision_cache_miss_ = nullptr;
  prometheus::Counter* trust_hit_ = nullptr;
  prometheus::Counter* trust_miss_ = nullptr;
  prometheus::Counter* fetch_ok_ = nullptr;
  prometheus::Counter* fetch_error_ = nullptr;
  prometheus::Counter* fetch_errors_ = nullptr;
  prometheus::Histogram* fetch_latency_ = nullptr;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* request_latency_ = nullptr;
  prometheus::Counter* reload_ok_ = nullptr;
  prometheus::Counter* reload_error_ = nullptr;
  prometheus::Gauge* policy_loaded_ = nullptr;
  prometheus::Gauge* policy_time_ = nullptr;
};

}  // namespace vouch::verifier
