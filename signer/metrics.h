#pragma once

// Prometheus metrics of vouch-signer (names <app>_<thing>_<unit>, STACK §8):
//   vouch_signer_rpcs_total{method,code}            counter, every finished RPC
//   vouch_signer_rpc_errors_total{method,code}      counter, RPCs that did not end OK
//   vouch_signer_rpc_duration_seconds{method}       histogram, handler latency
//   vouch_signer_signatures_total{algorithm}        counter, signatures made
//   vouch_signer_key_cache_entries                  gauge, decrypted keys in memory
//   vouch_signer_key_cache_misses_total             counter, lookups that decrypted a record
// Every labelled child is created up front, so recording is lock-free (atomic adds) except
// for the histogram's own mutex.

#include <grpcpp/support/status_code_enum.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/net/metric_families.h"  // prometheus forward declarations
#include "common/result.h"
#include "keys/public_key.h"

namespace vouch::signer {

enum class Method : std::uint8_t { kCreateKey, kDeleteKey, kGetKeyInfo, kSign };
inline constexpr std::size_t kMethodCount = 4;
std::string_view to_string(Method m);

class SignerMetrics {
 public:
  // Registers the families in `registry` (which must outlive this object). kInternal if
  // prometheus-cpp refuses (a name clash in the registry).
  static Result<std::unique_ptr<SignerMetrics>> create(prometheus::Registry& registry);

  // Thread-safe.
  void observe(Method method, grpc::StatusCode code, double seconds);
  void signature(keys::KeyType type);
  void set_cache(std::size_t entries, std::uint64_t misses);

 private:
  SignerMetrics() = default;
  static constexpr std::size_t kCodes = 17;  // gRPC codes 0..16
  std::array<std::array<prometheus::Counter*, kCodes>, kMethodCount> rpcs_{};
  std::array<std::array<prometheus::Counter*, kCodes>, kMethodCount> errors_{};
  std::array<prometheus::Histogram*, kMethodCount> latency_{};
  std::array<prometheus::Counter*, 3> signatures_{};  // ecdsa, ed25519, rsa
  prometheus::Gauge* cache_entries_ = nullptr;
  prometheus::Counter* cache_misses_ = nullptr;
  std::atomic<std::uint64_t> misses_seen_{0};
};

}  // namespace vouch::signer
