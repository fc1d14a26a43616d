#include "signer/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <exception>
#include <iterator>
#include <string>
#include <tuple>

#include "common/enum_names.h"
#include "common/net/metric_families.h"

namespace vouch::signer {

constexpr EnumName<Method> kMethodNames[] = {
    {Method::kCreateKey, "CreateKey"}, {Method::kDeleteKey, "DeleteKey"},
    {Method::kGetKeyInfo, "GetKeyInfo"}, {Method::kSign, "Sign"}};
static_assert(lists_every_value(kMethodNames, Method::kSign));
static_assert(std::size(kMethodNames) == kMethodCount);

std::string_view to_string(Method m) { return name_of(kMethodNames, m); }

namespace {

// The canonical gRPC code names, as grpc-go and Prometheus exporters label them, indexed by
// code (a spelling of its own: common/error.cc names Code as the gRPC enumerators are named).
constexpr std::array<const char*, 17> kCodeNames = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

// vouch_signer_signatures_total's algorithms, in the order of SignerMetrics::signatures_; a
// key type not listed (after plain_key_type) counts as the last.
constexpr keys::KeyType kSignatureTypes[] = {keys::KeyType::kEcdsa, keys::KeyType::kEd25519,
                                             keys::KeyType::kRsa};

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
    static_assert(std::size(kCodeNames) == kCodes);
    for (std::size_t i = 0; i < kMethodCount; ++i) {
      const std::string method(to_string(static_cast<Method>(i)));
      for (std::size_t c = 0; c < kCodes; ++c) {
        m->rpcs_[i][c] = &rpcs.Add({{"method", method}, {"code", kCodeNames[c]}});
        if (c != 0) m->errors_[i][c] = &errors.Add({{"method", method}, {"code", kCodeNames[c]}});
      }
      m->latency_[i] = &latency.Add({{"method", method}}, buckets);
    }
    static_assert(std::size(kSignatureTypes) == std::tuple_size_v<decltype(m->signatures_)>);
    for (std::size_t t = 0; t < std::size(kSignatureTypes); ++t) {
      m->signatures_[t] =
          &sigs.Add({{"algorithm", std::string(keys::to_string(kSignatureTypes[t]))}});
    }
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
  const keys::KeyType plain = keys::plain_key_type(type);
  std::size_t t = 0;
  while (t + 1 < std::size(kSignatureTypes) && kSignatureTypes[t] != plain) ++t;
  signatures_[t]->Increment();
}

void SignerMetrics::set_cache(std::size_t entries, std::uint64_t misses) {
  cache_entries_->Set(static_cast<double>(entries));
  const std::uint64_t before = misses_seen_.exchange(misses);
  if (misses > before) cache_misses_->Increment(static_cast<double>(misses - before));
}

}  // namespace vouch::signer
