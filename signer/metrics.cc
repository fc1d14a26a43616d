#include "signer/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <exception>
#include <string>

#include "common/net/metric_families.h"

namespace vouch::signer {

std::string_view to_string(Method m) {
  switch (m) {
    case Method::kCreateKey:
      return "CreateKey";
    case Method::kDeleteKey:
      return "DeleteKey";
    case Method::kGetKeyInfo:
      return "GetKeyInfo";
    case Method::kSign:
      return "Sign";
  }
  return "unknown";
}

namespace {
// The canonical gRPC code names, as grpc-go and Prometheus exporters label them.
constexpr std::array<const char*, 17> kCodeNames = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};
}  // namespace

Result<std::unique_ptr<SignerMetrics>> SignerMetrics::create(prometheus::Registry& registry) {
  std::unique_ptr<SignerMetrics> m(new SignerMetrics());
  try {
    auto& rpcs = net::counter_family(registry, "vouch_signer_rpcs_total",
                                     "gRPC requests handled, by method and status code");
    auto& errors =
        net::counter_family(registry, "vouch_signer_rpc_errors_total",
                            "gRPC requests that did not end OK, by method and status code");
    auto& latency = net::histogram_family(registry, "vouch_signer_rpc_duration_seconds",
                                          "Time spent handling a gRPC request");
    auto& sigs = net::counter_family(registry, "vouch_signer_signatures_total",
                                     "Signatures made, by key algorithm");
    auto& cache = net::gauge_family(registry, "vouch_signer_key_cache_entries",
                                    "Decrypted private keys held in memory");
    auto& misses = net::counter_family(registry, "vouch_signer_key_cache_misses_total",
                                       "Key cache lookups that had to decrypt a key record");
    const prometheus::Histogram::BucketBoundaries buckets = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
    for (std::size_t i = 0; i < kMethodCount; ++i) {
      const std::string method(to_string(static_cast<Method>(i)));
      for (std::size_t c = 0; c < kCodes; ++c) {
        m->rpcs_[i][c] = &rpcs.Add({{"method", method}, {"code", kCodeNames[c]}});
        if (c != 0) m->errors_[i][c] = &errors.Add({{"method", method}, {"code", kCodeNames[c]}});
      }
      m->latency_[i] = &latency.Add({{"method", method}}, buckets);
    }
    m->signatures_[0] = &sigs.Add({{"algorithm", "ecdsa"}});
    m->signatures_[1] = &sigs.Add({{"algorithm", "ed25519"}});
    m->signatures_[2] = &sigs.Add({{"algorithm", "rsa"}});
    m->cache_entries_ = &cache.Add({});
    m->cache_misses_ = &misses.Add({});
  } catch (const std::exception& e) {
    return make_error(Reason::kInternal, std::string("metrics: ") + e.what());
  }
  return m;
}

void SignerMetrics::observe(Method method, grpc::StatusCode code, double seconds) {
  const auto i = static_cast<std::size_t>(method);
  auto c = static_cast<std::size_t>(code);
  if (c >= kCodes) c = static_cast<std::size_t>(grpc::StatusCode::UNKNOWN);
  rpcs_[i][c]->Increment();
  if (c != 0) errors_[i][c]->Increment();
  latency_[i]->Observe(seconds);
}

void SignerMetrics::signature(keys::KeyType type) {
  switch (keys::plain_key_type(type)) {
    case keys::KeyType::kEcdsa:
      signatures_[0]->Increment();
      break;
    case keys::KeyType::kEd25519:
      signatures_[1]->Increment();
      break;
    default:
      signatures_[2]->Increment();
      break;
  }
}

void SignerMetrics::set_cache(std::size_t entries, std::uint64_t misses) {
  cache_entries_->Set(static_cast<double>(entries));
  const std::uint64_t before = misses_seen_.exchange(misses);
  if (misses > before) cache_misses_->Increment(static_cast<double>(misses - before));
}

}  // namespace vouch::signer
