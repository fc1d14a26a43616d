// Times the server's upload validation (tuf::validate_update) of a one-target change into
// repositories of 10, 1,000 and 10,000 targets, the publish that repeats most:
//   - "targets+snapshot": the client uploads targets and snapshot (client-held snapshot key);
//   - "targets, server snapshot": the client uploads targets only; the server holds the snapshot
//     key, so complete_update also builds and signs the snapshot and the timestamp;
//   - "delegation+snapshot": a one-target change to a 10-target delegation in the same
//     repository (the stored targets.json is read as the parent and verified).
// The repository is stored in a MemoryRepoState, so the numbers are validation cost only.
//
//   bench_validate [ITERATIONS [TARGETS...]]     defaults: 20, and 10 1000 10000
//
// Prints wall-clock medians with min..max, and the median CPU time of the measuring thread.
// Nothing here is a pass/fail threshold.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/repo_simulator.h"
#include "tuf/update_validator.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace vouch;

struct Stats {
  double median, min, max;  // wall-clock ms
  double cpu_median;        // this thread's CPU ms (less sensitive to a busy machine)
};

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Stats measure(int iterations, const std::function<void()>& fn) {
  std::vector<double> ms;
  std::vector<double> cpu;
  ms.reserve(static_cast<std::size_t>(iterations));
  cpu.reserve(static_cast<std::size_t>(iterations));
  for (int i = 0; i < iterations; ++i) {
    const double c0 = thread_cpu_ms();
    const auto t0 = Clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    cpu.push_back(thread_cpu_ms() - c0);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  return {ms[ms.size() / 2], ms.front(), ms.back(), cpu[cpu.size() / 2]};
}

void report(const std::string& what, const Stats& s) {
  std::printf("%-58s %9.3f ms   (%.3f..%.3f)   cpu %.3f ms\n", what.c_str(), s.median, s.min,
              s.max, s.cpu_median);
}

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

template <typename T>
T must(tuf::UpdateResult<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

std::shared_ptr<const std::string> share(const std::string& s) {
  return std::make_shared<const std::string>(s);
}

void resign(testing::RepoSimulator& sim, const std::string& role) {
  sim.files[role] = sim.sign(tuf::to_json(sim.role_of(role)), sim.keys_for(role));
}

void resign_snapshot(testing::RepoSimulator& sim, std::int64_t version) {
  sim.snapshot.meta.clear();
  for (const auto& [name, bytes] : sim.files) {
    if (name != "snapshot" && name != "timestamp") {
      sim.snapshot.meta[name] = tuf::FileMeta::of(as_bytes(bytes));
    }
  }
  sim.snapshot.version = version;
  sim.files["snapshot"] = sim.sign(tuf::to_json(sim.snapshot), {sim.snapshot_key});
}

void run(std::size_t n, int iterations) {
  testing::RepoSimulator sim;
  for (std::size_t i = 0; i < n; ++i) {
    sim.add_target("app/" + std::to_string(i) + ".tar", "payload " + std::to_string(i));
  }
  sim.add_delegation("targets/releases", {"releases/"});
  for (int i = 0; i < 10; ++i) {
    sim.role_of("targets/releases").targets["releases/" + std::to_string(i)] =
        tuf::FileMeta::of(as_bytes(std::to_string(i)));
  }
  sim.publish();

  std::set<std::string> held{sim.timestamp_key.id()};
  tuf::ValidationOptions options;
  options.gun = sim.gun();
  options.now = sim.now();
  options.server_holds_key = [&held](const keys::PublicKey& k) -> Result<bool> {
    return held.count(k.id()) != 0;
  };

  // The stored state: version 1 of everything, published through the validator.
  tuf::MemoryRepoState state;
  std::shared_ptr<const tuf::Metadata<tuf::Root>> parsed_root;
  {
    std::vector<tuf::UploadPart> parts;
    for (const char* r : {"root", "targets", "targets/releases", "snapshot"}) {
      parts.push_back({r, share(sim.files.at(r))});
    }
    auto update = must(tuf::validate_update(state, parts, options), "initial publish");
    parsed_root = update.root;
    for (auto& f : must(tuf::complete_update(update, sim.signer, sim.now()), "complete")) {
      state.put(f.role, f.version, f.bytes);
    }
  }
  const std::size_t targets_size = sim.files.at("targets").size();

  // The one-target change, signed by the "client".
  sim.add_target("app/new.tar", "new payload");
  sim.targets.version = 2;
  resign(sim, "targets");
  resign_snapshot(sim, 2);
  const std::vector<tuf::UploadPart> targets_and_snapshot{
      {"targets", share(sim.files.at("targets"))}, {"snapshot", share(sim.files.at("snapshot"))}};

  const std::string label = std::to_string(n) + " targets (" +
                            std::to_string(targets_size / 1024) + " KiB): ";
  report(label + "validate targets+snapshot", measure(iterations, [&] {
           must(tuf::validate_update(state, targets_and_snapshot, options), "validate");
         }));

  {
    auto hinted = options;
    hinted.parsed_root_hint = parsed_root;
    report(label + "  ... with the parsed root cached", measure(iterations, [&] {
             must(tuf::validate_update(state, targets_and_snapshot, hinted), "validate");
           }));
  }

  held.insert(sim.snapshot_key.id());
  const std::vector<tuf::UploadPart> targets_only{targets_and_snapshot[0]};
  report(label + "validate targets, server snapshot", measure(iterations, [&] {
           must(tuf::validate_update(state, targets_only, options), "validate");
         }));
  report(label + "  + complete (sign snapshot, timestamp)", measure(iterations, [&] {
           auto u = must(tuf::validate_update(state, targets_only, options), "validate");
           must(tuf::complete_update(u, sim.signer, sim.now()), "complete");
         }));
  held.erase(sim.snapshot_key.id());

  // A one-target change to the delegation: the stored targets is its parent.
  sim.files["targets"] = *state.current("targets").value()->bytes;
  sim.role_of("targets/releases").targets["releases/new"] = tuf::FileMeta::of(as_bytes("new"));
  sim.role_of("targets/releases").version = 2;
  resign(sim, "targets/releases");
  resign_snapshot(sim, 2);
  const std::vector<tuf::UploadPart> delegation_and_snapshot{
      {"targets/releases", share(sim.files.at("targets/releases"))},
      {"snapshot", share(sim.files.at("snapshot"))}};
  report(label + "validate delegation+snapshot", measure(iterations, [&] {
           must(tuf::validate_update(state, delegation_and_snapshot, options), "validate");
         }));
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  std::vector<std::size_t> sizes{10, 1000, 10000};
  if (argc > 2) {
    sizes.clear();
    for (int i = 2; i < argc; ++i) sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  }
  for (std::size_t n : sizes) run(n, iterations);
  return 0;
}
