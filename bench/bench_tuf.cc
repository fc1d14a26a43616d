// Times the TUF core on the workloads the server and clients repeat most:
//   - sign and verify with each key type (ecdsa P-256, ed25519, rsa-2048 PSS);
//   - parse_targets + threshold verification of a signed 10,000-target targets.json;
//   - building and signing that file from the typed model (what a publish costs a client).
//
//   bench_tuf [ITERATIONS]     default 20 for the file workloads, 2,000 for signatures
//
// Prints medians with min..max. Nothing here is a pass/fail threshold.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "keys/private_key.h"
#include "tests/support/memory_signer.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace vouch;

struct Stats {
  double median, min, max;
};

Stats measure(int iterations, const std::function<void()>& fn) {
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), ms.back()};
}

void report(const char* what, const Stats& s, const char* unit = "ms") {
  std::printf("%-48s %10.3f %s   (%.3f..%.3f)\n", what, s.median, unit, s.min, s.max);
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 20;
  const int sig_iterations = 2000;
  const std::string message(512, 'm');

  std::printf("signatures over a 512-byte message, per operation (%d operations):\n",
              sig_iterations);
  for (auto [type, name] : {std::pair{keys::KeyType::kEcdsa, "ecdsa P-256"},
                            std::pair{keys::KeyType::kEd25519, "ed25519"},
                            std::pair{keys::KeyType::kRsa, "rsa-2048 pss"}}) {
    auto key = must(keys::PrivateKey::generate(type, 2048), "generate");
    const auto sig = must(key.sign(as_bytes(message)), "sign");
    const auto sign_total = measure(1, [&] {
      for (int i = 0; i < sig_iterations; ++i) (void)key.sign(as_bytes(message));
    });
    const auto verify_total = measure(1, [&] {
      for (int i = 0; i < sig_iterations; ++i) {
        (void)key.public_key().verify(key.method(), as_bytes(message), sig);
      }
    });
    std::printf("  %-14s sign %8.1f us   verify %8.1f us\n", name,
                sign_total.median * 1000.0 / sig_iterations,
                verify_total.median * 1000.0 / sig_iterations);
  }

  // A signed 10,000-target targets.json.
  testing::MemorySigner signer;
  auto targets_key = must(signer.create_key("example.com/bench", "targets", keys::KeyType::kEcdsa),
                          "create_key");
  tuf::Targets targets;
  targets.expires = tuf::Expiry::at(TimePoint(std::chrono::sys_days(std::chrono::year{2030} / 1 / 1)
                                                  .time_since_epoch()));
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "image/tag-" + std::to_string(i);
    targets.targets[name] = tuf::FileMeta::of(as_bytes(name));
  }
  std::string bytes;
  const auto build = measure(iterations, [&] {
    bytes = must(tuf::sign_metadata(tuf::to_json(targets), {{targets_key}}, signer), "sign");
  });
  tuf::KeyMap keys{{targets_key.id(), targets_key}};
  const tuf::RoleKeys role{{targets_key.id()}, 1};
  std::printf("\n10,000-target targets.json, %zu bytes, %d iterations:\n", bytes.size(),
              iterations);
  report("  build from model + canonicalize + sign", build);
  report("  parse_targets (strict JSON + typed model)", measure(iterations, [&] {
           (void)must(tuf::parse_targets(bytes), "parse");
         }));
  auto parsed = must(tuf::parse_targets(bytes), "parse");
  report("  verify_signatures (threshold 1, ecdsa)", measure(iterations, [&] {
           if (!tuf::verify_signatures(parsed, keys, role, "targets").ok()) std::exit(1);
         }));
  report("  FileMeta::of (sha256 + sha512 of the file)", measure(iterations, [&] {
           (void)tuf::FileMeta::of(as_bytes(bytes));
         }));
  return 0;
}
