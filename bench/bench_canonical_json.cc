// Times the strict JSON parser and the canonical encoder (tuf/json.h) on a Notary-style
// targets.json with 10,000 targets (STACK §2 measured the candidate libraries on the same shape).
//
//   bench_canonical_json                 generated document, 50 iterations
//   bench_canonical_json FILE [N]        FILE instead, N iterations
//   bench_canonical_json --write FILE    writes the generated document to FILE and exits
//                                        (to time other implementations on the same bytes)
//
// The generated document is deterministic (fixed seed) and written canonically, so the
// canonical output must equal the input byte for byte; the benchmark checks that.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/encoding.h"
#include "tuf/json.h"

namespace {

namespace json = vouch::tuf::json;
using Clock = std::chrono::steady_clock;

std::string random_base64(std::mt19937_64& rng, std::size_t n) {
  vouch::Bytes bytes(n);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  return vouch::base64_encode(bytes);
}

std::string random_hex(std::mt19937_64& rng, std::size_t n) {
  vouch::Bytes bytes(n);
  for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
  return vouch::hex_encode(bytes);
}

// A Notary-style targets.json: 10,000 targets with sha256 and sha512 hashes, lengths, a small
// "custom" object on every fifth, and names that need care (ü, <, &, ", \).
json::Value make_targets(std::size_t count) {
  std::mt19937_64 rng(20240229);
  static constexpr std::array<const char*, 6> kDecorations = {
      "", "-\xC3\xBC" "ber", "<beta>", "&co", "-\"quoted\"", "\\win"};
  std::vector<json::Member> targets;
  targets.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = "example.com/library/app-" + std::to_string(i % 97) + "/v1." +
                       std::to_string(i) + kDecorations[i % kDecorations.size()];
    json::Object hashes;
    hashes.set("sha256", random_base64(rng, 32));
    hashes.set("sha512", random_base64(rng, 64));
    json::Object meta;
    meta.set("hashes", std::move(hashes));
    meta.set("length", static_cast<std::int64_t>(rng() % 500'000'000));
    if (i % 5 == 0) {
      json::Object custom;
      custom.set("build", static_cast<std::int64_t>(i));
      custom.set("signed-off-by", "release & qa <ci@example.com>");
      custom.set("tags", json::Array{"stable", "x86_64"});
      meta.set("custom", std::move(custom));
    }
    targets.emplace_back(std::move(name), std::move(meta));
  }
  json::Object targets_obj;
  if (!targets_obj.assign_unsorted(std::move(targets))) std::abort();  // names are unique

  json::Object delegations;
  delegations.set("keys", json::Object{});
  delegations.set("roles", json::Array{});
  json::Object signed_part;
  signed_part.set("_type", "Targets");
  signed_part.set("delegations", std::move(delegations));
  signed_part.set("expires", "2030-01-01T00:00:00Z");
  signed_part.set("targets", std::move(targets_obj));
  signed_part.set("version", 42);

  json::Object signature;
  signature.set("keyid", random_hex(rng, 32));
  signature.set("method", "ecdsa");
  signature.set("sig", random_base64(rng, 64));

  json::Object root;
  root.set("signatures", json::Array{json::Value(std::move(signature))});
  root.set("signed", std::move(signed_part));
  return json::Value(std::move(root));
}

struct Stats {
  double median_ms;
  double min_ms;
  double max_ms;
};

Stats summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const std::size_t n = ms.size();
  const double median = (n % 2 == 1) ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2.0;
  return {median, ms.front(), ms.back()};
}

double elapsed_ms(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

void print(const char* what, const Stats& s, std::size_t bytes) {
  const double mb_per_s = static_cast<double>(bytes) / (s.median_ms / 1000.0) / 1e6;
  std::printf("%-10s median %8.3f ms   min %8.3f ms   max %8.3f ms   (%.0f MB/s)\n", what,
              s.median_ms, s.min_ms, s.max_ms, mb_per_s);
}

std::size_t heap_in_use() {
#if defined(__GLIBC__)
  return mallinfo2().uordblks;
#else
  return 0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string text;
  std::string source;
  if (argc == 3 && std::string_view(argv[1]) == "--write") {
    const std::string doc = json::canonical(make_targets(10'000));
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    out.write(doc.data(), static_cast<std::streamsize>(doc.size()));
    out.close();
    if (!out) {
      std::fprintf(stderr, "bench_canonical_json: cannot write %s\n", argv[2]);
      return 1;
    }
    std::printf("wrote %zu bytes to %s\n", doc.size(), argv[2]);
    return 0;
  }
  if (argc > 1) {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "bench_canonical_json: cannot read %s\n", argv[1]);
      return 1;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    text = std::move(buf).str();
    source = argv[1];
  } else {
    text = json::canonical(make_targets(10'000));
    source = "generated targets.json, 10000 targets";
  }
  int iterations = 50;
  if (argc > 2) iterations = std::max(1, std::atoi(argv[2]));

  // Warm up, check the input, and measure the DOM's heap.
  const std::size_t heap_before = heap_in_use();
  auto first = json::parse(text);
  if (!first.ok()) {
    std::fprintf(stderr, "bench_canonical_json: %s: %s\n", source.c_str(),
                 first.error().message.c_str());
    return 1;
  }
  const std::size_t dom_heap = heap_in_use() - heap_before;
  const std::string out = json::canonical(*first);
  const bool identical = (out == text);

  std::printf("input:     %s\n", source.c_str());
  std::printf("bytes:     %zu in, %zu canonical (%s)\n", text.size(), out.size(),
              identical ? "identical to input" : "differs from input");
  if (dom_heap != 0) std::printf("DOM heap:  %.2f MB\n", static_cast<double>(dom_heap) / 1e6);
  std::printf("iterations: %d\n", iterations);

  std::vector<double> parse_ms;
  std::vector<double> write_ms;
  parse_ms.reserve(static_cast<std::size_t>(iterations));
  write_ms.reserve(static_cast<std::size_t>(iterations));
  std::size_t sink = 0;
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Clock::now();
    auto parsed = json::parse(text);
    const auto t1 = Clock::now();
    if (!parsed.ok()) return 1;
    parse_ms.push_back(elapsed_ms(t0, t1));  // the DOM is freed outside the timed region
  }
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Clock::now();
    std::string s = json::canonical(*first);
    const auto t1 = Clock::now();
    sink += s.size();
    write_ms.push_back(elapsed_ms(t0, t1));
  }
  print("parse", summarize(parse_ms), text.size());
  print("canonical", summarize(write_ms), out.size());
  return sink == 0 ? 1 : 0;
}
